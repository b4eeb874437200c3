//! Asking a torrent's owner for its detail: the question crosses to the shard and
//! the answer comes back through a callback the shard calls on its own thread.

use ccbt_io::torrent_task::TorrentSnapshot;

/// Called once by the owning shard with the torrent's detail (`None`: the torrent
/// is not running there: unknown, still checking, or failed to start).
pub struct QueryReply(Box<dyn FnOnce(Option<TorrentSnapshot>) + Send>);

impl QueryReply {
    pub fn new(reply: Box<dyn FnOnce(Option<TorrentSnapshot>) + Send>) -> QueryReply {
        QueryReply(reply)
    }

    /// Answers the query.
    pub fn send(self, detail: Option<TorrentSnapshot>) {
        (self.0)(detail)
    }
}

impl std::fmt::Debug for QueryReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryReply")
    }
}
