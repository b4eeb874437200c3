//! Errors the binaries turn into one line and an exit code.

use std::path::PathBuf;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    BadTorrent {
        path: PathBuf,
        source: ccbt_engine::metainfo::MetainfoError,
    },
    #[error("{path}: larger than {limit_mib} MiB, too large for a .torrent file")]
    TooLarge { path: PathBuf, limit_mib: u64 },
    #[error("{path}: {kind}, not a .torrent file")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{path}: {}", fifo_timeout_reason(*.writer_seen, *.seconds))]
    FifoTimeout {
        path: PathBuf,
        seconds: u64,
        writer_seen: bool,
    },
    #[error("--peer {arg}: {reason}")]
    BadPeer { arg: String, reason: String },
    #[error("{flag} {value}: {reason}")]
    BadFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("{path}: no .torrent files in this directory")]
    EmptyDirectory { path: PathBuf },
    #[error("bad magnet link: {0}")]
    BadMagnet(#[from] ccbt_engine::magnet::MagnetError),
    #[error("{path}: the same torrent ({info_hash}) is given twice")]
    DuplicateTorrent {
        path: PathBuf,
        info_hash: ccbt_engine::InfoHash,
    },
    #[error(transparent)]
    Session(#[from] ccbt_shards::SessionError),
    #[error("{0}")]
    TorrentFailed(String),
    /// Some torrents stopped with an error (each reported as it happened); the
    /// others ran to the end.
    #[error("{failed} of {total} torrents failed")]
    TorrentsFailed { failed: usize, total: usize },
    #[error("{path}: {reason}")]
    Create { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Demo(String),
    #[error("interrupted before every piece was verified")]
    Interrupted,
    /// No answer from the daemon's API (refused, timed out, reset).
    #[error("cannot reach the ccbt daemon at {url}: {reason} (start it with `btbt daemon start`, or name another with --api URL)")]
    DaemonUnreachable { url: String, reason: String },
    /// The daemon refused the request (4xx); its message is printed as it came.
    #[error("{message}")]
    Api { status: u16, code: String, message: String },
    /// The daemon answered something that is not its API's answer (a 5xx, a
    /// body that does not parse): a bug on one side or the other.
    #[error("{url}: {reason}")]
    BadResponse { url: String, reason: String },
    #[error("{arg}: not a torrent id (a number from `btbt list`, an info-hash, or a unique prefix of one)")]
    BadTorrentId { arg: String },
    #[error("--api {url}: {reason}")]
    BadApiUrl { url: String, reason: String },
    /// Some of several torrents named in one command failed (each was reported).
    #[error("{failed} of {total} failed")]
    PartlyFailed {
        failed: usize,
        total: usize,
        exit_code: i32,
    },
    #[error("terminal: {0}")]
    Terminal(std::io::Error),
    /// The daemon could not start or stopped with an error.
    #[error("{0}")]
    Daemon(String),
    /// The daemon's config file is wrong (names the file, line and key).
    #[error("{0}")]
    Config(String),
}

impl CliError {
    /// Process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Interrupted => 130,
            CliError::ReadFile { .. }
            | CliError::BadTorrent { .. }
            | CliError::EmptyDirectory { .. }
            | CliError::BadMagnet(_)
            | CliError::DuplicateTorrent { .. }
            | CliError::TooLarge { .. }
            | CliError::NotAFile { .. }
            | CliError::FifoTimeout { .. }
            | CliError::BadPeer { .. }
            | CliError::BadFlag { .. }
            | CliError::BadTorrentId { .. }
            | CliError::BadApiUrl { .. }
            | CliError::Config(_) => 2,
            CliError::Api { status, .. } if (400..500).contains(status) => 2,
            CliError::PartlyFailed { exit_code, .. } => *exit_code,
            _ => 1,
        }
    }
}

fn fifo_timeout_reason(writer_seen: bool, seconds: u64) -> String {
    if writer_seen {
        format!("a FIFO whose writer sent nothing for {seconds} s")
    } else {
        format!("a FIFO with nothing writing to it (waited {seconds} s)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_map_to_exit_codes() {
        let unreachable = CliError::DaemonUnreachable {
            url: "http://127.0.0.1:64124/api/v1/torrents".into(),
            reason: "Connection refused".into(),
        };
        assert_eq!(unreachable.exit_code(), 1);
        assert!(unreachable
            .to_string()
            .contains("http://127.0.0.1:64124/api/v1/torrents"));
        let api = |status| CliError::Api {
            status,
            code: "not_found".into(),
            message: "no torrent 9".into(),
        };
        assert_eq!(api(404).exit_code(), 2);
        assert_eq!(api(413).exit_code(), 2);
        assert_eq!(api(404).to_string(), "no torrent 9", "the daemon's message, verbatim");
        assert_eq!(api(500).exit_code(), 1, "a 5xx is the daemon's bug, not bad input");
        let bad_response = CliError::BadResponse {
            url: "u".into(),
            reason: "r".into(),
        };
        assert_eq!(bad_response.exit_code(), 1);
        assert_eq!(CliError::BadTorrentId { arg: "x".into() }.exit_code(), 2);
        let partly = |exit_code| CliError::PartlyFailed {
            failed: 1,
            total: 3,
            exit_code,
        };
        assert_eq!(partly(2).exit_code(), 2);
        assert_eq!(partly(1).exit_code(), 1);
        assert_eq!(CliError::Daemon("x".into()).exit_code(), 1);
        assert_eq!(CliError::Config("x".into()).exit_code(), 2);
    }
}
