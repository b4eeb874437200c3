//! Loopback ports: a free one for each client, and whether something listens.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::Duration;

static PORTS_GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port free on 127.0.0.1 for TCP and UDP (and on ::1 for TCP, where IPv6 is up):
/// binds 127.0.0.1:0, reads the port, drops it. Never returns the same port twice in
/// one process.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let port = {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
            l.local_addr().unwrap().port()
        };
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        if TcpListener::bind(("::1", 0)).is_ok() && TcpListener::bind(("::1", port)).is_err() {
            continue;
        }
        let mut given = PORTS_GIVEN.lock().unwrap();
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no free loopback port found in 100 tries");
}

/// Whether something accepts TCP connections on `addr` (1 s connect timeout).
pub fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}
