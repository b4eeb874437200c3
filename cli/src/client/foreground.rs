//! `btbt download` with no daemon to talk to: the download runs in this process,
//! exactly as `ccbt` runs it, and ends when every piece is verified.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ccbt_engine::torrent::TorrentConfig;
use ccbt_io::storage::Preallocation;

use super::add_cmd::AddOptions;
use crate::download::{self, DownloadOptions};
use crate::error::CliError;
use crate::output::{OutputMode, Reporter};
use crate::{flags, source};

/// Downloads `sources` (`.torrent` files, directories of them) into `-o` or the
/// current directory.
pub fn run(sources: &[String], options: &AddOptions) -> Result<(), CliError> {
    if options.paused {
        return Err(CliError::BadFlag {
            flag: "--paused",
            value: String::new(),
            reason: "needs a running daemon (start one with `btbt daemon start`)".into(),
        });
    }
    if !options.labels.is_empty() {
        eprintln!("btbt: labels are kept only by a daemon; ignored for this foreground download");
    }
    let peers = flags::resolve_peers(&options.peers)?;
    let sources = source::load_sources(sources)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // As in `ccbt`: the first signal stops cleanly (exit 130), a second at once.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone());
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let opts = DownloadOptions {
        sources,
        output_dir: options.download_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        seed: false,
        peers,
        listen: download::default_listen_addr(),
        // As `ccbt`: the DHT on, from the public routers.
        dht: crate::flags::dht_settings(false, None, &[])?,
        shards: crate::default_shards(),
        download_limit: None,
        upload_limit: None,
        preallocation: Preallocation::Sparse,
        direct_writes: true,
        config: TorrentConfig {
            sequential: options.sequential,
            ..TorrentConfig::default()
        },
        lsd: true,
    };
    let mut reporter = Reporter::new(OutputMode::choose(options.json));
    download::run(opts, &mut reporter, stop)?;
    Ok(())
}
