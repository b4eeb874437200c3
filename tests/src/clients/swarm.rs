//! One test swarm's fixtures: a temporary folder, opentracker on loopback, a
//! payload made with a fixed seed, its `.torrent` (made by mktorrent, announcing
//! to the tracker, whitelisted there).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Opentracker, Opts};

pub struct Swarm {
    /// Everything the swarm writes lives under here; removed on drop.
    pub dir: tempfile::TempDir,
    pub tracker: Opentracker,
    pub torrent: PathBuf,
    pub info_hash: String,
    /// The torrent's name: the file name, or the root folder of a multi-file one.
    pub name: String,
    /// The folder holding `name` with the complete data: give it to a seeder.
    pub seed_dir: PathBuf,
}

impl Swarm {
    /// A single-file torrent of `len` pseudo-random bytes, pieces of 2^`piece_exp`.
    pub fn single(len: u64, piece_exp: u32) -> Swarm {
        Self::build("payload.bin", &[("", len)], piece_exp)
    }

    /// A multi-file torrent named `payload` with `files` (relative paths, lengths).
    pub fn multi(files: &[(&str, u64)], piece_exp: u32) -> Swarm {
        assert!(files.iter().all(|(p, _)| !p.is_empty()));
        Self::build("payload", files, piece_exp)
    }

    fn build(name: &str, files: &[(&str, u64)], piece_exp: u32) -> Swarm {
        let dir = tempfile::Builder::new().prefix("ccbt-swarm-").tempdir().unwrap();
        let tracker = Opentracker::start_with(&Opts {
            work_root: Some(dir.path().join("work")),
            ..Opts::default()
        });
        let seed_dir = dir.path().join("seed");
        let content = seed_dir.join(name);
        for (i, (rel, len)) in files.iter().enumerate() {
            let path = if rel.is_empty() {
                content.clone()
            } else {
                content.join(rel)
            };
            crate::write_random_file(&path, *len, 0x5eed + i as u64);
        }
        let torrent = dir.path().join(format!("{name}.torrent"));
        let info_hash = super::mktorrent(&content, &torrent, piece_exp, &tracker.announce_url());
        tracker.allow(&info_hash);
        Swarm {
            dir,
            tracker,
            torrent,
            info_hash,
            name: name.to_string(),
            seed_dir,
        }
    }

    /// Client options with their work folders inside this swarm's folder.
    pub fn opts(&self) -> Opts {
        Opts {
            work_root: Some(self.dir.path().join("work")),
            ..Opts::default()
        }
    }

    /// A fresh, empty download folder.
    pub fn out_dir(&self, label: &str) -> PathBuf {
        let d = self.dir.path().join(format!("out-{label}"));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The complete data: `seed_dir/name`.
    pub fn content(&self) -> PathBuf {
        self.seed_dir.join(&self.name)
    }

    /// Waits (bounded) until `out_dir/name` is a byte-identical copy of the content;
    /// returns the number of files compared.
    pub fn assert_copy(&self, out_dir: &Path, timeout: Duration) -> usize {
        super::wait_same_tree(&self.content(), &out_dir.join(&self.name), timeout)
    }

    /// Waits until the tracker lists `n` seeders: a client announcing after that
    /// learns of them.
    pub fn wait_seeders(&self, n: i64, timeout: Duration) {
        self.tracker.wait_seeders(&self.info_hash, n, timeout);
    }
}
