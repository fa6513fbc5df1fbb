//! Where setting values come from: command-line flags, the environment and `.env`,
//! in that order of precedence, each value remembering its origin for error messages.

use super::ConfigError;
use super::settings::SETTINGS;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
pub(super) enum Origin {
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
pub(super) struct Sources {
    pub(super) flags: HashMap<String, String>,
    pub(super) env: HashMap<String, String>,
    pub(super) dotenv: HashMap<String, String>,
}

impl Sources {
    pub(super) fn get(&self, name: &str) -> Option<(String, Origin)> {
        if let Some(v) = self.flags.get(name) {
            return Some((v.clone(), Origin::Flag));
        }
        if let Some(v) = self.env.get(name) {
            return Some((v.clone(), Origin::Env));
        }
        self.dotenv.get(name).map(|v| (v.clone(), Origin::DotEnv))
    }

    /// The value of `name`, or its documented default.
    pub(super) fn raw(&self, name: &str) -> (String, Origin) {
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
    pub(super) fn options(&self, prefix: &str) -> serde_json::Map<String, serde_json::Value> {
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

    pub(super) fn string(&self, name: &str) -> String {
        self.raw(name).0.trim().to_string()
    }

    pub(super) fn parse<T: FromStr>(&self, name: &str, expected: &str) -> Result<T, ConfigError> {
        let (value, origin) = self.raw(name);
        value.trim().parse().map_err(|_| {
            ConfigError(format!(
                "invalid {name}={value:?} (from {origin}): expected {expected}"
            ))
        })
    }

    pub(super) fn positive<T: FromStr + PartialOrd + Default>(
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

    /// A positive, finite number of seconds (fractions allowed).
    pub(super) fn seconds(&self, name: &str) -> Result<Duration, ConfigError> {
        let value: f64 = self.positive(name, "a positive number of seconds")?;
        Duration::try_from_secs_f64(value).map_err(|_| {
            let (raw, origin) = self.raw(name);
            ConfigError(format!(
                "invalid {name}={raw:?} (from {origin}): expected a positive number of seconds"
            ))
        })
    }

    pub(super) fn boolean(&self, name: &str) -> Result<bool, ConfigError> {
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

/// `--name value` / `--name=value` → `NAME`; `None` for `--help`.
pub(super) fn parse_flags(args: &[String]) -> Result<Option<HashMap<String, String>>, ConfigError> {
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
pub(super) fn read_dotenv(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
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

pub(super) fn absolute(path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    }
}
