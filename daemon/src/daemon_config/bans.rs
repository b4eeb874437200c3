//! `[bans]`: how long an address that sent corrupt data or attacked the protocol is
//! refused, and how many such addresses the session's list keeps (see
//! `crate::ban_list`). Read at start (a change needs a restart).
//!
//! ```toml
//! [bans]
//! duration = "1h"     # 1m to 365d
//! max_bans = 4096     # 0 keeps no list (torrents still ban for themselves)
//! ```

use std::time::Duration;

use super::error::ConfigError;
use super::table_reader::TableReader;
use super::values::{bounded_integer, duration};
use crate::ban_list::BanPolicy;

pub(super) fn read_bans(t: &TableReader<'_, '_>, policy: &mut BanPolicy) -> Result<(), ConfigError> {
    if let Some(f) = t.field("duration") {
        let d = duration(&f)?;
        if d < Duration::from_secs(60) || d > Duration::from_secs(365 * 24 * 3600) {
            return Err(f.out_of_range("1m to 365d"));
        }
        policy.duration = d;
    }
    if let Some(f) = t.field("max_bans") {
        policy.max_bans = bounded_integer(&f, 0, ccbt_engine::torrent::MAX_BANNED_ADDRS as i128)? as usize;
    }
    Ok(())
}
