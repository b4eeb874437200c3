//! A torrent's files as a tree: each directory once, above its files, with the
//! size and verified bytes of everything under it.

use ccbt_daemon::api_types::{FileEntry, FilePriorityName};

/// One line of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeLine {
    pub depth: usize,
    pub name: String,
    pub length: u64,
    pub verified_bytes: u64,
    /// None for a directory.
    pub priority: Option<FilePriorityName>,
}

impl TreeLine {
    pub fn progress(&self) -> f64 {
        if self.length == 0 {
            1.0
        } else {
            self.verified_bytes as f64 / self.length as f64
        }
    }
}

/// The lines in path order; padding files are left out (never on disk).
pub fn tree_lines(files: &[FileEntry]) -> Vec<TreeLine> {
    let mut sorted: Vec<&FileEntry> = files.iter().filter(|f| !f.padding).collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut lines: Vec<TreeLine> = Vec::new();
    // The directories open above the current file: (path prefix, line index).
    let mut open: Vec<(String, usize)> = Vec::new();
    for file in sorted {
        let parts: Vec<&str> = file.path.split('/').collect();
        let dirs = &parts[..parts.len().saturating_sub(1)];
        // Close the directories this file is not under.
        let mut keep = 0;
        while keep < open.len() && keep < dirs.len() && open[keep].0 == dirs[..=keep].join("/") {
            keep += 1;
        }
        open.truncate(keep);
        for depth in keep..dirs.len() {
            lines.push(TreeLine {
                depth,
                name: format!("{}/", dirs[depth]),
                length: 0,
                verified_bytes: 0,
                priority: None,
            });
            open.push((dirs[..=depth].join("/"), lines.len() - 1));
        }
        for (_, at) in &open {
            lines[*at].length += file.length;
            lines[*at].verified_bytes += file.verified_bytes;
        }
        lines.push(TreeLine {
            depth: dirs.len(),
            name: parts.last().copied().unwrap_or("").to_string(),
            length: file.length,
            verified_bytes: file.verified_bytes,
            priority: Some(file.priority),
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(index: usize, path: &str, length: u64, verified: u64) -> FileEntry {
        FileEntry {
            index,
            path: path.into(),
            length,
            verified_bytes: verified,
            progress: 0.0,
            priority: FilePriorityName::Normal,
            padding: false,
        }
    }

    #[test]
    fn directories_appear_once_with_their_totals() {
        let files = vec![
            file(0, "album/cd2/b.flac", 10, 0),
            file(1, "album/cd1/a.flac", 10, 10),
            file(2, "album/cover.jpg", 5, 5),
            file(3, "readme.txt", 1, 0),
        ];
        let lines = tree_lines(&files);
        let shown: Vec<(usize, &str, u64, u64)> = lines
            .iter()
            .map(|l| (l.depth, l.name.as_str(), l.length, l.verified_bytes))
            .collect();
        assert_eq!(
            shown,
            vec![
                (0, "album/", 25, 15),
                (1, "cd1/", 10, 10),
                (2, "a.flac", 10, 10),
                (1, "cd2/", 10, 0),
                (2, "b.flac", 10, 0),
                (1, "cover.jpg", 5, 5),
                (0, "readme.txt", 1, 0),
            ]
        );
    }
}
