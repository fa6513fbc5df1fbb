//! Vector search in the guest against the same code natively (not a test: it prints
//! numbers). The acceptance criterion is a wasm/native ratio of at most 1.2.
//!
//! ```text
//! cargo bench -p lightrag-server --bench vectors
//! BENCH_N=100000 BENCH_DIM=1024 BENCH_QUERIES=50 BENCH_REPEATS=3 cargo bench -p lightrag-server --bench vectors
//! BENCH_BLOBS=file BENCH_TOP_K=20 cargo bench -p lightrag-server --bench vectors
//! ```
//!
//! The search scans 8-bit codes and re-ranks its candidates with their exact values;
//! by default those are in memory, with `BENCH_BLOBS=file` they are in a blob file
//! (a preopened directory for the wasm side, as in the server), so the figures include
//! reading them back. `BENCH_PRECISION=f32` scans exact values instead.
//!
//! Builds `guest/examples/vector_bench.rs` twice with a nested cargo (release
//! profile, natively and for `wasm32-wasip2`, which gets `+simd128` from
//! `.cargo/config.toml`) in its own target directory, `target/vector-bench`, so it
//! never waits on the outer build's lock. Then, alternating the two sides, it runs the
//! native binary as a process and the wasm one in this process as a WASI command
//! under wasmtime, each `BENCH_REPEATS` times, and reports the best per-query time of
//! each side and their ratio. The checksums of the search results must agree.
//!
//! The wasm side runs twice per repeat: with the server's engine settings (epoch
//! interruption on, which adds a check to every loop back-edge) and with epoch
//! interruption off, to show what that check costs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::Command as WasiCommand;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

const EXAMPLE: &str = "vector_bench";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds the example for `target` (`None`: natively) and returns the artifact.
fn build(root: &Path, target_dir: &Path, target: Option<&str>) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--quiet", "--release", "-p", "lightrag-engine"])
        .args(["--example", EXAMPLE])
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
        "building the {EXAMPLE} example for {} failed",
        target.unwrap_or("the host")
    );
    let dir = match target {
        Some(target) => target_dir.join(target),
        None => target_dir.to_path_buf(),
    };
    let file = match target {
        Some(_) => format!("{EXAMPLE}.wasm"),
        None => format!("{EXAMPLE}{}", std::env::consts::EXE_SUFFIX),
    };
    dir.join("release").join("examples").join(file)
}

