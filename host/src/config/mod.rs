//! Server configuration from command-line flags, the environment and `.env`.
//!
//! Every setting has LightRAG's environment name (`PORT`, `WORKING_DIR`, `LLM_BINDING`,
//! …). The same setting can be given as a flag: `--port 9000` or `--working-dir=/x`
//! (lowercase, dashes). Precedence: flag, then environment, then `.env` in the current
//! directory, then the default. A value that does not parse stops start-up with a
//! message naming the setting and where its value came from.

use crate::auth::AuthSettings;
use crate::bindings::types::Config as GuestConfig;
use crate::workspace::validate_name;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod engine;
mod http;
mod models;
mod settings;
mod sources;
#[cfg(test)]
mod tests;

pub use models::RoleLimit;
use models::{model_config, rerank_config, role_config};
use sources::{Sources, absolute, parse_flags, read_dotenv};

pub use engine::HostDirs;
pub use http::{CorsOrigins, HttpSettings, TlsFiles};
pub use models::{Binding, ModelConfig, RerankConfig};
pub use settings::{DEFAULT_ENTITY_TYPES, SETTINGS, SettingDoc, help_text};

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The engine's settings (chunking, retrieval, extraction, merging), parsed straight
    /// into the contract's type; the host fills in the workspace, the model identities
    /// and the per-workspace limits.
    pub engine: GuestConfig,
    /// Where the server keeps its own records, outside every workspace.
    pub dirs: HostDirs,
    /// Cross-origin access, body limits, trusted proxies.
    pub http: HttpSettings,
    /// LightRAG settings given that do nothing here, with what happens instead (logged
    /// at start-up).
    pub ignored: Vec<String>,
    /// Serve HTTPS with these files (`SSL`, `SSL_CERTFILE`, `SSL_KEYFILE`).
    pub tls: Option<TlsFiles>,
    /// Scan the default workspace's input directory at start-up (`AUTO_SCAN_AT_STARTUP`).
    pub auto_scan: bool,
    /// Serve `/docs` and `/openapi.json` (`ENABLE_API_DOCS`).
    pub api_docs: bool,
    /// Where the admin route may import LightRAG directories from
    /// (`LIGHTRAG_IMPORT_DIR`); unset, it refuses.
    pub import_dir: Option<PathBuf>,
    /// Serve the web UI's files from this directory instead of the built-in copies
    /// (`LIGHTRAG_WEBUI_DIR`, for working on the UI).
    pub webui_dir: Option<PathBuf>,
    pub host: String,
    pub port: u16,
    pub working_dir: PathBuf,
    pub input_dir: PathBuf,
    pub default_workspace: String,
    pub allow_default_workspace: bool,
    pub max_workspaces: usize,
    pub workspace_memory_mb: u32,
    pub workspace_cpu: Duration,
    pub pool_wait: Duration,
    pub shutdown_grace: Duration,
    pub llm: ModelConfig,
    /// Role-specific models (LightRAG's `EXTRACT_`, `KEYWORD_`, `QUERY_LLM_*`); unset
    /// roles use `llm`.
    pub extract_llm: Option<ModelConfig>,
    pub keyword_llm: Option<ModelConfig>,
    pub query_llm: Option<ModelConfig>,
    /// Per-role concurrency caps and timeouts (`{ROLE}_MAX_ASYNC_LLM`,
    /// `{ROLE}_LLM_TIMEOUT`), in the order extract, keyword, query.
    pub role_limits: [RoleLimit; 3],
    pub embedding: ModelConfig,
    /// Only meaningful for remote embedding bindings; the offline model has 384.
    pub embedding_dim: u32,
    pub embedding_batch: usize,
    pub embedding_max_async: usize,
    pub max_async: usize,
    /// `LIGHTRAG_WORKSPACE_MAX_ASYNC`.
    pub workspace_max_async: Option<usize>,
    /// `LIGHTRAG_MODEL_RETRY_ATTEMPTS`.
    pub retry_attempts: u32,
    /// `LIGHTRAG_MODEL_RETRY_BASE_MS`.
    pub retry_base: Duration,
    pub llm_timeout: Duration,
    pub embedding_timeout: Duration,
    pub max_upload_size: u64,
    /// Most texts in one `/documents/texts` request (`MAX_TEXTS_PER_REQUEST`, 0 = any).
    pub max_texts_per_request: usize,
    /// Most documents waiting or in progress per workspace (`MAX_PENDING_DOCUMENTS`, 0 = any).
    pub max_pending_documents: u32,
    pub log_level: String,
    /// `OLLAMA_EMULATING_MODEL_NAME`.
    pub ollama_model_name: String,
    /// `OLLAMA_EMULATING_MODEL_TAG`.
    pub ollama_model_tag: String,
    /// Authentication settings (secrets redacted in `Debug`).
    pub auth: AuthSettings,
    /// `LIGHTRAG_METRICS_WORKSPACES`.
    pub metrics_workspaces: Vec<String>,
    /// `LIGHTRAG_WORKSPACE_DISK_MB`.
    pub workspace_disk_mb: u64,
    /// The reranker, if one is configured.
    pub rerank: Option<RerankConfig>,
    /// `RERANK_BY_DEFAULT`.
    pub rerank_by_default: bool,
    /// `LIGHTRAG_AUTO_CREATE_WORKSPACES`.
    pub auto_create: bool,
    /// `LIGHTRAG_ADMIN_API_KEY` (never logged).
    pub admin_key: String,
    /// `LIGHTRAG_AUDIT_MAX_BYTES`.
    pub audit_max_bytes: u64,
    /// Faults within `quarantine_window` that quarantine a workspace for `quarantine`.
    pub quarantine_faults: usize,
    pub quarantine_window: Duration,
    pub quarantine: Duration,
    /// `LIGHTRAG_ENGINE_COMPONENT`.
    pub engine_component: Option<PathBuf>,
}

