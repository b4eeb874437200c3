//! `btbt download` and `btbt magnet`: add torrents to the daemon. A `.torrent` goes
//! up as its bytes (the daemon needs no access to the client's files), with the
//! options in the query string.

use std::path::{Path, PathBuf};

use ccbt_daemon::api_types::{AddRequest, AddResponse};

use super::api_client::{ApiClient, Method};
use super::torrent_cmd::for_each;
use crate::error::CliError;
use crate::{flags, source};

/// The options `download` and `magnet` share.
#[derive(Clone, Debug, Default)]
pub struct AddOptions {
    /// `-o DIR`; default: the daemon's download dir.
    pub download_dir: Option<PathBuf>,
    pub paused: bool,
    pub sequential: bool,
    pub labels: Vec<String>,
    /// `--peer ADDR:PORT`, checked and resolved here before anything is sent.
    pub peers: Vec<String>,
    pub json: bool,
}

impl AddOptions {
    /// The query string of a raw `.torrent` upload; a relative `-o` is taken from
    /// where `btbt` runs.
    pub fn query(&self, cwd: &Path) -> Result<Vec<(&'static str, String)>, CliError> {
        let mut q = Vec::new();
        if let Some(dir) = &self.download_dir {
            q.push(("download_dir", cwd.join(dir).to_string_lossy().into_owned()));
        }
        if self.paused {
            q.push(("paused", "true".to_string()));
        }
        if self.sequential {
            q.push(("sequential", "true".to_string()));
        }
        for label in &self.labels {
            q.push(("label", label.clone()));
        }
        for peer in flags::resolve_peers(&self.peers)? {
            q.push(("peer", peer.to_string()));
        }
        Ok(q)
    }

    /// The JSON body of a magnet add.
    pub fn request(&self, cwd: &Path, magnet: &str) -> Result<AddRequest, CliError> {
        Ok(AddRequest {
            magnet: Some(magnet.to_string()),
            download_dir: self
                .download_dir
                .as_ref()
                .map(|d| cwd.join(d).to_string_lossy().into_owned()),
            paused: self.paused,
            sequential: self.sequential,
            labels: self.labels.clone(),
            peers: flags::resolve_peers(&self.peers)?
                .iter()
                .map(|p| p.to_string())
                .collect(),
            ..AddRequest::default()
        })
    }
}

/// Each argument as `.torrent` files: a file as it is, a directory as every
/// `*.torrent` in it (sorted).
pub fn expand_torrent_args(args: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for arg in args {
        if arg.is_dir() {
            out.extend(source::torrent_files_in(arg)?);
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

/// `btbt download TORRENT... [options]` against the daemon.
pub fn download(client: &ApiClient, args: &[PathBuf], options: &AddOptions) -> Result<(), CliError> {
    let cwd = current_dir()?;
    let query = options.query(&cwd)?;
    let files = expand_torrent_args(args)?;
    let mut added = Vec::new();
    // Each error already names its file.
    let result = for_each(
        &files,
        |_| String::new(),
        |path| {
            let bytes = source::read_torrent_bytes(path)?;
            let response: AddResponse = client
                .post_bytes("/torrents", &query, "application/x-bittorrent", bytes)
                .map_err(|e| name_file(e, path))?;
            if !options.json {
                println!("added {}  {}  {}", response.id, response.name, response.info_hash);
            }
            added.push(response);
            Ok(())
        },
    );
    if options.json {
        print_json(&added);
    }
    result
}

/// `btbt magnet LINK [options]`.
pub fn magnet(client: &ApiClient, link: &str, options: &AddOptions) -> Result<(), CliError> {
    // A link that does not parse is bad input here, before the daemon sees it.
    ccbt_engine::magnet::MagnetLink::parse(link)?;
    let request = options.request(&current_dir()?, link)?;
    let response: AddResponse = client.send(Method::Post, "/torrents", Some(&request))?;
    if options.json {
        print_json(&[response]);
    } else {
        println!("added {}  {}  {}", response.id, response.name, response.info_hash);
    }
    Ok(())
}

fn print_json(added: &[AddResponse]) {
    match serde_json::to_string(added) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("btbt: error: cannot print the answer as JSON: {e}"),
    }
}

/// The daemon's refusal of one file of several names that file; its message
/// stays verbatim after the name.
fn name_file(e: CliError, path: &Path) -> CliError {
    match e {
        CliError::Api { status, code, message } => CliError::Api {
            status,
            code,
            message: format!("{}: {message}", path.display()),
        },
        other => other,
    }
}

fn current_dir() -> Result<PathBuf, CliError> {
    std::env::current_dir().map_err(|source| CliError::ReadFile {
        path: ".".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_carries_every_option_and_an_absolute_dir() {
        let options = AddOptions {
            download_dir: Some("dl".into()),
            paused: true,
            sequential: true,
            labels: vec!["a".into(), "b c".into()],
            peers: vec!["127.0.0.1:7000".into()],
            json: false,
        };
        assert_eq!(
            options.query(Path::new("/work")).unwrap(),
            vec![
                ("download_dir", "/work/dl".to_string()),
                ("paused", "true".to_string()),
                ("sequential", "true".to_string()),
                ("label", "a".to_string()),
                ("label", "b c".to_string()),
                ("peer", "127.0.0.1:7000".to_string()),
            ]
        );
        assert!(AddOptions::default().query(Path::new("/")).unwrap().is_empty());
        let bad_peer = AddOptions {
            peers: vec!["nowhere".into()],
            ..AddOptions::default()
        };
        assert_eq!(bad_peer.query(Path::new("/")).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn directories_expand_to_their_torrents_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.torrent", "a.torrent", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let single = dir.path().join("notes.txt");
        let files = expand_torrent_args(&[dir.path().to_path_buf(), single.clone()]).unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("a.torrent"), dir.path().join("b.torrent"), single]
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            expand_torrent_args(&[empty.path().to_path_buf()])
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
