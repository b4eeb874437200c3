//! The Torrents view's rows: filtered by state, label and search, sorted by any
//! column, with a selection that follows its torrent when the order changes. Only
//! ids are kept in order; the views draw just the rows on screen.

use std::cmp::Ordering;

use ccbt_daemon::api_types::{TorrentStateName, TorrentSummary};

use crate::torrent_store::TorrentStore;

/// The columns of the table, in order; each can sort it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Name,
    State,
    Progress,
    Size,
    Down,
    Up,
    Ratio,
    Peers,
    Eta,
    Labels,
}

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Name,
        Column::State,
        Column::Progress,
        Column::Size,
        Column::Down,
        Column::Up,
        Column::Ratio,
        Column::Peers,
        Column::Eta,
        Column::Labels,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Name => "Name",
            Column::State => "State",
            Column::Progress => "Progress",
            Column::Size => "Size",
            Column::Down => "Down",
            Column::Up => "Up",
            Column::Ratio => "Ratio",
            Column::Peers => "Peers",
            Column::Eta => "ETA",
            Column::Labels => "Labels",
        }
    }

    fn next(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }

    fn compare(self, a: &TorrentSummary, b: &TorrentSummary) -> Ordering {
        match self {
            Column::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            Column::State => a.state.as_str().cmp(b.state.as_str()),
            Column::Progress => a.progress.total_cmp(&b.progress),
            Column::Size => a.wanted_bytes.cmp(&b.wanted_bytes),
            Column::Down => a.download_rate.cmp(&b.download_rate),
            Column::Up => a.upload_rate.cmp(&b.upload_rate),
            Column::Ratio => a.ratio.total_cmp(&b.ratio),
            Column::Peers => a.peers.cmp(&b.peers),
            // Unknown last.
            Column::Eta => a.eta_secs.unwrap_or(u64::MAX).cmp(&b.eta_secs.unwrap_or(u64::MAX)),
            Column::Labels => a.labels.cmp(&b.labels),
        }
    }
}

/// States the `f` key steps through (none = all).
pub const STATE_FILTERS: [TorrentStateName; 8] = [
    TorrentStateName::Downloading,
    TorrentStateName::Seeding,
    TorrentStateName::Paused,
    TorrentStateName::Queued,
    TorrentStateName::Checking,
    TorrentStateName::Metadata,
    TorrentStateName::Finished,
    TorrentStateName::Error,
];

/// Order, filters, selection and scroll of the table.
#[derive(Debug)]
pub struct TorrentList {
    pub sort: Column,
    pub descending: bool,
    pub state_filter: Option<TorrentStateName>,
    pub label_filter: Option<String>,
    pub search: String,
    rows: Vec<u32>,
    selected: Option<u32>,
    /// First row on screen.
    pub offset: usize,
    /// (store generation, settings version) the rows were built at.
    built_at: Option<(u64, u64)>,
    settings_version: u64,
}

impl Default for TorrentList {
    fn default() -> Self {
        TorrentList {
            sort: Column::Name,
            descending: false,
            state_filter: None,
            label_filter: None,
            search: String::new(),
            rows: Vec::new(),
            selected: None,
            offset: 0,
            built_at: None,
            settings_version: 0,
        }
    }
}

