//! The core's side of the qBittorrent API: the change log behind `sync/maindata`
//! and the categories and tags.

use std::collections::HashSet;
use std::time::Instant;

use ccbt_shards::SessionEvent;

use super::categories::{CategoryBook, CategoryEdit};
use super::change_log::SyncDelta;
use super::DaemonCore;
use crate::control::{ApiError, ControlRequest, Reply};

impl DaemonCore {
    /// Marks the torrent a request is about, so the next `sync/maindata` answer
    /// shows what the request did without waiting for the once-a-second refresh.
    pub(super) fn touched_by(&self, req: &ControlRequest) -> Option<u32> {
        match req {
            ControlRequest::PatchTorrent { id, .. }
            | ControlRequest::RemoveTorrent { id, .. }
            | ControlRequest::Action { id, .. }
            | ControlRequest::PatchFiles { id, .. } => self.resolve(id).ok(),
            _ => None,
        }
    }

    /// A lifecycle event of a torrent (not the periodic status) touches it.
    pub(super) fn touch_for_event(&mut self, ev: &SessionEvent) {
        let hash = match ev {
            SessionEvent::Started { info_hash, .. }
            | SessionEvent::Completed { info_hash }
            | SessionEvent::Failed { info_hash, .. }
            | SessionEvent::Stopped { info_hash, .. } => info_hash,
            _ => return,
        };
        if let Some(id) = self.by_hash.get(hash).copied() {
            self.change_log.touch(id);
        }
    }

    pub(super) fn touch(&mut self, id: u32) {
        self.change_log.touch(id);
    }

    pub(super) fn touch_all(&mut self) {
        self.change_log.touch_all();
    }

    /// Records every torrent's summary (and the removal of those gone).
    fn refresh_change_log_fully(&mut self) {
        let summaries: Vec<_> = self.torrents.values().map(|t| self.summary_of(t)).collect();
        let present: HashSet<u32> = summaries.iter().map(|s| s.id).collect();
        for s in summaries {
            self.change_log.record(s);
        }
        self.change_log.finish_full_refresh(&present);
    }

    /// Records the touched torrents only.
    fn refresh_change_log_touched(&mut self) {
        if self.change_log.needs_full_refresh() {
            self.refresh_change_log_fully();
            return;
        }
        for id in self.change_log.take_touched() {
            match self.torrents.get(&id).map(|t| self.summary_of(t)) {
                Some(summary) => {
                    self.change_log.record(summary);
                }
                None => self.change_log.removed_torrent(id),
            }
        }
    }

    /// Once a tick, while a client follows the log: rates, bytes and states move
    /// without any request.
    pub(super) fn refresh_change_log_each_second(&mut self) {
        if self.change_log.followed(Instant::now()) {
            self.refresh_change_log_fully();
        }
    }

    pub(super) fn sync_main_data(&mut self, rid: u64, reply: Reply<SyncDelta>) {
        self.refresh_change_log_touched();
        let tags = self.categories.tag_list();
        let mut delta = self
            .change_log
            .delta_since(rid, Instant::now(), &self.categories.categories, &tags);
        let (down, up) = self.lifetime_totals();
        let alt = self.settings.alt_speed_active;
        let server = &mut delta.server;
        server.total_downloaded = down;
        server.total_uploaded = up;
        server.session_downloaded = down.saturating_sub(self.session_base.0);
        server.session_uploaded = up.saturating_sub(self.session_base.1);
        server.alt_speed_active = alt;
        (server.download_limit, server.upload_limit) = if alt {
            (self.settings.alt_download_limit, self.settings.alt_upload_limit)
        } else {
            (self.settings.download_limit, self.settings.upload_limit)
        };
        let _ = reply.send(Ok(delta));
    }

    pub(super) fn category_book(&self) -> CategoryBook {
        self.categories.clone()
    }

    /// Applies a category or tag edit, saves the book, and takes removed names off
    /// the torrents' labels.
    pub(super) fn edit_categories(&mut self, edit: CategoryEdit) -> Result<CategoryBook, ApiError> {
        let mut book = self.categories.clone();
        let removed = book.apply(&edit)?;
        if book == self.categories {
            return Ok(book);
        }
        book.save(&self.state_dir)?;
        self.categories = book;
        match edit {
            CategoryEdit::Create(_) | CategoryEdit::Edit(_) | CategoryEdit::Remove(_) => {
                self.change_log.categories_changed(&removed)
            }
            CategoryEdit::CreateTags(_) | CategoryEdit::DeleteTags(_) => self.change_log.tags_changed(&removed),
        }
        if !removed.is_empty() {
            let mut touched = Vec::new();
            for t in self.torrents.values_mut() {
                let before = t.settings.labels.len();
                t.settings.labels.retain(|l| !removed.contains(l));
                if t.settings.labels.len() != before {
                    touched.push(t.id);
                }
            }
            for id in touched {
                self.change_log.touch(id);
            }
            self.session_dirty = true;
        }
        Ok(self.categories.clone())
    }
}
