//! One answer of the control API, and the checks tests make on it.

use serde_json::Value;

/// Status and body of one API request (`body` is `Null` when it is not JSON).
#[derive(Clone, Debug)]
pub struct ApiReply {
    /// What was asked, for failure messages: "GET /api/v1/torrents".
    pub request: String,
    pub status: u16,
    pub text: String,
    pub body: Value,
}

impl ApiReply {
    pub fn new(request: String, status: u16, bytes: &[u8]) -> ApiReply {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let body = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        ApiReply {
            request,
            status,
            text,
            body,
        }
    }

    /// The body of a 2xx answer; panics with the answer otherwise.
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "{} answered {}: {}",
            self.request,
            self.status,
            self.text
        );
        self.body
    }

    /// Asserts a 4xx answer with status `status` and the error body
    /// `{"error":{"code":code,"message":…}}` with a message that is not empty;
    /// returns the message.
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            self.status, status,
            "{} should answer {status} {code}, answered: {}",
            self.request, self.text
        );
        assert_eq!(
            self.body["error"]["code"], code,
            "{}: error code in {}",
            self.request, self.text
        );
        let message = self.body["error"]["message"].as_str().unwrap_or_default().to_string();
        assert!(
            !message.is_empty(),
            "{}: the error says what was wrong: {}",
            self.request,
            self.text
        );
        message
    }
}
