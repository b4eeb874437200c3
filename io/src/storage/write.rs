//! The write path of [`Storage`](super::Storage): whole pieces, split per file span
//! into a page-aligned middle written direct and ends through the page cache.

use std::rc::Rc;

use ccbt_engine::PieceIndex;
use glommio::io::{BufferedFile, DmaBuffer, DmaFile, OpenOptions};

use super::direct::{self, DirectMode, DmaPiece};
use super::error::{from_glommio, glommio_error, io_error, Op, StorageError};
use super::open_files::{self, open_retrying};
use super::{paths, Inner};

impl Inner {
    /// The size of `piece`, checked against the `len` bytes given for it.
    fn whole_piece_size(&self, piece: PieceIndex, len: usize) -> Result<u32, StorageError> {
        let size = self.piece_size_checked(piece)?;
        if len != size as usize {
            return Err(StorageError::BadRange {
                piece,
                offset: 0,
                len: len as u64,
                piece_size: size,
            });
        }
        Ok(size)
    }

    /// The part of `len` bytes at `pos` to write direct: `None` when direct writes
    /// are off or the page-aligned middle is too short.
    fn direct_split(&self, pos: u64, len: u64) -> Option<direct::DirectSplit> {
        match self.direct.get() {
            DirectMode::Off => None,
            DirectMode::Untried | DirectMode::On => direct::split_span(pos, len),
        }
    }

    pub(super) async fn write_piece(&self, piece: PieceIndex, data: &[u8]) -> Result<(), StorageError> {
        let size = self.whole_piece_size(piece, data.len())?;
        // Padding files are zeros by definition: never written.
        for span in self
            .layout
            .spans(piece, 0, size)
            .filter(|s| !self.files[s.file_index].padding)
        {
            let start = span.piece_offset as usize;
            let src = &data[start..start + span.length as usize];
            self.dirty.borrow_mut().insert(span.file_index);
            self.write_span_split(span.file_index, span.file_offset, src).await?;
        }
        self.written.borrow_mut().set(piece.0);
        Ok(())
    }

    /// Writes one span: its page-aligned middle direct when that is on and long
    /// enough, the rest through the page cache.
    async fn write_span_split(&self, index: usize, pos: u64, src: &[u8]) -> Result<(), StorageError> {
        let Some(split) = self.direct_split(pos, src.len() as u64) else {
            return self.write_span(index, pos, src).await;
        };
        let (head, rest) = src.split_at(split.head as usize);
        let (body, tail) = rest.split_at(split.body as usize);
        if !head.is_empty() {
            self.write_span(index, pos, head).await?;
        }
        let body_pos = pos + split.head;
        if !self.write_direct(index, body_pos, body).await? {
            self.write_span(index, body_pos, body).await?;
        }
        if !tail.is_empty() {
            self.write_span(index, body_pos + split.body, tail).await?;
        }
        Ok(())
    }

    /// Writes a piece assembled in DMA memory: straight to the device when it is
    /// one aligned span, else like [`Inner::write_piece`]. The buffer comes back
    /// unless the write still holds it.
    pub(super) async fn write_piece_dma(
        &self,
        piece: PieceIndex,
        dma: DmaPiece,
    ) -> Result<Option<DmaPiece>, StorageError> {
        let size = self.piece_size_checked(piece)?;
        let mut spans = self.layout.spans(piece, 0, size);
        let whole = match (spans.next(), spans.next()) {
            (Some(span), None) if dma.0.len() == size as usize && !self.files[span.file_index].padding => {
                let length = u64::from(span.length);
                let split = self.direct_split(span.file_offset, length);
                (split == Some(direct::DirectSplit { head: 0, body: length })).then_some(span)
            }
            _ => None,
        };
        let Some(span) = whole else {
            self.write_piece(piece, dma.0.as_bytes()).await?;
            return Ok(Some(dma));
        };
        self.dirty.borrow_mut().insert(span.file_index);
        let buf = Rc::new(dma.0);
        match self.submit_direct(span.file_index, span.file_offset, &buf).await? {
            None => {
                self.write_span(span.file_index, span.file_offset, buf.as_bytes())
                    .await?
            }
            Some(n) if n < buf.len() => {
                self.write_span(span.file_index, span.file_offset + n as u64, &buf.as_bytes()[n..])
                    .await?
            }
            Some(_) => {}
        }
        self.written.borrow_mut().set(piece.0);
        Ok(Rc::try_unwrap(buf).ok().map(DmaPiece))
    }

    /// Writes `src` (aligned offset and length) with `O_DIRECT` through a pooled DMA
    /// buffer. `Ok(false)`: direct writes are not possible here (now switched off);
    /// nothing was written.
    async fn write_direct(&self, index: usize, pos: u64, src: &[u8]) -> Result<bool, StorageError> {
        if !self.direct_ready().await {
            return Ok(false);
        }
        let mut buf = direct::take_buffer(src.len());
        buf.as_bytes_mut().copy_from_slice(src);
        let buf = Rc::new(buf);
        let written = self.submit_direct(index, pos, &buf).await;
        if let Ok(buf) = Rc::try_unwrap(buf) {
            direct::give_buffer(buf);
        }
        match written? {
            None => Ok(false),
            Some(n) => {
                if n < src.len() {
                    self.write_span(index, pos + n as u64, &src[n..]).await?;
                }
                Ok(true)
            }
        }
    }

