//! One peer connection on glommio TCP: the handshake bytes (checked by the engine's
//! `peer_session` state machine), then a reader that feeds the engine and a writer
//! that drains the peer's outbox in batches. Protocol decisions, timers included
//! (idle peers, keep-alives), are the engine's; this file moves bytes.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use ccbt_engine::peer_session::{Accepting, Dialing, Direction, Established, HandshakeError, PEER_ID_LEN};
use ccbt_engine::torrent::ProtocolViolation;
use ccbt_engine::wire::{encode_piece_header, Message, MessageDecoder, WireError, WireLimits, HANDSHAKE_LEN};
use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::LocalReceiver;
use glommio::net::TcpStream;

use crate::connection_budget::HalfOpenSlot;
use crate::peer_outbox::{new_link, Outbox, Outgoing};
use crate::shard_counters;
use crate::torrent_task::TorrentTask;

/// Longest wait for a TCP connect or a handshake (defined with the session).
pub use ccbt_engine::peer_session::HANDSHAKE_TIMEOUT;

/// Read granularity: enough for several 16 KiB blocks per syscall.
const READ_CHUNK: usize = 256 * 1024;
/// Most bytes asked of one read when no longer frame is pending.
const READ_SLICE: usize = 128 * 1024;
/// Flush the write batch when it grows past this.
const WRITE_BATCH: usize = 512 * 1024;

/// Why a peer connection ended.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("peer {addr}: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
    #[error("peer {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error("peer {addr}: {source}")]
    Wire { addr: SocketAddr, source: WireError },
    #[error("peer {addr}: handshake for another torrent ({got})")]
    WrongTorrent {
        addr: SocketAddr,
        got: ccbt_engine::InfoHash,
    },
    #[error("peer {addr}: connection to ourselves")]
    SelfConnection { addr: SocketAddr },
    #[error("peer {addr}: refused: {reason}")]
    Refused { addr: SocketAddr, reason: String },
    #[error("peer {addr}: timed out during {during}")]
    Timeout { addr: SocketAddr, during: &'static str },
}

pub(crate) fn io_err(addr: SocketAddr) -> impl Fn(std::io::Error) -> PeerError {
    move |source| PeerError::Io { addr, source }
}

async fn with_timeout<T>(
    addr: SocketAddr,
    during: &'static str,
    fut: impl std::future::Future<Output = Result<T, PeerError>>,
) -> Result<T, PeerError> {
    futures_lite::future::or(fut, async {
        glommio::timer::sleep(HANDSHAKE_TIMEOUT).await;
        Err(PeerError::Timeout { addr, during })
    })
    .await
}

/// Dials a peer for this torrent and runs the connection until it ends. `Ok(true)`
/// when the handshake completed (the connection was of use), `Ok(false)` otherwise.
/// `slot` counts the dial against the shard's half-open bound until the handshake ends.
/// The caller ([`TorrentTask`]'s dialling) has already skipped banned addresses.
pub async fn dial(task: Rc<TorrentTask>, addr: SocketAddr, slot: HalfOpenSlot) -> Result<bool, PeerError> {
    let (stream, established) = count_handshake(dial_handshake(addr, task.info_hash, task.our_id()).await)?;
    drop(slot);
    run(task, stream, addr, established).await.map(|()| true)
}

/// Connects to `addr` and exchanges the BEP 3 handshakes (each step bounded by
/// [`HANDSHAKE_TIMEOUT`]); the engine checks theirs. Shared by torrents and by the
/// metadata fetch of magnets.
pub(crate) async fn dial_handshake(
    addr: SocketAddr,
    info_hash: ccbt_engine::InfoHash,
    our_id: ccbt_engine::PeerId,
) -> Result<(TcpStream, Established), PeerError> {
    let mut stream = TcpStream::connect_timeout(addr, HANDSHAKE_TIMEOUT)
        .await
        .map_err(|e| PeerError::Connect {
            addr,
            reason: e.to_string(),
        })?;
    let _ = stream.set_nodelay(true);
    let session = Dialing::new(info_hash, our_id);
    let theirs = with_timeout(addr, "handshake", async {
        stream
            .write_all(&session.handshake_bytes())
            .await
            .map_err(io_err(addr))?;
        let mut buf = [0u8; HANDSHAKE_LEN];
        stream.read_exact(&mut buf).await.map_err(io_err(addr))?;
        Ok(buf)
    })
    .await?;
    let established = session.receive(&theirs).map_err(handshake_err(addr))?;
    Ok((stream, established))
}

