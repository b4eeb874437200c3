use std::time::Instant;

use super::*;
use crate::tracker::fake::{client_tls, ok, FakeHttp, Reply};

use crate::test_executor::run;

fn limits(max_body: usize) -> HttpLimits {
    HttpLimits {
        timeout: Duration::from_secs(5),
        max_body,
        tls: None,
    }
}

fn raw(bytes: &[u8]) -> Reply {
    Reply::Bytes(bytes.to_vec())
}

#[test]
fn parses_urls() {
    let u = HttpUrl::parse("http://tracker.example/announce?a=1#frag").unwrap();
    assert_eq!(
        u,
        HttpUrl {
            tls: false,
            host: "tracker.example".into(),
            port: 80,
            target: "/announce?a=1".into()
        }
    );
    assert_eq!(u.host_header(), "tracker.example");
    let u = HttpUrl::parse("HTTPS://[2001:db8::1]:8443?x").unwrap();
    assert_eq!(
        (u.tls, u.host.as_str(), u.port, u.target.as_str()),
        (true, "2001:db8::1", 8443, "/?x")
    );
    assert_eq!(u.host_header(), "[2001:db8::1]:8443");
    let u = HttpUrl::parse("https://t.example").unwrap();
    assert_eq!((u.port, u.target.as_str()), (443, "/"));
    for bad in [
        "ftp://t/",
        "http://",
        "http://t:0/",
        "http://t:99999/",
        "http://t:x/",
        "http://user@t/",
        "http://[::1/",
        "http://[zz]/",
        "http://t/a b",
        "http://t/a\r\nX: y",
        "http://t\r\n/",
    ] {
        assert!(
            matches!(HttpUrl::parse(bad), Err(TrackerIoError::BadUrl { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn status_lines_and_chunk_sizes() {
    assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), Some((200, "OK".into())));
    assert_eq!(
        parse_status_line(b"HTTP/1.0 404 Not Found"),
        Some((404, "Not Found".into()))
    );
    assert_eq!(parse_status_line(b"HTTP/1.1 204"), Some((204, String::new())));
    assert_eq!(parse_status_line(b"HTTP/2 200 OK"), None);
    assert_eq!(parse_status_line(b"HTTP/1.1 2000 OK"), None);
    assert_eq!(parse_status_line(b"ICY 200 OK"), None);
    assert_eq!(parse_chunk_size(b"1a"), Some(26));
    assert_eq!(parse_chunk_size(b"1A;name=v"), Some(26));
    assert_eq!(parse_chunk_size(b""), None);
    assert_eq!(parse_chunk_size(b"-1"), None);
    assert_eq!(parse_chunk_size(b"ffffffffffffffffff"), None);
}

#[test]
fn content_length_body_and_request_format() {
    let server = FakeHttp::start(false, |_| ok(b"hello"));
    let url = server.url("/announce?info_hash=%00%FF");
    let port = server.addr.port();
    run(move || async move {
        assert_eq!(get(&url, &limits(100)).await.unwrap(), b"hello");
    });
    assert_eq!(
        server.heads(),
        vec![format!(
            "GET /announce?info_hash=%00%FF HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: ccbt/0.1\r\n\
             Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
        )]
    );
}

#[test]
fn chunked_and_until_close_bodies() {
    let server = FakeHttp::start(false, |target| {
        match target {
        "/chunked" => raw(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n",
        ),
        _ => raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"),
    }
    });
    let (a, b) = (server.url("/chunked"), server.url("/eof"));
    run(move || async move {
        assert_eq!(get(&a, &limits(100)).await.unwrap(), b"hello world");
        assert_eq!(get(&b, &limits(100)).await.unwrap(), b"until the end");
        assert_eq!(get(&b, &limits(13)).await.unwrap(), b"until the end", "exactly the cap");
    });
}

#[test]
fn oversize_bodies_are_refused() {
    let server = FakeHttp::start(false, |target| match target {
        "/length" => raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\nabc"),
        "/chunked" => {
            raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
        }
        "/headers" => {
            let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..2000 {
                r.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(20)).as_bytes());
            }
            Reply::Bytes(r)
        }
        _ => raw(b"HTTP/1.1 200 OK\r\n\r\n0123456789abcdef"),
    });
    let urls: Vec<String> = ["/length", "/chunked", "/eof"].iter().map(|p| server.url(p)).collect();
    let headers = server.url("/headers");
    run(move || async move {
        for url in &urls {
            let err = get(url, &limits(10)).await.unwrap_err();
            assert!(matches!(err, TrackerIoError::TooLarge { max: 10, .. }), "{url}: {err}");
        }
        let err = get(&headers, &limits(10)).await.unwrap_err();
        assert!(matches!(err, TrackerIoError::Http { .. }), "{err}");
    });
}

#[test]
fn malformed_framing_is_an_error() {
    let server = FakeHttp::start(false, |target| match target {
        "/short" => raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        "/badchunk" => raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        "/gzip" => raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
        "/truncated" => raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"),
        _ => raw(b"garbage\r\n\r\n"),
    });
    let urls: Vec<String> = ["/short", "/badchunk", "/gzip", "/truncated", "/garbage"]
        .iter()
        .map(|p| server.url(p))
        .collect();
    run(move || async move {
        for url in &urls {
            let err = get(url, &limits(100)).await.unwrap_err();
            assert!(matches!(err, TrackerIoError::Http { .. }), "{url}: {err}");
            assert!(err.to_string().contains("127.0.0.1"), "errors name the tracker: {err}");
        }
    });
}

#[test]
fn non_2xx_status_names_the_status() {
    let server = FakeHttp::start(false, |_| {
        raw(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!")
    });
    let url = server.url("/announce?x=1");
    run(move || async move {
        let err = get(&url, &limits(100)).await.unwrap_err();
        assert!(
            matches!(&err, TrackerIoError::Status { status: 404, reason, .. } if reason == "Not Found"),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("404") && text.contains("/announce") && !text.contains("x=1"),
            "{text}"
        );
    });
}

#[test]
fn a_silent_server_times_out() {
    let server = FakeHttp::start(false, |_| Reply::Hang(Duration::from_secs(3)));
    let url = server.url("/announce");
    run(move || async move {
        let start = Instant::now();
        let l = HttpLimits {
            timeout: Duration::from_millis(300),
            ..limits(100)
        };
        let err = get(&url, &l).await.unwrap_err();
        assert!(matches!(err, TrackerIoError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn a_closed_port_fails_to_connect() {
    // Bind and drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    run(move || async move {
        let err = get(&format!("http://127.0.0.1:{port}/announce"), &limits(100))
            .await
            .unwrap_err();
        assert!(matches!(err, TrackerIoError::Connect { .. }), "{err}");
    });
}

#[test]
fn https_with_rustls() {
    let server = FakeHttp::start(true, |_| {
        raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecret\r\n0\r\n\r\n")
    });
    let url = format!("https://localhost:{}/announce", server.addr.port());
    let by_ip = format!("https://127.0.0.1:{}/announce", server.addr.port());
    run(move || async move {
        let trusted = HttpLimits {
            tls: Some(client_tls()),
            ..limits(100)
        };
        assert_eq!(get(&url, &trusted).await.unwrap(), b"secret");
        assert_eq!(get(&by_ip, &trusted).await.unwrap(), b"secret");
        // The default roots do not know the test CA.
        let err = get(&url, &limits(100)).await.unwrap_err();
        assert!(matches!(err, TrackerIoError::Tls { .. }), "{err}");
    });
    assert!(server
        .heads()
        .iter()
        .all(|h| h.starts_with("GET /announce HTTP/1.1\r\n")));
}
