//! A torrent summary with every field set, for the tests of whatever renders or
//! translates summaries (the daemon's compatibility APIs, `btbt`'s views,
//! bitonic). Other crates get it through the `test-fixtures` feature.

use super::{TorrentStateName, TorrentSummary};

impl TorrentSummary {
    /// Torrent `id` named `name`: downloading, a quarter of 1 GB done, 2.5 MB/s
    /// down, 7 peers, label `linux`, on shard 1.
    pub fn sample(id: u32, name: &str) -> TorrentSummary {
        TorrentSummary {
            id,
            info_hash: format!("{id:040x}"),
            name: name.to_string(),
            state: TorrentStateName::Downloading,
            progress: 0.25,
            verified_bytes: 250_000_000,
            total_bytes: 1_000_000_000,
            wanted_bytes: 1_000_000_000,
            download_rate: 2_500_000,
            upload_rate: 0,
            downloaded: 250_000_000,
            uploaded: 125_000_000,
            ratio: 0.5,
            peers: 7,
            eta_secs: Some(300),
            labels: vec!["linux".into()],
            download_dir: "/srv/data".into(),
            error: None,
            queue_position: Some(0),
            shard: Some(1),
            added_at: 1_700_000_000,
            completed_at: None,
            seconds_downloading: 100,
            seconds_seeding: 0,
            sequential: false,
            force_started: false,
            download_limit: None,
            upload_limit: None,
            ratio_limit: None,
            seed_time_limit_secs: None,
            idle_limit_secs: None,
            private: false,
            metadata: None,
        }
    }
}
