//! What the core does on its own each tick: the queue, ratio and seed-time limits,
//! the global rate limits split between shards, the watch directory and hooks.

use std::path::PathBuf;
use std::time::Duration;

use ccbt_shards::messages::ShardUsage as ShardReport;

use super::{AfterStop, DaemonCore, Life, Managed, StopReason};
use crate::api_types::{AddRequest, QueueMove, SessionSettings};
use crate::control::{AddSource, ApiError};
use crate::hooks::{HookEvent, HookRunner, HookTorrent};
use crate::queue_policy::{self, ActiveLimits, Activity, QueueEntry, Slot};
use crate::rate_split::{split_rate, ShardUsage};
use crate::seed_limits::{seed_limit_reached, SeedLimitDefaults, SeedProgress, TorrentLimit, TorrentSeedLimits};
use crate::watch_dir::WatchDir;

/// The core's helpers that keep state between ticks.
pub(crate) struct Automation {
    hooks: HookRunner,
    watch: Option<WatchDir>,
    /// Each shard's use of its share over the last status interval.
    usage_down: Vec<ShardUsage>,
    usage_up: Vec<ShardUsage>,
    /// The shares last sent to each shard.
    shares: Vec<(Option<u64>, Option<u64>)>,
    /// Shares have been sent at least once.
    shares_sent: bool,
}

fn hook_torrent(t: &Managed) -> HookTorrent {
    HookTorrent {
        id: t.id,
        info_hash: t.info_hash().to_hex(),
        name: t.name().to_string(),
        download_dir: t.settings.download_dir.clone(),
        labels: t.settings.labels.clone(),
        error: t.error.clone(),
    }
}

impl Automation {
    pub fn new(hooks: HookRunner, watch_dir: Option<PathBuf>, shards: usize) -> Automation {
        Automation {
            hooks,
            watch: watch_dir.map(WatchDir::new),
            usage_down: vec![ShardUsage::default(); shards],
            usage_up: vec![ShardUsage::default(); shards],
            shares: vec![(None, None); shards],
            shares_sent: false,
        }
    }

    /// A config reload: new hooks if given (the old runner's running hooks
    /// finish, its waiting ones are dropped and counted), and the watch dir if it
    /// changed.
    pub fn reconfigure(&mut self, hooks: Option<&crate::daemon_config::HooksConfig>, watch_dir: Option<PathBuf>) {
        if let Some(hooks) = hooks {
            self.hooks = HookRunner::start(hooks);
        }
        if self.watch.as_ref().map(|w| w.dir()) != watch_dir.as_deref() {
            self.watch = watch_dir.map(WatchDir::new);
        }
    }

    pub fn hook_added(&self, t: &Managed) {
        self.hooks.fire(HookEvent::Added, &hook_torrent(t));
    }

    pub fn hook_completed(&self, t: &Managed) {
        self.hooks.fire(HookEvent::Completed, &hook_torrent(t));
    }

    pub fn hook_error(&self, t: &Managed, error: &str) {
        let mut ht = hook_torrent(t);
        ht.error = Some(error.to_string());
        self.hooks.fire(HookEvent::Error, &ht);
    }

    pub fn record_usage(&mut self, shard: usize, usage: ShardReport) {
        if let Some(u) = self.usage_down.get_mut(shard) {
            *u = ShardUsage {
                used: usage.downloaded,
                held_back: usage.download_held_back,
            };
        }
        if let Some(u) = self.usage_up.get_mut(shard) {
            *u = ShardUsage {
                used: usage.uploaded,
                held_back: usage.upload_held_back,
            };
        }
    }

    pub fn shard_share(&self, shard: usize) -> (Option<u64>, Option<u64>) {
        self.shares.get(shard).copied().unwrap_or((None, None))
    }

    /// Whether the alternative limits apply now: by hand, or by the schedule.
    pub fn alt_speed_active(&self, s: &SessionSettings) -> bool {
        if s.alt_speed_enabled {
            return true;
        }
        s.alt_speed_schedule
            .as_ref()
            .and_then(|sch| crate::alt_speed::AltSpeedWindow::from_schedule(sch).ok())
            .is_some_and(|w| w.is_active(crate::alt_speed::local_time_now()))
    }
}

impl DaemonCore {
    /// The queue's activity for a torrent: what it would do if it ran now.
    fn activity(t: &Managed) -> Activity {
        if t.awaiting_metadata() {
            // A magnet fetching its metadata is a download: it has no files to check.
            return Activity::Download;
        }
        let checking = match &t.life {
            Life::Running => !t.checked,
            Life::Idle => t.recheck_next_start || t.resume.is_none(),
            Life::Stopping(_) => false,
        };
        if checking {
            Activity::Check
        } else if t.complete {
            Activity::Seed
        } else {
            Activity::Download
        }
    }

