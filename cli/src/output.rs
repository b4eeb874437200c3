//! What ccbt prints: JSON lines for scripts, a progress bar on a terminal, plain
//! status lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use ccbt_shards::TorrentStatus;
use serde_json::json;

use crate::size::human_bytes;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    Json,
    ProgressBar,
    Lines,
}

impl OutputMode {
    /// JSON when asked; a bar when stderr is a terminal; plain lines otherwise.
    pub fn choose(json: bool) -> OutputMode {
        if json {
            OutputMode::Json
        } else if std::io::stderr().is_terminal() {
            OutputMode::ProgressBar
        } else {
            OutputMode::Lines
        }
    }
}

/// Seconds between plain status lines.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Prints progress in the chosen mode.
pub struct Reporter {
    mode: OutputMode,
    since_line: Duration,
    bar_drawn: bool,
}

impl Reporter {
    pub fn new(mode: OutputMode) -> Self {
        Reporter {
            mode,
            since_line: LINE_INTERVAL,
            bar_drawn: false,
        }
    }

    pub fn mode(&self) -> OutputMode {
        self.mode
    }

    fn json_line(&self, value: serde_json::Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }

    /// Free text for humans (stderr), or nothing in JSON mode.
    pub fn note(&mut self, text: &str) {
        if self.mode == OutputMode::Json {
            return;
        }
        self.clear_bar();
        eprintln!("{text}");
    }

    pub fn listening(&mut self, addr: std::net::SocketAddr, shards: usize) {
        match self.mode {
            OutputMode::Json => {
                self.json_line(json!({"type": "listening", "addr": addr.to_string(), "shards": shards}))
            }
            _ => self.note(&format!("listening on {addr} with {shards} shard(s)")),
        }
    }

    pub fn started(&mut self, name: &str, info_hash: &str, have: u32, num_pieces: u32) {
        match self.mode {
            OutputMode::Json => self.json_line(json!({
                "type": "started", "info_hash": info_hash, "name": name,
                "pieces_valid": have, "num_pieces": num_pieces,
            })),
            _ => self.note(&format!(
                "{name}: checked existing data, {have}/{num_pieces} pieces valid"
            )),
        }
    }

    /// A magnet's metadata arrived and was verified; its download starts.
    pub fn metadata(&mut self, name: &str, info_hash: &str, total_bytes: u64, elapsed: Duration) {
        match self.mode {
            OutputMode::Json => self.json_line(json!({
                "type": "metadata", "info_hash": info_hash, "name": name,
                "total_bytes": total_bytes, "seconds": elapsed.as_secs_f64(),
            })),
            _ => self.note(&format!(
                "{name}: metadata received ({}) after {:.1} s",
                human_bytes(total_bytes),
                elapsed.as_secs_f64()
            )),
        }
    }

    /// Every piece of the torrent is verified: `verified_bytes` is its size.
    pub fn complete(&mut self, verified_bytes: u64, name: &str, info_hash: &str, elapsed: Duration) {
        match self.mode {
            OutputMode::Json => self.json_line(json!({
                "type": "complete", "info_hash": info_hash, "name": name,
                "seconds": elapsed.as_secs_f64(), "verified_bytes": verified_bytes,
            })),
            _ => self.note(&format!(
                "{name}: complete, every piece verified ({:.1} s)",
                elapsed.as_secs_f64()
            )),
        }
    }

    /// A torrent stopped with an error; the others run on. This is the one place
    /// its reason is printed: the binary's last line only counts the failures.
    pub fn failed(&mut self, name: &str, info_hash: &str, error: &str) {
        if self.mode == OutputMode::Json {
            self.json_line(json!({"type": "error", "info_hash": info_hash, "name": name, "error": error}));
        }
        // stderr is for people in every mode; scripts read the JSON line.
        self.clear_bar();
        eprintln!("{name}: error: {error}");
    }

