//! Local service discovery (BEP 14) between two network namespaces made by the test:
//! a veth pair on a private /24 with a route for the multicast range, one ccbt in
//! each, no tracker and no `--peer`. The downloader starts first (its announce is
//! gone before the seeder joins), then the seeder announces; the downloader hears
//! it, dials it, counts it under `lsd` and completes.
//!
//! Skipped, with the reason printed, where the namespaces cannot be made (not root,
//! no `ip`, no netns support). Namespaces are named per run and deleted at the end
//! (which removes the veth pair with them), after the processes in them are stopped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ccbt_tests::{assert_same_file, bin, btbt_create, write_random_file, Proc};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Two namespaces joined by a veth pair; deleted on drop.
struct NetnsPair {
    names: [String; 2],
    addrs: [String; 2],
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetnsPair {
    fn create() -> Result<NetnsPair, String> {
        let id = std::process::id();
        let net = 16 + id % 200;
        let pair = NetnsPair {
            names: [format!("ccbt-lsd-{id}-a"), format!("ccbt-lsd-{id}-b")],
            addrs: [format!("10.231.{net}.1"), format!("10.231.{net}.2")],
        };
        let veth = [format!("cl{id}a"), format!("cl{id}b")];
        for n in &pair.names {
            ip(&["netns", "add", n])?;
        }
        ip(&["link", "add", &veth[0], "type", "veth", "peer", "name", &veth[1]])?;
        for i in 0..2 {
            let (ns, dev) = (&pair.names[i], &veth[i]);
            ip(&["link", "set", dev, "netns", ns])?;
            ip(&["-n", ns, "addr", "add", &format!("{}/24", pair.addrs[i]), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "route", "add", "239.0.0.0/8", "dev", dev])?;
        }
        Ok(pair)
    }

    /// `ccbt ARGS` inside namespace `i`.
    fn ccbt(&self, i: usize, args: &[&str]) -> Proc {
        let ccbt = bin("ccbt");
        let mut all = vec!["netns", "exec", &self.names[i], ccbt.to_str().unwrap()];
        all.extend_from_slice(args);
        // `ip netns exec` execs the command: the pid is ccbt's own.
        Proc::spawn_program("ccbt", Path::new("ip"), &all)
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = ip(&["netns", "del", n]);
        }
    }
}

#[test]
fn a_downloader_finds_a_seeder_on_the_lan_by_lsd() {
    let pair = match NetnsPair::create() {
        Ok(p) => p,
        Err(why) => {
            println!("SKIPPED: cannot make two network namespaces here: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("seed").join("payload.bin");
    write_random_file(&content, 4 * 1024 * 1024, 1414);
    let torrent = tmp.path().join("payload.torrent");
    btbt_create(&content, &torrent, &["--piece-size", "65536"]);
    let torrent = torrent.to_str().unwrap().to_string();
    let out = tmp.path().join("out");
    let (seed_dir, out_dir) = (
        tmp.path().join("seed").to_str().unwrap().to_string(),
        out.to_str().unwrap().to_string(),
    );

    let down_listen = format!("{}:0", pair.addrs[1]);
    let mut downloader = pair.ccbt(
        1,
        &[
            &torrent,
            "-o",
            &out_dir,
            "--json",
            "--listen",
            &down_listen,
            "--download-limit",
            "2M",
        ],
    );
    downloader.listen_addr();
    // Its first announce (a second after its torrent runs) goes out before the seeder exists.
    std::thread::sleep(Duration::from_secs(3));
    let seed_listen = format!("{}:0", pair.addrs[0]);
    let mut seeder = pair.ccbt(
        0,
        &[&torrent, "-o", &seed_dir, "--seed", "--json", "--listen", &seed_listen],
    );
    let seeder_addr = seeder.listen_addr();

    let status = downloader.wait_json("a peer found by LSD", TIMEOUT, |v| {
        v["type"] == "status" && v["peers_by_source"]["lsd"].as_u64().unwrap_or(0) >= 1
    });
    assert_eq!(status["peers_by_source"]["incoming"], 0, "{status}");
    let exit = downloader.wait_exit(TIMEOUT);
    assert!(exit.success(), "downloader failed: {}", downloader.stderr());
    assert_same_file(&content, &out.join("payload.bin"));
    assert!(seeder.is_running(), "seeder at {seeder_addr} still runs");
    drop(seeder);
    drop(downloader);
    drop(pair);
}
