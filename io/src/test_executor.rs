//! For tests: running async code on a glommio executor of its own.

use std::future::Future;

use glommio::{LocalExecutorBuilder, Placement};

/// Runs `f` on a fresh glommio executor thread and waits for it; a panic inside
/// fails the calling test.
pub(crate) fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .spawn(f)
        .expect("start a glommio executor")
        .join()
        .expect("the executor thread finished without panicking");
}
