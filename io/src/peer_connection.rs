//! One peer connection on glommio TCP: the handshake, then a reader that feeds the
//! engine and a writer that drains the peer's outbox in batches.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ccbt_engine::wire::{
    encode_piece_header, parse_routing_prefix, Handshake, Message, MessageDecoder, Reserved, WireError, WireLimits,
    HANDSHAKE_LEN, HANDSHAKE_ROUTING_LEN,
};
use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::LocalReceiver;
use glommio::net::TcpStream;

use crate::connection_budget::HalfOpenSlot;
use crate::peer_outbox::{new_link, Outbox, Outgoing};
use crate::torrent_task::TorrentTask;

/// Longest wait for a TCP connect or a handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer silent this long is gone (keep-alives come every two minutes).
const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// Send a keep-alive when we have said nothing for this long.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(90);
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

fn io_err(addr: SocketAddr) -> impl Fn(std::io::Error) -> PeerError {
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
pub async fn dial(task: Rc<TorrentTask>, addr: SocketAddr, slot: HalfOpenSlot) -> Result<bool, PeerError> {
    let mut stream = TcpStream::connect_timeout(addr, HANDSHAKE_TIMEOUT)
        .await
        .map_err(|e| PeerError::Connect {
            addr,
            reason: e.to_string(),
        })?;
    let _ = stream.set_nodelay(true);
    let ours = Handshake {
        reserved: Reserved::ours(),
        info_hash: task.info_hash,
        peer_id: task.our_id(),
    };
    let theirs = with_timeout(addr, "handshake", async {
        stream.write_all(&ours.encode()).await.map_err(io_err(addr))?;
        let mut buf = [0u8; HANDSHAKE_LEN];
        stream.read_exact(&mut buf).await.map_err(io_err(addr))?;
        Handshake::parse(&buf).map_err(|source| PeerError::Wire { addr, source })
    })
    .await?;
    drop(slot);
    if theirs.info_hash != task.info_hash {
        return Err(PeerError::WrongTorrent {
            addr,
            got: theirs.info_hash,
        });
    }
    run(task, stream, addr, theirs, true).await.map(|()| true)
}

/// Continues an incoming connection whose first 48 bytes (up to the info-hash) were
/// read by the listener, possibly on another executor.
pub async fn accept(
    task: Rc<TorrentTask>,
    mut stream: TcpStream,
    addr: SocketAddr,
    prefix: &[u8],
) -> Result<(), PeerError> {
    let (reserved, info_hash) = parse_routing_prefix(prefix).map_err(|source| PeerError::Wire { addr, source })?;
    if info_hash != task.info_hash {
        return Err(PeerError::WrongTorrent { addr, got: info_hash });
    }
    let _ = stream.set_nodelay(true);
    let ours = Handshake {
        reserved: Reserved::ours(),
        info_hash: task.info_hash,
        peer_id: task.our_id(),
    };
    let peer_id = with_timeout(addr, "handshake", async {
        stream.write_all(&ours.encode()).await.map_err(io_err(addr))?;
        let mut id = [0u8; HANDSHAKE_LEN - HANDSHAKE_ROUTING_LEN];
        stream.read_exact(&mut id).await.map_err(io_err(addr))?;
        Ok(ccbt_engine::PeerId(id))
    })
    .await?;
    let theirs = Handshake {
        reserved,
        info_hash,
        peer_id,
    };
    run(task, stream, addr, theirs, false).await
}

/// Registers the peer with the engine, then reads and writes until either side ends.
async fn run(
    task: Rc<TorrentTask>,
    stream: TcpStream,
    addr: SocketAddr,
    theirs: Handshake,
    dialed: bool,
) -> Result<(), PeerError> {
    if theirs.peer_id == task.our_id() {
        return Err(PeerError::SelfConnection { addr });
    }
    if task.is_stopped() {
        return Err(PeerError::Refused {
            addr,
            reason: "torrent stopped".into(),
        });
    }
    if task.engine.borrow().is_connected_to(theirs.peer_id) {
        return Err(PeerError::Refused {
            addr,
            reason: "already connected to this peer id".into(),
        });
    }
    let _ = stream.set_read_timeout(Some(READ_IDLE_TIMEOUT));
    // Checked here, with no await before the peer is registered, so connections
    // finishing their handshakes together cannot all slip under the limits.
    task.admit(addr, dialed).map_err(|why| PeerError::Refused {
        addr,
        reason: why.to_string(),
    })?;
    let _open_slot = task.budget.open_slot();
    let key = task.next_peer_key();
    let (link, wake_rx, close_rx) = new_link(addr);
    let outbox = link.outbox.clone();
    task.links.borrow_mut().insert(key, link);
    let added = task.engine.borrow_mut().add_peer(key, addr, &theirs, Instant::now());
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
    tracing::debug!(torrent = %task.info_hash, %addr, ?key, "peer connected");
    task.dispatch();

    let (reader, writer) = futures_lite::io::split(stream);
    let writer_task = glommio::spawn_local(write_loop(task.clone(), key, writer, outbox.clone(), wake_rx));
    let result = futures_lite::future::or(read_loop(&task, key, addr, reader), async {
        close_rx.recv().await;
        Ok(())
    })
    .await;
    task.links.borrow_mut().remove(&key);
    outbox.close();
    task.engine.borrow_mut().remove_peer(key, Instant::now());
    task.dispatch();
    writer_task.await;
    result
}

async fn read_loop(
    task: &Rc<TorrentTask>,
    key: ccbt_engine::PeerKey,
    addr: SocketAddr,
    mut reader: ReadHalf<TcpStream>,
) -> Result<(), PeerError> {
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
            return Ok(());
        }
        let now = Instant::now();
        loop {
            let message = decoder
                .decode(&mut buf)
                .map_err(|source| PeerError::Wire { addr, source })?;
            let Some(message) = message else { break };
            task.engine.borrow_mut().on_message(key, message, now);
        }
        task.dispatch();
        if !task.links.borrow().contains_key(&key) {
            return Ok(());
        }
        let pause = TorrentTask::throttle(&task.download_limit, n as u64);
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
            // Some(true): woken by a push or close; Some(false): idle long enough for a keep-alive.
            let woken = futures_lite::future::or(async { wake.recv().await.map(|()| true) }, async {
                glommio::timer::sleep(KEEPALIVE_INTERVAL).await;
                Some(false)
            })
            .await;
            match woken {
                None => break,
                Some(false) => Message::KeepAlive.encode(&mut buf),
                Some(true) => {}
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
        {
            let mut engine = task.engine.borrow_mut();
            for len in &sent_blocks {
                engine.block_sent(key, *len, now);
            }
        }
        let pause = TorrentTask::throttle(&task.upload_limit, payload);
        if !pause.is_zero() {
            glommio::timer::sleep(pause).await;
        }
    }
    let _ = writer.close().await;
}
