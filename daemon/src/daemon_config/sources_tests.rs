use super::*;
use ccbt_engine::config_model::all_keys;

fn inputs(dir: &Path, file_text: Option<&str>) -> ConfigInputs {
    let file = file_text.map(|text| {
        let path = dir.join("ccbt.toml");
        std::fs::write(&path, text).unwrap();
        path
    });
    ConfigInputs {
        file,
        env: Vec::new(),
        flags: Vec::new(),
        default_state_dir: dir.join("state"),
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn no_source_at_all_is_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&inputs(dir.path(), None)).unwrap();
    assert_eq!(loaded.config, DaemonConfig::default());
    assert_eq!(loaded.provenance.source_of("limits.download"), ValueSource::Default);
    assert_eq!(loaded.state_dir, dir.path().join("state"));
}

#[test]
fn each_source_beats_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[limits]\ndownload = \"1M\"\nupload = \"2M\"\n\n[queue]\nmax_active_checks = 3\n";
    let mut i = inputs(dir.path(), Some(text));
    // The file alone.
    let loaded = load(&i).unwrap();
    assert_eq!(loaded.config.limits.download, Some(1 << 20));
    let file = dir.path().join("ccbt.toml").display().to_string();
    assert_eq!(
        loaded.provenance.source_of("limits.upload").to_string(),
        format!("file:{file}:3")
    );
    // The environment over the file.
    i.env = env(&[
        ("CCBT_LIMITS_DOWNLOAD", "3M"),
        ("CCBT_QUEUE_MAX_ACTIVE_CHECKS", "4"),
        ("CCBT_API", "http://127.0.0.1:1"),
        ("HOME", "/root"),
    ]);
    let loaded = load(&i).unwrap();
    assert_eq!(loaded.config.limits.download, Some(3 << 20));
    assert_eq!(loaded.config.limits.upload, Some(2 << 20));
    assert_eq!(loaded.config.queue.max_active_checks, 4);
    assert_eq!(
        loaded.provenance.source_of("limits.download").to_string(),
        "env:CCBT_LIMITS_DOWNLOAD"
    );
    // A flag over the environment.
    i.flags = vec![FlagValue {
        flag: "--max-download",
        key: "limits.download",
        value: RawValue::String("5M".into()),
    }];
    let loaded = load(&i).unwrap();
    assert_eq!(loaded.config.limits.download, Some(5 << 20));
    assert_eq!(
        loaded.provenance.source_of("limits.download").to_string(),
        "flag:--max-download"
    );
    // A runtime override over everything.
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(
        dir.path().join("state").join(OVERRIDES_FILE),
        "limits.download = \"7M\"\n",
    )
    .unwrap();
    let loaded = load(&i).unwrap();
    assert_eq!(loaded.config.limits.download, Some(7 << 20));
    assert_eq!(loaded.provenance.source_of("limits.download"), ValueSource::Runtime);
    assert_eq!(loaded.config.limits.upload, Some(2 << 20));
}

#[test]
fn a_bad_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut i = inputs(dir.path(), None);
    i.env = env(&[("CCBT_LIMITS_DOWNLOAD", "10Q")]);
    let e = load(&i).unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable CCBT_LIMITS_DOWNLOAD (`limits.download`): `limits.download`: \
         '10Q' is not a rate (examples: 65536, 512K, 10M, 1.5G)"
    );
    i.env = env(&[("CCBT_SESSION_SHARDS", "many")]);
    let e = load(&i).unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable CCBT_SESSION_SHARDS (`session.shards`): 'many' is not an integer"
    );
    i.env = env(&[("CCBT_SESSION_SHARDS", "0")]);
    let e = load(&i).unwrap_err();
    assert!(e.to_string().contains("out of range: 1 to 256"), "{e}");
}

#[test]
fn a_mistyped_variable_is_a_warning_naming_the_one_meant() {
    let dir = tempfile::tempdir().unwrap();
    let mut i = inputs(dir.path(), None);
    i.env = env(&[("CCBT_LIMITS_DOWNLAOD", "1M")]);
    let loaded = load(&i).unwrap();
    assert_eq!(loaded.config.limits.download, None);
    assert_eq!(
        loaded.warnings,
        vec!["CCBT_LIMITS_DOWNLAOD sets no config key; did you mean CCBT_LIMITS_DOWNLOAD?".to_string()]
    );
}

