//! Hashing the pieces of files on disk with plain threads: for `btbt create` and
//! `btbt verify`, which run without a session.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

/// One file of a torrent's data, in torrent order.
#[derive(Debug, Clone)]
pub struct ScanFile {
    /// Where the file is on disk.
    pub path: PathBuf,
    pub length: u64,
    /// A BEP 47 padding file: zeros, never on disk.
    pub padding: bool,
}

/// Piece hashes of the concatenated files; `None` where data is missing (a file is
/// absent or shorter than the torrent says).
pub fn hash_pieces(files: &[ScanFile], piece_length: u32, threads: usize) -> Vec<Option<[u8; 20]>> {
    let total: u64 = files.iter().map(|f| f.length).sum();
    let num_pieces = total.div_ceil(piece_length as u64) as usize;
    let threads = threads.clamp(1, num_pieces.max(1));
    let per_thread = num_pieces.div_ceil(threads);
    let mut out = vec![None; num_pieces];
    std::thread::scope(|scope| {
        for (t, chunk) in out.chunks_mut(per_thread.max(1)).enumerate() {
            let first = t * per_thread;
            scope.spawn(move || {
                let mut reader = SpanReader::new(files);
                let mut buf = vec![0u8; piece_length as usize];
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let piece = (first + i) as u64;
                    let start = piece * piece_length as u64;
                    let len = (total - start).min(piece_length as u64) as usize;
                    if reader.read_at(start, &mut buf[..len]) {
                        *slot = Some(Sha1::digest(&buf[..len]).into());
                    }
                }
            });
        }
    });
    out
}

/// Reads byte ranges of the concatenated files, keeping one file open at a time.
struct SpanReader<'a> {
    files: &'a [ScanFile],
    open: Option<(usize, Option<File>)>,
}

impl<'a> SpanReader<'a> {
    fn new(files: &'a [ScanFile]) -> Self {
        SpanReader { files, open: None }
    }

    fn file(&mut self, index: usize) -> Option<&File> {
        if self.open.as_ref().is_none_or(|(i, _)| *i != index) {
            let f = File::open(&self.files[index].path).ok();
            self.open = Some((index, f));
        }
        self.open.as_ref().and_then(|(_, f)| f.as_ref())
    }

    /// Fills `buf` from torrent offset `start`; false if any byte is missing.
    fn read_at(&mut self, start: u64, buf: &mut [u8]) -> bool {
        let mut file_start = 0u64;
        let mut filled = 0usize;
        for index in 0..self.files.len() {
            let len = self.files[index].length;
            let file_end = file_start + len;
            let want_from = start + filled as u64;
            if filled < buf.len() && want_from < file_end && len > 0 {
                let offset = want_from - file_start;
                let n = ((file_end - want_from) as usize).min(buf.len() - filled);
                if self.files[index].padding {
                    buf[filled..filled + n].fill(0);
                } else {
                    let Some(file) = self.file(index) else {
                        return false;
                    };
                    if file.read_exact_at(&mut buf[filled..filled + n], offset).is_err() {
                        return false;
                    }
                }
                filled += n;
            }
            file_start = file_end;
            if filled == buf.len() {
                return true;
            }
        }
        filled == buf.len()
    }
}

/// The data files of a torrent below `root`, in torrent order.
pub fn files_under(root: &Path, meta: &ccbt_engine::metainfo::Metainfo) -> Vec<ScanFile> {
    meta.info
        .files
        .iter()
        .map(|f| ScanFile {
            path: root.join(&f.path),
            length: f.length,
            padding: f.padding,
        })
        .collect()
}
