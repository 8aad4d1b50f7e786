//! An in-memory async stream that returns its bytes in the pieces of a
//! [`Plan`], as a socket returns whatever has arrived: the session input
//! buffer (`smolmail::net::Input`) reads from it in the fuzz targets.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use smol::io::AsyncRead;

use crate::chunks::Plan;

pub struct ChunkReader<'a> {
    pieces: Vec<&'a [u8]>,
    next: usize,
}

impl<'a> ChunkReader<'a> {
    pub fn new(payload: &'a [u8], plan: Plan<'_>) -> ChunkReader<'a> {
        ChunkReader {
            pieces: plan.pieces(payload),
            next: 0,
        }
    }
}

impl AsyncRead for ChunkReader<'_> {
    /// At most the rest of the current piece; `Ok(0)` once all are read.
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(piece) = this.pieces.get_mut(this.next) else {
            return Poll::Ready(Ok(0));
        };
        let n = piece.len().min(buf.len());
        buf[..n].copy_from_slice(&piece[..n]);
        *piece = &piece[n..];
        if piece.is_empty() {
            this.next += 1;
        }
        Poll::Ready(Ok(n))
    }
}
