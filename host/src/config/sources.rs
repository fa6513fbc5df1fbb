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

/// LightRAG's own names for some flags.
const ALIASES: &[(&str, &str)] = &[("LIGHTRAG_API_KEY", "key")];

/// The command line, from the settings list: every setting is a flag (`PORT` →
/// `--port`), and one whose default is `true` or `false` is also a switch (`--ssl`
/// alone means `--ssl=true`), as LightRAG's are.
pub(super) fn command() -> clap::Command {
    let mut command = clap::Command::new("lightrag-server")
        .about("A multi-workspace LightRAG server")
        .disable_help_flag(true)
        .arg(
            clap::Arg::new("help")
                .long("help")
                .short('h')
                .action(clap::ArgAction::Help),
        );
    for setting in SETTINGS {
        let mut arg = clap::Arg::new(setting.name)
            .long(setting.name.to_ascii_lowercase().replace('_', "-"))
            .value_name("VALUE")
            .help(setting.help);
        if matches!(setting.default, "true" | "false") {
            arg = arg.num_args(0..=1).default_missing_value("true");
        }
        if let Some((_, alias)) = ALIASES.iter().find(|(name, _)| *name == setting.name) {
            arg = arg.alias(*alias);
        }
        command = command.arg(arg.global(true));
    }
    let file = |name: &'static str, help: &'static str| {
        clap::Arg::new(name)
            .long(name)
            .value_name("PATH")
            .help(help)
    };
    command
        .subcommand(
            clap::Command::new("export")
                .about("Write a workspace (--workspace NAME) to an archive, then exit")
                .arg(file("to", "The archive to write").required(true)),
        )
        .subcommand(
            clap::Command::new("import")
                .about("Turn an archive or a LightRAG directory into the empty workspace --workspace NAME")
                .arg(file("archive", "An archive written by `export`"))
                .arg(file("from", "A LightRAG workspace directory (kv_store_*.json, vdb_*.json, graphml)"))
                .arg(
                    clap::Arg::new("source-embedding-model")
                        .long("source-embedding-model")
                        .value_name("NAME")
                        .help("The embedding model the LightRAG directory's vectors were made with"),
                )
                .group(
                    clap::ArgGroup::new("source")
                        .args(["archive", "from"])
                        .required(true),
                ),
        )
}

/// What the command line asked for: settings by name, and the subcommand with its
/// own arguments, if any.
pub(super) struct Parsed {
    pub flags: HashMap<String, String>,
    pub subcommand: Option<(String, HashMap<String, String>)>,
}

/// The settings given as flags, by name, and the subcommand; `None` for `--help`.
pub(super) fn parse_flags(args: &[String]) -> Result<Option<Parsed>, ConfigError> {
    let argv = std::iter::once("lightrag-server".to_string()).chain(args.iter().cloned());
    let matches = match command().try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(err) if err.kind() == clap::error::ErrorKind::DisplayHelp => return Ok(None),
        Err(err) => {
            let text = err.render().to_string();
            return Err(ConfigError(
                text.trim().trim_start_matches("error: ").to_string(),
            ));
        }
    };
    let settings = |matches: &clap::ArgMatches| -> HashMap<String, String> {
        SETTINGS
            .iter()
            .filter_map(|s| {
                let value = matches.get_one::<String>(s.name)?;
                Some((s.name.to_string(), value.clone()))
            })
            .collect()
    };
    let mut flags = settings(&matches);
    let subcommand = matches.subcommand().map(|(name, sub)| {
        // Settings are global: given after the subcommand, they land in its matches.
        flags.extend(settings(sub));
        let own = ["to", "archive", "from", "source-embedding-model"]
            .iter()
            .filter_map(|arg| {
                let value = sub.try_get_one::<String>(arg).ok().flatten()?;
                Some((arg.to_string(), value.clone()))
            })
            .collect();
        (name.to_string(), own)
    });
    Ok(Some(Parsed { flags, subcommand }))
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
