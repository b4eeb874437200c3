//! The two request shapes of `/transmission/rpc` and their answers.
//!
//! Classic (Transmission ≤ 4.0, what the *arr apps and transmission-remote send):
//! `{"method":"torrent-get","arguments":{…},"tag":7}` answered by
//! `{"result":"success"|"<error text>","arguments":{…},"tag":7}`.
//!
//! JSON-RPC 2.0 (Transmission 4.1), chosen by the presence of `"jsonrpc"`:
//! `{"jsonrpc":"2.0","method":"torrent_get","params":{…},"id":7}` answered by
//! `{"jsonrpc":"2.0","result":{…},"id":7}` or `{"jsonrpc":"2.0","error":{code,
//! message, data:{error_string}},"id":7}`; a request without `id` is a notification
//! (run, not answered), and an array is a batch.

use serde_json::{json, Map, Value};

use super::key_names::{snake_case, to_snake_keys};
use super::rpc_args::Args;
use super::rpc_error::{RpcCode, RpcError};

/// Requests in one JSON-RPC batch, at most (each may touch every torrent).
pub const MAX_BATCH: usize = 64;

/// Which shape a request came in, and what its answer must echo.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// The classic envelope; an integer `tag` is echoed.
    Classic { tag: Option<i64> },
    /// JSON-RPC 2.0; `None` = a notification (no answer).
    JsonRpc { id: Option<Value> },
}

/// One call: the method in snake_case (`torrent_get` for both `torrent-get` and
/// `torrent_get`) and its arguments.
#[derive(Debug)]
pub struct Call {
    pub shape: Shape,
    pub method: String,
    pub args: Args,
}

/// What a request body holds.
#[derive(Debug)]
pub enum Incoming {
    One(Result<Call, (Shape, RpcError)>),
    /// A JSON-RPC batch: each element a call or the reason it is not one.
    Batch(Vec<Result<Call, (Shape, RpcError)>>),
}

/// Parses a request body. Bad JSON is answered in the shape the body seems to be in
/// (JSON-RPC when it mentions `jsonrpc`, classic otherwise).
pub fn parse(body: &[u8]) -> Incoming {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let looks_jsonrpc = body.windows(7).any(|w| w == b"jsonrpc");
            let shape = if looks_jsonrpc {
                Shape::JsonRpc { id: Some(Value::Null) }
            } else {
                Shape::Classic { tag: None }
            };
            let error = RpcError::new(RpcCode::ParseError, format!("the request is not JSON: {e}"));
            return Incoming::One(Err((shape, error)));
        }
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                let shape = Shape::JsonRpc { id: Some(Value::Null) };
                return Incoming::One(Err((shape, RpcError::new(RpcCode::InvalidRequest, "an empty batch"))));
            }
            if items.len() > MAX_BATCH {
                let shape = Shape::JsonRpc { id: Some(Value::Null) };
                let error = RpcError::new(
                    RpcCode::InvalidRequest,
                    format!("a batch of {} requests; at most {MAX_BATCH} are taken", items.len()),
                );
                return Incoming::One(Err((shape, error)));
            }
            Incoming::Batch(items.into_iter().map(|item| call(item, true)).collect())
        }
        other => Incoming::One(call(other, false)),
    }
}

fn call(value: Value, in_batch: bool) -> Result<Call, (Shape, RpcError)> {
    let Value::Object(mut request) = value else {
        let shape = Shape::JsonRpc { id: Some(Value::Null) };
        return Err((
            shape,
            RpcError::new(RpcCode::InvalidRequest, "a request must be a JSON object"),
        ));
    };
    let shape = match request.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => match request.remove("id") {
            None => Shape::JsonRpc { id: None },
            Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => Shape::JsonRpc { id: Some(id) },
            Some(_) => {
                let shape = Shape::JsonRpc { id: Some(Value::Null) };
                let error = RpcError::new(RpcCode::InvalidRequest, "id type must be String, Number, or Null");
                return Err((shape, error));
            }
        },
        Some(_) => {
            let shape = Shape::JsonRpc { id: Some(Value::Null) };
            return Err((
                shape,
                RpcError::new(RpcCode::InvalidRequest, "JSON-RPC version is not 2.0"),
            ));
        }
        None if in_batch => {
            let shape = Shape::JsonRpc { id: Some(Value::Null) };
            return Err((
                shape,
                RpcError::new(RpcCode::InvalidRequest, "JSON-RPC version is not 2.0"),
            ));
        }
        None => Shape::Classic {
            tag: request.get("tag").and_then(Value::as_i64),
        },
    };
    let method = match request.get("method") {
        Some(Value::String(m)) if !m.is_empty() => snake_case(m),
        _ => {
            let code = match shape {
                Shape::Classic { .. } => RpcCode::MethodNotFound,
                Shape::JsonRpc { .. } => RpcCode::InvalidRequest,
            };
            return Err((shape, RpcError::new(code, "no method name")));
        }
    };
    let args_key = match shape {
        Shape::Classic { .. } => "arguments",
        Shape::JsonRpc { .. } => "params",
    };
    let args = match request.remove(args_key) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => {
            let error = RpcError::invalid_params(format!("`{args_key}` must be an object"));
            return Err((shape, error));
        }
    };
    Ok(Call {
        shape,
        method,
        args: Args::new(args),
    })
}

