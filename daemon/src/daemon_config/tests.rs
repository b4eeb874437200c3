use super::*;

fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
    DaemonConfig::from_toml(text, Path::new("/etc/ccbt/daemon.toml"))
}

fn error(text: &str) -> ConfigError {
    match parse(text) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(e) => e,
    }
}

#[test]
fn no_file_means_the_seedbox_defaults() {
    let config = parse("").unwrap();
    assert_eq!(config, DaemonConfig::default());
    assert_eq!(config.api.listen.to_string(), "127.0.0.1:64124");
    assert_eq!(config.network.listen.to_string(), "0.0.0.0:6881");
    assert_eq!(
        config.queue.active_limits(),
        ActiveLimits {
            downloads: 8,
            seeds: UNLIMITED,
            checks: 2
        }
    );
    assert_eq!(config.seeding.defaults(), SeedLimitDefaults::default());
    assert_eq!(config.hooks.timeout, Duration::from_secs(60));
    assert_eq!(config.hooks.max_concurrent, 4);
    assert_eq!(config.limits.download, None);
}

#[test]
fn a_full_file_reads_every_key() {
    let config = parse(
        r#"
[network]
listen = "0.0.0.0:51413"

[api]
listen = "0.0.0.0:9000"
token = "0123456789abcdef0123"

[storage]
download_dir = "/srv/torrents"
state_dir = "/var/lib/ccbt"

[limits]
download = "10M"
upload = 1048576
alt_download = "512K"
alt_upload = "unlimited"

[limits.alt_schedule]
begin = "22:00"
end = "07:00"
days = ["mon", "fri"]

[queue]
max_active_downloads = 3
max_active_seeds = 10000
max_active_checks = 1

[seeding]
ratio_limit = 2
seed_time_limit = "48h"

[watch]
dir = "/srv/watch"

[hooks]
on_added = "logger added"
on_completed = "/usr/local/bin/done.sh"
on_error = "logger error"
timeout = "2m"
max_concurrent = 8

[session]
shards = 4
"#,
    )
    .unwrap();
    assert_eq!(config.network.listen.port(), 51413);
    assert_eq!(config.api.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(config.api.token.as_deref(), Some("0123456789abcdef0123"));
    assert_eq!(config.storage.download_dir, Some(PathBuf::from("/srv/torrents")));
    assert_eq!(config.storage.state_dir, Some(PathBuf::from("/var/lib/ccbt")));
    assert_eq!(config.limits.download, Some(10 << 20));
    assert_eq!(config.limits.upload, Some(1 << 20));
    assert_eq!(config.limits.alt_download, Some(512 << 10));
    assert_eq!(config.limits.alt_upload, None);
    let schedule = config.limits.alt_schedule.unwrap();
    assert_eq!(schedule.to_schedule().begin, "22:00");
    assert_eq!(schedule.days, vec![Weekday::Mon, Weekday::Fri]);
    assert_eq!(
        config.queue.active_limits(),
        ActiveLimits {
            downloads: 3,
            seeds: 10_000,
            checks: 1
        }
    );
    assert_eq!(config.seeding.ratio_limit, Some(2.0));
    assert_eq!(config.seeding.seed_time_limit, Some(Duration::from_secs(48 * 3600)));
    assert_eq!(config.watch.dir, Some(PathBuf::from("/srv/watch")));
    assert_eq!(config.hooks.on_completed.as_deref(), Some("/usr/local/bin/done.sh"));
    assert_eq!(config.hooks.timeout, Duration::from_secs(120));
    assert_eq!(config.hooks.max_concurrent, 8);
    assert_eq!(config.session.shards, Some(4));
}

#[test]
fn dotted_keys_and_inline_tables_are_the_same_keys() {
    let config = parse("queue.max_active_checks = 5\nseeding = { ratio_limit = 1.5 }\n").unwrap();
    assert_eq!(config.queue.max_active_checks, 5);
    assert_eq!(config.seeding.ratio_limit, Some(1.5));
}

#[test]
fn a_home_relative_path_is_expanded() {
    let home = std::env::var("HOME").unwrap();
    let config = parse("[watch]\ndir = \"~/watch\"\n").unwrap();
    assert_eq!(config.watch.dir, Some(Path::new(&home).join("watch")));
}

#[test]
fn an_unreadable_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let e = DaemonConfig::from_file(&path).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(
        e.to_string().starts_with(&format!("{}: cannot read", path.display())),
        "{e}"
    );
}

