//! `btbt metrics [--format prometheus|json] [--output FILE]`: the daemon's
//! monitoring figures once, as `/metrics` serves them (Prometheus text) or as the
//! JSON object of `GET /api/v1/metrics`. Both come from one answer of the daemon,
//! so the two formats always carry the same figures.

use std::path::PathBuf;

use ccbt_daemon::metrics::{exposition, MetricsSnapshot};

use super::api_client::ApiClient;
use crate::error::CliError;

/// How `btbt metrics` prints (the original ccbt's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsFormat {
    /// The Prometheus text format, as `GET /metrics` answers.
    Prometheus,
    /// The snapshot as one JSON object (fields in docs/metrics.md).
    Json,
}

/// Fetches the figures and prints them (or writes them to `output`).
pub fn metrics(client: &ApiClient, format: MetricsFormat, output: Option<PathBuf>) -> Result<(), CliError> {
    let text = match format {
        MetricsFormat::Json => {
            // Printed as the daemon sent it: fields a newer daemon adds are kept.
            let value = client.get_json("/metrics")?;
            let mut text = serde_json::to_string_pretty(&value).map_err(|e| CliError::BadResponse {
                url: "/api/v1/metrics".to_string(),
                reason: e.to_string(),
            })?;
            text.push('\n');
            text
        }
        MetricsFormat::Prometheus => {
            let snapshot: MetricsSnapshot = client.get("/metrics")?;
            exposition::encode(snapshot).map_err(|_| CliError::BadResponse {
                url: "/api/v1/metrics".to_string(),
                reason: "the figures could not be written as Prometheus text".to_string(),
            })?
        }
    };
    match output {
        Some(path) => std::fs::write(&path, text).map_err(|source| CliError::Write { path, source }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
