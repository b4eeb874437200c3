//! What the core does with the shards' events, and with the work it ran off the
//! control thread (moving and deleting data).

use std::path::PathBuf;

use ccbt_io::storage::StorageFile;
use ccbt_shards::SessionEvent;

use super::{unix_now, AfterStop, DaemonCore, Life, PendingRemoval};
use crate::api_types::{FilePriorityName, TorrentSummary};
use crate::control::{ApiError, Reply};

/// Work finished on a blocking thread, back to the core.
pub(crate) enum Internal {
    Moved {
        id: u32,
        to: PathBuf,
        result: Result<(), String>,
        reply: Option<Reply<TorrentSummary>>,
    },
}

/// Tracker errors in `now` that were not in `before` (each as `URL: error`).
fn tracker_errors_new(before: Option<&ccbt_shards::TorrentStatus>, now: &ccbt_shards::TorrentStatus) -> Vec<String> {
    now.trackers
        .iter()
        .filter_map(|tr| {
            let error = tr.last_error.as_ref()?;
            let seen = before.is_some_and(|b| {
                b.trackers
                    .iter()
                    .any(|old| old.url == tr.url && old.last_error.as_ref() == Some(error))
            });
            (!seen).then(|| format!("{}: {error}", tr.url))
        })
        .collect()
}

impl DaemonCore {
    pub(super) fn id_of(&self, info_hash: &ccbt_engine::InfoHash) -> Option<u32> {
        self.by_hash.get(info_hash).copied()
    }

    pub(super) fn on_session_event(&mut self, ev: SessionEvent) {
        self.touch_for_event(&ev);
        match ev {
            SessionEvent::Started {
                info_hash,
                mut check,
                have,
                num_pieces,
                ..
            } => {
                let Some(id) = self.id_of(&info_hash) else { return };
                let Some(t) = self.torrents.get_mut(&id) else { return };
                t.checked = true;
                // Whether it downloads or seeds decides which slot it waits for;
                // with skipped files the shard's status says, a second later.
                let skips = t.settings.file_priorities.contains(&FilePriorityName::Skip);
                if have == num_pieces || !skips {
                    t.complete = have == num_pieces;
                }
                if t.complete && t.completed_at.is_none() {
                    // Added with its data already there: complete, without a download
                    // (so no `completed` event or hook).
                    t.completed_at = Some(unix_now());
                }
                self.schedule_needed = true;
                // A record the state dir could not read never reached the shard: its
                // reason is the daemon's, reported with this start.
                check.record_problem = check.record_problem.take().or(t.record_problem.take());
                let problem = check.record_problem.clone();
                t.check = Some(check);
                if let (Some(problem), Some(t)) = (problem, self.torrents.get(&id)) {
                    tracing::warn!(torrent = %info_hash, %problem, "resume record not used; rechecked");
                    self.publish("record_problem", Some(t), Some(problem));
                }
            }
            SessionEvent::Completed { info_hash } => {
                let Some(id) = self.id_of(&info_hash) else { return };
                let Some(t) = self.torrents.get_mut(&id) else { return };
                let first = !t.complete;
                t.complete = true;
                if t.completed_at.is_none() {
                    t.completed_at = Some(unix_now());
                }
                self.session_dirty = true;
                if first {
                    if let Some(t) = self.torrents.get(&id) {
                        self.publish("completed", Some(t), None);
                        self.automation.hook_completed(t);
                    }
                }
                self.request_schedule();
            }
            SessionEvent::Failed { info_hash, error } => {
                let Some(id) = self.id_of(&info_hash) else { return };
                let Some(t) = self.torrents.get_mut(&id) else { return };
                if !matches!(t.life, Life::Running) {
                    return;
                }
                t.error = Some(error.clone());
                self.session_dirty = true;
                if let Some(t) = self.torrents.get(&id) {
                    tracing::warn!(torrent = %info_hash, %error, "torrent stopped by an error");
                    self.publish("error", Some(t), Some(error.clone()));
                    self.automation.hook_error(t, &error);
                }
            }
            SessionEvent::Status { shard, torrents, usage } => {
                self.automation.record_usage(shard, usage);
                for s in torrents {
                    let Some(id) = self.id_of(&s.info_hash) else { continue };
                    let Some(t) = self.torrents.get_mut(&id) else { continue };
                    if !matches!(t.life, Life::Running) {
                        continue;
                    }
                    if s.state != ccbt_shards::TorrentState::Checking {
                        t.complete = s.stats.complete;
                    }
                    if t.error.is_none() {
                        if let Some(e) = &s.error {
                            t.error = Some(e.clone());
                        }
                    }
                    let new_tracker_errors = tracker_errors_new(t.status.as_ref(), &s);
                    // `peer_banned` comes with the shard's own event (see `bans.rs`).
                    t.status = Some(s);
                    for message in new_tracker_errors {
                        if let Some(t) = self.torrents.get(&id) {
                            self.publish("tracker_error", Some(t), Some(message));
                        }
                    }
                }
            }
            SessionEvent::Resume { info_hash, record } => {
                let Some(id) = self.id_of(&info_hash) else { return };
                if let Some(t) = self.torrents.get_mut(&id) {
                    if t.resume.as_ref() != Some(&record) {
                        t.resume = Some(record);
                        t.resume_dirty = true;
                    }
                }
            }
            SessionEvent::Stopped { info_hash, record } => {
                if let Some(pending) = self.removing.remove(&info_hash) {
                    self.finish_removal(pending);
                    return;
                }
                let Some(id) = self.id_of(&info_hash) else { return };
                let Some(t) = self.torrents.get_mut(&id) else { return };
                // Written only when it says something new: 10,000 seeding torrents
                // stopping at shutdown have nothing to write.
                if let Some(record) = record.filter(|r| t.resume.as_ref() != Some(r)) {
                    t.resume = Some(record);
                    t.resume_dirty = true;
                }
                t.end_run();
                self.after_stop(id);
            }
            SessionEvent::MetadataReceived { info_hash, meta } => self.on_metadata_received(info_hash, meta),
            SessionEvent::ShardStopped { shard } => {
                tracing::debug!(shard, "shard stopped");
            }
            SessionEvent::PeerBanned { info_hash, ip, reason } => self.on_peer_banned(info_hash, ip, reason),
        }
    }