#[test]
fn from_file_reads_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ccbt.toml");
    std::fs::write(&path, "[queue]\nmax_active_downloads = 2\n").unwrap();
    assert_eq!(DaemonConfig::from_file(&path).unwrap().queue.max_active_downloads, 2);
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let e = error("[queue]\nmax_active_downloads = = 3\n");
    match &e {
        ConfigError::Syntax { line, column, .. } => {
            assert_eq!(*line, 2);
            assert!(*column > 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().starts_with("/etc/ccbt/daemon.toml:2:"), "{e}");
}

#[test]
fn an_unknown_key_names_the_nearest_valid_key() {
    let e = error("[queue]\nmax_active_downloads = 3\nmax_active_download = 4\n");
    assert_eq!(e.line(), Some(3));
    assert_eq!(e.key(), Some("queue.max_active_download"));
    assert_eq!(
        e.to_string(),
        "/etc/ccbt/daemon.toml:3: unknown key `queue.max_active_download`; did you mean `queue.max_active_downloads`?"
    );
}

#[test]
fn an_unknown_key_in_the_wrong_table_names_its_table() {
    let e = error("\n[queue]\nratio_limit = 2.0\n");
    assert!(
        matches!(&e, ConfigError::UnknownKey { line: 3, nearest: Some(n), .. } if n == "seeding.ratio_limit"),
        "{e:?}"
    );
}

#[test]
fn an_unknown_table_and_a_far_off_key() {
    let e = error("[quue]\nx = 1\n");
    assert!(
        matches!(&e, ConfigError::UnknownKey { line: 1, key, nearest: Some(n), .. } if key == "quue" && n == "queue"),
        "{e:?}"
    );
    let e = error("[hooks]\nfrobnicate = true\n");
    assert!(
        matches!(
            &e,
            ConfigError::UnknownKey {
                line: 2,
                nearest: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "/etc/ccbt/daemon.toml:2: unknown key `hooks.frobnicate`");
}

#[test]
fn the_first_unknown_key_in_the_file_is_reported() {
    let e = error("[watch]\nzzz = 1\naaa = 2\n");
    assert_eq!(e.key(), Some("watch.zzz"));
}

#[test]
fn a_wrong_type_names_key_and_types() {
    let e = error("[queue]\n\nmax_active_checks = \"two\"\n");
    assert_eq!(
        e.to_string(),
        "/etc/ccbt/daemon.toml:3: `queue.max_active_checks` must be an integer or \"unlimited\", not string"
    );
    let e = error("[session]\nshards = 2.5\n");
    assert!(
        matches!(
            &e,
            ConfigError::WrongType {
                line: 2,
                expected: "an integer",
                found: "float",
                ..
            }
        ),
        "{e:?}"
    );
    let e = error("queue = 3\n");
    assert!(
        matches!(&e, ConfigError::WrongType { key, expected: "a table", .. } if key == "queue"),
        "{e:?}"
    );
    let e = error("[limits.alt_schedule]\nbegin = \"22:00\"\nend = \"07:00\"\ndays = [\"mon\", 2]\n");
    assert_eq!(e.key(), Some("limits.alt_schedule.days"));
    assert!(matches!(e, ConfigError::WrongType { line: 4, .. }));
    let e = error("[seeding]\nratio_limit = true\n");
    assert_eq!(
        e.to_string(),
        "/etc/ccbt/daemon.toml:2: `seeding.ratio_limit` must be a number or \"unlimited\", not boolean"
    );
    let e = error("[api]\ntoken = 1234\n");
    assert!(matches!(e, ConfigError::WrongType { .. }));
}

#[test]
fn an_out_of_range_value_names_key_value_and_range() {
    let e = error("[session]\nshards = 0\n");
    assert_eq!(
        e.to_string(),
        "/etc/ccbt/daemon.toml:2: `session.shards` = 0 is out of range: 1 to 256"
    );
    for (text, key) in [
        ("[queue]\nmax_active_seeds = -1\n", "queue.max_active_seeds"),
        (
            "[queue]\nmax_active_downloads = 99999999999999999999999\n",
            "queue.max_active_downloads",
        ),
        ("[seeding]\nratio_limit = -0.5\n", "seeding.ratio_limit"),
        ("[seeding]\nratio_limit = nan\n", "seeding.ratio_limit"),
        ("[hooks]\ntimeout = \"0s\"\n", "hooks.timeout"),
        ("[hooks]\nmax_concurrent = 1000\n", "hooks.max_concurrent"),
        ("[limits]\nupload = -1\n", "limits.upload"),
    ] {
        let e = error(text);
        assert!(matches!(e, ConfigError::OutOfRange { line: 2, .. }), "{text}: {e:?}");
        assert_eq!(e.key(), Some(key), "{text}");
    }
}

#[test]
fn a_bad_value_names_key_and_value() {
    for (text, key, needle) in [
        (
            "[limits]\ndownload = \"10Q\"\n",
            "limits.download",
            "'10Q' is not a rate",
        ),
        (
            "[seeding]\nseed_time_limit = \"2 weeks\"\n",
            "seeding.seed_time_limit",
            "'2 weeks' is not a duration",
        ),
        (
            "[network]\nlisten = \"localhost\"\n",
            "network.listen",
            "'localhost' is not an address",
        ),
        (
            "[limits.alt_schedule]\nbegin = \"25:00\"\nend = \"07:00\"\n",
            "limits.alt_schedule.begin",
            "'25:00'",
        ),
        (
            "[limits.alt_schedule]\nbegin = \"22:00\"\nend = \"07:00\"\ndays = [\"moon\"]\n",
            "limits.alt_schedule.days",
            "'moon' is not a day",
        ),
        ("[api]\ntoken = \"short\"\n", "api.token", "at least 16 characters"),
        ("[hooks]\non_added = \"  \"\n", "hooks.on_added", "empty command"),
        ("[storage]\nstate_dir = \"\"\n", "storage.state_dir", "empty path"),
    ] {
        let e = error(text);
        assert!(matches!(e, ConfigError::BadValue { .. }), "{text}: {e:?}");
        assert_eq!(e.key(), Some(key), "{text}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

#[test]
fn a_missing_schedule_key_names_it() {
    let e = error("\n[limits.alt_schedule]\nbegin = \"22:00\"\n");
    assert!(
        matches!(&e, ConfigError::MissingKey { key, .. } if key == "limits.alt_schedule.end"),
        "{e:?}"
    );
}

#[test]
fn a_public_api_address_needs_a_token() {
    let e = error("[api]\nlisten = \"0.0.0.0:64124\"\n");
    assert_eq!(e.key(), Some("api.listen"));
    assert!(e.to_string().contains("set `api.token`"), "{e}");
    // The order of the keys in the table does not matter.
    let config = parse("[api]\nlisten = \"[::]:64124\"\ntoken = \"abcdefghijklmnopqrstuvwxyz\"\n").unwrap();
    assert!(config.api.token.is_some());
    assert!(parse("[api]\nlisten = \"[::1]:1234\"\n").is_ok());
}

#[test]
fn zero_and_unlimited_rates_mean_no_limit() {
    let config = parse("[limits]\ndownload = 0\nupload = \"none\"\n").unwrap();
    assert_eq!((config.limits.download, config.limits.upload), (None, None));
    let config = parse("[queue]\nmax_active_downloads = \"unlimited\"\n").unwrap();
    assert_eq!(config.queue.max_active_downloads, UNLIMITED);
}

/// The example in the module docs; with `switch_on`, every commented-out key too.
fn documented_example(switch_on: bool) -> String {
    include_str!("../daemon_config.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .skip_while(|l| !l.starts_with("```toml"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if switch_on && rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '[') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_documented_example_is_the_defaults() {
    let example = documented_example(false);
    assert!(example.contains("[hooks]"), "{example}");
    assert_eq!(parse(&example).unwrap(), DaemonConfig::default());
}

#[test]
fn the_documented_example_with_every_key_on_is_valid() {
    let config = parse(&documented_example(true)).unwrap();
    assert_eq!(config.limits.in_force(false).download, Some(10 << 20));
    assert_eq!(
        config.limits.in_force(true),
        RateLimits {
            download: Some(1 << 20),
            upload: Some(1 << 20)
        }
    );
    assert_eq!(config.limits.alt_schedule.map(|s| s.days.len()), Some(5));
    assert_eq!(config.seeding.ratio_limit, Some(2.0));
    assert!(config.api.token.is_some());
    assert!(config.hooks.on_error.unwrap().contains("$CCBT_ERROR"));
    assert_eq!(config.session.shards, Some(4));
}

#[test]
fn transmission_credentials_come_as_a_pair() {
    let config = parse("[api.transmission]\nusername = \"sonarr\"\npassword = \"s3cret\"\n").unwrap();
    let creds = config.api.transmission.unwrap();
    assert!(creds.matches("sonarr", "s3cret"));
    let e = error("[api.transmission]\nusername = \"sonarr\"\n");
    assert!(
        matches!(&e, ConfigError::MissingKey { key, .. } if key == "api.transmission.password"),
        "{e:?}"
    );
    let e = error("[api.transmission]\npassword = \"x\"\n");
    assert!(
        matches!(&e, ConfigError::MissingKey { key, .. } if key == "api.transmission.username"),
        "{e:?}"
    );
    let e = error("[api.transmission]\nusername = \"a:b\"\npassword = \"x\"\n");
    assert_eq!(e.key(), Some("api.transmission.username"));
    let e = error("[api.transmission]\nusername = \"a\"\npassword = \"\"\n");
    assert_eq!(e.key(), Some("api.transmission.password"));
    let e = error("[api.transmission]\nuser = \"a\"\n");
    assert!(e.to_string().contains("unknown key `api.transmission.user`"), "{e}");
    assert_eq!(parse("").unwrap().api.transmission, None);
}

#[test]
fn extra_api_addresses_follow_the_main_ones_rules() {
    let config = parse("[api]\nextra_listen = [\"127.0.0.1:9091\", \"[::1]:9091\"]\n").unwrap();
    assert_eq!(
        config.api.extra_listen,
        vec![
            "127.0.0.1:9091".parse::<SocketAddr>().unwrap(),
            "[::1]:9091".parse::<SocketAddr>().unwrap()
        ]
    );
    let e = error("[api]\nextra_listen = [\"0.0.0.0:9091\"]\n");
    assert_eq!(e.key(), Some("api.extra_listen"));
    assert!(e.to_string().contains("set `api.token`"), "{e}");
    assert!(parse("[api]\ntoken = \"abcdefghijklmnopqrstuvwxyz\"\nextra_listen = [\"0.0.0.0:9091\"]\n").is_ok());
    let e = error("[api]\nextra_listen = [\"localhost:9091\"]\n");
    assert!(e.to_string().contains("not an IP ADDRESS:PORT"), "{e}");
    let e = error("[api]\nextra_listen = [\"127.0.0.1:64124\"]\n");
    assert!(e.to_string().contains("listed twice"), "{e}");
    let e = error("[api]\nextra_listen = \"127.0.0.1:9091\"\n");
    assert_eq!(e.key(), Some("api.extra_listen"));
}

#[test]
fn lsd_and_pex_are_on_by_default_and_can_be_turned_off() {
    let config = DaemonConfig::from_toml("", Path::new("ccbt.toml")).unwrap();
    assert!(config.lsd.enabled && config.pex.enabled);
    let config = DaemonConfig::from_toml(
        "[lsd]\nenabled = false\n[pex]\nenabled = false\n",
        Path::new("ccbt.toml"),
    )
    .unwrap();
    assert!(!config.lsd.enabled && !config.pex.enabled);
    let err = DaemonConfig::from_toml("[lsd]\nenabled = \"yes\"\n", Path::new("ccbt.toml")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("enabled") && text.contains("true or false"), "{text}");
    let err = DaemonConfig::from_toml("[pex]\nenable = true\n", Path::new("ccbt.toml")).unwrap_err();
    assert!(err.to_string().contains("enable"), "{err}");
}

#[test]
fn dht_table_defaults_and_checks() {
    let path = std::path::Path::new("ccbt.toml");
    let c = DaemonConfig::from_toml("", path).unwrap();
    assert!(c.dht.enabled);
    assert_eq!(c.dht.port, None);
    assert!(c.dht.bootstrap.iter().any(|b| b == "router.bittorrent.com:6881"));
    let c = DaemonConfig::from_toml(
        "[dht]\nenabled = false\nport = 7000\nbootstrap = [\"127.0.0.1:6000\", \"node.example:6881\"]\n",
        path,
    )
    .unwrap();
    assert_eq!(
        c.dht,
        DhtConfig {
            enabled: false,
            port: Some(7000),
            bootstrap: vec!["127.0.0.1:6000".into(), "node.example:6881".into()],
        }
    );
    let err = DaemonConfig::from_toml("[dht]\nbootstrap = [\"nohost\"]\n", path).unwrap_err();
    assert!(err.to_string().contains("bootstrap"), "{err}");
    let err = DaemonConfig::from_toml("[dht]\nport = 70000\n", path).unwrap_err();
    assert!(err.to_string().contains("port"), "{err}");
    let err = DaemonConfig::from_toml("[dht]\nenabled = \"yes\"\n", path).unwrap_err();
    assert!(err.to_string().contains("enabled"), "{err}");
}

#[test]
fn the_schema_and_the_registry_list_the_same_keys() {
    use ccbt_engine::config_model::{all_keys, table_names};
    use std::collections::BTreeSet;
    let schema_tables: BTreeSet<&str> = SCHEMA.iter().map(|(t, _)| *t).collect();
    let registry_tables: BTreeSet<&str> = table_names().into_iter().collect();
    assert_eq!(
        schema_tables, registry_tables,
        "daemon_config.rs SCHEMA and engine/src/config_model/keys.rs disagree on the tables"
    );
    let dotted = |t: &str, k: &str| {
        if t.is_empty() {
            k.to_string()
        } else {
            format!("{t}.{k}")
        }
    };
    let schema_keys: BTreeSet<String> = SCHEMA
        .iter()
        .flat_map(|(t, keys)| keys.iter().map(move |k| dotted(t, k)))
        .filter(|k| !schema_tables.contains(k.as_str()))
        .collect();
    let registry_keys: BTreeSet<String> = all_keys().map(|k| k.path.to_string()).collect();
    assert_eq!(
        schema_keys, registry_keys,
        "daemon_config.rs SCHEMA and engine/src/config_model/keys.rs disagree on the keys"
    );
}

#[test]
fn the_registry_defaults_are_the_defaults() {
    use ccbt_engine::config_model::all_keys;
    let config = DaemonConfig::default();
    let mut wrong = Vec::new();
    for key in all_keys() {
        let value = config.effective_value(key.path).unwrap();
        // A default said in words ("(one per core)") is an unset value here.
        if key.default.starts_with('(') {
            if !(value.is_null() || key.path == "dht.bootstrap") {
                wrong.push(format!("{}: {value} is not unset", key.path));
            }
            continue;
        }
        let text = effective::value_text(&value);
        let documented = key.default.trim_matches(|c| c == '[' || c == ']');
        if text != documented {
            wrong.push(format!("{}: effective {text:?}, documented {documented:?}", key.path));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn both_credential_tables_follow_one_rule() {
    for table in ["api.transmission", "api.qbittorrent"] {
        let e = error(&format!("[{table}]\nusername = \"u\"\n"));
        assert!(
            matches!(&e, ConfigError::MissingKey { key, .. } if *key == format!("{table}.password")),
            "{e:?}"
        );
        let e = error(&format!("[{table}]\nusername = \"a\\u0001\"\npassword = \"p\"\n"));
        assert_eq!(e.key(), Some(format!("{table}.username").as_str()));
        let e = error(&format!("[{table}]\nusername = \"a\"\npassword = \"\"\n"));
        assert!(e.to_string().contains("an empty password"), "{e}");
    }
    // Only HTTP Basic (Transmission) cannot carry a ':' in the username.
    let e = error("[api.transmission]\nusername = \"a:b\"\npassword = \"p\"\n");
    assert!(e.to_string().contains("nor ':'"), "{e}");
    assert!(parse("[api.qbittorrent]\nusername = \"a:b\"\npassword = \"p\"\n").is_ok());
}

#[test]
fn redial_keys_shorten_the_back_off() {
    let config = parse("[redial]\nbase_ms = 200\nmax_ms = 1000\n").unwrap();
    let policy = config.redial.policy();
    assert_eq!(policy.base, Duration::from_millis(200));
    assert_eq!(
        (policy.max, policy.pinned_max),
        (Duration::from_millis(1000), Duration::from_millis(1000))
    );
    assert_eq!(
        DaemonConfig::default().redial.policy(),
        ccbt_engine::peer_book::RedialPolicy::default()
    );
    assert_eq!(error("[redial]\nbase_ms = 0\n").key(), Some("redial.base_ms"));
}
