//! The deadline table: what is due when, and what happens then.

use std::time::Duration;

use super::super::*;
use super::driver::Driver;

fn keepalives_to(actions: &[Action]) -> Vec<PeerKey> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                peer,
                message: Message::KeepAlive,
            } => Some(*peer),
            _ => None,
        })
        .collect()
}

#[test]
fn a_torrent_without_peers_has_no_deadline() {
    let d = Driver::new(2, true, TorrentConfig::default());
    assert_eq!(d.torrent.poll_timeout(), None);
}

#[test]
fn a_seeder_sleeps_until_its_choker_round_while_a_downloader_updates_every_second() {
    let mut seeder = Driver::new(2, true, TorrentConfig::default());
    seeder.connect(1);
    seeder.actions();
    let t0 = seeder.now;
    assert_eq!(seeder.torrent.poll_timeout(), Some(t0), "the choker runs at once");
    seeder.torrent.handle_timeout(t0);
    assert_eq!(seeder.torrent.poll_timeout(), Some(t0 + crate::choker::CHOKE_INTERVAL));

    let mut leech = Driver::new(2, false, TorrentConfig::default());
    leech.connect_seed(1);
    leech.actions();
    leech.torrent.handle_timeout(leech.now);
    assert_eq!(leech.torrent.poll_timeout(), Some(leech.now + RATE_INTERVAL));
}

#[test]
fn a_request_times_out_exactly_at_its_deadline() {
    let timeout = TorrentConfig::default().request_timeout;
    let mut d = Driver::new(1, false, TorrentConfig::default());
    let seed = d.connect_seed(1);
    let asked = Driver::requests_to(&d.actions(), seed);
    assert!(!asked.is_empty());
    let sent_at = d.now;
    // Jump from deadline to deadline, as a simulation would, until the timeout.
    let mut cancelled = Vec::new();
    for _ in 0..100 {
        let next = d.torrent.poll_timeout().unwrap();
        d.now = next;
        d.torrent.handle_timeout(next);
        for a in d.actions() {
            if let Action::Send {
                message: Message::Cancel(b),
                ..
            } = a
            {
                cancelled.push(b);
            }
        }
        if !cancelled.is_empty() {
            break;
        }
        assert!(d.now < sent_at + timeout, "no cancel at {:?}", d.now - sent_at);
    }
    assert_eq!(d.now, sent_at + timeout);
    cancelled.sort();
    let mut asked = asked;
    asked.sort();
    assert_eq!(cancelled, asked);
}

#[test]
fn keepalives_go_only_to_peers_we_said_nothing_to() {
    let mut d = Driver::new(2, true, TorrentConfig::default());
    let a = d.connect(1);
    let b = d.connect(2);
    d.actions(); // our bitfields went out: both heard from us
    d.advance(KEEPALIVE_INTERVAL);
    d.torrent.handle_timeout(d.now);
    assert_eq!(keepalives_to(&d.actions()), Vec::<PeerKey>::new());
    // Peer a becomes interested and is unchoked: we spoke to it, not to b.
    d.deliver(a, Message::Interested);
    d.actions();
    d.advance(KEEPALIVE_INTERVAL);
    d.torrent.handle_timeout(d.now);
    assert_eq!(keepalives_to(&d.actions()), vec![b]);
    // A keep-alive itself does not count as having spoken.
    d.advance(KEEPALIVE_INTERVAL);
    d.torrent.handle_timeout(d.now);
    assert_eq!(keepalives_to(&d.actions()), vec![a, b]);
}

#[test]
fn a_silent_peer_is_dropped_at_the_idle_timeout_and_keepalives_keep_one_alive() {
    let idle = TorrentConfig::default().peer_idle_timeout;
    let mut d = Driver::new(2, true, TorrentConfig::default());
    let silent = d.connect(1);
    let chatty = d.connect(2);
    d.actions();
    let t0 = d.now;
    d.advance(idle - Duration::from_secs(1));
    d.deliver(chatty, Message::KeepAlive);
    d.torrent.handle_timeout(d.now);
    assert_eq!(Driver::disconnect_reason(&d.actions(), silent), None);
    d.now = t0 + idle;
    d.torrent.handle_timeout(d.now);
    let actions = d.actions();
    assert_eq!(
        Driver::disconnect_reason(&actions, silent),
        Some(DisconnectReason::Idle)
    );
    assert_eq!(Driver::disconnect_reason(&actions, chatty), None);
    // A keep-alive is activity, but not useful activity.
    let act = d.torrent.peer_activity(chatty).unwrap();
    assert_eq!(act.last_message, t0 + idle - Duration::from_secs(1));
    assert_eq!(act.last_useful, t0);
    assert!(!act.peer_interested);
    assert_eq!(d.torrent.peer_activities().count(), 1);
}
