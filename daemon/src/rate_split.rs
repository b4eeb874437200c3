//! Splitting a global rate limit into per-shard shares, once a second.
//!
//! Each shard enforces its own share with its own token bucket, so the data path
//! never takes a lock or touches a shared counter. Once a second the control thread
//! reads each shard's use over the last second and whether its bucket held it back,
//! and sends every shard its next share. Shares follow demand: a shard that was held
//! back gets what the others left unused, every shard keeps a floor so an idle one
//! can ramp up, and the shares always add up to exactly the global limit.

/// Share of an even split every shard keeps as a floor: 1/4 of `global / shards`.
pub const FLOOR_DIVISOR: u64 = 4;

/// What a shard did with its share over the last second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardUsage {
    /// Payload bytes it moved.
    pub used: u64,
    /// Its bucket ran dry at least once: it wanted more than its share.
    pub held_back: bool,
}

/// The floor each of `shards` shards keeps under `global`.
pub fn share_floor(global: u64, shards: usize) -> u64 {
    match shards as u64 {
        0 => 0,
        n => global / n / FLOOR_DIVISOR,
    }
}

/// Each shard's share of `global` bytes/s for the next second, in the order of
/// `usage`. `None` (no global limit) gives every shard `None`.
///
/// A shard that was not held back is given what it used plus a quarter (room to
/// grow; if it grows past that it is held back and gets more a second later). What
/// is left goes to the held-back shards, evenly (max-min fair: none gets more than
/// another held-back one). When no shard was held back, what is left is spread
/// over all shards. Bytes that do not divide evenly go one each to some of them.
pub fn split_rate(global: Option<u64>, usage: &[ShardUsage]) -> Vec<Option<u64>> {
    let Some(global) = global else {
        return vec![None; usage.len()];
    };
    split_limit(global, usage).into_iter().map(Some).collect()
}

