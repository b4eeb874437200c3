//! Resume records of a running torrent: taken when its verified pieces changed (at
//! most once per [`RESUME_INTERVAL`]), at once on completion, and when it stops
//! for good.
//!
//! A record names only pieces whose write finished, and its file stamps are taken
//! after the files written since the last record were flushed (`fdatasync`), so a
//! restart never trusts data that was only in the page cache.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{TorrentEvent, TorrentTask};
use crate::resume::{current_stamps, stamps_for_record, ResumeRecord, StampedFile};
use crate::storage::StorageError;

/// Least time between two periodic records of one torrent.
pub const RESUME_INTERVAL: Duration = Duration::from_secs(10);
/// Longest a stopping torrent waits for its piece writes in flight.
const WRITES_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
const WRITES_DRAIN_STEP: Duration = Duration::from_millis(5);

/// When the last record was taken and what it held.
pub(super) struct ResumeSnapshots {
    /// Verified pieces in the last record sent (`None`: none sent, or the start's
    /// record did not match what the start found).
    last_count: Cell<Option<u32>>,
    last_at: Cell<Option<Instant>>,
    /// One record at a time, so they go out in the order they were taken.
    taking: glommio::sync::Semaphore,
    /// Piece writes started and not yet finished.
    pub writes_in_flight: Cell<u32>,
}

impl ResumeSnapshots {
    /// `recorded`: the verified count of a start's record that matched what the
    /// start found (nothing to send until it changes).
    pub(super) fn new(recorded: Option<u32>) -> ResumeSnapshots {
        ResumeSnapshots {
            last_count: Cell::new(recorded),
            last_at: Cell::new(None),
            taking: glommio::sync::Semaphore::new(1),
            writes_in_flight: Cell::new(0),
        }
    }
}

/// Counts a piece write in flight for as long as it lives.
pub(super) struct WriteInFlight(Rc<TorrentTask>);

impl WriteInFlight {
    pub(super) fn new(task: Rc<TorrentTask>) -> WriteInFlight {
        let n = &task.resume.writes_in_flight;
        n.set(n.get() + 1);
        WriteInFlight(task)
    }
}

impl Drop for WriteInFlight {
    fn drop(&mut self) {
        let n = &self.0.resume.writes_in_flight;
        n.set(n.get().saturating_sub(1));
    }
}

impl TorrentTask {
    /// Takes a record now: the verified pieces (writes finished), then a flush of
    /// the files written since the last one, then each file's size and mtime.
    pub async fn resume_record(&self) -> Result<ResumeRecord, StorageError> {
        let _one_at_a_time = self.resume.taking.acquire_permit(1).await;
        let have = self.engine.borrow().have().as_bytes().to_vec();
        self.storage.sync_all().await?;
        let stamped: Vec<StampedFile<'_>> = self
            .meta
            .info
            .files
            .iter()
            .map(|f| StampedFile {
                path: &f.path,
                padding: f.padding,
            })
            .collect();
        let stamps = current_stamps(self.storage.download_dir(), &stamped);
        Ok(ResumeRecord {
            have,
            files: stamps_for_record(&stamps),
        })
    }

    /// From the tick: sends a record if the verified pieces changed since the last
    /// one and the last is [`RESUME_INTERVAL`] old.
    pub(super) fn record_if_due(self: &Rc<Self>, now: Instant) {
        if self
            .resume
            .last_at
            .get()
            .is_some_and(|at| now.duration_since(at) < RESUME_INTERVAL)
        {
            return;
        }
        let count = self.engine.borrow().have().count_ones();
        if self.resume.last_count.get() == Some(count) {
            return;
        }
        self.record_now();
    }

    /// Sends a record in the background (on completion, or when due).
    pub(super) fn record_now(self: &Rc<Self>) {
        self.resume.last_at.set(Some(Instant::now()));
        let task = self.clone();
        glommio::spawn_local(async move {
            if task.is_stopped() {
                return;
            }
            match task.resume_record().await {
                Ok(record) => {
                    let count = record.have.iter().map(|b| b.count_ones()).sum();
                    task.resume.last_count.set(Some(count));
                    (task.events)(TorrentEvent::Resume {
                        info_hash: task.info_hash,
                        record,
                    });
                }
                Err(e) => {
                    tracing::warn!(torrent = %task.info_hash, error = %e, "resume record not taken");
                }
            }
        })
        .detach();
    }

    /// Ends the torrent for good: peers closed, trackers told `stopped` (bounded),
    /// piece writes in flight finished (bounded), files flushed and a last record
    /// taken, files closed. Afterwards its files may be moved or deleted. `None`
    /// when the flush failed (the record would name data not known to be on disk).
    pub async fn stop_for_good(&self) -> Option<ResumeRecord> {
        self.shutdown().await;
        let mut waited = Duration::ZERO;
        while self.resume.writes_in_flight.get() > 0 && waited < WRITES_DRAIN_TIMEOUT {
            glommio::timer::sleep(WRITES_DRAIN_STEP).await;
            waited += WRITES_DRAIN_STEP;
        }
        let record = match self.resume_record().await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(torrent = %self.info_hash, error = %e, "no resume record at stop");
                None
            }
        };
        if let Err(e) = self.storage.close_files().await {
            tracing::debug!(torrent = %self.info_hash, error = %e, "closing files at stop");
        }
        record
    }
}
