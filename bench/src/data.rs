//! Data sets: generated once into a cache folder (pseudo-random bytes from a fixed
//! seed) and reused by later runs; a `ready.json` marker written last says a set is
//! complete and with which parameters.
//!
//! The big torrents are made by `btbt create` (parallel hashing; same info-hash as
//! mktorrent) without a tracker; a copy announcing to this run's opentracker is
//! written per run ([`with_announce`]), which leaves the info-hash unchanged.
//! The many small torrents are built in-process with the engine's
//! `MetainfoBuilder`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ccbt_engine::bencode::{self, Value};
use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};
use rand::{Rng, RngCore, SeedableRng};
use serde_json::json;

use crate::util::run_bounded;

/// One payload and its torrent.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Cache label, e.g. `single-4096M-1M`.
    pub label: String,
    /// The `.torrent`, no announce URL.
    pub torrent: PathBuf,
    /// The folder holding `name` with the complete data: a seeder's data dir.
    pub seed_dir: PathBuf,
    /// The torrent's name (file name, or root folder of a multi-file torrent).
    pub name: String,
    pub total_bytes: u64,
    pub files: usize,
    pub piece_length: u32,
    pub info_hash: String,
}

impl Dataset {
    /// The data files, for page-cache checks.
    pub fn data_files(&self) -> Vec<PathBuf> {
        let root = self.seed_dir.join(&self.name);
        if root.is_file() {
            return vec![root];
        }
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }
}

/// A folder of small torrents (plus one bigger "probe" torrent a downloader
/// fetches) with their data.
#[derive(Clone, Debug)]
pub struct ManySet {
    pub count: usize,
    /// Exactly `count` `.torrent` files.
    pub torrent_dir: PathBuf,
    /// Every torrent's data.
    pub data_dir: PathBuf,
    /// The probe torrent (also in `torrent_dir`).
    pub probe: PathBuf,
    pub probe_bytes: u64,
    pub probe_name: String,
    pub small_bytes: u64,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// Writes `len` pseudo-random bytes from `seed` to `path`.
pub fn write_random(path: &Path, len: u64, seed: u64) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let f = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut buf = vec![0u8; 4 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        w.write_all(&buf[..n]).map_err(io_err(path))?;
        left -= n as u64;
    }
    w.flush().map_err(io_err(path))?;
    Ok(())
}

fn marker_matches(dir: &Path, want: &serde_json::Value) -> bool {
    std::fs::read(dir.join("ready.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| &v == want)
}

fn write_marker(dir: &Path, v: &serde_json::Value) -> Result<(), String> {
    let path = dir.join("ready.json");
    std::fs::write(&path, v.to_string()).map_err(io_err(&path))
}

fn fresh_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_err(dir))?;
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))
}

/// Info-hash (hex) and name of a torrent file.
pub fn torrent_info(torrent: &Path) -> Result<(String, String, u64), String> {
    let bytes = std::fs::read(torrent).map_err(io_err(torrent))?;
    let m = Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", torrent.display()))?;
    Ok((m.info_hash.to_hex(), m.info.name, m.info.total_length))
}

fn btbt_create(btbt: &Path, content: &Path, out: &Path, piece: u32) -> Result<(), String> {
    let mut cmd = Command::new(btbt);
    cmd.arg("create")
        .arg(content)
        .arg("-o")
        .arg(out)
        .arg("--piece-size")
        .arg(piece.to_string());
    let o = run_bounded(&mut cmd, Duration::from_secs(900))?;
    if !o.success {
        return Err(format!("btbt create {} failed: {}", content.display(), o.stderr.trim()));
    }
    Ok(())
}

/// A single-file torrent of `size` bytes, pieces of `piece`.
pub fn single(root: &Path, btbt: &Path, size: u64, piece: u32) -> Result<Dataset, String> {
    let label = format!("single-{}-{}", human(size), human(u64::from(piece)));
    let dir = root.join(&label);
    let want = json!({"kind": "single", "size": size, "piece": piece, "seed": 1, "v": 1});
    let torrent = dir.join("payload.bin.torrent");
    if !marker_matches(&dir, &want) {
        eprintln!("ccbt-bench: generating {label} in {}", dir.display());
        fresh_dir(&dir)?;
        let content = dir.join("seed").join("payload.bin");
        write_random(&content, size, 0xbe7c_0001)?;
        btbt_create(btbt, &content, &torrent, piece)?;
        write_marker(&dir, &want)?;
    }
    let (info_hash, name, total) = torrent_info(&torrent)?;
    Ok(Dataset {
        label,
        torrent,
        seed_dir: dir.join("seed"),
        name,
        total_bytes: total,
        files: 1,
        piece_length: piece,
        info_hash,
    })
}

