//! A minimal HTTP/1.1 GET client over glommio's `TcpStream`, with HTTPS through rustls'
//! sans-IO `ClientConnection` (no tokio).
//!
//! Enough for trackers and nothing more: one GET per connection (`Connection: close`),
//! bodies framed by `Content-Length`, chunked encoding or end of stream, no redirects,
//! no compression. Every step is bounded: one deadline covers DNS, connect, TLS and
//! reading, and the body is refused as soon as it would exceed the caller's cap.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::{display_url, resolve, split_host_port, TrackerIoError};

/// Connect timeout per address tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of status line and headers accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line accepted (size plus extensions).
pub const MAX_CHUNK_LINE: usize = 1024;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Longest reason phrase kept for errors.
const MAX_REASON_LEN: usize = 128;

/// An `http://` or `https://` URL split for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https`.
    pub tls: bool,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port, defaulted from the scheme.
    pub port: u16,
    /// Path and query, starting with `/`; no fragment.
    pub target: String,
}

impl HttpUrl {
    /// Parses `url`; refuses other schemes, user info, bad ports and any byte in the
    /// target that could break the request line (spaces, controls).
    pub fn parse(url: &str) -> Result<HttpUrl, TrackerIoError> {
        let bad = |reason| TrackerIoError::BadUrl {
            url: display_url(url),
            reason,
        };
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let (tls, rest) = if lower.starts_with("http://") {
            (false, &url[7..])
        } else if lower.starts_with("https://") {
            (true, &url[8..])
        } else {
            return Err(bad("not an http:// or https:// URL"));
        };
        let rest = rest.split('#').next().unwrap_or(rest);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("user info in URLs is not supported"));
        }
        let (host, port) =
            split_host_port(authority, Some(if tls { 443 } else { 80 })).ok_or_else(|| bad("bad host or port"))?;
        let target = match target.chars().next() {
            None => "/".to_string(),
            Some('?') => format!("/{target}"),
            Some(_) => target.to_string(),
        };
        if !target.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("spaces or control bytes in the path"));
        }
        Ok(HttpUrl {
            tls,
            host,
            port,
            target,
        })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

thread_local! {
    // Parsing the root store costs milliseconds; one config per executor thread.
    static DEFAULT_TLS: RefCell<Option<Arc<ClientConfig>>> = const { RefCell::new(None) };
}

/// The TLS configuration used unless one is given: Mozilla's roots (webpki-roots) and
/// the `ring` provider.
pub fn default_tls_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    if let Some(cfg) = DEFAULT_TLS.with(|c| c.borrow().clone()) {
        return Ok(cfg);
    }
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let cfg = Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    DEFAULT_TLS.with(|c| *c.borrow_mut() = Some(cfg.clone()));
    Ok(cfg)
}

/// Bounds of one GET.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Everything (DNS, connect, TLS, request, response) must finish within this.
    pub timeout: Duration,
    /// Largest body accepted.
    pub max_body: usize,
    /// TLS configuration for `https`; `None` uses [`default_tls_config`].
    pub tls: Option<Arc<ClientConfig>>,
}

/// Fetches `url` and returns the body of a 2xx response.
pub async fn get(url: &str, limits: &HttpLimits) -> Result<Vec<u8>, TrackerIoError> {
    let timeout = limits.timeout;
    futures_lite::future::or(fetch(url, limits), async move {
        glommio::timer::sleep(timeout).await;
        Err(TrackerIoError::Timeout {
            url: display_url(url),
            during: "fetching over HTTP",
            after: timeout,
        })
    })
    .await
}

async fn fetch(url: &str, limits: &HttpLimits) -> Result<Vec<u8>, TrackerIoError> {
    let parsed = HttpUrl::parse(url)?;
    let addrs = resolve(url, &parsed.host, parsed.port).await?;
    let stream = connect(url, &addrs).await?;
    let _ = stream.set_nodelay(true);
    let tls = if parsed.tls {
        let tls_err = |source| TrackerIoError::Tls {
            url: display_url(url),
            source,
        };
        let cfg = match &limits.tls {
            Some(cfg) => cfg.clone(),
            None => default_tls_config().map_err(tls_err)?,
        };
        let name = ServerName::try_from(parsed.host.clone()).map_err(|_| TrackerIoError::BadUrl {
            url: display_url(url),
            reason: "host is not a valid TLS server name",
        })?;
        Some(Box::new(ClientConnection::new(cfg, name).map_err(tls_err)?))
    } else {
        None
    };
    let mut conn = Conn {
        url,
        stream,
        tls,
        buf: Vec::with_capacity(READ_CHUNK),
        pos: 0,
        eof: false,
        raw: Vec::new(),
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ccbt/0.1\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        parsed.target,
        parsed.host_header()
    );
    conn.send(request.as_bytes()).await?;
    read_response(&mut conn, limits.max_body).await
}

