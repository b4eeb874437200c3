//! A call's arguments, keys in snake_case, read as leniently as Transmission reads
//! them (a number for a boolean 0/1, `"true"` for true, an integer for a double) and
//! refused with a message naming the argument when they cannot be read at all.

use serde_json::{Map, Value};

use super::key_names::snake_case;
use super::rpc_error::RpcError;

/// Longest list argument taken (file indexes, ids, labels).
pub const MAX_LIST_LEN: usize = 100_000;

#[derive(Debug, Default)]
pub struct Args {
    map: Map<String, Value>,
}

fn wrong(name: &str, expected: &str, got: &Value) -> RpcError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    RpcError::invalid_params(format!("argument `{name}`: expected {expected}, got {kind}"))
}

impl Args {
    pub fn new(raw: Map<String, Value>) -> Args {
        Args {
            map: raw.into_iter().map(|(k, v)| (snake_case(&k), v)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, RpcError> {
        let Some(v) = self.map.get(name) else { return Ok(None) };
        match v {
            Value::Bool(b) => Ok(Some(*b)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Some(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Some(true)),
            Value::String(s) if s == "true" => Ok(Some(true)),
            Value::String(s) if s == "false" => Ok(Some(false)),
            other => Err(wrong(name, "a boolean", other)),
        }
    }

    /// A whole number >= 0 (a double with no fraction is taken too).
    pub fn u64(&self, name: &str) -> Result<Option<u64>, RpcError> {
        let Some(v) = self.map.get(name) else { return Ok(None) };
        let n = match v {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e18)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        n.map(Some).ok_or_else(|| wrong(name, "a whole number >= 0", v))
    }

    pub fn i64(&self, name: &str) -> Result<Option<i64>, RpcError> {
        let Some(v) = self.map.get(name) else { return Ok(None) };
        let n = match v {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e18)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        n.map(Some).ok_or_else(|| wrong(name, "a whole number", v))
    }

    pub fn f64(&self, name: &str) -> Result<Option<f64>, RpcError> {
        let Some(v) = self.map.get(name) else { return Ok(None) };
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        n.filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| wrong(name, "a number", v))
    }

    pub fn str(&self, name: &str) -> Result<Option<&str>, RpcError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong(name, "a string", other)),
        }
    }

    fn list(&self, name: &str) -> Result<Option<&Vec<Value>>, RpcError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() <= MAX_LIST_LEN => Ok(Some(items)),
            Some(Value::Array(items)) => Err(RpcError::invalid_params(format!(
                "argument `{name}`: {} items; at most {MAX_LIST_LEN} are taken",
                items.len()
            ))),
            Some(other) => Err(wrong(name, "an array", other)),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, RpcError> {
        let Some(items) = self.list(name)? else { return Ok(None) };
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(name, "an array of strings", other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// File indexes (numbers >= 0).
    pub fn indexes(&self, name: &str) -> Result<Option<Vec<usize>>, RpcError> {
        let Some(items) = self.list(name)? else { return Ok(None) };
        items
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| wrong(name, "an array of file indexes", v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => Args::new(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn keys_are_read_in_snake_case_whatever_their_spelling() {
        let a = args(json!({"download-dir": "/a", "seedRatioLimit": 2, "paused": 1}));
        assert_eq!(a.str("download_dir").unwrap(), Some("/a"));
        assert_eq!(a.f64("seed_ratio_limit").unwrap(), Some(2.0));
        assert_eq!(a.bool("paused").unwrap(), Some(true));
        assert_eq!(a.bool("missing").unwrap(), None);
    }

    #[test]
    fn wrong_types_name_the_argument() {
        let a = args(json!({"paused": "yes", "labels": [1], "files-wanted": [-1], "uploadLimit": -5}));
        assert!(a.bool("paused").unwrap_err().message.contains("`paused`"));
        assert!(a.strings("labels").unwrap_err().message.contains("`labels`"));
        assert!(a
            .indexes("files_wanted")
            .unwrap_err()
            .message
            .contains("`files_wanted`"));
        assert!(a.u64("upload_limit").unwrap_err().message.contains("`upload_limit`"));
        assert_eq!(a.i64("upload_limit").unwrap(), Some(-5));
    }
}
