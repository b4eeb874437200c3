//! `ccbt-bench`: the benchmark harness. See `ccbt-bench --help`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ccbt_bench::micro;
use ccbt_bench::participant::{catch, Contestant, Env};
use ccbt_bench::report::ScenarioResult;
use ccbt_bench::scenario::{Config, Harness, ScenarioKind, Sizes};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "ccbt-bench",
    version,
    about = "Benchmarks ccbt against real BitTorrent clients on loopback, in one run",
    long_about = "Benchmarks ccbt against real BitTorrent clients on loopback, in one run.\n\n\
        Scenarios: download (a fixed seeder sends a single-file and a many-file torrent to each \
        contestant), seed (each contestant seeds to a fixed downloader), fanout (one seeder, N \
        downloaders at once), many (a seeder loading 1,000 and 10,000 torrents), restart (a daemon \
        seeding 10,000 torrents is killed with SIGKILL and restarted: time until all seed again, \
        against a full recheck and against libtorrent restarting from its resume data), magnet (time to \
        metadata and to the first verified piece from a magnet, against libtorrent and rqbit), maindata \
        (qBittorrent `sync/maindata` at 10,000 torrents: a full answer, then incremental ones), metrics \
        (`GET /metrics` at 10,000 torrents, per-torrent series off). Every contestant \
        is a separate process measured from outside (/proc): wall time, MB/s, CPU seconds, \
        CPU-s/GiB, peak RSS; median and spread over the repeats, and ccbt / peer ratios.\n\n\
        Output: markdown on stdout, progress on stderr, JSON in --json-out. Exit status: 0 when \
        every ccbt run completed and verified, 3 when one did not, 1 on a harness error.\n\n\
        Build first: cargo build --release -p ccbt-cli -p ccbt-bench"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Reduced sizes, contestants and repeats: about two minutes
    #[arg(long)]
    quick: bool,
    /// Scenarios to run (repeatable or comma-separated): download, seed, fanout, many, restart, magnet, maindata, metrics
    /// [default: all]
    #[arg(long = "scenario", value_delimiter = ',')]
    scenarios: Vec<String>,
    /// The fixed seeder of the download scenario
    #[arg(long, default_value = "libtorrent")]
    seeder: String,
    /// The fixed downloader of the seed, fanout and many scenarios
    #[arg(long, default_value = "libtorrent")]
    downloader: String,
    /// Contestants (comma-separated: ccbt, libtorrent, rqbit, transmission, aria2, qbittorrent)
    /// [default: per scenario]
    #[arg(long, value_delimiter = ',')]
    contestants: Vec<String>,
    /// Runs per contestant [default: 3, or 1 with --quick]
    #[arg(long)]
    repeats: Option<usize>,
    /// Downloaders in the fanout scenario
    #[arg(long, default_value_t = 8)]
    fanout: usize,
    /// Size of the single-file torrent [default: 4G, quick 256M]
    #[arg(long, value_parser = parse_size)]
    single_size: Option<u64>,
    /// Size of the many-file torrent [default: 1G, quick 64M]
    #[arg(long, value_parser = parse_size)]
    multi_size: Option<u64>,
    /// Size of the seed scenario's single-file torrent [default: 1G, quick 256M]
    #[arg(long, value_parser = parse_size)]
    seed_size: Option<u64>,
    /// Size of the fanout torrent (each downloader gets all of it) [default: 256M, quick 128M]
    #[arg(long, value_parser = parse_size)]
    fanout_size: Option<u64>,
    /// Torrent counts of the many scenario (comma-separated) [default: 1000,10000, quick 100]
    #[arg(long = "many", value_delimiter = ',')]
    many_counts: Vec<usize>,
    /// Torrents the restart scenario's daemon holds [default: 10000, quick 1000]
    #[arg(long)]
    restart_count: Option<usize>,
    /// Time limit of one transfer in seconds [default: 20 s + size at 40 MB/s, at least 45 s]
    #[arg(long)]
    run_timeout: Option<f64>,
    /// Seconds a client may take to start (and a seeder to recheck, plus size at 50 MB/s)
    #[arg(long, default_value_t = 60.0)]
    start_timeout: f64,
    /// Skip checking each downloaded copy against its piece hashes
    #[arg(long)]
    no_verify: bool,
    /// Where data sets are generated once and reused [default: target/bench-data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The JSON results file [default: target/bench-results.json]
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// The ccbt binary [default: next to ccbt-bench]
    #[arg(long)]
    ccbt: Option<PathBuf>,
    /// The btbt binary (torrent creation, verification) [default: next to ccbt-bench]
    #[arg(long)]
    btbt: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Micro-benchmarks: bencode, wire framing, piece picker, SHA-1, piece-to-file mapping
    Micro {
        /// Runs per benchmark (the median is reported)
        #[arg(long, default_value_t = 9)]
        runs: usize,
        /// Only benchmarks whose name contains this
        #[arg(long)]
        filter: Option<String>,
        /// The JSON results file [default: target/bench-micro.json]
        #[arg(long)]
        json_out: Option<PathBuf>,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult: u64 = match s[i..].to_ascii_lowercase().as_str() {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                other => return Err(format!("unknown size unit {other:?} (K, M, G)")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| format!("bad size {s:?}"))?;
    if n.is_nan() || n <= 0.0 {
        return Err(format!("size must be positive: {s:?}"));
    }
    Ok((n * mult as f64) as u64)
}

/// `target/` of the build this binary comes from (`target/release/ccbt-bench`).
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().and_then(Path::parent).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn main() {
    let args = Args::parse();
    // The client drivers report failures by panicking; those are caught and
    // reported as failed runs, so the default hook's backtrace noise is muted.
    std::panic::set_hook(Box::new(|_| {}));
    let code = match catch("ccbt-bench", || run(args)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) | Err(e) => {
            eprintln!("ccbt-bench: error: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(v).map_err(|e| format!("JSON: {e}"))?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default().trim().to_string()
}

fn run(args: Args) -> Result<i32, String> {
    if let Some(Cmd::Micro { runs, filter, json_out }) = args.command {
        let results = micro::run_all(runs, filter.as_deref());
        if results.is_empty() {
            return Err(format!("no micro-benchmark matches {:?}", filter.unwrap_or_default()));
        }
        println!("{}", micro::markdown(&results));
        let path = json_out.unwrap_or_else(|| target_dir().join("bench-micro.json"));
        write_json(
            &path,
            &json!({
                "tool": "ccbt-bench micro",
                "unix_time": now_unix(),
                "kernel": read_trim("/proc/sys/kernel/osrelease"),
                "loadavg": read_trim("/proc/loadavg"),
                "results": results,
            }),
        )?;
        eprintln!("ccbt-bench: wrote {}", path.display());
        return Ok(0);
    }

    let quick = args.quick;
    let scenarios = if args.scenarios.is_empty() {
        ScenarioKind::ALL.to_vec()
    } else {
        let mut v = args
            .scenarios
            .iter()
            .map(|s| ScenarioKind::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        v.dedup();
        v
    };
    let contestants = if args.contestants.is_empty() {
        None
    } else {
        Some(
            args.contestants
                .iter()
                .map(|s| Contestant::parse(s))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let mut sizes = if quick { Sizes::quick() } else { Sizes::full() };
    if let Some(s) = args.single_size {
        sizes.single = s;
    }
    if let Some(s) = args.multi_size {
        sizes.multi = s;
    }
    if let Some(s) = args.seed_size {
        sizes.seed = s;
    }
    if let Some(s) = args.fanout_size {
        sizes.fanout = s;
    }
    if !args.many_counts.is_empty() {
        if args.many_counts.iter().any(|n| *n == 0 || *n > 100_000) {
            return Err("--many: counts must be 1..=100000".into());
        }
        sizes.many_counts = args.many_counts.clone();
    }
    if let Some(n) = args.restart_count {
        if !(2..=100_000).contains(&n) {
            return Err("--restart-count must be 2..=100000".into());
        }
        sizes.restart_count = n;
    }
    if args.fanout == 0 || args.fanout > 200 {
        return Err("--fanout must be 1..=200".into());
    }
    let target = target_dir();
    let ccbt = args.ccbt.clone().unwrap_or_else(|| sibling("ccbt"));
    let btbt = args.btbt.clone().unwrap_or_else(|| sibling("btbt"));
    for (name, p) in [("ccbt", &ccbt), ("btbt", &btbt)] {
        if !p.is_file() {
            return Err(format!(
                "{name} not found at {} (cargo build --release -p ccbt-cli, or --{name} PATH)",
                p.display()
            ));
        }
    }
    let work = target.join("bench-work");
    ccbt_bench::util::remove_tree(&work);
    std::fs::create_dir_all(work.join("profiles")).map_err(|e| format!("{}: {e}", work.display()))?;
    let cfg = Config {
        quick,
        scenarios,
        repeats: args.repeats.unwrap_or(if quick { 1 } else { 3 }).max(1),
        seeder: Contestant::parse(&args.seeder)?,
        downloader: Contestant::parse(&args.downloader)?,
        contestants,
        fanout: args.fanout,
        sizes,
        run_timeout: args.run_timeout.map(Duration::from_secs_f64),
        verify: !args.no_verify,
        data_dir: args.data_dir.clone().unwrap_or_else(|| target.join("bench-data")),
        btbt,
    };
    let env = Env {
        ccbt,
        work: work.clone(),
        start_timeout: Duration::from_secs_f64(args.start_timeout.max(1.0)),
    };
    let json_out = args
        .json_out
        .clone()
        .unwrap_or_else(|| target.join("bench-results.json"));
    let started = Instant::now();
    let load_start = read_trim("/proc/loadavg");
    let mut h = Harness::new(cfg.clone(), env);
    let all = h.all_contestants();
    h.probe(&all);

    println!("## ccbt-bench{}\n", if quick { " --quick" } else { "" });
    println!(
        "{} cores, kernel {}, load average at start {}; {} repeat(s); all traffic on 127.0.0.1.",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        read_trim("/proc/sys/kernel/osrelease"),
        load_start.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        cfg.repeats
    );
    println!(
        "MB/s = 10^6 bytes/s of payload. CPU = user+sys of the measured process from /proc/PID/stat; \
         peak RSS = VmHWM. Data sets live in {} and stay in the page cache between runs (warm; \
         per-run fincore figures are in the JSON).\n",
        cfg.data_dir.display()
    );
    for (name, v) in &h.versions {
        println!("- {name}: {v}");
    }
    for (name, e) in &h.unavailable {
        println!("- {name}: unavailable ({})", ccbt_bench::report::truncate(e, 120));
    }
    println!();

    let mut partial: Vec<serde_json::Value> = Vec::new();
    let results = h.run(|sc: &ScenarioResult| {
        println!("{}", sc.markdown());
        partial.push(serde_json::to_value(sc).unwrap_or(serde_json::Value::Null));
    });
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            // Keep what finished before the failure.
            let _ = write_json(&json_out, &json!({ "error": e, "scenarios": partial }));
            return Err(e);
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    println!("Total time {elapsed:.0} s.");
    let doc = json!({
        "tool": "ccbt-bench",
        "version": env!("CARGO_PKG_VERSION"),
        "unix_time": now_unix(),
        "duration_s": elapsed,
        "quick": quick,
        "repeats": cfg.repeats,
        "seeder": cfg.seeder.name(),
        "downloader": cfg.downloader.name(),
        "fanout": cfg.fanout,
        "verify": cfg.verify,
        "machine": {
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "kernel": read_trim("/proc/sys/kernel/osrelease"),
            "loadavg_start": load_start,
            "loadavg_end": read_trim("/proc/loadavg"),
            "clk_tck": ccbt_bench::procstat::clk_tck(),
        },
        "versions": h.versions,
        "unavailable": h.unavailable,
        "data_dir": cfg.data_dir,
        "scenarios": results,
    });
    write_json(&json_out, &doc)?;
    eprintln!("ccbt-bench: wrote {}", json_out.display());
    ccbt_bench::util::remove_tree(&work);
    let ccbt_failed = results
        .iter()
        .flat_map(|s| s.runs.iter())
        .any(|r| r.contestant == "ccbt" && !r.ok);
    Ok(if ccbt_failed { 3 } else { 0 })
}
