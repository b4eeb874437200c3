//! Transfers over a faulty simulated network: seeded loss, reordering and bit
//! flips. Whatever the seed, the download completes byte for byte, only the peer
//! that sent bad data is ever banned, and every invariant holds after every step.

use proptest::prelude::*;

use super::sim::{payload, Faults, Net, PIECE_LEN};
use super::*;

const PIECES: usize = 12;

/// An honest seed (node 0), a flaky seed (node 1), a downloader (node 2).
fn run(faults: Faults) -> Net {
    let data = payload(PIECE_LEN as usize * PIECES + 777, faults.seed);
    let mut net = Net::new(&data, &[(true, false), (true, false), (false, false)]).with_faults(faults);
    net.nodes[1].flaky = true;
    net.connect(2, 0);
    net.connect(2, 1);
    net.run_until_complete(2);
    assert!(net.nodes[2].disk == data, "the copy differs");
    assert!(
        net.nodes[2].banned.iter().all(|k| *k == PeerKey(1)),
        "only the flaky seed may be banned: {:?}",
        net.nodes[2].banned
    );
    net
}

#[test]
fn lost_messages_time_out_and_the_transfer_completes() {
    let net = run(Faults {
        seed: 3,
        loss: 0.1,
        ..Faults::default()
    });
    assert!(net.lost > 0);
    assert_eq!(net.nodes[2].torrent.stats(net.now).hash_failures, 0);
}

#[test]
fn reordered_deliveries_complete_without_violations() {
    let net = run(Faults {
        seed: 4,
        reorder: true,
        ..Faults::default()
    });
    let stats = net.nodes[2].torrent.stats(net.now);
    assert_eq!(stats.violations.total(), 0, "{stats:?}");
}

#[test]
fn bit_flips_fail_hashes_and_the_honest_seed_finishes_the_job() {
    let net = run(Faults {
        seed: 5,
        bit_flip: 0.3,
        ..Faults::default()
    });
    assert!(net.flipped > 0);
    let stats = net.nodes[2].torrent.stats(net.now);
    assert!(stats.hash_failures > 0, "{stats:?}");
}

/// Seeds per run of the property below: 32, or `CCBT_SIM_CASES` for a long run.
fn sim_cases() -> u32 {
    std::env::var("CCBT_SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(sim_cases()))]

    #[test]
    fn any_seed_of_loss_reordering_and_flips_completes(
        seed in any::<u64>(),
        loss in 0.0f64..0.15,
        bit_flip in 0.0f64..0.3,
        reorder in any::<bool>(),
    ) {
        run(Faults { seed, loss, reorder, bit_flip });
    }
}
