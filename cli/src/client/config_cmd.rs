//! `btbt config`: the original ccbt's names. `get`, `show` read the running
//! daemon (or, with none, the files and the environment, and say so); `set` and
//! `unset` change a running daemon's live keys; `describe`, `schema` and `check`
//! need no daemon; `diff` compares two files, or one file with the effective
//! config.

use std::path::{Path, PathBuf};

use ccbt_daemon::api_types::{ConfigEntry, ConfigPatch, ConfigView};
use ccbt_daemon::daemon_config::effective::value_text;
use ccbt_daemon::daemon_config::sources::load;
use ccbt_daemon::daemon_config::DaemonConfig;
use ccbt_engine::config_model::{all_keys, find_key, json_schema, markdown_reference, nearest_key, Provenance};
use clap::{Args, Subcommand, ValueEnum};

use super::api_client::{ApiClient, Method};
use super::args::ApiOptions;
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// Where the config is read from when no daemon answers.
#[derive(Args, Debug, Clone, Default)]
pub struct LocalConfig {
    /// Read this file instead of ./ccbt.toml, $XDG_CONFIG_HOME/ccbt/ccbt.toml, ~/.ccbt.toml
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Read the files even if a daemon runs
    #[arg(long)]
    pub local: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// One effective value by dotted path (`limits.download`)
    Get {
        key: String,
        #[command(flatten)]
        local: LocalConfig,
    },
    /// Change a live key of the running daemon (kept in its state dir as a
    /// runtime override, never written into your file)
    Set {
        key: String,
        /// As in the file, without TOML quotes: `10M`, `2h`, `unlimited`, `a:1,b:2`
        #[arg(allow_hyphen_values = true, allow_negative_numbers = true)]
        value: String,
    },
    /// Drop a runtime override: the key goes back to the file, env or default
    Unset { key: String },
    /// The effective config: every key and value (with --sources, where each came from)
    Show {
        #[arg(long)]
        sources: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        local: LocalConfig,
    },
    /// Every key: type, default, environment variable, live or restart
    Describe {
        #[arg(short = 'f', long, value_enum, default_value_t = DescribeFormat::Table)]
        format: DescribeFormat,
    },
    /// The JSON schema of the config file
    Schema,
    /// Compare two config files, or one with the effective config
    Diff {
        a: PathBuf,
        b: Option<PathBuf>,
        #[command(flatten)]
        local: LocalConfig,
    },
    /// Check a config file without a daemon (exit 0 if good, 2 if not)
    Check { file: PathBuf },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DescribeFormat {
    Table,
    Json,
    Markdown,
}

pub fn run_config_command(args: ConfigArgs, api: &ApiOptions) -> Result<i32, CliError> {
    match args.command {
        ConfigCommand::Get { key, local } => {
            known_key(&key)?;
            let view = effective(api, &local)?;
            let entry = view
                .entries
                .iter()
                .find(|e| e.key == key)
                .ok_or_else(|| unknown(&key))?;
            println!("{}", value_text(&entry.value));
            Ok(0)
        }
        ConfigCommand::Set { key, value } => patch(api, &key, Some(value)),
        ConfigCommand::Unset { key } => patch(api, &key, None),
        ConfigCommand::Show { sources, json, local } => {
            let view = effective(api, &local)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view).unwrap_or_default());
            } else {
                print!("{}", render_show(&view, sources));
            }
            Ok(0)
        }
        ConfigCommand::Describe { format } => {
            print!("{}", describe(format));
            Ok(0)
        }
        ConfigCommand::Schema => {
            println!("{}", serde_json::to_string_pretty(&json_schema()).unwrap_or_default());
            Ok(0)
        }
        ConfigCommand::Diff { a, b, local } => {
            let left = file_values(&a)?;
            let (right, right_name) = match &b {
                Some(b) => (file_values(b)?, b.display().to_string()),
                None => {
                    let view = effective(api, &local)?;
                    let values = view.entries.into_iter().map(|e| (e.key, e.value)).collect();
                    (values, "the effective config".to_string())
                }
            };
            let lines = diff_lines(&left, &right);
            if lines.is_empty() {
                println!("no difference between {} and {right_name}", a.display());
                return Ok(0);
            }
            println!("--- {}\n+++ {right_name}", a.display());
            for line in lines {
                println!("{line}");
            }
            // As diff(1): 1 when they differ.
            Ok(1)
        }
        ConfigCommand::Check { file } => {
            DaemonConfig::from_file(&file).map_err(|e| CliError::Config(e.to_string()))?;
            println!("{}: ok", file.display());
            Ok(0)
        }
    }
}

fn unknown(key: &str) -> CliError {
    let hint = nearest_key(key).map_or(String::new(), |k| format!("; did you mean `{k}`?"));
    CliError::Config(format!("unknown key `{key}`{hint} (`btbt config describe` lists them)"))
}

fn known_key(key: &str) -> Result<(), CliError> {
    find_key(key).map(|_| ()).ok_or_else(|| unknown(key))
}

fn patch(api: &ApiOptions, key: &str, value: Option<String>) -> Result<i32, CliError> {
    known_key(key)?;
    let client = ApiClient::new(api.endpoint()?);
    let body = ConfigPatch {
        key: key.to_string(),
        value,
    };
    let view: ConfigView = client.send(Method::Patch, "/config", Some(&body))?;
    if let Some(entry) = view.entries.iter().find(|e| e.key == key) {
        println!("{key} = {} ({})", value_text(&entry.value), entry.source);
    }
    Ok(0)
}

