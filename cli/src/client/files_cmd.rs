//! `btbt files list|select|deselect|priority`: which files of a torrent are
//! downloaded, and first.

use ccbt_daemon::api_types::{FileEntry, FilePriorityName, FilesPatch};

use super::api_client::{ApiClient, Method};
use super::table::{self, Align, Table};
use super::torrent_id::TorrentId;
use crate::error::CliError;
use crate::size::human_bytes;

/// The files as a table; BEP 47 padding files are left out (never on disk), the
/// others keep their index `N`, which is what `select`/`deselect`/`priority` take.
pub fn render_files(files: &[FileEntry]) -> String {
    let mut t = Table::new(&[
        ("N", Align::Right),
        ("PRIORITY", Align::Left),
        ("PROGRESS", Align::Right),
        ("SIZE", Align::Right),
        ("PATH", Align::Left),
    ]);
    for f in files.iter().filter(|f| !f.padding) {
        t.row(vec![
            f.index.to_string(),
            priority_name(f.priority).to_string(),
            table::percent(f.progress),
            human_bytes(f.length),
            f.path.clone(),
        ]);
    }
    t.render()
}

pub fn priority_name(p: FilePriorityName) -> &'static str {
    match p {
        FilePriorityName::Skip => "skip",
        FilePriorityName::Low => "low",
        FilePriorityName::Normal => "normal",
        FilePriorityName::High => "high",
    }
}

/// For clap: `skip`, `low`, `normal`, `high`.
pub fn parse_priority(arg: &str) -> Result<FilePriorityName, String> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "skip" => Ok(FilePriorityName::Skip),
        "low" => Ok(FilePriorityName::Low),
        "normal" => Ok(FilePriorityName::Normal),
        "high" => Ok(FilePriorityName::High),
        _ => Err(format!("'{arg}' is not a priority (skip, low, normal, high)")),
    }
}

/// `btbt files list ID [--json]`.
pub fn list(client: &ApiClient, id: &TorrentId, json: bool) -> Result<(), CliError> {
    let route = id.route("/files");
    if json {
        println!("{}", client.get_json(&route)?);
        return Ok(());
    }
    let files: Vec<FileEntry> = client.get(&route)?;
    print!("{}", render_files(&files));
    Ok(())
}

/// `select` (normal), `deselect` (skip) and `priority`: one PATCH, then the new list.
pub fn set_priority(
    client: &ApiClient,
    id: &TorrentId,
    files: Vec<usize>,
    priority: FilePriorityName,
) -> Result<(), CliError> {
    let patch = FilesPatch { files, priority };
    let updated: Vec<FileEntry> = client.send(Method::Patch, &id.route("/files"), Some(&patch))?;
    print!("{}", render_files(&updated));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(index: usize, path: &str, padding: bool) -> FileEntry {
        FileEntry {
            index,
            path: path.into(),
            length: 2_000_000,
            verified_bytes: 0,
            progress: 0.0,
            priority: if index == 0 {
                FilePriorityName::Skip
            } else {
                FilePriorityName::High
            },
            padding,
        }
    }

    #[test]
    fn files_table_hides_padding_and_keeps_indexes() {
        let files = vec![
            file(0, "a/one.bin", false),
            file(1, ".pad/1", true),
            file(2, "a/two.bin", false),
        ];
        assert_eq!(
            render_files(&files),
            concat!(
                "N  PRIORITY  PROGRESS    SIZE  PATH\n",
                "0  skip          0.0%  2.0 MB  a/one.bin\n",
                "2  high          0.0%  2.0 MB  a/two.bin\n",
            )
        );
    }

    #[test]
    fn priorities_parse() {
        assert_eq!(parse_priority("HIGH"), Ok(FilePriorityName::High));
        assert!(parse_priority("urgent").unwrap_err().contains("urgent"));
    }
}
