//! Test fakes on 127.0.0.1: an HTTP(S) server with a scripted handler and a BEP 15
//! tracker, each on its own std thread, stopped and joined on drop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ccbt_engine::tracker::udp::{encode_response, parse_request, IpFamily, Request, Response};
use ccbt_engine::tracker::{AnnounceRequest, AnnounceResponse, ScrapeStats};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub(crate) const CA_PEM: &[u8] = include_bytes!("testdata/ca.pem");
const LEAF_PEM: &[u8] = include_bytes!("testdata/leaf.pem");
const LEAF_KEY: &[u8] = include_bytes!("testdata/leaf.key");

/// What the fake HTTP server does with one request.
pub(crate) enum Reply {
    /// Write these bytes, then close.
    Bytes(Vec<u8>),
    /// Say nothing for this long, then close.
    Hang(Duration),
}

/// A `200 OK` with `Content-Length` around `body`.
pub(crate) fn ok(body: &[u8]) -> Reply {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    Reply::Bytes(r)
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A scripted HTTP/1.1 server; `requests` holds each request head received.
pub(crate) struct FakeHttp {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    let cert = CertificateDer::from_pem_slice(LEAF_PEM).unwrap();
    let key = PrivateKeyDer::from_pem_slice(LEAF_KEY).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    )
}

/// A client TLS config that trusts the test CA.
pub(crate) fn client_tls() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(CA_PEM).unwrap()).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn serve<S: Read + Write>(mut s: S, handler: &Handler, requests: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("").to_string();
    requests.lock().unwrap().push(head);
    match handler(&target) {
        Reply::Bytes(b) => {
            let _ = s.write_all(&b);
            let _ = s.flush();
        }
        Reply::Hang(d) => std::thread::sleep(d),
    }
}

impl FakeHttp {
    pub(crate) fn start(tls: bool, handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let (reqs, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let tls_cfg = tls.then(server_tls);
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, reqs, tls_cfg) = (handler.clone(), reqs.clone(), tls_cfg.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                    match tls_cfg {
                        None => serve(conn, &handler, &reqs),
                        Some(cfg) => {
                            let tls = rustls::ServerConnection::new(cfg).unwrap();
                            let mut stream = rustls::StreamOwned::new(tls, conn);
                            serve(&mut stream, &handler, &reqs);
                            stream.conn.send_close_notify();
                            let _ = stream.flush();
                        }
                    }
                });
            }
        });
        FakeHttp {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn heads(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A BEP 15 tracker answering every announce with `peers` and fixed counts.
pub(crate) struct FakeUdp {
    pub addr: SocketAddr,
    pub announces: Arc<Mutex<Vec<AnnounceRequest>>>,
    pub scrapes: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The connection id the fake hands out.
pub(crate) const FAKE_CONNECTION_ID: u64 = 0x0123_4567_89AB_CDEF;

impl FakeUdp {
    pub(crate) fn start(interval: u32, peers: Vec<SocketAddr>) -> FakeUdp {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let addr = socket.local_addr().unwrap();
        let announces = Arc::new(Mutex::new(Vec::new()));
        let scrapes = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ann, scr, stopping) = (announces.clone(), scrapes.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::SeqCst) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let reply = match parse_request(&buf[..n]) {
                    Ok(Request::Connect { transaction_id }) => Response::Connect {
                        transaction_id,
                        connection_id: FAKE_CONNECTION_ID,
                    },
                    Ok(Request::Announce {
                        connection_id,
                        transaction_id,
                        request,
                    }) if connection_id == FAKE_CONNECTION_ID => {
                        ann.lock().unwrap().push(request);
                        Response::Announce {
                            transaction_id,
                            response: AnnounceResponse {
                                interval: Some(Duration::from_secs(u64::from(interval))),
                                seeders: Some(2),
                                leechers: Some(1),
                                peers: peers.clone(),
                                ..AnnounceResponse::default()
                            },
                        }
                    }
                    Ok(Request::Scrape {
                        connection_id,
                        transaction_id,
                        info_hashes,
                    }) if connection_id == FAKE_CONNECTION_ID => {
                        *scr.lock().unwrap() += 1;
                        let stats = ScrapeStats {
                            seeders: 2,
                            completed: 7,
                            leechers: 1,
                        };
                        Response::Scrape {
                            transaction_id,
                            stats: vec![stats; info_hashes.len()],
                        }
                    }
                    _ => continue,
                };
                let _ = socket.send_to(&encode_response(&reply, IpFamily::V4), from);
            }
        });
        FakeUdp {
            addr,
            announces,
            scrapes,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("udp://{}/announce", self.addr)
    }

    pub(crate) fn announced(&self) -> Vec<AnnounceRequest> {
        self.announces.lock().unwrap().clone()
    }
}

impl Drop for FakeUdp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
