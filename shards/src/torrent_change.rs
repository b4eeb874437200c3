//! Settings changed on a running torrent, and those waiting for a torrent that is
//! still checking its data.

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::discriminant;
use std::rc::Rc;

use ccbt_engine::InfoHash;
use ccbt_io::torrent_task::TorrentTask;

use crate::messages::TorrentChange;

impl TorrentChange {
    /// Applies the change to the torrent, at once.
    pub(crate) fn apply(self, task: &Rc<TorrentTask>) {
        match self {
            TorrentChange::Limits { download, upload } => task.set_limits(download, upload),
            TorrentChange::FilePriorities(files) => task.set_file_priorities(files),
            TorrentChange::Sequential(on) => task.set_sequential(on),
            TorrentChange::Reannounce => task.reannounce(),
            TorrentChange::Trackers(tiers) => task.set_trackers(tiers),
            TorrentChange::Hold => task.hold(),
            TorrentChange::Release => task.release(),
        }
    }

    /// Changes of one kind replace each other while a torrent checks: a hold and a
    /// release are one kind (the later says whether it runs).
    fn kind(&self) -> std::mem::Discriminant<TorrentChange> {
        match self {
            TorrentChange::Release => discriminant(&TorrentChange::Hold),
            other => discriminant(other),
        }
    }
}

/// Changes for torrents still checking. A later change of a kind replaces the
/// earlier one, so each torrent holds at most one change of each kind.
#[derive(Default)]
pub(crate) struct PendingChanges {
    changes: RefCell<HashMap<InfoHash, Vec<TorrentChange>>>,
}

impl PendingChanges {
    pub(crate) fn push(&self, info_hash: InfoHash, change: TorrentChange) {
        let mut changes = self.changes.borrow_mut();
        let list = changes.entry(info_hash).or_default();
        list.retain(|c| c.kind() != change.kind());
        list.push(change);
    }

    /// The torrent's changes in the order they came (none left behind).
    pub(crate) fn take(&self, info_hash: &InfoHash) -> Vec<TorrentChange> {
        self.changes.borrow_mut().remove(info_hash).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_change_of_a_kind_replaces_the_earlier_one() {
        let pending = PendingChanges::default();
        let a = InfoHash([1; 20]);
        pending.push(a, TorrentChange::Sequential(true));
        pending.push(
            a,
            TorrentChange::Limits {
                download: Some(1),
                upload: None,
            },
        );
        pending.push(a, TorrentChange::Sequential(false));
        pending.push(InfoHash([2; 20]), TorrentChange::Reannounce);
        assert_eq!(
            pending.take(&a),
            vec![
                TorrentChange::Limits {
                    download: Some(1),
                    upload: None
                },
                TorrentChange::Sequential(false)
            ]
        );
        assert!(pending.take(&a).is_empty());
        assert_eq!(pending.take(&InfoHash([2; 20])), vec![TorrentChange::Reannounce]);
    }

    #[test]
    fn a_hold_and_a_release_replace_each_other() {
        let pending = PendingChanges::default();
        let a = InfoHash([1; 20]);
        pending.push(a, TorrentChange::Release);
        pending.push(a, TorrentChange::Sequential(true));
        pending.push(a, TorrentChange::Hold);
        assert_eq!(
            pending.take(&a),
            vec![TorrentChange::Sequential(true), TorrentChange::Hold]
        );
        pending.push(a, TorrentChange::Hold);
        pending.push(a, TorrentChange::Release);
        assert_eq!(pending.take(&a), vec![TorrentChange::Release]);
    }
}
