//! Writers of Python LightRAG's file formats, for the import tests: JSON KV stores,
//! NanoVectorDB files (a base64 float32 matrix), NetworkX GraphML; and LightRAG's
//! ids.

use crate::common::DIM;
use lightrag_engine::util::mdhash_id;
use serde_json::{Value, json};
use std::path::Path;

/// The id LightRAG 1.5 gives a document with a file name.
pub fn doc_id(file: &str) -> String {
    mdhash_id("doc-", file)
}

/// The id of a document's first chunk.
pub fn chunk0(file: &str) -> String {
    format!("{}-chunk-000", doc_id(file))
}

/// A unit vector along axis `i`.
pub fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i] = 1.0;
    v
}

/// The unit vector halfway between axes `i` and `j`.
pub fn between(i: usize, j: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i] = std::f32::consts::FRAC_1_SQRT_2;
    v[j] = std::f32::consts::FRAC_1_SQRT_2;
    v
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let mut bits = [0u8; 3];
        bits[..group.len()].copy_from_slice(group);
        let n = u32::from(bits[0]) << 16 | u32::from(bits[1]) << 8 | u32::from(bits[2]);
        for i in 0..4 {
            let c = if i <= group.len() {
                DIGITS[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            };
            out.push(c as char);
        }
    }
    out
}

/// A NanoVectorDB file: records with their meta fields, the matrix of their vectors.
pub fn nano(dim: usize, rows: &[(String, Value, Vec<f32>)]) -> Value {
    let mut matrix = Vec::new();
    let data: Vec<Value> = rows
        .iter()
        .map(|(id, meta, vector)| {
            assert_eq!(vector.len(), dim);
            matrix.extend(vector.iter().flat_map(|x| x.to_le_bytes()));
            let mut record = json!({"__id__": id, "__created_at__": 1_700_000_000});
            if let (Some(record), Value::Object(meta)) = (record.as_object_mut(), meta) {
                record.extend(meta.clone());
            }
            record
        })
        .collect();
    json!({"embedding_dim": dim, "data": data, "matrix": base64(&matrix)})
}

/// Escapes text for XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A node's or edge's attributes: (GraphML attribute name, value).
pub type Attrs<'a> = Vec<(&'a str, String)>;

/// NetworkX's GraphML: nodes `(name, [(attr, value)])`, edges `(a, b, [(attr, value)])`.
pub fn graphml(nodes: &[(&str, Attrs<'_>)], edges: &[(&str, &str, Attrs<'_>)]) -> String {
    let node_keys = [
        "entity_id",
        "entity_type",
        "description",
        "source_id",
        "file_path",
        "created_at",
    ];
    let edge_keys = [
        "weight",
        "description",
        "keywords",
        "source_id",
        "file_path",
        "created_at",
    ];
    let mut out = String::from(
        "<?xml version='1.0' encoding='utf-8'?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n",
    );
    let mut ids = Vec::new();
    for (target, names) in [("node", node_keys), ("edge", edge_keys)] {
        for name in names {
            let id = format!("d{}", ids.len());
            let ty = match name {
                "created_at" => "long",
                "weight" => "double",
                _ => "string",
            };
            out.push_str(&format!(
                "  <key id=\"{id}\" for=\"{target}\" attr.name=\"{name}\" attr.type=\"{ty}\" />\n"
            ));
            ids.push((target, name, id));
        }
    }
    let key = |target: &str, name: &str| {
        ids.iter()
            .find(|(t, n, _)| *t == target && *n == name)
            .map(|(_, _, id)| id.clone())
            .unwrap()
    };
    out.push_str("  <graph edgedefault=\"undirected\">\n");
    for (name, attrs) in nodes {
        out.push_str(&format!("    <node id=\"{}\">\n", xml(name)));
        for (attr, value) in attrs {
            out.push_str(&format!(
                "      <data key=\"{}\">{}</data>\n",
                key("node", attr),
                xml(value)
            ));
        }
        out.push_str("    </node>\n");
    }
    for (a, b, attrs) in edges {
        out.push_str(&format!(
            "    <edge source=\"{}\" target=\"{}\">\n",
            xml(a),
            xml(b)
        ));
        for (attr, value) in attrs {
            out.push_str(&format!(
                "      <data key=\"{}\">{}</data>\n",
                key("edge", attr),
                xml(value)
            ));
        }
        out.push_str("    </edge>\n");
    }
    out.push_str("  </graph>\n</graphml>\n");
    out
}

/// Writes a JSON file as LightRAG does (indented, UTF-8).
pub fn write_json(dir: &Path, file: &str, value: &Value) {
    std::fs::write(dir.join(file), serde_json::to_string_pretty(value).unwrap()).unwrap();
}
