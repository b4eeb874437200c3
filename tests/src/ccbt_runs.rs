//! The `ccbt` command lines the tests repeat: a seeder serving torrents from a
//! folder, and a downloader fetching a torrent into a folder, over loopback.

use std::path::Path;
use std::time::Duration;

use crate::Proc;

/// Starts `ccbt <torrents> -o <data> --seed --json --listen <listen> <extra>`
/// without waiting for it to listen or seed.
pub fn spawn_seeder(torrents: &[&Path], data: &Path, listen: &str, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = torrents.iter().map(|t| t.display().to_string()).collect();
    args.extend([
        "-o".into(),
        data.display().to_string(),
        "--seed".into(),
        "--json".into(),
        "--listen".into(),
        listen.into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::spawn("ccbt", &refs)
}

/// Starts a `ccbt --seed --json` process listening on `listen` and waits until it
/// seeds every torrent; returns it with the address it listens on.
pub fn start_seeder_on(torrents: &[&Path], data: &Path, listen: &str, extra: &[&str]) -> (Proc, String) {
    let mut p = spawn_seeder(torrents, data, listen, extra);
    let addr = p.listen_addr();
    for _ in torrents {
        p.wait_json("seeding (complete)", Duration::from_secs(60), |v| {
            v["type"] == "complete"
        });
    }
    (p, addr)
}

/// Starts a `ccbt --seed --json` process on loopback and waits until it seeds every torrent.
pub fn start_seeder(torrents: &[&Path], data: &Path, extra: &[&str]) -> (Proc, String) {
    start_seeder_on(torrents, data, "127.0.0.1:0", extra)
}

/// A `ccbt` download of torrents into a folder:
/// `ccbt <torrent>... -o <out> [--peer <addr>]... --listen <listen> [--json] [<extra>]`,
/// listening on 127.0.0.1:0 with `--json` unless told otherwise.
pub struct Downloader {
    torrents: Vec<String>,
    out: String,
    peers: Vec<String>,
    listen: String,
    json: bool,
    extra: Vec<String>,
    env: Vec<(String, String)>,
}

impl Downloader {
    pub fn new(torrent: &Path, out: &Path) -> Downloader {
        Downloader {
            torrents: vec![torrent.display().to_string()],
            out: out.display().to_string(),
            peers: Vec::new(),
            listen: "127.0.0.1:0".into(),
            json: true,
            extra: Vec::new(),
            env: Vec::new(),
        }
    }

    /// A download of a magnet link (or any SOURCE given as text) into `out`.
    pub fn source(source: &str, out: &Path) -> Downloader {
        Downloader {
            torrents: vec![source.to_string()],
            ..Downloader::new(Path::new(""), out)
        }
    }

    /// Downloads `torrent` too, in the same process.
    pub fn and_torrent(mut self, torrent: &Path) -> Downloader {
        self.torrents.push(torrent.display().to_string());
        self
    }

    /// Adds a `--peer` (in the order given).
    pub fn peer(mut self, addr: impl ToString) -> Downloader {
        self.peers.push(addr.to_string());
        self
    }

    /// Listens on `addr` instead of 127.0.0.1:0.
    pub fn listen(mut self, addr: &str) -> Downloader {
        self.listen = addr.into();
        self
    }

    /// Leaves out `--json`.
    pub fn without_json(mut self) -> Downloader {
        self.json = false;
        self
    }

    /// Appends other arguments, after all the rest.
    pub fn args(mut self, extra: &[&str]) -> Downloader {
        self.extra.extend(extra.iter().map(|s| s.to_string()));
        self
    }

    /// Sets an environment variable for the process.
    pub fn env(mut self, key: &str, value: &str) -> Downloader {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts it.
    pub fn spawn(self) -> Proc {
        let mut args = self.torrents;
        args.extend(["-o".into(), self.out]);
        for peer in self.peers {
            args.extend(["--peer".into(), peer]);
        }
        args.extend(["--listen".into(), self.listen]);
        if self.json {
            args.push("--json".into());
        }
        args.extend(self.extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Proc::spawn_with_env("ccbt", &refs, &env)
    }

    /// Starts it and waits (at most `timeout`) for it to exit 0.
    pub fn run(self, timeout: Duration) -> Proc {
        let what = format!("download of {}", self.torrents.join(" "));
        let mut p = self.spawn();
        p.wait_success(&what, timeout);
        p
    }
}