/// Continues an incoming connection whose first 48 bytes (up to the info-hash) were
/// read by the listener, possibly on another executor.
pub async fn accept(
    task: Rc<TorrentTask>,
    mut stream: TcpStream,
    addr: SocketAddr,
    prefix: &[u8],
) -> Result<(), PeerError> {
    let session = Accepting::from_prefix(prefix, task.info_hash, task.our_id()).map_err(handshake_err(addr))?;
    // Before a byte of ours goes out: a banned host learns nothing, not even our
    // id, and a held torrent looks like one we do not have.
    refuse_held(&task, addr)?;
    refuse_banned(&task, addr)?;
    let established = count_handshake(answer_handshake(&mut stream, addr, session).await)?;
    run(task, stream, addr, established).await
}

/// Counts a torrent's handshake, done or failed, on the shard's counters (both
/// handshakes went through: 68 bytes each way).
fn count_handshake<T>(result: Result<T, PeerError>) -> Result<T, PeerError> {
    shard_counters::count(|c| match &result {
        Ok(_) => {
            c.handshakes += 1;
            c.protocol_bytes_down += HANDSHAKE_LEN as u64;
            c.protocol_bytes_up += HANDSHAKE_LEN as u64;
        }
        Err(_) => c.handshake_failures += 1,
    });
    result
}

/// Sends our handshake to a peer that dialled us and reads the rest of theirs (the
/// peer id), bounded by [`HANDSHAKE_TIMEOUT`].
pub(crate) async fn answer_handshake(
    stream: &mut TcpStream,
    addr: SocketAddr,
    session: Accepting,
) -> Result<Established, PeerError> {
    let _ = stream.set_nodelay(true);
    let peer_id = with_timeout(addr, "handshake", async {
        stream
            .write_all(&session.handshake_bytes())
            .await
            .map_err(io_err(addr))?;
        let mut id = [0u8; PEER_ID_LEN];
        stream.read_exact(&mut id).await.map_err(io_err(addr))?;
        Ok(id)
    })
    .await?;
    session.receive_peer_id(peer_id).map_err(handshake_err(addr))
}

pub(crate) fn handshake_err(addr: SocketAddr) -> impl Fn(HandshakeError) -> PeerError {
    move |e| match e {
        HandshakeError::Wire(source) => PeerError::Wire { addr, source },
        HandshakeError::WrongTorrent { got, .. } => PeerError::WrongTorrent { addr, got },
        HandshakeError::SelfConnection => PeerError::SelfConnection { addr },
    }
}

/// Refuses every peer of a held torrent (see `TorrentTask::hold`).
fn refuse_held(task: &TorrentTask, addr: SocketAddr) -> Result<(), PeerError> {
    if task.is_held() {
        return Err(PeerError::Refused {
            addr,
            reason: "torrent held".into(),
        });
    }
    Ok(())
}

/// Refuses an address the torrent banned for sending corrupt data.
fn refuse_banned(task: &TorrentTask, addr: SocketAddr) -> Result<(), PeerError> {
    if task.is_banned(addr.ip(), Instant::now()) {
        task.budget.refused(ccbt_engine::connection_policy::RefusalKind::Banned);
        return Err(PeerError::Refused {
            addr,
            reason: "address banned for sending corrupt data".into(),
        });
    }
    Ok(())
}

