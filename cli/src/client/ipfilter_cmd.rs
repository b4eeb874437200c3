//! `btbt filter stats|test ADDR|update` (also `btbt ipfilter …`): the daemon's IP
//! filter, under the original Python ccbt's names (`stats`, `test`, `update`),
//! with `status`, `check` and `reload` as aliases.

use std::net::{IpAddr, SocketAddr};

use ccbt_daemon::api_types::{IpFilterCheck, IpFilterStatus};
use clap::Subcommand;

use super::api_client::{ApiClient, Method};
use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum FilterCommand {
    /// Ranges in force, each list with its malformed lines, and what was blocked
    #[command(visible_alias = "status")]
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Whether the filter blocks an address
    #[command(visible_alias = "check")]
    Test {
        /// An IP address (1.2.3.4, 2001:db8::1) or IP:PORT
        #[arg(value_parser = parse_address, value_name = "ADDR")]
        address: IpAddr,
        #[arg(long)]
        json: bool,
    },
    /// Read the lists of `[security] ip_filter` again now (they are also reloaded
    /// when a file changes)
    #[command(visible_alias = "reload")]
    Update {
        #[arg(long)]
        json: bool,
    },
}

fn parse_address(text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|a| a.ip()))
        .map_err(|_| format!("'{text}' is not an IP address (such as 1.2.3.4 or 2001:db8::1)"))
}

pub fn run(client: &ApiClient, command: FilterCommand) -> Result<(), CliError> {
    match command {
        FilterCommand::Stats { json } => {
            let status: IpFilterStatus = client.get("/ipfilter")?;
            print(json, &status, render_status)
        }
        FilterCommand::Test { address, json } => {
            let check: IpFilterCheck = client.get(&format!("/ipfilter/check/{address}"))?;
            print(json, &check, |c| {
                format!("{}  {}\n", c.address, if c.blocked { "BLOCKED" } else { "allowed" })
            })
        }
        FilterCommand::Update { json } => {
            let status: IpFilterStatus = client.send::<(), _>(Method::Post, "/ipfilter/reload", None)?;
            print(json, &status, render_status)
        }
    }
}

fn print<T: serde::Serialize>(json: bool, value: &T, render: impl Fn(&T) -> String) -> Result<(), CliError> {
    if json {
        println!("{}", serde_json::to_string(value).unwrap_or_default());
    } else {
        print!("{}", render(value));
    }
    Ok(())
}

pub fn render_status(s: &IpFilterStatus) -> String {
    if !s.enabled {
        return "IP filter  off (no list in [security] ip_filter)\n".to_string();
    }
    let mut out = format!(
        "IP filter  {} ranges IPv4, {} IPv6, from {} list{} (loaded in {} ms)\n",
        s.ranges_v4,
        s.ranges_v6,
        s.lists.len(),
        if s.lists.len() == 1 { "" } else { "s" },
        s.load_ms
    );
    let b = &s.blocked;
    let sources: Vec<String> = b
        .by_source
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(source, n)| format!("{source} {n}"))
        .collect();
    out.push_str(&format!(
        "blocked    {} (incoming {}, dials {}, disconnected {}; learned: {})\n",
        b.total,
        b.incoming,
        b.outgoing,
        b.disconnected,
        if sources.is_empty() {
            "none".to_string()
        } else {
            sources.join(", ")
        }
    ));
    for list in &s.lists {
        match &list.error {
            Some(error) => out.push_str(&format!("list       {}: NOT READ: {error}\n", list.path)),
            None => out.push_str(&format!(
                "list       {} ({}): {} lines, {} blocked ranges, {} allowed, {} malformed\n",
                list.path, list.compression, list.lines, list.blocked_ranges, list.allowed_ranges, list.malformed_lines
            )),
        }
        for m in &list.malformed_examples {
            out.push_str(&format!("           line {}: {}: {:?}\n", m.line, m.error, m.text));
        }
    }
    if let Some(error) = &s.last_error {
        out.push_str(&format!("last reload refused: {error}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::{IpFilterBlocked, IpFilterList, MalformedListLine};

    #[test]
    fn status_golden() {
        let status = IpFilterStatus {
            enabled: true,
            ranges_v4: 3,
            ranges_v6: 1,
            lists: vec![
                IpFilterList {
                    path: "/lists/level1.gz".into(),
                    compression: "gzip".into(),
                    lines: 6,
                    blocked_ranges: 4,
                    allowed_ranges: 1,
                    malformed_lines: 1,
                    malformed_examples: vec![MalformedListLine {
                        line: 5,
                        error: "not an IP address".into(),
                        text: "garbage".into(),
                    }],
                    ..Default::default()
                },
                IpFilterList {
                    path: "/lists/gone.txt".into(),
                    error: Some("/lists/gone.txt: No such file or directory (os error 2)".into()),
                    ..Default::default()
                },
            ],
            loaded_at: Some(1),
            load_ms: 12,
            last_error: None,
            blocked: IpFilterBlocked {
                total: 5,
                incoming: 2,
                outgoing: 0,
                disconnected: 0,
                by_source: [("tracker".to_string(), 3), ("dht".to_string(), 0)]
                    .into_iter()
                    .collect(),
            },
        };
        assert_eq!(
            render_status(&status),
            concat!(
                "IP filter  3 ranges IPv4, 1 IPv6, from 2 lists (loaded in 12 ms)\n",
                "blocked    5 (incoming 2, dials 0, disconnected 0; learned: tracker 3)\n",
                "list       /lists/level1.gz (gzip): 6 lines, 4 blocked ranges, 1 allowed, 1 malformed\n",
                "           line 5: not an IP address: \"garbage\"\n",
                "list       /lists/gone.txt: NOT READ: /lists/gone.txt: No such file or directory (os error 2)\n",
            )
        );
        assert!(render_status(&IpFilterStatus::default()).contains("off"));
    }

    #[test]
    fn addresses_parse_with_or_without_a_port() {
        assert_eq!(parse_address("127.0.0.2"), Ok("127.0.0.2".parse().unwrap()));
        assert_eq!(parse_address("127.0.0.2:6881"), Ok("127.0.0.2".parse().unwrap()));
        assert_eq!(parse_address("[::1]:80"), Ok("::1".parse().unwrap()));
        assert!(parse_address("example.org").unwrap_err().contains("example.org"));
    }
}