async fn connect(url: &str, addrs: &[SocketAddr]) -> Result<TcpStream, TrackerIoError> {
    let mut last = None;
    for &addr in addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some((addr, e.to_string())),
        }
    }
    let (addr, reason) = last.unwrap_or_else(|| (SocketAddr::from(([0, 0, 0, 0], 0)), "no address".into()));
    Err(TrackerIoError::Connect {
        url: display_url(url),
        addr,
        reason,
    })
}

/// A connection with a read buffer; `buf[pos..]` is received but not yet consumed.
struct Conn<'a> {
    url: &'a str,
    stream: TcpStream,
    tls: Option<Box<ClientConnection>>,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// TLS records received but not yet fed to rustls.
    raw: Vec<u8>,
}

impl Conn<'_> {
    fn io_err(&self, during: &'static str) -> impl Fn(std::io::Error) -> TrackerIoError + '_ {
        move |source| TrackerIoError::Io {
            url: display_url(self.url),
            during,
            source,
        }
    }

    fn tls_err(&self, source: rustls::Error) -> TrackerIoError {
        TrackerIoError::Tls {
            url: display_url(self.url),
            source,
        }
    }

    async fn send(&mut self, data: &[u8]) -> Result<(), TrackerIoError> {
        match self.tls.as_mut() {
            None => self
                .stream
                .write_all(data)
                .await
                .map_err(self.io_err("sending the request")),
            Some(tls) => {
                tls.writer()
                    .write_all(data)
                    .map_err(self.io_err("sending the request"))?;
                self.flush_tls().await
            }
        }
    }

    /// Sends whatever TLS records rustls has queued.
    async fn flush_tls(&mut self) -> Result<(), TrackerIoError> {
        let Some(tls) = self.tls.as_mut() else { return Ok(()) };
        let mut out = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut out).map_err(|e| TrackerIoError::Io {
                url: display_url(self.url),
                during: "encrypting",
                source: e,
            })?;
        }
        if !out.is_empty() {
            self.stream
                .write_all(&out)
                .await
                .map_err(self.io_err("sending TLS records"))?;
        }
        Ok(())
    }

    /// Appends decrypted (or plain) bytes to `buf`; returns how many, 0 at the end.
    async fn fill(&mut self) -> Result<usize, TrackerIoError> {
        if self.eof {
            return Ok(0);
        }
        // Drop consumed bytes so the buffer holds only what is still to be parsed.
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; READ_CHUNK];
        let n = if self.tls.is_some() {
            self.read_tls(&mut chunk).await?
        } else {
            self.stream
                .read(&mut chunk)
                .await
                .map_err(self.io_err("reading the response"))?
        };
        if n == 0 {
            self.eof = true;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Decrypted bytes into `out`. Plaintext already decrypted is handed out before
    /// more records are fed to rustls, so its bounded plaintext buffer never overflows.
    async fn read_tls(&mut self, out: &mut [u8]) -> Result<usize, TrackerIoError> {
        let mut socket_eof = false;
        loop {
            let Some(tls) = self.tls.as_mut() else { return Ok(0) };
            match tls.reader().read(out) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !socket_eof => {}
                // The server closed without close_notify; with `Connection: close`
                // that is common, and the body framing says whether anything is missing.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    return Ok(0)
                }
                Err(e) => return Err(self.io_err("decrypting the response")(e)),
            }
            if self.raw.is_empty() {
                self.flush_tls().await?;
                let mut chunk = [0u8; READ_CHUNK];
                let n = self
                    .stream
                    .read(&mut chunk)
                    .await
                    .map_err(self.io_err("reading the response"))?;
                self.raw.extend_from_slice(&chunk[..n]);
                socket_eof = n == 0;
            }
            let Some(tls) = self.tls.as_mut() else { return Ok(0) };
            let mut slice = self.raw.as_slice();
            let fed = tls.read_tls(&mut slice);
            let consumed = self.raw.len() - slice.len();
            self.raw.drain(..consumed);
            fed.map_err(self.io_err("reading TLS records"))?;
            let Some(tls) = self.tls.as_mut() else { return Ok(0) };
            if let Err(e) = tls.process_new_packets() {
                let err = self.tls_err(e);
                // Let the server see our alert; best-effort.
                let _ = self.flush_tls().await;
                return Err(err);
            }
        }
    }

    /// The next line (without CRLF), at most `max` bytes.
    async fn line(&mut self, max: usize, what: &'static str) -> Result<Vec<u8>, TrackerIoError> {
        loop {
            let pending = &self.buf[self.pos..];
            if let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                let line = pending[..i].to_vec();
                self.pos += i + 2;
                return Ok(line);
            }
            if pending.len() > max {
                return Err(self.http_err(what));
            }
            if self.fill().await? == 0 {
                return Err(self.http_err("connection closed inside the headers or a chunk header"));
            }
        }
    }

    /// Moves up to `n` body bytes to `out`; fewer only at the end of the stream.
    async fn take(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<usize, TrackerIoError> {
        let mut moved = 0;
        while n > 0 {
            if self.pos == self.buf.len() && self.fill().await? == 0 {
                break;
            }
            let avail = (self.buf.len() - self.pos).min(n);
            out.extend_from_slice(&self.buf[self.pos..self.pos + avail]);
            self.pos += avail;
            n -= avail;
            moved += avail;
        }
        Ok(moved)
    }

    fn http_err(&self, reason: &'static str) -> TrackerIoError {
        TrackerIoError::Http {
            url: display_url(self.url),
            reason,
        }
    }

    fn too_large(&self, max: usize) -> TrackerIoError {
        TrackerIoError::TooLarge {
            url: display_url(self.url),
            max,
        }
    }
}

