//! `bitonic`: the live terminal dashboard of a running ccbt daemon (the same as
//! `btbt dashboard`). Argument parsing only; the dashboard is `ccbt_dashboard`,
//! given the `btbt` API client by `ccbt_cli::client::dashboard_cmd`.

use ccbt_cli::client::args::ApiOptions;
use ccbt_cli::client::dashboard_cmd::{dashboard, DashboardArgs};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "bitonic",
    version,
    about = "The live dashboard of a ccbt daemon: torrents, one torrent in depth, the session's shards, alerts"
)]
struct Args {
    #[command(flatten)]
    api: ApiOptions,
    #[command(flatten)]
    dashboard: DashboardArgs,
}

fn main() {
    let args = Args::parse();
    // Logs would tear the screen: only errors, and only when asked (RUST_LOG).
    if std::env::var_os("RUST_LOG").is_some() {
        ccbt_cli::init_logging();
    }
    if let Err(e) = dashboard(&args.api, &args.dashboard) {
        eprintln!("bitonic: error: {e}");
        std::process::exit(e.exit_code());
    }
}
