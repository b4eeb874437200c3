//! DmaFile vs BufferedFile for the storage access patterns, plus SHA-1 rate.
//!
//! `cargo run --release -p ccbt-io --example storage_bench [dir] [MiB] [kinds]`
//! (default dir /work, 1024 MiB, kinds `buffered,dma,storage`). Writes a scratch file there and removes it.
//!
//! Patterns, 1 MiB pieces and 16 KiB blocks:
//! - write whole pieces sequentially / in random order (then fdatasync),
//! - read random 16 KiB blocks and random whole pieces, at queue depth 1 and 16,
//!   cold (page cache dropped for the file) and, for buffered, warm.
//!
//! `BENCH_RANDOM_FIRST=1` runs the random write pass before the sequential one.
//!
//! Cold buffered reads use `posix_fadvise(DONTNEED)` on the scratch file only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::io::{BufferedFile, DmaFile, OpenOptions};
use glommio::{LocalExecutorBuilder, Placement};

const PIECE: usize = 1 << 20;
const BLOCK: usize = 16 << 10;

#[allow(unsafe_code)]
mod fadvise {
    use std::os::fd::AsRawFd;

    /// Drops the page cache of `path` (after syncing it).
    pub fn drop_cache(path: &std::path::Path) {
        let f = std::fs::File::open(path).unwrap();
        f.sync_all().unwrap();
        // SAFETY: the fd is valid for the lifetime of `f`; posix_fadvise takes
        // no pointers and only advises the kernel about that fd's page cache.
        let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0, "posix_fadvise");
    }
}

/// Thread CPU time from /proc (on-CPU ns, first field of schedstat).
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_nanos(ns)
}

/// A tiny xorshift RNG, enough to shuffle offsets.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

enum File {
    Buffered(BufferedFile),
    Dma(DmaFile),
}

impl File {
    async fn write(&self, src: &[u8], pos: u64) {
        match self {
            File::Buffered(f) => {
                let n = f.write_at(src.to_vec(), pos).await.unwrap();
                assert_eq!(n, src.len());
            }
            File::Dma(f) => {
                let mut buf = f.alloc_dma_buffer(src.len());
                buf.as_bytes_mut().copy_from_slice(src);
                let n = f.write_at(buf, pos).await.unwrap();
                assert_eq!(n, src.len());
            }
        }
    }

    async fn read(&self, pos: u64, len: usize) -> usize {
        let r = match self {
            File::Buffered(f) => f.read_at(pos, len).await.unwrap(),
            File::Dma(f) => f.read_at_aligned(pos, len).await.unwrap(),
        };
        // Touch the data as a server would (copy into an owned buffer).
        let owned = bytes::Bytes::copy_from_slice(&r);
        owned.len()
    }

    async fn sync(&self) {
        match self {
            File::Buffered(f) => f.fdatasync().await.unwrap(),
            File::Dma(f) => f.fdatasync().await.unwrap(),
        }
    }
}

fn report(name: &str, bytes: u64, wall: Duration, cpu: Duration) {
    let mbs = bytes as f64 / 1e6 / wall.as_secs_f64();
    let cpu_per_gib = cpu.as_secs_f64() / (bytes as f64 / (1u64 << 30) as f64);
    println!("{name:<44} {mbs:>9.0} MB/s  wall {wall:>8.3?}  cpu {cpu_per_gib:>6.3} s/GiB");
}

/// Runs `ops` (offset, len) with up to `qd` in flight.
async fn run_reads(file: &Rc<File>, ops: &[(u64, usize)], qd: usize) -> u64 {
    let next = Rc::new(Cell::new(0usize));
    let total = Rc::new(Cell::new(0u64));
    let ops: Rc<Vec<(u64, usize)>> = Rc::new(ops.to_vec());
    let mut tasks = Vec::new();
    for _ in 0..qd {
        let (file, next, total, ops) = (file.clone(), next.clone(), total.clone(), ops.clone());
        tasks.push(glommio::spawn_local(async move {
            loop {
                let i = next.get();
                if i >= ops.len() {
                    break;
                }
                next.set(i + 1);
                let (pos, len) = ops[i];
                let n = file.read(pos, len).await;
                total.set(total.get() + n as u64);
            }
        }));
    }
    for t in tasks {
        t.await;
    }
    total.get()
}

