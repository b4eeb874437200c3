//! BEP 12 multitracker tiers: which tracker to announce to, when, and with which event.
//!
//! Trackers are tried tier by tier, in an order shuffled once per tier; the first that
//! answers moves to the front of its tier and every announce round starts again from
//! the first tier. A tracker that fails backs off on its own schedule and is skipped
//! until that runs out, so a dead tracker in the first tier costs one timeout per
//! back-off period rather than one per round. Sans-IO: the caller performs each
//! [`DueAnnounce`] and reports back with [`TrackerTiers::record_success`] or
//! [`TrackerTiers::record_failure`].

use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;

use super::http::scrape_url;
use super::{AnnounceEvent, AnnounceResponse, ScrapeStats};

/// Most trackers kept for one torrent, over all tiers; a metainfo listing more is
/// hostile or broken, and each tracker costs a request per interval.
pub const MAX_TRACKERS: usize = 64;
/// Longest tracker URL kept.
pub const MAX_TRACKER_URL_LEN: usize = 2048;
/// Interval used when a tracker names none.
pub const DEFAULT_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// Shortest interval honoured by default, whatever a tracker asks for.
pub const DEFAULT_MIN_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(60);
/// Longest interval honoured, so a tracker cannot silence itself for ever.
pub const MAX_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// First back-off after a failure; it doubles with each consecutive failure.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(15);
/// Longest back-off after failures.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(60 * 60);
/// How often a tracker is scraped for swarm counts, at most.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// Consecutive scrape failures after which a tracker is no longer scraped.
pub const MAX_SCRAPE_FAILURES: u32 = 3;
/// First re-announce wait while the torrent has too few peers and the tracker named
/// no `min interval`; it doubles with each announce that brings none.
pub const DEFAULT_STARVED_RETRY_BASE: Duration = Duration::from_secs(15);
/// Longest re-announce wait while the torrent has too few peers.
pub const DEFAULT_STARVED_RETRY_MAX: Duration = Duration::from_secs(5 * 60);
/// No policy may schedule announces closer than this, so nothing can spin.
const ABSOLUTE_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Timing rules; [`Default`] is what a user of other clients expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnouncePolicy {
    /// Interval when the tracker names none.
    pub default_interval: Duration,
    /// Floor for the tracker's `interval` and `min interval`.
    pub min_interval: Duration,
    /// Ceiling for the tracker's `interval`.
    pub max_interval: Duration,
    /// First back-off after a failure.
    pub retry_base: Duration,
    /// Ceiling of the back-off.
    pub retry_max: Duration,
    /// Time between scrapes of one tracker.
    pub scrape_interval: Duration,
    /// First re-announce wait while starved of peers (see [`TrackerTiers::set_starved`]).
    pub starved_retry_base: Duration,
    /// Ceiling of that wait.
    pub starved_retry_max: Duration,
}

impl Default for AnnouncePolicy {
    fn default() -> Self {
        AnnouncePolicy {
            default_interval: DEFAULT_ANNOUNCE_INTERVAL,
            min_interval: DEFAULT_MIN_ANNOUNCE_INTERVAL,
            max_interval: MAX_ANNOUNCE_INTERVAL,
            retry_base: DEFAULT_RETRY_BASE,
            retry_max: DEFAULT_RETRY_MAX,
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            starved_retry_base: DEFAULT_STARVED_RETRY_BASE,
            starved_retry_max: DEFAULT_STARVED_RETRY_MAX,
        }
    }
}

/// Identifies one tracker of a [`TrackerTiers`]; stable while tiers are reordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrackerRef(usize);

/// One announce the caller should perform now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueAnnounce {
    /// Which tracker; pass back to `record_success` / `record_failure`.
    pub tracker: TrackerRef,
    /// Its announce URL.
    pub url: String,
    /// The event to send.
    pub event: AnnounceEvent,
    /// The `tracker id` it gave us, to echo as `trackerid` (HTTP).
    pub tracker_id: Option<Vec<u8>>,
}

