//! Static limits on a module, checked with wasmparser before anything is
//! compiled. Cranelift's memory and time grow with the size and nesting of
//! each function, so a module of one enormous function (or of a million
//! small ones) is refused here, cheaply, instead of being handed to the
//! compiler. What passes is still compiled under a memory and time budget
//! (see `compile`), in a process of its own where the daemon provides one.

use wasmparser::{BinaryReaderError, FunctionBody, Operator, Parser, Payload, TypeRef};

use crate::error::{FailureKind, PolicyError};

/// What a module declares, measured statically: totals over every core
/// module of a component, and the largest of each per-function or
/// per-module quantity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModuleShape {
    /// Functions defined.
    pub functions: u64,
    /// Bytes of the largest function body.
    pub function_bytes: u64,
    /// Locals of the function with the most.
    pub locals: u64,
    /// The deepest nesting of blocks, loops, ifs and trys.
    pub nesting: u64,
    /// Tables (declared or imported) of the module with the most.
    pub tables: u64,
    /// Initial elements of the largest table.
    pub table_elements: u64,
    /// Memories (declared or imported) of the module with the most.
    pub memories: u64,
    /// Initial pages (64 KiB) of the largest memory.
    pub memory_pages: u64,
    /// Globals (declared or imported) of the module with the most.
    pub globals: u64,
}

/// The most a policy module may declare: a [`ModuleShape`] not to exceed.
/// The defaults leave at least ten times the room the policies we ship
/// take (a test keeps it so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleLimits(pub ModuleShape);

impl Default for ModuleLimits {
    fn default() -> Self {
        Self(ModuleShape {
            functions: 20_000,
            function_bytes: 256 * 1024,
            locals: 5_000,
            nesting: 500,
            tables: 16,
            table_elements: 100_000,
            memories: 4,
            memory_pages: u64::from(crate::MAX_MEMORY_MIB) * 16,
            globals: 10_000,
        })
    }
}

impl ModuleLimits {
    /// The first quantity of `shape` over its limit, described.
    pub fn excess(&self, shape: &ModuleShape) -> Option<String> {
        let (s, l) = (shape, &self.0);
        [
            (s.functions, l.functions, "functions"),
            (s.function_bytes, l.function_bytes, "bytes in one function"),
            (s.locals, l.locals, "locals in one function"),
            (s.nesting, l.nesting, "nested blocks in one function"),
            (s.tables, l.tables, "tables in one module"),
            (s.table_elements, l.table_elements, "elements in one table"),
            (s.memories, l.memories, "memories in one module"),
            (
                s.memory_pages,
                l.memory_pages,
                "initial pages of one memory",
            ),
            (s.globals, l.globals, "globals in one module"),
        ]
        .into_iter()
        .find(|(value, limit, _)| value > limit)
        .map(|(value, limit, what)| format!("{value} {what} (at most {limit})"))
    }
}

impl ModuleShape {
    /// Measures a core module or a component (every core module in it).
    pub fn of(bytes: &[u8]) -> Result<Self, BinaryReaderError> {
        let mut shape = Self::default();
        // Per core module, reset at each module's header.
        let mut module = Self::default();
        for payload in Parser::new(0).parse_all(bytes) {
            match payload? {
                Payload::Version { .. } => module = Self::default(),
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        match import?.ty {
                            TypeRef::Table(_) => module.tables += 1,
                            TypeRef::Memory(_) => module.memories += 1,
                            TypeRef::Global(_) => module.globals += 1,
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(reader) => shape.functions += u64::from(reader.count()),
                Payload::TableSection(reader) => {
                    for table in reader {
                        module.tables += 1;
                        shape.table_elements = shape.table_elements.max(table?.ty.initial);
                    }
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        module.memories += 1;
                        shape.memory_pages = shape.memory_pages.max(memory?.initial);
                    }
                }
                Payload::GlobalSection(reader) => module.globals += u64::from(reader.count()),
                Payload::CodeSectionEntry(body) => shape.function(&body)?,
                _ => {}
            }
            shape.tables = shape.tables.max(module.tables);
            shape.memories = shape.memories.max(module.memories);
            shape.globals = shape.globals.max(module.globals);
        }
        Ok(shape)
    }

    fn function(&mut self, body: &FunctionBody<'_>) -> Result<(), BinaryReaderError> {
        let range = body.range();
        self.function_bytes = self.function_bytes.max(range.end - range.start);
        let mut locals = 0u64;
        for group in body.get_locals_reader()? {
            locals += u64::from(group?.0);
        }
        self.locals = self.locals.max(locals);
        let (mut depth, mut ops) = (0u64, body.get_operators_reader()?);
        while !ops.eof() {
            match ops.read()? {
                Operator::Block { .. }
                | Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::Try { .. }
                | Operator::TryTable { .. } => {
                    depth += 1;
                    self.nesting = self.nesting.max(depth);
                }
                Operator::End => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Refuses `bytes` (a core module or a component) if it is over `limits`.
pub(crate) fn check(name: &str, bytes: &[u8], limits: &ModuleLimits) -> Result<(), PolicyError> {
    let shape = ModuleShape::of(bytes)
        .map_err(|e| PolicyError::new(FailureKind::Load, name, format!("not WebAssembly: {e}")))?;
    match limits.excess(&shape) {
        Some(what) => Err(PolicyError::new(
            FailureKind::OverLimits,
            name,
            format!("{what}; refused before compiling"),
        )),
        None => Ok(()),
    }
}
