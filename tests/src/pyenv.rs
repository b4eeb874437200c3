//! The virtualenv with the PyPI API clients (transmission-rpc, qbittorrent-api) that
//! `scripts/install-python-test-deps.sh` makes.

use std::path::{Path, PathBuf};

/// The venv's python: `$CCBT_TEST_PYENV/bin/python`, else `<target>/pyenv/bin/python`.
/// Panics with the command that makes it when it is missing, so a test never passes
/// for want of its client.
pub fn python() -> PathBuf {
    let venv = match std::env::var_os("CCBT_TEST_PYENV") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("test executable path");
            // target/<profile>/deps/<test> -> target/pyenv
            let target = exe
                .parent()
                .and_then(Path::parent)
                .and_then(Path::parent)
                .expect("target dir");
            target.join("pyenv")
        }
    };
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-python-test-deps.sh",
        python.display()
    );
    python
}
