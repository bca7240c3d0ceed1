//! The config file (`--config`, `PARTNERHUB_CONFIG`): one flat TOML table whose keys are the long
//! names of the flags that also have an environment variable, e.g.
//!
//! ```toml
//! data-dir = "/var/lib/partnerhub"
//! request-timeout = 30
//! log-format = "json"
//! ```
//!
//! A value from the file takes the place of the flag's built-in default, so clap itself keeps the
//! order: command-line flag, then environment variable, then config file, then default. A key
//! that no subcommand knows is an error; a key only other subcommands know is ignored (one file
//! can serve `dev`, `serve` and `migrate`).

use clap::error::{ContextKind, ContextValue};
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The largest config file read (a real one is a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The id of the `--config` argument.
pub const CONFIG: &str = "config";

/// Why the command line and config file gave no settings.
#[derive(Debug)]
pub enum Error {
    /// Help, version, or a usage error: clap prints it and picks the exit code.
    Usage(clap::Error),
    /// What is wrong with the config file, in one line.
    File(String),
}

/// Parses `args` with `command`, with the config file (if `--config` or its environment variable
/// names one) filling in what neither the command line nor the environment set.
pub fn matches(command: Command, args: &[OsString]) -> Result<ArgMatches, Error> {
    let first = command
        .clone()
        .try_get_matches_from(args)
        .map_err(Error::Usage)?;
    let Some(path) = config_path(&first) else {
        return Ok(first);
    };
    let table = read(&path)?;
    let mut command = command;
    for (key, value) in &table {
        command = apply(command, &first, key, value)
            .map_err(|e| Error::File(format!("config file {}: {e}", path.display())))?;
    }
    command.try_get_matches_from(args).map_err(Error::Usage)
}

/// The config file named on the command line or in the environment, at any level.
fn config_path(matches: &ArgMatches) -> Option<PathBuf> {
    let mut level = Some(matches);
    let mut found = None;
    while let Some(m) = level {
        if let Ok(Some(path)) = m.try_get_one::<PathBuf>(CONFIG) {
            found = Some(path.clone());
        }
        level = m.subcommand().map(|(_, sub)| sub);
    }
    found
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

/// Whether a flag can be set in the config file: a named option or switch with an environment
/// variable (so the three ways to set it always agree), other than `--config` itself.
fn settable(arg: &Arg) -> bool {
    arg.get_long().is_some()
        && arg.get_env().is_some()
        && arg.get_id() != CONFIG
        && !arg.is_positional()
}

/// The long names of the settable flags of `command` and all its subcommands.
fn known(command: &Command, names: &mut BTreeSet<String>) {
    for arg in command.get_arguments().filter(|a| settable(a)) {
        if let Some(long) = arg.get_long() {
            names.insert(long.to_string());
        }
    }
    for sub in command.get_subcommands() {
        known(sub, names);
    }
}

fn find<'a>(command: &'a Command, key: &str) -> Option<&'a Arg> {
    command
        .get_arguments()
        .find(|a| settable(a) && a.get_long() == Some(key))
}

/// Makes `value` the default of the flag `key` where the chosen subcommand has it.
fn apply(
    command: Command,
    matches: &ArgMatches,
    key: &str,
    value: &toml::Value,
) -> Result<Command, String> {
    // The chosen subcommands, outermost first.
    let mut path = Vec::new();
    let mut level = matches;
    while let Some((name, sub)) = level.subcommand() {
        path.push(name.to_string());
        level = sub;
    }
    let mut chain = vec![&command];
    for name in &path {
        match chain.last().and_then(|c| c.find_subcommand(name)) {
            Some(sub) => chain.push(sub),
            None => break,
        }
    }
    // The innermost command that has the flag (a global one is found at the top).
    let Some((depth, arg)) = chain
        .iter()
        .enumerate()
        .rev()
        .find_map(|(depth, c)| find(c, key).map(|arg| (depth, arg)))
    else {
        let mut names = BTreeSet::new();
        known(&command, &mut names);
        if names.contains(key) {
            return Ok(command); // Another subcommand's setting.
        }
        let hint = match key.replace('_', "-") {
            dashed if dashed != key && names.contains(&dashed) => {
                format!("; did you mean \"{dashed}\"?")
            }
            _ if key == CONFIG => "; a config file can't name another".to_string(),
            _ => "; the settings are the long names of the flags that have an environment \
                  variable (see partnerhub --help)"
                .to_string(),
        };
        return Err(format!("unknown setting \"{key}\"{hint}"));
    };
    let values = strings(value).map_err(|e| format!("setting \"{key}\": {e}"))?;
    let many = matches!(arg.get_action(), ArgAction::Append)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    if values.len() != 1 && !many {
        return Err(format!("setting \"{key}\" takes one value, not a list"));
    }
    for v in &values {
        check(arg, v).map_err(|e| {
            let shown = partnerhub_kit::store::redact(v);
            format!("setting \"{key}\" = \"{shown}\": {e}")
        })?;
    }
    // Parsed once per run: leaking the few values is simpler than owning them in the command.
    let values: Vec<&'static str> = values
        .into_iter()
        .map(|v| &*Box::leak(v.into_boxed_str()))
        .collect();
    let id = arg.get_id().clone();
    Ok(set_default(command, &path[..depth], id.as_str(), values))
}

