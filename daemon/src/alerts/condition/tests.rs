use super::*;
use crate::alerts::figures::{Figures, TorrentFigures};

fn torrent(download_rate: u64, left: u64) -> TorrentFigures<'static> {
    TorrentFigures {
        id: 1,
        name: "t",
        download_rate,
        left,
        downloading: true,
        ..TorrentFigures::default()
    }
}

#[test]
fn parses_comparisons_with_units() {
    let c = Condition::parse("torrent.download_rate < 10K").unwrap();
    assert!(c.per_torrent());
    assert_eq!(
        c.tests().copied().collect::<Vec<_>>(),
        vec![Test {
            metric: Metric::Torrent(TorrentMetric::DownloadRate),
            comparison: Comparison::Less,
            value: 10240.0,
        }]
    );
    let c = Condition::parse("disk.free<5GiB").unwrap();
    assert!(!c.per_torrent());
    assert_eq!(c.tests().next().unwrap().value, 5.0 * 1024.0 * 1024.0 * 1024.0);
    let c = Condition::parse("  session.download_rate >= 1.5M/s  ").unwrap();
    assert_eq!(c.tests().next().unwrap().value, 1.5 * 1024.0 * 1024.0);
    assert_eq!(
        Condition::parse("session.peers == 0")
            .unwrap()
            .tests()
            .next()
            .unwrap()
            .comparison,
        Comparison::Equal
    );
}

#[test]
fn and_binds_tighter_than_or() {
    // (rate == 0 and left > 0) or peers > 5
    let c = Condition::parse("torrent.download_rate == 0 and torrent.left > 0 or torrent.peers > 5").unwrap();
    let f = Figures::default();
    assert!(c.holds(&f, Some(&torrent(0, 10))));
    assert!(!c.holds(&f, Some(&torrent(0, 0))));
    assert!(!c.holds(&f, Some(&torrent(5, 10))));
    let many_peers = TorrentFigures {
        peers: 6,
        ..torrent(5, 0)
    };
    assert!(c.holds(&f, Some(&many_peers)));
}

#[test]
fn unknown_disk_space_never_fires() {
    let c = Condition::parse("disk.free < 1G").unwrap();
    assert!(!c.holds(&Figures::default(), None));
    let f = Figures {
        disk_free: Some(1 << 20),
        ..Figures::default()
    };
    assert!(c.holds(&f, None));
}

#[test]
fn errors_name_the_column_and_the_problem() {
    let e = Condition::parse("torrent.speed < 10").unwrap_err();
    assert_eq!(e.column, 1);
    assert!(e.message.contains("unknown figure `torrent.speed`"), "{e}");
    assert!(e.message.contains("torrent.download_rate"), "{e}");

    let e = Condition::parse("torrent.peers = 0").unwrap_err();
    assert_eq!(e.column, 15);
    assert!(e.message.starts_with("expected a comparison"), "{e}");

    let e = Condition::parse("torrent.peers == ten").unwrap_err();
    assert_eq!(e.column, 18);
    assert!(e.message.starts_with("expected a number"), "{e}");

    let e = Condition::parse("torrent.peers == 10X").unwrap_err();
    assert_eq!(e.column, 20);

    let e = Condition::parse("torrent.peers == 1 but session.peers == 0").unwrap_err();
    assert_eq!(e.column, 20);
    assert!(e.message.contains("expected `and`, `or`"), "{e}");

    let e = Condition::parse("torrent.peers == 1 and").unwrap_err();
    assert!(e.message.contains("expected `and`, `or` or the end"), "{e}");
    assert!(Condition::parse("").is_err());
    assert!(Condition::parse(&"x".repeat(MAX_CONDITION_LEN + 1)).is_err());
    let too_many = vec!["session.peers > 0"; MAX_COMPARISONS + 1].join(" and ");
    assert!(Condition::parse(&too_many).unwrap_err().message.contains("comparisons"));
}

proptest::proptest! {
    /// Any text: an answer, never a panic (the API takes conditions from users).
    #[test]
    fn never_panics(text in ".{0,80}") {
        let _ = Condition::parse(&text);
    }

    /// A written threshold reads back as the number it says.
    #[test]
    fn thresholds_read_back(n in 0u32..1_000_000, unit in 0usize..4) {
        let suffix = ["", "K", "M", "G"][unit];
        let c = Condition::parse(&format!("session.upload_rate > {n}{suffix}")).unwrap();
        let expected = f64::from(n) * 1024f64.powi(unit as i32);
        proptest::prop_assert_eq!(c.tests().next().unwrap().value, expected);
    }
}
