//! `btbt queue list|reorder`: the order in which queued torrents get an active slot.

use ccbt_daemon::api_types::{QueueMove, TorrentSummary};

use super::api_client::{ApiClient, Method};
use super::list_view::NAME_WIDTH;
use super::table::{self, Align, Table};
use super::torrent_id::TorrentId;
use crate::error::CliError;

/// The queue as a table; positions count from 1 (what `reorder` takes).
pub fn render_queue(queue: &[TorrentSummary]) -> String {
    if queue.is_empty() {
        return "the queue is empty\n".to_string();
    }
    let mut t = Table::new(&[
        ("POS", Align::Right),
        ("ID", Align::Right),
        ("NAME", Align::Left),
        ("STATE", Align::Left),
        ("PROGRESS", Align::Right),
    ]);
    for (i, s) in queue.iter().enumerate() {
        let pos = s.queue_position.map_or(i + 1, |p| p as usize + 1);
        let mut state = s.state.as_str().to_string();
        if s.force_started {
            state.push_str(" (forced)");
        }
        t.row(vec![
            pos.to_string(),
            s.id.to_string(),
            table::truncate(&s.name, NAME_WIDTH),
            state,
            table::percent(s.progress),
        ]);
    }
    t.render()
}

/// `btbt queue list [--json]`.
pub fn list(client: &ApiClient, json: bool) -> Result<(), CliError> {
    if json {
        println!("{}", client.get_json("/queue")?);
        return Ok(());
    }
    let queue: Vec<TorrentSummary> = client.get("/queue")?;
    print!("{}", render_queue(&queue));
    Ok(())
}

/// `btbt queue reorder ID top|up|down|bottom|POSITION`, then the new order.
pub fn reorder(client: &ApiClient, id: &TorrentId, to: QueueMove) -> Result<(), CliError> {
    let queue: Vec<TorrentSummary> = client.send(Method::Post, &id.route("/queue"), Some(&to))?;
    print!("{}", render_queue(&queue));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::TorrentStateName;

    #[test]
    fn queue_golden_counts_from_one() {
        let mut second = TorrentSummary::sample(4, "b");
        second.queue_position = Some(1);
        second.state = TorrentStateName::Queued;
        second.force_started = true;
        assert_eq!(
            render_queue(&[TorrentSummary::sample(9, "a"), second]),
            concat!(
                "POS  ID  NAME  STATE            PROGRESS\n",
                "  1   9  a     downloading         25.0%\n",
                "  2   4  b     queued (forced)     25.0%\n",
            )
        );
    }

    #[test]
    fn queue_moves_serialize_as_the_api_takes_them() {
        assert_eq!(serde_json::to_string(&QueueMove::Top).unwrap(), "\"top\"");
        assert_eq!(
            serde_json::to_string(&QueueMove::Position(3)).unwrap(),
            "{\"position\":3}"
        );
    }
}
