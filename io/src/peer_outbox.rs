//! One peer's outgoing side: the queue its writer drains, and the signals that
//! wake the writer or end the connection.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;

use ccbt_engine::wire::Message;
use ccbt_engine::BlockRef;
use glommio::channels::local_channel::{self, LocalSender};

/// Work queued for one peer's writer.
pub(crate) enum Outgoing {
    Message(Message),
    Serve(BlockRef),
}

/// Most items waiting in one peer's outbox. Requests to serve are bounded by the
/// engine (`max_peer_requests`) and block data is read only as the writer drains,
/// so this bounds the rest (HAVEs and other messages) for a peer that does not
/// read: such a peer is disconnected rather than queued for without end.
pub(crate) const MAX_OUTBOX_ITEMS: usize = 8192;

/// A peer writer's queue; the writer drains it whole, so messages batch naturally.
pub(crate) struct Outbox {
    queue: RefCell<VecDeque<Outgoing>>,
    closed: Cell<bool>,
    wake: LocalSender<()>,
}

impl Outbox {
    /// Queues an item for the writer; false (and nothing queued) when the outbox
    /// already holds [`MAX_OUTBOX_ITEMS`].
    #[must_use]
    pub fn push(&self, item: Outgoing) -> bool {
        {
            let mut queue = self.queue.borrow_mut();
            if queue.len() >= MAX_OUTBOX_ITEMS {
                return false;
            }
            queue.push_back(item);
        }
        let _ = self.wake.try_send(());
        true
    }

    /// Ends the writer once the queue is empty.
    pub fn close(&self) {
        self.closed.set(true);
        let _ = self.wake.try_send(());
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub fn pop(&self) -> Option<Outgoing> {
        self.queue.borrow_mut().pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }
}

pub(crate) struct PeerLink {
    pub outbox: Rc<Outbox>,
    pub close: LocalSender<()>,
    pub addr: SocketAddr,
}

/// Creates the writer's queue (with its wake-up signal) and the close signal for a new peer link.
pub(crate) fn new_link(
    addr: SocketAddr,
) -> (
    PeerLink,
    local_channel::LocalReceiver<()>,
    local_channel::LocalReceiver<()>,
) {
    let (wake, wake_rx) = local_channel::new_bounded(1);
    let outbox = Rc::new(Outbox {
        queue: RefCell::new(VecDeque::new()),
        closed: Cell::new(false),
        wake,
    });
    let (close, close_rx) = local_channel::new_bounded(1);
    (PeerLink { outbox, close, addr }, wake_rx, close_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_is_bounded() {
        crate::test_executor::run(|| async {
            let (link, _wake, _close) = new_link("127.0.0.1:1".parse().unwrap());
            for _ in 0..MAX_OUTBOX_ITEMS {
                assert!(link.outbox.push(Outgoing::Message(Message::KeepAlive)));
            }
            assert!(!link.outbox.push(Outgoing::Message(Message::KeepAlive)));
            assert!(link.outbox.pop().is_some());
            assert!(
                link.outbox.push(Outgoing::Message(Message::KeepAlive)),
                "room again once drained"
            );
        });
    }
}
