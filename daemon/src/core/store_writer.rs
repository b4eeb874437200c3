//! Writes to the state dir on a thread of its own: each write is fsync'ed, and
//! 10,000 resume records after a full recheck would otherwise hold the control
//! thread (and so the API) for many seconds.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::state_store::{ResumeFile, SessionRecord, StateStore};

/// Run once the session file holding a change is on disk (or failed to be written,
/// which is logged): an add is answered only then, so a kill -9 after the answer
/// cannot lose it.
pub(crate) type AfterWrite = Box<dyn FnOnce() + Send>;

pub(crate) enum WriteJob {
    Resume([u8; 20], ResumeFile),
    Session(Box<SessionRecord>, Vec<AfterWrite>),
    /// A removed torrent's records go, after any write of them still queued.
    Remove([u8; 20]),
}

pub(crate) struct StoreWriter {
    jobs: Option<Sender<WriteJob>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreWriter {
    pub fn start(store: StateStore) -> std::io::Result<StoreWriter> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("ccbt-state-writer".into())
            .spawn(move || write_loop(&store, &rx))?;
        Ok(StoreWriter {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn send(&self, job: WriteJob) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }

    /// Waits until everything sent is written.
    pub fn finish(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

fn write_loop(store: &StateStore, jobs: &Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        // Of several session snapshots waiting, only the newest is written.
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        let newest_session = batch.iter().rposition(|j| matches!(j, WriteJob::Session(..)));
        // Acknowledgements of the snapshots skipped wait for the newest one's write.
        let mut waiting: Vec<AfterWrite> = Vec::new();
        for (i, job) in batch.into_iter().enumerate() {
            match job {
                WriteJob::Resume(hash, file) => {
                    if let Err(e) = store.save_resume(&hash, &file) {
                        tracing::error!(error = %e, "cannot write a resume record");
                    }
                }
                WriteJob::Session(record, after) if Some(i) == newest_session => {
                    if let Err(e) = store.save_session(&record) {
                        tracing::error!(error = %e, "cannot write the session file");
                    }
                    for ack in waiting.drain(..).chain(after) {
                        ack();
                    }
                }
                WriteJob::Session(_, after) => waiting.extend(after),
                WriteJob::Remove(hash) => {
                    if let Err(e) = store.remove_torrent_files(&hash) {
                        tracing::warn!(error = %e, "cannot delete a removed torrent's saved state");
                    }
                }
            }
        }
    }
}
