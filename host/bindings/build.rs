//! Builds the engine component (`guest/`) for `wasm32-wasip2` and places it in
//! `OUT_DIR`, so the server binary carries its engine and `cargo run`/`cargo test`
//! need no separate build step.
//!
//! The nested cargo uses its own target directory, so it never waits on the lock of
//! the outer build's, and runs in the `component` profile (LTO, one codegen unit).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("host/bindings lives two levels below the workspace root")
        .to_path_buf();
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "guest/build.rs",
        "wit",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=LIGHTRAG_GUEST_TARGET_DIR");

    let target_dir = env::var_os("LIGHTRAG_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("component")))
        .unwrap_or_else(|| root.join("target").join("component"));
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "lightrag-engine",
            "--lib",
        ])
        .args(["--target", "wasm32-wasip2", "--profile", "component"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", guest_rustflags(&root));
    // Settings meant for the outer (native) build must not leak into the guest's.
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_LTO",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the engine component");
    if !status.success() {
        panic!(
            "building the engine component failed (is the target installed? \
             `rustup target add wasm32-wasip2`)"
        );
    }
    let built = target_dir
        .join("wasm32-wasip2")
        .join("component")
        .join("lightrag_engine.wasm");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets this")).join("engine.wasm");
    std::fs::copy(&built, &out).unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
}

/// SIMD for the vector scan, and the source tree's and cargo's paths remapped so that
/// the component's bytes do not depend on where the checkout or cargo's registry
/// lives: the same commit and compiler build the same file (`guest/release.sh`
/// passes the same flags). Encoded (0x1f-separated) so that paths may hold spaces;
/// with `--target` they reach only the guest, not build scripts.
fn guest_rustflags(root: &Path) -> String {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .unwrap_or_default();
    [
        "-Ctarget-feature=+simd128".to_string(),
        format!("--remap-path-prefix={}=/lightrag", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
    ]
    .join("\u{1f}")
}
