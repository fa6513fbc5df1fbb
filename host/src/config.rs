//! Server configuration from command-line flags, the environment and `.env`.
//!
//! Every setting has LightRAG's environment name (`PORT`, `WORKING_DIR`, `LLM_BINDING`,
//! …). The same setting can be given as a flag: `--port 9000` or `--working-dir=/x`
//! (lowercase, dashes). Precedence: flag, then environment, then `.env` in the current
//! directory, then the default. A value that does not parse stops start-up with a
//! message naming the setting and where its value came from.

use crate::auth::AuthSettings;
use crate::workspace::validate_name;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A setting's name, default and meaning; the single list behind `--help`,
/// unknown-flag detection and `env.example`.
pub struct SettingDoc {
    /// Environment name.
    pub name: &'static str,
    /// Default, as text (empty = unset).
    pub default: &'static str,
    /// One line of help.
    pub help: &'static str,
}

macro_rules! settings {
    ($( $name:literal, $default:literal, $help:literal; )*) => {
        /// Every setting the server reads.
        pub const SETTINGS: &[SettingDoc] = &[
            $( SettingDoc { name: $name, default: $default, help: $help }, )*
        ];
    };
}

settings! {
    "HOST", "0.0.0.0", "Address to listen on.";
    "PORT", "9621", "Port to listen on (0 picks a free port and logs it).";
    "WORKING_DIR", "./rag_storage", "Root of all workspace data; workspace X lives in WORKING_DIR/X.";
    "INPUT_DIR", "./inputs", "Root of input files; workspace X reads INPUT_DIR/X.";
    "WORKSPACE", "", "Workspace used when a request names none (LightRAG's single-workspace setting).";
    "LIGHTRAG_DEFAULT_WORKSPACE", "", "Overrides WORKSPACE as the default workspace; `default` when both are empty.";
    "LIGHTRAG_ALLOW_DEFAULT_WORKSPACE", "true", "When false, a request without a workspace header is refused (400).";
    "LIGHTRAG_MAX_WORKSPACES_IN_POOL", "50", "Workspaces kept loaded at once; the least recently used idle one is unloaded.";
    "LIGHTRAG_WORKSPACE_MEMORY_MB", "256", "Memory limit of one workspace's engine instance.";
    "LIGHTRAG_WORKSPACE_CPU_MS", "30000", "CPU time one engine call may take before it is stopped.";
    "LIGHTRAG_WORKSPACE_DISK_MB", "0", "Storage one workspace's engine may use (0: no limit); beyond it writes fail with 507.";
    "LIGHTRAG_AUTO_CREATE_WORKSPACES", "true", "When false, only workspaces created through the admin API exist (others: 404).";
    "LIGHTRAG_ADMIN_API_KEY", "", "Key for the workspace admin API (/workspaces), sent as X-Admin-Key; unset: disabled.";
    "LIGHTRAG_AUDIT_DIR", "", "Where audit trails are kept (default WORKING_DIR/.host/audit).";
    "LIGHTRAG_AUDIT_MAX_BYTES", "10485760", "Size at which a workspace's audit file is rotated.";
    "LIGHTRAG_QUARANTINE_FAULTS", "3", "Engine faults within the window that quarantine a workspace.";
    "LIGHTRAG_QUARANTINE_WINDOW_SECS", "60", "Window in which faults are counted.";
    "LIGHTRAG_QUARANTINE_SECS", "60", "How long a quarantined workspace answers 503.";
    "LIGHTRAG_ENGINE_COMPONENT", "", "Path of an engine component to run instead of the built-in one.";
    "LIGHTRAG_POOL_WAIT_MS", "2000", "How long a request waits for a pool slot before answering 503.";
    "LIGHTRAG_CACHE_DIR", "", "Where compiled engine code is cached (default WORKING_DIR/.host/cache).";
    "LIGHTRAG_SHUTDOWN_GRACE_SECS", "30", "How long shutdown waits for requests in flight.";
    "LIGHTRAG_METRICS_WORKSPACES", "", "Comma-separated workspaces whose own usage series /metrics shows.";
    "LLM_BINDING", "offline", "Language model: `openai` (any OpenAI-compatible server), `ollama`, `azure_openai`, or `offline` (built in, no model).";
    "LLM_MODEL", "", "Model name (openai default gpt-4o-mini, ollama mistral-nemo:latest).";
    "LLM_BINDING_HOST", "", "Base URL of the LLM server (openai https://api.openai.com/v1, ollama http://localhost:11434).";
    "LLM_BINDING_API_KEY", "", "API key of the LLM server.";
    "EXTRACT_LLM_BINDING", "", "Binding of the model used for extraction and summaries (default: LLM_BINDING).";
    "EXTRACT_LLM_MODEL", "", "Model for extraction and summaries (default: LLM_MODEL).";
    "EXTRACT_LLM_BINDING_HOST", "", "Server of the extraction model (default: LLM_BINDING_HOST).";
    "EXTRACT_LLM_BINDING_API_KEY", "", "Key of the extraction model's server (default: LLM_BINDING_API_KEY).";
    "KEYWORD_LLM_BINDING", "", "Binding of the model used for query keywords (default: LLM_BINDING).";
    "KEYWORD_LLM_MODEL", "", "Model for query keywords (default: LLM_MODEL).";
    "KEYWORD_LLM_BINDING_HOST", "", "Server of the keyword model (default: LLM_BINDING_HOST).";
    "KEYWORD_LLM_BINDING_API_KEY", "", "Key of the keyword model's server (default: LLM_BINDING_API_KEY).";
    "QUERY_LLM_BINDING", "", "Binding of the model that writes answers (default: LLM_BINDING).";
    "QUERY_LLM_MODEL", "", "Model that writes answers (default: LLM_MODEL).";
    "QUERY_LLM_BINDING_HOST", "", "Server of the answering model (default: LLM_BINDING_HOST).";
    "QUERY_LLM_BINDING_API_KEY", "", "Key of the answering model's server (default: LLM_BINDING_API_KEY).";
    "EMBEDDING_BINDING", "offline", "Embedding model: `openai`, `ollama`, `azure_openai` or `offline` (built-in paraphrase-MiniLM-L3-v2).";
    "EMBEDDING_MODEL", "", "Embedding model (openai default text-embedding-3-small, ollama bge-m3:latest).";
    "EMBEDDING_DIM", "", "Embedding dimension (openai/azure default 1536, ollama 1024; offline: 384).";
    "AZURE_OPENAI_ENDPOINT", "", "Azure OpenAI resource endpoint (when *_BINDING_HOST is unset).";
    "AZURE_OPENAI_DEPLOYMENT", "", "Azure deployment of the LLM (default: LLM_MODEL).";
    "AZURE_OPENAI_API_VERSION", "2024-08-01-preview", "Azure OpenAI api-version.";
    "AZURE_OPENAI_API_KEY", "", "Azure key (when *_BINDING_API_KEY is unset).";
    "AZURE_EMBEDDING_DEPLOYMENT", "", "Azure deployment of the embedding model (default: EMBEDDING_MODEL).";
    "AZURE_EMBEDDING_API_VERSION", "", "Azure api-version for embeddings (default: AZURE_OPENAI_API_VERSION).";
    "EMBEDDING_BINDING_HOST", "", "Base URL of the embedding server (defaults to LLM_BINDING_HOST).";
    "EMBEDDING_BINDING_API_KEY", "", "API key of the embedding server (defaults to LLM_BINDING_API_KEY).";
    "EMBEDDING_BATCH_NUM", "10", "Texts per embedding request.";
    "EMBEDDING_FUNC_MAX_ASYNC", "8", "Embedding requests in flight, server-wide.";
    "MAX_ASYNC", "4", "LLM requests in flight, server-wide, shared by all workspaces.";
    "LIGHTRAG_WORKSPACE_MAX_ASYNC", "", "Most LLM requests one workspace may have in flight (unset: no cap).";
    "TIMEOUT", "240", "Seconds one LLM or embedding request may take (LLM_TIMEOUT wins if set).";
    "LIGHTRAG_MODEL_RETRY_ATTEMPTS", "3", "Attempts per model call on 429, 5xx, timeouts and connection errors.";
    "LIGHTRAG_MODEL_RETRY_BASE_MS", "4000", "First backoff before a retry; doubles each time, with jitter, at most 10 s.";
    "LLM_TIMEOUT", "", "Seconds one LLM request may take.";
    "RERANK_BINDING", "", "Reranker: `cohere`, `jina` or `aliyun` (unset: no reranking).";
    "RERANK_MODEL", "", "Reranker model.";
    "RERANK_BINDING_HOST", "", "Full URL of the reranker endpoint.";
    "RERANK_BINDING_API_KEY", "", "Key of the reranker.";
    "RERANK_BY_DEFAULT", "true", "Rerank when a query does not say (`enable_rerank`).";
    "MIN_RERANK_SCORE", "0.0", "Chunks scoring below this after reranking are dropped.";
    "TOP_K", "40", "Entities/relations retrieved per query.";
    "CHUNK_TOP_K", "20", "Chunks retrieved per query.";
    "COSINE_THRESHOLD", "0.2", "Vector hits below this similarity are ignored.";
    "MAX_ENTITY_TOKENS", "6000", "Token budget of a query's entities.";
    "MAX_RELATION_TOKENS", "8000", "Token budget of a query's relations.";
    "MAX_TOTAL_TOKENS", "30000", "Token budget of a whole query prompt.";
    "CHUNK_SIZE", "1200", "Tokens per chunk.";
    "CHUNK_OVERLAP_SIZE", "100", "Tokens shared by consecutive chunks.";
    "MAX_PARALLEL_INSERT", "3", "Documents one workspace processes at once.";
    "ENABLE_LLM_CACHE", "true", "Cache query answers.";
    "ENABLE_LLM_CACHE_FOR_EXTRACT", "true", "Cache extraction and summary answers.";
    "SUMMARY_LANGUAGE", "English", "Language of extraction, keywords and summaries.";
    "ENTITY_TYPES", "", "Comma-separated entity types for extraction (LightRAG's list when empty).";
    "MAX_GLEANING", "1", "Extra extraction passes per chunk.";
    "FORCE_LLM_SUMMARY_ON_MERGE", "8", "Description fragments that force an LLM summary.";
    "SUMMARY_MAX_TOKENS", "1200", "Descriptions longer than this are summarised.";
    "SUMMARY_CONTEXT_SIZE", "12000", "Tokens of input per summary request.";
    "SUMMARY_LENGTH_RECOMMENDED", "600", "Suggested summary length in tokens.";
    "RELATED_CHUNK_NUMBER", "5", "Chunks related to each entity or relation in a query.";
    "MAX_UPLOAD_SIZE", "104857600", "Largest accepted upload in bytes (0 = unlimited).";
    "LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR.";
    "LIGHTRAG_API_KEY", "", "API key clients send in X-API-Key (no key: open access).";
    "WHITELIST_PATHS", "/health,/api/*", "Paths that need no credentials (`/x/*` matches /x and below).";
    "AUTH_ACCOUNTS", "", "Login accounts, user:password or user:{bcrypt}hash, comma-separated.";
    "TOKEN_SECRET", "", "Secret that signs login tokens (required with AUTH_ACCOUNTS).";
    "TOKEN_EXPIRE_HOURS", "48", "Lifetime of a login token.";
    "GUEST_TOKEN_EXPIRE_HOURS", "24", "Lifetime of a guest token.";
    "JWT_ALGORITHM", "HS256", "Token signature algorithm (only HS256).";
    "LOGIN_MAX_FAILED_ATTEMPTS", "5", "Failed logins per client and user before a lockout.";
    "LOGIN_LOCKOUT_WINDOW_SECONDS", "300", "Window of the failed-login count.";
    "LIGHTRAG_WORKSPACE_KEYS_FILE", "", "JSON file of per-workspace API keys (SHA-256) and account bindings.";
    "WEBUI_TITLE", "", "Title reported by /auth-status and /login.";
    "WEBUI_DESCRIPTION", "", "Description reported by /auth-status and /login.";
    "OLLAMA_EMULATING_MODEL_NAME", "lightrag", "Model name the Ollama-compatible API reports.";
    "OLLAMA_EMULATING_MODEL_TAG", "latest", "Model tag the Ollama-compatible API reports.";
}

