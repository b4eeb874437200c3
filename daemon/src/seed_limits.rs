//! When a seeding torrent has done its share: its ratio limit, its seed-time limit, or
//! its idle limit (no upload for that long, Transmission's `seedIdleLimit`).
//!
//! Sans-IO: the core passes each seeding torrent's totals and limits once a second
//! and stops (state `finished`, event `limit_reached`) the ones this names.

use std::time::Duration;

use crate::api_types::{LimitKeyword, LimitSetting};

/// A torrent's own setting for one limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum TorrentLimit<T> {
    /// The session's default applies (also when that default is "no limit").
    #[default]
    Global,
    /// No limit for this torrent, whatever the session's default.
    Unlimited,
    Value(T),
}

impl<T: Copy> TorrentLimit<T> {
    /// The limit in force, given the session's default.
    pub fn effective(&self, session_default: Option<T>) -> Option<T> {
        match *self {
            TorrentLimit::Global => session_default,
            TorrentLimit::Unlimited => None,
            TorrentLimit::Value(v) => Some(v),
        }
    }
}

impl<T> TorrentLimit<T> {
    /// The same setting over another unit.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> TorrentLimit<U> {
        match self {
            TorrentLimit::Global => TorrentLimit::Global,
            TorrentLimit::Unlimited => TorrentLimit::Unlimited,
            TorrentLimit::Value(v) => TorrentLimit::Value(f(v)),
        }
    }
}

impl<T> From<LimitSetting<T>> for TorrentLimit<T> {
    fn from(setting: LimitSetting<T>) -> TorrentLimit<T> {
        match setting {
            LimitSetting::Value(v) => TorrentLimit::Value(v),
            LimitSetting::Keyword(LimitKeyword::Global) => TorrentLimit::Global,
            LimitSetting::Keyword(LimitKeyword::None) => TorrentLimit::Unlimited,
        }
    }
}

/// The session's defaults, for torrents whose own setting is `Global`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SeedLimitDefaults {
    pub ratio_limit: Option<f64>,
    pub seed_time_limit: Option<Duration>,
    pub idle_limit: Option<Duration>,
}

/// One torrent's own settings.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TorrentSeedLimits {
    pub ratio_limit: TorrentLimit<f64>,
    pub seed_time_limit: TorrentLimit<Duration>,
    pub idle_limit: TorrentLimit<Duration>,
}

/// What a torrent has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SeedProgress {
    /// All wanted pieces are verified; limits only stop a torrent that is seeding.
    pub complete: bool,
    /// Payload bytes uploaded over the torrent's life.
    pub uploaded: u64,
    /// Payload bytes downloaded over the torrent's life.
    pub downloaded: u64,
    /// Bytes held in verified pieces.
    pub verified_bytes: u64,
    /// Time spent seeding (complete and running), over the torrent's life.
    pub seeding_time: Duration,
    /// Time seeding since the last upload (or since it started seeding).
    pub idle_time: Duration,
}

impl SeedProgress {
    /// `uploaded / max(verified_bytes, downloaded)`; 0 when nothing is held (as the
    /// API's `ratio`). Dividing by what is held, not only by what was downloaded,
    /// gives a torrent added complete (downloaded 0) a finite ratio.
    pub fn ratio(&self) -> f64 {
        let base = self.verified_bytes.max(self.downloaded);
        if base == 0 {
            0.0
        } else {
            self.uploaded as f64 / base as f64
        }
    }
}

/// Which limit a torrent reached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeedLimitReached {
    Ratio { ratio: f64, limit: f64 },
    SeedTime { seeded: Duration, limit: Duration },
    Idle { idle: Duration, limit: Duration },
}

impl std::fmt::Display for SeedLimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedLimitReached::Ratio { ratio, limit } => write!(f, "ratio {ratio:.2} reached its limit {limit:.2}"),
            SeedLimitReached::SeedTime { seeded, limit } => write!(
                f,
                "seeded for {}s, its seed-time limit is {}s",
                seeded.as_secs(),
                limit.as_secs()
            ),
            SeedLimitReached::Idle { idle, limit } => write!(
                f,
                "uploaded nothing for {}s, its idle limit is {}s",
                idle.as_secs(),
                limit.as_secs()
            ),
        }
    }
}

