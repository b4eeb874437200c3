//! The `ids` argument: absent (every torrent), a number, a hash, a list of numbers
//! and hashes, or `recently-active`.

use serde_json::Value;

use super::rpc_args::Args;
use super::rpc_error::RpcError;
use crate::api_types::TorrentSummary;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdRef {
    Number(u32),
    /// 40 hex digits, lower case.
    Hash(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    All,
    RecentlyActive,
    Some(Vec<IdRef>),
}

fn one_id(v: &Value) -> Result<Option<IdRef>, RpcError> {
    match v {
        Value::Number(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(id) => Ok(Some(IdRef::Number(id))),
            // Transmission looks a negative or fractional id up and finds nothing.
            None => Ok(None),
        },
        Value::String(s) if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(IdRef::Hash(s.to_ascii_lowercase())))
        }
        Value::String(s) => match s.parse::<u32>() {
            Ok(id) => Ok(Some(IdRef::Number(id))),
            Err(_) => Ok(None),
        },
        other => Err(RpcError::invalid_params(format!(
            "argument `ids`: {other} is neither a torrent id nor a hash"
        ))),
    }
}

/// Reads `ids`; an unknown id or hash selects nothing, as in Transmission.
pub fn selection(args: &Args) -> Result<Selection, RpcError> {
    match args.get("ids") {
        None => Ok(Selection::All),
        Some(Value::String(s)) if s == "recently-active" || s == "recently_active" => Ok(Selection::RecentlyActive),
        Some(Value::Array(items)) => {
            if items.len() > super::rpc_args::MAX_LIST_LEN {
                return Err(RpcError::invalid_params(format!(
                    "argument `ids`: {} ids; at most {} are taken",
                    items.len(),
                    super::rpc_args::MAX_LIST_LEN
                )));
            }
            let mut ids = Vec::with_capacity(items.len());
            for item in items {
                if let Some(id) = one_id(item)? {
                    ids.push(id);
                }
            }
            Ok(Selection::Some(ids))
        }
        Some(single) => Ok(Selection::Some(one_id(single)?.into_iter().collect())),
    }
}

/// The torrents of `all` that `ids` names, in the order of `all` (by id), each once.
pub fn pick<'a>(all: &'a [TorrentSummary], ids: &[IdRef]) -> Vec<&'a TorrentSummary> {
    all.iter()
        .filter(|t| {
            ids.iter().any(|id| match id {
                IdRef::Number(n) => t.id == *n,
                IdRef::Hash(h) => t.info_hash.eq_ignore_ascii_case(h),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(v: Value) -> Result<Selection, RpcError> {
        let mut m = serde_json::Map::new();
        m.insert("ids".into(), v);
        selection(&Args::new(m))
    }

    #[test]
    fn every_form_of_ids() {
        assert_eq!(selection(&Args::default()).unwrap(), Selection::All);
        assert_eq!(sel(json!(3)).unwrap(), Selection::Some(vec![IdRef::Number(3)]));
        let hash = "AB".repeat(20);
        assert_eq!(
            sel(json!([1, hash])).unwrap(),
            Selection::Some(vec![IdRef::Number(1), IdRef::Hash("ab".repeat(20))])
        );
        assert_eq!(sel(json!("recently-active")).unwrap(), Selection::RecentlyActive);
        assert_eq!(sel(json!("recently_active")).unwrap(), Selection::RecentlyActive);
        assert_eq!(sel(json!([-1, "nope", 1.5])).unwrap(), Selection::Some(vec![]));
        assert!(sel(json!({"id": 1})).unwrap_err().message.contains("`ids`"));
        assert!(sel(json!([[1]])).is_err());
    }
}