/// What is known about one tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerState {
    /// Announce URL.
    pub url: String,
    /// Index of its tier (0 is tried first).
    pub tier: usize,
    /// When it last answered an announce.
    pub last_announce: Option<Instant>,
    /// Consecutive failures.
    pub failures: u32,
    /// Error of the last failed announce, cleared by a success.
    pub last_error: Option<String>,
    /// `warning message` of the last response that had one.
    pub last_warning: Option<String>,
    /// Peers received from it in total.
    pub peers_received: u64,
    /// Latest seeder count (announce or scrape).
    pub seeders: Option<u32>,
    /// Latest leecher count (announce or scrape).
    pub leechers: Option<u32>,
    /// Times the torrent was completed, from scrapes.
    pub downloaded: Option<u32>,
    /// Its `tracker id`.
    pub tracker_id: Option<Vec<u8>>,
    /// `interval` and `min interval` as last given, after the policy's bounds.
    pub interval: Option<Duration>,
    /// See `interval`.
    pub min_interval: Option<Duration>,
    /// While backing off after a failure: not tried again before this.
    pub retry_at: Option<Instant>,
    /// `min interval` exactly as given (before the policy's floor), honoured while starved.
    given_min_interval: Option<Duration>,
    started_sent: bool,
    completed_sent: bool,
    scrape_failures: u32,
    next_scrape: Option<Instant>,
}

/// The trackers of one torrent in BEP 12 tiers, with per-tracker state.
#[derive(Clone, Debug)]
pub struct TrackerTiers {
    trackers: Vec<TrackerState>,
    /// Tiers of indices into `trackers`, in the order they are tried.
    tiers: Vec<Vec<usize>>,
    policy: AnnouncePolicy,
    /// Flat position (over all tiers) the current round continues from.
    cursor: usize,
    /// No announce round starts before this.
    due_at: Instant,
    download_complete: bool,
    stopped: bool,
    /// The tracker that answered last and when, for `announce_now`.
    last_success: Option<(usize, Instant)>,
    /// The torrent has too few peers: announce again early (see `set_starved`).
    starved: bool,
    /// Announces answered while starved, for the back-off.
    starved_rounds: u32,
}

/// The tiers a torrent announces to (BEP 12): `announce-list` when it has any URL,
/// else `announce` alone.
pub fn tiers_from_metainfo(announce: Option<&str>, announce_list: &[Vec<String>]) -> Vec<Vec<String>> {
    if announce_list.iter().any(|tier| !tier.is_empty()) {
        return announce_list.to_vec();
    }
    announce.map(|a| vec![vec![a.to_string()]]).unwrap_or_default()
}

/// True for URL schemes we can announce to.
fn supported(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    ["http://", "https://", "udp://"].iter().any(|s| lower.starts_with(s))
}

impl TrackerTiers {
    /// Tiers from `tiers` (see [`tiers_from_metainfo`]), each shuffled once with `rng`.
    /// Unsupported schemes, over-long URLs and duplicates are dropped, empty tiers
    /// too, and at most [`MAX_TRACKERS`] are kept. The first announce is due at `now`.
    pub fn new<R: Rng>(tiers: &[Vec<String>], policy: AnnouncePolicy, now: Instant, rng: &mut R) -> Self {
        let mut trackers: Vec<TrackerState> = Vec::new();
        let mut order = Vec::new();
        for tier in tiers {
            let mut members = Vec::new();
            for url in tier {
                let url = url.trim();
                if trackers.len() >= MAX_TRACKERS
                    || url.len() > MAX_TRACKER_URL_LEN
                    || !supported(url)
                    || trackers.iter().any(|t| t.url == url)
                {
                    continue;
                }
                members.push(trackers.len());
                trackers.push(TrackerState::new(url.to_string(), order.len()));
            }
            if !members.is_empty() {
                members.shuffle(rng);
                order.push(members);
            }
        }
        TrackerTiers {
            trackers,
            tiers: order,
            policy,
            cursor: 0,
            due_at: now,
            download_complete: false,
            stopped: false,
            last_success: None,
            starved: false,
            starved_rounds: 0,
        }
    }