/// A configuration error: names the setting, the value and where it came from.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// What the command line asked for besides settings.
pub enum Command {
    /// Run the server.
    Serve(Box<Config>),
    /// Print help and exit.
    Help(String),
    /// Write `workspace` to the archive `to`, then exit.
    Export {
        config: Box<Config>,
        workspace: String,
        to: PathBuf,
    },
    /// Make `source` the empty workspace `workspace`, then exit.
    Import {
        config: Box<Config>,
        workspace: String,
        source: ImportSource,
    },
}

/// What `import` reads.
pub enum ImportSource {
    /// An archive written by `export`.
    Archive(PathBuf),
    /// A LightRAG workspace directory, whose vectors were made by `embedding_model`
    /// (when the operator says so).
    LightRag {
        dir: PathBuf,
        embedding_model: Option<String>,
    },
}

impl Config {
    /// Reads the configuration from `args` (without the program name), the process
    /// environment and `./.env`.
    pub fn from_command_line(args: &[String]) -> Result<Command, ConfigError> {
        let env = std::env::vars().collect();
        let dotenv = read_dotenv(Path::new(".env"))?;
        Self::from_parts(args, env, dotenv)
    }

    /// Reads the configuration from explicit sources (tests use this).
    pub fn from_parts(
        args: &[String],
        env: HashMap<String, String>,
        dotenv: HashMap<String, String>,
    ) -> Result<Command, ConfigError> {
        let Some(parsed) = parse_flags(args)? else {
            return Ok(Command::Help(help_text()));
        };
        // The workspace a command works on is named on its command line, never taken
        // from the environment's default.
        let workspace = parsed.flags.get("WORKSPACE").cloned();
        let sources = Sources {
            flags: parsed.flags,
            env,
            dotenv,
        };
        let config = Box::new(Self::resolve(&sources)?);
        let Some((name, own)) = parsed.subcommand else {
            return Ok(Command::Serve(config));
        };
        let workspace = workspace.ok_or_else(|| {
            ConfigError(format!(
                "{name} needs --workspace NAME (the workspace to {name})"
            ))
        })?;
        validate_name(&workspace)
            .map_err(|why| ConfigError(format!("invalid --workspace {workspace:?}: {why}")))?;
        let path = |arg: &str| own.get(arg).map(|p| absolute(p));
        Ok(match name.as_str() {
            "export" => Command::Export {
                config,
                workspace,
                to: path("to").expect("clap requires --to"),
            },
            _ => Command::Import {
                config,
                workspace,
                source: match path("archive") {
                    Some(archive) => ImportSource::Archive(archive),
                    None => ImportSource::LightRag {
                        dir: path("from").expect("clap requires a source"),
                        embedding_model: own.get("source-embedding-model").cloned(),
                    },
                },
            },
        })
    }

