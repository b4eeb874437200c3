//! Direct (`O_DIRECT`) writes for the page-aligned middle of each file span a
//! verified piece covers.
//!
//! Why: in a 1 GiB download profile the kernel's copy into the page cache
//! (`copy_folio_from_iter_atomic`) took 34% of the downloader's CPU, more than
//! SHA-1. A direct write hands our buffer to the device instead; `dd` on this
//! machine kind writes 1 GiB in 1 MiB blocks at 1.4 GB/s with 0.16 s of system CPU
//! direct, against 0.34–2.9 s buffered. The bytes before the first and after the
//! last page boundary of a span still go through the page cache, so the direct part
//! never shares a page with a buffered part (a half-written cached page would be
//! written back over direct data).
//!
//! glommio's `DmaFile` settles whether a device supports polled I/O by reading
//! offset 0 of the first DMA file opened on it, per thread; on an empty or sparse
//! file that read succeeds without touching the device and the answer is wrongly
//! "yes", after which every DMA operation there fails (DESIGN.md, glommio #605,
//! #670). So before the first direct write to a device, each executor opens a
//! small probe file with real blocks next to the download, writes and reads it
//! direct, and removes it. glommio also panics on sysfs entries it cannot parse;
//! those are checked first, and direct writes stay off for such a device.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use glommio::io::DmaBuffer;

/// File offsets and lengths of direct writes are multiples of this (the page size,
/// and a multiple of every logical block size in use).
pub(crate) const DIRECT_ALIGN: u64 = 4096;
/// A shorter aligned middle goes through the page cache with the rest: a direct
/// write waits for the device, which only pays off for large writes.
pub(crate) const MIN_DIRECT_LEN: u64 = 64 * 1024;

/// How a span divides: `head` bytes through the page cache, then `body` bytes
/// direct, then the rest through the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DirectSplit {
    pub head: u64,
    pub body: u64,
}

/// The direct part of `len` bytes at `file_offset`, if it is long enough.
pub(crate) fn split_span(file_offset: u64, len: u64) -> Option<DirectSplit> {
    let start = file_offset.checked_next_multiple_of(DIRECT_ALIGN)?;
    let end = file_offset.checked_add(len)? / DIRECT_ALIGN * DIRECT_ALIGN;
    if end <= start || end - start < MIN_DIRECT_LEN {
        return None;
    }
    Some(DirectSplit {
        head: start - file_offset,
        body: end - start,
    })
}

/// Whether a storage writes direct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirectMode {
    /// Wanted; the device is not checked yet.
    Untried,
    /// Checked and working.
    On,
    /// Not wanted, or the device or file system refused.
    Off,
}

/// A piece buffer in page-aligned memory: the engine assembles pieces in these
/// (through a `PooledPieceAllocator`), and a piece that is one aligned span of a
/// file goes to the device as it is, without a copy.
pub struct DmaPiece(pub(crate) DmaBuffer);

impl DmaPiece {
    /// A zeroed buffer of `len` bytes (zeroing also faults its pages in once).
    pub fn allocate(len: usize) -> DmaPiece {
        let mut buf = glommio::allocate_dma_buffer_global(len.max(1));
        buf.as_bytes_mut().fill(0);
        buf.trim_to_size(len);
        DmaPiece(buf)
    }
}

impl ccbt_engine::piece_memory::PieceMemory for DmaPiece {
    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.0.as_bytes_mut()
    }
}

/// Bytes of DMA buffers an executor keeps for reuse.
const POOL_BYTES: usize = 16 << 20;

thread_local! {
    /// Devices (`st_dev`) this executor thread has checked, and whether direct
    /// writes work there.
    static CHECKED_DEVICES: RefCell<HashMap<u64, bool>> = RefCell::new(HashMap::new());
    /// Written DMA buffers by size, for the next writes of that size.
    static BUFFER_POOL: RefCell<HashMap<usize, Vec<DmaBuffer>>> = RefCell::new(HashMap::new());
    static POOLED_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A DMA buffer of `len` bytes: a pooled one, else a new one.
///
/// glommio's own arena (10 MiB per executor) is too small for a download's
/// pieces; past it every buffer is a fresh allocation whose pages fault in as
/// they are filled (measured: 78% of a 1 GiB download's 85,000 page faults; with
/// the pool, 35,000 in all).
pub(crate) fn take_buffer(len: usize) -> DmaBuffer {
    let pooled = BUFFER_POOL.with(|p| p.borrow_mut().get_mut(&len).and_then(Vec::pop));
    match pooled {
        Some(buf) => {
            POOLED_BYTES.with(|b| b.set(b.get().saturating_sub(len)));
            buf
        }
        None => glommio::allocate_dma_buffer(len),
    }
}

/// Keeps a written buffer for reuse while the pool has room.
pub(crate) fn give_buffer(buf: DmaBuffer) {
    let len = buf.len();
    let room = POOLED_BYTES.with(|b| b.get() + len <= POOL_BYTES);
    if room {
        POOLED_BYTES.with(|b| b.set(b.get() + len));
        BUFFER_POOL.with(|p| p.borrow_mut().entry(len).or_default().push(buf));
    }
}

/// Tells probe files of concurrent checks apart.
static PROBE_SEQ: AtomicU64 = AtomicU64::new(0);

/// Whether direct writes work for files in `dir`, checked once per executor
/// thread and device (see the module notes).
pub(crate) async fn device_supports_direct(dir: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(dir) else {
        return false;
    };
    let dev = meta.dev();
    if let Some(known) = CHECKED_DEVICES.with(|d| d.borrow().get(&dev).copied()) {
        return known;
    }
    let works = match sysfs_is_readable(libc::major(dev)) {
        Ok(()) => match probe(dir).await {
            Ok(()) => true,
            Err(e) => {
                tracing::info!(?dir, "direct writes off for this device: {e}");
                false
            }
        },
        Err(why) => {
            tracing::info!(?dir, "direct writes off for this device: {why}");
            false
        }
    };
    CHECKED_DEVICES.with(|d| d.borrow_mut().insert(dev, works));
    works
}

/// Writes, syncs, then reads back a 4 KiB probe file direct; removes it after.
async fn probe(dir: &Path) -> std::io::Result<()> {
    let seq = PROBE_SEQ.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".ccbt-direct-probe-{}-{seq}", std::process::id()));
    let result = probe_file(&path).await;
    let _ = std::fs::remove_file(&path);
    result
}

