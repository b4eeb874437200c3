//! Turning command-line SOURCE arguments into loaded torrents.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccbt_engine::magnet::MagnetLink;
use ccbt_engine::metainfo::Metainfo;

use crate::error::CliError;

/// Largest .torrent file we read (a 16 MiB piece list is already enormous).
const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;

/// A torrent named on the command line.
#[derive(Debug, Clone)]
pub struct LoadedTorrent {
    pub path: PathBuf,
    pub meta: Arc<Metainfo>,
}

/// Reads one .torrent file; errors name the file and the field.
pub fn load_torrent_file(path: &Path) -> Result<LoadedTorrent, CliError> {
    let read_err = |source| CliError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_TORRENT_FILE {
        return Err(CliError::ReadFile {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "file too large for a .torrent"),
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|source| CliError::BadTorrent {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(LoadedTorrent {
        path: path.to_path_buf(),
        meta: Arc::new(meta),
    })
}

/// Expands SOURCE arguments: a .torrent file, a directory of them, or a magnet link.
pub fn load_sources(sources: &[String]) -> Result<Vec<LoadedTorrent>, CliError> {
    let mut out: Vec<LoadedTorrent> = Vec::new();
    for source in sources {
        if source.starts_with("magnet:") {
            let link = MagnetLink::parse(source)?;
            return Err(CliError::MagnetUnsupported(link.info_hash.to_hex()));
        }
        let path = Path::new(source);
        let loaded = if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| CliError::ReadFile {
                    path: path.to_path_buf(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "torrent") && p.is_file())
                .collect();
            entries.sort();
            if entries.is_empty() {
                return Err(CliError::EmptyDirectory {
                    path: path.to_path_buf(),
                });
            }
            entries
                .iter()
                .map(|p| load_torrent_file(p))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![load_torrent_file(path)?]
        };
        for t in loaded {
            if out.iter().any(|o| o.meta.info_hash == t.meta.info_hash) {
                return Err(CliError::DuplicateTorrent {
                    path: t.path,
                    info_hash: t.meta.info_hash,
                });
            }
            out.push(t);
        }
    }
    Ok(out)
}
