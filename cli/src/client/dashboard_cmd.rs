//! `btbt dashboard` and `bitonic`: the dashboard of `ccbt-dashboard` over this
//! crate's API client. The dashboard crate defines what it needs from a daemon
//! ([`DaemonApi`]) and does no HTTP itself; implementing it here keeps one client of
//! the control API (its URL, token and error rules) for every command.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use ccbt_daemon::api_types::{
    AddResponse, AlertList, PieceMap, SessionPatch, SessionStats, TorrentChanges, TorrentDetail, TorrentPatch,
    TorrentSummary,
};
use ccbt_dashboard::{ApiFailure, DaemonApi, LimitTarget, RunOptions, TorrentAction};
use clap::Args;

use super::add_cmd::AddOptions;
use super::api_client::{ApiClient, Method};
use super::args::ApiOptions;
use super::endpoint::read_token;
use super::limit_values::{parse_rate, parse_session_rate};
use super::limits_cmd::without_nulls;
use crate::error::CliError;
use crate::source;

/// Longest life of one event-stream connection before it is opened again.
pub const EVENT_STREAM_MAX_SECS: u64 = 600;

/// The options of `bitonic` and `btbt dashboard` (besides `--api` and `--state-dir`).
#[derive(Args, Debug, Clone)]
pub struct DashboardArgs {
    /// Read the API token from this file (instead of the state dir's api.token or
    /// CCBT_API_TOKEN)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Seconds between two refreshes
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_refresh)]
    pub refresh: f64,
}

fn parse_refresh(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(s) if (0.2..=60.0).contains(&s) => Ok(s),
        _ => Err(format!("'{arg}' is not a refresh time (seconds, from 0.2 to 60)")),
    }
}

