//! `btbt create`: make a .torrent from a file or directory.

use std::path::{Path, PathBuf};

use ccbt_engine::metainfo_builder::{default_piece_length, MetainfoBuilder};

use crate::error::CliError;
use crate::piece_scan::{hash_pieces, ScanFile};

/// What to put in the torrent.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub path: PathBuf,
    pub output: PathBuf,
    pub piece_size: Option<u32>,
    pub trackers: Vec<String>,
    pub private: bool,
    pub comment: Option<String>,
    pub threads: usize,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Created {
    pub info_hash: ccbt_engine::InfoHash,
    pub num_pieces: u32,
    pub total_length: u64,
}

/// Files below `root` as (components, length, disk path), in the order mktorrent
/// uses: sorted by the '/'-joined relative path, byte-wise.
fn collect_files(root: &Path) -> Result<Vec<(Vec<String>, u64, PathBuf)>, CliError> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| CliError::ReadFile {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| CliError::ReadFile {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let name = entry.file_name().into_string().map_err(|_| CliError::Create {
                path: path.clone(),
                reason: "file name is not valid UTF-8".into(),
            })?;
            let meta = std::fs::metadata(&path).map_err(|source| CliError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let mut components = prefix.clone();
            components.push(name);
            if meta.is_dir() {
                stack.push((path, components));
            } else if meta.is_file() {
                out.push((components, meta.len(), path));
            }
        }
    }
    out.sort_by_key(|f| f.0.join("/"));
    Ok(out)
}

/// Hashes the data and writes the .torrent.
pub fn create(opts: &CreateOptions) -> Result<Created, CliError> {
    let meta = std::fs::metadata(&opts.path).map_err(|source| CliError::ReadFile {
        path: opts.path.clone(),
        source,
    })?;
    let name = opts
        .path
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| CliError::Create {
            path: opts.path.clone(),
            reason: "has no file name".into(),
        })?;
    let (files, scan): (Vec<(Vec<String>, u64)>, Vec<ScanFile>) = if meta.is_dir() {
        let found = collect_files(&opts.path)?;
        found
            .into_iter()
            .map(|(c, len, path)| {
                (
                    (c, len),
                    ScanFile {
                        path,
                        length: len,
                        padding: false,
                    },
                )
            })
            .unzip()
    } else {
        (
            vec![(Vec::new(), meta.len())],
            vec![ScanFile {
                path: opts.path.clone(),
                length: meta.len(),
                padding: false,
            }],
        )
    };
    let total: u64 = files.iter().map(|f| f.1).sum();
    if total == 0 {
        return Err(CliError::Create {
            path: opts.path.clone(),
            reason: "no data to share (every file is empty)".into(),
        });
    }
    let piece_length = opts.piece_size.unwrap_or_else(|| default_piece_length(total));
    if piece_length < 16 * 1024 || !piece_length.is_power_of_two() {
        return Err(CliError::Create {
            path: opts.path.clone(),
            reason: format!("piece size {piece_length} must be a power of two of at least 16 KiB"),
        });
    }
    let hashes = hash_pieces(&scan, piece_length, opts.threads);
    let mut piece_hashes = Vec::with_capacity(hashes.len());
    for h in hashes {
        piece_hashes.push(h.ok_or_else(|| CliError::Create {
            path: opts.path.clone(),
            reason: "a file changed or could not be read while hashing".into(),
        })?);
    }
    let builder = MetainfoBuilder {
        name,
        files,
        piece_length,
        piece_hashes,
        announce_tiers: opts.trackers.iter().map(|t| vec![t.clone()]).collect(),
        private: opts.private,
        comment: opts.comment.clone(),
        created_by: Some(concat!("ccbt ", env!("CARGO_PKG_VERSION")).to_string()),
        creation_date: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs() as i64),
        url_list: Vec::new(),
    };
    let bytes = builder.build().map_err(|e| CliError::Create {
        path: opts.path.clone(),
        reason: e.to_string(),
    })?;
    let parsed = ccbt_engine::metainfo::Metainfo::from_bytes(&bytes).map_err(|e| CliError::Create {
        path: opts.path.clone(),
        reason: e.to_string(),
    })?;
    let tmp = opts.output.with_extension("torrent.tmp");
    std::fs::write(&tmp, &bytes).map_err(|source| CliError::Write {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &opts.output).map_err(|source| CliError::Write {
        path: opts.output.clone(),
        source,
    })?;
    Ok(Created {
        info_hash: parsed.info_hash,
        num_pieces: parsed.num_pieces(),
        total_length: total,
    })
}