/// A multi-file torrent of about `size` bytes: files of varied sizes (a few tiny
/// ones, so piece and file boundaries do not line up) in nested folders.
pub fn multi(root: &Path, btbt: &Path, size: u64, piece: u32) -> Result<Dataset, String> {
    let label = format!("multi-{}-{}", human(size), human(u64::from(piece)));
    let dir = root.join(&label);
    let want = json!({"kind": "multi", "size": size, "piece": piece, "seed": 2, "v": 1});
    let torrent = dir.join("payload.torrent");
    let sizes = multi_layout(size);
    if !marker_matches(&dir, &want) {
        eprintln!("ccbt-bench: generating {label} in {}", dir.display());
        fresh_dir(&dir)?;
        let content = dir.join("seed").join("payload");
        for (i, (rel, len)) in sizes.iter().enumerate() {
            write_random(&content.join(rel), *len, 0xbe7c_1000 + i as u64)?;
        }
        btbt_create(btbt, &content, &torrent, piece)?;
        write_marker(&dir, &want)?;
    }
    let (info_hash, name, total) = torrent_info(&torrent)?;
    Ok(Dataset {
        label,
        torrent,
        seed_dir: dir.join("seed"),
        name,
        total_bytes: total,
        files: sizes.len(),
        piece_length: piece,
        info_hash,
    })
}

/// File paths and sizes of the multi-file payload: about one file per 16 MiB
/// (at least 8), sizes spread 0.1x..1.9x the mean, plus three tiny files.
pub fn multi_layout(size: u64) -> Vec<(String, u64)> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x6d75_6c74);
    let tiny = [100u64, 1024, 17 * 1024 + 3];
    let tiny_total: u64 = tiny.iter().sum();
    let body = size.saturating_sub(tiny_total).max(8);
    let n = (body / (16 << 20)).clamp(8, 4096);
    let mean = body / n;
    let mut out = Vec::new();
    let mut left = body;
    for i in 0..n {
        let len = if i + 1 == n {
            left
        } else {
            let lo = mean / 10;
            let hi = mean * 19 / 10;
            rng.gen_range(lo..=hi.max(lo + 1)).min(left.saturating_sub(n - i - 1))
        };
        left -= len;
        let folder = match i % 3 {
            0 => "a",
            1 => "b/c",
            _ => "d",
        };
        out.push((format!("{folder}/file-{i:04}.bin"), len));
    }
    for (i, len) in tiny.iter().enumerate() {
        out.push((format!("tiny/t{i}.dat"), *len));
    }
    out
}

/// The many-torrents pool: `max_count - 1` small single-file torrents of
/// `small` bytes (16 KiB pieces) and one probe of `probe` bytes (256 KiB pieces);
/// then one folder per count in `counts` holding exactly that many `.torrent`s
/// (the probe and the first small ones, hard-linked).
pub fn many(root: &Path, counts: &[usize], small: u64, probe: u64) -> Result<Vec<ManySet>, String> {
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    let label = format!("many-{max}x{}-probe{}", human(small), human(probe));
    let dir = root.join(&label);
    let data = dir.join("data");
    let pool = dir.join("torrents");
    let want = json!({"kind": "many", "max": max, "small": small, "probe": probe, "seed": 3, "v": 1});
    if !marker_matches(&dir, &want) {
        eprintln!("ccbt-bench: generating {max} torrents in {}", dir.display());
        fresh_dir(&dir)?;
        std::fs::create_dir_all(&data).map_err(io_err(&data))?;
        std::fs::create_dir_all(&pool).map_err(io_err(&pool))?;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x6d61_6e79);
        let mut buf = vec![0u8; small as usize];
        for i in 0..max - 1 {
            rng.fill_bytes(&mut buf);
            let name = format!("t{i:05}.bin");
            let path = data.join(&name);
            std::fs::write(&path, &buf).map_err(io_err(&path))?;
            let bytes = build_torrent(&name, &buf, 16 * 1024)?;
            let t = pool.join(format!("t{i:05}.torrent"));
            std::fs::write(&t, bytes).map_err(io_err(&t))?;
        }
        let probe_path = data.join("probe.bin");
        write_random(&probe_path, probe, 0xbe7c_2000)?;
        let probe_bytes = std::fs::read(&probe_path).map_err(io_err(&probe_path))?;
        let t = pool.join("probe.torrent");
        std::fs::write(&t, build_torrent("probe.bin", &probe_bytes, 256 * 1024)?).map_err(io_err(&t))?;
        write_marker(&dir, &want)?;
    }
    let mut sets = Vec::new();
    for &count in counts {
        let set_dir = dir.join(format!("set-{count}"));
        let set_marker = json!({"count": count});
        if !marker_matches(&set_dir, &set_marker) {
            fresh_dir(&set_dir)?;
            let link = |from: PathBuf, to: PathBuf| {
                std::fs::hard_link(&from, &to)
                    .or_else(|_| std::fs::copy(&from, &to).map(|_| ()))
                    .map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))
            };
            link(pool.join("probe.torrent"), set_dir.join("probe.torrent"))?;
            for i in 0..count.saturating_sub(1) {
                let name = format!("t{i:05}.torrent");
                link(pool.join(&name), set_dir.join(&name))?;
            }
            write_marker(&set_dir, &set_marker)?;
        }
        sets.push(ManySet {
            count,
            torrent_dir: set_dir.clone(),
            data_dir: data.clone(),
            probe: set_dir.join("probe.torrent"),
            probe_bytes: probe,
            probe_name: "probe.bin".to_string(),
            small_bytes: small,
        });
    }
    // ready.json sits in each set folder; sources are only the .torrent files.
    Ok(sets)
}