/// Runs the dashboard until the user quits; SIGTERM and SIGHUP quit it too (with the
/// terminal restored).
pub fn dashboard(api: &ApiOptions, args: &DashboardArgs) -> Result<(), CliError> {
    let mut endpoint = api.endpoint()?;
    if let Some(file) = &args.token_file {
        endpoint.token = Some(read_token(file).ok_or_else(|| CliError::BadFlag {
            flag: "--token-file",
            value: file.display().to_string(),
            reason: "no token could be read from it".into(),
        })?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let options = RunOptions {
        refresh: Duration::from_secs_f64(args.refresh),
        stop,
    };
    ccbt_dashboard::run(Arc::new(DashboardClient(ApiClient::new(endpoint))), options).map_err(|e| match e {
        ccbt_dashboard::DashboardError::Terminal(io) => CliError::Terminal(io),
        other => CliError::Daemon(other.to_string()),
    })
}

/// The dashboard's view of the API client.
pub struct DashboardClient(pub ApiClient);

impl DashboardClient {
    fn get<T: serde::de::DeserializeOwned>(&self, route: &str) -> Result<T, ApiFailure> {
        self.0.get(route).map_err(failure)
    }
}

/// The API client's errors in the dashboard's terms.
fn failure(e: CliError) -> ApiFailure {
    match e {
        CliError::DaemonUnreachable { url, reason } => ApiFailure::Unreachable { url, reason },
        CliError::Api {
            status: 404, message, ..
        } => ApiFailure::NotFound(message),
        CliError::Api { message, .. } => ApiFailure::Refused(message),
        CliError::BadResponse { url, reason } => ApiFailure::BadAnswer(format!("{url}: {reason}")),
        other => ApiFailure::Refused(other.to_string()),
    }
}

fn current_dir() -> Result<PathBuf, ApiFailure> {
    std::env::current_dir().map_err(|e| ApiFailure::Refused(format!("the current directory: {e}")))
}

/// An empty word leaves the limit as it is.
fn rate(
    word: &str,
    parse: fn(&str) -> Result<ccbt_daemon::api_types::LimitSetting<u64>, String>,
) -> Result<Option<ccbt_daemon::api_types::LimitSetting<u64>>, ApiFailure> {
    if word.is_empty() {
        Ok(None)
    } else {
        parse(word).map(Some).map_err(ApiFailure::Refused)
    }
}

impl DaemonApi for DashboardClient {
    fn url(&self) -> String {
        self.0.endpoint().base_url.clone()
    }

    fn torrent_changes(&self, since: u64) -> Result<TorrentChanges, ApiFailure> {
        self.get(&format!("/torrents/changes?since={since}"))
    }

    fn torrents(&self) -> Result<Vec<TorrentSummary>, ApiFailure> {
        self.get("/torrents")
    }

    fn stats(&self) -> Result<SessionStats, ApiFailure> {
        self.get("/stats")
    }

    fn torrent(&self, id: u32) -> Result<TorrentDetail, ApiFailure> {
        self.get(&format!("/torrents/{id}"))
    }

    fn pieces(&self, id: u32) -> Result<PieceMap, ApiFailure> {
        self.get(&format!("/torrents/{id}/pieces"))
    }

    fn alerts(&self) -> Result<AlertList, ApiFailure> {
        self.get("/alerts")
    }

    fn act(&self, id: u32, action: TorrentAction) -> Result<(), ApiFailure> {
        let segment = match action {
            TorrentAction::Pause => "pause",
            TorrentAction::Resume => "resume",
        };
        self.0
            .send::<(), TorrentSummary>(Method::Post, &format!("/torrents/{id}/{segment}"), None)
            .map(|_| ())
            .map_err(failure)
    }

    fn remove(&self, id: u32, delete_data: bool) -> Result<(), ApiFailure> {
        let query = if delete_data {
            vec![("delete_data", "true".to_string())]
        } else {
            Vec::new()
        };
        self.0
            .send_no_answer(Method::Delete, &format!("/torrents/{id}"), &query)
            .map_err(failure)
    }

    fn add(&self, typed: &str) -> Result<AddResponse, ApiFailure> {
        let cwd = current_dir()?;
        let options = AddOptions::default();
        if typed.starts_with("magnet:") {
            // A link that does not parse is refused here, with the parser's words.
            ccbt_engine::magnet::MagnetLink::parse(typed).map_err(|e| ApiFailure::Refused(e.to_string()))?;
            let request = options.request(&cwd, typed).map_err(failure)?;
            return self.0.send(Method::Post, "/torrents", Some(&request)).map_err(failure);
        }
        // A path on this machine: its bytes go up, so the daemon needs no access to it.
        let path = expand_home(typed);
        let bytes = source::read_torrent_bytes(&cwd.join(path)).map_err(failure)?;
        let query = options.query(&cwd).map_err(failure)?;
        self.0
            .post_bytes("/torrents", &query, "application/x-bittorrent", bytes)
            .map_err(failure)
    }

    fn set_limits(&self, target: LimitTarget, down: &str, up: &str) -> Result<(), ApiFailure> {
        match target {
            LimitTarget::Torrent(id) => {
                let patch = TorrentPatch {
                    download_limit: rate(down, parse_rate)?,
                    upload_limit: rate(up, parse_rate)?,
                    ..TorrentPatch::default()
                };
                self.0
                    .send::<_, TorrentSummary>(Method::Patch, &format!("/torrents/{id}"), Some(&patch))
                    .map(|_| ())
                    .map_err(failure)
            }
            LimitTarget::Session => {
                let patch = SessionPatch {
                    download_limit: rate(down, parse_session_rate)?,
                    upload_limit: rate(up, parse_session_rate)?,
                    ..SessionPatch::default()
                };
                self.0
                    .send::<_, serde_json::Value>(Method::Patch, "/session", Some(&without_nulls(&patch)))
                    .map(|_| ())
                    .map_err(failure)
            }
        }
    }

    fn events(&self) -> Result<Box<dyn std::io::Read + Send>, ApiFailure> {
        let stream = self.0.open_stream("/events", EVENT_STREAM_MAX_SECS).map_err(failure)?;
        Ok(Box::new(stream))
    }
}

/// `~/x` as the shell would have it (the prompt is not a shell).
fn expand_home(typed: &str) -> PathBuf {
    match (typed.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(typed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_map_to_what_the_dashboard_shows() {
        let down = failure(CliError::DaemonUnreachable {
            url: "http://127.0.0.1:1/api/v1/stats".into(),
            reason: "refused".into(),
        });
        assert!(matches!(down, ApiFailure::Unreachable { .. }));
        let missing = failure(CliError::Api {
            status: 404,
            code: "not_found".into(),
            message: "no such route".into(),
        });
        assert_eq!(missing, ApiFailure::NotFound("no such route".into()));
        let refused = failure(CliError::Api {
            status: 401,
            code: "unauthorized".into(),
            message: "bad token".into(),
        });
        assert_eq!(refused, ApiFailure::Refused("bad token".into()));
    }

    #[test]
    fn limits_words_follow_btbt_limits() {
        assert_eq!(rate("", parse_rate).unwrap(), None);
        assert!(rate("10M", parse_rate).unwrap().is_some());
        let err = rate("fast", parse_rate).unwrap_err();
        assert!(err.to_string().contains("fast"), "{err}");
        assert!(rate("global", parse_session_rate).is_err());
    }

    #[test]
    fn refresh_is_bounded() {
        assert_eq!(parse_refresh("1").unwrap(), 1.0);
        assert!(parse_refresh("0").is_err());
        assert!(parse_refresh("1000").is_err());
    }
}
