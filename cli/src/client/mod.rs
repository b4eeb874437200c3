//! `btbt`'s client commands: everything that talks to a running daemon over its
//! control API (`docs/api.md`). One file per command group; the views are pure
//! functions from the API's types to text, tested against golden strings.

pub mod add_cmd;
pub mod alerts_cmd;
pub mod api_client;
pub mod args;
pub mod config_cmd;
pub mod dashboard_cmd;
pub mod detail_view;
pub mod endpoint;
pub mod files_cmd;
pub mod foreground;
pub mod ipfilter_cmd;
pub mod limit_values;
pub mod limits_cmd;
pub mod list_view;
pub mod metrics_cmd;
pub mod peers_cmd;
pub mod queue_cmd;
pub mod stats_view;
pub mod table;
pub mod torrent_cmd;
pub mod torrent_id;
pub mod watch;

use ccbt_daemon::api_types::FilePriorityName;

use api_client::ApiClient;
use args::{ApiOptions, ClientCommand, FilesCommand, PeersCommand, QueueCommand, TorrentCommand};
use torrent_cmd::TorrentAction;

use crate::error::CliError;

/// Runs one client command against the daemon `api` names.
pub fn run_client_command(command: ClientCommand, api: &ApiOptions) -> Result<(), CliError> {
    let endpoint = api.endpoint()?;
    let client = ApiClient::new(endpoint.clone());
    match command {
        ClientCommand::Download { torrents, add } => {
            let options = add.options();
            // Only the default address may fall back: a daemon named by --api or
            // CCBT_API must answer.
            if !endpoint.explicit {
                if let Err(CliError::DaemonUnreachable { url, .. }) = client.health() {
                    eprintln!("btbt: no daemon at {url}; downloading in the foreground (`btbt daemon start` runs one)");
                    let sources: Vec<String> = torrents.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                    return foreground::run(&sources, &options);
                }
            }
            add_cmd::download(&client, &torrents, &options)
        }
        ClientCommand::Magnet { link, add } => add_cmd::magnet(&client, &link, &add.options()),
        ClientCommand::List { json } => list_view::list(&client, json),
        ClientCommand::Status { json } => stats_view::status(&client, json),
        ClientCommand::Show { id, json } => detail_view::show(&client, &id, json),
        ClientCommand::Torrent(cmd) => torrent(&client, cmd),
        ClientCommand::Queue(QueueCommand::List { json }) => queue_cmd::list(&client, json),
        ClientCommand::Queue(QueueCommand::Reorder { id, to }) => queue_cmd::reorder(&client, &id, to),
        ClientCommand::Files(FilesCommand::List { id, json }) => files_cmd::list(&client, &id, json),
        ClientCommand::Files(FilesCommand::Select { id, files }) => {
            files_cmd::set_priority(&client, &id, files, FilePriorityName::Normal)
        }
        ClientCommand::Files(FilesCommand::Deselect { id, files }) => {
            files_cmd::set_priority(&client, &id, files, FilePriorityName::Skip)
        }
        ClientCommand::Files(FilesCommand::Priority { id, file, priority }) => {
            files_cmd::set_priority(&client, &id, vec![file], priority)
        }
        ClientCommand::Peers(PeersCommand::Bans { json }) => peers_cmd::bans(&client, json),
        ClientCommand::Peers(PeersCommand::Unban { addr }) => peers_cmd::unban(&client, &addr),
        ClientCommand::Limits { down, up, json } => limits_cmd::limits(&client, down, up, json),
        ClientCommand::Watch => watch::watch(&client),
        ClientCommand::Dashboard(args) => dashboard_cmd::dashboard(api, &args),
        ClientCommand::Metrics { format, output } => metrics_cmd::metrics(&client, format, output),
        ClientCommand::Filter(cmd) => ipfilter_cmd::run(&client, cmd),
        ClientCommand::Alerts(cmd) => alerts_cmd::run(&client, cmd),
    }
}

fn torrent(client: &ApiClient, cmd: TorrentCommand) -> Result<(), CliError> {
    let (targets, action) = match cmd {
        TorrentCommand::Pause(t) => (t, TorrentAction::Pause),
        TorrentCommand::Resume(t) => (t, TorrentAction::Resume),
        TorrentCommand::ForceStart(t) => (t, TorrentAction::ForceStart),
        TorrentCommand::Verify(t) => (t, TorrentAction::Verify),
        TorrentCommand::Reannounce(t) => (t, TorrentAction::Reannounce),
        TorrentCommand::Remove { targets, delete_data } => {
            return torrent_cmd::remove(client, targets.ids, targets.all, delete_data)
        }
        TorrentCommand::Set { id, settings } => return torrent_cmd::set(client, &id, &settings.options()),
        TorrentCommand::AddTracker { id, url } => return torrent_cmd::trackers(client, &id, url, true),
        TorrentCommand::RemoveTracker { id, url } => return torrent_cmd::trackers(client, &id, url, false),
    };
    torrent_cmd::act(client, targets.ids, targets.all, action)
}