#[test]
fn one_key_of_a_pair_from_the_environment_keeps_the_other_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut i = inputs(
        dir.path(),
        Some("[limits.alt_schedule]\nbegin = \"22:00\"\nend = \"07:00\"\n[api.transmission]\nusername = \"u\"\npassword = \"p\"\n"),
    );
    i.env = env(&[
        ("CCBT_LIMITS_ALT_SCHEDULE_END", "06:30"),
        ("CCBT_API_TRANSMISSION_PASSWORD", "other"),
    ]);
    let loaded = load(&i).unwrap();
    let schedule = loaded.config.limits.alt_schedule.unwrap().to_schedule();
    assert_eq!((schedule.begin.as_str(), schedule.end.as_str()), ("22:00", "06:30"));
    assert!(loaded.config.api.transmission.unwrap().matches("u", "other"));
    assert_eq!(
        loaded.provenance.source_of("limits.alt_schedule.begin").to_string(),
        format!("file:{}:2", dir.path().join("ccbt.toml").display())
    );
}

#[test]
fn lists_come_comma_separated() {
    let dir = tempfile::tempdir().unwrap();
    let mut i = inputs(dir.path(), None);
    i.env = env(&[("CCBT_DHT_BOOTSTRAP", "127.0.0.1:6000, 127.0.0.1:6001")]);
    let loaded = load(&i).unwrap();
    assert_eq!(loaded.config.dht.bootstrap, vec!["127.0.0.1:6000", "127.0.0.1:6001"]);
}

#[test]
fn the_file_is_found_in_the_usual_places_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (cwd, xdg, home) = (dir.path().join("cwd"), dir.path().join("xdg"), dir.path().join("home"));
    for d in [&cwd, &xdg.join("ccbt"), &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    assert_eq!(find_config_file(&cwd, Some(&xdg), Some(&home)), None);
    std::fs::write(home.join(".ccbt.toml"), "").unwrap();
    assert_eq!(
        find_config_file(&cwd, Some(&xdg), Some(&home)),
        Some(home.join(".ccbt.toml"))
    );
    std::fs::write(xdg.join("ccbt").join("ccbt.toml"), "").unwrap();
    assert_eq!(
        find_config_file(&cwd, Some(&xdg), Some(&home)),
        Some(xdg.join("ccbt").join("ccbt.toml"))
    );
    // A relative XDG_CONFIG_HOME is ignored, as the spec says.
    assert_eq!(
        find_config_file(&cwd, Some(Path::new("xdg")), Some(&home)),
        Some(home.join(".ccbt.toml"))
    );
    std::fs::write(cwd.join("ccbt.toml"), "").unwrap();
    assert_eq!(
        find_config_file(&cwd, Some(&xdg), Some(&home)),
        Some(cwd.join("ccbt.toml"))
    );
}

#[test]
fn overrides_are_written_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(OVERRIDES_FILE);
    let mut overrides = BTreeMap::new();
    overrides.insert("limits.download".to_string(), RawValue::String("5M".into()));
    overrides.insert("queue.max_active_checks".to_string(), RawValue::Integer(3));
    overrides.insert(
        "limits.alt_schedule.days".to_string(),
        RawValue::List(vec!["mon".into()]),
    );
    std::fs::write(&path, overrides_text(&overrides)).unwrap();
    // A schedule's days alone do not read (begin and end are needed).
    assert!(read_overrides(&path).is_err());
    overrides.remove("limits.alt_schedule.days");
    std::fs::write(&path, overrides_text(&overrides)).unwrap();
    assert_eq!(read_overrides(&path).unwrap(), overrides);
    assert!(read_overrides(&dir.path().join("none.toml")).unwrap().is_empty());
}

#[test]
fn changes_are_sorted_into_live_and_restart() {
    let old = DaemonConfig::default();
    let mut new = old.clone();
    new.limits.download = Some(1);
    new.session.shards = Some(2);
    new.api.token = Some("0123456789abcdefgh".into());
    let changed = changed_keys(&old, &new);
    assert_eq!(
        changed,
        vec![
            ("api.token", Reload::Restart),
            ("limits.download", Reload::Live),
            ("session.shards", Reload::Restart)
        ]
    );
}

#[test]
fn every_registered_key_has_an_effective_value() {
    let config = DaemonConfig::default();
    for key in all_keys() {
        assert!(
            config.effective_value(key.path).is_some(),
            "{}: add it to daemon_config/effective.rs",
            key.path
        );
    }
}
