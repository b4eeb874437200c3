//! Which torrents run and which wait: the active limits applied in queue order,
//! and moves within the queue.
//!
//! Sans-IO and deterministic: the core passes every torrent in queue order with
//! what it wants to do, and starts or queues them as [`decide`] says. Paused and
//! finished torrents take no slot; a force-started torrent runs whatever the
//! limits, and takes a slot, so it delays the queued ones behind it.

use crate::api_types::QueueMove;

/// `max_active_*` value meaning "no limit".
pub const UNLIMITED: u32 = u32::MAX;

/// What a torrent would do if it ran; each has its own active limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Hash its files (on add, `verify`, or an untrusted resume record).
    Check,
    Download,
    Seed,
}

/// How many torrents of each activity run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveLimits {
    pub downloads: u32,
    pub seeds: u32,
    pub checks: u32,
}

impl ActiveLimits {
    fn of(&self, activity: Activity) -> u32 {
        match activity {
            Activity::Check => self.checks,
            Activity::Download => self.downloads,
            Activity::Seed => self.seeds,
        }
    }
}

/// One torrent as the queue sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueEntry<Id> {
    pub id: Id,
    pub activity: Activity,
    /// Paused by the user or finished by a seed limit: takes no slot, is not queued.
    pub stopped: bool,
    /// Runs whatever the limits (and counts against them).
    pub force_started: bool,
}

/// What a torrent is told to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Run,
    /// Waits for a slot of its activity (state `queued`).
    Wait,
    /// Paused or finished: outside the queue.
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement<Id> {
    pub id: Id,
    pub slot: Slot,
    /// 0-based position among the torrents that run or wait (the API's
    /// `queue_position`); none when stopped.
    pub queue_position: Option<u32>,
}

/// Decides, for torrents given in queue order, which run and which wait. Earlier
/// queue positions win; force-started torrents run first and take their slots.
/// The answer has one placement per entry, in the same order.
pub fn decide<Id: Copy>(entries: &[QueueEntry<Id>], limits: ActiveLimits) -> Vec<Placement<Id>> {
    let mut running = ActivityCounts::default();
    for entry in entries.iter().filter(|e| !e.stopped && e.force_started) {
        running.add(entry.activity);
    }
    let mut position: u32 = 0;
    entries
        .iter()
        .map(|entry| {
            if entry.stopped {
                return Placement {
                    id: entry.id,
                    slot: Slot::Stopped,
                    queue_position: None,
                };
            }
            let slot = if entry.force_started {
                Slot::Run
            } else if running.get(entry.activity) < limits.of(entry.activity) {
                running.add(entry.activity);
                Slot::Run
            } else {
                Slot::Wait
            };
            let queue_position = Some(position);
            position = position.saturating_add(1);
            Placement {
                id: entry.id,
                slot,
                queue_position,
            }
        })
        .collect()
}

#[derive(Default)]
struct ActivityCounts {
    checks: u32,
    downloads: u32,
    seeds: u32,
}

impl ActivityCounts {
    fn slot(&mut self, activity: Activity) -> &mut u32 {
        match activity {
            Activity::Check => &mut self.checks,
            Activity::Download => &mut self.downloads,
            Activity::Seed => &mut self.seeds,
        }
    }
    fn get(&mut self, activity: Activity) -> u32 {
        *self.slot(activity)
    }
    fn add(&mut self, activity: Activity) {
        let n = self.slot(activity);
        *n = n.saturating_add(1);
    }
}

/// A queue move named a torrent that is not in the queue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("torrent {id} is not in the queue")]
pub struct NotQueued {
    pub id: String,
}

