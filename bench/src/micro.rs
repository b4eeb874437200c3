//! `ccbt-bench micro`: the hot parts of the engine on their own, timed with
//! `std::time::Instant` and kept honest with `std::hint::black_box`. Each benchmark
//! is calibrated to about 50 ms a run, run N times, and reported as the median
//! ns/op with its min..max (and MB/s where bytes are involved).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ccbt_engine::bencode;
use ccbt_engine::file_layout::FileLayout;
use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::MetainfoBuilder;
use ccbt_engine::piece_picker::PiecePicker;
use ccbt_engine::wire::{Message, MessageDecoder, WireLimits};
use ccbt_engine::{Bitfield, BlockRef, PieceIndex, BLOCK_SIZE};
use rand::{Rng, RngCore, SeedableRng};
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::report::{fmt_num, Stat};

/// One micro-benchmark's result.
#[derive(Clone, Debug, Serialize)]
pub struct MicroResult {
    pub name: String,
    /// What one op is.
    pub op: String,
    pub ns_per_op: Stat,
    /// Bytes one op processes, when that means something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_op: Option<u64>,
    /// Throughput at the median, MB/s (10^6 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mb_s: Option<f64>,
    pub ops_per_run: u64,
    pub runs: usize,
}

const TARGET: Duration = Duration::from_millis(50);

/// Times `f(iters)` (which returns the time its `iters` ops took, setup excluded)
/// after calibrating `iters` to about 50 ms.
/// Runs `op` `n` times (its result kept from the optimizer) and returns the time taken.
pub(crate) fn repeat_timed<T>(n: u64, mut op: impl FnMut() -> T) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        black_box(op());
    }
    t.elapsed()
}

pub(crate) fn bench_iters(
    name: &str,
    op: &str,
    bytes_per_op: Option<u64>,
    runs: usize,
    mut f: impl FnMut(u64) -> Duration,
) -> MicroResult {
    let mut iters = 1u64;
    loop {
        let d = f(iters);
        if d >= TARGET / 4 || iters >= 1 << 32 {
            // The fastest of three, so one preempted sample does not shrink the runs.
            let best = d.min(f(iters)).min(f(iters));
            let per = best.as_secs_f64() / iters as f64;
            iters = ((TARGET.as_secs_f64() / per.max(1e-12)) as u64).clamp(1, 1 << 34);
            break;
        }
        iters *= 4;
    }
    let samples: Vec<f64> = (0..runs.max(1))
        .map(|_| f(iters).as_nanos() as f64 / iters as f64)
        .collect();
    result(name, op, bytes_per_op, runs, iters, &samples)
}

pub(crate) fn result(
    name: &str,
    op: &str,
    bytes_per_op: Option<u64>,
    runs: usize,
    ops: u64,
    samples: &[f64],
) -> MicroResult {
    let ns = Stat::of(samples).unwrap_or_default();
    MicroResult {
        name: name.to_string(),
        op: op.to_string(),
        ns_per_op: ns,
        bytes_per_op,
        mb_s: bytes_per_op
            .filter(|_| ns.median > 0.0)
            .map(|b| b as f64 / ns.median * 1e3),
        ops_per_run: ops,
        runs: runs.max(1),
    }
}

/// Decodes copies of `template` (holding `per_batch` frames) until about `n`
/// frames are done; returns the decode time scaled to exactly `n` frames.
fn decode_batches(dec: &mut MessageDecoder, template: &BytesMut, n: u64, per_batch: u64) -> Duration {
    let batches = n.div_ceil(per_batch);
    let mut spent = Duration::ZERO;
    for _ in 0..batches {
        let mut buf = template.clone();
        let t = Instant::now();
        while let Ok(Some(m)) = dec.decode(&mut buf) {
            black_box(&m);
        }
        spent += t.elapsed();
    }
    spent.mul_f64(n as f64 / (batches * per_batch) as f64)
}

