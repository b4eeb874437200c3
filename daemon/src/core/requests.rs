//! The core's answer to each API request.

use std::collections::BTreeMap;

use ccbt_shards::messages::TorrentSnapshot;
use tokio::sync::oneshot;

use super::add::absolute_dir;
use super::managed::Managed;
use super::{views, AfterStop, DaemonCore, Life, PendingRemoval, StopReason};
use crate::api_types::{
    FilePriorityName, LimitKeyword, LimitSetting, SessionInfo, SessionPatch, SessionStats, ShardStats, TorrentPatch,
    TorrentStateName, TorrentSummary,
};
use crate::control::{ApiError, ControlRequest, Reply, TorrentAction};

/// A rate limit as set through the API: 0 and `"none"` both mean no limit.
fn rate_limit(setting: LimitSetting<u64>) -> Option<u64> {
    match setting {
        LimitSetting::Value(0) => None,
        LimitSetting::Value(v) => Some(v),
        LimitSetting::Keyword(_) => None,
    }
}

/// Builds an answer from a torrent's summary, a copy of its record and the shard's
/// snapshot (none when it does not run).
type ViewFn<T> = Box<dyn FnOnce(TorrentSummary, &Managed, Option<&TorrentSnapshot>) -> T + Send>;

impl DaemonCore {
    pub(super) fn handle(&mut self, req: ControlRequest) {
        if let Some(id) = self.touched_by(&req) {
            self.touch(id);
        }
        match req {
            ControlRequest::Alerts(req) => self.handle_alert_request(req),
            ControlRequest::ListTorrents(reply) => {
                let _ = reply.send(Ok(self.summaries()));
            }
            ControlRequest::GetTorrent { id, reply } => self.with_view(&id, reply, views::detail),
            ControlRequest::AddTorrent { source, options, reply } => {
                match self.add(source, options) {
                    Ok(added) => {
                        self.touch(added.id);
                        // Answered once the session file holding it is written.
                        self.after_session_write.push(Box::new(move || {
                            let _ = reply.send(Ok(added));
                        }));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            ControlRequest::PatchTorrent { id, patch, reply } => self.patch_torrent(&id, patch, reply),
            ControlRequest::RemoveTorrent { id, delete_data, reply } => self.remove(&id, delete_data, reply),
            ControlRequest::Action { id, action, reply } => {
                let result = self.resolve(&id).and_then(|id| self.action(id, action));
                let _ = reply.send(result);
            }
            ControlRequest::Files { id, reply } => {
                self.with_view(&id, reply, |_, t, snap| views::files(t, &views::have_of(t, snap)))
            }
            ControlRequest::PatchFiles { id, patch, reply } => {
                match self
                    .resolve(&id)
                    .and_then(|n| self.set_file_priorities(n, &patch.files, patch.priority))
                {
                    Ok(()) => self.with_view(&id, reply, |_, t, snap| views::files(t, &views::have_of(t, snap))),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            ControlRequest::Peers { id, reply } => {
                self.with_view(&id, reply, |s, t, snap| views::detail(s, t, snap).peers_list)
            }
            ControlRequest::Trackers { id, reply } => {
                self.with_view(&id, reply, |s, t, snap| views::detail(s, t, snap).trackers)
            }
            ControlRequest::Pieces { id, reply } => self.with_view(&id, reply, |_, t, snap| {
                views::piece_map(t.num_pieces(), &views::have_of(t, snap))
            }),
            ControlRequest::Queue(reply) => {
                let _ = reply.send(Ok(self.queue_view()));
            }
            ControlRequest::MoveInQueue { id, to, reply } => {
                let result = self
                    .resolve(&id)
                    .and_then(|id| self.move_in_queue(id, to))
                    .map(|()| self.queue_view());
                self.touch_all();
                let _ = reply.send(result);
            }
            ControlRequest::GetSession(reply) => {
                let _ = reply.send(Ok(self.session_info()));
            }
            ControlRequest::PatchSession { patch, reply } => {
                let result = self.patch_session(patch).map(|()| self.session_info());
                let _ = reply.send(result);
            }
            ControlRequest::Stats(reply) => {
                let _ = reply.send(Ok(self.stats()));
            }
            ControlRequest::ListBans(reply) => {
                let _ = reply.send(Ok(self.list_bans()));
            }
            ControlRequest::Unban { addr, reply } => {
                let _ = reply.send(self.unban(&addr));
            }
            ControlRequest::Metrics(reply) => {
                let _ = reply.send(self.metrics());
            }
            ControlRequest::Shutdown(reply) => self.shutdown_requested = Some(reply),
            ControlRequest::SyncMainData { rid, reply } => self.sync_main_data(rid, reply),
            ControlRequest::Categories(reply) => {
                let _ = reply.send(Ok(self.category_book()));
            }
            ControlRequest::EditCategories { edit, reply } => {
                let _ = reply.send(self.edit_categories(edit));
            }
            ControlRequest::IpFilter(request) => self.ip_filter_request(request),
            ControlRequest::Reconfigure {
                hooks,
                watch_dir,
                reply,
            } => {
                self.settings.watch_dir = watch_dir.as_ref().map(|d| d.display().to_string());
                self.automation.reconfigure(hooks.as_ref(), watch_dir);
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// The torrent a user named: id, full info-hash or a unique prefix of it.
    pub(super) fn resolve(&self, input: &str) -> Result<u32, ApiError> {
        self.ids.resolve(input).map(|r| r.id).map_err(ApiError::from)
    }

    pub(super) fn summary_of(&self, t: &Managed) -> TorrentSummary {
        views::summary(t, &self.settings)
    }

    fn summaries(&self) -> Vec<TorrentSummary> {
        self.torrents.values().map(|t| self.summary_of(t)).collect()
    }

    pub(super) fn summary_by_id(&self, id: u32) -> Result<TorrentSummary, ApiError> {
        self.torrents
            .get(&id)
            .map(|t| self.summary_of(t))
            .ok_or_else(|| ApiError::not_found(format!("no torrent with id {id}")))
    }

    /// Answers with a part of the torrent's detail view. A running torrent's shard is
    /// asked for its snapshot; the answer is built off the core, so a slow shard
    /// delays only this reply.
    fn with_view<T: Send + 'static>(
        &mut self,
        id: &str,
        reply: Reply<T>,
        view: impl FnOnce(TorrentSummary, &Managed, Option<&TorrentSnapshot>) -> T + Send + 'static,
    ) {
        let id = match self.resolve(id) {
            Ok(id) => id,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let Some(t) = self.torrents.get(&id) else { return };
        let summary = self.summary_of(t);
        let copy = t.view_copy();
        let view: ViewFn<T> = Box::new(view);
        if !matches!(t.life, Life::Running) {
            let _ = reply.send(Ok(view(summary, &copy, None)));
            return;
        }
        let (tx, rx) = oneshot::channel::<Option<TorrentSnapshot>>();
        let _ = self.session.query(
            t.info_hash(),
            Box::new(move |snapshot| {
                let _ = tx.send(snapshot);
            }),
        );
        tokio::spawn(async move {
            let snapshot = match tokio::time::timeout(std::time::Duration::from_secs(5), rx).await {
                Ok(Ok(s)) => s,
                _ => None,
            };
            let _ = reply.send(Ok(view(summary, &copy, snapshot.as_ref())));
        });
    }

    fn action(&mut self, id: u32, action: TorrentAction) -> Result<TorrentSummary, ApiError> {
        let t = self
            .torrents
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(format!("no torrent with id {id}")))?;
        match action {
            TorrentAction::Pause => {
                t.stop = Some(StopReason::Paused);
                t.settings.force_started = false;
                if matches!(t.life, Life::Running) {
                    self.stop_torrent(id, AfterStop::Nothing);
                }
            }
            TorrentAction::Resume | TorrentAction::ForceStart => {
                t.stop = None;
                t.settings.force_started = action == TorrentAction::ForceStart;
                if t.error.take().is_some() && matches!(t.life, Life::Running) {
                    // Stopped by its own error but still on its shard: start it afresh.
                    self.stop_torrent(id, AfterStop::Restart);
                }
                self.request_schedule();
            }
            TorrentAction::Verify => {
                t.error = None;
                match t.life {
                    Life::Idle => t.recheck_next_start = true,
                    _ => self.stop_torrent(id, AfterStop::Recheck),
                }
            }
            TorrentAction::Reannounce => {
                if !matches!(t.life, Life::Running) {
                    return Err(ApiError::conflict(format!(
                        "torrent {id} is not running: nothing to announce"
                    )));
                }
                let _ = self.session.reannounce(t.info_hash());
            }
        }
        self.session_dirty = true;
        self.summary_by_id(id)
    }

    fn patch_torrent(&mut self, id: &str, patch: TorrentPatch, reply: Reply<TorrentSummary>) {
        let result = self
            .resolve(id)
            .and_then(|id| self.apply_patch(id, patch).map(|moved| (id, moved)));
        match result {
            Ok((id, Some(to))) => self.stop_torrent(id, AfterStop::Move { to, reply: Some(reply) }),
            Ok((id, None)) => {
                let _ = reply.send(self.summary_by_id(id));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Applies a patch; returns the directory to move to, if asked (the move itself
    /// waits for the torrent to stop). Everything is checked before anything changes.
    fn apply_patch(&mut self, id: u32, patch: TorrentPatch) -> Result<Option<std::path::PathBuf>, ApiError> {
        let Some(t) = self.torrents.get(&id) else {
            return Err(ApiError::not_found(format!("no torrent with id {id}")));
        };
        let move_to = patch
            .move_to
            .as_deref()
            .map(|d| absolute_dir("move_to", d))
            .transpose()?;
        if let Some(LimitSetting::Value(r)) = patch.ratio_limit {
            if !r.is_finite() || r < 0.0 {
                return Err(ApiError::bad_request(format!("ratio_limit: {r} is not a ratio >= 0")));
            }
        }
        let mut tiers = views::tracker_tiers(t);
        let mut trackers_changed = false;
        for url in patch.remove_trackers.iter().flatten() {
            let before: usize = tiers.iter().map(Vec::len).sum();
            for tier in &mut tiers {
                tier.retain(|u| u != url);
            }
            tiers.retain(|tier| !tier.is_empty());
            if tiers.iter().map(Vec::len).sum::<usize>() == before {
                return Err(ApiError::bad_request(format!(
                    "remove_trackers: the torrent has no tracker {url}"
                )));
            }
            trackers_changed = true;
        }
        for url in patch.add_trackers.iter().flatten() {
            if !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with("udp://")) {
                return Err(ApiError::bad_request(format!(
                    "add_trackers: {url:?} is not an http, https or udp tracker URL"
                )));
            }
            if tiers.iter().flatten().any(|u| u == url) {
                continue;
            }
            tiers.push(vec![url.clone()]);
            trackers_changed = true;
        }
        let info_hash = t.info_hash();
        let running = matches!(t.life, Life::Running);
        if trackers_changed && running {
            self.session
                .set_trackers(info_hash, tiers.clone())
                .map_err(|e| ApiError::bad_request(format!("trackers: {e}")))?;
        }
        let Some(t) = self.torrents.get_mut(&id) else {
            return Err(ApiError::not_found(format!("no torrent with id {id}")));
        };
        if trackers_changed {
            t.settings.trackers = Some(tiers);
        }
        let mut limits_changed = false;
        if let Some(l) = patch.download_limit {
            t.settings.download_limit = rate_limit(l);
            limits_changed = true;
        }
        if let Some(l) = patch.upload_limit {
            t.settings.upload_limit = rate_limit(l);
            limits_changed = true;
        }
        if let Some(r) = patch.ratio_limit {
            t.settings.ratio_limit = r;
            // A torrent finished by its old limit runs again when the new one allows.
            if t.stop == Some(StopReason::Finished) {
                t.stop = None;
            }
        }
        if let Some(s) = patch.seed_time_limit_secs {
            t.settings.seed_time_limit_secs = s;
            if t.stop == Some(StopReason::Finished) {
                t.stop = None;
            }
        }
        if let Some(s) = patch.idle_limit_secs {
            t.settings.idle_limit_secs = s;
            if t.stop == Some(StopReason::Finished) {
                t.stop = None;
            }
        }
        if let Some(labels) = patch.labels {
            t.settings.labels = labels;
        }
        let sequential = patch.sequential;
        if let Some(on) = sequential {
            t.settings.sequential = on;
        }
        let (down, up) = (t.settings.download_limit, t.settings.upload_limit);
        if running {
            if limits_changed {
                let _ = self.session.set_torrent_limits(info_hash, down, up);
            }
            if let Some(on) = sequential {
                let _ = self.session.set_sequential(info_hash, on);
            }
        }
        self.session_dirty = true;
        Ok(move_to)
    }

    fn set_file_priorities(&mut self, id: u32, files: &[usize], priority: FilePriorityName) -> Result<(), ApiError> {
        let t = self
            .torrents
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(format!("no torrent with id {id}")))?;
        if t.awaiting_metadata() {
            return Err(ApiError::conflict(format!(
                "torrent {id} is a magnet still waiting for its metadata: its files are not known yet"
            )));
        }
        let count = t.settings.file_priorities.len();
        if let Some(bad) = files.iter().find(|&&i| i >= count) {
            return Err(ApiError::bad_request(format!(
                "files: the torrent has {count} files, there is no file {bad}"
            )));
        }
        for &i in files {
            t.settings.file_priorities[i] = priority;
        }
        if priority != FilePriorityName::Skip {
            // More is wanted now: a finished or complete torrent has work again.
            t.complete = false;
        }
        if matches!(t.life, Life::Running) {
            let priorities = t
                .settings
                .file_priorities
                .iter()
                .map(|p| views::engine_priority(*p))
                .collect();
            let _ = self.session.set_file_priorities(t.info_hash(), priorities);
        }
        self.session_dirty = true;
        Ok(())
    }

    fn remove(&mut self, id: &str, delete_data: bool, reply: Reply<()>) {
        let id = match self.resolve(id) {
            Ok(id) => id,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let Some(t) = self.torrents.remove(&id) else { return };
        let info_hash = t.info_hash();
        self.by_hash.remove(&info_hash);
        self.ids.remove(id);
        self.removed_downloaded += t.downloaded();
        self.removed_uploaded += t.uploaded();
        self.publish("removed", Some(&t), None);
        self.writer.send(super::store_writer::WriteJob::Remove(info_hash.0));
        self.session_dirty = true;
        let pending = PendingRemoval {
            meta: t.meta.clone(),
            download_dir: t.settings.download_dir.clone(),
            delete_data,
            reply: Some(reply),
        };
        match t.life {
            Life::Running => {
                let _ = self.session.remove_torrent(info_hash);
                self.removing.insert(info_hash, pending);
            }
            Life::Stopping(_) => {
                self.removing.insert(info_hash, pending);
            }
            Life::Idle => self.finish_removal(pending),
        }
    }

    fn queue_view(&self) -> Vec<TorrentSummary> {
        let mut queued: Vec<&Managed> = self.torrents.values().filter(|t| t.stop.is_none()).collect();
        queued.sort_by_key(|t| t.queue_position);
        queued.into_iter().map(|t| self.summary_of(t)).collect()
    }

    fn session_info(&self) -> SessionInfo {
        let mut settings = self.settings.clone();
        settings.alt_speed_active = self.automation.alt_speed_active(&self.settings);
        SessionInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            api_version: crate::api_types::API_VERSION,
            pid: std::process::id(),
            api_url: self.api_url.clone(),
            listen: self.session.listen_addr().to_string(),
            state_dir: self.state_dir.display().to_string(),
            download_dir: self.download_dir.display().to_string(),
            shards: self.session.shard_count(),
            uptime_secs: self.started.elapsed().as_secs(),
            settings,
        }
    }

    fn patch_session(&mut self, patch: SessionPatch) -> Result<(), ApiError> {
        let download_dir = patch
            .download_dir
            .as_deref()
            .map(|d| absolute_dir("download_dir", d))
            .transpose()?;
        if let Some(Some(schedule)) = &patch.alt_speed_schedule {
            crate::alt_speed::AltSpeedWindow::from_schedule(schedule)
                .map_err(|e| ApiError::bad_request(format!("alt_speed_schedule: {e}")))?;
        }
        if let Some(LimitSetting::Value(r)) = patch.ratio_limit {
            if !r.is_finite() || r < 0.0 {
                return Err(ApiError::bad_request(format!("ratio_limit: {r} is not a ratio >= 0")));
            }
        }
        let s = &mut self.settings;
        if let Some(l) = patch.download_limit {
            s.download_limit = rate_limit(l);
        }
        if let Some(l) = patch.upload_limit {
            s.upload_limit = rate_limit(l);
        }
        if let Some(l) = patch.alt_download_limit {
            s.alt_download_limit = rate_limit(l);
        }
        if let Some(l) = patch.alt_upload_limit {
            s.alt_upload_limit = rate_limit(l);
        }
        if let Some(on) = patch.alt_speed_enabled {
            s.alt_speed_enabled = on;
        }
        if let Some(schedule) = patch.alt_speed_schedule {
            s.alt_speed_schedule = schedule;
        }
        if let Some(n) = patch.max_active_downloads {
            s.max_active_downloads = n;
        }
        if let Some(n) = patch.max_active_seeds {
            s.max_active_seeds = n;
        }
        if let Some(n) = patch.max_active_checks {
            s.max_active_checks = n.max(1);
        }
        if let Some(r) = patch.ratio_limit {
            s.ratio_limit = match r {
                LimitSetting::Value(v) => Some(v),
                LimitSetting::Keyword(LimitKeyword::None | LimitKeyword::Global) => None,
            };
        }
        if let Some(t) = patch.seed_time_limit_secs {
            s.seed_time_limit_secs = match t {
                LimitSetting::Value(v) => Some(v),
                LimitSetting::Keyword(_) => None,
            };
        }
        if let Some(t) = patch.idle_limit_secs {
            s.idle_limit_secs = match t {
                LimitSetting::Value(v) => Some(v),
                LimitSetting::Keyword(_) => None,
            };
        }
        if let Some(dir) = download_dir {
            self.download_dir = dir;
        }
        self.session_dirty = true;
        self.apply_rate_limits();
        self.request_schedule();
        Ok(())
    }

    fn stats(&self) -> SessionStats {
        let mut by_state: BTreeMap<String, u32> = BTreeMap::new();
        let busy: Vec<f64> = self.session.shard_metrics().iter().map(|m| m.busy_percent).collect();
        let mut shards: Vec<ShardStats> = (0..self.session.shard_count())
            .map(|shard| {
                let (download_share, upload_share) = self.automation.shard_share(shard);
                ShardStats {
                    shard,
                    torrents: 0,
                    peers: 0,
                    download_rate: 0,
                    upload_rate: 0,
                    download_share,
                    upload_share,
                    busy_percent: busy.get(shard).copied().unwrap_or(0.0),
                }
            })
            .collect();
        let mut download_rate = 0;
        let mut upload_rate = 0;
        let mut peers = 0;
        for t in self.torrents.values() {
            let s = views::live_figures(t);
            *by_state.entry(s.state.as_str().to_string()).or_default() += 1;
            download_rate += s.download_rate;
            upload_rate += s.upload_rate;
            peers += s.peers;
            if let Some(row) = t.shard.and_then(|n| shards.get_mut(n)) {
                row.torrents += 1;
                row.peers += s.peers;
                row.download_rate += s.download_rate;
                row.upload_rate += s.upload_rate;
            }
        }
        let (down, up) = self.lifetime_totals();
        let guard = self.session.peer_guard();
        SessionStats {
            download_rate,
            upload_rate,
            session_downloaded: down.saturating_sub(self.session_base.0),
            session_uploaded: up.saturating_sub(self.session_base.1),
            total_downloaded: down,
            total_uploaded: up,
            torrents: self.torrents.len() as u32,
            by_state,
            peers,
            shards,
            events_dropped: self.events.dropped(),
            handovers: self.session.router().handovers(),
            uptime_secs: self.started.elapsed().as_secs(),
            ip_filter_blocked: crate::ip_filter_loader::blocked_view(&self.session.ip_filter_blocked()),
            peer_guard: crate::api_types::PeerGuardStats {
                refusals: guard
                    .refusals
                    .iter()
                    .map(|(k, n)| (k.label().to_string(), *n))
                    .collect(),
                violations: guard
                    .violations
                    .iter()
                    .map(|(k, n)| (k.label().to_string(), *n))
                    .collect(),
                bans_issued: guard.bans,
                bans_in_force: self.bans.len(),
            },
        }
    }

    /// What `/metrics` reports: the session's figures, each shard's last published
    /// ones, and per torrent under the config's switch and cap.
    fn metrics(&self) -> Result<crate::metrics::MetricsSnapshot, ApiError> {
        use crate::metrics::snapshot;
        if !self.metrics_config.enabled {
            return Err(crate::metrics::disabled());
        }
        let stats = self.stats();
        let mut queued = snapshot::QueuedCounts::default();
        for t in self.torrents.values().filter(|t| t.state() == TorrentStateName::Queued) {
            if t.wanted_bytes() > 0 && t.verified_bytes() >= t.wanted_bytes() {
                queued.seeds += 1;
            } else {
                queued.downloads += 1;
            }
        }
        let shard_metrics = self.session.shard_metrics();
        let shards = stats
            .shards
            .iter()
            .zip(shard_metrics.iter())
            .map(|(row, m)| snapshot::shard_figures(row, m))
            .collect();
        let (torrents, torrents_omitted) =
            snapshot::per_torrent(&self.metrics_config, self.torrents.len(), || self.summaries());
        Ok(crate::metrics::MetricsSnapshot {
            session: snapshot::session_figures(&stats, queued, self.session.router().unroutable()),
            dht: self.session.dht_status().as_ref().map(snapshot::DhtFigures::from),
            shards,
            torrents,
            torrents_omitted,
            security: snapshot::SecurityFigures::of(&stats),
        })
    }
}