    /// Whether direct writes are on, checking the device on first use.
    async fn direct_ready(&self) -> bool {
        if self.direct.get() == DirectMode::Untried {
            let works = direct::device_supports_direct(&self.root).await;
            // Another write may have settled it meanwhile; `Off` stays off.
            if self.direct.get() == DirectMode::Untried {
                self.direct.set(if works { DirectMode::On } else { DirectMode::Off });
            }
        }
        self.direct.get() == DirectMode::On
    }

    /// Writes `buf` (aligned offset and length) at `pos` of file `index` with
    /// `O_DIRECT`: `Ok(Some(n))` bytes written (n > 0), `Ok(None)` when direct writes
    /// are not possible here (now switched off; nothing was written).
    async fn submit_direct(&self, index: usize, pos: u64, buf: &Rc<DmaBuffer>) -> Result<Option<usize>, StorageError> {
        if !self.direct_ready().await {
            return Ok(None);
        }
        let path = &self.files[index].full;
        let Some(file) = self.direct_file(index).await? else {
            return Ok(None);
        };
        match file.write_rc_at(buf.clone(), pos).await.map_err(from_glommio) {
            Ok(0) => Err(io_error(Op::Write, path, std::io::ErrorKind::WriteZero.into())),
            Ok(n) => Ok(Some(n)),
            Err(e) if direct::is_unsupported(&e) => {
                tracing::info!(?path, "direct writes off for this torrent: {e}");
                self.direct.set(DirectMode::Off);
                Ok(None)
            }
            Err(e) => Err(io_error(Op::Write, path, e)),
        }
    }

    /// The direct handle of file `index`, opening (and creating) it if needed.
    /// `None`: the file system refuses `O_DIRECT` (direct writes are now off).
    async fn direct_file(&self, index: usize) -> Result<Option<Rc<DmaFile>>, StorageError> {
        if let Some(f) = open_files::get_direct(self.key(index, true)) {
            return Ok(Some(f));
        }
        let (full, _) = paths::resolve(&self.root, &self.files[index].rel, true)?;
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).custom_flags(libc::O_NOFOLLOW);
        let file = match open_retrying(|| async { opts.dma_open(&full).await.map_err(from_glommio) }).await {
            Ok(f) => f,
            Err(e) if direct::is_unsupported(&e) => {
                tracing::info!(path = ?full, "direct writes off for this torrent: {e}");
                self.direct.set(DirectMode::Off);
                return Ok(None);
            }
            Err(e) => return Err(io_error(Op::Open, &full, e)),
        };
        Ok(Some(open_files::insert_direct(self.key(index, true), file)))
    }

    pub(super) async fn write_piece_owned(
        &self,
        piece: PieceIndex,
        data: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let size = self.whole_piece_size(piece, data.len())?;
        let mut spans = self.layout.spans(piece, 0, size);
        // Across files, or partly direct: the bytes are copied, the buffer comes back.
        let span = match (spans.next(), spans.next()) {
            (Some(span), None)
                if !self.files[span.file_index].padding
                    && self.direct_split(span.file_offset, u64::from(span.length)).is_none() =>
            {
                span
            }
            _ => {
                self.write_piece(piece, &data).await?;
                return Ok(Some(data));
            }
        };
        let path = &self.files[span.file_index].full;
        let file = self.writable_file(span.file_index, span.file_offset).await?;
        self.dirty.borrow_mut().insert(span.file_index);
        let len = data.len();
        let n = file
            .write_at(data, span.file_offset)
            .await
            .map_err(|e| glommio_error(Op::Write, path, e))?;
        if n != len {
            return Err(io_error(Op::Write, path, std::io::ErrorKind::WriteZero.into()));
        }
        self.written.borrow_mut().set(piece.0);
        Ok(None)
    }

    /// The buffered handle of file `index`, for a write at `pos`.
    async fn writable_file(&self, index: usize, pos: u64) -> Result<Rc<BufferedFile>, StorageError> {
        self.file(index, true).await?.ok_or_else(|| StorageError::Missing {
            path: self.files[index].full.clone(),
            offset: pos,
            len: 0,
        })
    }

    async fn write_span(&self, index: usize, pos: u64, src: &[u8]) -> Result<(), StorageError> {
        let path = &self.files[index].full;
        let file = self.writable_file(index, pos).await?;
        let mut done = 0usize;
        while done < src.len() {
            let n = file
                .write_at(src[done..].to_vec(), pos + done as u64)
                .await
                .map_err(|e| glommio_error(Op::Write, path, e))?;
            if n == 0 {
                return Err(io_error(Op::Write, path, std::io::ErrorKind::WriteZero.into()));
            }
            done += n;
        }
        Ok(())
    }
}
