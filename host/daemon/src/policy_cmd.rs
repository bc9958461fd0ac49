//! `holdfast policy build | inspect | eval`: tools for policy authors.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use holdfast_policy::{
    CompileBudget, Limits, LoadedPolicy, PolicyEngine, PolicyInstance, PolicyKind, PriorityInput,
    ProbeInput, ProbeResult, WeightInput, componentize,
};

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCmd {
    /// Build a policy crate into a component (cargo build for wasm32, then componentize).
    Build(BuildArgs),
    /// Show a policy's world, imports, exports, size and content hash.
    Inspect {
        /// The policy file (component or core module).
        file: PathBuf,
    },
    /// Run one call under the daemon's limits and print the result as JSON.
    Eval(EvalArgs),
    /// (internal) Compile a component from stdin to a precompiled artifact
    /// on stdout, confined to a memory and time budget.
    #[command(hide = true)]
    CompileWorker {
        #[arg(long)]
        memory_mib: u32,
        #[arg(long)]
        timeout_ms: u64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The policy crate's directory.
    dir: PathBuf,
    /// Where to write the component (default: NAME.wasm in the current directory).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Kind {
    Priority,
    Health,
    Weight,
    Probe,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// The policy file.
    file: PathBuf,
    /// Which world to call.
    #[arg(long, value_enum)]
    kind: Kind,
    /// The call's input, as JSON (not for `--kind probe`).
    #[arg(long, required_unless_present = "target")]
    input: Option<String>,
    /// A probe's target, `HOST:PORT` (`--kind probe`): the one address its
    /// exchanges may reach, really reached.
    #[arg(long, conflicts_with = "input")]
    target: Option<String>,
    /// The `params` given to `init`, as a JSON object.
    #[arg(long, default_value = "{}")]
    params: String,
    /// Fuel for the call.
    #[arg(long, default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Deadline in milliseconds (default 20; for a probe, its check's
    /// timeout: 2000).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Memory cap in MiB.
    #[arg(long, default_value_t = Limits::default().memory_mib)]
    memory_mib: u32,
    /// The largest file read, in MiB (as `max-module-mib`).
    #[arg(long, default_value_t = 4)]
    max_module_mib: u32,
    /// Address space compiling may take, in MiB (as `compile-memory-mib`).
    #[arg(long, default_value_t = CompileBudget::default().memory_mib)]
    compile_memory_mib: u32,
    /// Time compiling may take, in milliseconds (as `compile-timeout-ms`).
    #[arg(long, default_value_t = CompileBudget::default().timeout.as_millis() as u64)]
    compile_timeout_ms: u64,
}

pub(crate) fn run(cmd: PolicyCmd) -> ExitCode {
    let result = match cmd {
        PolicyCmd::Build(args) => build(&args.dir, args.output.as_deref()),
        PolicyCmd::Inspect { file } => inspect(&file),
        PolicyCmd::Eval(args) => return eval(&args),
        PolicyCmd::CompileWorker {
            memory_mib,
            timeout_ms,
        } => return compile_worker(memory_mib, Duration::from_millis(timeout_ms)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("holdfast: {e}");
            ExitCode::FAILURE
        }
    }
}

fn engine() -> Result<PolicyEngine, String> {
    PolicyEngine::new()
        .map(|e| e.with_compiler(crate::policies::compiler_process()))
        .map_err(|e| e.to_string())
}

/// The compile worker: stdin, then confined, compile → stdout.
fn compile_worker(memory_mib: u32, timeout: Duration) -> ExitCode {
    use std::io::{Read, Write};
    // Read before confining: the parent has bounded the module's size, and
    // the budget is for compiling it; a read under the cap could fail on
    // the allocator's bookkeeping instead of on the compile.
    let mut component = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut component) {
        eprintln!("reading the component: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = crate::sys::confine_compiler(memory_mib, timeout) {
        eprintln!("cannot confine the compiler: {e}");
        return ExitCode::from(2);
    }
    match holdfast_policy::precompile(&component) {
        Ok(artifact) => match std::io::stdout().write_all(&artifact) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("writing the artifact: {e}");
                ExitCode::from(2)
            }
        },
        Err((message, out_of_memory)) => {
            eprintln!("{message}");
            ExitCode::from(if out_of_memory {
                holdfast_policy::WORKER_EXIT_BUDGET as u8
            } else {
                holdfast_policy::WORKER_EXIT_INVALID as u8
            })
        }
    }
}

fn build(dir: &Path, output: Option<&Path>) -> Result<(), String> {
    let manifest = dir.join("Cargo.toml");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build failed for {}", manifest.display()));
    }
    // The cdylib of the package in DIR is the last wasm artifact cargo reports.
    let wasm = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["manifest_path"].as_str().is_some_and(|p| {
                Path::new(p).parent() == std::fs::canonicalize(dir).ok().as_deref()
            })
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .rfind(|p| p.extension().is_some_and(|e| e == "wasm"))
        .ok_or("no .wasm artifact: is the crate a cdylib (crate-type = [\"cdylib\"])?")?;
    let name = wasm
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let core = std::fs::read(&wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let component = componentize(&name, &core).map_err(|e| e.to_string())?;
    let target = output.map_or_else(|| PathBuf::from(format!("{name}.wasm")), Path::to_path_buf);
    std::fs::write(&target, &component).map_err(|e| format!("{}: {e}", target.display()))?;
    let info =
        holdfast_policy::inspect(&engine()?, &name, &component).map_err(|e| e.to_string())?;
    let worlds: Vec<String> = info.worlds.iter().map(ToString::to_string).collect();
    println!(
        "{}: {} bytes, world {}, sha256 {}",
        target.display(),
        info.size,
        worlds.join("+"),
        info.hash
    );
    Ok(())
}