/// The running daemon's config; with none (or `--local`), the files and the
/// environment, said on stderr.
fn effective(api: &ApiOptions, local: &LocalConfig) -> Result<ConfigView, CliError> {
    if !local.local && local.file.is_none() {
        let client = ApiClient::new(api.endpoint()?);
        match client.health() {
            Ok(()) => {
                eprintln!("btbt: the running daemon's config ({})", client.endpoint().base_url);
                return client.get("/config");
            }
            Err(CliError::DaemonUnreachable { .. }) => {
                eprintln!(
                    "btbt: no daemon at {}; the config from the files and the environment",
                    client.endpoint().base_url
                );
            }
            Err(e) => return Err(e),
        }
    }
    let inputs = crate::daemon_start::config_inputs(local.file.as_deref(), Vec::new())?;
    let loaded = load(&inputs).map_err(|e| CliError::Config(e.to_string()))?;
    Ok(view_of(&loaded.config, &loaded.provenance, inputs.file.as_deref()))
}

fn view_of(config: &DaemonConfig, provenance: &Provenance, file: Option<&Path>) -> ConfigView {
    ConfigView {
        file: file.map(|f| f.display().to_string()),
        entries: config
            .effective_values()
            .into_iter()
            .map(|(key, value)| ConfigEntry {
                key: key.to_string(),
                value,
                source: provenance.source_of(key).to_string(),
                reload: find_key(key).map_or("restart", |k| k.reload.as_str()).to_string(),
            })
            .collect(),
        needs_restart: Vec::new(),
    }
}

/// One line a key: `key = value`, and its source with `--sources`.
pub fn render_show(view: &ConfigView, sources: bool) -> String {
    let mut out = String::new();
    if let Some(file) = &view.file {
        out.push_str(&format!("# file: {file}\n"));
    }
    let width = view.entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
    for e in &view.entries {
        let line = format!("{:width$} = {}", e.key, value_text(&e.value));
        if sources {
            out.push_str(&format!("{line:<60}  # {}\n", e.source));
        } else {
            out.push_str(&format!("{line}\n"));
        }
    }
    for key in &view.needs_restart {
        out.push_str(&format!("# needs a restart: {key}\n"));
    }
    out
}

fn describe(format: DescribeFormat) -> String {
    match format {
        DescribeFormat::Markdown => markdown_reference(),
        DescribeFormat::Json => {
            let keys: Vec<serde_json::Value> = all_keys()
                .map(|k| {
                    serde_json::json!({
                        "key": k.path,
                        "type": k.kind.type_name(),
                        "default": k.default,
                        "env": k.env_var_shown(),
                        "reload": k.reload.as_str(),
                        "doc": k.doc,
                    })
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&keys).unwrap_or_default())
        }
        DescribeFormat::Table => {
            let mut out = String::new();
            for k in all_keys() {
                out.push_str(&format!(
                    "{}\n  {}\n  type {}; default {}; env {}; {}\n",
                    k.path,
                    k.doc,
                    k.kind.type_name(),
                    k.default,
                    k.env_var_shown(),
                    if k.reload == ccbt_engine::config_model::Reload::Live {
                        "changes live"
                    } else {
                        "needs a restart"
                    }
                ));
            }
            out
        }
    }
}

/// A file's values over the defaults (no environment, no flags).
fn file_values(path: &Path) -> Result<Vec<(String, serde_json::Value)>, CliError> {
    let config = DaemonConfig::from_file(path).map_err(|e| CliError::Config(e.to_string()))?;
    Ok(config
        .effective_values()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect())
}

/// `-key = old` / `+key = new` for every key whose values differ.
pub fn diff_lines(a: &[(String, serde_json::Value)], b: &[(String, serde_json::Value)]) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, left) in a {
        let right = b.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        if right != Some(left) {
            lines.push(format!("-{key} = {}", value_text(left)));
            lines.push(format!(
                "+{key} = {}",
                right.map_or_else(|| "(unknown)".to_string(), value_text)
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_each_changed_key_once() {
        let a = vec![
            ("limits.download".to_string(), json!("10M")),
            ("queue.max_active_checks".to_string(), json!(2)),
        ];
        let b = vec![
            ("limits.download".to_string(), json!("5M")),
            ("queue.max_active_checks".to_string(), json!(2)),
        ];
        assert_eq!(
            diff_lines(&a, &b),
            vec!["-limits.download = 10M", "+limits.download = 5M"]
        );
        assert!(diff_lines(&a, &a).is_empty());
    }

    #[test]
    fn show_lines_up_keys_and_sources() {
        let view = ConfigView {
            file: Some("/etc/ccbt.toml".into()),
            entries: vec![
                ConfigEntry {
                    key: "limits.download".into(),
                    value: json!("10M"),
                    source: "file:/etc/ccbt.toml:2".into(),
                    reload: "live".into(),
                },
                ConfigEntry {
                    key: "dht.port".into(),
                    value: serde_json::Value::Null,
                    source: "default".into(),
                    reload: "restart".into(),
                },
            ],
            needs_restart: vec!["dht.port".into()],
        };
        assert_eq!(
            render_show(&view, false),
            "# file: /etc/ccbt.toml\nlimits.download = 10M\ndht.port        = (unset)\n# needs a restart: dht.port\n"
        );
        assert!(render_show(&view, true).contains("# file:/etc/ccbt.toml:2\n"));
    }

    #[test]
    fn describe_lists_every_key() {
        let table = describe(DescribeFormat::Table);
        for key in all_keys() {
            assert!(
                table.contains(key.path) && table.contains(&key.env_var_shown()),
                "{}",
                key.path
            );
        }
    }
}
