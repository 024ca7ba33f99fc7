//! `iris check`, `iris envoy` and `iris run`: validate a config, render the Envoy bootstrap
//! for it, or render it and run Envoy in the foreground.

use crate::args::Args;
use iris::bootstrap::{self, RenderOptions, DEFAULT_CA_BUNDLE};
use iris::config::{self, EnvMode, Loaded};
use std::path::{Path, PathBuf};

const DEFAULT_LISTEN: &str = "127.0.0.1:10000";
const DEFAULT_ADMIN: &str = "127.0.0.1:9901";
const RENDER_FLAGS: [&str; 6] = [
    "config",
    "listen",
    "admin",
    "wasm",
    "ca-bundle",
    "access-log",
];

fn read_config(args: &Args) -> Result<(String, String), String> {
    let path = args.value("config").ok_or("--config FILE is required")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok((path.to_string(), text))
}

fn print_diagnostics(path: &str, loaded: &Loaded) {
    for w in &loaded.warnings {
        eprintln!("{path}: warning: {w}");
    }
    for e in &loaded.errors {
        eprintln!("{path}: error: {e}");
    }
}

/// `iris check --config FILE`: every error and warning; non-zero exit on errors.
pub fn check(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv, &["config"], &[])?;
    let (path, text) = read_config(&args)?;
    let loaded = config::load(&text, &|name| std::env::var(name).ok(), EnvMode::Resolve);
    print_diagnostics(&path, &loaded);
    match loaded.config {
        Some(c) => {
            let ids: Vec<&str> = c.providers.iter().map(|p| p.id.as_str()).collect();
            println!(
                "{path}: ok: {} provider(s) [{}], {} warning(s)",
                ids.len(),
                ids.join(", "),
                loaded.warnings.len()
            );
            Ok(())
        }
        None => Err(format!("{path}: {} error(s)", loaded.errors.len())),
    }
}

fn render(args: &Args, text: &str, path: &str) -> Result<serde_json::Value, String> {
    // `${NAME}` stays as written: Envoy's environment resolves it inside the filter.
    let loaded = config::load(text, &|_| None, EnvMode::Defer);
    print_diagnostics(path, &loaded);
    let config = loaded
        .config
        .ok_or_else(|| format!("{path}: {} error(s)", loaded.errors.len()))?;
    let wasm = match args.value("wasm") {
        Some(w) => w.to_string(),
        None => default_wasm_path()?,
    };
    let opts = RenderOptions {
        listen: args.value("listen").unwrap_or(DEFAULT_LISTEN).to_string(),
        admin: args.value("admin").unwrap_or(DEFAULT_ADMIN).to_string(),
        wasm_path: wasm,
        ca_bundle: args
            .value("ca-bundle")
            .unwrap_or(DEFAULT_CA_BUNDLE)
            .to_string(),
        without_filter: args.switch("no-filter"),
        access_log: args.value("access-log").map(str::to_string),
    };
    bootstrap::render(&config, text, &opts)
}

/// `iris envoy --config FILE [...]`: prints the bootstrap (JSON, which Envoy reads as YAML too).
pub fn envoy(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv, &RENDER_FLAGS, &["no-filter"])?;
    let (path, text) = read_config(&args)?;
    let bootstrap = render(&args, &text, &path)?;
    let out = serde_json::to_string_pretty(&bootstrap).map_err(|e| e.to_string())?;
    println!("{out}");
    Ok(())
}

/// `iris run --config FILE [...] [-- ENVOY_ARGS]`: checks the config against this environment,
/// renders it, and replaces this process with Envoy.
pub fn run(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv, &RENDER_FLAGS, &["no-filter"])?;
    let (path, text) = read_config(&args)?;
    let resolved = config::load(&text, &|name| std::env::var(name).ok(), EnvMode::Resolve);
    if resolved.config.is_none() {
        print_diagnostics(&path, &resolved);
        return Err(format!(
            "{path}: {} error(s); Envoy not started",
            resolved.errors.len()
        ));
    }
    let bootstrap = render(&args, &text, &path)?;
    let wasm = bootstrap_wasm_path(&args)?;
    if !args.switch("no-filter") && !Path::new(&wasm).is_file() {
        return Err(format!(
            "filter not found at {wasm}: build it with `cargo build --release --target wasm32-wasip1` or pass --wasm"
        ));
    }
    let dir = std::env::temp_dir().join(format!("iris-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join("envoy.json");
    let rendered = serde_json::to_string_pretty(&bootstrap).map_err(|e| e.to_string())?;
    std::fs::write(&file, rendered).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let envoy = find_envoy()?;
    eprintln!("iris: running {} with {}", envoy.display(), file.display());
    let mut cmd = std::process::Command::new(&envoy);
    cmd.arg("-c")
        .arg(&file)
        .arg("--disable-hot-restart")
        .args(&args.rest);
    exec(cmd, &envoy)
}

#[cfg(unix)]
fn exec(mut cmd: std::process::Command, envoy: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(format!("cannot run {}: {err}", envoy.display()))
}

#[cfg(not(unix))]
fn exec(mut cmd: std::process::Command, envoy: &Path) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", envoy.display()))?;
    std::process::exit(status.code().unwrap_or(1))
}

fn bootstrap_wasm_path(args: &Args) -> Result<String, String> {
    match args.value("wasm") {
        Some(w) => Ok(w.to_string()),
        None => default_wasm_path(),
    }
}

/// The cargo build path of the filter: next to this binary's target dir when run from a
/// build, else `$CARGO_TARGET_DIR` or `./target`. Absolute, since Envoy may run elsewhere.
fn default_wasm_path() -> Result<String, String> {
    const REL: &str = "wasm32-wasip1/release/iris.wasm";
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // <target>/release/iris or <target>/debug/iris
        if let Some(target) = exe.parent().and_then(Path::parent) {
            candidates.push(target.join(REL));
        }
    }
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join(REL));
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    candidates.push(cwd.join("target").join(REL));
    let chosen = candidates
        .iter()
        .find(|p| p.is_file())
        .or(candidates.last())
        .cloned()
        .unwrap_or_default();
    Ok(chosen.to_string_lossy().into_owned())
}

/// Envoy: `$ENVOY_BIN`, then the project venv (`.venv/bin/envoy` here or above this binary),
/// then `envoy` on PATH.
fn find_envoy() -> Result<PathBuf, String> {
    if let Ok(bin) = std::env::var("ENVOY_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    if let Some(found) = roots
        .iter()
        .map(|r| r.join(".venv/bin/envoy"))
        .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("envoy"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "Envoy not found: set ENVOY_BIN, or run scripts/demo.sh once to install it into .venv"
                .to_string()
        })
}
