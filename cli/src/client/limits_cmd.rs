//! `btbt limits [--down RATE] [--up RATE]`: the session's global rate limits.

use ccbt_daemon::api_types::{LimitSetting, SessionInfo, SessionPatch};

use super::api_client::{ApiClient, Method};
use super::table;
use crate::error::CliError;

pub fn render_limits(s: &SessionInfo) -> String {
    let settings = &s.settings;
    let mut out = format!(
        "download  {}\nupload    {}\n",
        table::limit(settings.download_limit),
        table::limit(settings.upload_limit)
    );
    if settings.alt_download_limit.is_some() || settings.alt_upload_limit.is_some() || settings.alt_speed_enabled {
        out.push_str(&format!(
            "alternative limits {} (download {}, upload {})\n",
            if settings.alt_speed_active { "in effect" } else { "off" },
            table::limit(settings.alt_download_limit),
            table::limit(settings.alt_upload_limit)
        ));
    }
    out
}

/// The patch as JSON without its unset fields. `SessionPatch` writes an unset
/// `alt_speed_schedule` as `null`, which the API reads as "clear the schedule";
/// absent means "unchanged" for every field.
pub(crate) fn without_nulls(patch: &SessionPatch) -> serde_json::Value {
    match serde_json::to_value(patch) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.retain(|_, v| !v.is_null());
            serde_json::Value::Object(fields)
        }
        Ok(other) => other,
        Err(_) => serde_json::Value::Object(serde_json::Map::new()),
    }
}

/// No flag prints the limits; `--down`/`--up` change them live, then print them.
pub fn limits(
    client: &ApiClient,
    down: Option<LimitSetting<u64>>,
    up: Option<LimitSetting<u64>>,
    json: bool,
) -> Result<(), CliError> {
    let info: serde_json::Value = if down.is_none() && up.is_none() {
        client.get("/session")?
    } else {
        let patch = SessionPatch {
            download_limit: down,
            upload_limit: up,
            ..SessionPatch::default()
        };
        client.send(Method::Patch, "/session", Some(&without_nulls(&patch)))?
    };
    if json {
        println!("{info}");
        return Ok(());
    }
    let info: SessionInfo = serde_json::from_value(info).map_err(|e| CliError::BadResponse {
        url: format!("{}/api/v1/session", client.endpoint().base_url),
        reason: format!("unexpected answer: {e}"),
    })?;
    print!("{}", render_limits(&info));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_daemon::api_types::SessionSettings;

    #[test]
    fn a_limits_patch_never_clears_the_schedule() {
        let patch = SessionPatch {
            download_limit: Some(LimitSetting::Value(1 << 20)),
            ..SessionPatch::default()
        };
        assert_eq!(without_nulls(&patch), serde_json::json!({"download_limit": 1048576}));
    }

    #[test]
    fn limits_golden() {
        let mut info = SessionInfo {
            version: "0.1.0".into(),
            api_version: 1,
            pid: 42,
            api_url: "http://127.0.0.1:64124".into(),
            listen: "0.0.0.0:6881".into(),
            state_dir: "/s".into(),
            download_dir: "/d".into(),
            shards: 2,
            uptime_secs: 5,
            settings: SessionSettings {
                download_limit: Some(10_000_000),
                upload_limit: None,
                alt_download_limit: None,
                alt_upload_limit: None,
                alt_speed_enabled: false,
                alt_speed_schedule: None,
                alt_speed_active: false,
                max_active_downloads: 3,
                max_active_seeds: 1000,
                max_active_checks: 1,
                ratio_limit: None,
                seed_time_limit_secs: None,
                idle_limit_secs: None,
                watch_dir: None,
            },
        };
        assert_eq!(render_limits(&info), "download  10.0 MB/s\nupload    unlimited\n");
        info.settings.alt_upload_limit = Some(100_000);
        info.settings.alt_speed_active = true;
        assert_eq!(
            render_limits(&info),
            "download  10.0 MB/s\nupload    unlimited\nalternative limits in effect (download unlimited, upload 100.0 kB/s)\n"
        );
    }
}
