//! Running one example program natively and as a WASI command under wasmtime, for
//! the benchmarks that compare the two (`vectors`, `parse`).
//!
//! The example is built twice with a nested cargo (release profile, natively and for
//! `wasm32-wasip2`, which gets `+simd128` from `.cargo/config.toml`, as the engine
//! component does) in a target directory of its own, so it never waits on the outer
//! build's lock.

use std::path::{Path, PathBuf};
use std::process::Command;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command as WasiCommand;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ lives in the workspace root")
        .to_path_buf()
}

/// `target/<name>` (or under `CARGO_TARGET_DIR`).
pub fn target_dir(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join(name)
}

/// Builds `example` of `package` for `target` (`None`: natively) and returns the
/// artifact.
pub fn build(package: &str, example: &str, target_dir: &Path, target: Option<&str>) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root())
        .args(["build", "--quiet", "--release", "-p", package])
        .args(["--example", example])
        .arg("--target-dir")
        .arg(target_dir);
    if let Some(target) = target {
        command.args(["--target", target]);
    }
    // Flags meant for the outer build must not change the nested one: the wasm side
    // gets its flags from .cargo/config.toml, exactly as the engine component does.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("cannot run cargo");
    assert!(
        status.success(),
        "building the {example} example for {} failed",
        target.unwrap_or("the host")
    );
    let dir = match target {
        Some(target) => target_dir.join(target),
        None => target_dir.to_path_buf(),
    };
    let file = match target {
        Some(_) => format!("{example}.wasm"),
        None => format!("{example}{}", std::env::consts::EXE_SUFFIX),
    };
    dir.join("release").join("examples").join(file)
}

/// Runs the native build; returns its standard output.
pub fn run_native(binary: &Path, args: &[String]) -> String {
    let output = Command::new(binary)
        .args(args)
        .output()
        .expect("cannot run the native example");
    assert!(
        output.status.success(),
        "native example failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A compiled wasm example under one engine configuration.
pub struct Guest {
    name: String,
    engine: Engine,
    component: Component,
    linker: Linker<State>,
}

impl Guest {
    /// Compiles with the server's settings (host/src/runtime.rs: Cranelift at its
    /// default optimisation level, no component-model concurrency), with or without
    /// epoch interruption. The on-demand allocator reserves and guards linear memory
    /// the same way the server's pooling allocator does, so bounds checks compile
    /// the same.
    pub fn new(wasm: &Path, epochs: bool) -> Guest {
        let mut config = Config::new();
        config.epoch_interruption(epochs);
        config.concurrency_support(false);
        let engine = Engine::new(&config).expect("engine");
        let component = Component::from_file(&engine, wasm).expect("compile the example");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("link WASI");
        let name = wasm
            .file_stem()
            .map_or("example".into(), |s| s.to_string_lossy().into_owned());
        Guest {
            name,
            engine,
            component,
            linker,
        }
    }

    /// Runs the example with `args`, `dir` preopened (as `guest`, at `host`) if
    /// given; returns its standard output.
    pub async fn run(&self, args: &[String], dir: Option<(&Path, &str)>) -> String {
        let stdout = MemoryOutputPipe::new(1 << 16);
        let stderr = MemoryOutputPipe::new(1 << 16);
        let mut argv = vec![self.name.clone()];
        argv.extend_from_slice(args);
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&argv)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            // As the server does: file reads on the calling thread.
            .allow_blocking_current_thread(true);
        if let Some((host, guest)) = dir {
            wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
                .expect("preopen a directory");
        }
        let wasi = wasi.build();
        let mut store = Store::new(
            &self.engine,
            State {
                wasi,
                table: ResourceTable::new(),
            },
        );
        // The deadline is never reached: nothing advances the epoch here.
        store.set_epoch_deadline(1 << 40);
        let command = WasiCommand::instantiate_async(&mut store, &self.component, &self.linker)
            .await
            .expect("instantiate the example");
        let result = command.wasi_cli_run().call_run(&mut store).await;
        let stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
        match result {
            Ok(Ok(())) => {}
            Ok(Err(())) => panic!("wasm example failed: {stderr}"),
            Err(trap) => panic!("wasm example trapped: {trap:?}\n{stderr}"),
        }
        String::from_utf8_lossy(&stdout.contents()).into_owned()
    }
}
