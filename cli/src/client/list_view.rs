//! `btbt list`: every torrent, one row each (also what `btbt watch` redraws).

use ccbt_daemon::api_types::TorrentSummary;

use super::api_client::ApiClient;
use super::table::{self, Align, Table};
use crate::error::CliError;
use crate::size::human_bytes;

/// Widest NAME cell; longer names end in `…`.
pub const NAME_WIDTH: usize = 40;

/// The list as an aligned table (a line saying so when there is no torrent).
pub fn render_list(torrents: &[TorrentSummary]) -> String {
    if torrents.is_empty() {
        return "no torrents (add one with `btbt download FILE.torrent`)\n".to_string();
    }
    let mut t = Table::new(&[
        ("ID", Align::Right),
        ("NAME", Align::Left),
        ("STATE", Align::Left),
        ("PROGRESS", Align::Right),
        ("SIZE", Align::Right),
        ("DOWN", Align::Right),
        ("UP", Align::Right),
        ("RATIO", Align::Right),
        ("PEERS", Align::Right),
        ("ETA", Align::Right),
    ]);
    for s in torrents {
        t.row(vec![
            s.id.to_string(),
            table::truncate(&s.name, NAME_WIDTH),
            state_cell(s),
            table::percent(s.progress),
            human_bytes(s.total_bytes),
            table::rate(s.download_rate),
            table::rate(s.upload_rate),
            table::ratio(s.ratio),
            s.peers.to_string(),
            table::duration(s.eta_secs),
        ]);
    }
    t.render()
}

/// The STATE cell; a magnet fetching its metadata says how many peers it asked.
fn state_cell(s: &TorrentSummary) -> String {
    match &s.metadata {
        Some(m) => format!("{} ({} asked)", s.state.as_str(), m.peers_asked),
        None => s.state.as_str().to_string(),
    }
}

/// `btbt list [--json]`.
pub fn list(client: &ApiClient, json: bool) -> Result<(), CliError> {
    if json {
        let value = client.get_json("/torrents")?;
        println!("{value}");
        return Ok(());
    }
    let torrents: Vec<TorrentSummary> = client.get("/torrents")?;
    print!("{}", render_list(&torrents));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::TorrentStateName;

    #[test]
    fn list_table_golden() {
        let mut seeding = TorrentSummary::sample(12, "a-very-long-name-of-a-linux-distribution-image.iso");
        seeding.state = TorrentStateName::Seeding;
        seeding.progress = 1.0;
        seeding.download_rate = 0;
        seeding.upload_rate = 800_000;
        seeding.ratio = 2.0;
        seeding.eta_secs = None;
        let list = vec![TorrentSummary::sample(1, "debian.iso"), seeding];
        assert_eq!(
            render_list(&list),
            concat!(
                "ID  NAME                                      STATE        PROGRESS    SIZE      DOWN          UP  RATIO  PEERS    ETA\n",
                " 1  debian.iso                                downloading     25.0%  1.0 GB  2.5 MB/s           -   0.50      7  5m00s\n",
                "12  a-very-long-name-of-a-linux-distributio…  seeding        100.0%  1.0 GB         -  800.0 kB/s   2.00      7      -\n",
            )
        );
    }

    #[test]
    fn a_magnet_fetching_its_metadata_says_how_many_peers_it_asked() {
        let mut magnet = TorrentSummary::sample(3, "ubuntu");
        magnet.state = TorrentStateName::Metadata;
        magnet.metadata = Some(ccbt_daemon::api_types::MetadataProgress {
            peers_asked: 4,
            peers_with_metadata: 2,
            pieces_have: 1,
            pieces_total: 3,
        });
        let text = render_list(&[magnet]);
        assert!(text.contains("  metadata (4 asked)  "), "{text}");
    }

    #[test]
    fn empty_list_says_how_to_add() {
        assert!(render_list(&[]).contains("btbt download"));
    }
}
