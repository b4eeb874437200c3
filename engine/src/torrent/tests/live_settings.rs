//! Piece priorities changed on a running torrent: completeness follows what is wanted.

use super::super::*;
use super::sim::{payload, Net, PIECE_LEN};

const PIECES: usize = 10;

fn skip_from(first_skipped: usize) -> Vec<PiecePriority> {
    (0..PIECES)
        .map(|p| {
            if p >= first_skipped {
                PiecePriority::Skip
            } else {
                PiecePriority::Normal
            }
        })
        .collect()
}

#[test]
fn a_complete_torrent_whose_skipped_pieces_are_wanted_again_downloads_and_completes_again() {
    let data = payload(PIECE_LEN as usize * PIECES, 21);
    let mut net = Net::new(&data, &[(true, false), (false, false)]);
    net.nodes[1].torrent.set_piece_priorities(&skip_from(6), net.now);
    net.connect(0, 1);
    net.run_until_complete(1);
    let half = PIECE_LEN as usize * 6;
    assert_eq!(net.nodes[1].disk[..half], data[..half]);
    assert!(
        net.nodes[1].disk[half..].iter().all(|b| *b == 0),
        "skipped pieces never come"
    );
    let stats = net.nodes[1].torrent.stats(net.now);
    assert!(stats.complete, "complete for what is wanted");
    assert_eq!(stats.pieces_have, 6);

    net.nodes[1].completed = false;
    net.nodes[1]
        .torrent
        .set_piece_priorities(&[PiecePriority::Normal; PIECES], net.now);
    assert!(!net.nodes[1].torrent.is_complete(), "wanted again: not complete");
    net.run_until_complete(1);
    assert!(net.nodes[1].completed, "Completed is emitted again");
    assert_eq!(net.nodes[1].disk, data);
    assert_eq!(net.nodes[1].torrent.stats(net.now).pieces_have, PIECES as u32);
}

#[test]
fn skipping_every_missing_piece_completes_at_once_and_wanting_one_reopens() {
    let data = payload(PIECE_LEN as usize * PIECES, 22);
    let mut net = Net::new(&data, &[(false, false)]);
    let torrent = &mut net.nodes[0].torrent;
    assert!(!torrent.is_complete());
    torrent.set_piece_priorities(&[PiecePriority::Skip; PIECES], net.now);
    let actions: Vec<Action> = std::iter::from_fn(|| torrent.poll_action()).collect();
    assert_eq!(actions, vec![Action::Completed]);
    assert!(torrent.is_complete());
    assert_eq!(torrent.bytes_left_wanted(), 0);
    torrent.check_invariants();

    let mut one = vec![PiecePriority::Skip; PIECES];
    one[3] = PiecePriority::High;
    torrent.set_piece_priorities(&one, net.now);
    assert!(!torrent.is_complete());
    assert_eq!(torrent.bytes_left_wanted(), u64::from(PIECE_LEN));
    torrent.check_invariants();
}
