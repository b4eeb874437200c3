//! `btbt verify`: which pieces of a torrent's data on disk are valid.

use std::path::Path;

use ccbt_engine::file_layout::FileLayout;

use crate::error::CliError;
use crate::piece_scan::{files_under, hash_pieces};
use crate::source::load_torrent_file;

/// Result of checking data against a torrent.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub name: String,
    pub valid_pieces: u32,
    pub num_pieces: u32,
    /// Files with at least one invalid piece: (path, valid pieces, pieces).
    pub incomplete_files: Vec<(String, u32, u32)>,
}

impl VerifyReport {
    pub fn all_valid(&self) -> bool {
        self.valid_pieces == self.num_pieces
    }
}

/// Hashes the data under `data_dir` and compares with the torrent.
pub fn verify(torrent: &Path, data_dir: &Path, threads: usize) -> Result<VerifyReport, CliError> {
    let loaded = load_torrent_file(torrent)?;
    let meta = &loaded.meta;
    let files = files_under(data_dir, meta);
    let hashes = hash_pieces(&files, meta.info.piece_length, threads);
    let valid: Vec<bool> = hashes
        .iter()
        .zip(meta.info.piece_hashes.iter())
        .map(|(got, want)| got.as_ref() == Some(want))
        .collect();
    let lengths: Vec<u64> = meta.info.files.iter().map(|f| f.length).collect();
    let layout = FileLayout::new(&lengths, meta.info.piece_length, meta.info.total_length)
        .map_err(|e| CliError::TorrentFailed(format!("{}: {e}", torrent.display())))?;
    let mut incomplete = Vec::new();
    // Padding files are not the user's files: never listed.
    for (i, f) in meta.info.files.iter().enumerate().filter(|(_, f)| !f.padding) {
        let Some(range) = layout.piece_range_of_file(i) else {
            continue;
        };
        let pieces = range.clone().count() as u32;
        let ok = range
            .filter(|p| valid.get(*p as usize).copied().unwrap_or(false))
            .count() as u32;
        if ok < pieces {
            incomplete.push((f.path.display().to_string(), ok, pieces));
        }
    }
    Ok(VerifyReport {
        name: meta.info.name.clone(),
        valid_pieces: valid.iter().filter(|v| **v).count() as u32,
        num_pieces: meta.num_pieces(),
        incomplete_files: incomplete,
    })
}
