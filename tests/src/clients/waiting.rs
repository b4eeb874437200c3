//! Bounded waits on a client: until it seeds, until its torrent is active, or
//! until any condition on its status or on a closure holds.

use std::time::{Duration, Instant};

use super::{Client, Opts, Status};

/// `client` once it seeds (its data rechecked), waiting at most `opts.start_timeout()`.
pub fn when_seeding<C: Client>(client: C, opts: &Opts) -> C {
    let deadline = Instant::now() + opts.start_timeout();
    wait_for(&client, "seeding after its recheck", deadline, |st| st.complete);
    client
}

/// `client` once its torrent is active, waiting at most `opts.start_timeout()`.
pub fn when_active<C: Client>(client: C, opts: &Opts) -> C {
    let deadline = Instant::now() + opts.start_timeout();
    wait_for(&client, "an active torrent", deadline, |st| st.active);
    client
}

/// Polls `client.status()` every 100 ms until `pred` holds; panics with the status
/// and logs at `deadline` or if the process dies.
pub fn wait_for(client: &dyn Client, what: &str, deadline: Instant, pred: impl Fn(&Status) -> bool) {
    loop {
        let st = client.status();
        if pred(&st) {
            return;
        }
        assert!(
            client.is_running(),
            "{} (pid {}) exited while waiting for {what}: {st:?}; logs:\n{}",
            client.kind().name(),
            client.pid(),
            client.logs()
        );
        assert!(
            Instant::now() < deadline,
            "{} (pid {}): no {what} in time: {st:?}; logs:\n{}",
            client.kind().name(),
            client.pid(),
            client.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `f` every `every` until it returns `Some`, for at most `timeout`.
pub fn poll<T>(timeout: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}