/// LightRAG's default entity types.
pub const DEFAULT_ENTITY_TYPES: &[&str] = &[
    "Person",
    "Creature",
    "Organization",
    "Location",
    "Event",
    "Concept",
    "Method",
    "Content",
    "Data",
    "Artifact",
    "NaturalObject",
];

/// Which model provider a binding names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Any server speaking the OpenAI API.
    OpenAi,
    /// Ollama's native API.
    Ollama,
    /// Azure OpenAI (deployments, `api-version`, `api-key`).
    AzureOpenAi,
    /// Built in: no network, no key.
    Offline,
}

impl Binding {
    /// LightRAG's name of the binding.
    pub fn name(self) -> &'static str {
        match self {
            Binding::OpenAi => "openai",
            Binding::Ollama => "ollama",
            Binding::AzureOpenAi => "azure_openai",
            Binding::Offline => "offline",
        }
    }
}

/// A configured model endpoint.
#[derive(Clone)]
pub struct ModelConfig {
    pub binding: Binding,
    /// Model name (Azure: the deployment).
    pub model: String,
    /// Base URL (Azure: the resource endpoint).
    pub host: String,
    /// Never logged, never shown by `/health`.
    pub api_key: String,
    /// Azure's `api-version`.
    pub api_version: String,
    /// Model options passed through (`OPENAI_LLM_*`, `OLLAMA_LLM_*`, `OLLAMA_EMBEDDING_*`).
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelConfig")
            .field("binding", &self.binding)
            .field("model", &self.model)
            .field("host", &self.host)
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    ""
                } else {
                    "[redacted]"
                },
            )
            .field("api_version", &self.api_version)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
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
    pub cache_dir: PathBuf,
    pub shutdown_grace: Duration,
    pub llm: ModelConfig,
    /// Role-specific models (LightRAG's `EXTRACT_`, `KEYWORD_`, `QUERY_LLM_*`); unset
    /// roles use `llm`.
    pub extract_llm: Option<ModelConfig>,
    pub keyword_llm: Option<ModelConfig>,
    pub query_llm: Option<ModelConfig>,
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
    pub top_k: u32,
    pub chunk_top_k: u32,
    pub cosine_threshold: f32,
    pub max_entity_tokens: u32,
    pub max_relation_tokens: u32,
    pub max_total_tokens: u32,
    pub chunk_size: u32,
    pub chunk_overlap: u32,
    pub max_parallel_insert: u32,
    pub enable_llm_cache: bool,
    pub enable_llm_cache_for_extract: bool,
    pub summary_language: String,
    pub entity_types: Vec<String>,
    pub max_gleaning: u32,
    pub force_llm_summary_on_merge: u32,
    pub summary_max_tokens: u32,
    pub summary_context_size: u32,
    pub summary_length_recommended: u32,
    pub related_chunk_number: u32,
    pub max_upload_size: u64,
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
    /// `MIN_RERANK_SCORE`.
    pub min_rerank_score: f32,
    /// `LIGHTRAG_AUTO_CREATE_WORKSPACES`.
    pub auto_create: bool,
    /// `LIGHTRAG_ADMIN_API_KEY` (never logged).
    pub admin_key: String,
    /// `LIGHTRAG_AUDIT_DIR`.
    pub audit_dir: PathBuf,
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
}

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
enum Origin {
    Flag,
    Env,
    DotEnv,
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Flag => "command line",
            Origin::Env => "environment",
            Origin::DotEnv => ".env file",
            Origin::Default => "default",
        })
    }
}