/// Reads a module as the daemon does (a regular file, at most `max_mib`).
fn read(file: &Path, max_mib: u32) -> Result<Vec<u8>, holdfast_policy::PolicyError> {
    crate::policies::file::read_bounded(
        &file.display().to_string(),
        file,
        u64::from(max_mib.min(holdfast_config::MAX_MODULE_MIB_LIMIT)) * 1024 * 1024,
        crate::policies::file::READ_TIMEOUT,
    )
}

fn inspect(file: &Path) -> Result<(), String> {
    let bytes = read(file, holdfast_config::MAX_MODULE_MIB_LIMIT).map_err(|e| e.to_string())?;
    let name = file.display().to_string();
    let info = holdfast_policy::inspect(&engine()?, &name, &bytes).map_err(|e| e.to_string())?;
    let json = serde_json::json!({
        "file": name,
        "packages": info.packages,
        "refused": info.refused,
        "worlds": info.worlds,
        "imports": info.imports,
        "exports": info.exports,
        "size": info.size,
        "sha256": info.hash,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    );
    if let Some(why) = info.refused {
        return Err(format!("{name}: {why}"));
    }
    if info.worlds.is_empty() {
        return Err(format!(
            "{name} implements no world of {}",
            holdfast_policy::contract::supported()
        ));
    }
    Ok(())
}

fn eval(args: &EvalArgs) -> ExitCode {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("holdfast: {what}: {e}");
        ExitCode::FAILURE
    };

    let name = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = match args.kind {
        Kind::Priority => PolicyKind::Priority,
        Kind::Health => PolicyKind::Health,
        Kind::Weight => PolicyKind::Weight,
        Kind::Probe => PolicyKind::Probe,
    };
    let default_ms = if kind == PolicyKind::Probe { 2000 } else { 20 };
    let timeout_ms = args.timeout_ms.unwrap_or(default_ms);
    let limits = Limits {
        fuel: args.fuel,
        timeout: Duration::from_millis(timeout_ms),
        memory_mib: args.memory_mib,
        compile: CompileBudget {
            memory_mib: args.compile_memory_mib,
            timeout: Duration::from_millis(args.compile_timeout_ms),
        },
    };
    let engine = match engine() {
        Ok(e) => e,
        Err(e) => return fail("engine", &e),
    };
    let failure = |e: holdfast_policy::PolicyError| {
        println!(
            "{}",
            serde_json::json!({ "error": { "kind": e.kind, "message": e.message } })
        );
        ExitCode::FAILURE
    };
    let bytes = match read(&args.file, args.max_module_mib) {
        Ok(b) => b,
        Err(e) => return failure(e),
    };
    let component = match componentize(&name, &bytes) {
        Ok(c) => c,
        Err(e) => return failure(e),
    };
    let loaded = match LoadedPolicy::load(&engine, &name, kind, &component, limits) {
        Ok(l) => l,
        Err(e) => return failure(e),
    };
    let mut instance = match PolicyInstance::new(loaded, args.params.clone(), None) {
        Ok(i) => i,
        Err(e) => return failure(e),
    };
    let input = args.input.as_deref().unwrap_or_default();
    let output = match kind {
        PolicyKind::Priority => serde_json::from_str::<PriorityInput>(input)
            .map_err(|e| e.to_string())
            .map(|i| instance.priority(&i).map(|o| serde_json::json!(o))),
        PolicyKind::Health => serde_json::from_str::<ProbeResult>(input)
            .map_err(|e| e.to_string())
            .map(|i| instance.verdict(&i).map(|o| serde_json::json!(o))),
        PolicyKind::Weight => serde_json::from_str::<WeightInput>(input)
            .map_err(|e| e.to_string())
            .map(|i| instance.weight(&i).map(|o| serde_json::json!(o))),
        PolicyKind::Probe => resolve(args.target.as_deref()).map(|target| {
            let net = crate::probe_net::CheckNetwork::new(target, Default::default());
            let input = ProbeInput {
                target,
                timeout_ms: timeout_ms.min(u64::from(u32::MAX)) as u32,
            };
            instance
                .probe(&input, Box::new(net))
                .map(|o| serde_json::json!(o))
        }),
    };
    let what = if kind == PolicyKind::Probe {
        "--target"
    } else {
        "--input"
    };
    match output {
        Err(e) => fail(what, &e),
        Ok(Err(e)) => failure(e),
        Ok(Ok(v)) => {
            println!("{}", serde_json::json!({ "output": v }));
            ExitCode::SUCCESS
        }
    }
}

/// `HOST:PORT` to the first address it resolves to.
fn resolve(target: Option<&str>) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let target = target.ok_or("a probe needs --target HOST:PORT")?;
    target
        .to_socket_addrs()
        .map_err(|e| format!("{target}: {e}"))?
        .next()
        .ok_or_else(|| format!("{target}: no address"))
}