/// The answer to a call that succeeded (`None` for a notification). `arguments`
/// uses Transmission's classic key names; a JSON-RPC answer gets them in snake_case.
pub fn success(shape: &Shape, arguments: Map<String, Value>) -> Option<Value> {
    match shape {
        Shape::Classic { tag } => {
            let mut answer = json!({"arguments": arguments, "result": "success"});
            if let Some(tag) = tag {
                answer["tag"] = json!(tag);
            }
            Some(answer)
        }
        Shape::JsonRpc { id: None } => None,
        Shape::JsonRpc { id: Some(id) } => Some(json!({
            "jsonrpc": "2.0",
            "result": to_snake_keys(Value::Object(arguments)),
            "id": id,
        })),
    }
}

/// The answer to a call that failed (`None` for a notification).
pub fn failure(shape: &Shape, error: &RpcError) -> Option<Value> {
    match shape {
        Shape::Classic { tag } => {
            let mut answer = json!({"arguments": {}, "result": error.message});
            if let Some(tag) = tag {
                answer["tag"] = json!(tag);
            }
            Some(answer)
        }
        Shape::JsonRpc { id: None } => None,
        Shape::JsonRpc { id: Some(id) } => Some(json!({
            "jsonrpc": "2.0",
            "error": {
                "code": error.code.number(),
                "message": error.code.message(),
                "data": {"error_string": error.message},
            },
            "id": id,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> Result<Call, (Shape, RpcError)> {
        match parse(body.as_bytes()) {
            Incoming::One(c) => c,
            Incoming::Batch(_) => panic!("{body} parsed as a batch"),
        }
    }

    #[test]
    fn classic_request_keeps_its_tag_and_snake_cases_the_method() {
        let call = one(r#"{"method":"torrent-get","arguments":{"fields":["id"]},"tag":7}"#).unwrap();
        assert_eq!(call.shape, Shape::Classic { tag: Some(7) });
        assert_eq!(call.method, "torrent_get");
        let answer = success(&call.shape, Map::new()).unwrap();
        assert_eq!(answer, json!({"arguments": {}, "result": "success", "tag": 7}));
    }

    #[test]
    fn jsonrpc_is_chosen_by_the_jsonrpc_key() {
        let call = one(r#"{"jsonrpc":"2.0","method":"session_get","params":{},"id":"a"}"#).unwrap();
        assert_eq!(call.shape, Shape::JsonRpc { id: Some(json!("a")) });
        let mut args = Map::new();
        args.insert("rpc-version".into(), json!(17));
        assert_eq!(
            success(&call.shape, args).unwrap(),
            json!({"jsonrpc": "2.0", "result": {"rpc_version": 17}, "id": "a"})
        );
        let error = RpcError::new(RpcCode::MethodNotFound, "method name not recognized");
        let answer = failure(&call.shape, &error).unwrap();
        assert_eq!(answer["error"]["code"], -32601);
        assert_eq!(answer["error"]["message"], "Method not found");
        assert_eq!(answer["error"]["data"]["error_string"], "method name not recognized");
        assert_eq!(answer["id"], "a");
    }

    #[test]
    fn a_notification_gets_no_answer() {
        let call = one(r#"{"jsonrpc":"2.0","method":"torrent_start"}"#).unwrap();
        assert_eq!(call.shape, Shape::JsonRpc { id: None });
        assert!(success(&call.shape, Map::new()).is_none());
    }

    #[test]
    fn bad_bodies_are_answered_in_the_right_shape() {
        let (shape, e) = one("{not json").unwrap_err();
        assert_eq!(shape, Shape::Classic { tag: None });
        assert_eq!(e.code, RpcCode::ParseError);
        let answer = failure(&shape, &e).unwrap();
        assert!(answer["result"].as_str().unwrap().contains("not JSON"));

        let (shape, e) = one(r#"{"jsonrpc":"2.0", "method": "#).unwrap_err();
        assert_eq!(shape, Shape::JsonRpc { id: Some(Value::Null) });
        assert_eq!(failure(&shape, &e).unwrap()["error"]["code"], -32700);

        let (_, e) = one(r#"{"jsonrpc":"1.0","method":"x","id":1}"#).unwrap_err();
        assert_eq!(e.code, RpcCode::InvalidRequest);
        let (_, e) = one(r#"{"jsonrpc":"2.0","method":"x","id":{}}"#).unwrap_err();
        assert_eq!(e.code, RpcCode::InvalidRequest);
        let (_, e) = one(r#"{"arguments":{}}"#).unwrap_err();
        assert_eq!(e.message, "no method name");
        let (_, e) = one(r#"{"method":"torrent-get","arguments":[1]}"#).unwrap_err();
        assert_eq!(e.code, RpcCode::InvalidParams);
        let Incoming::Batch(calls) = parse(b"[1,2]") else {
            panic!("an array is a batch");
        };
        assert!(calls
            .iter()
            .all(|c| matches!(c, Err((_, e)) if e.code == RpcCode::InvalidRequest)));
    }

    #[test]
    fn batches_are_bounded() {
        let many = format!(
            "[{}]",
            vec![r#"{"jsonrpc":"2.0","method":"session_get","id":1}"#; MAX_BATCH + 1].join(",")
        );
        let Incoming::One(Err((_, e))) = parse(many.as_bytes()) else {
            panic!("an oversized batch is refused whole");
        };
        assert_eq!(e.code, RpcCode::InvalidRequest);
        let Incoming::Batch(calls) = parse(br#"[{"jsonrpc":"2.0","method":"session_get","id":1},{"method":"x"}]"#)
        else {
            panic!("a batch");
        };
        assert!(calls[0].is_ok());
        assert!(calls[1].is_err(), "a classic request inside a batch is refused");
    }
}
