//! `btbt alerts list|active|add|remove|test`: the daemon's alert rules and what
//! fires (names as the original Python ccbt's `btbt alerts --list`, `--list-active`,
//! `--add`, `--remove`, `--test`).

use ccbt_daemon::api_types::{AlertList, AlertRuleView, AlertSeverity, AlertView, NewAlertRule};
use clap::Subcommand;

use super::api_client::{ApiClient, Method};
use super::table::{self, Align, Table};
use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Every alert rule: built in, from the config, or added here
    #[command(visible_alias = "rules")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Alerts firing now, then those resolved lately
    #[command(visible_alias = "list-active")]
    Active {
        #[arg(long)]
        json: bool,
    },
    /// Add a rule (kept by the daemon across restarts)
    Add {
        /// Rule name (letters, digits, _ - .)
        #[arg(short = 'n', long)]
        name: String,
        /// Condition, e.g. 'torrent.download_rate < 10K and torrent.downloading == 1'
        #[arg(short = 'c', long)]
        condition: String,
        /// How long the condition must hold before the alert fires (e.g. 30s, 10m)
        #[arg(long = "for", value_name = "DURATION", default_value = "0s", value_parser = parse_for)]
        hold_secs: u64,
        /// info, warning or critical
        #[arg(short = 'e', long, default_value = "warning", value_parser = parse_severity)]
        severity: AlertSeverity,
    },
    /// Remove a rule added with `add`
    Remove {
        /// Rule name
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Fire a test alert through every channel (log, events, webhook, command)
    Test,
}

fn parse_for(s: &str) -> Result<u64, String> {
    ccbt_daemon::daemon_config::parse_duration(s).map(|d| d.as_secs())
}

fn parse_severity(s: &str) -> Result<AlertSeverity, String> {
    match s {
        "info" => Ok(AlertSeverity::Info),
        "warning" => Ok(AlertSeverity::Warning),
        // The original's fourth level.
        "critical" | "error" => Ok(AlertSeverity::Critical),
        _ => Err(format!("'{s}' is not info, warning or critical")),
    }
}

fn severity_name(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::Info => "info",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Critical => "critical",
    }
}

pub fn run(client: &ApiClient, cmd: AlertsCommand) -> Result<(), CliError> {
    match cmd {
        AlertsCommand::List { json } => {
            if json {
                println!("{}", client.get_json("/alerts/rules")?);
            } else {
                let rules: Vec<AlertRuleView> = client.get("/alerts/rules")?;
                print!("{}", render_rules(&rules));
            }
        }
        AlertsCommand::Active { json } => {
            if json {
                println!("{}", client.get_json("/alerts")?);
            } else {
                let list: AlertList = client.get("/alerts")?;
                print!("{}", render_alerts(&list));
            }
        }
        AlertsCommand::Add {
            name,
            condition,
            hold_secs,
            severity,
        } => {
            let rule = NewAlertRule {
                name,
                condition,
                for_secs: hold_secs,
                severity: Some(severity),
            };
            let added: AlertRuleView = client.send(Method::Post, "/alerts/rules", Some(&rule))?;
            println!("added rule {}: {}", added.name, added.condition);
        }
        AlertsCommand::Remove { name } => {
            let route = format!("/alerts/rules/{}", super::api_client::query_escape(&name));
            client.send_no_answer(Method::Delete, &route, &[])?;
            println!("removed rule {name}");
        }
        AlertsCommand::Test => {
            let alert: AlertView = client.send::<(), _>(Method::Post, "/alerts/test", None)?;
            println!("test alert {} sent", alert.id);
        }
    }
    Ok(())
}

pub fn render_rules(rules: &[AlertRuleView]) -> String {
    if rules.is_empty() {
        return "no alert rules\n".to_string();
    }
    let mut t = Table::new(&[
        ("NAME", Align::Left),
        ("SEVERITY", Align::Left),
        ("FOR", Align::Right),
        ("SOURCE", Align::Left),
        ("CONDITION", Align::Left),
    ]);
    for r in rules {
        t.row(vec![
            r.name.clone(),
            severity_name(r.severity).to_string(),
            table::duration(Some(r.for_secs)),
            r.source.clone(),
            r.condition.clone(),
        ]);
    }
    t.render()
}

pub fn render_alerts(list: &AlertList) -> String {
    let mut out = String::new();
    if list.active.is_empty() {
        out.push_str("no alert is firing\n");
    } else {
        out.push_str(&alert_table(&list.active));
    }
    if !list.recent.is_empty() {
        out.push_str("\nresolved lately:\n");
        out.push_str(&alert_table(&list.recent));
    }
    out
}

fn alert_table(alerts: &[AlertView]) -> String {
    let mut t = Table::new(&[
        ("ID", Align::Right),
        ("RULE", Align::Left),
        ("SEVERITY", Align::Left),
        ("TORRENT", Align::Left),
        ("MESSAGE", Align::Left),
    ]);
    for a in alerts {
        let torrent = match (a.torrent_id, &a.torrent_name) {
            (Some(id), Some(name)) => format!("{id} {}", table::truncate(name, 30)),
            (Some(id), None) => id.to_string(),
            _ => "-".to_string(),
        };
        t.row(vec![
            a.id.to_string(),
            a.rule.clone(),
            severity_name(a.severity).to_string(),
            torrent,
            a.message.clone(),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_render_as_tables() {
        let alert = AlertView {
            id: 3,
            rule: "torrent_stalled".into(),
            severity: AlertSeverity::Warning,
            torrent_id: Some(1),
            torrent_name: Some("payload".into()),
            message: "nothing arrived for 10m".into(),
            fired_at: 1,
            resolved_at: None,
        };
        let text = render_alerts(&AlertList {
            active: vec![alert.clone()],
            recent: Vec::new(),
        });
        assert!(text.starts_with("ID  RULE"), "{text}");
        assert!(
            text.contains("3  torrent_stalled  warning   1 payload  nothing arrived for 10m"),
            "{text}"
        );
        assert_eq!(render_alerts(&AlertList::default()), "no alert is firing\n");
    }

    #[test]
    fn severities_and_durations_parse() {
        assert_eq!(parse_severity("error"), Ok(AlertSeverity::Critical));
        assert!(parse_severity("loud").is_err());
        assert_eq!(parse_for("10m"), Ok(600));
        assert!(parse_for("soon").is_err());
    }
}