/// Moves `id` within `order` (the queue, first = highest priority) and returns its
/// new 0-based position. A position past the end means the end.
pub fn move_in_queue<Id: PartialEq + Copy + std::fmt::Display>(
    order: &mut Vec<Id>,
    id: Id,
    to: QueueMove,
) -> Result<usize, NotQueued> {
    let from = order
        .iter()
        .position(|x| *x == id)
        .ok_or_else(|| NotQueued { id: id.to_string() })?;
    let last = order.len() - 1;
    let target = match to {
        QueueMove::Top => 0,
        QueueMove::Up => from.saturating_sub(1),
        QueueMove::Down => (from + 1).min(last),
        QueueMove::Bottom => last,
        QueueMove::Position(p) => usize::try_from(p).unwrap_or(usize::MAX).min(last),
    };
    let moved = order.remove(from);
    order.insert(target, moved);
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(id: u32, activity: Activity) -> QueueEntry<u32> {
        QueueEntry {
            id,
            activity,
            stopped: false,
            force_started: false,
        }
    }

    fn slots(placements: &[Placement<u32>]) -> Vec<(u32, Slot)> {
        placements.iter().map(|p| (p.id, p.slot)).collect()
    }

    const LIMITS: ActiveLimits = ActiveLimits {
        downloads: 2,
        seeds: 1,
        checks: 1,
    };

    #[test]
    fn earlier_positions_take_the_slots_per_activity() {
        let entries = [
            entry(1, Activity::Download),
            entry(2, Activity::Seed),
            entry(3, Activity::Download),
            entry(4, Activity::Download),
            entry(5, Activity::Seed),
            entry(6, Activity::Check),
            entry(7, Activity::Check),
        ];
        let placed = decide(&entries, LIMITS);
        assert_eq!(
            slots(&placed),
            vec![
                (1, Slot::Run),
                (2, Slot::Run),
                (3, Slot::Run),
                (4, Slot::Wait),
                (5, Slot::Wait),
                (6, Slot::Run),
                (7, Slot::Wait),
            ]
        );
        assert_eq!(placed[6].queue_position, Some(6));
    }

    #[test]
    fn stopped_torrents_take_no_slot_and_no_position() {
        let mut paused = entry(1, Activity::Download);
        paused.stopped = true;
        let entries = [
            paused,
            entry(2, Activity::Download),
            entry(3, Activity::Download),
            entry(4, Activity::Download),
        ];
        let placed = decide(&entries, LIMITS);
        assert_eq!(
            slots(&placed),
            vec![(1, Slot::Stopped), (2, Slot::Run), (3, Slot::Run), (4, Slot::Wait)]
        );
        assert_eq!(placed[0].queue_position, None);
        assert_eq!(placed[1].queue_position, Some(0));
    }

    #[test]
    fn a_forced_torrent_runs_past_the_limit_and_takes_a_slot() {
        let mut forced = entry(9, Activity::Download);
        forced.force_started = true;
        let entries = [
            entry(1, Activity::Download),
            entry(2, Activity::Download),
            entry(3, Activity::Download),
            forced,
        ];
        let placed = decide(&entries, LIMITS);
        assert_eq!(
            slots(&placed),
            vec![(1, Slot::Run), (2, Slot::Wait), (3, Slot::Wait), (9, Slot::Run)]
        );
    }

    #[test]
    fn unlimited_seeds_all_run() {
        let entries: Vec<_> = (0..10_000).map(|id| entry(id, Activity::Seed)).collect();
        let limits = ActiveLimits {
            seeds: UNLIMITED,
            ..LIMITS
        };
        assert!(decide(&entries, limits).iter().all(|p| p.slot == Slot::Run));
    }

    #[test]
    fn moves_top_up_down_bottom_position() {
        let mut order = vec![1, 2, 3, 4, 5];
        assert_eq!(move_in_queue(&mut order, 4, QueueMove::Top), Ok(0));
        assert_eq!(order, [4, 1, 2, 3, 5]);
        assert_eq!(move_in_queue(&mut order, 4, QueueMove::Up), Ok(0));
        assert_eq!(order, [4, 1, 2, 3, 5]);
        assert_eq!(move_in_queue(&mut order, 2, QueueMove::Down), Ok(3));
        assert_eq!(order, [4, 1, 3, 2, 5]);
        assert_eq!(move_in_queue(&mut order, 5, QueueMove::Down), Ok(4));
        assert_eq!(move_in_queue(&mut order, 4, QueueMove::Bottom), Ok(4));
        assert_eq!(order, [1, 3, 2, 5, 4]);
        assert_eq!(move_in_queue(&mut order, 4, QueueMove::Position(1)), Ok(1));
        assert_eq!(order, [1, 4, 3, 2, 5]);
        assert_eq!(move_in_queue(&mut order, 1, QueueMove::Position(99)), Ok(4));
        assert_eq!(order, [4, 3, 2, 5, 1]);
        assert_eq!(
            move_in_queue(&mut order, 7, QueueMove::Top),
            Err(NotQueued { id: "7".into() })
        );
    }

    fn arb_entry() -> impl Strategy<Value = (u8, bool, bool)> {
        (0u8..3, prop::bool::weighted(0.2), prop::bool::weighted(0.1))
    }

    fn build(raw: &[(u8, bool, bool)]) -> Vec<QueueEntry<u32>> {
        raw.iter()
            .enumerate()
            .map(|(i, &(kind, stopped, force_started))| QueueEntry {
                id: i as u32,
                activity: [Activity::Check, Activity::Download, Activity::Seed][kind as usize],
                stopped,
                force_started,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn limits_never_exceeded_by_unforced_torrents(
            raw in prop::collection::vec(arb_entry(), 0..60),
            downloads in 0u32..6, seeds in 0u32..6, checks in 0u32..4,
        ) {
            let entries = build(&raw);
            let limits = ActiveLimits { downloads, seeds, checks };
            let placed = decide(&entries, limits);
            prop_assert_eq!(placed.len(), entries.len());
            for activity in [Activity::Check, Activity::Download, Activity::Seed] {
                let of = |forced: bool| entries.iter().zip(&placed)
                    .filter(|(e, p)| e.activity == activity && e.force_started == forced && p.slot == Slot::Run)
                    .count() as u32;
                let forced = of(true);
                prop_assert!(of(false) <= limits.of(activity).saturating_sub(forced));
            }
            for (e, p) in entries.iter().zip(&placed) {
                prop_assert_eq!(e.id, p.id);
                prop_assert_eq!(e.stopped, p.slot == Slot::Stopped);
                if e.force_started && !e.stopped {
                    prop_assert_eq!(p.slot, Slot::Run);
                }
            }
        }

        #[test]
        fn no_runner_has_a_waiting_torrent_of_its_kind_before_it(
            raw in prop::collection::vec(arb_entry(), 0..60),
            downloads in 0u32..6, seeds in 0u32..6, checks in 0u32..4,
        ) {
            let entries = build(&raw);
            let placed = decide(&entries, ActiveLimits { downloads, seeds, checks });
            for (i, (e, p)) in entries.iter().zip(&placed).enumerate() {
                if p.slot != Slot::Run || e.force_started {
                    continue;
                }
                let waiting_before = entries[..i].iter().zip(&placed[..i])
                    .any(|(e2, p2)| e2.activity == e.activity && p2.slot == Slot::Wait);
                prop_assert!(!waiting_before, "torrent {} runs behind a waiting one", e.id);
            }
        }

        #[test]
        fn a_move_keeps_every_id_once_and_lands_where_it_said(
            len in 1usize..30, pick in 0usize..30, to in 0u8..5, pos in 0u32..40,
        ) {
            let mut order: Vec<u32> = (0..len as u32).collect();
            let id = (pick % len) as u32;
            let mv = [QueueMove::Top, QueueMove::Up, QueueMove::Down, QueueMove::Bottom, QueueMove::Position(pos)][to as usize];
            let at = move_in_queue(&mut order, id, mv).unwrap();
            prop_assert_eq!(order[at], id);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..len as u32).collect::<Vec<_>>());
        }
    }
}
