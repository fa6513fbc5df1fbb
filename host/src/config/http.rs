//! Settings of the HTTP edge (cross-origin access, body limits, which proxies are
//! believed, HTTPS), and the LightRAG settings this server refuses or ignores.

use super::ConfigError;
use super::sources::{Sources, absolute};
use std::net::IpAddr;
use std::path::PathBuf;

/// Which browser origins may call the API (`CORS_ORIGINS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`, LightRAG's default: any origin, without credentials.
    Any,
    /// These origins, with credentials.
    List(Vec<String>),
    /// An empty value: no cross-origin access.
    None,
}

/// The HTTP edge's settings.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub cors: CorsOrigins,
    /// Largest ordinary request body (`MAX_REQUEST_BODY_BYTES`); `None` = no limit.
    /// When set, it applies to the text inserts too (LightRAG's rule).
    pub max_body: Option<usize>,
    /// Whether `MAX_REQUEST_BODY_BYTES` was given (else text inserts get 50 MiB).
    pub max_body_set: bool,
    /// Peers whose `X-Forwarded-For` is believed (`LIGHTRAG_TRUSTED_PROXIES`): the
    /// failed-login lockout counts per client, and a client that can name itself
    /// could otherwise dodge it.
    pub trusted_proxies: Vec<IpAddr>,
}

/// LightRAG's storage settings and the one value of each that means "local files",
/// which is what this server does (in its own format, per workspace).
const STORAGES: &[(&str, &str)] = &[
    ("LIGHTRAG_KV_STORAGE", "JsonKVStorage"),
    ("LIGHTRAG_VECTOR_STORAGE", "NanoVectorDBStorage"),
    ("LIGHTRAG_GRAPH_STORAGE", "NetworkXStorage"),
    ("LIGHTRAG_DOC_STATUS_STORAGE", "JsonDocStatusStorage"),
];

/// LightRAG settings that choose an external document parser; files are parsed by
/// the built-in parser inside each tenant's sandbox instead.
const PARSER_SETTINGS: &[&str] = &[
    "LIGHTRAG_PARSER",
    "DOCUMENT_LOADING_ENGINE",
    "MINERU_ENDPOINT",
    "MINERU_API_MODE",
    "DOCLING_ENDPOINT",
];

pub(super) fn settings(s: &Sources) -> Result<HttpSettings, ConfigError> {
    refuse_storages(s)?;
    let cors = match s.string("CORS_ORIGINS").trim() {
        "" => CorsOrigins::None,
        list => {
            let origins: Vec<String> = list
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect();
            if origins.iter().any(|o| o == "*") {
                CorsOrigins::Any
            } else {
                for origin in &origins {
                    if !(origin.starts_with("http://") || origin.starts_with("https://"))
                        || origin.parse::<axum::http::HeaderValue>().is_err()
                    {
                        return Err(ConfigError(format!(
                            "invalid origin {origin:?} in CORS_ORIGINS: expected * or a comma-separated list of origins such as https://app.example.com"
                        )));
                    }
                }
                CorsOrigins::List(origins)
            }
        }
    };
    let max_body_set = s.get("MAX_REQUEST_BODY_BYTES").is_some();
    let max_body = match s.parse::<usize>("MAX_REQUEST_BODY_BYTES", "a number of bytes")? {
        0 => None,
        n => Some(n),
    };
    let trusted_proxies = s
        .string("LIGHTRAG_TRUSTED_PROXIES")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse().map_err(|_| {
                ConfigError(format!(
                    "invalid address {p:?} in LIGHTRAG_TRUSTED_PROXIES: expected IP addresses"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(HttpSettings {
        cors,
        max_body,
        max_body_set,
        trusted_proxies,
    })
}

/// Stops start-up on a storage backend we do not have: continuing would put the
/// data in local files when the operator expects it in PostgreSQL, Neo4j, Redis...
fn refuse_storages(s: &Sources) -> Result<(), ConfigError> {
    for (name, local) in STORAGES {
        let value = s.string(name);
        if !value.is_empty() && value != *local {
            return Err(ConfigError(format!(
                "{name}={value} is not supported: this server keeps every workspace's data in \
                 its own files under WORKING_DIR/<workspace>, isolated per tenant (the \
                 equivalent of {local}). Unset {name}, or set it to {local}."
            )));
        }
    }
    Ok(())
}

/// Settings that are accepted but do nothing here, each with what happens instead;
/// the server logs them at start-up.
pub fn ignored_settings(s: &Sources) -> Vec<String> {
    let mut ignored: Vec<String> = PARSER_SETTINGS
        .iter()
        .filter(|name| !s.string(name).is_empty())
        .map(|name| {
            format!(
                "{name} is ignored: files are parsed by the built-in parser inside each \
                 workspace's sandbox (PDF, Office, OpenDocument, EPUB, RTF, HTML, text)"
            )
        })
        .collect();
    let workers = s.string("WORKERS");
    if workers.trim() != "1" {
        ignored.push(format!(
            "WORKERS={workers} is ignored: one process serves every workspace, each in its \
             own engine instance; run more servers behind a load balancer to scale out"
        ));
    }
    ignored
}

/// The certificate and key files of HTTPS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `SSL`, `SSL_CERTFILE`, `SSL_KEYFILE`: both files are required with `SSL=true`.
pub(super) fn tls(s: &Sources) -> Result<Option<TlsFiles>, ConfigError> {
    if !s.boolean("SSL")? {
        return Ok(None);
    }
    let file = |name: &str| -> Result<PathBuf, ConfigError> {
        let path = s.string(name);
        if path.is_empty() {
            return Err(ConfigError(format!("SSL=true needs {name} (a PEM file)")));
        }
        let path = absolute(&path);
        if !path.is_file() {
            return Err(ConfigError(format!(
                "{name}={} is not a readable file",
                path.display()
            )));
        }
        Ok(path)
    };
    Ok(Some(TlsFiles {
        cert: file("SSL_CERTFILE")?,
        key: file("SSL_KEYFILE")?,
    }))
}
