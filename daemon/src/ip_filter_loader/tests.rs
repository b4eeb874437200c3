use std::io::Write;

use super::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn plain_and_gzip_lists_of_every_format_load_with_their_bad_lines_numbered() {
    let dir = tempfile::tempdir().unwrap();
    let emule = write(
        dir.path(),
        "ipfilter.dat",
        b"# eMule\r\n001.002.003.000 - 001.002.003.255 , 000 , Bad Org\r\n002.000.000.000 - 002.000.000.009 , 100 , x\r\nnot a line\r\n",
    );
    let p2p = write(
        dir.path(),
        "level1.p2p.gz",
        &gzip("Some Org, Inc:5.6.7.0-5.6.7.9\nOther:8.8.8.0-8.8.8.3\nBroken:9.9.9.9-\n"),
    );
    // Named like a plain file; the magic bytes decide.
    let cidr = write(dir.path(), "cidr.txt", &gzip("10.0.0.0/8\n2001:db8::/32\n127.0.0.2\n"));
    let loaded = load_lists(&[emule.clone(), p2p, cidr]);
    assert!(loaded.error.is_none(), "{:?}", loaded.error);
    let [e, p, c] = &loaded.lists[..] else {
        panic!("three lists")
    };
    assert_eq!(
        (e.compression.as_str(), e.lines, e.blocked_ranges, e.malformed_lines),
        ("plain", 4, 2, 1)
    );
    assert_eq!(e.malformed_examples[0].line, 4);
    assert_eq!(e.malformed_examples[0].text, "not a line");
    assert_eq!(
        (p.compression.as_str(), p.blocked_ranges, p.malformed_lines),
        ("gzip", 2, 1)
    );
    assert_eq!(p.malformed_examples[0].line, 3);
    assert_eq!(p.formats.get("p2p"), Some(&2));
    assert_eq!((c.compression.as_str(), c.blocked_ranges), ("gzip", 3));
    for blocked in [
        "1.2.3.4",
        "2.0.0.9",
        "5.6.7.0",
        "8.8.8.3",
        "10.9.9.9",
        "2001:db8::1",
        "127.0.0.2",
    ] {
        assert!(loaded.filter.is_blocked(ip(blocked)), "{blocked}");
    }
    for open in ["1.2.4.0", "8.8.8.4", "127.0.0.1", "11.0.0.0"] {
        assert!(!loaded.filter.is_blocked(ip(open)), "{open}");
    }
}

#[test]
fn an_unreadable_list_is_named_and_the_others_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.txt", b"127.0.0.2\n");
    let missing = dir.path().join("missing.txt");
    let loaded = load_lists(&[missing.clone(), good]);
    let error = loaded.error.expect("an error");
    assert!(error.contains("missing.txt"), "{error}");
    assert!(loaded.lists[0].error.is_some());
    assert!(loaded.lists[1].error.is_none());
    assert!(loaded.filter.is_blocked(ip("127.0.0.2")));
}

#[test]
fn an_overlong_line_is_skipped_and_the_next_one_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("1.1.1.1\n{}\n3.3.3.3", "x".repeat(MAX_LINE_BYTES * 3 + 7));
    text.insert_str(0, "# long line next\n");
    let path = write(dir.path(), "long.txt", text.as_bytes());
    let loaded = load_lists(&[path]);
    let list = &loaded.lists[0];
    assert_eq!((list.lines, list.blocked_ranges, list.malformed_lines), (4, 2, 1));
    assert_eq!(list.malformed_examples[0].line, 3);
    assert!(loaded.filter.is_blocked(ip("3.3.3.3")), "the line after is read");
}

#[test]
fn a_corrupt_gzip_list_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = gzip(&"1.2.3.4\n".repeat(1000));
    let n = bytes.len();
    bytes.truncate(n / 2);
    let path = write(dir.path(), "cut.gz", &bytes);
    let loaded = load_lists(&[path]);
    assert!(loaded.error.is_some());
}

#[test]
fn blocked_counts_are_shown_by_source_name() {
    let counts = BlockedCounts {
        incoming: 2,
        outgoing: 1,
        disconnected: 0,
        learned: [3, 0, 1, 0, 0, 4],
    };
    let view = blocked_view(&counts);
    assert_eq!(view.total, 11);
    assert_eq!(view.by_source.get("tracker"), Some(&3));
    assert_eq!(view.by_source.get("manual"), Some(&4));
    assert_eq!(view.by_source.len(), PeerSource::ALL.len());
}
