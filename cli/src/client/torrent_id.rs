//! `ID` arguments: the small number `btbt list` shows, a full info-hash, or a
//! unique prefix of one. The daemon resolves it; this only refuses what can be
//! neither, before anything is sent.

use crate::error::CliError;

/// A torrent named on the command line, in the form the API's `{id}` takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TorrentId {
    Number(u32),
    /// 1 to 40 lower-case hex digits.
    HashPrefix(String),
}

impl TorrentId {
    pub fn parse(arg: &str) -> Result<TorrentId, CliError> {
        let bad = || CliError::BadTorrentId { arg: arg.to_string() };
        let s = arg.trim();
        if s.is_empty() {
            return Err(bad());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = s.parse::<u32>() {
                return Ok(TorrentId::Number(n));
            }
        }
        if s.len() <= 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(TorrentId::HashPrefix(s.to_ascii_lowercase()));
        }
        Err(bad())
    }

    /// The path segment of `/torrents/{id}` (digits or hex: nothing to escape).
    pub fn as_path(&self) -> String {
        match self {
            TorrentId::Number(n) => n.to_string(),
            TorrentId::HashPrefix(h) => h.clone(),
        }
    }

    /// The `/torrents/{id}` route, with an optional tail (`/pause`, `/files`).
    pub fn route(&self, tail: &str) -> String {
        format!("/torrents/{}{tail}", self.as_path())
    }
}

impl std::fmt::Display for TorrentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_path())
    }
}

/// For clap's `value_parser`.
pub fn parse_torrent_id(arg: &str) -> Result<TorrentId, String> {
    TorrentId::parse(arg).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_hashes_and_prefixes() {
        assert_eq!(TorrentId::parse("7").unwrap(), TorrentId::Number(7));
        assert_eq!(TorrentId::parse(" 12 ").unwrap(), TorrentId::Number(12));
        let hash = "ABCDEF0123456789abcdef0123456789ABCDEF01";
        assert_eq!(
            TorrentId::parse(hash).unwrap(),
            TorrentId::HashPrefix(hash.to_ascii_lowercase())
        );
        assert_eq!(TorrentId::parse("dead").unwrap(), TorrentId::HashPrefix("dead".into()));
        // Too many digits for a number: read as a hash prefix.
        assert_eq!(
            TorrentId::parse("99999999999").unwrap(),
            TorrentId::HashPrefix("99999999999".into())
        );
        assert_eq!(
            TorrentId::parse("dead").unwrap().route("/pause"),
            "/torrents/dead/pause"
        );
    }

    #[test]
    fn neither_number_nor_hex_is_bad_input_naming_the_argument() {
        for bad in ["", "xyz", "12z", "-1", "../1", &"a".repeat(41)] {
            let err = TorrentId::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(
                err.to_string().starts_with(&format!("{bad}: not a torrent id")),
                "{err}"
            );
        }
    }
}
