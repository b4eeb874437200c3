//! `btbt show ID`: one torrent's head, files, peers, trackers and pieces.

use ccbt_daemon::api_types::{MetadataProgress, PeersBySource, PieceMap, TorrentDetail};

use super::api_client::ApiClient;
use super::files_cmd::render_files;
use super::table::{self, Align, Table};
use super::torrent_id::TorrentId;
use crate::error::CliError;
use crate::size::human_bytes;

/// Cells of the piece bar; each stands for an equal run of pieces.
pub const PIECE_BAR_WIDTH: usize = 64;

/// `tracker 2, dht 1`: the sources with at least one connected peer.
fn peers_by_source_text(c: &PeersBySource) -> String {
    [
        ("tracker", c.tracker),
        ("dht", c.dht),
        ("pex", c.pex),
        ("lsd", c.lsd),
        ("incoming", c.incoming),
        ("manual", c.manual),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{name} {n}"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// A magnet's metadata fetch: "asked 3 peers, 2 have it, 1 of 4 pieces".
pub fn metadata_text(m: &MetadataProgress) -> String {
    let plural = if m.peers_asked == 1 { "" } else { "s" };
    let pieces = if m.pieces_total == 0 {
        "size not known yet".to_string()
    } else {
        format!("{} of {} pieces", m.pieces_have, m.pieces_total)
    };
    format!(
        "asked {} peer{plural}, {} have it, {pieces}",
        m.peers_asked, m.peers_with_metadata
    )
}

/// Everything `show` prints, from the detail and the piece map.
pub fn render_detail(d: &TorrentDetail, pieces: Option<&PieceMap>) -> String {
    let s = &d.summary;
    let mut out = format!("{}\n", s.name);
    let mut kv = |key: &str, value: String| out.push_str(&format!("  {key:<12} {value}\n"));
    kv("id", s.id.to_string());
    kv("info hash", s.info_hash.clone());
    let mut state = s.state.as_str().to_string();
    if let Some(shard) = s.shard {
        state.push_str(&format!(" (shard {shard})"));
    }
    if let Some(pos) = s.queue_position {
        state.push_str(&format!(", queue position {}", pos + 1));
    }
    if s.force_started {
        state.push_str(", force-started");
    }
    kv("state", state);
    if let Some(m) = &s.metadata {
        kv("metadata", metadata_text(m));
    }
    kv(
        "progress",
        format!(
            "{} ({} of {} verified)",
            table::percent(s.progress),
            human_bytes(s.verified_bytes),
            human_bytes(s.wanted_bytes)
        ),
    );
    kv(
        "rates",
        format!(
            "down {}, up {}",
            table::rate(s.download_rate),
            table::rate(s.upload_rate)
        ),
    );
    kv(
        "transferred",
        format!(
            "down {}, up {}, ratio {}",
            human_bytes(s.downloaded),
            human_bytes(s.uploaded),
            table::ratio(s.ratio)
        ),
    );
    kv("eta", table::duration(s.eta_secs));
    kv("directory", s.download_dir.clone());
    if !s.labels.is_empty() {
        kv("labels", s.labels.join(", "));
    }
    kv(
        "limits",
        format!(
            "down {}, up {}, ratio {}, seed time {}",
            table::limit(s.download_limit),
            table::limit(s.upload_limit),
            s.ratio_limit.map_or("none".to_string(), table::ratio),
            s.seed_time_limit_secs
                .map_or("none".to_string(), |t| table::duration(Some(t)))
        ),
    );
    let mut flags = Vec::new();
    if s.sequential {
        flags.push("sequential");
    }
    if s.private {
        flags.push("private");
    }
    if !flags.is_empty() {
        kv("flags", flags.join(", "));
    }
    if let Some(err) = &s.error {
        kv("error", err.clone());
    }
    if let Some(check) = &d.last_check {
        let mut text = format!(
            "{} pieces trusted, {} hashed, {} changed files, {} ms",
            check.trusted_pieces, check.hashed_pieces, check.changed_files, check.millis
        );
        if let Some(problem) = &check.record_problem {
            text.push_str(&format!(" (resume record not used: {problem})"));
        }
        kv("last check", text);
    }

    out.push_str(&format!("\nFILES ({})\n", d.files.len()));
    out.push_str(&render_files(&d.files));
    out.push_str(&format!("\nPEERS ({})", d.peers_list.len()));
    let by_source = peers_by_source_text(&d.peers_by_source);
    if !by_source.is_empty() {
        out.push_str(&format!(" by source: {by_source}"));
    }
    out.push('\n');
    if !d.peers_list.is_empty() {
        let mut t = Table::new(&[
            ("ADDRESS", Align::Left),
            ("CLIENT", Align::Left),
            ("FLAGS", Align::Left),
            ("DOWN", Align::Right),
            ("UP", Align::Right),
            ("HAS", Align::Right),
        ]);
        for p in &d.peers_list {
            t.row(vec![
                p.addr.clone(),
                table::truncate(&p.client, 24),
                p.flags.clone(),
                table::rate(p.download_rate),
                table::rate(p.upload_rate),
                table::percent(p.progress),
            ]);
        }
        out.push_str(&t.render());
    }
    out.push_str(&format!("\nTRACKERS ({})\n", d.trackers.len()));
    if !d.trackers.is_empty() {
        let mut t = Table::new(&[
            ("TIER", Align::Right),
            ("URL", Align::Left),
            ("STATUS", Align::Left),
            ("SEEDS", Align::Right),
            ("LEECHES", Align::Right),
            ("NEXT", Align::Right),
            ("ERROR", Align::Left),
        ]);
        let count = |n: Option<u32>| n.map_or("-".to_string(), |n| n.to_string());
        for tr in &d.trackers {
            t.row(vec![
                tr.tier.to_string(),
                tr.url.clone(),
                tr.status.clone(),
                count(tr.seeders),
                count(tr.leechers),
                table::duration(tr.next_announce_secs),
                tr.last_error.clone().unwrap_or_default(),
            ]);
        }
        out.push_str(&t.render());
    }
    out.push_str(&format!(
        "\nPIECES  {} of {} verified, {} each\n",
        d.pieces_have,
        d.num_pieces,
        table::binary_size(u64::from(d.piece_length))
    ));
    if let Some(bar) = pieces.and_then(|p| piece_bar(p, PIECE_BAR_WIDTH)) {
        out.push_str(&format!("[{bar}]\n"));
    }
    out
}

/// One cell per run of pieces: `#` all verified, `+` some, `.` none. None when the
/// bitfield does not match the piece count (the bar is then left out).
pub fn piece_bar(map: &PieceMap, width: usize) -> Option<String> {
    let n = map.num_pieces as usize;
    let bits = hex_bytes(&map.bitfield_hex)?;
    if n == 0 || width == 0 || bits.len() != n.div_ceil(8) {
        return None;
    }
    let has = |i: usize| bits[i / 8] & (0x80 >> (i % 8)) != 0;
    let cells = width.min(n);
    let bar = (0..cells)
        .map(|c| {
            let (from, to) = (c * n / cells, (c + 1) * n / cells);
            let have = (from..to).filter(|&i| has(i)).count();
            match have {
                0 => '.',
                h if h == to - from => '#',
                _ => '+',
            }
        })
        .collect();
    Some(bar)
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `btbt show ID [--json]`.
pub fn show(client: &ApiClient, id: &TorrentId, json: bool) -> Result<(), CliError> {
    if json {
        println!("{}", client.get_json(&id.route(""))?);
        return Ok(());
    }
    let detail: TorrentDetail = client.get(&id.route(""))?;
    let pieces: PieceMap = client.get(&id.route("/pieces"))?;
    print!("{}", render_detail(&detail, Some(&pieces)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::{CheckReport, FileEntry, FilePriorityName, PeerEntry, TorrentSummary, TrackerEntry};

    fn detail() -> TorrentDetail {
        TorrentDetail {
            summary: TorrentSummary::sample(1, "debian.iso"),
            piece_length: 262_144,
            num_pieces: 10,
            pieces_have: 5,
            files: vec![FileEntry {
                index: 0,
                path: "debian.iso".into(),
                length: 1_000_000_000,
                verified_bytes: 250_000_000,
                progress: 0.25,
                priority: FilePriorityName::Normal,
                padding: false,
            }],
            peers_list: vec![PeerEntry {
                addr: "127.0.0.1:6881".into(),
                client: "qB 4.6.5.0".into(),
                flags: "D".into(),
                download_rate: 1_000_000,
                upload_rate: 0,
                downloaded: 10,
                uploaded: 0,
                progress: 1.0,
                source: "tracker".into(),
            }],
            trackers: vec![TrackerEntry {
                url: "http://127.0.0.1:6969/announce".into(),
                tier: 0,
                status: "working".into(),
                next_announce_secs: Some(1800),
                seeders: Some(3),
                leechers: None,
                last_error: None,
            }],
            last_check: Some(CheckReport {
                trusted_pieces: 5,
                hashed_pieces: 0,
                changed_files: 0,
                record_problem: None,
                millis: 3,
            }),
            peers_by_source: PeersBySource {
                tracker: 1,
                ..PeersBySource::default()
            },
        }
    }

    #[test]
    fn a_magnet_shows_its_metadata_fetch() {
        let mut d = detail();
        d.summary.state = ccbt_daemon::api_types::TorrentStateName::Metadata;
        d.summary.metadata = Some(MetadataProgress {
            peers_asked: 1,
            peers_with_metadata: 1,
            pieces_have: 0,
            pieces_total: 0,
        });
        let text = render_detail(&d, None);
        assert!(
            text.contains("  state        metadata (shard 1), queue position 1\n  metadata     asked 1 peer, 1 have it, size not known yet\n"),
            "{text}"
        );
        d.summary.metadata = Some(MetadataProgress {
            peers_asked: 3,
            peers_with_metadata: 2,
            pieces_have: 1,
            pieces_total: 4,
        });
        assert!(render_detail(&d, None).contains("  metadata     asked 3 peers, 2 have it, 1 of 4 pieces\n"));
        assert!(!render_detail(&detail(), None).contains("metadata"));
    }

    #[test]
    fn show_golden() {
        let map = PieceMap {
            num_pieces: 10,
            have: 5,
            bitfield_hex: "f800".into(),
        };
        assert_eq!(
            render_detail(&detail(), Some(&map)),
            concat!(
                "debian.iso\n",
                "  id           1\n",
                "  info hash    0000000000000000000000000000000000000001\n",
                "  state        downloading (shard 1), queue position 1\n",
                "  progress     25.0% (250.0 MB of 1.0 GB verified)\n",
                "  rates        down 2.5 MB/s, up -\n",
                "  transferred  down 250.0 MB, up 125.0 MB, ratio 0.50\n",
                "  eta          5m00s\n",
                "  directory    /srv/data\n",
                "  labels       linux\n",
                "  limits       down unlimited, up unlimited, ratio none, seed time none\n",
                "  last check   5 pieces trusted, 0 hashed, 0 changed files, 3 ms\n",
                "\n",
                "FILES (1)\n",
                "N  PRIORITY  PROGRESS    SIZE  PATH\n",
                "0  normal       25.0%  1.0 GB  debian.iso\n",
                "\n",
                "PEERS (1) by source: tracker 1\n",
                "ADDRESS         CLIENT      FLAGS      DOWN  UP     HAS\n",
                "127.0.0.1:6881  qB 4.6.5.0  D      1.0 MB/s   -  100.0%\n",
                "\n",
                "TRACKERS (1)\n",
                "TIER  URL                             STATUS   SEEDS  LEECHES    NEXT  ERROR\n",
                "   0  http://127.0.0.1:6969/announce  working      3        -  30m00s\n",
                "\n",
                "PIECES  5 of 10 verified, 256 KiB each\n",
                "[#####.....]\n",
            )
        );
    }

    #[test]
    fn piece_bar_groups_runs_and_refuses_a_wrong_bitfield() {
        let map = PieceMap {
            num_pieces: 8,
            have: 3,
            bitfield_hex: "e0".into(),
        };
        assert_eq!(piece_bar(&map, 4).as_deref(), Some("#+.."));
        assert_eq!(piece_bar(&map, 64).as_deref(), Some("###....."));
        let wrong = PieceMap {
            bitfield_hex: "e000".into(),
            ..map.clone()
        };
        assert_eq!(piece_bar(&wrong, 4), None);
        let not_hex = PieceMap {
            bitfield_hex: "zz".into(),
            ..map
        };
        assert_eq!(piece_bar(&not_hex, 4), None);
    }
}
