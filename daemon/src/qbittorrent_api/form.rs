//! A qBittorrent API request's parameters: the query string, then the body as an
//! URL-encoded form or as `multipart/form-data` (which `torrents/add` uses for
//! `.torrent` files and the PyPI client for everything). All bounded.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;

use super::error::QbtError;

/// Largest body: a `torrents/add` with several `.torrent` files.
pub const MAX_FORM_BYTES: usize = 32 * 1024 * 1024;
/// Parameters and files per request at most.
pub const MAX_FORM_PARTS: usize = 1024;
/// Largest text parameter (a `urls` list of many magnets).
const MAX_TEXT_PART: usize = 1024 * 1024;

/// A file part of a multipart body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedFile {
    pub field: String,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// Every parameter of a request, in order; files apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QbtForm {
    pub fields: Vec<(String, String)>,
    pub files: Vec<UploadedFile>,
}

impl QbtForm {
    /// The last value of `name` (a query parameter is overridden by the body's).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that must be there (400 naming it otherwise).
    pub fn required(&self, name: &str) -> Result<&str, QbtError> {
        self.get(name)
            .ok_or_else(|| QbtError::bad_request(format!("missing parameter: {name}")))
    }

    /// `true`/`false` (any case); absent or empty = None.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, QbtError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(QbtError::bad_request(format!("{name}: {v:?} is not true or false"))),
        }
    }

    /// A number; absent or empty = None.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, QbtError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| QbtError::bad_request(format!("{name}: {v:?} is not a number"))),
        }
    }

    /// `hashes=a|b|c` (also `hash=`); `all` = every torrent (None).
    pub fn hashes(&self) -> Result<HashSelection, QbtError> {
        let raw = self
            .get("hashes")
            .or_else(|| self.get("hash"))
            .ok_or_else(|| QbtError::bad_request("missing parameter: hashes"))?;
        if raw.trim().eq_ignore_ascii_case("all") {
            return Ok(HashSelection::All);
        }
        Ok(HashSelection::Some(
            split_list(raw, '|').map(|h| h.to_ascii_lowercase()).collect(),
        ))
    }

    fn from_query(query: Option<&str>) -> QbtForm {
        let mut form = QbtForm::default();
        if let Some(q) = query {
            form.push_urlencoded(q.as_bytes());
        }
        form
    }

    fn push_urlencoded(&mut self, bytes: &[u8]) {
        for (k, v) in form_urlencoded::parse(bytes).take(MAX_FORM_PARTS) {
            self.fields.push((k.into_owned(), v.into_owned()));
        }
    }
}

/// Which torrents a request names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashSelection {
    All,
    Some(Vec<String>),
}

/// The non-empty, trimmed items of a `sep`-separated list.
pub fn split_list(raw: &str, sep: char) -> impl Iterator<Item = String> + '_ {
    raw.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl<S: Send + Sync> FromRequest<S> for QbtForm {
    type Rejection = QbtError;

    async fn from_request(req: Request, state: &S) -> Result<QbtForm, QbtError> {
        let mut form = QbtForm::from_query(req.uri().query());
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state)
                .await
                .map_err(|e| QbtError::bad_request(format!("multipart body: {e}")))?;
            let mut parts = 0usize;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| QbtError::bad_request(format!("multipart body: {e}")))?
            {
                parts += 1;
                if parts > MAX_FORM_PARTS {
                    return Err(QbtError::bad_request(format!("more than {MAX_FORM_PARTS} form parts")));
                }
                let name = field.name().unwrap_or("").to_string();
                let filename = field.file_name().map(str::to_string);
                let is_file = filename.is_some() || name == "torrents";
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| QbtError::bad_request(format!("multipart part {name}: {e}")))?;
                if is_file {
                    form.files.push(UploadedFile {
                        field: name,
                        filename,
                        bytes: bytes.to_vec(),
                    });
                } else {
                    if bytes.len() > MAX_TEXT_PART {
                        return Err(QbtError::bad_request(format!(
                            "{name}: longer than {MAX_TEXT_PART} bytes"
                        )));
                    }
                    let text = String::from_utf8(bytes.to_vec())
                        .map_err(|_| QbtError::bad_request(format!("{name}: not UTF-8 text")))?;
                    form.fields.push((name, text));
                }
            }
            return Ok(form);
        }
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|e| QbtError::bad_request(format!("request body: {e}")))?;
        if !body.is_empty() {
            form.push_urlencoded(&body);
        }
        Ok(form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    async fn parse(req: Request) -> Result<QbtForm, QbtError> {
        QbtForm::from_request(req, &()).await
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn query_and_urlencoded_body_are_merged_body_last() {
        let req = Request::builder()
            .method("POST")
            .uri("/x?hashes=aa&filter=all")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("hashes=BB%7Ccc&deleteFiles=true"))
            .unwrap();
        let form = block_on(parse(req)).unwrap();
        assert_eq!(form.get("filter"), Some("all"));
        assert_eq!(
            form.hashes().unwrap(),
            HashSelection::Some(vec!["bb".into(), "cc".into()])
        );
        assert_eq!(form.bool("deleteFiles").unwrap(), Some(true));
        assert_eq!(form.bool("missing").unwrap(), None);
        let e = QbtForm {
            fields: vec![("paused".into(), "maybe".into())],
            files: vec![],
        }
        .bool("paused")
        .unwrap_err();
        assert!(e.body.starts_with("paused:"));
    }

    #[test]
    fn multipart_gives_fields_and_files() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\ntv\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"a.torrent\"\r\n\
                    Content-Type: application/x-bittorrent\r\n\r\nd4:infoe\r\n--XyZ--\r\n";
        let req = Request::builder()
            .method("POST")
            .uri("/api/v2/torrents/add")
            .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(body))
            .unwrap();
        let form = block_on(parse(req)).unwrap();
        assert_eq!(form.get("category"), Some("tv"));
        assert_eq!(form.files.len(), 1);
        assert_eq!(form.files[0].bytes, b"d4:infoe");
        assert_eq!(form.files[0].filename.as_deref(), Some("a.torrent"));
    }

    #[test]
    fn a_broken_multipart_body_is_a_400() {
        let req = Request::builder()
            .method("POST")
            .uri("/x")
            .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(
                "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
            ))
            .unwrap();
        assert_eq!(block_on(parse(req)).unwrap_err().status, 400);
        assert_eq!(
            QbtForm::default().hashes().unwrap_err().body,
            "missing parameter: hashes"
        );
    }
}