    /// Called every status interval with the latest status of every torrent.
    pub fn status(&mut self, torrents: &[TorrentStatus], handovers: u64, interval: Duration) {
        match self.mode {
            OutputMode::Json => {
                for t in torrents {
                    self.json_line(status_json(t, handovers));
                }
            }
            OutputMode::ProgressBar => self.draw_bar(torrents),
            OutputMode::Lines => {
                self.since_line += interval;
                if self.since_line >= LINE_INTERVAL {
                    self.since_line = Duration::ZERO;
                    for t in torrents {
                        eprintln!("{}", status_line(t));
                    }
                }
            }
        }
    }

    pub fn summary(&mut self, bytes: u64, seconds: f64, verified: u64, handovers: u64) {
        let rate = if seconds > 0.0 { bytes as f64 / seconds } else { 0.0 };
        match self.mode {
            OutputMode::Json => self.json_line(json!({
                "type": "summary", "bytes": bytes, "seconds": seconds, "rate": rate,
                "verified_bytes": verified, "handovers": handovers,
            })),
            _ => self.note(&format!(
                "downloaded {} in {seconds:.1} s ({}/s); {} verified on disk",
                human_bytes(bytes),
                human_bytes(rate as u64),
                human_bytes(verified)
            )),
        }
    }

    fn clear_bar(&mut self) {
        if self.bar_drawn {
            eprint!("\r\x1b[2K");
            self.bar_drawn = false;
        }
    }

    fn draw_bar(&mut self, torrents: &[TorrentStatus]) {
        let fetching: Vec<&TorrentStatus> = torrents.iter().filter(|t| t.metadata.is_some()).collect();
        if !fetching.is_empty() && fetching.len() == torrents.len() {
            let peers: usize = fetching.iter().map(|t| t.stats.peers).sum();
            eprint!("\r\x1b[2Kfetching metadata ({peers} peers)");
            self.bar_drawn = true;
            return;
        }
        let total: u64 = torrents.iter().map(|t| t.stats.total_bytes).sum();
        let done: u64 = torrents.iter().map(|t| t.stats.verified_bytes).sum();
        let down: u64 = torrents.iter().map(|t| t.stats.download_rate).sum();
        let up: u64 = torrents.iter().map(|t| t.stats.upload_rate).sum();
        let peers: usize = torrents.iter().map(|t| t.stats.peers).sum();
        let frac = if total > 0 { done as f64 / total as f64 } else { 0.0 };
        const WIDTH: usize = 30;
        let filled = ((frac * WIDTH as f64) as usize).min(WIDTH);
        let eta = if down > 0 && total > done {
            format!("{}s", (total - done) / down)
        } else if total == done && total > 0 {
            "done".to_string()
        } else {
            "-".to_string()
        };
        eprint!(
            "\r\x1b[2K[{}{}] {:5.1}%  down {}/s  up {}/s  peers {}  ETA {}",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            frac * 100.0,
            human_bytes(down),
            human_bytes(up),
            peers,
            eta
        );
        self.bar_drawn = true;
    }

    /// Leaves the terminal on a fresh line.
    pub fn finish(&mut self) {
        if self.bar_drawn {
            eprintln!();
            self.bar_drawn = false;
        }
    }
}

