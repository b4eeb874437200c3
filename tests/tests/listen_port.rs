//! The listening port: a seeder stopped after serving peers starts again on the same
//! port at once (its old connections in TIME-WAIT do not block the bind), and a
//! second process on a port in use fails with a clear error instead of sharing it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ccbt_engine::wire::{Handshake, Reserved, HANDSHAKE_LEN};
use ccbt_engine::{InfoHash, PeerId};
use ccbt_tests::{assert_same_tree, btbt_create, spawn_seeder, start_seeder_on, write_random_file, Downloader, Proc};

const SIGINT: i32 = 2;

/// A peer that completes the handshake and stays connected, so that the seeder is
/// the side that closes the connection (and keeps it in TIME-WAIT) when it stops.
fn lingering_peer(addr: SocketAddr, info_hash: InfoHash) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let ours = Handshake {
        reserved: Reserved([0; 8]),
        info_hash,
        peer_id: PeerId(*b"-LG0001-lingerlinger"),
    };
    stream.write_all(&ours.encode()).unwrap();
    let mut theirs = [0u8; HANDSHAKE_LEN];
    stream.read_exact(&mut theirs).unwrap();
    stream
}

/// Connections on local port `port` in TIME-WAIT (state 06 in /proc/net/tcp).
fn time_wait_on(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            local_port == Some(port) && fields.get(3) == Some(&"06")
        })
        .count()
}

#[test]
fn seeder_restarts_on_the_same_port_at_once_after_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("payload.bin");
    write_random_file(&content, 2_000_000, 7);
    let torrent = tmp.path().join("payload.torrent");
    let info_hash = InfoHash::from_hex(&btbt_create(&content, &torrent, &["--piece-size", "65536"])).unwrap();

    let mut listen = "127.0.0.1:0".to_string();
    for round in 0..5 {
        let (mut seeder, addr) = start_seeder_on(&[&torrent], &seed_dir, &listen, &[]);
        if round == 0 {
            listen = addr.clone();
        }
        assert_eq!(addr, listen, "round {round}: the seeder listens on the same port");

        let down_dir = tmp.path().join(format!("down{round}"));
        Downloader::new(&torrent, &down_dir)
            .peer(&addr)
            .run(Duration::from_secs(120));
        assert_same_tree(&seed_dir, &down_dir);

        let linger = lingering_peer(addr.parse().unwrap(), info_hash);
        seeder.signal(SIGINT);
        let status = seeder.wait_exit(Duration::from_secs(30));
        assert!(status.success(), "round {round}: seeder exit: {}", seeder.stderr());
        // Read what the seeder sent up to its FIN, so our close is a FIN too (a
        // close with unread data would be a reset, and leave no TIME-WAIT behind).
        let mut linger = linger;
        let mut rest = Vec::new();
        let _ = linger.read_to_end(&mut rest);
        drop(linger);
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        assert!(
            time_wait_on(port) > 0,
            "round {round}: the stopped seeder left connections in TIME-WAIT, so the restart is a real test"
        );
    }
}

/// The stderr of an exited process, once its reader thread has caught up (bounded).
fn full_stderr(p: &Proc) -> String {
    for _ in 0..100 {
        let s = p.stderr();
        if s.ends_with('\n') {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    p.stderr()
}

#[test]
fn a_second_process_on_a_port_in_use_fails_naming_the_address() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("small.bin");
    write_random_file(&content, 300_000, 8);
    let torrent = tmp.path().join("small.torrent");
    btbt_create(&content, &torrent, &["--piece-size", "65536"]);

    let (mut first, addr) = start_seeder_on(&[&torrent], &seed_dir, "127.0.0.1:0", &[]);
    let mut second = spawn_seeder(&[&torrent], &seed_dir, &addr, &[]);
    let status = second.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "stderr: {}", second.stderr());
    let stderr = full_stderr(&second);
    assert!(
        stderr.contains("cannot listen on") && stderr.contains(&addr),
        "the error names the address: {stderr}"
    );
    assert!(first.child.try_wait().unwrap().is_none(), "the first seeder still runs");

    // A foreign listener that asks to share its port (SO_REUSEPORT) is not joined either.
    let foreign = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    foreign.set_reuse_port(true).unwrap();
    foreign.set_reuse_address(true).unwrap();
    foreign.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    foreign.listen(16).unwrap();
    let foreign_addr = foreign.local_addr().unwrap().as_socket().unwrap().to_string();
    let mut third = spawn_seeder(&[&torrent], &seed_dir, &foreign_addr, &[]);
    let status = third.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "stderr: {}", third.stderr());
    let stderr = full_stderr(&third);
    assert!(stderr.contains(&foreign_addr), "{stderr}");
}