impl TorrentList {
    /// Rebuilds the rows if the store or the settings changed since the last time.
    pub fn refresh(&mut self, store: &TorrentStore) {
        let key = (store.generation(), self.settings_version);
        if self.built_at == Some(key) {
            return;
        }
        self.built_at = Some(key);
        let needle = self.search.to_lowercase();
        let mut rows: Vec<&TorrentSummary> = store
            .iter()
            .filter(|t| self.state_filter.is_none_or(|s| t.state == s))
            .filter(|t| self.label_filter.as_ref().is_none_or(|l| t.labels.contains(l)))
            .filter(|t| needle.is_empty() || t.name.to_lowercase().contains(&needle))
            .collect();
        let column = self.sort;
        rows.sort_by(|a, b| {
            let order = column.compare(a, b).then(a.id.cmp(&b.id));
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        self.rows = rows.into_iter().map(|t| t.id).collect();
        if self.selected.is_none_or(|id| !self.rows.contains(&id)) {
            self.selected = self.rows.first().copied();
        }
    }

    fn changed(&mut self) {
        self.settings_version += 1;
    }

    pub fn rows(&self) -> &[u32] {
        &self.rows
    }

    pub fn selected(&self) -> Option<u32> {
        self.selected
    }

    pub fn selected_index(&self) -> Option<usize> {
        let id = self.selected?;
        self.rows.iter().position(|r| *r == id)
    }

    /// Moves the selection by `delta` rows, stopping at the ends.
    pub fn move_selection(&mut self, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let at = self.selected_index().unwrap_or(0) as isize;
        let to = (at + delta).clamp(0, self.rows.len() as isize - 1) as usize;
        self.selected = Some(self.rows[to]);
    }

    pub fn select_first(&mut self) {
        self.selected = self.rows.first().copied();
    }

    pub fn select_last(&mut self) {
        self.selected = self.rows.last().copied();
    }

    /// Keeps the selected row inside a window of `height` rows; returns the first.
    pub fn scroll_to_selection(&mut self, height: usize) -> usize {
        let at = self.selected_index().unwrap_or(0);
        if height == 0 {
            return self.offset;
        }
        if at < self.offset {
            self.offset = at;
        } else if at >= self.offset + height {
            self.offset = at + 1 - height;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(height));
        self.offset
    }

    pub fn next_sort(&mut self) {
        self.sort = self.sort.next();
        self.changed();
    }

    pub fn reverse(&mut self) {
        self.descending = !self.descending;
        self.changed();
    }

    pub fn next_state_filter(&mut self) {
        self.state_filter = match self.state_filter {
            None => Some(STATE_FILTERS[0]),
            Some(s) => {
                let i = STATE_FILTERS.iter().position(|f| *f == s).unwrap_or(0);
                STATE_FILTERS.get(i + 1).copied()
            }
        };
        self.changed();
    }

    /// Steps through the labels in use (then none).
    pub fn next_label_filter(&mut self, labels: &[String]) {
        self.label_filter = match &self.label_filter {
            None => labels.first().cloned(),
            Some(current) => {
                let i = labels.iter().position(|l| l == current);
                i.and_then(|i| labels.get(i + 1)).cloned()
            }
        };
        self.changed();
    }

    pub fn set_search(&mut self, search: String) {
        self.search = search;
        self.changed();
    }

    pub fn clear_filters(&mut self) {
        self.state_filter = None;
        self.label_filter = None;
        self.search.clear();
        self.changed();
    }

    /// `state: seeding  label: linux  /ubu` for the title, empty when unfiltered.
    pub fn describe_filters(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.state_filter {
            parts.push(format!("state: {}", s.as_str()));
        }
        if let Some(l) = &self.label_filter {
            parts.push(format!("label: {l}"));
        }
        if !self.search.is_empty() {
            parts.push(format!("/{}", self.search));
        }
        parts.join("  ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::TorrentChanges;

    fn store() -> TorrentStore {
        let mut a = TorrentSummary::sample(1, "Ubuntu");
        a.download_rate = 5;
        a.labels = vec!["linux".into()];
        let mut b = TorrentSummary::sample(2, "arch");
        b.download_rate = 50;
        b.state = TorrentStateName::Seeding;
        b.labels = vec![];
        let mut c = TorrentSummary::sample(3, "Debian");
        c.download_rate = 500;
        c.labels = vec!["linux".into()];
        let mut s = TorrentStore::default();
        s.apply(TorrentChanges {
            revision: 1,
            full: true,
            torrents: vec![a, b, c],
            removed: vec![],
        });
        s
    }

    #[test]
    fn sorts_by_any_column_and_keeps_the_selection() {
        let store = store();
        let mut list = TorrentList::default();
        list.refresh(&store);
        assert_eq!(list.rows(), &[2, 3, 1], "by name, case-insensitive");
        list.move_selection(1);
        assert_eq!(list.selected(), Some(3));
        while list.sort != Column::Down {
            list.next_sort();
        }
        list.reverse();
        list.refresh(&store);
        assert_eq!(list.rows(), &[3, 2, 1]);
        assert_eq!(list.selected(), Some(3), "the selection follows its torrent");
        list.move_selection(10);
        assert_eq!(list.selected(), Some(1));
    }

    #[test]
    fn filters_by_state_label_and_search() {
        let store = store();
        let mut list = TorrentList::default();
        list.next_state_filter();
        list.refresh(&store);
        assert_eq!(list.rows(), &[3, 1], "downloading only");
        list.clear_filters();
        list.next_label_filter(&store.labels());
        list.refresh(&store);
        assert_eq!(list.rows(), &[3, 1]);
        assert_eq!(list.describe_filters(), "label: linux");
        list.clear_filters();
        list.set_search("UBU".into());
        list.refresh(&store);
        assert_eq!(list.rows(), &[1]);
        assert_eq!(list.selected(), Some(1));
    }

    #[test]
    fn the_window_follows_the_selection() {
        let mut s = TorrentStore::default();
        s.apply(TorrentChanges {
            revision: 1,
            full: true,
            torrents: (0..100)
                .map(|i| TorrentSummary::sample(i, &format!("t{i:03}")))
                .collect(),
            removed: vec![],
        });
        let mut list = TorrentList::default();
        list.refresh(&s);
        assert_eq!(list.scroll_to_selection(10), 0);
        list.move_selection(25);
        assert_eq!(list.scroll_to_selection(10), 16);
        list.select_first();
        assert_eq!(list.scroll_to_selection(10), 0);
    }
}