/// The layered sources of setting values.
struct Sources {
    flags: HashMap<String, String>,
    env: HashMap<String, String>,
    dotenv: HashMap<String, String>,
}

impl Sources {
    fn get(&self, name: &str) -> Option<(String, Origin)> {
        if let Some(v) = self.flags.get(name) {
            return Some((v.clone(), Origin::Flag));
        }
        if let Some(v) = self.env.get(name) {
            return Some((v.clone(), Origin::Env));
        }
        self.dotenv.get(name).map(|v| (v.clone(), Origin::DotEnv))
    }

    /// The value of `name`, or its documented default.
    fn raw(&self, name: &str) -> (String, Origin) {
        self.get(name).unwrap_or_else(|| {
            let default = SETTINGS
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.default)
                .unwrap_or("");
            (default.to_string(), Origin::Default)
        })
    }

    /// Every setting named `<prefix><OPTION>` (environment and `.env`), as a map of
    /// lowercase option names to JSON values (numbers, booleans and objects are
    /// parsed; anything else is a string). `…EXTRA_BODY` becomes `extra_body`.
    fn options(&self, prefix: &str) -> serde_json::Map<String, serde_json::Value> {
        let mut options = serde_json::Map::new();
        for (name, value) in self
            .dotenv
            .iter()
            .chain(self.env.iter())
            .chain(self.flags.iter())
        {
            let Some(option) = name.strip_prefix(prefix) else {
                continue;
            };
            if option.is_empty() || value.trim().is_empty() {
                continue;
            }
            let parsed = serde_json::from_str(value.trim())
                .unwrap_or_else(|_| serde_json::Value::String(value.trim().to_string()));
            options.insert(option.to_ascii_lowercase(), parsed);
        }
        options
    }

    fn string(&self, name: &str) -> String {
        self.raw(name).0.trim().to_string()
    }

    fn parse<T: FromStr>(&self, name: &str, expected: &str) -> Result<T, ConfigError> {
        let (value, origin) = self.raw(name);
        value.trim().parse().map_err(|_| {
            ConfigError(format!(
                "invalid {name}={value:?} (from {origin}): expected {expected}"
            ))
        })
    }

    fn positive<T: FromStr + PartialOrd + Default>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<T, ConfigError> {
        let value: T = self.parse(name, expected)?;
        if value <= T::default() {
            let (raw, origin) = self.raw(name);
            return Err(ConfigError(format!(
                "invalid {name}={raw:?} (from {origin}): expected {expected}"
            )));
        }
        Ok(value)
    }

    fn boolean(&self, name: &str) -> Result<bool, ConfigError> {
        let (value, origin) = self.raw(name);
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "t" | "on" => Ok(true),
            "false" | "0" | "no" | "f" | "off" => Ok(false),
            _ => Err(ConfigError(format!(
                "invalid {name}={value:?} (from {origin}): expected true or false"
            ))),
        }
    }
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
        let Some(flags) = parse_flags(args)? else {
            return Ok(Command::Help(help_text()));
        };
        let sources = Sources { flags, env, dotenv };
        Self::resolve(&sources).map(|c| Command::Serve(Box::new(c)))
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
        let chunk_size: u32 = s.positive("CHUNK_SIZE", "a positive number of tokens")?;
        let chunk_overlap: u32 = s.parse("CHUNK_OVERLAP_SIZE", "a number of tokens")?;
        if chunk_overlap >= chunk_size {
            return Err(ConfigError(format!(
                "invalid CHUNK_OVERLAP_SIZE={chunk_overlap}: it must be smaller than CHUNK_SIZE={chunk_size}"
            )));
        }
        let cosine_threshold: f32 = s.parse("COSINE_THRESHOLD", "a number between -1 and 1")?;
        if !(-1.0..=1.0).contains(&cosine_threshold) {
            return Err(ConfigError(format!(
                "invalid COSINE_THRESHOLD={cosine_threshold}: expected a number between -1 and 1"
            )));
        }
        let entity_types: Vec<String> = s
            .string("ENTITY_TYPES")
            .split(',')
            .map(|t| {
                t.trim()
                    .trim_matches(|c| c == '"' || c == '\'' || c == '[' || c == ']')
            })
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        let cache_dir = match s.string("LIGHTRAG_CACHE_DIR") {
            dir if dir.is_empty() => working_dir.join(".host").join("cache"),
            dir => absolute(&dir),
        };
        let audit_dir = match s.string("LIGHTRAG_AUDIT_DIR") {
            dir if dir.is_empty() => working_dir.join(".host").join("audit"),
            dir => absolute(&dir),
        };
        let log_level = s.string("LOG_LEVEL").to_ascii_uppercase();
        if !["DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"].contains(&log_level.as_str())
        {
            return Err(ConfigError(format!(
                "invalid LOG_LEVEL={log_level:?}: expected DEBUG, INFO, WARNING or ERROR"
            )));
        }
        Ok(Config {
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
            cache_dir,
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
            max_async: s.positive("MAX_ASYNC", "a positive number")?,
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
            llm_timeout: Duration::from_secs_f64(
                s.positive(timeout_name, "a positive number of seconds")?,
            ),
            top_k: s.positive("TOP_K", "a positive number")?,
            chunk_top_k: s.positive("CHUNK_TOP_K", "a positive number")?,
            cosine_threshold,
            max_entity_tokens: s.positive("MAX_ENTITY_TOKENS", "a positive number of tokens")?,
            max_relation_tokens: s
                .positive("MAX_RELATION_TOKENS", "a positive number of tokens")?,
            max_total_tokens: s.positive("MAX_TOTAL_TOKENS", "a positive number of tokens")?,
            chunk_size,
            chunk_overlap,
            max_parallel_insert: s.positive("MAX_PARALLEL_INSERT", "a positive number")?,
            enable_llm_cache: s.boolean("ENABLE_LLM_CACHE")?,
            enable_llm_cache_for_extract: s.boolean("ENABLE_LLM_CACHE_FOR_EXTRACT")?,
            summary_language: s.string("SUMMARY_LANGUAGE"),
            entity_types: if entity_types.is_empty() {
                DEFAULT_ENTITY_TYPES.iter().map(|t| t.to_string()).collect()
            } else {
                entity_types
            },
            max_gleaning: s.parse("MAX_GLEANING", "a number of passes")?,
            force_llm_summary_on_merge: s
                .positive("FORCE_LLM_SUMMARY_ON_MERGE", "a positive number")?,
            summary_max_tokens: s.positive("SUMMARY_MAX_TOKENS", "a positive number of tokens")?,
            summary_context_size: s
                .positive("SUMMARY_CONTEXT_SIZE", "a positive number of tokens")?,
            summary_length_recommended: s
                .positive("SUMMARY_LENGTH_RECOMMENDED", "a positive number of tokens")?,
            related_chunk_number: s.positive("RELATED_CHUNK_NUMBER", "a positive number")?,
            max_upload_size: s.parse("MAX_UPLOAD_SIZE", "a number of bytes")?,
            log_level,
            ollama_model_name: s.string("OLLAMA_EMULATING_MODEL_NAME"),
            ollama_model_tag: s.string("OLLAMA_EMULATING_MODEL_TAG"),
            auth: AuthSettings::from_lookup(|name| s.get(name).map(|(value, _)| value))
                .map_err(ConfigError)?,
            metrics_workspaces: workspace_list(s, "LIGHTRAG_METRICS_WORKSPACES")?,
            workspace_disk_mb: s.parse("LIGHTRAG_WORKSPACE_DISK_MB", "a number of MiB")?,
            rerank: rerank_config(s)?,
            rerank_by_default: s.boolean("RERANK_BY_DEFAULT")?,
            min_rerank_score: s.parse("MIN_RERANK_SCORE", "a number")?,
            auto_create: s.boolean("LIGHTRAG_AUTO_CREATE_WORKSPACES")?,
            admin_key: s.string("LIGHTRAG_ADMIN_API_KEY"),
            audit_dir,
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

/// Reads `<PREFIX>_BINDING`, `_MODEL`, `_BINDING_HOST`, `_BINDING_API_KEY`, with each
/// binding's defaults (LightRAG's) and options.
fn model_config(s: &Sources, prefix: &str) -> Result<ModelConfig, ConfigError> {
    let name = format!("{prefix}_BINDING");
    let (raw, origin) = s.raw(&name);
    let binding = match raw.trim().to_ascii_lowercase().as_str() {
        "openai" => Binding::OpenAi,
        "ollama" => Binding::Ollama,
        "azure_openai" => Binding::AzureOpenAi,
        "offline" | "" => Binding::Offline,
        _ => {
            return Err(ConfigError(format!(
                "invalid {name}={raw:?} (from {origin}): expected openai, ollama, azure_openai or offline"
            )));
        }
    };
    let llm = prefix == "LLM";
    let mut model = s.string(&format!("{prefix}_MODEL"));
    let mut host = s
        .string(&format!("{prefix}_BINDING_HOST"))
        .trim_end_matches('/')
        .to_string();
    let mut api_key = s.string(&format!("{prefix}_BINDING_API_KEY"));
    let mut api_version = String::new();
    let mut options = serde_json::Map::new();
    match binding {
        Binding::OpenAi => {
            if model.is_empty() {
                model = if llm {
                    "gpt-4o-mini"
                } else {
                    "text-embedding-3-small"
                }
                .into();
            }
            if host.is_empty() {
                host = "https://api.openai.com/v1".into();
            }
            if llm {
                options = s.options("OPENAI_LLM_");
            }
        }
        Binding::Ollama => {
            if model.is_empty() {
                model = if llm {
                    "mistral-nemo:latest"
                } else {
                    "bge-m3:latest"
                }
                .into();
            }
            if host.is_empty() {
                host = "http://localhost:11434".into();
            }
            options = s.options(if llm {
                "OLLAMA_LLM_"
            } else {
                "OLLAMA_EMBEDDING_"
            });
        }
        Binding::AzureOpenAi => {
            let deployment = s.string(if llm {
                "AZURE_OPENAI_DEPLOYMENT"
            } else {
                "AZURE_EMBEDDING_DEPLOYMENT"
            });
            if !deployment.is_empty() {
                model = deployment;
            }
            if host.is_empty() {
                host = s
                    .string("AZURE_OPENAI_ENDPOINT")
                    .trim_end_matches('/')
                    .to_string();
            }
            if api_key.is_empty() {
                api_key = s.string("AZURE_OPENAI_API_KEY");
            }
            api_version = s.string(if llm {
                "AZURE_OPENAI_API_VERSION"
            } else {
                "AZURE_EMBEDDING_API_VERSION"
            });
            if api_version.is_empty() {
                api_version = s.string("AZURE_OPENAI_API_VERSION");
            }
            if api_version.is_empty() {
                api_version = "2024-08-01-preview".into();
            }
            if model.is_empty() || host.is_empty() {
                return Err(ConfigError(format!(
                    "{name}=azure_openai needs a deployment ({prefix}_MODEL or {}) and an endpoint \
                     ({prefix}_BINDING_HOST or AZURE_OPENAI_ENDPOINT)",
                    if llm {
                        "AZURE_OPENAI_DEPLOYMENT"
                    } else {
                        "AZURE_EMBEDDING_DEPLOYMENT"
                    }
                )));
            }
            if llm {
                options = s.options("OPENAI_LLM_");
            }
        }
        Binding::Offline => {}
    }
    if binding != Binding::Offline && !(host.starts_with("http://") || host.starts_with("https://"))
    {
        return Err(ConfigError(format!(
            "invalid {prefix}_BINDING_HOST={host:?}: expected an http:// or https:// URL"
        )));
    }
    Ok(ModelConfig {
        binding,
        model,
        host,
        api_key,
        api_version,
        options,
    })
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

/// A configured reranker.
#[derive(Clone)]
pub struct RerankConfig {
    /// `cohere`, `jina` or `aliyun`.
    pub binding: String,
    pub model: String,
    /// The full endpoint URL.
    pub url: String,
    /// Never logged.
    pub api_key: String,
}

impl fmt::Debug for RerankConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RerankConfig")
            .field("binding", &self.binding)
            .field("model", &self.model)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `RERANK_BINDING` and friends; `None` when no reranker is configured.
fn rerank_config(s: &Sources) -> Result<Option<RerankConfig>, ConfigError> {
    let binding = s.string("RERANK_BINDING").to_ascii_lowercase();
    if binding.is_empty() || binding == "null" || binding == "none" {
        return Ok(None);
    }
    let (default_url, default_model) = match binding.as_str() {
        "cohere" => ("https://api.cohere.com/v2/rerank", "rerank-v3.5"),
        "jina" => (
            "https://api.jina.ai/v1/rerank",
            "jina-reranker-v2-base-multilingual",
        ),
        "aliyun" => (
            "https://dashscope.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank",
            "gte-rerank-v2",
        ),
        other => {
            return Err(ConfigError(format!(
                "invalid RERANK_BINDING={other:?}: expected cohere, jina or aliyun"
            )));
        }
    };
    let url = match s.string("RERANK_BINDING_HOST") {
        url if url.is_empty() => default_url.to_string(),
        url => url,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError(format!(
            "invalid RERANK_BINDING_HOST={url:?}: expected an http:// or https:// URL"
        )));
    }
    let model = match s.string("RERANK_MODEL") {
        m if m.is_empty() => default_model.to_string(),
        m => m,
    };
    Ok(Some(RerankConfig {
        binding,
        model,
        url,
        api_key: s.string("RERANK_BINDING_API_KEY"),
    }))
}

/// A role's model (`<ROLE>_LLM_BINDING`, `_MODEL`, `_BINDING_HOST`, `_BINDING_API_KEY`),
/// inheriting every unset field from the base LLM when the binding is the same. A
/// role on another binding must name its model (LightRAG's rule).
fn role_config(
    s: &Sources,
    role: &str,
    base: &ModelConfig,
) -> Result<Option<ModelConfig>, ConfigError> {
    let get = |field: &str| s.string(&format!("{role}_LLM_{field}"));
    let (binding, model, host, key) = (
        get("BINDING"),
        get("MODEL"),
        get("BINDING_HOST"),
        get("BINDING_API_KEY"),
    );
    if binding.is_empty() && model.is_empty() && host.is_empty() && key.is_empty() {
        return Ok(None);
    }
    let binding = match binding.to_ascii_lowercase().as_str() {
        "" => base.binding,
        "openai" => Binding::OpenAi,
        "ollama" => Binding::Ollama,
        "azure_openai" => Binding::AzureOpenAi,
        "offline" => Binding::Offline,
        other => {
            return Err(ConfigError(format!(
                "invalid {role}_LLM_BINDING={other:?}: expected openai, ollama, azure_openai or offline"
            )));
        }
    };
    let same = binding == base.binding;
    if !same && binding != Binding::Offline && model.is_empty() {
        return Err(ConfigError(format!(
            "{role}_LLM_BINDING differs from LLM_BINDING, so {role}_LLM_MODEL must be set"
        )));
    }
    let inherit = |own: String, base: &str| {
        if own.is_empty() && same {
            base.to_string()
        } else {
            own
        }
    };
    let mut config = ModelConfig {
        binding,
        model: inherit(model, &base.model),
        host: inherit(host, &base.host).trim_end_matches('/').to_string(),
        api_key: inherit(key, &base.api_key),
        api_version: if same {
            base.api_version.clone()
        } else {
            "2024-08-01-preview".into()
        },
        options: if same {
            base.options.clone()
        } else {
            serde_json::Map::new()
        },
    };
    if config.host.is_empty() {
        config.host = match binding {
            Binding::OpenAi => "https://api.openai.com/v1".into(),
            Binding::Ollama => "http://localhost:11434".into(),
            _ => String::new(),
        };
    }
    Ok(Some(config))
}

/// `--name value` / `--name=value` → `NAME`; `None` for `--help`.
fn parse_flags(args: &[String]) -> Result<Option<HashMap<String, String>>, ConfigError> {
    let mut flags = HashMap::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(None);
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(ConfigError(format!(
                "unexpected argument {arg:?}; settings are given as --name value (see --help)"
            )));
        };
        let (flag, value) = match flag.split_once('=') {
            Some((flag, value)) => (flag, value.to_string()),
            None => {
                let value = iter
                    .next()
                    .ok_or_else(|| ConfigError(format!("--{flag} needs a value (see --help)")))?;
                (flag, value.clone())
            }
        };
        let name = flag.replace('-', "_").to_ascii_uppercase();
        if !SETTINGS.iter().any(|s| s.name == name) {
            return Err(ConfigError(format!("unknown option --{flag} (see --help)")));
        }
        flags.insert(name, value);
    }
    Ok(Some(flags))
}