/// The limit this torrent reached, if any: ratio first, then seed time, then idle. A
/// torrent that is not complete never reaches one (it is still downloading).
pub fn seed_limit_reached(
    limits: &TorrentSeedLimits,
    defaults: &SeedLimitDefaults,
    progress: &SeedProgress,
) -> Option<SeedLimitReached> {
    if !progress.complete {
        return None;
    }
    if let Some(limit) = limits.ratio_limit.effective(defaults.ratio_limit) {
        let ratio = progress.ratio();
        if ratio >= limit {
            return Some(SeedLimitReached::Ratio { ratio, limit });
        }
    }
    if let Some(limit) = limits.seed_time_limit.effective(defaults.seed_time_limit) {
        if progress.seeding_time >= limit {
            return Some(SeedLimitReached::SeedTime {
                seeded: progress.seeding_time,
                limit,
            });
        }
    }
    if let Some(limit) = limits.idle_limit.effective(defaults.idle_limit) {
        if progress.idle_time >= limit {
            return Some(SeedLimitReached::Idle {
                idle: progress.idle_time,
                limit,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn seeding(uploaded: u64, secs: u64) -> SeedProgress {
        SeedProgress {
            complete: true,
            uploaded,
            downloaded: GIB,
            verified_bytes: GIB,
            seeding_time: Duration::from_secs(secs),
            idle_time: Duration::ZERO,
        }
    }

    #[test]
    fn global_ratio_limit_stops_at_the_limit_not_before() {
        let defaults = SeedLimitDefaults {
            ratio_limit: Some(2.0),
            ..SeedLimitDefaults::default()
        };
        let limits = TorrentSeedLimits::default();
        assert_eq!(seed_limit_reached(&limits, &defaults, &seeding(2 * GIB - 1, 0)), None);
        assert_eq!(
            seed_limit_reached(&limits, &defaults, &seeding(2 * GIB, 0)),
            Some(SeedLimitReached::Ratio { ratio: 2.0, limit: 2.0 })
        );
    }

    #[test]
    fn torrent_value_overrides_the_global_default() {
        let defaults = SeedLimitDefaults {
            ratio_limit: Some(2.0),
            ..SeedLimitDefaults::default()
        };
        let limits = TorrentSeedLimits {
            ratio_limit: TorrentLimit::Value(0.5),
            ..TorrentSeedLimits::default()
        };
        assert!(matches!(
            seed_limit_reached(&limits, &defaults, &seeding(GIB / 2, 0)),
            Some(SeedLimitReached::Ratio { limit, .. }) if limit == 0.5
        ));
    }

    #[test]
    fn torrent_unlimited_ignores_the_global_default() {
        let defaults = SeedLimitDefaults {
            ratio_limit: Some(1.0),
            seed_time_limit: Some(Duration::from_secs(60)),
            idle_limit: Some(Duration::from_secs(60)),
        };
        let limits = TorrentSeedLimits {
            ratio_limit: TorrentLimit::Unlimited,
            seed_time_limit: TorrentLimit::Unlimited,
            idle_limit: TorrentLimit::Unlimited,
        };
        assert_eq!(
            seed_limit_reached(&limits, &defaults, &seeding(100 * GIB, 1_000_000)),
            None
        );
    }

    #[test]
    fn seed_time_limit_names_itself() {
        let defaults = SeedLimitDefaults::default();
        let limits = TorrentSeedLimits {
            seed_time_limit: TorrentLimit::Value(Duration::from_secs(48 * 3600)),
            ..TorrentSeedLimits::default()
        };
        assert_eq!(seed_limit_reached(&limits, &defaults, &seeding(0, 48 * 3600 - 1)), None);
        let reached = seed_limit_reached(&limits, &defaults, &seeding(0, 48 * 3600));
        assert_eq!(
            reached,
            Some(SeedLimitReached::SeedTime {
                seeded: Duration::from_secs(48 * 3600),
                limit: Duration::from_secs(48 * 3600)
            })
        );
        assert_eq!(
            reached.map(|r| r.to_string()).as_deref(),
            Some("seeded for 172800s, its seed-time limit is 172800s")
        );
    }

    #[test]
    fn an_incomplete_torrent_never_reaches_a_limit() {
        let defaults = SeedLimitDefaults {
            ratio_limit: Some(0.0),
            seed_time_limit: Some(Duration::ZERO),
            idle_limit: Some(Duration::ZERO),
        };
        let progress = SeedProgress {
            complete: false,
            ..seeding(10 * GIB, 10)
        };
        assert_eq!(
            seed_limit_reached(&TorrentSeedLimits::default(), &defaults, &progress),
            None
        );
    }

    #[test]
    fn ratio_divides_by_what_is_held_when_added_complete() {
        let progress = SeedProgress {
            complete: true,
            uploaded: GIB,
            downloaded: 0,
            verified_bytes: 4 * GIB,
            seeding_time: Duration::ZERO,
            idle_time: Duration::ZERO,
        };
        assert_eq!(progress.ratio(), 0.25);
        assert_eq!(SeedProgress::default().ratio(), 0.0);
    }

    #[test]
    fn api_settings_map_onto_torrent_limits() {
        assert_eq!(
            TorrentLimit::from(LimitSetting::Keyword(LimitKeyword::Global)),
            TorrentLimit::<f64>::Global
        );
        assert_eq!(
            TorrentLimit::from(LimitSetting::Keyword(LimitKeyword::None)),
            TorrentLimit::<f64>::Unlimited
        );
        assert_eq!(TorrentLimit::from(LimitSetting::Value(3.0)), TorrentLimit::Value(3.0));
    }

    #[test]
    fn idle_limit_stops_a_torrent_that_uploads_nothing_for_that_long() {
        let defaults = SeedLimitDefaults {
            idle_limit: Some(Duration::from_secs(600)),
            ..SeedLimitDefaults::default()
        };
        let limits = TorrentSeedLimits::default();
        let mut p = seeding(0, 5000);
        p.idle_time = Duration::from_secs(599);
        assert_eq!(seed_limit_reached(&limits, &defaults, &p), None);
        p.idle_time = Duration::from_secs(600);
        let reached = seed_limit_reached(&limits, &defaults, &p).unwrap();
        assert!(reached.to_string().contains("idle limit is 600s"), "{reached}");
        let own = TorrentSeedLimits {
            idle_limit: TorrentLimit::Unlimited,
            ..TorrentSeedLimits::default()
        };
        assert_eq!(seed_limit_reached(&own, &defaults, &p), None);
    }
}
