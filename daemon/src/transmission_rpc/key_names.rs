//! Transmission's two spellings of every key. Up to 4.0 keys are a mix of
//! camelCase (`hashString`) and kebab-case (`download-dir`); 4.1 turned them all
//! into snake_case (`hash_string`) for its JSON-RPC 2.0 requests and kept the old
//! ones for the classic shape. The old spelling maps to the new one by rule, so we
//! write answers with the old names, convert them for JSON-RPC, and read every
//! incoming key in snake_case whichever shape it came in.

use serde_json::{Map, Value};

/// `hashString` → `hash_string`, `download-dir` → `download_dir`, `isUTP` → `is_utp`;
/// a snake_case name stays as it is.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' {
            out.push('_');
        } else if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let starts_word = match prev {
                None | Some('-') | Some('_') => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                // The end of an acronym before a new word: `URLList` → `url_list`.
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                Some(_) => false,
            };
            if starts_word {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every object key of an answer to snake_case, in place of the old
/// spelling (the JSON-RPC 2.0 shape). Only keys change: labels, names and paths are
/// values and stay as they are.
pub fn to_snake_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (snake_case(&k), to_snake_keys(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(to_snake_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn old_names_become_snake_case() {
        for (old, new) in [
            ("hashString", "hash_string"),
            ("download-dir", "download_dir"),
            ("file-count", "file_count"),
            ("isUTP", "is_utp"),
            ("seedRatioLimited", "seed_ratio_limited"),
            ("rpc-version-semver", "rpc_version_semver"),
            ("torrent-get", "torrent_get"),
            ("recently-active", "recently_active"),
            ("peersFrom", "peers_from"),
            ("total_size", "total_size"),
            ("id", "id"),
        ] {
            assert_eq!(snake_case(old), new, "{old}");
        }
    }

    #[test]
    fn only_keys_are_renamed() {
        let answer =
            json!({"torrents": [{"hashString": "ab", "labels": ["camelLabel"], "fileStats": [{"bytesCompleted": 1}]}]});
        assert_eq!(
            to_snake_keys(answer),
            json!({"torrents": [{"hash_string": "ab", "labels": ["camelLabel"], "file_stats": [{"bytes_completed": 1}]}]})
        );
    }
}
