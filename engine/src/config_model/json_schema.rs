//! The config file's JSON schema (draft 2020-12), made from the registry: one
//! object per table, one property per key, with the default, the environment
//! variable (`x-env`) and whether it reloads live (`x-reload`).

use serde_json::{json, Map, Value};

use super::registry::{all_keys, table_names, KeySpec};
use super::value_kind::ValueKind;

fn value_schema(kind: ValueKind) -> Value {
    let unlimited = json!({ "const": "unlimited" });
    let off = json!({ "anyOf": [{ "const": "off" }, { "const": false }] });
    let string_list = json!({ "type": "array", "items": { "type": "string" } });
    match kind {
        ValueKind::Bool => json!({ "type": "boolean" }),
        ValueKind::Integer { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
        ValueKind::IntegerOrUnlimited { max } => {
            json!({ "anyOf": [{ "type": "integer", "minimum": 0, "maximum": max }, unlimited] })
        }
        ValueKind::Rate => json!({ "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": "^\\s*[0-9.]+\\s*[KkMmGgTt]?(i?[Bb])?(/s)?\\s*$" },
            unlimited
        ] }),
        ValueKind::Ratio => json!({ "anyOf": [{ "type": "number", "minimum": 0 }, unlimited] }),
        ValueKind::Duration => json!({ "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": "^([0-9]+[smhd])+$|^[0-9]+$" }
        ] }),
        ValueKind::DurationOrUnlimited => json!({ "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": "^([0-9]+[smhd])+$|^[0-9]+$" },
            unlimited
        ] }),
        ValueKind::DurationOrOff => json!({ "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": "^([0-9]+[smhd])+$|^[0-9]+$" },
            off
        ] }),
        ValueKind::SizeOrOff => json!({ "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": "^\\s*[0-9.]+\\s*[KkMmGgTt]?(i?[Bb])?\\s*$" },
            off
        ] }),
        ValueKind::IntegerOrOff { max } => {
            json!({ "anyOf": [{ "type": "integer", "minimum": 0, "maximum": max }, off] })
        }
        ValueKind::TimeOfDay => json!({ "type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$" }),
        ValueKind::Text | ValueKind::Path | ValueKind::SocketAddr => json!({ "type": "string", "minLength": 1 }),
        ValueKind::Secret => json!({ "type": "string", "minLength": 1, "writeOnly": true }),
        ValueKind::SocketAddrList | ValueKind::HostPortList | ValueKind::PathList => string_list,
        ValueKind::Weekdays => json!({ "type": "array", "items": {
            "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        } }),
    }
}

fn key_schema(key: &KeySpec) -> Value {
    let mut schema = value_schema(key.kind);
    if let Value::Object(map) = &mut schema {
        map.insert("description".into(), key.doc.into());
        map.insert("default".into(), key.default.into());
        map.insert("x-env".into(), key.env_var().into());
        map.insert("x-reload".into(), key.reload.as_str().into());
    }
    schema
}

fn empty_table() -> Map<String, Value> {
    let mut table = Map::new();
    table.insert("type".into(), "object".into());
    table.insert("additionalProperties".into(), false.into());
    table.insert("properties".into(), Value::Object(Map::new()));
    table
}

/// The schema of the whole file.
pub fn json_schema() -> Value {
    // Build every table empty, then fill it, deepest tables first so each lands
    // in its parent complete.
    let mut tables: Vec<(&str, Map<String, Value>)> = table_names().into_iter().map(|t| (t, empty_table())).collect();
    for key in all_keys() {
        if let Some((_, table)) = tables.iter_mut().find(|(name, _)| *name == key.table()) {
            if let Some(Value::Object(props)) = table.get_mut("properties") {
                props.insert(key.name().to_string(), key_schema(key));
            }
        }
    }
    tables.sort_by_key(|(name, _)| {
        std::cmp::Reverse(if name.is_empty() {
            0
        } else {
            name.matches('.').count() + 1
        })
    });
    let mut done: Vec<(&str, Map<String, Value>)> = Vec::new();
    for (name, mut table) in tables {
        let children: Vec<usize> = done
            .iter()
            .enumerate()
            .filter(|(_, (child, _))| parent_of(child) == Some(name))
            .map(|(i, _)| i)
            .collect();
        for i in children.into_iter().rev() {
            let (child, schema) = done.remove(i);
            let child_name = child.rsplit_once('.').map_or(child, |(_, n)| n);
            if let Some(Value::Object(props)) = table.get_mut("properties") {
                props.insert(child_name.to_string(), Value::Object(schema));
            }
        }
        done.push((name, table));
    }
    let mut root = done.pop().map(|(_, t)| t).unwrap_or_else(empty_table);
    root.insert("$schema".into(), "https://json-schema.org/draft/2020-12/schema".into());
    root.insert("title".into(), "ccbt daemon configuration (ccbt.toml)".into());
    Value::Object(root)
}

fn parent_of(table: &str) -> Option<&str> {
    if table.is_empty() {
        return None;
    }
    Some(table.rsplit_once('.').map_or("", |(p, _)| p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_the_schema_at_its_path() {
        let schema = json_schema();
        for key in all_keys() {
            let mut node = &schema;
            for part in key.path.split('.') {
                node = &node["properties"][part];
            }
            assert_eq!(node["x-env"], key.env_var(), "{}", key.path);
            assert_eq!(node["description"], key.doc, "{}", key.path);
        }
        assert_eq!(schema["properties"]["limits"]["additionalProperties"], false);
        assert_eq!(
            schema["properties"]["queue"]["properties"]["max_active_downloads"]["anyOf"][1]["const"],
            "unlimited"
        );
    }
}
