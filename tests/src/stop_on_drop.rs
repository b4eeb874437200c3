//! The stop flag of a test helper's background threads, set when the helper's
//! handle is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Owns a flag the helper's threads poll; dropping it tells them to stop.
#[derive(Default)]
pub struct StopOnDrop(Arc<AtomicBool>);

impl StopOnDrop {
    /// The flag, for a thread to poll.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
