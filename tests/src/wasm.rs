//! Hostile WebAssembly built at test time: modules shaped to stress the
//! compiler rather than the runtime (one enormous function, deep nesting,
//! a great many functions), each wrapped in a component so it reaches the
//! host's checks exactly as a policy file would.

use wasm_encoder::{
    BlockType, CodeSection, Component, Function, FunctionSection, Instruction, MemorySection,
    MemoryType, Module, ModuleSection, TypeSection, ValType,
};

/// The body of each generated function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `n` additions in a row: a long, flat function (about 3 bytes each).
    Chain(u32),
    /// `n` blocks nested inside each other.
    Nested(u32),
    /// A function with `n` locals.
    Locals(u32),
}

/// A component holding one core module of `functions` functions with
/// `body`, and a memory of `pages` initial pages.
pub fn component(body: Body, functions: u32, pages: u64) -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut funcs = FunctionSection::new();
    for _ in 0..functions {
        funcs.function(0);
    }
    module.section(&funcs);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut code = CodeSection::new();
    for _ in 0..functions {
        code.function(&function(body));
    }
    module.section(&code);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

fn function(body: Body) -> Function {
    let locals = match body {
        Body::Locals(n) => vec![(n, ValType::I64)],
        _ => vec![],
    };
    let mut f = Function::new(locals);
    match body {
        Body::Chain(n) => {
            f.instruction(&Instruction::LocalGet(0));
            for _ in 0..n {
                f.instruction(&Instruction::I32Const(1));
                f.instruction(&Instruction::I32Add);
            }
        }
        Body::Nested(n) => {
            for _ in 0..n {
                f.instruction(&Instruction::Block(BlockType::Empty));
            }
            for _ in 0..n {
                f.instruction(&Instruction::End);
            }
            f.instruction(&Instruction::LocalGet(0));
        }
        Body::Locals(_) => {
            f.instruction(&Instruction::LocalGet(0));
        }
    }
    f.instruction(&Instruction::End);
    f
}
