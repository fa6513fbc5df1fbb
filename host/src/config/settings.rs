//! The list of every setting: its environment name, default and help line. It is
//! what `--help` prints, what unknown flags are checked against, and where defaults
//! come from.

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
    "SSL", "false", "Serve HTTPS (with SSL_CERTFILE and SSL_KEYFILE).";
    "SSL_CERTFILE", "", "PEM certificate chain for HTTPS.";
    "SSL_KEYFILE", "", "PEM private key for HTTPS.";
    "AUTO_SCAN_AT_STARTUP", "false", "Scan the default workspace's input directory at start-up.";
    "WORKERS", "1", "LightRAG's worker processes: one process serves every workspace here (other values are ignored with a warning).";
    "VERBOSE", "false", "Log at DEBUG level (unless LOG_LEVEL or RUST_LOG says otherwise).";
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
    "LIGHTRAG_SHUTDOWN_GRACE_SECS", "25", "Seconds the whole shutdown may take: requests in flight get the first three quarters, finalizing every workspace the rest.";
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
    "MAX_ASYNC_LLM", "", "LightRAG's other name for MAX_ASYNC (wins if set).";
    "LIGHTRAG_WORKSPACE_MAX_ASYNC", "", "Most LLM requests one workspace may have in flight (unset: no cap).";
    "TIMEOUT", "240", "Seconds one LLM request may take (LLM_TIMEOUT wins if set).";
    "EMBEDDING_TIMEOUT", "30", "Seconds one embedding request may take.";
    "LIGHTRAG_MODEL_RETRY_ATTEMPTS", "9", "Attempts per model call on 429, timeouts and connection errors (5xx: at most 3), as LightRAG's clients make in effect.";
    "LIGHTRAG_MODEL_RETRY_BASE_MS", "4000", "First backoff before a retry; doubles each time, with jitter, at most 10 s.";
    "LLM_TIMEOUT", "", "Seconds one LLM request may take.";
    "EXTRACT_MAX_ASYNC_LLM", "", "Most extraction and summary calls in flight, server-wide (unset: only MAX_ASYNC).";
    "KEYWORD_MAX_ASYNC_LLM", "", "Most keyword calls in flight, server-wide (unset: only MAX_ASYNC).";
    "QUERY_MAX_ASYNC_LLM", "", "Most answer calls in flight, server-wide (unset: only MAX_ASYNC).";
    "EXTRACT_LLM_TIMEOUT", "", "Seconds one extraction or summary call may take (default: the LLM timeout).";
    "KEYWORD_LLM_TIMEOUT", "", "Seconds one keyword call may take (default: the LLM timeout).";
    "QUERY_LLM_TIMEOUT", "", "Seconds one answer call may take (default: the LLM timeout).";
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
    "MAX_SOURCE_IDS_PER_ENTITY", "200", "Chunk ids kept in an entity's source_id (the full list is kept for deletion).";
    "MAX_SOURCE_IDS_PER_RELATION", "200", "Chunk ids kept in a relation's source_id.";
    "SOURCE_IDS_LIMIT_METHOD", "KEEP", "Which ids and file names are kept past the limits: KEEP (oldest) or FIFO (newest).";
    "MAX_FILE_PATHS", "75", "File names kept in an entity's or relation's file_path, then a marker.";
    "LIGHTRAG_VECTOR_PRECISION", "int8", "Vectors in memory as 8-bit codes with exact re-ranking from disk (int8, a quarter of the memory), or exact (f32).";
    "RELATED_CHUNK_NUMBER", "5", "Chunks related to each entity or relation in a query.";
    "MAX_UPLOAD_SIZE", "104857600", "Largest accepted upload in bytes (0 = unlimited).";
    "MAX_REQUEST_BODY_BYTES", "1048576", "Largest request body of other routes (0 = unlimited; when set, text inserts too, else they get 50 MiB).";
    "CORS_ORIGINS", "*", "Origins browsers may call the API from: * (any, no credentials), a comma-separated list (with credentials), or empty (none).";
    "LIGHTRAG_TRUSTED_PROXIES", "", "Comma-separated proxy addresses whose X-Forwarded-For is believed (the login lockout counts per client).";
    "LIGHTRAG_KV_STORAGE", "JsonKVStorage", "LightRAG's storage choice: only the local-files value is accepted (data lives in WORKING_DIR/<workspace>).";
    "LIGHTRAG_VECTOR_STORAGE", "NanoVectorDBStorage", "As LIGHTRAG_KV_STORAGE.";
    "LIGHTRAG_GRAPH_STORAGE", "NetworkXStorage", "As LIGHTRAG_KV_STORAGE.";
    "LIGHTRAG_DOC_STATUS_STORAGE", "JsonDocStatusStorage", "As LIGHTRAG_KV_STORAGE.";
    "PDF_DECRYPT_PASSWORD", "", "Password tried on encrypted PDF uploads.";
    "MAX_TEXTS_PER_REQUEST", "0", "Most texts one /documents/texts request may carry (0 = unlimited; more: 413).";
    "MAX_PENDING_DOCUMENTS", "0", "Most documents a workspace may have waiting or in progress (0 = unlimited; more: 429).";
    "LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR.";
    "LIGHTRAG_API_KEY", "", "API key clients send in X-API-Key (no key: open access).";
    "WHITELIST_PATHS", "/health,/api/*", "Paths that need no credentials (`/x/*` matches /x and below).";
    "AUTH_ACCOUNTS", "", "Login accounts, user:password or user:{bcrypt}hash, comma-separated.";
    "TOKEN_SECRET", "", "Secret that signs login tokens (required with AUTH_ACCOUNTS).";
    "TOKEN_EXPIRE_HOURS", "48", "Lifetime of a login token.";
    "GUEST_TOKEN_EXPIRE_HOURS", "24", "Lifetime of a guest token.";
    "TOKEN_AUTO_RENEW", "true", "Send a fresh token in X-New-Token when a token nears its end.";
    "TOKEN_RENEW_THRESHOLD", "0.5", "Fraction of a token's lifetime left below which it is renewed.";
    "JWT_ALGORITHM", "HS256", "Token signature algorithm (only HS256).";
    "LOGIN_MAX_FAILED_ATTEMPTS", "5", "Failed logins per client and user before a lockout.";
    "LOGIN_LOCKOUT_WINDOW_SECONDS", "300", "Window of the failed-login count.";
    "LIGHTRAG_WORKSPACE_KEYS_FILE", "", "JSON file of per-workspace API keys (SHA-256) and account bindings.";
    "ENABLE_API_DOCS", "true", "Serve Swagger UI at /docs and the OpenAPI document at /openapi.json.";
    "WEBUI_TITLE", "", "Title of the web UI (/webui/), also reported by /auth-status and /login.";
    "WEBUI_DESCRIPTION", "", "Description reported by /auth-status and /login.";
    "LIGHTRAG_IMPORT_DIR", "", "Directory whose subdirectories (LightRAG workspace directories) the admin route POST /workspaces/{name}/import-lightrag may import; unset: the route refuses.";
    "LIGHTRAG_WEBUI_DIR", "", "Serve the web UI from this directory instead of the built-in copy (for working on the UI).";
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
