//! Connections that say hostile things after (or instead of) a handshake: huge
//! length prefixes, wrong bitfields, out-of-range requests and haves, broken
//! extension dictionaries, plain noise. Each one runs on its own connection from
//! 127.0.0.2 (bans are by IP; honest peers live elsewhere) and reports whether the
//! other side closed it.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ccbt_engine::wire::{Handshake, Reserved};
use ccbt_engine::{InfoHash, PeerId};
use rand::{RngCore, SeedableRng};

/// Where every garbage connection comes from.
pub const GARBAGE_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// One hostile script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Garbage {
    /// A length prefix near 4 GiB, then 1 MiB of noise: must be refused, not allocated.
    HugeLength,
    /// A BITFIELD a few bytes longer than the torrent needs.
    WrongBitfieldLength,
    /// A REQUEST for a piece the torrent does not have.
    RequestOutOfRange,
    /// A REQUEST for 1 MiB in one block.
    OversizedRequest,
    /// A HAVE for piece 0xFFFF_FFFF.
    HaveOutOfRange,
    /// An extension handshake whose bencode nests 100,000 lists deep.
    DeepExtensionHandshake,
    /// A message id nobody defined, with 100 KiB of payload.
    UnknownMessage,
    /// 4 MiB of noise after the handshake.
    NoiseAfterHandshake,
    /// 64 KiB of noise instead of a handshake.
    NoiseInsteadOfHandshake,
    /// Half a handshake, then nothing.
    HalfHandshake,
}

impl Garbage {
    pub const ALL: [Garbage; 10] = [
        Garbage::HugeLength,
        Garbage::WrongBitfieldLength,
        Garbage::RequestOutOfRange,
        Garbage::OversizedRequest,
        Garbage::HaveOutOfRange,
        Garbage::DeepExtensionHandshake,
        Garbage::UnknownMessage,
        Garbage::NoiseAfterHandshake,
        Garbage::NoiseInsteadOfHandshake,
        Garbage::HalfHandshake,
    ];

    /// Whether the script breaks the base protocol, so the peer must hang up.
    pub fn must_be_dropped(self) -> bool {
        !matches!(
            self,
            // An extension dictionary we cannot read, or a message id we do not
            // know, need not end the connection (BEP 10 and BEP 3 leave room).
            Garbage::DeepExtensionHandshake | Garbage::UnknownMessage | Garbage::HalfHandshake
        )
    }
}

/// What became of one script's connection.
#[derive(Debug)]
pub struct GarbageOutcome {
    pub script: Garbage,
    /// The connection was made and the script written (in part, if the peer hung up).
    pub sent: bool,
    /// The other side closed the connection within the wait.
    pub closed_by_peer: bool,
}

fn frame(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.extend_from_slice(&(payload.len() as u32 + 1).to_be_bytes());
    out.push(id);
    out.extend_from_slice(payload);
    out
}

fn request(piece: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&piece.to_be_bytes());
    p.extend_from_slice(&offset.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    frame(6, &p)
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// The bytes a script writes. The handshake (when there is one) offers BEP 10
/// and the Fast extension, so every message kind is fair game.
fn script_bytes(script: Garbage, info_hash: InfoHash, num_pieces: u32, n: u64) -> Vec<u8> {
    let mut id = *b"-GP0001-000000000000";
    id[8..].copy_from_slice(format!("{n:012}").as_bytes());
    let mut reserved = [0u8; 8];
    reserved[5] |= 0x10; // BEP 10
    reserved[7] |= 0x04; // BEP 6
    let hs = Handshake {
        reserved: Reserved(reserved),
        info_hash,
        peer_id: PeerId(id),
    }
    .encode()
    .to_vec();
    let mut out = match script {
        Garbage::NoiseInsteadOfHandshake => return noise(64 * 1024, n),
        Garbage::HalfHandshake => return hs[..30].to_vec(),
        _ => hs,
    };
    match script {
        Garbage::HugeLength => {
            out.extend_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
            out.extend_from_slice(&noise(1024 * 1024, n));
        }
        Garbage::WrongBitfieldLength => {
            out.extend_from_slice(&frame(5, &vec![0xFF; num_pieces.div_ceil(8) as usize + 7]))
        }
        Garbage::RequestOutOfRange => out.extend_from_slice(&request(num_pieces + 10, 0, 16 * 1024)),
        Garbage::OversizedRequest => out.extend_from_slice(&request(0, 0, 1024 * 1024)),
        Garbage::HaveOutOfRange => out.extend_from_slice(&frame(4, &u32::MAX.to_be_bytes())),
        Garbage::DeepExtensionHandshake => {
            let mut payload = vec![0u8];
            payload.extend(std::iter::repeat_n(b'l', 100_000));
            out.extend_from_slice(&frame(20, &payload));
        }
        Garbage::UnknownMessage => out.extend_from_slice(&frame(250, &noise(100 * 1024, n))),
        Garbage::NoiseAfterHandshake => out.extend_from_slice(&noise(4 * 1024 * 1024, n)),
        Garbage::NoiseInsteadOfHandshake | Garbage::HalfHandshake => {}
    }
    out
}

fn connect_from(source: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(target), socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&target.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// Runs one script against `target` and waits up to `wait` for the other side to
/// hang up (reading and discarding whatever it says meanwhile).
pub fn run_script(
    script: Garbage,
    target: SocketAddr,
    info_hash: InfoHash,
    num_pieces: u32,
    n: u64,
    wait: Duration,
) -> GarbageOutcome {
    let mut outcome = GarbageOutcome {
        script,
        sent: false,
        closed_by_peer: false,
    };
    let Ok(mut stream) = connect_from(GARBAGE_SOURCE, target) else {
        return outcome;
    };
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let bytes = script_bytes(script, info_hash, num_pieces, n);
    // The peer may hang up part-way through a long script: that counts as sent.
    outcome.sent = match stream.write_all(&bytes) {
        Ok(()) => true,
        Err(e) => matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => {
                outcome.closed_by_peer = true;
                break;
            }
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => {
                outcome.closed_by_peer = true;
                break;
            }
        }
    }
    outcome
}
