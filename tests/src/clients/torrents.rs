//! Reading and making `.torrent` files for the clients under test.

use std::path::Path;
use std::process::Command;

use ccbt_engine::metainfo::Metainfo;

/// Info-hash (lowercase hex) and name of a `.torrent` file.
pub fn torrent_info(torrent: &Path) -> (String, String) {
    let bytes = std::fs::read(torrent).unwrap_or_else(|e| panic!("read {}: {e}", torrent.display()));
    let m = Metainfo::from_bytes(&bytes).unwrap_or_else(|e| panic!("parse {}: {e:?}", torrent.display()));
    (m.info_hash.to_hex(), m.info.name)
}

/// Runs `mktorrent` on `content` with `piece_exp` (log2 of the piece size) and one
/// announce URL; returns the info-hash. Panics with mktorrent's stderr on failure.
pub fn mktorrent(content: &Path, out: &Path, piece_exp: u32, announce: &str) -> String {
    let _ = std::fs::remove_file(out);
    let output = Command::new("mktorrent")
        .args(["-l", &piece_exp.to_string(), "-a", announce, "-o"])
        .arg(out)
        .arg(content)
        .output()
        .expect("mktorrent is installed by scripts/install-interop-deps.sh");
    assert!(
        output.status.success(),
        "mktorrent failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    torrent_info(out).0
}
