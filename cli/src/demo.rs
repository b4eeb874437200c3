//! `ccbt demo`: the whole job on a built-in default. Makes a payload, seeds it from one
//! session and downloads it into another over loopback (separate listeners, real
//! sockets, real files), checks the copy byte for byte and reports the rate.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::InfoHash;
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddTorrent, Session, SessionConfig, SessionEvent, DEFAULT_READ_CACHE_BYTES};
use rand::{RngCore, SeedableRng};

use crate::create::{create, CreateOptions};
use crate::download::new_peer_id;
use crate::error::CliError;
use crate::size::human_bytes;
use crate::source::load_torrent_file;

/// Longest the demo waits for any one phase.
const PHASE_TIMEOUT: Duration = Duration::from_secs(600);

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub size: u64,
    pub piece_size: u32,
    pub shards: usize,
    /// Where to put the temporary directory (default: the system temp dir).
    pub workdir: Option<PathBuf>,
}

/// What the demo measured.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub bytes: u64,
    pub seconds: f64,
}

/// Files of the demo payload: one large file plus a few small ones in a subfolder.
fn write_payload(root: &Path, size: u64) -> Result<(), CliError> {
    let small = [
        ("docs/readme.txt", 1234u64),
        ("docs/notes/empty.txt", 0),
        ("docs/notes/odd.bin", 100_003),
    ];
    let small_total: u64 = small.iter().map(|s| s.1).sum();
    let big = size.saturating_sub(small_total).max(1);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x0cb7);
    let mut write = |rel: &str, len: u64| -> Result<(), CliError> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| CliError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut f = std::fs::File::create(&path).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            rng.fill_bytes(&mut buf[..n]);
            f.write_all(&buf[..n]).map_err(|source| CliError::Write {
                path: path.clone(),
                source,
            })?;
            left -= n as u64;
        }
        Ok(())
    };
    write("payload.bin", big)?;
    for (rel, len) in small {
        write(rel, len)?;
    }
    Ok(())
}

fn start_session(shards: usize) -> Result<Session, CliError> {
    Ok(Session::start(SessionConfig {
        shards,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        our_id: new_peer_id(),
        read_cache_bytes: DEFAULT_READ_CACHE_BYTES,
        connection_limits: Default::default(),
        redial: Default::default(),
    })?)
}

/// Waits for an event about `info_hash` that `pick` accepts; a failure ends the demo.
fn wait_for(
    session: &Session,
    info_hash: InfoHash,
    what: &str,
    pick: impl Fn(&SessionEvent) -> bool,
) -> Result<(), CliError> {
    let deadline = Instant::now() + PHASE_TIMEOUT;
    while Instant::now() < deadline {
        match session.events().recv_timeout(Duration::from_millis(200)) {
            Ok(SessionEvent::Failed { info_hash: h, error }) if h == info_hash => return Err(CliError::Demo(error)),
            Ok(ev) if pick(&ev) => return Ok(()),
            Ok(_) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    Err(CliError::Demo(format!("timed out waiting for the {what}")))
}

fn same_contents(a: &Path, b: &Path) -> Result<bool, CliError> {
    use std::io::Read;
    let open = |p: &Path| {
        std::fs::File::open(p).map_err(|source| CliError::ReadFile {
            path: p.to_path_buf(),
            source,
        })
    };
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = fa.read(&mut ba).map_err(|source| CliError::ReadFile {
            path: a.to_path_buf(),
            source,
        })?;
        let mut filled = 0;
        while filled < na {
            let n = fb.read(&mut bb[filled..na]).map_err(|source| CliError::ReadFile {
                path: b.to_path_buf(),
                source,
            })?;
            if n == 0 {
                return Ok(false);
            }
            filled += n;
        }
        if ba[..na] != bb[..na] {
            return Ok(false);
        }
        if na == 0 {
            let mut rest = [0u8; 1];
            let n = fb.read(&mut rest).map_err(|source| CliError::ReadFile {
                path: b.to_path_buf(),
                source,
            })?;
            return Ok(n == 0);
        }
    }
}

/// Runs the demo, printing each step to stderr.
pub fn run(opts: &DemoOptions) -> Result<DemoReport, CliError> {
    let tmp = match &opts.workdir {
        Some(dir) => tempfile::Builder::new().prefix("ccbt-demo-").tempdir_in(dir),
        None => tempfile::Builder::new().prefix("ccbt-demo-").tempdir(),
    }
    .map_err(|source| CliError::Write {
        path: opts.workdir.clone().unwrap_or_else(std::env::temp_dir),
        source,
    })?;
    let seed_dir = tmp.path().join("seed");
    let leech_dir = tmp.path().join("download");
    let content = seed_dir.join("ccbt-demo");
    eprintln!(
        "demo: writing a {} payload in {}",
        human_bytes(opts.size),
        tmp.path().display()
    );
    write_payload(&content, opts.size)?;
    let torrent_path = tmp.path().join("ccbt-demo.torrent");
    let created = create(&CreateOptions {
        path: content.clone(),
        output: torrent_path.clone(),
        piece_size: Some(opts.piece_size),
        trackers: Vec::new(),
        private: false,
        comment: Some("ccbt demo".into()),
        threads: opts.shards.max(1),
    })?;
    let loaded = load_torrent_file(&torrent_path)?;
    let info_hash = created.info_hash;
    eprintln!(
        "demo: torrent {} ({} pieces of {})",
        info_hash,
        created.num_pieces,
        human_bytes(opts.piece_size as u64)
    );

    let mut seeder = start_session(opts.shards)?;
    let add = |dir: &Path, peers: Vec<SocketAddr>| AddTorrent {
        meta: loaded.meta.clone(),
        download_dir: dir.to_path_buf(),
        config: TorrentConfig::default(),
        preallocation: Preallocation::Sparse,
        direct_writes: true,
        peers,
        file_priorities: Vec::new(),
        download_limit: None,
        upload_limit: None,
        resume: None,
        sequential: false,
        trackers: None,
        held: false,
    };
    seeder.add_torrent(add(&seed_dir, Vec::new()))?;
    wait_for(&seeder, info_hash, "seeder to check its data", |ev| {
        matches!(ev, SessionEvent::Completed { .. })
    })?;
    eprintln!("demo: seeder ready on {}", seeder.listen_addr());

    let mut leecher = start_session(opts.shards)?;
    std::fs::create_dir_all(&leech_dir).map_err(|source| CliError::Write {
        path: leech_dir.clone(),
        source,
    })?;
    let started = Instant::now();
    leecher.add_torrent(add(&leech_dir, vec![seeder.listen_addr()]))?;
    wait_for(&leecher, info_hash, "download to complete", |ev| {
        matches!(ev, SessionEvent::Completed { .. })
    })?;
    let seconds = started.elapsed().as_secs_f64();
    leecher.shutdown();
    seeder.shutdown();

    for f in &loaded.meta.info.files {
        let (a, b) = (seed_dir.join(&f.path), leech_dir.join(&f.path));
        if !same_contents(&a, &b)? {
            return Err(CliError::Demo(format!("{} differs from the original", b.display())));
        }
    }
    let bytes = created.total_length;
    eprintln!(
        "demo: downloaded {} in {seconds:.2} s = {}/s over loopback; every file identical to the original",
        human_bytes(bytes),
        human_bytes((bytes as f64 / seconds) as u64)
    );
    drop(tmp);
    Ok(DemoReport { bytes, seconds })
}
