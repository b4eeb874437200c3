//! `btbt peers bans|unban ADDR`: the session's ban list (addresses that sent corrupt
//! data or attacked the protocol), and lifting a ban.

use ccbt_daemon::api_types::BanView;

use super::api_client::{ApiClient, Method};
use super::table::{Align, Table};
use crate::error::CliError;

/// The ban list as a table; times are left in seconds from now.
pub fn render_bans(bans: &[BanView], now_unix: u64) -> String {
    if bans.is_empty() {
        return "no address is banned\n".to_string();
    }
    let mut t = Table::new(&[
        ("ADDRESS", Align::Left),
        ("REASON", Align::Left),
        ("EXPIRES IN", Align::Right),
        ("TORRENT", Align::Left),
    ]);
    for b in bans {
        let left = b.expires_at.saturating_sub(now_unix);
        t.row(vec![
            b.ip.clone(),
            b.reason.clone(),
            format!("{}m{:02}s", left / 60, left % 60),
            b.info_hash
                .as_deref()
                .map_or("-", |h| &h[..h.len().min(12)])
                .to_string(),
        ]);
    }
    t.render()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `btbt peers bans [--json]`.
pub fn bans(client: &ApiClient, json: bool) -> Result<(), CliError> {
    if json {
        println!("{}", client.get_json("/bans")?);
        return Ok(());
    }
    let bans: Vec<BanView> = client.get("/bans")?;
    print!("{}", render_bans(&bans, unix_now()));
    Ok(())
}

/// `btbt peers unban ADDR`.
pub fn unban(client: &ApiClient, addr: &str) -> Result<(), CliError> {
    let route = format!("/bans/{}", addr.trim());
    let lifted: BanView = client.send::<(), _>(Method::Delete, &route, None)?;
    println!("unbanned {} (was banned for {})", lifted.ip, lifted.reason);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_golden() {
        let ban = BanView {
            ip: "192.0.2.7".into(),
            reason: "proven_corrupt_block".into(),
            info_hash: Some("ab".repeat(20)),
            banned_at: 1_000,
            expires_at: 4_600,
        };
        assert_eq!(
            render_bans(&[ban], 1_000),
            concat!(
                "ADDRESS    REASON                EXPIRES IN  TORRENT\n",
                "192.0.2.7  proven_corrupt_block      60m00s  abababababab\n",
            )
        );
        assert_eq!(render_bans(&[], 0), "no address is banned\n");
    }
}