fn build_torrent(name: &str, data: &[u8], piece: u32) -> Result<Vec<u8>, String> {
    let mut b = MetainfoBuilder::new(name);
    b.files = vec![(Vec::new(), data.len() as u64)];
    b.piece_length = piece;
    b.piece_hashes = hash_pieces(data, piece);
    b.created_by = Some("ccbt-bench".to_string());
    b.build().map_err(|e| format!("building {name}.torrent: {e}"))
}

/// Writes a copy of `torrent` with `announce` set to `url` to `out`, checking
/// that the info-hash did not change.
pub fn with_announce(torrent: &Path, url: &str, out: &Path) -> Result<(), String> {
    let bytes = std::fs::read(torrent).map_err(io_err(torrent))?;
    let before = Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", torrent.display()))?;
    let mut v = bencode::decode(&bytes).map_err(|e| format!("{}: {e}", torrent.display()))?;
    let Value::Dict(d) = &mut v else {
        return Err(format!("{}: not a dictionary", torrent.display()));
    };
    d.insert(b"announce".to_vec(), Value::Bytes(url.as_bytes().to_vec()));
    let new = bencode::encode(&v);
    let after = Metainfo::from_bytes(&new).map_err(|e| format!("{}: {e}", out.display()))?;
    if after.info_hash != before.info_hash {
        return Err(format!(
            "{}: re-encoding changed the info-hash (the file is not canonical bencode)",
            torrent.display()
        ));
    }
    std::fs::write(out, new).map_err(io_err(out))
}

/// Fraction (0..=100) of these files' bytes in the page cache, from `fincore`;
/// None when fincore is missing or fails.
pub fn cached_pct(files: &[PathBuf]) -> Option<f64> {
    if files.is_empty() {
        return None;
    }
    let mut res = 0u64;
    let mut size = 0u64;
    for chunk in files.chunks(512) {
        let mut cmd = Command::new("fincore");
        cmd.args(["--bytes", "--noheadings", "--raw", "--output", "RES,SIZE"])
            .args(chunk);
        let o = run_bounded(&mut cmd, Duration::from_secs(30)).ok()?;
        if !o.success {
            return None;
        }
        for line in o.stdout.lines() {
            let mut it = line.split_whitespace();
            let r: u64 = it.next()?.parse().ok()?;
            let s: u64 = it.next()?.parse().ok()?;
            res += r;
            size += s;
        }
    }
    (size > 0).then(|| 100.0 * res.min(size) as f64 / size as f64)
}

/// `4096M`, `256K`, `1G`.
pub fn human(n: u64) -> String {
    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;
    const K: u64 = 1 << 10;
    if n >= G && n & (G - 1) == 0 {
        format!("{}G", n / G)
    } else if n >= M && n & (M - 1) == 0 {
        format!("{}M", n / M)
    } else if n >= K && n & (K - 1) == 0 {
        format!("{}K", n / K)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_layout_sums_to_size() {
        for size in [64u64 << 20, 1 << 30, 5_000_000] {
            let files = multi_layout(size);
            let total: u64 = files.iter().map(|f| f.1).sum();
            assert_eq!(total, size);
            assert!(files.len() >= 11);
        }
    }

    #[test]
    fn announce_keeps_info_hash() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![7u8; 100_000];
        let t = dir.path().join("a.torrent");
        std::fs::write(&t, build_torrent("a.bin", &data, 16384).unwrap()).unwrap();
        let out = dir.path().join("b.torrent");
        with_announce(&t, "http://127.0.0.1:1/announce", &out).unwrap();
        let m = Metainfo::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(m.announce.as_deref(), Some("http://127.0.0.1:1/announce"));
        assert_eq!(torrent_info(&t).unwrap().0, torrent_info(&out).unwrap().0);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(4 << 30), "4G");
        assert_eq!(human(256 << 20), "256M");
        assert_eq!(human(64 << 10), "64K");
        assert_eq!(human(1000), "1000");
    }
}
