//! The contract's types, generated from `wit/engine.wit`.
//!
//! The engine uses these types directly at its boundary, so the wasm adapter
//! (`component`) stays a thin forwarding layer. They are generated on every target;
//! only the export glue is wasm-specific.
#![allow(unsafe_code, missing_docs, clippy::all)]

wit_bindgen::generate!({
    world: "workspace",
    path: "../wit",
    pub_export_macro: true,
    default_bindings_module: "crate::wit",
});

pub use exports::lightrag::engine::types::*;