/// Reads `.env` without touching the process environment; a missing file is fine.
fn read_dotenv(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    match dotenvy::from_path_iter(path) {
        Ok(iter) => iter
            .map(|item| {
                item.map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))
            })
            .collect(),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(HashMap::new())
        }
        Err(e) => Err(ConfigError(format!("cannot read {}: {e}", path.display()))),
    }
}

fn absolute(path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    }
}

/// `--help`: every setting with its default.
pub fn help_text() -> String {
    let mut text = String::from(
        "lightrag-server: a multi-workspace LightRAG server.\n\n\
         Every setting is read from the environment (or ./.env) under its name, or from\n\
         a flag: --port 9000, --working-dir=/data.\n\n",
    );
    for s in SETTINGS {
        let flag = s.name.to_ascii_lowercase().replace('_', "-");
        let default = if s.default.is_empty() {
            "unset"
        } else {
            s.default
        };
        text.push_str(&format!("  --{flag:<34} {} [default: {default}]\n", s.help));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match Config::from_parts(&args, env, HashMap::new())? {
            Command::Serve(config) => Ok(*config),
            Command::Help(_) => panic!("unexpected help"),
        }
    }

    #[test]
    fn defaults_match_lightrag() {
        let c = config(&[], &[]).unwrap();
        assert_eq!(c.port, 9621);
        assert_eq!(c.max_workspaces, 50);
        assert_eq!(c.default_workspace, "default");
        assert_eq!(
            (c.chunk_size, c.chunk_overlap, c.top_k, c.chunk_top_k),
            (1200, 100, 40, 20)
        );
        assert_eq!(c.llm.binding, Binding::Offline);
        assert_eq!(c.embedding_dim, 384);
    }

    #[test]
    fn flags_beat_environment_and_workspace_falls_back() {
        let c = config(
            &["--port", "9000"],
            &[("PORT", "8000"), ("WORKSPACE", "team_a")],
        )
        .unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.default_workspace, "team_a");
        let c = config(
            &[],
            &[("LIGHTRAG_DEFAULT_WORKSPACE", "x"), ("WORKSPACE", "y")],
        )
        .unwrap();
        assert_eq!(c.default_workspace, "x");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = config(&[], &[("PORT", "nine")]).unwrap_err().0;
        assert!(err.contains("PORT") && err.contains("environment"), "{err}");
        let err = config(&["--max-async=0"], &[]).unwrap_err().0;
        assert!(
            err.contains("MAX_ASYNC") && err.contains("command line"),
            "{err}"
        );
        let err = config(&[], &[("WORKSPACE", "../etc")]).unwrap_err().0;
        assert!(err.contains("WORKSPACE"), "{err}");
        let err = config(&[], &[("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE", "maybe")])
            .unwrap_err()
            .0;
        assert!(err.contains("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE"), "{err}");
        let err = config(&[], &[("CHUNK_OVERLAP_SIZE", "1200")])
            .unwrap_err()
            .0;
        assert!(err.contains("CHUNK_OVERLAP_SIZE"), "{err}");
        assert!(config(&["--no-such-thing", "1"], &[]).is_err());
    }

    /// `env.example` documents every setting, with its default.
    #[test]
    fn env_example_lists_every_setting() {
        let example = include_str!("../../env.example");
        for setting in SETTINGS {
            let line = format!("# {}={}", setting.name, setting.default);
            assert!(
                example.lines().any(|l| l == line),
                "env.example lacks `{line}`"
            );
        }
    }

    #[test]
    fn openai_defaults_and_embedding_inherits_the_llm_host() {
        let c = config(
            &[],
            &[
                ("LLM_BINDING", "openai"),
                ("EMBEDDING_BINDING", "openai"),
                ("LLM_BINDING_HOST", "http://127.0.0.1:1/v1/"),
                ("LLM_BINDING_API_KEY", "k"),
            ],
        )
        .unwrap();
        assert_eq!(c.embedding.host, "http://127.0.0.1:1/v1");
        assert_eq!(c.embedding.api_key, "k");
        assert_eq!(c.embedding_dim, 1536);
        assert_eq!(c.llm.model, "gpt-4o-mini");
    }
}
