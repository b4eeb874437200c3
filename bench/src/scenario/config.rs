//! What a harness run is asked to do: the scenarios by name, data set sizes, the run's configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::participant::Contestant;

/// The scenarios, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScenarioKind {
    Download,
    Seed,
    Fanout,
    Many,
    Restart,
    Magnet,
    Maindata,
    Metrics,
}

impl ScenarioKind {
    pub const ALL: [ScenarioKind; 8] = [
        ScenarioKind::Download,
        ScenarioKind::Seed,
        ScenarioKind::Fanout,
        ScenarioKind::Many,
        ScenarioKind::Restart,
        ScenarioKind::Magnet,
        ScenarioKind::Maindata,
        ScenarioKind::Metrics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Download => "download",
            ScenarioKind::Seed => "seed",
            ScenarioKind::Fanout => "fanout",
            ScenarioKind::Many => "many",
            ScenarioKind::Restart => "restart",
            ScenarioKind::Magnet => "magnet",
            ScenarioKind::Maindata => "maindata",
            ScenarioKind::Metrics => "metrics",
        }
    }

    pub fn parse(s: &str) -> Result<ScenarioKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "download" | "1" => Ok(ScenarioKind::Download),
            "seed" | "2" => Ok(ScenarioKind::Seed),
            "fanout" | "fan-out" | "3" => Ok(ScenarioKind::Fanout),
            "many" | "many-torrents" | "4" => Ok(ScenarioKind::Many),
            "restart" | "5" => Ok(ScenarioKind::Restart),
            "magnet" | "6" => Ok(ScenarioKind::Magnet),
            "maindata" | "7" => Ok(ScenarioKind::Maindata),
            "metrics" | "8" => Ok(ScenarioKind::Metrics),
            other => Err(format!(
                "unknown scenario {other:?} (one of: download, seed, fanout, many, restart, magnet, maindata, metrics)"
            )),
        }
    }

    /// Contestants by default (full set, quick set).
    pub(super) fn default_contestants(self, quick: bool) -> Vec<Contestant> {
        use Contestant as C;
        match (self, quick) {
            (ScenarioKind::Download, false) => vec![C::Ccbt, C::LIBTORRENT, C::RQBIT, C::TRANSMISSION, C::ARIA2],
            (ScenarioKind::Download, true) => vec![C::Ccbt, C::LIBTORRENT, C::RQBIT, C::ARIA2],
            (ScenarioKind::Seed, false) | (ScenarioKind::Fanout, false) => {
                vec![C::Ccbt, C::LIBTORRENT, C::RQBIT, C::TRANSMISSION]
            }
            (ScenarioKind::Seed, true) => vec![C::Ccbt, C::LIBTORRENT, C::RQBIT],
            (ScenarioKind::Fanout, true) => vec![C::Ccbt, C::LIBTORRENT],
            (ScenarioKind::Many, _) | (ScenarioKind::Restart, _) => vec![C::Ccbt, C::LIBTORRENT],
            (ScenarioKind::Magnet, _) => vec![C::Ccbt, C::LIBTORRENT, C::RQBIT],
            (ScenarioKind::Maindata, _) | (ScenarioKind::Metrics, _) => vec![C::Ccbt],
        }
    }

    /// Contestants this scenario has a driver for.
    pub(super) fn supports(self, c: Contestant) -> bool {
        match self {
            ScenarioKind::Many | ScenarioKind::Restart => matches!(c, Contestant::Ccbt | Contestant::LIBTORRENT),
            ScenarioKind::Magnet => matches!(c, Contestant::Ccbt | Contestant::LIBTORRENT | Contestant::RQBIT),
            ScenarioKind::Maindata | ScenarioKind::Metrics => matches!(c, Contestant::Ccbt),
            _ => true,
        }
    }
}

/// Sizes of the data sets.
#[derive(Clone, Debug)]
pub struct Sizes {
    pub single: u64,
    pub multi: u64,
    pub seed: u64,
    pub fanout: u64,
    pub many_counts: Vec<usize>,
    pub many_small: u64,
    pub many_probe: u64,
    /// Torrents the restart scenario's seeder holds (the many scenario's data set).
    pub restart_count: usize,
    /// The magnet scenario's single file.
    pub magnet: u64,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            single: 4 << 30,
            multi: 1 << 30,
            seed: 1 << 30,
            fanout: 256 << 20,
            many_counts: vec![1000, 10_000],
            many_small: 64 << 10,
            many_probe: 256 << 20,
            restart_count: 10_000,
            magnet: 256 << 20,
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            single: 256 << 20,
            multi: 64 << 20,
            seed: 256 << 20,
            fanout: 128 << 20,
            many_counts: vec![100],
            many_small: 64 << 10,
            many_probe: 64 << 20,
            restart_count: 1000,
            magnet: 64 << 20,
        }
    }
}

/// Everything a harness run was asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    pub quick: bool,
    pub scenarios: Vec<ScenarioKind>,
    pub repeats: usize,
    /// The fixed seeder of the download scenario.
    pub seeder: Contestant,
    /// The fixed downloader of the seed, fan-out and many-torrents scenarios.
    pub downloader: Contestant,
    /// Overrides each scenario's default contestants.
    pub contestants: Option<Vec<Contestant>>,
    pub fanout: usize,
    pub sizes: Sizes,
    /// Overrides the per-run time limit (default from the payload size).
    pub run_timeout: Option<Duration>,
    pub verify: bool,
    pub data_dir: PathBuf,
    pub btbt: PathBuf,
}
