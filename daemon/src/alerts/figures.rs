//! The figures the alert rules are checked against, as the core hands them in
//! each tick: borrowed, so a tick over 10,000 torrents copies no names.

/// One torrent, from what the core already keeps about it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TorrentFigures<'a> {
    pub id: u32,
    pub name: &'a str,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub progress: f64,
    pub left: u64,
    pub peers: usize,
    pub ratio: f64,
    /// Pieces that failed their hash in this run.
    pub hash_failures: u32,
    pub downloading: bool,
    pub seeding: bool,
    pub error: bool,
    pub trackers: u32,
    pub trackers_failing: u32,
}

/// Session-wide totals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionFigures {
    pub download_rate: u64,
    pub upload_rate: u64,
    pub peers: usize,
    pub torrents: u32,
    pub downloading: u32,
    pub seeding: u32,
    pub errors: u32,
}

/// Everything a tick hands to the rules.
#[derive(Clone, Debug, Default)]
pub struct Figures<'a> {
    pub session: SessionFigures,
    /// Bytes free on the download directory's filesystem; none when it cannot be
    /// measured (a rule on it then never fires).
    pub disk_free: Option<u64>,
    /// Filled in by the engine from the torrents' counters (a rate needs history).
    pub hash_failures_per_min: u64,
    pub torrents: Vec<TorrentFigures<'a>>,
}

impl<'a> Figures<'a> {
    /// Session totals summed from the torrents (what the core does not keep apart).
    pub fn from_torrents(torrents: Vec<TorrentFigures<'a>>, disk_free: Option<u64>) -> Figures<'a> {
        let mut session = SessionFigures {
            torrents: u32::try_from(torrents.len()).unwrap_or(u32::MAX),
            ..SessionFigures::default()
        };
        for t in &torrents {
            session.download_rate += t.download_rate;
            session.upload_rate += t.upload_rate;
            session.peers += t.peers;
            session.downloading += u32::from(t.downloading);
            session.seeding += u32::from(t.seeding);
            session.errors += u32::from(t.error);
        }
        Figures {
            session,
            disk_free,
            hash_failures_per_min: 0,
            torrents,
        }
    }
}