async fn probe_file(path: &Path) -> std::io::Result<()> {
    let pattern = [0xA5u8; DIRECT_ALIGN as usize];
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    f.write_all(&pattern)?;
    // Real blocks on the device, so glommio's polled-I/O probe reads reach it.
    f.sync_all()?;
    drop(f);
    let file = glommio::io::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .dma_open(path)
        .await
        .map_err(super::error::from_glommio)?;
    let checked = async {
        let mut buf = file.alloc_dma_buffer(pattern.len());
        buf.as_bytes_mut().copy_from_slice(&pattern);
        let n = file.write_at(buf, 0).await.map_err(super::error::from_glommio)?;
        let back = file
            .read_at_aligned(0, pattern.len())
            .await
            .map_err(super::error::from_glommio)?;
        if n != pattern.len() || *back != pattern[..] {
            return Err(std::io::Error::other("probe file read back differs"));
        }
        Ok(())
    }
    .await;
    // Nothing of ours depends on the probe file's close; it is removed next.
    let _ = file.close().await;
    checked
}

/// glommio reads these sysfs entries of a device's whole disk and panics when one
/// is missing or unparsable; a device without an entry is treated as memory.
fn sysfs_is_readable(major: u32) -> Result<(), String> {
    let link = format!("/sys/dev/block/{major}:0");
    let dir = match std::fs::canonicalize(&link) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{link}: {e}")),
    };
    let queue = dir.join("queue");
    for name in [
        "rotational",
        "minimum_io_size",
        "optimal_io_size",
        "logical_block_size",
        "physical_block_size",
        "max_sectors_kb",
        "max_segment_size",
    ] {
        let path = queue.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path:?}: {e}"))?;
        text.trim_matches('\n')
            .parse::<isize>()
            .map_err(|e| format!("{path:?}: {e}"))?;
    }
    let path = queue.join("write_cache");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path:?}: {e}"))?;
    if !matches!(text.trim_matches('\n'), "write back" | "write through") {
        return Err(format!("{path:?}: unexpected {text:?}"));
    }
    let slaves = dir.join("slaves");
    for entry in std::fs::read_dir(&slaves).map_err(|e| format!("{slaves:?}: {e}"))? {
        entry.map_err(|e| format!("{slaves:?}: {e}"))?;
    }
    Ok(())
}

/// Whether a failed direct write means "this file or device does not do direct
/// I/O" (then the bytes go through the page cache instead) rather than a real error.
pub(crate) fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aligned_piece_goes_direct_whole() {
        let s = split_span(3 << 20, 1 << 20).unwrap();
        assert_eq!(s, DirectSplit { head: 0, body: 1 << 20 });
    }

    #[test]
    fn short_or_unaligned_spans_stay_buffered() {
        assert_eq!(split_span(0, 16 * 1024), None);
        assert_eq!(split_span(100, MIN_DIRECT_LEN), None);
        assert_eq!(split_span(u64::MAX - 10, 5), None);
    }

    #[test]
    fn span_crossing_pages_splits_at_page_boundaries() {
        let s = split_span(1000, 300_000).unwrap();
        assert_eq!(s.head, 4096 - 1000);
        assert_eq!((1000 + s.head + s.body) % DIRECT_ALIGN, 0);
        assert!(1000 + 300_000 - (1000 + s.head + s.body) < DIRECT_ALIGN);
    }

    proptest! {
        #[test]
        fn split_is_aligned_and_inside_the_span(off in 0u64..(1 << 40), len in 0u64..(8 << 20)) {
            if let Some(s) = split_span(off, len) {
                prop_assert!(s.head < DIRECT_ALIGN);
                prop_assert_eq!((off + s.head) % DIRECT_ALIGN, 0);
                prop_assert_eq!(s.body % DIRECT_ALIGN, 0);
                prop_assert!(s.body >= MIN_DIRECT_LEN);
                prop_assert!(s.head + s.body <= len);
                prop_assert!(len - s.head - s.body < DIRECT_ALIGN);
            } else {
                // Nothing direct only when the aligned middle is short.
                let start = off.next_multiple_of(DIRECT_ALIGN);
                let end = (off + len) / DIRECT_ALIGN * DIRECT_ALIGN;
                prop_assert!(end <= start || end - start < MIN_DIRECT_LEN);
            }
        }
    }
}
