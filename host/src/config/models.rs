//! Model endpoints: the LLM and embedding bindings, role-specific models and the
//! reranker, each read with LightRAG's names and defaults.

use super::ConfigError;
use super::sources::Sources;
use std::fmt;
use std::time::Duration;

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

/// What to do instead of a binding LightRAG has and we do not: every one of them can
/// be reached through an OpenAI-compatible endpoint.
fn unsupported_binding_hint(binding: &str) -> Option<&'static str> {
    Some(match binding {
        "gemini" => {
            "Gemini is served here through its OpenAI-compatible endpoint: set the binding \
             to openai and its host to https://generativelanguage.googleapis.com/v1beta/openai"
        }
        "bedrock" | "aws_bedrock" => {
            "Bedrock is served here through an OpenAI-compatible gateway (e.g. Bedrock \
             Access Gateway or LiteLLM): set the binding to openai and its host to the gateway"
        }
        "lollms" => "use lollms' OpenAI-compatible API with the binding openai",
        "openai-ollama" => {
            "set LLM_BINDING=openai and EMBEDDING_BINDING=ollama, which is what it means"
        }
        "jina" => "use Jina's OpenAI-compatible embeddings API with the binding openai",
        _ => return None,
    })
}

/// Reads `<PREFIX>_BINDING`, `_MODEL`, `_BINDING_HOST`, `_BINDING_API_KEY`, with each
/// binding's defaults (LightRAG's) and options.
pub(super) fn model_config(s: &Sources, prefix: &str) -> Result<ModelConfig, ConfigError> {
    let name = format!("{prefix}_BINDING");
    let (raw, origin) = s.raw(&name);
    let binding = match raw.trim().to_ascii_lowercase().as_str() {
        "openai" => Binding::OpenAi,
        "ollama" => Binding::Ollama,
        "azure_openai" => Binding::AzureOpenAi,
        "offline" | "" => Binding::Offline,
        other => {
            let instead = unsupported_binding_hint(other)
                .map(|hint| format!("; {hint}"))
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "invalid {name}={raw:?} (from {origin}): expected openai, ollama, azure_openai or offline{instead}"
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
pub(super) fn rerank_config(s: &Sources) -> Result<Option<RerankConfig>, ConfigError> {
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
pub(super) fn role_config(
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

/// A role's own limits; unset ones follow the server-wide settings.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RoleLimit {
    /// `{ROLE}_MAX_ASYNC_LLM`: calls of this role in flight at once, server-wide.
    pub max_async: Option<usize>,
    /// `{ROLE}_LLM_TIMEOUT`.
    pub timeout: Option<Duration>,
}

impl RoleLimit {
    pub(super) fn read(s: &Sources, role: &str) -> Result<RoleLimit, ConfigError> {
        let max_async = format!("{role}_MAX_ASYNC_LLM");
        let timeout = format!("{role}_LLM_TIMEOUT");
        Ok(RoleLimit {
            max_async: match s.string(&max_async) {
                v if v.is_empty() => None,
                _ => Some(s.positive(&max_async, "a positive number")?),
            },
            timeout: match s.string(&timeout) {
                v if v.is_empty() => None,
                _ => Some(s.seconds(&timeout)?),
            },
        })
    }
}