    /// Starts the torrents the queue lets run and stops those it no longer does.
    pub(super) fn schedule(&mut self) {
        self.schedule_needed = false;
        self.last_schedule = std::time::Instant::now();
        let mut order: Vec<&Managed> = self.torrents.values().collect();
        order.sort_by_key(|t| t.queue_position);
        let entries: Vec<QueueEntry<u32>> = order
            .iter()
            .map(|t| QueueEntry {
                id: t.id,
                activity: Self::activity(t),
                stopped: t.stop.is_some() || t.error.is_some() || matches!(t.life, Life::Stopping(_)),
                force_started: t.settings.force_started,
            })
            .collect();
        let limits = ActiveLimits {
            downloads: self.settings.max_active_downloads,
            seeds: self.settings.max_active_seeds,
            checks: self.settings.max_active_checks,
        };
        let activities: std::collections::HashMap<u32, Activity> = entries.iter().map(|e| (e.id, e.activity)).collect();
        for placement in queue_policy::decide(&entries, limits) {
            let Some(t) = self.torrents.get_mut(&placement.id) else {
                continue;
            };
            let running = matches!(t.life, Life::Running);
            let idle = matches!(t.life, Life::Idle);
            let info_hash = t.info_hash();
            match placement.slot {
                // A torrent that must be checked first gets a check slot only: it is
                // checked held and waits on its shard for a download or seed slot.
                Slot::Run if idle && t.stop.is_none() && t.error.is_none() => {
                    let check_only = activities.get(&placement.id) == Some(&Activity::Check);
                    self.start_torrent(placement.id, check_only);
                }
                Slot::Run if running && t.held && t.checked => {
                    t.held = false;
                    let _ = self.session.release(info_hash);
                }
                Slot::Wait if running && !t.held && t.checked => {
                    t.held = true;
                    let _ = self.session.hold(info_hash);
                }
                _ => {}
            }
        }
    }

    /// Moves a torrent among the queued and active ones (paused and finished torrents
    /// keep their places); the queue then runs again.
    pub(super) fn move_in_queue(&mut self, id: u32, to: QueueMove) -> Result<(), ApiError> {
        let mut queued: Vec<(u32, u32)> = self
            .torrents
            .values()
            .filter(|t| t.stop.is_none())
            .map(|t| (t.queue_position, t.id))
            .collect();
        queued.sort_unstable();
        let slots: Vec<u32> = queued.iter().map(|(pos, _)| *pos).collect();
        let mut ids: Vec<u32> = queued.into_iter().map(|(_, id)| id).collect();
        queue_policy::move_in_queue(&mut ids, id, to).map_err(|_| {
            ApiError::conflict(format!(
                "torrent {id} is paused or finished, so it is not in the queue; resume it first"
            ))
        })?;
        for (slot, id) in slots.into_iter().zip(ids) {
            if let Some(t) = self.torrents.get_mut(&id) {
                t.queue_position = slot;
            }
        }
        self.session_dirty = true;
        self.request_schedule();
        Ok(())
    }

    /// Stops the seeding torrents that reached their ratio or seed-time limit.
    pub(super) fn check_seed_limits(&mut self) {
        let defaults = SeedLimitDefaults {
            ratio_limit: self.settings.ratio_limit,
            seed_time_limit: self.settings.seed_time_limit_secs.map(Duration::from_secs),
            idle_limit: self.settings.idle_limit_secs.map(Duration::from_secs),
        };
        let reached: Vec<(u32, String)> = self
            .torrents
            .values()
            .filter(|t| matches!(t.life, Life::Running) && t.stop.is_none() && t.complete)
            .filter_map(|t| {
                let limits = TorrentSeedLimits {
                    ratio_limit: t.settings.ratio_limit.into(),
                    seed_time_limit: TorrentLimit::from(t.settings.seed_time_limit_secs).map(Duration::from_secs),
                    idle_limit: TorrentLimit::from(t.settings.idle_limit_secs).map(Duration::from_secs),
                };
                let progress = SeedProgress {
                    complete: t.complete,
                    uploaded: t.uploaded(),
                    downloaded: t.downloaded(),
                    verified_bytes: t.verified_bytes(),
                    seeding_time: Duration::from_secs(t.totals.seconds_seeding),
                    idle_time: Duration::from_secs(t.idle.seconds),
                };
                seed_limit_reached(&limits, &defaults, &progress).map(|r| (t.id, r.to_string()))
            })
            .collect();
        for (id, why) in reached {
            if let Some(t) = self.torrents.get_mut(&id) {
                t.stop = Some(StopReason::Finished);
                t.settings.force_started = false;
            }
            self.stop_torrent(id, AfterStop::Nothing);
            if let Some(t) = self.torrents.get(&id) {
                tracing::info!(torrent = %t.info_hash(), %why, "seed limit reached: stopped");
                self.publish("limit_reached", Some(t), Some(why));
            }
            self.session_dirty = true;
        }
    }

    /// Sends each shard its share of the global limits when the shares change.
    pub(super) fn apply_rate_limits(&mut self) {
        let alt = self.automation.alt_speed_active(&self.settings);
        let (down, up) = if alt {
            (self.settings.alt_download_limit, self.settings.alt_upload_limit)
        } else {
            (self.settings.download_limit, self.settings.upload_limit)
        };
        self.settings.alt_speed_active = alt;
        let downs = split_rate(down, &self.automation.usage_down);
        let ups = split_rate(up, &self.automation.usage_up);
        for (shard, (d, u)) in downs.into_iter().zip(ups).enumerate() {
            let changed = self.automation.shares.get(shard) != Some(&(d, u));
            if changed || !self.automation.shares_sent {
                let _ = self.session.set_shard_limits(shard, d, u);
                if let Some(s) = self.automation.shares.get_mut(shard) {
                    *s = (d, u);
                }
            }
        }
        self.automation.shares_sent = true;
    }

    /// Adds the `.torrent` files that appeared in the watch directory.
    pub(super) fn poll_watch_dir(&mut self) {
        let Some(mut watch) = self.automation.watch.take() else {
            return;
        };
        watch
            .scan(|path| {
                let source = if crate::watch_dir::is_magnet_file(path) {
                    AddSource::Magnet(super::magnet::read_magnet_file(path)?)
                } else {
                    AddSource::Path(path.display().to_string())
                };
                self.add(source, AddRequest::default())
                    .map(|_| ())
                    .map_err(|e| e.message)
            })
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the watch directory");
                Default::default()
            });
        self.automation.watch = Some(watch);
    }
}
