//! The config file (`--config`, `PARTNERHUB_CONFIG`): one flat TOML table whose keys are the long
//! names of the flags that also have an environment variable, e.g.
//!
//! ```toml
//! data-dir = "/var/lib/partnerhub"
//! request-timeout = 30
//! log-format = "json"
//! ```
//!
//! The layers, lowest first: each flag's built-in default, the config file, its environment
//! variable, the flag. clap reads the last two and the defaults; figment puts the file between
//! them and types the result. A key that no subcommand knows is an error; a key only other
//! subcommands know is ignored (one file can serve `dev`, `serve` and `migrate`).

use clap::ArgMatches;
use clap::parser::ValueSource;
use figment::Figment;
use figment::providers::Serialized;
use figment::value::{Dict, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The largest config file read (a real one is a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The id of the `--config` argument.
const CONFIG: &str = "config";

/// Why the command line and config file gave no settings.
#[derive(Debug)]
pub enum Error {
    /// Help, version, or a usage error: clap prints it and picks the exit code.
    Usage(clap::Error),
    /// What is wrong with the config file, in one line.
    File(String),
}

/// A config file's settings.
pub struct File {
    path: PathBuf,
    table: toml::Table,
}

impl File {
    /// Reads the file at `path`, whose keys must be settings of `command` or its subcommands.
    pub fn read(path: &Path, command: &clap::Command) -> Result<File, Error> {
        let table = read(path)?;
        let mut names = BTreeSet::new();
        known(command, &mut names);
        for (key, value) in &table {
            let problem = if names.contains(key) {
                match value {
                    toml::Value::Table(_) => "a table; the config file is one flat table of \
                                              settings, with no [sections]"
                        .to_string(),
                    _ => continue,
                }
            } else {
                let hint = match key.replace('_', "-") {
                    dashed if dashed != *key && names.contains(&dashed) => {
                        format!("; did you mean \"{dashed}\"?")
                    }
                    _ if key == CONFIG => "; a config file can't name another".to_string(),
                    _ => "; the settings are the long names of the flags that have an \
                          environment variable (see partnerhub --help)"
                        .to_string(),
                };
                format!("unknown setting \"{key}\"{hint}")
            };
            return Err(Error::File(format!(
                "config file {}: {problem}",
                path.display()
            )));
        }
        Ok(File {
            path: path.to_path_buf(),
            table,
        })
    }

    /// `parsed`, clap's reading of the command line, the environment and the defaults of one
    /// command level (`matches`), with the file's settings in place of the defaults.
    pub fn layer<T: Serialize + DeserializeOwned>(
        &self,
        parsed: T,
        matches: &ArgMatches,
    ) -> Result<T, Error> {
        let all = match Value::serialize(&parsed) {
            Ok(Value::Dict(_, all)) => all,
            // Settings are structs: nothing else to layer.
            _ => return Ok(parsed),
        };
        // Keys are the long flag names, ids the field names.
        let (given, defaults): (Dict, Dict) = all.into_iter().partition(|(key, _)| {
            matches!(
                matches.value_source(&key.replace('-', "_")),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        });
        Figment::from(Serialized::defaults(defaults))
            .merge(Serialized::defaults(&self.table))
            .merge(Serialized::defaults(given))
            // As on the command line, `request-timeout = "30"` is 30.
            .extract_lossy()
            .map_err(|e| self.explain(&e))
    }

    /// What is wrong with a setting, in one line, without a password it may hold.
    fn explain(&self, error: &figment::Error) -> Error {
        let key = error.path.join(".");
        let shown = self
            .table
            .get(&key)
            .map(|value| match value {
                toml::Value::String(s) => partnerhub_kit::store::redact(s),
                other => other.to_string(),
            })
            .map(|value| format!(" = \"{value}\""))
            .unwrap_or_default();
        let why = match &error.kind {
            figment::error::Kind::UnknownVariant(_, expected) => {
                format!("must be one of {}", expected.join(", "))
            }
            // Not what was found: the value is shown above, redacted.
            figment::error::Kind::InvalidType(_, expected) => format!("expected {expected}"),
            other => one_line(&other.to_string()),
        };
        Error::File(format!(
            "config file {}: setting \"{key}\"{shown}: {why}",
            self.path.display()
        ))
    }
}

fn read(path: &Path) -> Result<toml::Table, Error> {
    let shown = path.display();
    let cant =
        |e: &dyn std::fmt::Display| Error::File(format!("can't read the config file {shown}: {e}"));
    // A regular file of reasonable size: not a device or a pipe that never ends.
    let meta = std::fs::metadata(path).map_err(|e| cant(&e))?;
    if !meta.is_file() {
        return Err(cant(&"not a regular file"));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(cant(&format!("larger than {MAX_CONFIG_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| cant(&e))?;
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        // Only the message: the error's own display quotes the line, which may hold a password.
        let message = one_line(e.message());
        Error::File(match line {
            Some(line) => format!("config file {shown}, line {line}: {message}"),
            None => format!("config file {shown}: {message}"),
        })
    })
}

/// The long names of the flags of `command` and all its subcommands that can be set in the
/// config file: named options with an environment variable (so the three ways to set one always
/// agree), other than `--config` itself.
fn known(command: &clap::Command, names: &mut BTreeSet<String>) {
    for arg in command.get_arguments() {
        if let Some(long) = arg.get_long()
            && arg.get_env().is_some()
            && arg.get_id() != CONFIG
            && !arg.is_positional()
        {
            names.insert(long.to_string());
        }
    }
    for sub in command.get_subcommands() {
        known(sub, names);
    }
}

/// `text` with its lines joined, for a one-line message.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
    use serde::Deserialize;

    #[derive(Parser)]
    struct Cli {
        #[arg(long, global = true, env = "T_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        shared: Shared,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Args, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Shared {
        #[arg(long, global = true, env = "T_NAME", default_value = "default")]
        name: String,
    }

    #[derive(Subcommand)]
    enum Sub {
        One(One),
        Two(Two),
    }

    #[derive(Args, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct One {
        #[arg(long, env = "T_PORT")]
        port: Option<u16>,
    }

    #[derive(Args, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Two {
        #[arg(long, env = "T_OTHER")]
        other: Option<String>,
    }

    /// The shared name and `one`'s port, as the file and `args` set them.
    fn parse(file: &str, args: &[&str]) -> Result<(String, Option<u16>), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, file).unwrap();
        let mut all = vec!["t"];
        all.extend(args);
        let matches = Cli::command().try_get_matches_from(all).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let message = |e: Error| match e {
            Error::Usage(e) => e.to_string(),
            Error::File(message) => message,
        };
        let file = File::read(&path, &Cli::command()).map_err(message)?;
        let shared = file.layer(cli.shared, &matches).map_err(message)?;
        let port = match cli.command {
            Sub::One(one) => {
                let (_, sub) = matches.subcommand().unwrap();
                file.layer(one, sub).map_err(message)?.port
            }
            Sub::Two(two) => {
                file.layer(two, matches.subcommand().unwrap().1)
                    .map_err(message)?;
                None
            }
        };
        Ok((shared.name, port))
    }

    #[test]
    fn the_file_fills_in_what_the_command_line_leaves_to_defaults() {
        assert_eq!(
            parse("name = \"n\"\nport = 8080\nother = \"x\"\n", &["one"]).unwrap(),
            ("n".to_string(), Some(8080))
        );
        assert_eq!(
            parse("port = \"8080\"\n", &["one"]).unwrap(),
            ("default".to_string(), Some(8080))
        );
    }

    #[test]
    fn the_command_line_wins() {
        assert_eq!(
            parse("name = \"file\"\nport = 1\n", &["one", "--name", "flag"]).unwrap(),
            ("flag".to_string(), Some(1))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("port = 99999\n", &["one"]).unwrap_err();
        assert!(e.contains("setting \"port\" = \"99999\""), "{e}");
        let e = parse("port = \"postgres://u:secret@h/x\"\n", &["one"]).unwrap_err();
        assert!(e.contains("\"port\"") && !e.contains("secret"), "{e}");
        let e = parse("nope = 1\n", &["two"]).unwrap_err();
        assert!(e.contains("unknown setting \"nope\""), "{e}");
        let e = parse("port = { a = 1 }\n", &["one"]).unwrap_err();
        assert!(e.contains("one flat table"), "{e}");
        // Another subcommand's setting, even a wrong one, is not this one's business.
        assert!(parse("port = \"x\"\n", &["two"]).is_ok());
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n  b\r\nc "), "a b c");
    }
}
