//! The engine component and its typed host bindings.
//!
//! `bindgen!` lives in this small crate so that changing the server does not re-run
//! its (slow) expansion and monomorphisation, and the component bytes are embedded
//! here so the server binary carries a matching engine.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "workspace",
    path: "../../wit",
    exports: { default: async },
});

pub use exports::lightrag::engine::types;

/// The engine component built from `guest/` (a WASI Preview 2 component).
pub const ENGINE_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/engine.wasm"));
