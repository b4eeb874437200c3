//! Splitting a global rate limit into per-shard shares, moved by demand.
//!
//! Each shard owns a bucket (no lock on the data path); whoever holds the global
//! limit (the daemon) calls [`download_shares`] / [`upload_shares`] with each
//! shard's last [`ShardUsage`] about once a second and sends the result with
//! `Session::set_shard_limits`. A shard that was held back by its bucket asks for
//! more; one that used less than its share gives the rest to the others. The
//! shares always add up to the global limit.

use std::time::Duration;

use crate::messages::ShardUsage;

/// Headroom over what a shard used, so a shard can grow without first being held back.
const GROWTH_NUM: u64 = 5;
const GROWTH_DEN: u64 = 4;
/// Every shard keeps at least this fraction of an even split, so an idle shard can start.
const FLOOR_DIVISOR: u64 = 8;

/// Per-shard download shares of `global` bytes/s, from usage over the last `period`.
pub fn download_shares(global: u64, period: Duration, usage: &[ShardUsage]) -> Vec<u64> {
    let demand: Vec<Demand> = usage
        .iter()
        .map(|u| Demand {
            bytes: u.downloaded,
            held_back: u.download_held_back,
        })
        .collect();
    split(global, period, &demand)
}

/// Per-shard upload shares of `global` bytes/s, from usage over the last `period`.
pub fn upload_shares(global: u64, period: Duration, usage: &[ShardUsage]) -> Vec<u64> {
    let demand: Vec<Demand> = usage
        .iter()
        .map(|u| Demand {
            bytes: u.uploaded,
            held_back: u.upload_held_back,
        })
        .collect();
    split(global, period, &demand)
}

struct Demand {
    bytes: u64,
    held_back: bool,
}

/// Max-min fair split: shards asking for less than an even part get what they
/// ask, the rest is shared evenly by the others; what nobody asks for is shared by all.
fn split(global: u64, period: Duration, shards: &[Demand]) -> Vec<u64> {
    let n = shards.len() as u64;
    if n == 0 {
        return Vec::new();
    }
    let floor = global / (n * FLOOR_DIVISOR);
    let millis = period.as_millis().max(1) as u64;
    let wants: Vec<u64> = shards
        .iter()
        .map(|s| {
            if s.held_back {
                u64::MAX
            } else {
                let rate = s.bytes.saturating_mul(1000) / millis;
                (rate.saturating_mul(GROWTH_NUM) / GROWTH_DEN).max(floor)
            }
        })
        .collect();
    let mut shares = vec![0u64; shards.len()];
    let mut open: Vec<usize> = (0..shards.len()).collect();
    let mut left = global;
    // Each round settles at least one shard, or gives the open ones an even part.
    while !open.is_empty() {
        let even = left / open.len() as u64;
        let (settled, still): (Vec<usize>, Vec<usize>) = open.iter().partition(|&&i| wants[i] <= even);
        if settled.is_empty() {
            for &i in &open {
                shares[i] = even;
            }
            left -= even * open.len() as u64;
            break;
        }
        for &i in &settled {
            shares[i] = wants[i];
            left -= wants[i];
        }
        open = still;
    }
    // Unclaimed bytes (everyone got what it asked, or rounding): shared by all.
    let extra = left / n;
    for s in &mut shares {
        *s += extra;
    }
    shares[0] += left - extra * n;
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn usage(downloaded: u64, held_back: bool) -> ShardUsage {
        ShardUsage {
            downloaded,
            download_held_back: held_back,
            ..Default::default()
        }
    }

    #[test]
    fn shares_always_add_up_to_the_global_limit() {
        for usage in [
            vec![usage(0, false); 3],
            vec![usage(500, true), usage(10, false), usage(0, false)],
            vec![usage(1 << 30, false), usage(1 << 30, true)],
            vec![usage(7, false)],
        ] {
            let shares = download_shares(1_000_003, SEC, &usage);
            assert_eq!(shares.len(), usage.len());
            assert_eq!(shares.iter().sum::<u64>(), 1_000_003, "{usage:?}: {shares:?}");
        }
        assert!(download_shares(100, SEC, &[]).is_empty());
    }

    #[test]
    fn a_held_back_shard_takes_what_an_idle_one_leaves() {
        let global = 1_000_000;
        let shares = download_shares(global, SEC, &[usage(250_000, true), usage(0, false)]);
        // The idle shard keeps its floor (an eighth of an even split) and a share of nothing more.
        assert_eq!(shares[1], global / 16);
        assert_eq!(shares[0], global - global / 16);
    }

    #[test]
    fn two_busy_shards_split_evenly_and_a_light_one_gets_its_use_with_headroom() {
        let global = 900_000;
        let shares = download_shares(
            global,
            SEC,
            &[usage(300_000, true), usage(300_000, true), usage(80_000, false)],
        );
        assert_eq!(shares[2], 100_000, "used 80 kB/s, gets a quarter more");
        assert_eq!(shares[0], 400_000);
        assert_eq!(shares[1], 400_000);
    }

    #[test]
    fn with_no_demand_the_limit_is_shared_evenly() {
        let shares = upload_shares(300_000, SEC, &[ShardUsage::default(); 3]);
        assert_eq!(shares, vec![100_000; 3]);
    }

    #[test]
    fn usage_is_a_rate_over_the_period() {
        // 400 kB over two seconds = 200 kB/s, 250 kB/s with headroom.
        let shares = download_shares(
            1_000_000,
            Duration::from_secs(2),
            &[usage(400_000, false), usage(0, true)],
        );
        assert_eq!(shares, vec![250_000, 750_000]);
    }
}
