use std::cell::RefCell;

use super::*;

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A callback that accepts files whose content starts with "d8:" and records
/// every file it was given.
struct FakeSession {
    given: RefCell<Vec<String>>,
}

impl FakeSession {
    fn new() -> FakeSession {
        FakeSession {
            given: RefCell::new(Vec::new()),
        }
    }

    fn add(&self, path: &Path) -> Result<(), String> {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        self.given.borrow_mut().push(name.clone());
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        if bytes.starts_with(b"d8:") {
            Ok(())
        } else {
            Err(format!("{name}: not a bencoded dictionary"))
        }
    }

    fn given(&self) -> Vec<String> {
        self.given.borrow().clone()
    }
}

#[test]
fn a_complete_file_is_added_on_the_second_scan_and_renamed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ubuntu.torrent"), b"d8:announce...e").unwrap();
    let mut watch = WatchDir::new(dir.path());
    let session = FakeSession::new();
    let first = watch.scan(|p| session.add(p)).unwrap();
    assert_eq!(first, ScanReport::default());
    assert!(session.given().is_empty());
    let second = watch.scan(|p| session.add(p)).unwrap();
    assert_eq!(session.given(), vec!["ubuntu.torrent"]);
    assert_eq!(second.added, vec![dir.path().join("ubuntu.torrent.added")]);
    assert_eq!(names(dir.path()), vec!["ubuntu.torrent.added"]);
    // Nothing is handed over again.
    watch.scan(|p| session.add(p)).unwrap();
    watch.scan(|p| session.add(p)).unwrap();
    assert_eq!(session.given().len(), 1);
}

#[test]
fn a_broken_file_is_renamed_invalid_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.torrent"), b"<html>404</html>").unwrap();
    let mut watch = WatchDir::new(dir.path());
    let session = FakeSession::new();
    watch.scan(|p| session.add(p)).unwrap();
    let report = watch.scan(|p| session.add(p)).unwrap();
    assert_eq!(
        report.invalid,
        vec![(
            dir.path().join("broken.torrent.invalid"),
            "broken.torrent: not a bencoded dictionary".to_string()
        )]
    );
    assert!(report.added.is_empty());
    assert_eq!(names(dir.path()), vec!["broken.torrent.invalid"]);
}

#[test]
fn a_file_still_growing_waits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.torrent");
    std::fs::write(&path, b"d8:ann").unwrap();
    let mut watch = WatchDir::new(dir.path());
    let session = FakeSession::new();
    watch.scan(|p| session.add(p)).unwrap();
    std::fs::write(&path, b"d8:announce").unwrap();
    watch.scan(|p| session.add(p)).unwrap();
    assert!(session.given().is_empty(), "handed over while it grew");
    let report = watch.scan(|p| session.add(p)).unwrap();
    assert_eq!(report.added.len(), 1);
    assert_eq!(session.given(), vec!["big.torrent"]);
}

#[test]
fn only_visible_torrent_files_are_taken() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "notes.txt",
        ".partial.torrent",
        "old.torrent.added",
        "x.torrent.invalid",
        ".torrent",
    ] {
        std::fs::write(dir.path().join(name), b"d8:e").unwrap();
    }
    std::fs::create_dir(dir.path().join("folder.torrent")).unwrap();
    std::fs::write(dir.path().join("LOUD.TORRENT"), b"d8:e").unwrap();
    let mut watch = WatchDir::new(dir.path());
    let session = FakeSession::new();
    watch.scan(|p| session.add(p)).unwrap();
    watch.scan(|p| session.add(p)).unwrap();
    assert_eq!(session.given(), vec!["LOUD.TORRENT"]);
    assert!(dir.path().join("LOUD.TORRENT.added").exists());
}

#[test]
fn a_missing_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let mut watch = WatchDir::new(&missing);
    let e = watch.scan(|_| Ok::<(), String>(())).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("watch dir {}: cannot list it", missing.display())),
        "{e}"
    );
}

#[test]
fn a_file_that_cannot_be_renamed_is_not_added_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stuck.torrent");
    std::fs::write(&path, b"d8:e").unwrap();
    // A non-empty directory where the renamed file would go makes the rename fail.
    let blocker = dir.path().join("stuck.torrent.added");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), b"").unwrap();
    let mut watch = WatchDir::new(dir.path());
    let session = FakeSession::new();
    for _ in 0..4 {
        let report = watch.scan(|p| session.add(p)).unwrap();
        assert!(report.added.is_empty());
    }
    assert_eq!(session.given(), vec!["stuck.torrent"]);
    assert!(path.exists());
    // Changed, it is a new file and is handed over again.
    std::fs::write(&path, b"d8:xe").unwrap();
    watch.scan(|p| session.add(p)).unwrap();
    watch.scan(|p| session.add(p)).unwrap();
    assert_eq!(session.given().len(), 2);
}

#[test]
fn a_file_in_flight_is_not_handed_over_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.torrent");
    std::fs::write(&path, b"d8:e").unwrap();
    let mut watch = WatchDir::new(dir.path());
    assert!(watch.ready_files().unwrap().is_empty());
    assert_eq!(watch.ready_files().unwrap(), vec![path.clone()]);
    // The add is still under way (asynchronously) during the next scans.
    assert!(watch.ready_files().unwrap().is_empty());
    assert!(watch.ready_files().unwrap().is_empty());
    assert_eq!(
        watch.settle(&path, Ok(())),
        Settled::Added(dir.path().join("slow.torrent.added"))
    );
    assert!(watch.ready_files().unwrap().is_empty());
    assert_eq!(names(dir.path()), vec!["slow.torrent.added"]);
}

#[test]
fn magnet_files_are_handed_over_too_and_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("show.MAGNET"), b"magnet:?xt=urn:btih:0123\n").unwrap();
    std::fs::write(dir.path().join(".hidden.magnet"), b"magnet:?").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"magnet:?").unwrap();
    let mut watch = WatchDir::new(dir.path());
    let mut given = Vec::new();
    for _ in 0..2 {
        watch
            .scan(|p| {
                given.push((p.file_name().unwrap().to_string_lossy().into_owned(), is_magnet_file(p)));
                Ok::<(), String>(())
            })
            .unwrap();
    }
    assert_eq!(given, vec![("show.MAGNET".to_string(), true)]);
    assert!(!is_magnet_file(Path::new("a.torrent")));
    assert!(names(dir.path()).contains(&"show.MAGNET.added".to_string()));
}