async fn open(kind: &str, path: &Path) -> File {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    match kind {
        "buffered" => File::Buffered(o.buffered_open(path).await.unwrap()),
        _ => File::Dma(o.dma_open(path).await.unwrap()),
    }
}

async fn bench_kind(kind: &str, dir: &Path, size: u64) {
    let path = dir.join(format!("ccbt_storage_bench_{kind}.bin"));
    let _ = std::fs::remove_file(&path);
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let pieces = (size / PIECE as u64) as usize;
    let mut src = vec![0u8; PIECE];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for b in src.iter_mut() {
        *b = rng.next() as u8;
    }
    let mut file = Rc::new(open(kind, &path).await);
    // Unmeasured warm-up pass: the first pass of a run pays for first-touch
    // page-cache memory (about 3x slower here), which a long-running daemon doesn't.
    for p in 0..pieces {
        file.write(&src, (p * PIECE) as u64).await;
    }
    file.sync().await;

    // Each write pattern starts from a fresh sparse file, as a download does.
    let mut patterns = [("seq", false), ("random", true)];
    if std::env::var_os("BENCH_RANDOM_FIRST").is_some() {
        patterns.reverse();
    }
    for (pattern, shuffled) in patterns {
        let mut order: Vec<usize> = (0..pieces).collect();
        if shuffled {
            rng.shuffle(&mut order);
        }
        drop(file);
        std::fs::remove_file(&path).unwrap();
        std::fs::File::create(&path).unwrap().set_len(size).unwrap();
        file = Rc::new(open(kind, &path).await);
        let (t0, c0) = (Instant::now(), thread_cpu());
        for &p in &order {
            file.write(&src, (p * PIECE) as u64).await;
        }
        let (t1, c1) = (Instant::now(), thread_cpu());
        file.sync().await;
        let (t2, c2) = (Instant::now(), thread_cpu());
        report(
            &format!("{kind} write 1MiB {pattern} (no sync)"),
            size,
            t1 - t0,
            c1 - c0,
        );
        report(
            &format!("{kind} write 1MiB {pattern} +fdatasync"),
            size,
            t2 - t0,
            c2 - c0,
        );
    }

    let mut blocks: Vec<(u64, usize)> = (0..(size / BLOCK as u64)).map(|b| (b * BLOCK as u64, BLOCK)).collect();
    rng.shuffle(&mut blocks);
    blocks.truncate(16384.min(blocks.len())); // 256 MiB of random blocks
    let mut whole: Vec<(u64, usize)> = (0..pieces).map(|p| ((p * PIECE) as u64, PIECE)).collect();
    rng.shuffle(&mut whole);

    let temps: &[&str] = if kind == "buffered" {
        &["cold", "warm"]
    } else {
        &["cold"]
    };
    for (what, ops) in [("16KiB blocks", &blocks), ("1MiB pieces", &whole)] {
        for qd in [1usize, 16] {
            for &temp in temps {
                if temp == "cold" {
                    fadvise::drop_cache(&path);
                } else {
                    run_reads(&file, ops, 16).await; // warm the cache
                }
                let (t0, c0) = (Instant::now(), thread_cpu());
                let n = run_reads(&file, ops, qd).await;
                let (t1, c1) = (Instant::now(), thread_cpu());
                report(&format!("{kind} read {what} random qd{qd} {temp}"), n, t1 - t0, c1 - c0);
            }
        }
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
}

/// The `Storage` API end to end: 8 files with pieces crossing their boundaries.
async fn bench_storage(dir: &Path, size: u64) {
    use ccbt_engine::PieceIndex;
    use ccbt_io::storage::{Preallocation, Storage, StorageFile};
    let root = dir.join("ccbt_storage_bench_dir");
    let _ = std::fs::remove_dir_all(&root);
    let files: Vec<StorageFile> = (0..8)
        .map(|i| StorageFile {
            path: format!("f{i}.bin").into(),
            length: size / 8 + 12345,
            padding: false,
        })
        .collect();
    let st = Storage::open(&root, &files, PIECE as u32, Preallocation::Sparse)
        .await
        .unwrap();
    let n = st.layout().num_pieces();
    let mut src = vec![0u8; PIECE];
    let mut rng = Rng(3);
    for b in src.iter_mut() {
        *b = rng.next() as u8;
    }
    let mut hashes = Vec::new();
    let (t0, c0) = (Instant::now(), thread_cpu());
    for p in 0..n {
        let len = st.layout().piece_size(PieceIndex(p)) as usize;
        st.write_piece(PieceIndex(p), &src[..len]).await.unwrap();
    }
    st.sync_all().await.unwrap();
    let (t1, c1) = (Instant::now(), thread_cpu());
    let total = st.layout().total_length();
    report("Storage write_piece seq +sync_all", total, t1 - t0, c1 - c0);
    for p in 0..n {
        let len = st.layout().piece_size(PieceIndex(p)) as usize;
        hashes.push(ccbt_io::piece_hasher::sha1_piece(&src[..len]));
    }
    for temp in ["cold", "warm"] {
        if temp == "cold" {
            for i in 0..files.len() {
                fadvise::drop_cache(st.file_path(i).unwrap());
            }
        }
        let (t0, c0) = (Instant::now(), thread_cpu());
        let have = st.recheck(&hashes, |_| {}).await.unwrap();
        let (t1, c1) = (Instant::now(), thread_cpu());
        assert!(have.is_complete());
        report(&format!("Storage recheck (read+sha1) {temp}"), total, t1 - t0, c1 - c0);
    }
    st.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

fn bench_sha1() {
    let mut data = vec![0u8; PIECE];
    let mut rng = Rng(7);
    for b in data.iter_mut() {
        *b = rng.next() as u8;
    }
    let rounds = 2048;
    let (t0, c0) = (Instant::now(), thread_cpu());
    let mut acc = 0u8;
    for _ in 0..rounds {
        acc ^= ccbt_io::piece_hasher::sha1_piece(&data)[0];
    }
    let (t1, c1) = (Instant::now(), thread_cpu());
    std::hint::black_box(acc);
    report("sha1_piece 1MiB", (rounds * PIECE) as u64, t1 - t0, c1 - c0);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/work".into()));
    let mib: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let kinds: Vec<String> = match args.next() {
        Some(k) => k.split(',').map(str::to_owned).collect(),
        None => vec!["buffered".into(), "dma".into(), "storage".into()],
    };
    let size = mib << 20;
    bench_sha1();
    let h = LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(move || async move {
            // DESIGN.md: DmaFile probes polled-I/O support on the first file it
            // opens; make that a non-empty file with real data.
            let probe = dir.join("ccbt_storage_bench_probe.bin");
            std::fs::write(&probe, vec![1u8; 4096]).unwrap();
            std::fs::File::open(&probe).unwrap().sync_all().unwrap();
            let p = DmaFile::open(&probe).await.unwrap();
            p.read_at_aligned(0, 4096).await.unwrap();
            p.close().await.unwrap();
            let _ = std::fs::remove_file(&probe);
            for kind in &kinds {
                match kind.as_str() {
                    "storage" => bench_storage(&dir, size).await,
                    _ => bench_kind(kind, &dir, size).await,
                }
            }
        })
        .unwrap();
    h.join().unwrap();
}
