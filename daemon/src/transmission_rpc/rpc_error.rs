//! Why an RPC call failed, in a form both request shapes can carry: the classic
//! envelope puts the text in `result`, JSON-RPC 2.0 puts a code in `error` and the
//! text in `error.data.error_string` (as Transmission 4.1 does).

use crate::control::ApiError;

/// JSON-RPC 2.0's own codes and the application codes of Transmission 4.1
/// (`libtransmission/rpcimpl.h`, `JsonRpc::Error::Code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcCode {
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    PathNotAbsolute,
    SystemError,
    FileIndexOutOfRange,
    HttpError,
    CorruptTorrent,
}

impl RpcCode {
    pub fn number(self) -> i64 {
        match self {
            RpcCode::ParseError => -32700,
            RpcCode::InvalidRequest => -32600,
            RpcCode::MethodNotFound => -32601,
            RpcCode::InvalidParams => -32602,
            RpcCode::PathNotAbsolute => 3,
            RpcCode::SystemError => 5,
            RpcCode::FileIndexOutOfRange => 6,
            RpcCode::HttpError => 8,
            RpcCode::CorruptTorrent => 9,
        }
    }

    /// The fixed `error.message` Transmission gives each code.
    pub fn message(self) -> &'static str {
        match self {
            RpcCode::ParseError => "Parse error",
            RpcCode::InvalidRequest => "Invalid Request",
            RpcCode::MethodNotFound => "Method not found",
            RpcCode::InvalidParams => "Invalid params",
            RpcCode::PathNotAbsolute => "path is not absolute",
            RpcCode::SystemError => "system error",
            RpcCode::FileIndexOutOfRange => "file index out of range",
            RpcCode::HttpError => "HTTP error from backend service",
            RpcCode::CorruptTorrent => "invalid or corrupt torrent file",
        }
    }
}

/// A failed call: a code and a message naming the argument, torrent or file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    pub code: RpcCode,
    pub message: String,
}

impl RpcError {
    pub fn new(code: RpcCode, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(RpcCode::InvalidParams, message)
    }
}

/// The core's refusals, in Transmission's codes: a bad `.torrent` is a corrupt
/// torrent, a relative path is a path error, the rest a system error; the text stays
/// ours (it names the field or torrent).
impl From<ApiError> for RpcError {
    fn from(e: ApiError) -> RpcError {
        let code = match e.code {
            "invalid_torrent" => RpcCode::CorruptTorrent,
            "bad_request" if e.message.contains("absolute") => RpcCode::PathNotAbsolute,
            "bad_request" if e.message.contains("there is no file") => RpcCode::FileIndexOutOfRange,
            "bad_request" => RpcCode::InvalidParams,
            _ => RpcCode::SystemError,
        };
        RpcError::new(code, e.message)
    }
}