/// Registers the peer with the engine, then reads and writes until either side ends.
async fn run(
    task: Rc<TorrentTask>,
    stream: TcpStream,
    addr: SocketAddr,
    session: Established,
) -> Result<(), PeerError> {
    if task.is_stopped() {
        return Err(PeerError::Refused {
            addr,
            reason: "torrent stopped".into(),
        });
    }
    // A dial that was under way when the torrent was held.
    refuse_held(&task, addr)?;
    // Before admission, which may evict an idle peer to make room for this one.
    if task.engine.borrow().is_connected_to(session.peer_id()) {
        return Err(PeerError::Refused {
            addr,
            reason: "already connected to this peer id".into(),
        });
    }
    // Checked here, with no await before the peer is registered, so connections
    // finishing their handshakes together cannot all slip under the limits.
    let dialed = session.direction() == Direction::Outgoing;
    task.admit(addr, dialed).map_err(|why| PeerError::Refused {
        addr,
        reason: why.to_string(),
    })?;
    let _open_slot = task.budget.open_slot();
    let key = task.next_peer_key();
    let (link, wake_rx, close_rx) = new_link(addr);
    let outbox = link.outbox.clone();
    task.links.borrow_mut().insert(key, link);
    let added = task.engine.borrow_mut().add_peer(key, addr, session, Instant::now());
    if let Err(e) = added {
        task.links.borrow_mut().remove(&key);
        return Err(PeerError::Refused {
            addr,
            reason: e.to_string(),
        });
    }
    if dialed {
        task.peer_connected(addr);
    }
    // A connection's life as spans of the data path (debug: off at the default level).
    let span = tracing::debug_span!("peer", torrent = %task.info_hash, peer = %addr, outgoing = dialed);
    span.in_scope(|| tracing::debug!(?key, "peer connected"));
    task.dispatch();

    let (reader, writer) = futures_lite::io::split(stream);
    let writer_task = glommio::spawn_local(tracing::Instrument::instrument(
        write_loop(task.clone(), key, writer, outbox.clone(), wake_rx),
        tracing::debug_span!(parent: &span, "peer_write"),
    ));
    let reading = futures_lite::future::or(read_loop(&task, key, addr, reader), async {
        close_rx.recv().await;
        Ok(ReadEnd::ClosedByUs)
    });
    let result = tracing::Instrument::instrument(reading, span).await;
    task.links.borrow_mut().remove(&key);
    outbox.close();
    task.engine.borrow_mut().remove_peer(key, Instant::now());
    task.dispatch();
    writer_task.await;
    // Ours (an engine decision, an eviction, a full outbox) are counted where they
    // are decided; a malformed frame is counted by the engine as a violation.
    match &result {
        Ok(ReadEnd::ClosedByPeer) => shard_counters::count(|c| c.disconnects.peer_closed += 1),
        Err(PeerError::Io { .. }) => shard_counters::count(|c| c.disconnects.io_error += 1),
        _ => {}
    }
    result.map(|_| ())
}

/// How a connection's reading ended without an error.
enum ReadEnd {
    /// The peer closed its side.
    ClosedByPeer,
    /// We let the peer go.
    ClosedByUs,
}

async fn read_loop(
    task: &Rc<TorrentTask>,
    key: ccbt_engine::PeerKey,
    addr: SocketAddr,
    mut reader: ReadHalf<TcpStream>,
) -> Result<ReadEnd, PeerError> {
    let limits = WireLimits::default().with_piece_count(task.meta.num_pieces());
    let mut decoder = MessageDecoder::new(limits);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        let want = decoder.bytes_needed(&buf).max(READ_CHUNK / 4);
        let start = buf.len();
        if buf.capacity() - start < want {
            buf.reserve(want.max(READ_CHUNK));
        }
        // Only the bytes this read may fill are zeroed (safe Rust needs them initialized).
        let room = (buf.capacity() - start).min(want.max(READ_SLICE));
        buf.resize(start + room, 0);
        let n = reader.read(&mut buf[start..]).await.map_err(io_err(addr))?;
        buf.truncate(start + n);
        if n == 0 {
            return Ok(ReadEnd::ClosedByPeer);
        }
        let now = Instant::now();
        let (mut payload, mut framed) = (0u64, 0u64);
        loop {
            let before = buf.len();
            let message = match decoder.decode(&mut buf) {
                Ok(message) => message,
                Err(source) => {
                    // Counted by kind with the engine's other violations.
                    let violation = ProtocolViolation::Malformed(source.clone());
                    task.engine.borrow_mut().protocol_violation(key, violation, now);
                    task.dispatch();
                    return Err(PeerError::Wire { addr, source });
                }
            };
            let Some(message) = message else { break };
            framed += (before - buf.len()) as u64;
            if let Message::Piece { data, .. } = &message {
                payload += data.len() as u64;
            }
            log_unreadable_extension_handshake(task, addr, &message);
            task.engine.borrow_mut().on_message(key, message, now);
        }
        shard_counters::count(|c| {
            c.payload_bytes_down += payload;
            c.protocol_bytes_down += framed - payload;
        });
        task.dispatch();
        if !task.links.borrow().contains_key(&key) {
            return Ok(ReadEnd::ClosedByUs);
        }
        let pause = task.charge_download(n as u64);
        if !pause.is_zero() {
            glommio::timer::sleep(pause).await;
        }
    }
}