    /// Runs what was waiting for the torrent to stop.
    pub(super) fn after_stop(&mut self, id: u32) {
        let Some(t) = self.torrents.get_mut(&id) else { return };
        let then = match std::mem::replace(&mut t.life, Life::Idle) {
            Life::Stopping(then) => then,
            Life::Idle | Life::Running => AfterStop::Nothing,
        };
        match then {
            AfterStop::Nothing => {}
            AfterStop::Restart => {}
            AfterStop::Recheck => t.recheck_next_start = true,
            AfterStop::Move { to, reply } => {
                // Keep it out of the queue while its files move.
                t.life = Life::Stopping(AfterStop::Nothing);
                let from = t.settings.download_dir.clone();
                let files = t.meta.as_deref().map(StorageFile::of_metainfo).unwrap_or_default();
                let internal = self.internal_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let result = ccbt_io::storage::data_files::move_data(&from, &to, &files)
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    let _ = internal.send(Internal::Moved { id, to, result, reply });
                });
                return;
            }
        }
        self.session_dirty = true;
        self.request_schedule();
    }

    pub(super) fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Moved { id, to, result, reply } => {
                let Some(t) = self.torrents.get_mut(&id) else { return };
                t.life = Life::Idle;
                match result {
                    Ok(()) => {
                        tracing::info!(torrent = %t.info_hash, to = %to.display(), "data moved");
                        t.settings.download_dir = to;
                        self.session_dirty = true;
                        self.request_schedule();
                        if let Some(reply) = reply {
                            let _ = reply.send(self.summary_by_id(id));
                        }
                    }
                    Err(e) => {
                        let message = format!("cannot move {} to {}: {e}", t.name(), to.display());
                        self.request_schedule();
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(ApiError::new(409, "move_failed", message)));
                        }
                    }
                }
            }
        }
    }

    /// The torrent's shard has let go of it (or it never ran): delete its data if
    /// asked, then answer.
    pub(super) fn finish_removal(&mut self, pending: PendingRemoval) {
        let PendingRemoval {
            meta,
            download_dir,
            delete_data,
            reply,
        } = pending;
        let Some(meta) = meta.filter(|_| delete_data) else {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(()));
            }
            return;
        };
        let files = StorageFile::of_metainfo(&meta);
        tokio::task::spawn_blocking(move || {
            let result = ccbt_io::storage::data_files::delete_data(&download_dir, &files)
                .map(|_| ())
                .map_err(|e| ApiError::new(409, "delete_failed", format!("torrent removed, but {e}")));
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        });
    }
}
