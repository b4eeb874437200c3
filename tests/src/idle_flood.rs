//! Peers that complete the handshake and then only send keep-alives: the attack
//! that used to take every connection slot of a torrent.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::wire::{Handshake, Reserved};
use ccbt_engine::{InfoHash, PeerId};

use crate::stop_on_drop::StopOnDrop;

/// How often the flood sends keep-alives and looks for closed connections.
const ROUND: Duration = Duration::from_millis(250);
/// Longest a flood runs, whatever the test does.
const MAX_RUN: Duration = Duration::from_secs(300);

/// A running flood; stops when dropped.
pub struct IdleFlood {
    /// Connections still open (as of the last round).
    pub open: Arc<AtomicUsize>,
    /// Stops its threads when this handle drops.
    _stop: StopOnDrop,
}

impl IdleFlood {
    /// Opens one connection to `target` from each of `sources` (an address may
    /// repeat), handshakes for `info_hash`, then sends only keep-alives.
    pub fn start(target: SocketAddr, info_hash: InfoHash, sources: Vec<IpAddr>) -> IdleFlood {
        let open = Arc::new(AtomicUsize::new(usize::MAX));
        let stop = StopOnDrop::default();
        let (o, s) = (open.clone(), stop.flag());
        std::thread::spawn(move || run(target, info_hash, sources, &o, &s));
        IdleFlood { open, _stop: stop }
    }
}

fn connect_from(source: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(target), socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&target.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

fn run(target: SocketAddr, info_hash: InfoHash, sources: Vec<IpAddr>, open: &AtomicUsize, stop: &AtomicBool) {
    let mut streams = Vec::new();
    for (i, source) in sources.into_iter().enumerate() {
        let Ok(mut stream) = connect_from(source, target) else {
            continue;
        };
        let mut id = *b"-IF0001-000000000000";
        id[8..20].copy_from_slice(format!("{i:012}").as_bytes());
        let ours = Handshake {
            reserved: Reserved([0; 8]),
            info_hash,
            peer_id: PeerId(id),
        };
        if stream.write_all(&ours.encode()).is_ok() && stream.set_nonblocking(true).is_ok() {
            streams.push(stream);
        }
    }
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stop.load(Ordering::Relaxed) || started.elapsed() > MAX_RUN {
            return;
        }
        streams.retain_mut(|s| {
            // Read whatever the peer says (and notice when it closes us).
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => return false,
                }
            }
            !matches!(s.write(&[0, 0, 0, 0]), Err(e) if e.kind() != ErrorKind::WouldBlock)
        });
        open.store(streams.len(), Ordering::Relaxed);
        std::thread::sleep(ROUND);
    }
}