/// A torrent with `files` files and `pieces` pieces of `piece` bytes (random hashes).
pub fn synthetic_torrent(files: usize, pieces: u32, piece: u32) -> Vec<u8> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    let total = u64::from(pieces) * u64::from(piece);
    let mut b = MetainfoBuilder::new("bench");
    let mut left = total;
    for i in 0..files {
        let len = if i + 1 == files {
            left
        } else {
            (total / files as u64).min(left)
        };
        left -= len;
        b.files
            .push((vec![format!("dir{}", i % 10), format!("file-{i:05}.bin")], len));
    }
    b.piece_length = piece;
    b.piece_hashes = (0..pieces)
        .map(|_| {
            let mut h = [0u8; 20];
            rng.fill_bytes(&mut h);
            h
        })
        .collect();
    b.announce_tiers = vec![vec!["http://127.0.0.1:6969/announce".to_string()]];
    b.build().unwrap_or_default()
}

/// Runs every micro-benchmark whose name contains `filter` (all when None).
pub fn run_all(runs: usize, filter: Option<&str>) -> Vec<MicroResult> {
    let want = |name: &str| match filter {
        Some(f) => name.contains(f),
        None => true,
    };
    let mut out = Vec::new();
    let mut push = |r: MicroResult| {
        eprintln!(
            "ccbt-bench micro: {:<44} {:>12} ns/op{}",
            r.name,
            fmt_num(r.ns_per_op.median),
            r.mb_s.map(|m| format!("  {m:.0} MB/s")).unwrap_or_default()
        );
        out.push(r);
    };

    // --- bencode ---
    let torrent = synthetic_torrent(1000, 10_000, 256 * 1024);
    let len = torrent.len() as u64;
    if want("bencode/decode") {
        push(bench_iters(
            "bencode/decode .torrent (1,000 files, 10,000 pieces)",
            "decode",
            Some(len),
            runs,
            |n| repeat_timed(n, || bencode::decode(black_box(&torrent)).is_ok()),
        ));
    }
    if want("bencode/metainfo") {
        push(bench_iters(
            "bencode/metainfo parse + info-hash (same file)",
            "Metainfo::from_bytes",
            Some(len),
            runs,
            |n| repeat_timed(n, || Metainfo::from_bytes(black_box(&torrent)).is_ok()),
        ));
    }
    let tracker_reply = {
        let mut peers = Vec::new();
        for i in 0..200u32 {
            peers.extend_from_slice(&[127, 0, (i >> 8) as u8, i as u8, 0x1a, 0xe1]);
        }
        let v = bencode::Value::dict([
            ("complete", bencode::Value::Int(150)),
            ("incomplete", bencode::Value::Int(50)),
            ("interval", bencode::Value::Int(1800)),
            ("peers", bencode::Value::Bytes(peers)),
        ]);
        bencode::encode(&v)
    };
    if want("bencode/tracker") {
        let len = tracker_reply.len() as u64;
        push(bench_iters(
            "bencode/decode tracker reply (200 compact peers)",
            "decode",
            Some(len),
            runs,
            |n| repeat_timed(n, || bencode::decode(black_box(&tracker_reply)).is_ok()),
        ));
    }

    // --- wire framing ---
    if want("wire/decode piece") {
        let block = vec![0xabu8; BLOCK_SIZE as usize];
        let mut template = BytesMut::new();
        const MSGS: u64 = 256;
        for i in 0..MSGS as u32 {
            Message::Piece {
                piece: PieceIndex(i / 16),
                offset: (i % 16) * BLOCK_SIZE,
                data: bytes::Bytes::copy_from_slice(&block),
            }
            .encode(&mut template);
        }
        let frame = template.len() as u64 / MSGS;
        let mut dec = MessageDecoder::new(WireLimits::default());
        push(bench_iters(
            "wire/decode PIECE frames (16 KiB blocks)",
            "frame",
            Some(frame),
            runs,
            |n| {
                // Each batch is a fresh copy of the receive buffer, made outside the timing.
                decode_batches(&mut dec, &template, n, MSGS)
            },
        ));
    }
    if want("wire/decode small") {
        let mut template = BytesMut::new();
        const MSGS: u64 = 4096;
        for i in 0..MSGS as u32 {
            let m = match i % 4 {
                0 => Message::Have(PieceIndex(i)),
                1 => Message::Request(BlockRef {
                    piece: PieceIndex(i),
                    offset: 0,
                    length: BLOCK_SIZE,
                }),
                2 => Message::Interested,
                _ => Message::Cancel(BlockRef {
                    piece: PieceIndex(i),
                    offset: BLOCK_SIZE,
                    length: BLOCK_SIZE,
                }),
            };
            m.encode(&mut template);
        }
        let mut dec = MessageDecoder::new(WireLimits::default());
        push(bench_iters(
            "wire/decode small messages (HAVE/REQUEST/CANCEL/INTERESTED)",
            "message",
            None,
            runs,
            |n| decode_batches(&mut dec, &template, n, MSGS),
        ));
    }
    if want("wire/encode") {
        let mut out_buf = BytesMut::with_capacity(1 << 20);
        push(bench_iters("wire/encode REQUEST", "message", None, runs, |n| {
            let t = Instant::now();
            for i in 0..n {
                if out_buf.len() > (1 << 20) - 64 {
                    out_buf.clear();
                }
                Message::Request(BlockRef {
                    piece: PieceIndex(black_box(i as u32)),
                    offset: 0,
                    length: BLOCK_SIZE,
                })
                .encode(&mut out_buf);
            }
            black_box(&out_buf);
            t.elapsed()
        }));
    }

    // --- piece picker ---
    if want("picker") {
        const PIECES: u32 = 10_000;
        let piece = 256 * 1024u32;
        let total = u64::from(PIECES) * u64::from(piece);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let peers: Vec<Bitfield> = (0..20)
            .map(|_| {
                let mut bf = Bitfield::new(PIECES);
                let density: f64 = rng.gen_range(0.3..0.95);
                for p in 0..PIECES {
                    if rng.gen_bool(density) {
                        bf.set(p);
                    }
                }
                bf
            })
            .collect();
        let seed = Bitfield::full(PIECES);
        let mut pick_samples = Vec::new();
        let mut block_samples = Vec::new();
        let mut calls_per_run = 0u64;
        for _ in 0..runs.max(1) {
            let mut picker = PiecePicker::new(PIECES, piece, total);
            for bf in &peers {
                picker.peer_has_bitfield(bf);
            }
            picker.peer_has_bitfield(&seed);
            let mut out = Vec::with_capacity(64);
            let mut pick_time = Duration::ZERO;
            let mut calls = 0u64;
            let mut blocks = 0u64;
            let all = Instant::now();
            // A rarest-first download of every piece, 16 blocks per request round.
            while !picker.is_wanted_complete() {
                out.clear();
                let t = Instant::now();
                picker.pick_blocks(&seed, 16, &|_| false, None, &mut out);
                pick_time += t.elapsed();
                calls += 1;
                if out.is_empty() {
                    break;
                }
                for b in &out {
                    blocks += 1;
                    if let ccbt_engine::piece_picker::BlockOutcome::Accepted { piece_complete: true } =
                        picker.block_received(*b)
                    {
                        picker.piece_verified(b.piece, true);
                    }
                }
            }
            let whole = all.elapsed();
            pick_samples.push(pick_time.as_nanos() as f64 / calls.max(1) as f64);
            block_samples.push(whole.as_nanos() as f64 / blocks.max(1) as f64);
            calls_per_run = calls;
        }
        push(result(
            "picker/pick_blocks(16) at 10,000 pieces, 21 peers",
            "pick_blocks call",
            None,
            runs,
            calls_per_run,
            &pick_samples,
        ));
        push(result(
            "picker/whole download: pick + receive + verify",
            "block",
            None,
            runs,
            calls_per_run * 16,
            &block_samples,
        ));
    }

    // --- hashing ---
    for (label, size) in [("1 MiB", 1usize << 20), ("256 KiB", 256 << 10), ("16 KiB", 16 << 10)] {
        let name = format!("sha1/piece {label}");
        if !want(&name) {
            continue;
        }
        let mut data = vec![0u8; size];
        rand::rngs::SmallRng::seed_from_u64(1).fill_bytes(&mut data);
        push(bench_iters(&name, "hash", Some(size as u64), runs, |n| {
            repeat_timed(n, || Sha1::digest(black_box(&data)))
        }));
    }

    // --- piece -> file mapping ---
    if want("layout") {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        let piece = 256 * 1024u32;
        let files: Vec<u64> = (0..1000)
            .map(|i| {
                if i % 10 == 0 {
                    rng.gen_range(0..5000)
                } else {
                    rng.gen_range(1..8 << 20)
                }
            })
            .collect();
        let total: u64 = files.iter().sum();
        match FileLayout::new(&files, piece, total) {
            Ok(layout) => {
                let n_pieces = layout.num_pieces();
                let blocks: Vec<(PieceIndex, u32)> = (0..4096)
                    .map(|_| {
                        let p = rng.gen_range(0..n_pieces);
                        let off = rng.gen_range(0..piece / BLOCK_SIZE) * BLOCK_SIZE;
                        (PieceIndex(p), off)
                    })
                    .collect();
                push(bench_iters(
                    "layout/block -> file spans (1,000 files)",
                    "block lookup",
                    None,
                    runs,
                    |n| {
                        let t = Instant::now();
                        let mut sum = 0u64;
                        for i in 0..n {
                            let (p, off) = blocks[(i % blocks.len() as u64) as usize];
                            for s in layout.spans(black_box(p), off, BLOCK_SIZE) {
                                sum += u64::from(s.length) + s.file_index as u64;
                            }
                        }
                        black_box(sum);
                        t.elapsed()
                    },
                ));
                push(bench_iters(
                    "layout/whole piece -> file spans (1,000 files)",
                    "piece lookup",
                    None,
                    runs,
                    |n| {
                        let t = Instant::now();
                        let mut sum = 0u64;
                        for i in 0..n {
                            let p = PieceIndex((i % u64::from(n_pieces)) as u32);
                            for s in layout.spans(black_box(p), 0, piece) {
                                sum += u64::from(s.length) + s.file_index as u64;
                            }
                        }
                        black_box(sum);
                        t.elapsed()
                    },
                ));
            }
            Err(e) => eprintln!("ccbt-bench micro: layout benchmark skipped: {e}"),
        }
    }
    crate::micro_ipfilter::run(runs, &want, &mut push);
    out
}

/// The markdown table of micro-benchmark results.
pub fn markdown(results: &[MicroResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### micro-benchmarks\n");
    let _ = writeln!(
        s,
        "| benchmark | op | ns/op (median) | min..max | MB/s | ops/run x runs |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {}..{} | {} | {} x {} |",
            r.name,
            r.op,
            fmt_num(r.ns_per_op.median),
            fmt_num(r.ns_per_op.min),
            fmt_num(r.ns_per_op.max),
            r.mb_s.map(|m| format!("{m:.0}")).unwrap_or_else(|| "—".into()),
            r.ops_per_run,
            r.runs
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_torrent_parses() {
        let t = synthetic_torrent(10, 100, 16384);
        let m = Metainfo::from_bytes(&t).unwrap();
        assert_eq!(m.info.files.len(), 10);
        assert_eq!(m.info.piece_hashes.len(), 100);
    }

    #[test]
    fn runs_quickly_filtered() {
        let r = run_all(1, Some("sha1/piece 16 KiB"));
        assert_eq!(r.len(), 1);
        assert!(r[0].mb_s.unwrap() > 0.0);
    }
}
