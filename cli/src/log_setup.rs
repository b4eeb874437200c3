//! Where logs go: stderr as text or JSON lines, filtered by `RUST_LOG` (or the
//! config's `[logging] level`) through a reloadable filter, and optionally a
//! Chrome trace of the session's spans (`--trace FILE`).

use std::io::IsTerminal;
use std::path::PathBuf;

use ccbt_daemon::daemon_config::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

use crate::chrome_trace::{chrome_trace, ChromeTraceGuard};
use crate::error::CliError;

/// What the trace records whatever the log level: the data path's spans (torrent,
/// peer, piece), which sit at `debug`.
const TRACE_FILTER: &str = "info,ccbt_io=debug,ccbt_shards=debug,ccbt_daemon=debug";
/// Default cap of a `--trace` file.
pub const DEFAULT_TRACE_MAX_BYTES: u64 = 256 << 20;

/// How to set up logging.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// The filter when neither `RUST_LOG` nor `level` says one.
    pub default_filter: String,
    /// `[logging] level`; `RUST_LOG` wins over it.
    pub level: Option<String>,
    pub format: LogFormat,
    /// A Chrome trace of the session's spans.
    pub trace: Option<PathBuf>,
    pub trace_max_bytes: u64,
}

impl LogOptions {
    pub fn with_default(default_filter: &str) -> LogOptions {
        LogOptions {
            default_filter: default_filter.to_string(),
            level: None,
            format: LogFormat::Text,
            trace: None,
            trace_max_bytes: DEFAULT_TRACE_MAX_BYTES,
        }
    }
}

/// Keep it until the process ends: dropping it closes the trace file.
pub struct LogGuard {
    _trace: Option<ChromeTraceGuard>,
}

/// Installs the process's subscriber. The log filter can then be changed with
/// `ccbt_daemon::log_level::apply_config_level` (a config reload does).
pub fn init(opts: &LogOptions) -> Result<LogGuard, CliError> {
    let env_filter = std::env::var("RUST_LOG").ok().filter(|s| !s.trim().is_empty());
    let filter_text = env_filter
        .clone()
        .or_else(|| opts.level.clone())
        .unwrap_or_else(|| opts.default_filter.clone());
    let filter = EnvFilter::builder()
        .parse(&filter_text)
        .unwrap_or_else(|_| EnvFilter::new(&opts.default_filter));
    let (filter, handle) = reload::Layer::<EnvFilter, Registry>::new(filter);
    let fmt_layer: Box<dyn Layer<Registry> + Send + Sync> = match opts.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let (trace_layer, trace_guard) = match &opts.trace {
        Some(path) => {
            let (layer, guard) = chrome_trace(path, opts.trace_max_bytes).map_err(|source| CliError::ReadFile {
                path: path.clone(),
                source,
            })?;
            (Some(layer.with_filter(EnvFilter::new(TRACE_FILTER))), Some(guard))
        }
        None => (None, None),
    };
    let installed = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(trace_layer)
        .try_init();
    if installed.is_ok() {
        ccbt_daemon::log_level::install_log_filter_setter(
            Box::new(move |text: &str| {
                let filter = EnvFilter::builder().parse(text).map_err(|e| e.to_string())?;
                handle.reload(filter).map_err(|e| e.to_string())
            }),
            env_filter,
            &opts.default_filter,
        );
    }
    Ok(LogGuard { _trace: trace_guard })
}