fn split_limit(global: u64, usage: &[ShardUsage]) -> Vec<u64> {
    let n = usage.len();
    if n == 0 {
        return Vec::new();
    }
    let floor = share_floor(global, n);
    let mut shares = vec![floor; n];
    // `floor * n <= global / FLOOR_DIVISOR`, so this cannot underflow.
    let mut left = global - floor * n as u64;

    // What each shard asks for beyond its floor; none = as much as it can get.
    let wants: Vec<Option<u64>> = usage
        .iter()
        .map(|u| (!u.held_back).then(|| u.used.saturating_add(u.used / 4).saturating_sub(floor)))
        .collect();

    // Water-filling: serve the smallest asks first; each takes at most an even
    // share of what is left among those not yet served.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (wants[i].is_none(), wants[i].unwrap_or(0), i));
    let mut unserved = n as u64;
    let mut hungry = Vec::new();
    for &i in &order {
        let even = left / unserved;
        let give = match wants[i] {
            Some(want) => want.min(even),
            None => {
                hungry.push(i);
                even
            }
        };
        shares[i] += give;
        left -= give;
        unserved -= 1;
    }

    // Rounding leftovers, and what satisfied shards did not ask for, go to the
    // hungry shards, or to all when none is hungry.
    let takers: Vec<usize> = if hungry.is_empty() { (0..n).collect() } else { hungry };
    let k = takers.len() as u64;
    let each = left / k;
    let mut odd = left % k;
    for &i in &takers {
        shares[i] += each;
        if odd > 0 {
            shares[i] += 1;
            odd -= 1;
        }
    }
    debug_assert_eq!(shares.iter().map(|&s| u128::from(s)).sum::<u128>(), u128::from(global));
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usage(used: u64, held_back: bool) -> ShardUsage {
        ShardUsage { used, held_back }
    }

    #[test]
    fn no_global_limit_means_no_share() {
        assert_eq!(split_rate(None, &[usage(5, true), usage(0, false)]), vec![None, None]);
    }

    #[test]
    fn idle_shards_split_evenly() {
        assert_eq!(split_rate(Some(1000), &[ShardUsage::default(); 4]), vec![Some(250); 4]);
    }

    #[test]
    fn a_held_back_shard_gets_what_the_others_leave() {
        // 10 MB/s over 4 shards: shard 0 is busy, the others move little.
        let global = 10_000_000;
        let shares = split_rate(
            Some(global),
            &[
                usage(2_500_000, true),
                usage(100_000, false),
                usage(0, false),
                usage(0, false),
            ],
        );
        let floor = share_floor(global, 4);
        assert_eq!(floor, 625_000);
        // Satisfied shards keep their floor (it covers 100 kB + 25 %); the busy one
        // takes the rest.
        assert_eq!(shares[1], Some(floor));
        assert_eq!(shares[2], Some(floor));
        assert_eq!(shares[3], Some(floor));
        assert_eq!(shares[0], Some(global - 3 * floor));
    }

    #[test]
    fn two_hungry_shards_share_evenly_after_a_modest_one() {
        let shares = split_rate(
            Some(1_000_000),
            &[usage(100_000, false), usage(0, true), usage(0, true)],
        );
        // The modest shard gets what it used and a quarter; the hungry two split the rest.
        assert_eq!(shares, vec![Some(125_000), Some(437_500), Some(437_500)]);
    }

    #[test]
    fn a_modest_shard_asking_more_than_an_even_share_gets_the_even_share() {
        // Max-min fair: all three want at least a third, so each gets a third.
        let shares = split_rate(
            Some(1_000_000),
            &[usage(400_000, false), usage(0, true), usage(0, true)],
        );
        assert_eq!(shares, vec![Some(333_333), Some(333_333), Some(333_334)]);
    }

    #[test]
    fn tiny_limits_still_add_up() {
        assert_eq!(split_rate(Some(3), &[usage(0, true); 2]), vec![Some(1), Some(2)]);
        assert_eq!(split_rate(Some(0), &[usage(9, true); 3]), vec![Some(0); 3]);
        assert_eq!(split_rate(Some(5), &[]), Vec::<Option<u64>>::new());
    }

    fn arb_usage() -> impl Strategy<Value = ShardUsage> {
        (
            prop_oneof![0u64..1_000, 0u64..100_000_000, Just(u64::MAX)],
            any::<bool>(),
        )
            .prop_map(|(used, held_back)| ShardUsage { used, held_back })
    }

    proptest! {
        #[test]
        fn shares_sum_to_the_limit_and_keep_the_floor(
            global in prop_oneof![0u64..10_000, 0u64..u64::MAX / 2, Just(u64::MAX)],
            usage in prop::collection::vec(arb_usage(), 1..16),
        ) {
            let shares: Vec<u64> = split_rate(Some(global), &usage).into_iter().map(|s| s.unwrap()).collect();
            prop_assert_eq!(shares.len(), usage.len());
            prop_assert_eq!(shares.iter().map(|&s| u128::from(s)).sum::<u128>(), u128::from(global));
            let floor = share_floor(global, usage.len());
            prop_assert!(shares.iter().all(|&s| s >= floor));
        }

        #[test]
        fn held_back_shards_get_no_less_than_any_other(
            global in 0u64..1_000_000_000,
            usage in prop::collection::vec(arb_usage(), 1..16),
        ) {
            let shares: Vec<u64> = split_rate(Some(global), &usage).into_iter().map(|s| s.unwrap()).collect();
            let max = shares.iter().copied().max().unwrap_or(0);
            for (u, &s) in usage.iter().zip(&shares) {
                if u.held_back {
                    prop_assert!(s + 1 >= max, "held-back share {} < max {}", s, max);
                }
            }
        }

        #[test]
        fn satisfied_shards_get_no_more_than_they_asked_when_others_starve(
            global in 0u64..1_000_000_000,
            usage in prop::collection::vec(arb_usage(), 1..16),
        ) {
            let shares: Vec<u64> = split_rate(Some(global), &usage).into_iter().map(|s| s.unwrap()).collect();
            if usage.iter().any(|u| u.held_back) {
                let floor = share_floor(global, usage.len());
                for (u, &s) in usage.iter().zip(&shares) {
                    if !u.held_back {
                        let asked = u.used.saturating_add(u.used / 4).max(floor);
                        prop_assert!(s <= asked, "satisfied share {} > asked {}", s, asked);
                    }
                }
            }
        }
    }
}
