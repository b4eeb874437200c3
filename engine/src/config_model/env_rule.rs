//! The one rule from a key to its environment variable: `CCBT_`, then the dotted
//! path in upper case with `.` as `_` (`limits.download` → `CCBT_LIMITS_DOWNLOAD`,
//! `api.transmission.username` → `CCBT_API_TRANSMISSION_USERNAME`). A list is
//! written comma-separated (`CCBT_DHT_BOOTSTRAP=a:6881,b:6881`).

use super::registry::{all_keys, nearest_key, KeySpec};
use super::value_kind::RawValue;

/// What every variable of the config starts with.
pub const ENV_PREFIX: &str = "CCBT_";

/// The environment variable of a dotted key.
pub fn env_var_name(path: &str) -> String {
    format!("{ENV_PREFIX}{}", path.replace('.', "_").to_ascii_uppercase())
}

/// A `CCBT_*` variable whose value cannot be read, named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var} (`{key}`): {message}")]
pub struct EnvValueError {
    pub var: String,
    pub key: &'static str,
    pub message: String,
}

/// The key a variable sets and its value shaped for the reader; None when the
/// variable is not a config key (`CCBT_API`, a hook's `CCBT_NAME`, …).
pub fn env_value(var: &str, text: &str) -> Option<Result<(&'static KeySpec, RawValue), EnvValueError>> {
    let key = all_keys().find(|k| k.env_var() == var)?;
    if key.in_table_list() {
        return Some(Err(EnvValueError {
            var: var.to_string(),
            key: key.path,
            message: format!(
                "`{}` sits in a list of tables: write it as [[{}]] in the config file",
                key.path,
                key.table()
            ),
        }));
    }
    Some(
        key.kind
            .shape_text(text)
            .map(|value| (key, value))
            .map_err(|message| EnvValueError {
                var: var.to_string(),
                key: key.path,
                message,
            }),
    )
}

/// For a `CCBT_*` variable that sets no key but looks meant to (its first word
/// is a section, `CCBT_LIMITS_DOWNLAOD`): the nearest key's variable.
pub fn env_near_miss(var: &str) -> Option<String> {
    let rest = var.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
    // A section name alone (`CCBT_API`, the client's daemon URL) names no key.
    let (section, _) = rest.split_once('_')?;
    if !all_keys().any(|k| k.section() == section) || all_keys().any(|k| k.env_var() == var) {
        return None;
    }
    // Compare as dotted paths: the variable with its section's dot put back.
    let guess = rest.replacen('_', ".", 1);
    let nearest = nearest_key(&guess).or_else(|| {
        all_keys()
            .filter(|k| k.section() == section)
            .min_by_key(|k| strsim::levenshtein(&k.env_var(), var))
            .map(|k| k.path)
    })?;
    Some(env_var_name(nearest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_maps_dots_to_underscores() {
        assert_eq!(env_var_name("limits.download"), "CCBT_LIMITS_DOWNLOAD");
        assert_eq!(
            env_var_name("api.transmission.username"),
            "CCBT_API_TRANSMISSION_USERNAME"
        );
        // The test knobs the daemon always had keep their names.
        assert_eq!(env_var_name("redial.base_ms"), "CCBT_REDIAL_BASE_MS");
    }

    #[test]
    fn no_two_keys_share_a_variable() {
        let mut seen = std::collections::HashSet::new();
        for key in all_keys() {
            assert!(seen.insert(key.env_var()), "{} collides", key.env_var());
        }
    }

    #[test]
    fn a_variable_is_read_by_its_key_kind() {
        let (key, value) = env_value("CCBT_LIMITS_DOWNLOAD", "10M").unwrap().unwrap();
        assert_eq!(key.path, "limits.download");
        assert_eq!(value, RawValue::String("10M".into()));
        let (_, value) = env_value("CCBT_DHT_BOOTSTRAP", "a:1,b:2").unwrap().unwrap();
        assert_eq!(value, RawValue::List(vec!["a:1".into(), "b:2".into()]));
        let e = env_value("CCBT_DHT_ENABLED", "perhaps").unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable CCBT_DHT_ENABLED (`dht.enabled`): 'perhaps' is not true or false"
        );
        assert!(env_value("CCBT_API", "http://127.0.0.1:1").is_none());
        assert!(env_value("CCBT_NAME", "x").is_none());
    }

    #[test]
    fn a_near_miss_names_the_variable_meant() {
        assert_eq!(
            env_near_miss("CCBT_LIMITS_DOWNLAOD").as_deref(),
            Some("CCBT_LIMITS_DOWNLOAD")
        );
        assert_eq!(env_near_miss("CCBT_LIMITS_DOWNLOAD"), None);
        assert_eq!(env_near_miss("CCBT_NAME"), None);
        assert_eq!(env_near_miss("CCBT_API"), None);
    }

    #[test]
    fn a_key_in_a_list_of_tables_is_not_set_by_a_variable() {
        let e = env_value("CCBT_ALERTS_RULES_NAME", "x").unwrap().unwrap_err();
        assert_eq!(e.key, "alerts.rules.name");
        assert!(e.message.contains("[[alerts.rules]]"), "{}", e.message);
    }
}