fn status_json(t: &TorrentStatus, handovers: u64) -> serde_json::Value {
    json!({
        "type": "status",
        "info_hash": t.info_hash.to_hex(),
        "name": t.name,
        "state": t.state.as_str(),
        "shard": t.shard,
        "verified_bytes": t.stats.verified_bytes,
        "total_bytes": t.stats.total_bytes,
        "pieces": t.stats.pieces_have,
        "num_pieces": t.stats.num_pieces,
        "downloaded": t.stats.downloaded,
        "uploaded": t.stats.uploaded,
        "wasted": t.stats.wasted,
        "download_rate": t.stats.download_rate,
        "upload_rate": t.stats.upload_rate,
        "peers": t.stats.peers,
        "hash_failures": t.stats.hash_failures,
        "violations": t
            .stats
            .violations
            .iter()
            .map(|(kind, n)| (kind.label().to_string(), serde_json::Value::from(n)))
            .collect::<serde_json::Map<_, _>>(),
        "handovers": handovers,
        "peers_by_source": t
            .peer_sources
            .iter()
            .map(|(source, n)| (source.name().to_string(), serde_json::Value::from(n)))
            .collect::<serde_json::Map<_, _>>(),
        "extensions": {
            "bad_extension_handshakes": t.stats.bad_extension_handshakes,
            "metadata_pieces_served": t.stats.metadata_pieces_served,
            "metadata_requests_rejected": t.stats.metadata_requests_rejected,
            "pex_addresses_received": t.stats.pex_addresses_received,
            "pex_messages_sent": t.stats.pex_messages_sent,
        },
        "latency": {
            "block_p50_us": t.stats.block_latency.p50_us,
            "block_p99_us": t.stats.block_latency.p99_us,
            "hash_p50_us": t.stats.hash_latency.p50_us,
            "hash_p99_us": t.stats.hash_latency.p99_us,
            "write_p50_us": t.stats.write_latency.p50_us,
            "write_p99_us": t.stats.write_latency.p99_us,
        },
        "error": t.error,
        "no_reachable_peer": t.no_reachable_peer,
        "metadata": t.metadata.map(|m| json!({
            "peers": t.stats.peers,
            "peers_asked": m.peers_asked,
            "peers_with_metadata": m.peers_with_metadata,
            "pieces": m.pieces_have,
            "num_pieces": m.pieces_total,
        })),
        "trackers": t.trackers.iter().map(|tr| json!({
            "url": tr.url,
            "tier": tr.tier,
            "last_announce_secs_ago": tr.last_announce_secs_ago,
            "next_announce_in_secs": tr.next_announce_in_secs,
            "peers_received": tr.peers_received,
            "seeders": tr.seeders,
            "leechers": tr.leechers,
            "downloaded": tr.downloaded,
            "error": tr.last_error,
            "warning": tr.last_warning,
        })).collect::<Vec<_>>(),
    })
}

/// One phrase about the trackers for human status lines.
fn tracker_phrase(t: &TorrentStatus) -> String {
    if t.trackers.is_empty() {
        return String::new();
    }
    let peers: u64 = t.trackers.iter().map(|tr| tr.peers_received).sum();
    let problems: Vec<String> = t
        .trackers
        .iter()
        .filter_map(|tr| {
            tr.last_error
                .as_ref()
                .map(|e| format!("{}: {e}", tr.url))
                .or_else(|| tr.last_warning.as_ref().map(|w| format!("{} warns: {w}", tr.url)))
        })
        .collect();
    if problems.is_empty() {
        format!(", trackers gave {peers} peers")
    } else {
        format!(", tracker {}", problems.join("; "))
    }
}

fn status_line(t: &TorrentStatus) -> String {
    if let Some(m) = &t.metadata {
        return format!(
            "{}: fetching metadata ({} peers, {} asked, {}/{} pieces){}",
            t.name,
            t.stats.peers,
            m.peers_asked,
            m.pieces_have,
            m.pieces_total,
            tracker_phrase(t)
        );
    }
    let pct = if t.stats.total_bytes > 0 {
        t.stats.verified_bytes as f64 * 100.0 / t.stats.total_bytes as f64
    } else {
        0.0
    };
    format!(
        "{}: {} {:.1}% ({}/{} pieces), down {}/s, up {}/s, {} peers{}{}",
        t.name,
        t.state.as_str(),
        pct,
        t.stats.pieces_have,
        t.stats.num_pieces,
        human_bytes(t.stats.download_rate),
        human_bytes(t.stats.upload_rate),
        t.stats.peers,
        if t.no_reachable_peer {
            " (no reachable peer)"
        } else {
            ""
        },
        tracker_phrase(t)
    )
}
