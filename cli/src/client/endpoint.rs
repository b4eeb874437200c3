//! Where the daemon's API is and which token it wants: `--api` / `CCBT_API`, and
//! the token from `CCBT_API_TOKEN` or the state dir's `api.token`.

use std::path::{Path, PathBuf};

use ccbt_daemon::api_types::DEFAULT_API_PORT;

use crate::error::CliError;

/// The file in the state dir that holds the API token (mode 0600, written by the daemon).
pub const TOKEN_FILE: &str = "api.token";
/// Longest token file we read; a token is a few dozen characters.
const MAX_TOKEN_FILE: u64 = 4096;

/// The daemon's default API address as a URL.
pub fn default_api_url() -> String {
    format!("http://127.0.0.1:{DEFAULT_API_PORT}")
}

/// The daemon to talk to and how to authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiEndpoint {
    /// `http://HOST:PORT`, no trailing slash.
    pub base_url: String,
    /// Named by `--api` or `CCBT_API` (not the default): `btbt download` must then
    /// reach it instead of falling back to a foreground download.
    pub explicit: bool,
    pub token: Option<String>,
    /// Where the token was looked for in the state dir (for the hint on a 401).
    pub token_file: PathBuf,
}

/// The inputs of [`ApiEndpoint::resolve`], read from flags and the environment.
#[derive(Clone, Debug, Default)]
pub struct EndpointInputs {
    /// `--api`.
    pub api_flag: Option<String>,
    /// `CCBT_API`.
    pub api_env: Option<String>,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// `CCBT_API_TOKEN`.
    pub token_env: Option<String>,
    /// `XDG_DATA_HOME` and `HOME`, for the default state dir.
    pub xdg_data_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl EndpointInputs {
    /// The flags given, the rest from this process's environment.
    pub fn from_env(api_flag: Option<String>, state_dir: Option<PathBuf>) -> EndpointInputs {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        EndpointInputs {
            api_flag,
            api_env: var("CCBT_API"),
            state_dir,
            token_env: var("CCBT_API_TOKEN"),
            xdg_data_home: var("XDG_DATA_HOME").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
        }
    }
}

impl ApiEndpoint {
    /// `--api` wins over `CCBT_API`, which wins over the default. The token comes
    /// from `CCBT_API_TOKEN`, else from the state dir, but only for a daemon on
    /// this machine: a local token is never sent to another host.
    pub fn resolve(inputs: &EndpointInputs) -> Result<ApiEndpoint, CliError> {
        let (raw, explicit) = match (&inputs.api_flag, &inputs.api_env) {
            (Some(flag), _) => (flag.clone(), true),
            (None, Some(env)) => (env.clone(), true),
            (None, None) => (default_api_url(), false),
        };
        let base_url = normalize_api_url(&raw)?;
        let state_dir = inputs
            .state_dir
            .clone()
            .unwrap_or_else(|| default_state_dir(inputs.xdg_data_home.as_deref(), inputs.home.as_deref()));
        let token_file = state_dir.join(TOKEN_FILE);
        let token = match &inputs.token_env {
            Some(t) => Some(t.trim().to_string()),
            None if is_loopback_url(&base_url) => read_token(&token_file),
            None => None,
        };
        Ok(ApiEndpoint {
            base_url,
            explicit,
            token,
            token_file,
        })
    }
}

/// `$XDG_DATA_HOME/ccbt`, else `~/.local/share/ccbt`, else `./ccbt-state` when
/// neither is set (a service without a home).
pub fn default_state_dir(xdg_data_home: Option<&Path>, home: Option<&Path>) -> PathBuf {
    match (xdg_data_home, home) {
        (Some(xdg), _) if xdg.is_absolute() => xdg.join("ccbt"),
        (_, Some(home)) => home.join(".local/share/ccbt"),
        _ => PathBuf::from("ccbt-state"),
    }
}

/// Accepts `http://HOST:PORT[/]` or `HOST:PORT`; returns `http://HOST:PORT`.
pub fn normalize_api_url(raw: &str) -> Result<String, CliError> {
    let bad = |reason: &str| CliError::BadApiUrl {
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = raw.trim();
    let authority = if let Some(rest) = trimmed.strip_prefix("http://") {
        rest
    } else if trimmed.contains("://") {
        return Err(bad(
            "only http:// is supported (the API is plain HTTP, on loopback by default)",
        ));
    } else {
        trimmed
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.is_empty() || authority.contains('/') || authority.contains('?') {
        return Err(bad("expected http://HOST:PORT or HOST:PORT, without a path"));
    }
    let port = authority
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.contains(']'))
        .ok_or_else(|| bad("no port (the default is 64124)"))?;
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(format!("http://{authority}")),
        _ => Err(bad("the port must be a number from 1 to 65535")),
    }
}

/// Whether the URL's host is this machine (127.0.0.0/8, `::1`, `localhost`).
pub fn is_loopback_url(url: &str) -> bool {
    let authority = url.strip_prefix("http://").unwrap_or(url);
    let host = match authority.rsplit_once(':') {
        Some((host, _)) => host,
        None => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The token in `path`, trimmed; none when it cannot be read or is empty.
pub(crate) fn read_token(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE).read_to_string(&mut text).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_normalized_or_refused_by_name() {
        assert_eq!(normalize_api_url("127.0.0.1:9000").unwrap(), "http://127.0.0.1:9000");
        assert_eq!(
            normalize_api_url("http://127.0.0.1:9000/").unwrap(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(normalize_api_url("http://[::1]:9000").unwrap(), "http://[::1]:9000");
        for bad in [
            "https://h:1",
            "h",
            "http://h:0",
            "http://h:1/api",
            "[::1]",
            "",
            "h:99999",
        ] {
            let err = normalize_api_url(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.to_string().starts_with(&format!("--api {bad}:")), "{err}");
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_url("http://127.0.0.1:1"));
        assert!(is_loopback_url("http://127.5.0.1:1"));
        assert!(is_loopback_url("http://[::1]:1"));
        assert!(is_loopback_url("http://LocalHost:1"));
        assert!(!is_loopback_url("http://10.0.0.1:1"));
        assert!(!is_loopback_url("http://example.org:1"));
    }

    #[test]
    fn flag_beats_env_beats_default_and_tokens_stay_local() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKEN_FILE), "secret\n").unwrap();
        let mut inputs = EndpointInputs {
            state_dir: Some(dir.path().to_path_buf()),
            ..EndpointInputs::default()
        };
        let ep = ApiEndpoint::resolve(&inputs).unwrap();
        assert_eq!(ep.base_url, "http://127.0.0.1:64124");
        assert!(!ep.explicit);
        assert_eq!(ep.token.as_deref(), Some("secret"));

        inputs.api_env = Some("127.0.0.1:7000".into());
        let ep = ApiEndpoint::resolve(&inputs).unwrap();
        assert_eq!((ep.base_url.as_str(), ep.explicit), ("http://127.0.0.1:7000", true));

        inputs.api_flag = Some("http://192.0.2.1:7001".into());
        let ep = ApiEndpoint::resolve(&inputs).unwrap();
        assert_eq!(ep.base_url, "http://192.0.2.1:7001");
        assert_eq!(ep.token, None, "the state dir's token goes only to a local daemon");

        inputs.token_env = Some("from-env".into());
        let ep = ApiEndpoint::resolve(&inputs).unwrap();
        assert_eq!(ep.token.as_deref(), Some("from-env"));
    }

    #[test]
    fn default_state_dir_follows_xdg() {
        assert_eq!(
            default_state_dir(Some(Path::new("/x")), Some(Path::new("/home/u"))),
            PathBuf::from("/x/ccbt")
        );
        assert_eq!(
            default_state_dir(None, Some(Path::new("/home/u"))),
            PathBuf::from("/home/u/.local/share/ccbt")
        );
        // A relative XDG_DATA_HOME is invalid by the spec and ignored.
        assert_eq!(
            default_state_dir(Some(Path::new("rel")), Some(Path::new("/home/u"))),
            PathBuf::from("/home/u/.local/share/ccbt")
        );
    }
}
