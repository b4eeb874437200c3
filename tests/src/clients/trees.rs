//! Comparing a client's copy of the payload with the original, byte for byte.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::waiting::poll;

/// Compares two trees (or two files): every file under `expected` must exist under
/// `actual` with the same bytes. Returns the number of files, or the first difference.
pub fn compare_trees(expected: &Path, actual: &Path) -> Result<usize, String> {
    if expected.is_file() {
        let want = std::fs::read(expected).map_err(|e| format!("{}: {e}", expected.display()))?;
        let got = std::fs::read(actual).map_err(|e| format!("{}: {e}", actual.display()))?;
        if want != got {
            return Err(format!(
                "{} differs ({} bytes expected, {} found)",
                actual.display(),
                want.len(),
                got.len()
            ));
        }
        return Ok(1);
    }
    let mut stack = vec![PathBuf::new()];
    let mut files = 0;
    while let Some(rel) = stack.pop() {
        let dir = expected.join(&rel);
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let rel_child = rel.join(entry.file_name());
            if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
                stack.push(rel_child);
                continue;
            }
            let want = std::fs::read(expected.join(&rel_child)).map_err(|e| e.to_string())?;
            let got = std::fs::read(actual.join(&rel_child))
                .map_err(|e| format!("{}: {e}", actual.join(&rel_child).display()))?;
            if want != got {
                return Err(format!(
                    "{} differs ({} bytes expected, {} found)",
                    rel_child.display(),
                    want.len(),
                    got.len()
                ));
            }
            files += 1;
        }
    }
    if files == 0 {
        return Err(format!("no files under {}", expected.display()));
    }
    Ok(files)
}

/// Polls until the two trees hold the same bytes (a client may still be flushing its
/// cache just after it says complete); panics with the first difference after
/// `timeout`. Returns the number of files compared.
pub fn wait_same_tree(expected: &Path, actual: &Path, timeout: Duration) -> usize {
    let mut last = String::new();
    poll(timeout, Duration::from_millis(250), || {
        compare_trees(expected, actual).map_err(|e| last = e).ok()
    })
    .unwrap_or_else(|| {
        panic!(
            "{} is not a copy of {} after {timeout:?}: {last}",
            actual.display(),
            expected.display()
        )
    })
}
