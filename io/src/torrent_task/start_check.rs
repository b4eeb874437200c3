//! A torrent's start: its files opened and what is on them checked, trusting a
//! resume record where the files are unchanged, and cancellable between pieces.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::Bitfield;

use crate::resume::{current_stamps, trusted_pieces, CheckSummary, ResumeRecord, StampedFile};
use crate::storage::{Preallocation, Storage, StorageError, StorageFile};

/// Cancels a start whose check is under way: the check stops before its next
/// piece and the start ends with [`StartError::Cancelled`]. Cheap to clone; every
/// clone shares the one flag.
#[derive(Clone, Debug, Default)]
pub struct CheckCancel(Rc<Cell<bool>>);

impl CheckCancel {
    pub fn cancel(&self) {
        self.0.set(true);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.get()
    }
}

/// Why a torrent did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// [`CheckCancel::cancel`] was called before the check ended.
    #[error("torrent {name}: start cancelled during the check of its data")]
    Cancelled { name: String },
}

/// The opened files and what is verified on them.
pub(super) struct CheckedData {
    pub storage: Storage,
    pub have: Bitfield,
    pub summary: CheckSummary,
}

/// Opens (creating) the files of `meta` below `download_dir` and decides which
/// pieces are on disk: pieces the record vouches for whose files are unchanged are
/// trusted, every other one is checked (see [`Storage::recheck_trusting`]).
pub(super) async fn open_and_check(
    meta: &Metainfo,
    download_dir: &Path,
    preallocation: Preallocation,
    record: Option<&ResumeRecord>,
    cancel: &CheckCancel,
) -> Result<CheckedData, StartError> {
    let started = Instant::now();
    let info = &meta.info;
    let files = StorageFile::of_metainfo(meta);
    // Before `open`, which may extend or create files (and so change their stamps).
    let stamped: Vec<StampedFile<'_>> = files
        .iter()
        .map(|f| StampedFile {
            path: &f.path,
            padding: f.padding,
        })
        .collect();
    let current = record.map(|_| current_stamps(download_dir, &stamped));
    let storage = Storage::open(download_dir, &files, info.piece_length, preallocation).await?;
    let padding: Vec<bool> = files.iter().map(|f| f.padding).collect();
    let mut summary = CheckSummary::default();
    let trusted = match (record, &current) {
        (Some(record), Some(current)) => match trusted_pieces(record, storage.layout(), &padding, current) {
            Ok(t) => {
                summary.changed_files = t.changed_files;
                t.pieces
            }
            Err(why) => {
                tracing::info!(torrent = %meta.info_hash, name = %info.name, %why, "resume record ignored: rechecking");
                summary.record_problem = Some(why);
                Bitfield::new(meta.num_pieces())
            }
        },
        _ => Bitfield::new(meta.num_pieces()),
    };
    let outcome = storage
        .recheck_trusting(&info.piece_hashes, &trusted, |_| cancel.is_cancelled())
        .await?;
    let Some(outcome) = outcome else {
        // Nothing of it runs: its files are closed now, not whenever it is dropped.
        if let Err(e) = storage.close().await {
            tracing::debug!(torrent = %meta.info_hash, error = %e, "closing the files of a cancelled start");
        }
        return Err(StartError::Cancelled {
            name: info.name.clone(),
        });
    };
    summary.trusted_pieces = trusted.count_ones();
    summary.hashed_pieces = outcome.hashed;
    summary.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    summary.verified_bytes = outcome
        .have
        .iter_ones()
        .map(|i| u64::from(meta.piece_size(ccbt_engine::PieceIndex(i))))
        .sum();
    Ok(CheckedData {
        storage,
        have: outcome.have,
        summary,
    })
}
