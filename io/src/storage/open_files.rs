//! This executor's pool of open glommio files (see `handles`), shared by every
//! storage on it, and what to do when the process runs out of descriptors.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use glommio::io::{BufferedFile, DmaFile};

use super::handles::{files_per_executor, FilePool, HandleKey};

/// Attempts to open a file when the process is out of descriptors, each after
/// closing half of the pool and a pause: about 2 s in all, then the error stands.
const OPEN_RETRIES: u32 = 8;
/// The first pause; each retry waits one more of these.
const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// An open file of some torrent.
#[derive(Clone)]
pub(crate) enum OpenFile {
    Buffered(Rc<BufferedFile>),
    Direct(Rc<DmaFile>),
}

thread_local! {
    /// Executors are threads: one pool per executor, so no lock on the hot path.
    static POOL: RefCell<FilePool<OpenFile>> = RefCell::new(FilePool::new(files_per_executor()));
}

/// Runs `f` on this executor's pool.
pub(crate) fn with_pool<R>(f: impl FnOnce(&mut FilePool<OpenFile>) -> R) -> R {
    POOL.with(|p| f(&mut p.borrow_mut()))
}

/// The buffered handle of `key`, if open (and writable when `write`).
pub(crate) fn get_buffered(key: HandleKey, write: bool) -> Option<Rc<BufferedFile>> {
    match with_pool(|p| p.get(key, write))? {
        OpenFile::Buffered(f) => Some(f),
        OpenFile::Direct(_) => None,
    }
}

/// The direct handle of `key`, if open.
pub(crate) fn get_direct(key: HandleKey) -> Option<Rc<DmaFile>> {
    match with_pool(|p| p.get(key, true))? {
        OpenFile::Direct(f) => Some(f),
        OpenFile::Buffered(_) => None,
    }
}

/// Adds a freshly opened buffered file; returns the handle to use (an equal one
/// another task opened meanwhile wins) and closes what the pool evicted.
pub(crate) fn insert_buffered(key: HandleKey, file: BufferedFile, writable: bool) -> Rc<BufferedFile> {
    let file = Rc::new(file);
    let (kept, to_close) = with_pool(|p| p.insert(key, OpenFile::Buffered(file.clone()), writable));
    close_detached(to_close);
    match kept {
        OpenFile::Buffered(kept) => kept,
        OpenFile::Direct(_) => file,
    }
}

/// Like [`insert_buffered`], for a direct handle.
pub(crate) fn insert_direct(key: HandleKey, file: DmaFile) -> Rc<DmaFile> {
    let file = Rc::new(file);
    let (kept, to_close) = with_pool(|p| p.insert(key, OpenFile::Direct(file.clone()), true));
    close_detached(to_close);
    match kept {
        OpenFile::Direct(kept) => kept,
        OpenFile::Buffered(_) => file,
    }
}

/// Removes a storage's handles from the pool without closing them asynchronously
/// (their fds close when the last user drops them): for `Drop`, which cannot await.
pub(crate) fn forget_storage(storage: u64) {
    // During thread teardown the pool may already be gone, and its files with it.
    let _ = POOL.try_with(|p| drop(p.borrow_mut().drain_storage(storage)));
}

/// Whether an error means the process or system has no descriptor to spare.
pub(crate) fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Runs `open`; while it fails for want of descriptors, closes the least recently
/// used half of this executor's files and tries again after a pause (bounded), so
/// running out delays an open instead of failing the torrent.
pub(crate) async fn open_retrying<T, Fut>(mut open: impl FnMut() -> Fut) -> Result<T, io::Error>
where
    Fut: Future<Output = Result<T, io::Error>>,
{
    let mut attempt = 0;
    loop {
        match open().await {
            Err(e) if is_out_of_descriptors(&e) && attempt < OPEN_RETRIES => {
                attempt += 1;
                let shed = with_pool(|p| p.shed_half());
                tracing::debug!(
                    closed = shed.len(),
                    attempt,
                    "out of file descriptors, closing idle files"
                );
                close_now(shed).await;
                glommio::timer::sleep(OPEN_RETRY_PAUSE * attempt).await;
            }
            other => return other,
        }
    }
}

/// Closes a handle unless an in-flight operation still shares it (then its fd
/// closes when that operation ends).
pub(crate) async fn close_handle(file: OpenFile) -> glommio::Result<(), ()> {
    match file {
        OpenFile::Buffered(f) => match Rc::try_unwrap(f) {
            Ok(f) => f.close().await,
            Err(_) => Ok(()),
        },
        OpenFile::Direct(f) => match Rc::try_unwrap(f) {
            Ok(f) => f.close().await,
            Err(_) => Ok(()),
        },
    }
}

/// Closes handles and waits for it, logging failures (nothing was written through
/// an evicted handle that a close could lose: writes complete before they return).
async fn close_now(files: Vec<OpenFile>) {
    for file in files {
        if let Err(e) = close_handle(file).await {
            tracing::warn!("closing an idle file: {e}");
        }
    }
}

/// Closes evicted handles in the background (or lets the last user drop them).
pub(crate) fn close_detached(files: Vec<OpenFile>) {
    if files.is_empty() {
        return;
    }
    glommio::spawn_local(close_now(files)).detach();
}

#[cfg(test)]
mod tests {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

    use crate::storage::{Preallocation, Storage, StorageFile};
    use crate::test_executor::run;
    use ccbt_engine::PieceIndex;

    fn files(dir: &str) -> Vec<StorageFile> {
        (0..100)
            .map(|i| StorageFile {
                path: format!("{dir}/f{i:03}").into(),
                length: 100,
                padding: false,
            })
            .collect()
    }

    /// nextest runs each test in a process of its own, so lowering this process's
    /// limit touches no other test.
    #[test]
    fn out_of_descriptors_closes_idle_files_and_reads_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        run(move || async move {
            let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
            let first = Storage::open(&root, &files("a"), 1000, Preallocation::Sparse)
                .await
                .unwrap();
            let second = Storage::open(&root, &files("b"), 1000, Preallocation::Sparse)
                .await
                .unwrap();
            first.set_max_open_files(1000);
            for st in [&first, &second] {
                for p in 0..10u32 {
                    let piece = &data[p as usize * 1000..(p as usize + 1) * 1000];
                    st.write_piece(PieceIndex(p), piece).await.unwrap();
                }
            }
            second.close().await.unwrap();
            assert_eq!(first.open_file_count(), 100);
            // Room for only a few more descriptors than are open now.
            let saved = getrlimit(Resource::Nofile);
            let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(open_now + 4),
                    maximum: saved.maximum,
                },
            )
            .unwrap();
            let second = Storage::open(&root, &files("b"), 1000, Preallocation::Sparse)
                .await
                .unwrap();
            let mut reads = Vec::new();
            for p in 0..10u32 {
                reads.push(second.read_piece(PieceIndex(p)).await);
            }
            setrlimit(Resource::Nofile, saved).unwrap();
            for (p, read) in reads.into_iter().enumerate() {
                let got = read.unwrap_or_else(|e| panic!("piece {p}: {e}"));
                assert_eq!(&got[..], &data[p * 1000..(p + 1) * 1000]);
            }
            assert!(
                first.open_file_count() < 100,
                "idle files of the first torrent were closed"
            );
            first.close().await.unwrap();
            second.close().await.unwrap();
        });
    }
}