    /// True if there is no tracker to announce to.
    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Every tracker in the order they are tried, with its state.
    pub fn trackers(&self) -> impl Iterator<Item = (TrackerRef, &TrackerState)> + '_ {
        self.flat().map(move |i| (TrackerRef(i), &self.trackers[i]))
    }

    /// The state of one tracker.
    pub fn get(&self, tracker: TrackerRef) -> Option<&TrackerState> {
        self.trackers.get(tracker.0)
    }

    fn flat(&self) -> impl Iterator<Item = usize> + '_ {
        self.tiers.iter().flatten().copied()
    }

    fn eligible(&self, i: usize, at: Instant) -> bool {
        self.trackers[i].retry_at.is_none_or(|r| r <= at)
    }

    /// The tracker the round would use at `at`: the first one not backing off from the
    /// cursor on, or else (the round being over) from the first tier.
    fn pick(&self, at: Instant) -> Option<usize> {
        if self.stopped || at < self.due_at {
            return None;
        }
        let continuing = self.flat().skip(self.cursor).find(|&i| self.eligible(i, at));
        continuing.or_else(|| self.flat().find(|&i| self.eligible(i, at)))
    }

    fn event_for(&self, i: usize) -> AnnounceEvent {
        let t = &self.trackers[i];
        if !t.started_sent {
            AnnounceEvent::Started
        } else if self.download_complete && !t.completed_sent {
            AnnounceEvent::Completed
        } else {
            AnnounceEvent::None
        }
    }

    /// The announce to perform at `now`, if one is due. Calling it again before
    /// recording the outcome returns the same announce.
    pub fn next_due(&self, now: Instant) -> Option<DueAnnounce> {
        let i = self.pick(now)?;
        let t = &self.trackers[i];
        Some(DueAnnounce {
            tracker: TrackerRef(i),
            url: t.url.clone(),
            event: self.event_for(i),
            tracker_id: t.tracker_id.clone(),
        })
    }

    /// When [`next_due`](Self::next_due) will next return an announce; `None` once
    /// stopped or without trackers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let earliest = self
            .flat()
            .map(|i| self.trackers[i].retry_at.unwrap_or(self.due_at))
            .min()?;
        Some(earliest.max(self.due_at))
    }

    /// When `tracker` is next announced to, if it is the one next in line or backing off.
    pub fn next_announce(&self, tracker: TrackerRef) -> Option<Instant> {
        let at = self.poll_timeout()?;
        if self.pick(at) == Some(tracker.0) {
            return Some(at);
        }
        self.trackers.get(tracker.0)?.retry_at
    }

    fn position(&self, i: usize) -> Option<(usize, usize, usize)> {
        let mut flat = 0;
        for (tier, members) in self.tiers.iter().enumerate() {
            if let Some(p) = members.iter().position(|&m| m == i) {
                return Some((tier, p, flat + p));
            }
            flat += members.len();
        }
        None
    }

    fn clamp_interval(&self, d: Duration) -> Duration {
        d.clamp(
            self.policy.min_interval.max(ABSOLUTE_MIN_INTERVAL),
            self.policy.max_interval.max(ABSOLUTE_MIN_INTERVAL),
        )
    }

    /// Records that `due` was answered by `response` at `now`: the tracker moves to
    /// the front of its tier, the next round starts from the first tier once the
    /// tracker's interval (within the policy's bounds) has passed.
    pub fn record_success(&mut self, due: &DueAnnounce, now: Instant, response: &AnnounceResponse) {
        let i = due.tracker.0;
        let Some((tier, p, _)) = self.position(i) else { return };
        let interval = self.clamp_interval(response.interval.unwrap_or(self.policy.default_interval));
        let min_interval = response.min_interval.map(|d| self.clamp_interval(d));
        let complete = self.download_complete;
        let t = &mut self.trackers[i];
        match due.event {
            AnnounceEvent::Started => {
                t.started_sent = true;
                // A started announce already told the tracker `left`; a completion
                // before it needs no separate event.
                t.completed_sent = complete;
            }
            AnnounceEvent::Completed => t.completed_sent = true,
            AnnounceEvent::None | AnnounceEvent::Stopped => {}
        }
        t.last_announce = Some(now);
        t.failures = 0;
        t.retry_at = None;
        t.last_error = None;
        if response.warning.is_some() {
            t.last_warning.clone_from(&response.warning);
        }
        t.peers_received = t.peers_received.saturating_add(response.peers.len() as u64);
        t.seeders = response.seeders.or(t.seeders);
        t.leechers = response.leechers.or(t.leechers);
        if response.tracker_id.is_some() {
            t.tracker_id.clone_from(&response.tracker_id);
        }
        t.interval = Some(interval);
        t.min_interval = min_interval;
        t.given_min_interval = response.min_interval;
        let wait = if self.starved {
            self.starved_rounds = self.starved_rounds.saturating_add(1);
            self.starved_wait(response.min_interval, self.starved_rounds - 1)
        } else {
            interval.max(min_interval.unwrap_or(Duration::ZERO))
        };
        let member = self.tiers[tier].remove(p);
        self.tiers[tier].insert(0, member);
        self.cursor = 0;
        self.due_at = now + wait;
        self.last_success = Some((i, now));
    }

    /// Records that `due` failed at `now` with `error`: the tracker backs off and the
    /// round goes on with the next tracker, or ends if it was the last.
    pub fn record_failure(&mut self, due: &DueAnnounce, now: Instant, error: String) {
        let i = due.tracker.0;
        let Some((_, _, flat)) = self.position(i) else { return };
        let base = self.policy.retry_base.max(ABSOLUTE_MIN_INTERVAL);
        let t = &mut self.trackers[i];
        t.failures = t.failures.saturating_add(1);
        let doublings = (t.failures - 1).min(16);
        t.retry_at = Some(now + (base * (1u32 << doublings)).min(self.policy.retry_max.max(base)));
        t.last_error = Some(error);
        self.cursor = if flat + 1 < self.trackers.len() { flat + 1 } else { 0 };
        self.due_at = self.due_at.min(now);
    }

    /// The download has completed: a `completed` event goes out soon to trackers that
    /// were sent `started` (only once; repeated calls do nothing).
    pub fn set_completed(&mut self, now: Instant) {
        if self.download_complete {
            return;
        }
        self.download_complete = true;
        if self.trackers.iter().any(|t| t.started_sent && !t.completed_sent) {
            self.cursor = 0;
            self.due_at = self.due_at.min(now);
        }
    }

    /// Asks for an announce round as soon as the last answering tracker's minimum
    /// interval (or the policy's) allows. Back-off of failed trackers still applies.
    pub fn announce_now(&mut self, now: Instant) {
        let earliest = match self.last_success {
            Some((i, at)) => at + self.trackers[i].min_interval.unwrap_or(self.policy.min_interval),
            None => now,
        };
        self.cursor = 0;
        self.due_at = self.due_at.min(earliest.max(now));
    }

    /// Whether the torrent has too few peers. While it has, each round is due after
    /// the tracker's own `min interval`, or without one a short back-off
    /// ([`AnnouncePolicy::starved_retry_base`] doubling to `starved_retry_max`),
    /// instead of the full `interval`; a torrent whose only peer left, or whose
    /// seeder registered just after our announce, finds peers in seconds rather
    /// than half an hour. Once it has enough, the usual interval applies again.
    pub fn set_starved(&mut self, starved: bool) {
        if starved == self.starved {
            return;
        }
        self.starved = starved;
        self.starved_rounds = 0;
        let Some((i, at)) = self.last_success else {
            // Nothing answered yet: the first round is due already.
            return;
        };
        let t = &self.trackers[i];
        self.due_at = if starved {
            // Possibly in the past: then the next round is due at once.
            self.due_at.min(at + self.starved_wait(t.given_min_interval, 0))
        } else {
            let interval = t.interval.unwrap_or(self.policy.default_interval);
            self.due_at
                .max(at + interval.max(t.min_interval.unwrap_or(Duration::ZERO)))
        };
    }

    /// True while [`set_starved`](Self::set_starved) says the torrent lacks peers.
    pub fn is_starved(&self) -> bool {
        self.starved
    }

    /// The wait before the next round while starved, after `rounds` starved rounds:
    /// the back-off, but never sooner than the tracker's own `min interval` (it
    /// asked not to be asked sooner), nor later than the policy's longest interval.
    fn starved_wait(&self, tracker_min: Option<Duration>, rounds: u32) -> Duration {
        let base = self.policy.starved_retry_base.max(ABSOLUTE_MIN_INTERVAL);
        let backoff = base
            .saturating_mul(1u32 << rounds.min(16))
            .min(self.policy.starved_retry_max.max(base));
        backoff
            .max(tracker_min.unwrap_or(Duration::ZERO))
            .min(self.policy.max_interval.max(ABSOLUTE_MIN_INTERVAL))
    }

    /// Stops announcing: returns a `stopped` announce for every tracker that was sent
    /// `started`, to be sent best-effort; after this nothing is ever due.
    pub fn shutdown(&mut self) -> Vec<DueAnnounce> {
        if self.stopped {
            return Vec::new();
        }
        self.stopped = true;
        let mut out = Vec::new();
        for i in self.flat().collect::<Vec<_>>() {
            let t = &mut self.trackers[i];
            if t.started_sent {
                t.started_sent = false;
                out.push(DueAnnounce {
                    tracker: TrackerRef(i),
                    url: t.url.clone(),
                    event: AnnounceEvent::Stopped,
                    tracker_id: t.tracker_id.clone(),
                });
            }
        }
        out
    }

    /// True after [`shutdown`](Self::shutdown).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Whether `tracker` should be scraped now (after an announce): it must support
    /// scrape (BEP 48 URL rule for HTTP; always for UDP), not have failed to scrape
    /// [`MAX_SCRAPE_FAILURES`] times in a row, and not have been scraped recently.
    pub fn wants_scrape(&self, tracker: TrackerRef, now: Instant) -> bool {
        let Some(t) = self.trackers.get(tracker.0) else {
            return false;
        };
        let can = t.url.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("udp://")) || scrape_url(&t.url).is_some();
        !self.stopped && can && t.scrape_failures < MAX_SCRAPE_FAILURES && t.next_scrape.is_none_or(|at| at <= now)
    }

    /// Records a scrape of `tracker` at `now`: its counts, or `None` if it failed.
    pub fn record_scrape(&mut self, tracker: TrackerRef, now: Instant, stats: Option<ScrapeStats>) {
        let interval = self.policy.scrape_interval.max(ABSOLUTE_MIN_INTERVAL);
        let Some(t) = self.trackers.get_mut(tracker.0) else {
            return;
        };
        t.next_scrape = Some(now + interval);
        match stats {
            Some(s) => {
                t.scrape_failures = 0;
                t.seeders = Some(s.seeders);
                t.leechers = Some(s.leechers);
                t.downloaded = Some(s.completed);
            }
            None => t.scrape_failures = t.scrape_failures.saturating_add(1),
        }
    }
}

impl TrackerState {
    fn new(url: String, tier: usize) -> Self {
        TrackerState {
            url,
            tier,
            last_announce: None,
            failures: 0,
            last_error: None,
            last_warning: None,
            peers_received: 0,
            seeders: None,
            leechers: None,
            downloaded: None,
            tracker_id: None,
            interval: None,
            min_interval: None,
            retry_at: None,
            given_min_interval: None,
            started_sent: false,
            completed_sent: false,
            scrape_failures: 0,
            next_scrape: None,
        }
    }
}

#[cfg(test)]
mod tests;