    fn resolve(s: &Sources) -> Result<Config, ConfigError> {
        let working_dir = absolute(&s.string("WORKING_DIR"));
        let mut default_workspace = s.string("LIGHTRAG_DEFAULT_WORKSPACE");
        let mut default_from = "LIGHTRAG_DEFAULT_WORKSPACE";
        if default_workspace.is_empty() {
            default_workspace = s.string("WORKSPACE");
            default_from = "WORKSPACE";
        }
        if default_workspace.is_empty() {
            default_workspace = "default".into();
        }
        if let Err(why) = validate_name(&default_workspace) {
            return Err(ConfigError(format!(
                "invalid {default_from}={default_workspace:?}: {why}"
            )));
        }
        let llm = model_config(s, "LLM")?;
        let extract_llm = role_config(s, "EXTRACT", &llm)?;
        let keyword_llm = role_config(s, "KEYWORD", &llm)?;
        let query_llm = role_config(s, "QUERY", &llm)?;
        let mut embedding = model_config(s, "EMBEDDING")?;
        // As in LightRAG, the embedding server defaults to the LLM server.
        if s.get("EMBEDDING_BINDING_HOST").is_none()
            && s.get("LLM_BINDING_HOST").is_some()
            && embedding.binding == llm.binding
        {
            embedding.host = llm.host.clone();
        }
        if embedding.api_key.is_empty() && embedding.binding == llm.binding {
            embedding.api_key = llm.api_key.clone();
        }
        let embedding_dim = match embedding.binding {
            Binding::Offline => 384,
            Binding::Ollama if s.string("EMBEDDING_DIM").is_empty() => 1024,
            _ if s.string("EMBEDDING_DIM").is_empty() => 1536,
            _ => s.positive("EMBEDDING_DIM", "a positive number of dimensions")?,
        };
        let timeout_name = if s.get("LLM_TIMEOUT").is_some() {
            "LLM_TIMEOUT"
        } else {
            "TIMEOUT"
        };
        let engine = engine::settings(s)?;
        let dirs = HostDirs::new(
            &working_dir,
            &s.string("LIGHTRAG_CACHE_DIR"),
            &s.string("LIGHTRAG_AUDIT_DIR"),
        );
        let mut log_level = s.string("LOG_LEVEL").to_ascii_uppercase();
        if s.get("LOG_LEVEL").is_none() && s.boolean("VERBOSE")? {
            log_level = "DEBUG".into();
        }
        if !["DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"].contains(&log_level.as_str())
        {
            return Err(ConfigError(format!(
                "invalid LOG_LEVEL={log_level:?}: expected DEBUG, INFO, WARNING or ERROR"
            )));
        }
        Ok(Config {
            engine,
            dirs,
            http: http::settings(s)?,
            ignored: http::ignored_settings(s),
            tls: http::tls(s)?,
            auto_scan: s.boolean("AUTO_SCAN_AT_STARTUP")?,
            api_docs: s.boolean("ENABLE_API_DOCS")?,
            import_dir: Some(s.string("LIGHTRAG_IMPORT_DIR"))
                .filter(|dir| !dir.is_empty())
                .map(|dir| absolute(&dir)),
            webui_dir: Some(s.string("LIGHTRAG_WEBUI_DIR"))
                .filter(|dir| !dir.is_empty())
                .map(|dir| absolute(&dir)),
            host: s.string("HOST"),
            port: s.parse("PORT", "a port number from 0 to 65535")?,
            input_dir: absolute(&s.string("INPUT_DIR")),
            working_dir,
            default_workspace,
            allow_default_workspace: s.boolean("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE")?,
            max_workspaces: s.positive("LIGHTRAG_MAX_WORKSPACES_IN_POOL", "a positive number")?,
            workspace_memory_mb: s
                .positive("LIGHTRAG_WORKSPACE_MEMORY_MB", "a positive number of MiB")?,
            workspace_cpu: Duration::from_millis(s.positive(
                "LIGHTRAG_WORKSPACE_CPU_MS",
                "a positive number of milliseconds",
            )?),
            pool_wait: Duration::from_millis(
                s.parse("LIGHTRAG_POOL_WAIT_MS", "a number of milliseconds")?,
            ),
            shutdown_grace: Duration::from_secs(
                s.parse("LIGHTRAG_SHUTDOWN_GRACE_SECS", "a number of seconds")?,
            ),
            llm,
            extract_llm,
            keyword_llm,
            query_llm,
            embedding,
            embedding_dim,
            embedding_batch: s.positive("EMBEDDING_BATCH_NUM", "a positive number")?,
            embedding_max_async: s.positive("EMBEDDING_FUNC_MAX_ASYNC", "a positive number")?,
            max_async: match s.get("MAX_ASYNC_LLM") {
                Some(_) => s.positive("MAX_ASYNC_LLM", "a positive number")?,
                None => s.positive("MAX_ASYNC", "a positive number")?,
            },
            retry_attempts: s.positive(
                "LIGHTRAG_MODEL_RETRY_ATTEMPTS",
                "a positive number of attempts",
            )?,
            retry_base: Duration::from_millis(
                s.parse("LIGHTRAG_MODEL_RETRY_BASE_MS", "a number of milliseconds")?,
            ),
            workspace_max_async: match s.string("LIGHTRAG_WORKSPACE_MAX_ASYNC") {
                v if v.is_empty() => None,
                _ => Some(s.positive("LIGHTRAG_WORKSPACE_MAX_ASYNC", "a positive number")?),
            },
            llm_timeout: s.seconds(timeout_name)?,
            embedding_timeout: s.seconds("EMBEDDING_TIMEOUT")?,
            role_limits: [
                RoleLimit::read(s, "EXTRACT")?,
                RoleLimit::read(s, "KEYWORD")?,
                RoleLimit::read(s, "QUERY")?,
            ],
            max_upload_size: s.parse("MAX_UPLOAD_SIZE", "a number of bytes")?,
            max_texts_per_request: s.parse("MAX_TEXTS_PER_REQUEST", "a number")?,
            max_pending_documents: s.parse("MAX_PENDING_DOCUMENTS", "a number")?,
            log_level,
            ollama_model_name: s.string("OLLAMA_EMULATING_MODEL_NAME"),
            ollama_model_tag: s.string("OLLAMA_EMULATING_MODEL_TAG"),
            auth: AuthSettings::from_lookup(|name| s.get(name).map(|(value, _)| value))
                .map_err(ConfigError)?,
            metrics_workspaces: workspace_list(s, "LIGHTRAG_METRICS_WORKSPACES")?,
            workspace_disk_mb: s.parse("LIGHTRAG_WORKSPACE_DISK_MB", "a number of MiB")?,
            rerank: rerank_config(s)?,
            rerank_by_default: s.boolean("RERANK_BY_DEFAULT")?,
            auto_create: s.boolean("LIGHTRAG_AUTO_CREATE_WORKSPACES")?,
            admin_key: s.string("LIGHTRAG_ADMIN_API_KEY"),
            audit_max_bytes: s
                .positive("LIGHTRAG_AUDIT_MAX_BYTES", "a positive number of bytes")?,
            quarantine_faults: s.positive("LIGHTRAG_QUARANTINE_FAULTS", "a positive number")?,
            quarantine_window: Duration::from_secs(s.positive(
                "LIGHTRAG_QUARANTINE_WINDOW_SECS",
                "a positive number of seconds",
            )?),
            quarantine: Duration::from_secs(
                s.parse("LIGHTRAG_QUARANTINE_SECS", "a number of seconds")?,
            ),
            engine_component: match s.string("LIGHTRAG_ENGINE_COMPONENT") {
                path if path.is_empty() => None,
                path => Some(absolute(&path)),
            },
        })
    }
}

/// A comma-separated list of workspace names, each validated.
fn workspace_list(s: &Sources, name: &str) -> Result<Vec<String>, ConfigError> {
    s.string(name)
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            validate_name(n)
                .map(|()| n.to_string())
                .map_err(|why| ConfigError(format!("invalid {name}: {why}")))
        })
        .collect()
}
