//! Turning command-line SOURCE arguments into loaded torrents.

use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::magnet::MagnetLink;
use ccbt_engine::metainfo::Metainfo;

use crate::error::CliError;

/// Largest .torrent file we read (a 16 MiB piece list is already enormous).
const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;
/// Longest we wait for a writer (or its next bytes) on a FIFO named as a source (`ccbt <(curl …)` has
/// one at once; a FIFO nobody writes to would otherwise block the start silently).
const FIFO_WRITER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a FIFO without a writer is looked at again while waiting.
const FIFO_POLL: Duration = Duration::from_millis(50);

/// A torrent named on the command line.
#[derive(Debug, Clone)]
pub struct LoadedTorrent {
    pub path: PathBuf,
    pub meta: Arc<Metainfo>,
}

/// Reads one .torrent file; errors name the file and the field.
pub fn load_torrent_file(path: &Path) -> Result<LoadedTorrent, CliError> {
    let bytes = read_torrent_bytes(path)?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|source| CliError::BadTorrent {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(LoadedTorrent {
        path: path.to_path_buf(),
        meta: Arc::new(meta),
    })
}

/// The bytes of a .torrent source, at most [`MAX_TORRENT_FILE`]. The cap is on
/// the read itself: devices, pipes and `/proc` files report a length of 0.
pub fn read_torrent_bytes(path: &Path) -> Result<Vec<u8>, CliError> {
    let read_err = |source| CliError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let file_type = std::fs::metadata(path).map_err(read_err)?.file_type();
    let bytes = if file_type.is_file() {
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut bytes = Vec::new();
        file.take(MAX_TORRENT_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        bytes
    } else if file_type.is_fifo() {
        read_fifo(path)?
    } else {
        return Err(CliError::NotAFile {
            path: path.to_path_buf(),
            kind: file_kind(&file_type),
        });
    };
    if bytes.len() as u64 > MAX_TORRENT_FILE {
        return Err(CliError::TooLarge {
            path: path.to_path_buf(),
            limit_mib: MAX_TORRENT_FILE >> 20,
        });
    }
    Ok(bytes)
}

/// Reads a FIFO (or a pipe such as `/dev/fd/63`) without ever blocking: opened
/// non-blocking, a read of 0 bytes means "no writer yet" until a writer has been
/// seen (data or `WouldBlock`), and end of file after that.
fn read_fifo(path: &Path) -> Result<Vec<u8>, CliError> {
    let read_err = |source| CliError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_err)?;
    // Measured from the last data, so a slow writer is waited for and a silent one is not.
    let mut deadline = Instant::now() + FIFO_WRITER_TIMEOUT;
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut writer_seen = false;
    while (bytes.len() as u64) <= MAX_TORRENT_FILE {
        match file.read(&mut buf) {
            Ok(0) if writer_seen => break,
            Ok(0) => {}
            Ok(n) => {
                writer_seen = true;
                bytes.extend_from_slice(&buf[..n]);
                deadline = Instant::now() + FIFO_WRITER_TIMEOUT;
                continue;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => writer_seen = true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        }
        if Instant::now() >= deadline {
            return Err(CliError::FifoTimeout {
                path: path.to_path_buf(),
                seconds: FIFO_WRITER_TIMEOUT.as_secs(),
                writer_seen,
            });
        }
        std::thread::sleep(FIFO_POLL);
    }
    Ok(bytes)
}

/// A word for a file that is not a regular file, for error messages.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Every `*.torrent` file in a directory, sorted; none is an error.
pub fn torrent_files_in(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| CliError::ReadFile {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "torrent") && p.is_file())
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Err(CliError::EmptyDirectory {
            path: dir.to_path_buf(),
        });
    }
    Ok(entries)
}

/// What the SOURCE arguments name: `.torrent` files (directly or in directories)
/// and magnet links.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub torrents: Vec<LoadedTorrent>,
    pub magnets: Vec<MagnetLink>,
}

impl Sources {
    /// How many torrents, files and magnets together.
    pub fn len(&self) -> usize {
        self.torrents.len() + self.magnets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn has(&self, info_hash: &ccbt_engine::InfoHash) -> bool {
        self.torrents.iter().any(|t| t.meta.info_hash == *info_hash)
            || self.magnets.iter().any(|m| m.info_hash == *info_hash)
    }
}

/// Expands SOURCE arguments: a .torrent file, a directory of them, or a magnet link
/// (a bad link's error names the parameter; a v2-only one is refused by name).
pub fn load_sources(sources: &[String]) -> Result<Sources, CliError> {
    let mut out = Sources::default();
    for source in sources {
        if source.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("magnet:")) {
            let link = MagnetLink::parse(source)?;
            if out.has(&link.info_hash) {
                return Err(CliError::DuplicateTorrent {
                    path: PathBuf::from(source),
                    info_hash: link.info_hash,
                });
            }
            out.magnets.push(link);
            continue;
        }
        let path = Path::new(source);
        let loaded = if path.is_dir() {
            torrent_files_in(path)?
                .iter()
                .map(|p| load_torrent_file(p))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![load_torrent_file(path)?]
        };
        for t in loaded {
            if out.has(&t.meta.info_hash) {
                return Err(CliError::DuplicateTorrent {
                    path: t.path,
                    info_hash: t.meta.info_hash,
                });
            }
            out.torrents.push(t);
        }
    }
    Ok(out)
}

/// A magnet's `x.pe` addresses that resolve (a bad hint is skipped, not an error:
/// the link still works through its trackers and the other peers).
pub fn magnet_peers(link: &MagnetLink) -> Vec<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    for peer in &link.peers {
        match peer.to_socket_addrs() {
            Ok(addrs) => out.extend(addrs.take(1)),
            Err(e) => tracing::warn!("magnet peer {peer} skipped: {e}"),
        }
    }
    out
}
