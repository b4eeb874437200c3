//! The core's side of the session's ban list: bans the shards report are added,
//! saved and pushed back to every shard; the API lists and lifts them.

use std::net::{IpAddr, SocketAddr};

use ccbt_engine::torrent::BanReason;
use ccbt_engine::InfoHash;

use super::{unix_now, DaemonCore};
use crate::api_types::BanView;
use crate::control::ApiError;

impl DaemonCore {
    /// A shard's torrent banned `ip`: listed, saved, sent to every shard, announced.
    pub(super) fn on_peer_banned(&mut self, info_hash: InfoHash, ip: IpAddr, reason: BanReason) {
        let now = unix_now();
        self.bans.ban(ip, reason.label(), Some(info_hash.to_hex()), now);
        self.save_bans();
        self.push_bans();
        let message = format!("{ip} banned: {}", reason.label());
        let torrent = self.id_of(&info_hash).and_then(|id| self.torrents.get(&id));
        self.publish("peer_banned", torrent, Some(message));
    }

    /// Sends the list in force to every shard.
    pub(super) fn push_bans(&self) {
        if let Err(e) = self.session.set_bans(self.bans.in_force(unix_now())) {
            tracing::debug!(error = %e, "ban list not pushed");
        }
    }

    fn save_bans(&self) {
        if let Err(e) = self.bans.save() {
            tracing::warn!("{e}");
        }
    }

    /// Drops the bans that ended (each tick).
    pub(super) fn expire_bans(&mut self, now: u64) {
        if self.bans.expire(now) {
            self.save_bans();
            self.push_bans();
        }
    }

    pub(super) fn list_bans(&self) -> Vec<BanView> {
        self.bans.views()
    }

    /// Lifts a ban: `addr` is an IP address, with or without a port.
    pub(super) fn unban(&mut self, addr: &str) -> Result<BanView, ApiError> {
        let ip = parse_addr(addr)?;
        let view = self
            .bans
            .views()
            .into_iter()
            .find(|v| v.ip == ip.to_string())
            .ok_or_else(|| ApiError::not_found(format!("{ip} is not banned")))?;
        self.bans.unban(ip);
        self.save_bans();
        self.push_bans();
        tracing::info!(%ip, "ban lifted");
        Ok(view)
    }
}

fn parse_addr(addr: &str) -> Result<IpAddr, ApiError> {
    let addr = addr.trim();
    addr.parse::<IpAddr>()
        .or_else(|_| addr.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| addr.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "`{addr}` is not an IP address (as in 192.0.2.7 or 2001:db8::7)"
            ))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_are_read_with_or_without_a_port() {
        for (input, ip) in [
            ("192.0.2.7", "192.0.2.7"),
            ("192.0.2.7:6881", "192.0.2.7"),
            ("[2001:db8::7]:6881", "2001:db8::7"),
            ("[::1]", "::1"),
            (" ::1 ", "::1"),
        ] {
            assert_eq!(super::parse_addr(input).unwrap().to_string(), ip, "{input}");
        }
        let err = super::parse_addr("example.org").unwrap_err();
        assert_eq!(err.code, "bad_request");
        assert!(err.message.contains("example.org"));
    }
}