/// The `key=value` fields of the example's output line.
fn parse_line(output: &str) -> HashMap<String, String> {
    let line = output
        .lines()
        .find(|l| l.starts_with("vector_bench "))
        .unwrap_or_else(|| panic!("no result line in {output:?}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|field| field.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Run {
    per_query_ms: f64,
    min_query_ms: f64,
    checksum: String,
    simd128: bool,
    hits: String,
}

impl Run {
    fn from_output(output: &str) -> Run {
        let fields = parse_line(output);
        let field = |k: &str| {
            fields
                .get(k)
                .unwrap_or_else(|| panic!("no {k} in {output:?}"))
                .clone()
        };
        Run {
            per_query_ms: field("per_query_ms").parse().expect("a number"),
            min_query_ms: field("min_query_ms").parse().expect("a number"),
            checksum: field("checksum"),
            simd128: field("simd128") == "true",
            hits: field("hits"),
        }
    }
}

fn run_native(binary: &Path, args: &[String]) -> Run {
    let output = Command::new(binary)
        .args(args)
        .output()
        .expect("cannot run the native example");
    assert!(
        output.status.success(),
        "native example failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Run::from_output(&String::from_utf8_lossy(&output.stdout))
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

/// A compiled example under one engine configuration.
struct Guest {
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
    fn new(wasm: &Path, epochs: bool) -> Guest {
        let mut config = Config::new();
        config.epoch_interruption(epochs);
        config.concurrency_support(false);
        let engine = Engine::new(&config).expect("engine");
        let component = Component::from_file(&engine, wasm).expect("compile the example");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("link WASI");
        Guest {
            engine,
            component,
            linker,
        }
    }

    async fn run(&self, args: &[String], blobs: Option<&Path>) -> Run {
        let stdout = MemoryOutputPipe::new(1 << 16);
        let stderr = MemoryOutputPipe::new(1 << 16);
        let mut argv = vec![EXAMPLE.to_string()];
        argv.extend_from_slice(args);
        if blobs.is_some() {
            argv.push("blobs=/blobs".into());
        }
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&argv)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            // As the server does: file reads on the calling thread.
            .allow_blocking_current_thread(true);
        if let Some(dir) = blobs {
            wasi.preopened_dir(dir, "/blobs", FsPerms::ReadWrite)
                .expect("preopen the blob directory");
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
        Run::from_output(&String::from_utf8_lossy(&stdout.contents()))
    }
}

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_N", 20_000);
    let dim = env_usize("BENCH_DIM", 1024);
    let queries = env_usize("BENCH_QUERIES", 50);
    let repeats = env_usize("BENCH_REPEATS", 3).max(1);
    let mut args = vec![
        format!("n={n}"),
        format!("dim={dim}"),
        format!("queries={queries}"),
        format!("top_k={}", env_usize("BENCH_TOP_K", 40)),
    ];
    if let Ok(precision) = std::env::var("BENCH_PRECISION") {
        args.push(format!("precision={precision}"));
    }
    let blob_dir = (std::env::var("BENCH_BLOBS").as_deref() == Ok("file"))
        .then(|| tempfile::tempdir().expect("a temporary directory"));
    let blobs = blob_dir.as_ref().map(|d| d.path());
    let mut native_args = args.clone();
    if let Some(dir) = blobs {
        native_args.push(format!("blobs={}", dir.display()));
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ lives in the workspace root")
        .to_path_buf();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("vector-bench");
    println!(
        "building the {EXAMPLE} example (release) in {}",
        target_dir.display()
    );
    let native = build(&root, &target_dir, None);
    let wasm = build(&root, &target_dir, Some("wasm32-wasip2"));
    let server_like = Guest::new(&wasm, true);
    let no_epochs = Guest::new(&wasm, false);

    println!(
        "{}, threshold=0.2, best of {repeats}",
        native_args.join(" ")
    );
    // Per side (native, wasm as the server runs it, wasm without epoch checks): the
    // best mean per query of a run, and the fastest single query of all runs.
    let mut best = [(f64::INFINITY, f64::INFINITY); 3];
    // The checksum and hit count of the first native run: every run must match them.
    let mut reference: Option<(String, String)> = None;
    for repeat in 1..=repeats {
        let runs = [
            run_native(&native, &native_args),
            server_like.run(&args, blobs).await,
            no_epochs.run(&args, blobs).await,
        ];
        assert!(
            runs[1].simd128 && runs[2].simd128,
            "the wasm example was built without +simd128: is .cargo/config.toml applied?"
        );
        let expected =
            reference.get_or_insert_with(|| (runs[0].checksum.clone(), runs[0].hits.clone()));
        for (run, best) in runs.iter().zip(&mut best) {
            assert_eq!(
                (&run.checksum, &run.hits),
                (&expected.0, &expected.1),
                "the builds disagree on the search results"
            );
            best.0 = best.0.min(run.per_query_ms);
            best.1 = best.1.min(run.min_query_ms);
        }
        println!(
            "  run {repeat}: native {:.3} ms/query, wasm {:.3} ms/query (epochs on), {:.3} ms/query (epochs off)",
            runs[0].per_query_ms, runs[1].per_query_ms, runs[2].per_query_ms
        );
    }
    let (checksum, hits) = reference.expect("at least one repeat");
    println!("checksums agree ({checksum}, {hits} hits)");
    println!(
        "{:<24}{:>22}{:>22}",
        "", "best mean ms/query", "fastest query ms"
    );
    let [native, wasm, wasm_no_epochs] = best;
    for (name, (mean, fastest)) in [
        ("native", native),
        ("wasm, server config", wasm),
        ("wasm, epoch checks off", wasm_no_epochs),
    ] {
        println!(
            "{name:<24}{mean:>14.3} ({:>4.2}x){fastest:>14.3} ({:>4.2}x)",
            mean / native.0,
            fastest / native.1
        );
    }
    let verdict = if wasm.0 / native.0 <= 1.2 {
        "within"
    } else {
        "NOT within"
    };
    println!("wasm search time is {verdict} 1.2x of native (server config)");
}
