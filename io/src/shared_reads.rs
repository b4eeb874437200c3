//! Whole-piece reads for serving, shared by the peers that ask for the same piece
//! at the same time: one disk read, however many wait for it.
//!
//! Why: with eight downloaders at once, several write loops missed the read cache
//! for the same piece while its first read was still in flight, and each read the
//! whole piece again (the file-read copy took more CPU than the socket sends).

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;
use ccbt_engine::PieceIndex;
use glommio::channels::local_channel::{self, LocalSender};

use crate::storage::{Storage, StorageError};

/// Reads in flight, by piece, with the senders of those waiting for each.
#[derive(Default)]
pub(crate) struct SharedReads {
    in_flight: RefCell<HashMap<PieceIndex, Vec<LocalSender<Bytes>>>>,
}

impl SharedReads {
    /// Reads `piece`, or waits for the read of it already in flight. A waiter whose
    /// read failed (or was dropped) reads the piece itself, so it sees its own error.
    pub(crate) async fn read_piece(&self, storage: &Storage, piece: PieceIndex) -> Result<Bytes, StorageError> {
        let wait = {
            let mut in_flight = self.in_flight.borrow_mut();
            match in_flight.get_mut(&piece) {
                Some(waiters) => {
                    let (tx, rx) = local_channel::new_bounded(1);
                    waiters.push(tx);
                    Some(rx)
                }
                None => {
                    in_flight.insert(piece, Vec::new());
                    None
                }
            }
        };
        if let Some(rx) = wait {
            if let Some(data) = rx.recv().await {
                return Ok(data);
            }
            return storage.read_piece(piece).await;
        }
        let leader = Leader { reads: self, piece };
        let result = storage.read_piece(piece).await;
        if let Ok(data) = &result {
            for tx in leader.finish() {
                let _ = tx.try_send(data.clone());
            }
        }
        result
    }

    /// How many pieces are being read now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.borrow().len()
    }
}

/// The first reader of a piece. Dropped without `finish` (the read failed or was
/// cancelled), it removes the entry, and the waiters, finding their channel
/// closed, read for themselves.
struct Leader<'a> {
    reads: &'a SharedReads,
    piece: PieceIndex,
}

impl Leader<'_> {
    fn finish(self) -> Vec<LocalSender<Bytes>> {
        self.reads
            .in_flight
            .borrow_mut()
            .remove(&self.piece)
            .unwrap_or_default()
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.reads.in_flight.borrow_mut().remove(&self.piece);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::rc::Rc;

    use super::*;
    use crate::storage::{Preallocation, StorageFile};
    use crate::test_executor::run;

    #[test]
    fn concurrent_readers_of_a_piece_share_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        run(move || async move {
            let files = [StorageFile {
                path: "a.bin".into(),
                length: 3 << 20,
                padding: false,
            }];
            let st = Rc::new(
                Storage::open(&root, &files, 1 << 20, Preallocation::Sparse)
                    .await
                    .unwrap(),
            );
            let piece: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
            st.write_piece(PieceIndex(1), &piece).await.unwrap();
            let reads = Rc::new(SharedReads::default());
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let (st, reads) = (st.clone(), reads.clone());
                    glommio::spawn_local(async move { reads.read_piece(&st, PieceIndex(1)).await })
                })
                .collect();
            let mut got = Vec::new();
            for t in tasks {
                got.push(t.await.unwrap());
            }
            assert!(got.iter().all(|b| b[..] == piece[..]));
            // One read: every reader holds the same buffer.
            assert!(
                got.iter().all(|b| b.as_ptr() == got[0].as_ptr()),
                "each reader read on its own"
            );
            assert_eq!(reads.in_flight(), 0);
            // A failed read: every waiter gets its own error.
            let (a, b) = (
                reads.read_piece(&st, PieceIndex(9)),
                reads.read_piece(&st, PieceIndex(9)),
            );
            let (a, b) = futures_lite::future::zip(a, b).await;
            let out_of_range = |r: &Result<Bytes, StorageError>| matches!(r, Err(StorageError::PieceOutOfRange { .. }));
            assert!(out_of_range(&a) && out_of_range(&b));
            assert_eq!(reads.in_flight(), 0);
        });
    }
}