async fn write_loop(
    task: Rc<TorrentTask>,
    key: ccbt_engine::PeerKey,
    mut writer: WriteHalf<TcpStream>,
    outbox: Rc<Outbox>,
    wake: LocalReceiver<()>,
) {
    let mut buf = BytesMut::with_capacity(WRITE_BATCH);
    let mut sent_blocks: Vec<u32> = Vec::new();
    loop {
        buf.clear();
        sent_blocks.clear();
        if outbox.is_empty() {
            if outbox.is_closed() {
                break;
            }
            // Keep-alives and the idle timeout are the engine's deadlines: just wait.
            if wake.recv().await.is_none() {
                break;
            }
        }
        while buf.len() < WRITE_BATCH {
            let Some(item) = outbox.pop() else { break };
            match item {
                Outgoing::Message(m) => m.encode(&mut buf),
                Outgoing::Serve(block) => {
                    if !task.engine.borrow_mut().take_serve(key, block) {
                        continue;
                    }
                    match task.read_block(block).await {
                        Ok(data) => {
                            encode_piece_header(block.piece, block.offset, block.length, &mut buf);
                            buf.extend_from_slice(&data);
                            sent_blocks.push(block.length);
                        }
                        // No descriptor to read with: this peer goes, the torrent stays.
                        Err(e) if e.is_out_of_descriptors() => {
                            tracing::warn!(torrent = %task.info_hash, "dropping a peer: {e}");
                            return;
                        }
                        Err(e) => {
                            task.fail(format!("torrent {}: {e}", task.info_hash));
                            return;
                        }
                    }
                }
            }
        }
        if buf.is_empty() {
            continue;
        }
        if writer.write_all(&buf).await.is_err() {
            break;
        }
        let now = Instant::now();
        let payload: u64 = sent_blocks.iter().map(|l| *l as u64).sum();
        shard_counters::count(|c| {
            c.payload_bytes_up += payload;
            c.protocol_bytes_up += buf.len() as u64 - payload;
        });
        {
            let mut engine = task.engine.borrow_mut();
            for len in &sent_blocks {
                engine.block_sent(key, *len, now);
            }
        }
        let pause = task.charge_upload(payload);
        if !pause.is_zero() {
            glommio::timer::sleep(pause).await;
        }
    }
    let _ = writer.close().await;
}

/// The engine keeps a peer whose extension handshake does not parse (as one without
/// extensions) and counts it; the reason is worth a debug line.
fn log_unreadable_extension_handshake(task: &TorrentTask, addr: SocketAddr, message: &Message) {
    if let Message::Extended {
        id: ccbt_engine::wire::EXTENDED_HANDSHAKE_ID,
        payload,
    } = message
    {
        if let Err(error) = ccbt_engine::wire::ExtensionHandshake::decode(payload) {
            tracing::debug!(torrent = %task.info_hash, %addr, %error, "extension handshake does not parse: the peer stays, without extensions");
        }
    }
}
