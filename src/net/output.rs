//! Replies waiting to be written, and the writing, each write with a time
//! limit.
//!
//! Small replies collect in a buffer and go out together when the session
//! has nothing more to answer (pipelining: a burst of commands costs one
//! write); a run as large as the buffer, such as a message body read from
//! the store, goes to the stream directly without a copy. Every write is
//! cut in pieces that must each leave within the limit, so a client that
//! stops reading cannot hold its session forever, and one that reads
//! slowly but steadily is not cut off.

use std::fmt;
use std::io::{self, Write as _};
use std::time::Duration;

use smol::io::{AsyncWrite, AsyncWriteExt};

use super::{timed, timed_out};

/// The most bytes collected before they are written.
const OUT_BUF: usize = 16 * 1024;
/// A write larger than this is split, so the limit bounds each part.
const WRITE_CHUNK: usize = 64 * 1024;
/// An idle session keeps at most this much buffer.
const KEEP: usize = 4096;

pub struct Output {
    buf: Vec<u8>,
    /// How long one piece of a write may wait for the peer.
    limit: Duration,
}

impl Output {
    pub fn new(limit: Duration) -> Output {
        Output {
            buf: Vec::new(),
            limit,
        }
    }

    /// Bytes collected and not yet written.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// One line from its parts, CRLF added.
    pub fn line(&mut self, parts: &[&str]) {
        for part in parts {
            self.buf.extend_from_slice(part.as_bytes());
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Formatted text, as `write!(out, ...)` (what a `Vec<u8>` does: it
    /// cannot fail).
    pub fn write_fmt(&mut self, args: fmt::Arguments) -> io::Result<()> {
        self.buf.write_fmt(args)
    }

    /// A status line, `status text` CRLF (`+OK done`, `-ERR why`); an
    /// empty text leaves the status alone on its line.
    pub fn status(&mut self, status: &[u8], text: fmt::Arguments) {
        self.buf.extend_from_slice(status);
        if text.as_str() != Some("") {
            self.buf.push(b' ');
            let _ = self.buf.write_fmt(text);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Queues `bytes`, writing out first if the buffer would overflow; a
    /// run as large as the buffer is written without a copy.
    pub async fn put<W: AsyncWrite + Unpin>(&mut self, w: &mut W, bytes: &[u8]) -> io::Result<()> {
        if self.buf.len() + bytes.len() > OUT_BUF {
            self.drain(w).await?;
            if bytes.len() >= OUT_BUF {
                return self.write(w, bytes).await;
            }
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes the buffer out if it has reached its size.
    pub async fn spill<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> io::Result<()> {
        if self.buf.len() >= OUT_BUF {
            self.drain(w).await?;
        }
        Ok(())
    }

    /// Writes the buffer out (without flushing the stream).
    pub async fn drain<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.write(w, &self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes everything and flushes the stream (TLS records included).
    pub async fn flush<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> io::Result<()> {
        self.drain(w).await?;
        // An idle session keeps only a small buffer.
        if self.buf.capacity() > KEEP {
            self.buf = Vec::new();
        }
        timed(self.limit, timed_out, w.flush()).await
    }

    /// Writes all of `bytes`, each piece within the limit.
    async fn write<W: AsyncWrite + Unpin>(&self, w: &mut W, bytes: &[u8]) -> io::Result<()> {
        for chunk in bytes.chunks(WRITE_CHUNK) {
            timed(self.limit, timed_out, w.write_all(chunk)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_then_writes_in_order() {
        smol::block_on(async {
            let mut sink = Vec::new();
            let mut out = Output::new(Duration::from_secs(1));
            out.status(b"+OK", format_args!("{} messages", 2));
            out.status(b"+OK", format_args!(""));
            out.line(&["TOP", " 1"]);
            let _ = write!(out, "{} {}\r\n", 1, 120);
            out.push(b".\r\n");
            assert!(sink.is_empty());
            out.spill(&mut sink).await.unwrap();
            assert!(sink.is_empty(), "written before the buffer was full");
            let big = vec![b'x'; OUT_BUF * 2];
            out.put(&mut sink, &big).await.unwrap();
            out.put(&mut sink, b"tail\r\n").await.unwrap();
            assert_eq!(out.pending(), b"tail\r\n");
            out.flush(&mut sink).await.unwrap();
            assert!(out.pending().is_empty());
            let head = b"+OK 2 messages\r\n+OK\r\nTOP 1\r\n1 120\r\n.\r\n";
            assert_eq!(&sink[..head.len()], head);
            assert_eq!(&sink[head.len()..head.len() + big.len()], &big[..]);
            assert_eq!(&sink[head.len() + big.len()..], b"tail\r\n");
        });
    }

    /// A peer that never reads: the write gives up after the limit.
    struct Stuck;

    impl AsyncWrite for Stuck {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::task::Poll::Pending
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Pending
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_stuck_peer_times_out() {
        smol::block_on(async {
            let mut out = Output::new(Duration::from_millis(20));
            out.push(b"+OK\r\n");
            let err = out.flush(&mut Stuck).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        });
    }
}