/// Whether `arg` accepts `value`, by its own value parser.
fn check(arg: &Arg, value: &str) -> Result<(), String> {
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return match value {
            "true" | "false" => Ok(()),
            _ => Err("must be true or false".into()),
        };
    }
    let long = arg.get_long().unwrap_or_default();
    let alone = arg
        .clone()
        .global(false)
        .required(false)
        .env(None)
        .default_values(Vec::<&str>::new());
    Command::new("partnerhub")
        .no_binary_name(true)
        .arg(alone)
        .try_get_matches_from([OsString::from(format!("--{long}={value}"))])
        .map(|_| ())
        .map_err(|e| reason(&e))
}

fn set_default(command: Command, path: &[String], id: &str, values: Vec<&'static str>) -> Command {
    match path.split_first() {
        None => command.mut_arg(id, |a| a.default_values(values)),
        Some((name, rest)) => {
            command.mut_subcommand(name, |sub| set_default(sub, rest, id, values))
        }
    }
}

/// A TOML value as the command-line words it stands for.
fn strings(value: &toml::Value) -> Result<Vec<String>, String> {
    match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        toml::Value::Array(_) => Err("a list inside a list".into()),
        toml::Value::Table(_) => {
            Err("a table; the config file is one flat table of settings, with no [sections]".into())
        }
    }
}

/// Why clap refused a value, without its usage text.
fn reason(error: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(error) {
        return one_line(&source.to_string());
    }
    if let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue) {
        return format!("must be one of {}", valid.join(", "));
    }
    let text = error.to_string();
    let first = text.lines().next().unwrap_or_default();
    one_line(first.trim_start_matches("error: "))
}

/// `text` with its lines joined, for a one-line message.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    fn command() -> Command {
        Command::new("t")
            .arg(
                Arg::new(CONFIG)
                    .long("config")
                    .global(true)
                    .env("T_CONFIG")
                    .value_parser(clap::value_parser!(PathBuf)),
            )
            .arg(Arg::new("name").long("name").global(true).env("T_NAME"))
            .subcommand(
                Command::new("one")
                    .arg(
                        Arg::new("tag")
                            .long("tag")
                            .env("T_TAG")
                            .action(ArgAction::Append),
                    )
                    .arg(
                        Arg::new("quiet")
                            .long("quiet")
                            .env("T_QUIET")
                            .action(ArgAction::SetTrue),
                    )
                    .arg(
                        Arg::new("port")
                            .long("port")
                            .env("T_PORT")
                            .value_parser(clap::value_parser!(u16)),
                    ),
            )
            .subcommand(Command::new("two").arg(Arg::new("other").long("other").env("T_OTHER")))
    }

    fn parse(file: &str, args: &[&str]) -> Result<ArgMatches, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, file).unwrap();
        let mut all: Vec<OsString> = vec!["t".into(), "--config".into(), path.into()];
        all.extend(args.iter().map(OsString::from));
        matches(command(), &all).map_err(|e| match e {
            Error::Usage(e) => e.to_string(),
            Error::File(message) => message,
        })
    }

    #[test]
    fn values_of_every_toml_kind_reach_the_chosen_subcommand() {
        let m = parse(
            "name = \"n\"\ntag = [\"a\", \"b\"]\nquiet = true\nport = 8080\nother = \"x\"\n",
            &["one"],
        )
        .unwrap();
        assert_eq!(m.get_one::<String>("name").map(String::as_str), Some("n"));
        let (_, one) = m.subcommand().unwrap();
        let tags: Vec<&String> = one.get_many("tag").unwrap().collect();
        assert_eq!(tags, ["a", "b"]);
        assert!(one.get_flag("quiet"));
        assert_eq!(one.get_one::<u16>("port"), Some(&8080));
    }

    #[test]
    fn the_command_line_wins() {
        let m = parse("name = \"file\"\nport = 1\n", &["one", "--name", "flag"]).unwrap();
        let (_, one) = m.subcommand().unwrap();
        assert_eq!(one.get_one::<String>("name").unwrap(), "flag");
        assert_eq!(one.get_one::<u16>("port"), Some(&1));
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("port = 99999\n", &["one"]).unwrap_err();
        assert!(e.contains("setting \"port\" = \"99999\""), "{e}");
        let e = parse("quiet = \"yes\"\n", &["one"]).unwrap_err();
        assert!(e.contains("must be true or false"), "{e}");
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
