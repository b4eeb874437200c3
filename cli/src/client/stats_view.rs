//! `btbt status`: the session's totals and one row per shard.

use ccbt_daemon::api_types::SessionStats;

use super::api_client::ApiClient;
use super::table::{self, Align, Table};
use crate::error::CliError;
use crate::size::human_bytes;

pub fn render_stats(s: &SessionStats) -> String {
    let mut out = String::new();
    let mut kv = |key: &str, value: String| out.push_str(&format!("{key:<13} {value}\n"));
    let by_state: Vec<String> = s
        .by_state
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    kv(
        "torrents",
        if by_state.is_empty() {
            s.torrents.to_string()
        } else {
            format!("{} ({})", s.torrents, by_state.join(", "))
        },
    );
    kv("peers", s.peers.to_string());
    kv(
        "rates",
        format!(
            "down {}, up {}",
            table::rate(s.download_rate),
            table::rate(s.upload_rate)
        ),
    );
    kv(
        "this session",
        format!(
            "down {}, up {}",
            human_bytes(s.session_downloaded),
            human_bytes(s.session_uploaded)
        ),
    );
    kv(
        "all time",
        format!(
            "down {}, up {}",
            human_bytes(s.total_downloaded),
            human_bytes(s.total_uploaded)
        ),
    );
    kv("uptime", table::duration(Some(s.uptime_secs)));
    kv(
        "handovers",
        format!("{} (events dropped: {})", s.handovers, s.events_dropped),
    );
    let mut t = Table::new(&[
        ("SHARD", Align::Right),
        ("TORRENTS", Align::Right),
        ("PEERS", Align::Right),
        ("DOWN", Align::Right),
        ("UP", Align::Right),
        ("DOWN SHARE", Align::Right),
        ("UP SHARE", Align::Right),
    ]);
    for shard in &s.shards {
        t.row(vec![
            shard.shard.to_string(),
            shard.torrents.to_string(),
            shard.peers.to_string(),
            table::rate(shard.download_rate),
            table::rate(shard.upload_rate),
            table::limit(shard.download_share),
            table::limit(shard.upload_share),
        ]);
    }
    out.push('\n');
    out.push_str(&t.render());
    out
}

/// `btbt status [--json]`.
pub fn status(client: &ApiClient, json: bool) -> Result<(), CliError> {
    if json {
        println!("{}", client.get_json("/stats")?);
        return Ok(());
    }
    let stats: SessionStats = client.get("/stats")?;
    print!("{}", render_stats(&stats));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::ShardStats;

    #[test]
    fn status_golden() {
        let stats = SessionStats {
            download_rate: 3_000_000,
            upload_rate: 0,
            session_downloaded: 1_000_000,
            session_uploaded: 0,
            total_downloaded: 5_000_000_000,
            total_uploaded: 2_000_000_000,
            torrents: 3,
            by_state: [
                ("downloading".to_string(), 1),
                ("paused".to_string(), 0),
                ("seeding".to_string(), 2),
            ]
            .into_iter()
            .collect(),
            peers: 9,
            shards: vec![
                ShardStats {
                    shard: 0,
                    torrents: 2,
                    peers: 6,
                    download_rate: 3_000_000,
                    upload_rate: 0,
                    download_share: Some(5_000_000),
                    upload_share: None,
                    busy_percent: 0.0,
                },
                ShardStats {
                    shard: 1,
                    torrents: 1,
                    peers: 3,
                    download_rate: 0,
                    upload_rate: 0,
                    download_share: Some(5_000_000),
                    upload_share: None,
                    busy_percent: 0.0,
                },
            ],
            events_dropped: 0,
            handovers: 4,
            uptime_secs: 3_700,
            ip_filter_blocked: Default::default(),
            peer_guard: Default::default(),
        };
        assert_eq!(
            render_stats(&stats),
            concat!(
                "torrents      3 (downloading 1, seeding 2)\n",
                "peers         9\n",
                "rates         down 3.0 MB/s, up -\n",
                "this session  down 1.0 MB, up 0 B\n",
                "all time      down 5.0 GB, up 2.0 GB\n",
                "uptime        1h01m\n",
                "handovers     4 (events dropped: 0)\n",
                "\n",
                "SHARD  TORRENTS  PEERS      DOWN  UP  DOWN SHARE   UP SHARE\n",
                "    0         2      6  3.0 MB/s   -    5.0 MB/s  unlimited\n",
                "    1         1      3         -   -    5.0 MB/s  unlimited\n",
            )
        );
    }
}
