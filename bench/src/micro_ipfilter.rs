//! `ccbt-bench micro ipfilter`: the IP filter at blocklist scale. A generated
//! eMule `ipfilter.dat` of [`LIST_LINES`] lines (leading-zero octets, as the real
//! lists write them) is parsed and built into a filter, timed whole per run; then
//! lookups of random IPv4 addresses against it, timed per lookup.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use ccbt_engine::ip_filter::{IpFilter, IpFilterBuilder};
use rand::{Rng, SeedableRng};

use crate::micro::{bench_iters, repeat_timed, result, MicroResult};

/// Lines of the generated list: the size of the largest public lists.
pub const LIST_LINES: usize = 1_000_000;

/// An eMule list of `lines` random ranges of up to 256 addresses (mostly disjoint, as in real lists).
pub fn emule_list(lines: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut text = Vec::with_capacity(lines * 64);
    let quad = |a: u32| {
        let [w, x, y, z] = a.to_be_bytes();
        format!("{w:03}.{x:03}.{y:03}.{z:03}")
    };
    for i in 0..lines {
        let start: u32 = rng.gen();
        let end = start.saturating_add(rng.gen_range(0..256));
        let line = format!("{} - {} , 000 , Generated range {i}\r\n", quad(start), quad(end));
        text.extend_from_slice(line.as_bytes());
    }
    text
}

/// Parses and builds a filter from a list's bytes, as the daemon's loader does.
pub fn load(text: &[u8]) -> IpFilter {
    let mut builder = IpFilterBuilder::new();
    let mut list = builder.list();
    for line in text.split(|&b| b == b'\n') {
        list.push_line(line);
    }
    black_box(list.finish());
    builder.build()
}

/// The load and the lookup benchmarks, when `want` picks them.
pub fn run(runs: usize, want: &dyn Fn(&str) -> bool, push: &mut dyn FnMut(MicroResult)) {
    if !want("ipfilter") {
        return;
    }
    let text = emule_list(LIST_LINES, 7);
    let mut filter = IpFilter::empty();
    let samples: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            filter = load(black_box(&text));
            t.elapsed().as_nanos() as f64
        })
        .collect();
    push(result(
        "ipfilter/load eMule list (1,000,000 lines)",
        "parse + build",
        Some(text.len() as u64),
        runs,
        1,
        &samples,
    ));
    let mut rng = rand::rngs::SmallRng::seed_from_u64(8);
    let probes: Vec<IpAddr> = (0..4096)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.gen::<u32>())))
        .collect();
    let mut i = 0usize;
    push(bench_iters(
        &format!("ipfilter/lookup IPv4 ({} ranges)", filter.ranges_v4()),
        "is_blocked",
        None,
        runs,
        |n| {
            repeat_timed(n, || {
                i = (i + 1) & 4095;
                filter.is_blocked(black_box(probes[i]))
            })
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_list_loads_whole() {
        let text = emule_list(1000, 1);
        let f = load(&text);
        assert!(f.ranges_v4() > 900 && f.ranges_v4() <= 1000, "{}", f.ranges_v4());
        let first = std::str::from_utf8(&text[..15]).unwrap();
        let start: Ipv4Addr = first
            .split('.')
            .map(|o| o.parse::<u8>().unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .map(|b: [u8; 4]| Ipv4Addr::from(b))
            .unwrap();
        assert!(f.is_blocked(IpAddr::V4(start)));
    }
}
