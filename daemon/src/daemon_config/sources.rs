//! The config's sources, layered, later wins: defaults → the TOML file → `CCBT_*`
//! environment variables → command-line flags → runtime overrides (the state
//! dir's `config-overrides.toml`, written by `btbt config set`). Per-torrent
//! settings come last and live with each torrent.
//!
//! Every layer is read by the file's own reader: a variable, a flag or an
//! override becomes a one-table TOML fragment, so a value means the same and is
//! checked the same wherever it comes from. Each key's source is kept
//! ([`Provenance`]) for `btbt config show --sources`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ccbt_engine::config_model::{
    env_near_miss, env_value, find_key, KeySpec, Provenance, RawValue, Reload, ValueSource,
};

use super::{ConfigError, DaemonConfig, MAX_CONFIG_BYTES};

/// The runtime overrides' file in the state dir.
pub const OVERRIDES_FILE: &str = "config-overrides.toml";

/// A value given by a command-line flag.
#[derive(Clone, Debug, PartialEq)]
pub struct FlagValue {
    /// As typed: `--listen`.
    pub flag: &'static str,
    /// The key it sets: `network.listen`.
    pub key: &'static str,
    pub value: RawValue,
}

/// What the layers are read from; kept by the daemon to read them again when
/// its file changes.
#[derive(Clone, Debug, Default)]
pub struct ConfigInputs {
    /// `--config FILE`, or the first of the usual places that exists; None = no file.
    pub file: Option<PathBuf>,
    /// The environment (only `CCBT_*` variables matter).
    pub env: Vec<(String, String)>,
    pub flags: Vec<FlagValue>,
    /// Where the state dir is when nothing sets `storage.state_dir`.
    pub default_state_dir: PathBuf,
}

/// The effective config and where each value came from.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: DaemonConfig,
    pub provenance: Provenance,
    /// The state dir, and in it the runtime overrides' file.
    pub state_dir: PathBuf,
    /// `CCBT_*` variables that look like a key but are none, with the one meant.
    pub warnings: Vec<String>,
}

impl LoadedConfig {
    pub fn overrides_path(&self) -> PathBuf {
        self.state_dir.join(OVERRIDES_FILE)
    }
}

/// The file the daemon reads without `--config`: the first that exists of
/// `./ccbt.toml`, `$XDG_CONFIG_HOME/ccbt/ccbt.toml` (an absolute one), `~/.ccbt.toml`.
pub fn find_config_file(cwd: &Path, xdg_config_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    let candidates = [
        Some(cwd.join("ccbt.toml")),
        xdg_config_home
            .filter(|p| p.is_absolute())
            .map(|p| p.join("ccbt").join("ccbt.toml")),
        home.filter(|p| p.is_absolute()).map(|p| p.join(".ccbt.toml")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Reads a config file's text, refusing one too large to be a config.
pub fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_error)?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{len} bytes, more than the {MAX_CONFIG_BYTES} a config may have"),
        )));
    }
    std::fs::read_to_string(path).map_err(read_error)
}

/// Reads every layer. A bad value anywhere is an error naming its file and line,
/// or its variable or flag.
pub fn load(inputs: &ConfigInputs) -> Result<LoadedConfig, ConfigError> {
    let mut config = DaemonConfig::default();
    let mut provenance = Provenance::default();
    if let Some(path) = &inputs.file {
        let text = read_config_text(path)?;
        for (key, line) in config.apply_toml(&text, path)? {
            let path = path.display().to_string();
            provenance.record(&key, ValueSource::File { path, line });
        }
    }
    let mut warnings = Vec::new();
    let mut env: Vec<&(String, String)> = inputs.env.iter().collect();
    env.sort();
    let mut from_env = Vec::new();
    for (var, text) in env {
        match env_value(var, text) {
            Some(Ok((key, value))) => from_env.push((key, value, var.clone())),
            Some(Err(e)) => {
                return Err(ConfigError::NotFromFile {
                    origin: format!("environment variable {}", e.var),
                    key: e.key.to_string(),
                    problem: e.message,
                })
            }
            None => {
                if let Some(meant) = env_near_miss(var) {
                    warnings.push(format!("{var} sets no config key; did you mean {meant}?"));
                }
            }
        }
    }
    for (key, value, var) in from_env {
        apply_value(&mut config, key, &value, &format!("environment variable {var}"))?;
        provenance.record(key.path, ValueSource::Env { var });
    }
    for flag in &inputs.flags {
        let key = find_key(flag.key).ok_or_else(|| ConfigError::NotFromFile {
            origin: format!("flag {}", flag.flag),
            key: flag.key.to_string(),
            problem: "not a config key".into(),
        })?;
        apply_value(&mut config, key, &flag.value, &format!("flag {}", flag.flag))?;
        provenance.record(key.path, ValueSource::Flag { flag: flag.flag.into() });
    }
    let state_dir = config
        .storage
        .state_dir
        .clone()
        .unwrap_or_else(|| inputs.default_state_dir.clone());
    let overrides = state_dir.join(OVERRIDES_FILE);
    if overrides.is_file() {
        let text = read_config_text(&overrides)?;
        for (key, _) in config.apply_toml(&text, &overrides)? {
            provenance.record(&key, ValueSource::Runtime);
        }
    }
    Ok(LoadedConfig {
        config,
        provenance,
        state_dir,
        warnings,
    })
}

