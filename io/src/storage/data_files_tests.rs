use std::path::Path;

use super::*;

fn file(path: &str, length: u64) -> StorageFile {
    StorageFile {
        path: path.into(),
        length,
        padding: false,
    }
}

fn pad(path: &str, length: u64) -> StorageFile {
    StorageFile {
        path: path.into(),
        length,
        padding: true,
    }
}

/// A torrent "top" with two files in a subdirectory and a pad, written below `dir`
/// with distinct contents.
fn torrent_in(dir: &Path) -> Vec<StorageFile> {
    let files = vec![
        file("top/a.bin", 3000),
        pad("top/.pad/1000", 1000),
        file("top/sub/b.bin", 70_000),
    ];
    for (i, f) in files.iter().filter(|f| !f.padding).enumerate() {
        let full = dir.join(&f.path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..f.length).map(|k| (k as usize * 7 + i) as u8).collect();
        std::fs::write(full, bytes).unwrap();
    }
    files
}

fn contents(dir: &Path, files: &[StorageFile]) -> Vec<Vec<u8>> {
    files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| std::fs::read(dir.join(&f.path)).unwrap())
        .collect()
}

#[test]
fn delete_removes_the_files_and_the_dirs_they_leave_empty_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let files = torrent_in(dir.path());
    // Someone else's file beside the torrent, and a pad-named file that must stay.
    std::fs::write(dir.path().join("other.txt"), b"keep").unwrap();
    std::fs::create_dir_all(dir.path().join("top/.pad")).unwrap();
    std::fs::write(dir.path().join("top/.pad/1000"), b"not ours to delete").unwrap();

    let report = delete_data(dir.path(), &files).unwrap();
    assert_eq!(report.files_removed, 2);
    assert_eq!(report.bytes_removed, 73_000);
    assert_eq!(report.files_absent, 0);
    assert!(!dir.path().join("top/a.bin").exists());
    assert!(!dir.path().join("top/sub").exists(), "emptied subdirectory removed");
    assert!(
        dir.path().join("top/.pad/1000").exists(),
        "a padding path is never deleted"
    );
    assert!(dir.path().join("top").is_dir(), "not empty: kept");
    assert!(dir.path().join("other.txt").exists());
    assert!(dir.path().is_dir(), "the download directory itself stays");

    // Run again: everything is absent, nothing fails.
    let again = delete_data(dir.path(), &files).unwrap();
    assert_eq!((again.files_removed, again.files_absent), (0, 2));
}

#[test]
fn delete_follows_no_symlink_out_of_the_download_dir() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("sub")).unwrap();
    std::fs::write(outside.path().join("sub/b.bin"), b"precious").unwrap();
    std::fs::create_dir_all(dir.path().join("top")).unwrap();
    std::fs::write(dir.path().join("top/a.bin"), b"abc").unwrap();
    std::os::unix::fs::symlink(outside.path().join("sub"), dir.path().join("top/sub")).unwrap();
    let files = vec![file("top/a.bin", 3), file("top/sub/b.bin", 8)];

    let err = delete_data(dir.path(), &files).unwrap_err();
    assert!(matches!(err, StorageError::SymlinkRefused { .. }), "{err}");
    assert!(err.to_string().contains("top/sub"), "{err}");
    assert_eq!(std::fs::read(outside.path().join("sub/b.bin")).unwrap(), b"precious");
    assert!(dir.path().join("top/a.bin").exists(), "a refused set changes nothing");

    let unsafe_path = vec![file("../escape", 1)];
    assert!(matches!(
        delete_data(dir.path(), &unsafe_path),
        Err(StorageError::UnsafePath { .. })
    ));
}

#[test]
fn move_on_one_file_system_renames() {
    let root = tempfile::tempdir().unwrap();
    let (from, to) = (root.path().join("from"), root.path().join("to/deeper"));
    let files = torrent_in(&from);
    let before = contents(&from, &files);
    let report = move_data(&from, &to, &files).unwrap();
    assert!(report.renamed);
    assert_eq!((report.files_moved, report.bytes_moved), (2, 73_000));
    assert_eq!(contents(&to, &files), before);
    assert!(!from.join("top").exists(), "the emptied source tree is gone");
    assert!(from.is_dir());
}

#[test]
fn move_across_file_systems_copies_verifies_and_deletes_the_source() {
    let from = tempfile::tempdir().unwrap();
    let to = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    let files = torrent_in(from.path());
    let before = contents(from.path(), &files);
    let report = move_data(from.path(), to.path(), &files).unwrap();
    assert!(!report.renamed, "/dev/shm is another file system");
    assert_eq!(report.files_moved, 2);
    assert_eq!(contents(to.path(), &files), before);
    assert!(!from.path().join("top/a.bin").exists());
    assert!(!from.path().join("top").exists());
}

#[test]
fn a_failed_move_keeps_the_source_and_removes_partial_copies() {
    let from = tempfile::tempdir().unwrap();
    let to = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    let files = torrent_in(from.path());
    let before = contents(from.path(), &files);
    // The second file's directory at the destination is a file: its copy fails
    // after the first copy was made.
    std::fs::create_dir_all(to.path().join("top")).unwrap();
    std::fs::write(to.path().join("top/sub"), b"in the way").unwrap();
    let err = move_data(from.path(), to.path(), &files).unwrap_err();
    assert!(matches!(err, StorageError::NotADirectory { .. }), "{err}");
    assert_eq!(contents(from.path(), &files), before, "the source is intact");
    assert!(!to.path().join("top/a.bin").exists(), "the partial copy is removed");
    assert!(to.path().join("top/sub").is_file(), "what was there stays");

    // Same on one file system: the first rename is undone.
    let same = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(same.path().join("top")).unwrap();
    std::fs::write(same.path().join("top/sub"), b"in the way").unwrap();
    assert!(move_data(from.path(), same.path(), &files).is_err());
    assert_eq!(contents(from.path(), &files), before);
    assert!(!same.path().join("top/a.bin").exists());
}

#[test]
fn a_move_never_overwrites_a_file_at_the_destination() {
    let root = tempfile::tempdir().unwrap();
    let (from, to) = (root.path().join("from"), root.path().join("to"));
    let files = torrent_in(&from);
    std::fs::create_dir_all(to.join("top/sub")).unwrap();
    std::fs::write(to.join("top/sub/b.bin"), b"theirs").unwrap();
    let err = move_data(&from, &to, &files).unwrap_err();
    assert!(matches!(err, StorageError::DestinationExists { .. }), "{err}");
    assert_eq!(std::fs::read(to.join("top/sub/b.bin")).unwrap(), b"theirs");
    assert!(from.join("top/a.bin").exists());
}
