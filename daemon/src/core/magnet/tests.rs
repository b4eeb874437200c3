use ccbt_engine::metainfo_builder::MetainfoBuilder;

use super::*;
use ccbt_engine::magnet::FileSelection;

const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

fn three_files() -> Metainfo {
    let mut b = MetainfoBuilder::new("dir");
    b.files = vec![(vec!["a".into()], 10), (vec!["b".into()], 20), (vec!["c".into()], 6)];
    b.piece_length = 16;
    b.piece_hashes = vec![[7; 20]; 3];
    Metainfo::from_bytes(&b.build().unwrap()).unwrap()
}

#[test]
fn a_link_gives_name_trackers_peers_and_selection() {
    let m = PendingMagnet::parse(&format!(
        "magnet:?xt=urn:btih:{HEX}&dn=Some+Name&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp%3A%2F%2Fx%3A1\
         &x.pe=127.0.0.2:6881&x.pe=seed.example:6881&so=0,2-3"
    ))
    .unwrap();
    assert_eq!(m.name, "Some Name");
    assert_eq!(
        m.tracker_tiers(),
        vec![
            vec!["http://127.0.0.1:6969/announce".to_string()],
            vec!["udp://x:1".to_string()]
        ]
    );
    // A host name would need DNS on the control thread: only IP peers are dialled.
    assert_eq!(m.peer_addrs(), vec!["127.0.0.2:6881".parse::<SocketAddr>().unwrap()]);
    assert_eq!(
        m.link.select_only.as_ref().map(|s| s.to_string()).as_deref(),
        Some("0,2-3")
    );
}

#[test]
fn a_link_without_name_shows_its_hash_and_round_trips_through_the_saved_text() {
    let m = PendingMagnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=4,1")).unwrap();
    assert_eq!(m.name, HEX);
    let again = PendingMagnet::parse(&m.to_uri()).unwrap();
    assert_eq!(again.link, m.link);
    assert_eq!(
        again.link.select_only.as_ref().map(|s| s.to_string()).as_deref(),
        Some("1,4")
    );
    assert_eq!(
        PendingMagnet::parse(&format!("magnet:?xt=urn:btih:{HEX}"))
            .unwrap()
            .link
            .select_only,
        None
    );
}

#[test]
fn a_v2_only_link_is_unsupported_and_a_broken_one_invalid() {
    let v2 = PendingMagnet::parse(
        "magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e",
    )
    .unwrap_err();
    assert_eq!((v2.status, v2.code), (400, "unsupported"));
    assert!(v2.message.contains("urn:btmh"), "{}", v2.message);
    let bad = PendingMagnet::parse("magnet:?xt=urn:btih:nothex").unwrap_err();
    assert_eq!((bad.status, bad.code), (400, "invalid_magnet"));
    assert!(bad.message.contains("xt"), "{}", bad.message);
    let not = PendingMagnet::parse("http://example.com/").unwrap_err();
    assert_eq!(not.code, "invalid_magnet");
}

#[test]
fn hostile_selections_are_refused_before_anything_is_allocated() {
    for so in ["5-1", "x", "0-99999999999", "1,-", "0-18446744073709551615"] {
        let e = PendingMagnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={so}")).unwrap_err();
        assert_eq!(e.code, "invalid_magnet", "so={so}");
        assert!(e.message.contains("so"), "so={so}: {}", e.message);
    }
}

#[test]
fn selection_and_skips_become_file_priorities_once_the_files_are_known() {
    use FilePriorityName::{Normal, Skip};
    let meta = three_files();
    assert_eq!(priorities_for(&meta, None, &[]), vec![Normal; 3]);
    assert_eq!(
        priorities_for(&meta, Some(&FileSelection::from_ranges(vec![(1, 1)])), &[]),
        vec![Skip, Normal, Skip]
    );
    // skip_files (a prefix list) on top of the selection.
    assert_eq!(
        priorities_for(
            &meta,
            Some(&FileSelection::from_ranges(vec![(0, 0), (1, 1)])),
            &[Normal, Skip]
        ),
        vec![Normal, Skip, Skip]
    );
    assert_eq!(priorities_for(&meta, None, &[Skip]), vec![Skip, Normal, Normal]);
    // Indexes past the file list are ignored; a selection of none of the files
    // would skip everything and is ignored as a whole.
    assert_eq!(
        priorities_for(
            &meta,
            Some(&FileSelection::from_ranges(vec![(2, 2), (9, 9)])),
            &[Normal, Normal, Normal, Skip]
        ),
        vec![Skip, Skip, Normal]
    );
    assert_eq!(
        priorities_for(&meta, Some(&FileSelection::from_ranges(vec![(7, 7)])), &[]),
        vec![Normal; 3]
    );
}

#[test]
fn a_watch_dir_magnet_file_gives_its_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.magnet");
    std::fs::write(&path, format!("  magnet:?xt=urn:btih:{HEX}&dn=a  \r\nsecond line\n")).unwrap();
    assert_eq!(
        read_magnet_file(&path).unwrap(),
        format!("magnet:?xt=urn:btih:{HEX}&dn=a")
    );
    let missing = read_magnet_file(&dir.path().join("gone.magnet")).unwrap_err();
    assert!(missing.contains("gone.magnet"), "{missing}");
}