/// How the body is delimited.
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

async fn read_response(conn: &mut Conn<'_>, max_body: usize) -> Result<Vec<u8>, TrackerIoError> {
    let status_line = conn.line(MAX_HEADER_BYTES, "status line too long").await?;
    let (status, reason) = parse_status_line(&status_line).ok_or_else(|| conn.http_err("bad status line"))?;
    let mut header_bytes = status_line.len();
    let mut framing = Framing::UntilClose;
    let mut headers = 0;
    loop {
        let line = conn.line(MAX_HEADER_BYTES, "header line too long").await?;
        if line.is_empty() {
            break;
        }
        headers += 1;
        header_bytes += line.len() + 2;
        if headers > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
            return Err(conn.http_err("too many header bytes"));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(conn.http_err("header line without a colon"));
        };
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&line[colon + 1..]).trim().to_ascii_lowercase();
        match name.as_str() {
            "transfer-encoding" => {
                // Chunked must be the last coding; anything else is a coding we
                // did not ask for.
                if value.rsplit(',').next().map(str::trim) == Some("chunked") {
                    framing = Framing::Chunked;
                } else {
                    return Err(conn.http_err("unsupported transfer encoding"));
                }
            }
            "content-length" if !matches!(framing, Framing::Chunked) => {
                let n = value.parse::<u64>().map_err(|_| conn.http_err("bad Content-Length"))?;
                if let Framing::Length(prev) = framing {
                    if prev != n {
                        return Err(conn.http_err("conflicting Content-Length headers"));
                    }
                }
                framing = Framing::Length(n);
            }
            _ => {}
        }
    }
    if !(200..300).contains(&status) {
        return Err(TrackerIoError::Status {
            url: display_url(conn.url),
            status,
            reason,
        });
    }
    let mut body = Vec::new();
    match framing {
        Framing::Length(n) => {
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= max_body)
                .ok_or_else(|| conn.too_large(max_body))?;
            body.reserve_exact(n);
            if conn.take(n, &mut body).await? < n {
                return Err(conn.http_err("body shorter than Content-Length"));
            }
        }
        Framing::UntilClose => {
            let room = max_body - body.len();
            // Reading exactly up to the cap is fine; one byte more is too much.
            if conn.take(room, &mut body).await? == room && (conn.pos < conn.buf.len() || conn.fill().await? > 0) {
                return Err(conn.too_large(max_body));
            }
        }
        Framing::Chunked => loop {
            let line = conn.line(MAX_CHUNK_LINE, "chunk size line too long").await?;
            let size = parse_chunk_size(&line).ok_or_else(|| conn.http_err("bad chunk size"))?;
            if size == 0 {
                // Trailers, bounded like headers, then the final empty line.
                for _ in 0..=MAX_HEADERS {
                    if conn.line(MAX_HEADER_BYTES, "trailer line too long").await?.is_empty() {
                        return Ok(body);
                    }
                }
                return Err(conn.http_err("too many trailers"));
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|&s| s <= max_body - body.len())
                .ok_or_else(|| conn.too_large(max_body))?;
            if conn.take(size, &mut body).await? < size {
                return Err(conn.http_err("connection closed inside a chunk"));
            }
            if !conn.line(2, "chunk not followed by CRLF").await?.is_empty() {
                return Err(conn.http_err("chunk not followed by CRLF"));
            }
        },
    }
    Ok(body)
}

/// `HTTP/1.x <3 digits> <reason>` → status and a bounded reason phrase.
fn parse_status_line(line: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("HTTP/1.")?;
    let mut parts = rest.splitn(3, ' ');
    let _minor = parts.next().filter(|m| m.len() == 1)?;
    let code = parts
        .next()
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))?;
    let reason: String = parts.next().unwrap_or("").chars().take(MAX_REASON_LEN).collect();
    Some((code.parse().ok()?, reason))
}

/// Hex chunk size, ignoring `;extensions`; `None` if malformed or absurd.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let hex = line.split(|&b| b == b';').next()?;
    let hex = std::str::from_utf8(hex).ok()?.trim();
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests;