/// Sets one key from a value given outside the file, through the file's reader.
/// `origin` names where the value came from in an error.
pub fn apply_value(
    config: &mut DaemonConfig,
    key: &KeySpec,
    value: &RawValue,
    origin: &str,
) -> Result<(), ConfigError> {
    let fragment = fragment(config, key, value);
    config
        .apply_toml(&fragment, Path::new(origin))
        .map(|_| ())
        .map_err(|e| ConfigError::NotFromFile {
            origin: origin.to_string(),
            key: key.path.to_string(),
            problem: e.problem(),
        })
}

/// `[table]` with `key = value`, plus the keys the reader needs beside it: a
/// schedule is read whole (`begin` with `end`), credentials as a pair, so those
/// siblings keep their current values.
fn fragment(config: &DaemonConfig, key: &KeySpec, value: &RawValue) -> String {
    let mut entries: BTreeMap<&str, String> = BTreeMap::new();
    let table = key.table();
    match table {
        "limits.alt_schedule" => {
            if let Some(s) = &config.limits.alt_schedule {
                let schedule = s.to_schedule();
                entries.insert("begin", RawValue::String(schedule.begin).to_toml());
                entries.insert("end", RawValue::String(schedule.end).to_toml());
                entries.insert("days", RawValue::List(schedule.days).to_toml());
            }
        }
        "api.transmission" | "api.qbittorrent" => {
            let current = if table == "api.transmission" {
                &config.api.transmission
            } else {
                &config.api.qbittorrent
            };
            if let Some(c) = current {
                entries.insert("username", RawValue::String(c.username.clone()).to_toml());
                entries.insert("password", RawValue::String(c.password.clone()).to_toml());
            }
        }
        _ => {}
    }
    entries.insert(key.name(), value.to_toml());
    let mut text = format!("[{table}]\n");
    for (name, literal) in entries {
        text.push_str(&format!("{name} = {literal}\n"));
    }
    text
}

/// The keys whose values differ between two configs, with whether each applies live.
pub fn changed_keys(old: &DaemonConfig, new: &DaemonConfig) -> Vec<(&'static str, Reload)> {
    ccbt_engine::config_model::all_keys()
        .filter(|k| old.effective_value(k.path) != new.effective_value(k.path) || secret_changed(old, new, k.path))
        .map(|k| (k.path, k.reload))
        .collect()
}

/// Secrets show the same (`<set>`) whatever they are; compare the values.
fn secret_changed(old: &DaemonConfig, new: &DaemonConfig, key: &str) -> bool {
    let pw = |c: &Option<crate::api_server::compat_auth::CompatCredentials>| c.as_ref().map(|c| c.password.clone());
    match key {
        "api.token" => old.api.token != new.api.token,
        "api.transmission.password" => pw(&old.api.transmission) != pw(&new.api.transmission),
        "api.qbittorrent.password" => pw(&old.api.qbittorrent) != pw(&new.api.qbittorrent),
        _ => false,
    }
}

/// The runtime overrides as they are kept: a TOML file of dotted keys, one a line.
pub fn overrides_text(overrides: &BTreeMap<String, RawValue>) -> String {
    let mut text = String::from(
        "# Runtime overrides, written by `btbt config set`; they apply after the config file,\n\
         # the environment and the flags. `btbt config unset KEY` removes one.\n",
    );
    for (key, value) in overrides {
        text.push_str(&format!("{key} = {}\n", value.to_toml()));
    }
    text
}

/// The overrides kept in `path`, as dotted keys and values; none when there is no file.
pub fn read_overrides(path: &Path) -> Result<BTreeMap<String, RawValue>, ConfigError> {
    let mut overrides = BTreeMap::new();
    if !path.is_file() {
        return Ok(overrides);
    }
    let text = read_config_text(path)?;
    // Checked by the reader first, so what is kept below is only ever valid keys.
    DaemonConfig::from_toml(&text, path)?;
    let document = toml::de::DeTable::parse(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        message: e.message().to_string(),
    })?;
    flatten("", document.get_ref(), &mut overrides);
    Ok(overrides)
}

fn flatten(prefix: &str, table: &toml::de::DeTable<'_>, out: &mut BTreeMap<String, RawValue>) {
    use toml::de::DeValue;
    for (name, value) in table.iter() {
        let key = if prefix.is_empty() {
            name.get_ref().to_string()
        } else {
            format!("{prefix}.{}", name.get_ref())
        };
        let raw = match value.get_ref() {
            DeValue::Table(t) => {
                flatten(&key, t, out);
                continue;
            }
            DeValue::Boolean(b) => RawValue::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(i) => RawValue::Integer(i),
                Err(_) => continue,
            },
            DeValue::Float(f) => match f.as_str().parse() {
                Ok(f) => RawValue::Float(f),
                Err(_) => continue,
            },
            DeValue::String(s) => RawValue::String(s.to_string()),
            DeValue::Array(items) => RawValue::List(
                items
                    .iter()
                    .filter_map(|i| i.get_ref().as_str().map(str::to_string))
                    .collect(),
            ),
            DeValue::Datetime(d) => RawValue::String(d.to_string()),
        };
        out.insert(key, raw);
    }
}

#[cfg(test)]
#[path = "sources_tests.rs"]
mod tests;
