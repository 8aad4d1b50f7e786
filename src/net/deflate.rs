//! A deflate layer over a connection (RFC 4978, IMAP COMPRESS=DEFLATE):
//! raw deflate (RFC 1951, no zlib header or checksum) both ways, sitting
//! between the socket or TLS and the session, so [`super::Input`] and the
//! session's writes see plain bytes.
//!
//! Reading inflates into the caller's buffer only: a few compressed bytes
//! that expand a thousandfold ("decompression bomb") still come out at
//! most one buffer per read, so the session's bounds on lines and
//! literals apply to the decompressed bytes exactly as to plain ones.
//!
//! Writing deflates into a small buffer; every flush of the stream (the
//! session flushes after each burst of responses) ends with a sync flush
//! (RFC 4978 §4 asks for it: Z_SYNC_FLUSH), so everything sent so far can
//! be decoded by the client at once. Without it a client that waits for a
//! response (IDLE, a tagged OK) would wait forever for bytes the
//! compressor holds back: the stall that made Mox turn COMPRESS off.
//!
//! Memory: the compressor's window, hash chains and buffers, the
//! decompressor's window and our two buffers add up to about 440 KiB
//! allocated (`tests::state_size`; fewer pages are touched at once, see
//! scripts/bench-imap.sh for the resident figure); it is held as long as
//! the connection and taken from the server's memory budget by the caller.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use smol::io::{AsyncRead, AsyncWrite};

use super::Stream;

/// Compressed bytes read ahead of the inflater.
const IN_BUF: usize = 4 * 1024;
/// Compressed bytes waiting to be written.
const OUT_BUF: usize = 8 * 1024;
/// Level 1 (miniz's fast greedy matcher): IMAP text compresses about as
/// well at 1 as at 6 and the board's CPU is the scarce resource.
const LEVEL: i32 = 1;
/// Raw deflate with the full 32 KiB window (negative: no zlib header).
const WINDOW_BITS: i32 = -15;

/// What a compressed connection holds for its lifetime, in bytes, for the
/// memory budget; see the module comment.
pub const STATE_BYTES: usize = 448 * 1024;

pub struct Deflate {
    inner: Stream,
    inflate: Box<InflateState>,
    deflate: Box<CompressorOxide>,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    /// The client's deflate stream ended (a final block): no more input.
    in_done: bool,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    /// Bytes were compressed since the last sync flush.
    unflushed: bool,
}

impl Deflate {
    pub fn new(inner: Stream) -> Deflate {
        let flags = create_comp_flags_from_zip_params(LEVEL, WINDOW_BITS, 0);
        Deflate {
            inner,
            inflate: InflateState::new_boxed(DataFormat::Raw),
            deflate: Box::new(CompressorOxide::new(flags)),
            input: vec![0; IN_BUF].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            in_done: false,
            output: vec![0; OUT_BUF].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            unflushed: false,
        }
    }

    pub fn inner(&self) -> &Stream {
        &self.inner
    }

    /// Writes the compressed bytes waiting until none are left.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_start < self.out_end {
            let chunk = &self.output[self.out_start..self.out_end];
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, chunk))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_start += n;
        }
        self.out_start = 0;
        self.out_end = 0;
        Poll::Ready(Ok(()))
    }

    /// Compresses `buf` (or flushes with `flush`) into the free part of
    /// the output buffer.
    fn compress(&mut self, buf: &[u8], flush: MZFlush) -> io::Result<(usize, usize)> {
        let space = &mut self.output[self.out_end..];
        let r = miniz_oxide::deflate::stream::deflate(&mut self.deflate, buf, space, flush);
        match r.status {
            Ok(_) | Err(MZError::Buf) => {
                self.out_end += r.bytes_written;
                Ok((r.bytes_consumed, r.bytes_written))
            }
            Err(e) => Err(io::Error::other(format!("deflate failed: {e:?}"))),
        }
    }
}

impl AsyncRead for Deflate {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.in_done {
                return Poll::Ready(Ok(0));
            }
            // Called even with no input left: the inflater may hold output
            // that did not fit the last caller's buffer (miniz hands it out
            // only on the next call), and waiting for the socket then would
            // stall a client that has sent everything.
            let data = &this.input[this.in_start..this.in_end];
            let r =
                miniz_oxide::inflate::stream::inflate(&mut this.inflate, data, buf, MZFlush::None);
            this.in_start += r.bytes_consumed;
            match r.status {
                Ok(MZStatus::StreamEnd) => this.in_done = true,
                Ok(_) | Err(MZError::Buf) => {}
                Err(e) => {
                    let why = format!("invalid deflate data from the client: {e:?}");
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
                }
            }
            if r.bytes_written > 0 {
                return Poll::Ready(Ok(r.bytes_written));
            }
            if r.bytes_consumed > 0 && this.in_start < this.in_end {
                continue;
            }
            // All buffered input consumed (the inflater keeps partial
            // codes itself): read more compressed bytes.
            if this.in_start == this.in_end {
                this.in_start = 0;
                this.in_end = 0;
            } else if this.in_start > 0 {
                this.input.copy_within(this.in_start..this.in_end, 0);
                this.in_end -= this.in_start;
                this.in_start = 0;
            }
            let free = &mut this.input[this.in_end..];
            if free.is_empty() {
                // A full buffer the inflater makes no progress on.
                let why = "deflate data from the client makes no progress";
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
            }
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, free))?;
            if n == 0 {
                return Poll::Ready(Ok(0));
            }
            this.in_end += n;
        }
    }
}

impl AsyncWrite for Deflate {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.out_end == this.output.len() {
                ready!(this.poll_drain(cx))?;
            }
            let (consumed, _) = this.compress(buf, MZFlush::None)?;
            if consumed > 0 {
                this.unflushed = true;
                return Poll::Ready(Ok(consumed));
            }
            // Nothing taken: the output buffer is full.
            ready!(this.poll_drain(cx))?;
        }
    }

    /// A sync flush (RFC 4978 §4), then the compressed bytes out, then
    /// the transport's flush (TLS records).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.unflushed {
            if this.out_end == this.output.len() {
                ready!(this.poll_drain(cx))?;
            }
            let space = this.output.len() - this.out_end;
            let (_, written) = this.compress(&[], MZFlush::Sync)?;
            // Room left over means the flush block is wholly out.
            if written < space {
                this.unflushed = false;
            }
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Input;
    use smol::Async;
    use smol::io::{AsyncReadExt, AsyncWriteExt};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    fn pair() -> (Stream, Async<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (
            Stream::Plain(Async::new(server).unwrap()),
            Async::new(client).unwrap(),
        )
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec(data, 6)
    }

    /// RFC 4978 §4: after a flush the client decodes everything written
    /// so far without the stream ending; raw deflate, no zlib header.
    #[test]
    fn a_flush_makes_everything_decodable() {
        smol::block_on(async {
            let (server, mut client) = pair();
            let mut server = Deflate::new(server);
            server.write_all(b"* 3 EXISTS\r\n").await.unwrap();
            server.flush().await.unwrap();
            let mut got = vec![0; 256];
            let n = client.read(&mut got).await.unwrap();
            // Waiting for more would hang here if the flush held bytes back.
            let mut state = InflateState::new_boxed(DataFormat::Raw);
            let mut plain = vec![0; 256];
            let r = miniz_oxide::inflate::stream::inflate(
                &mut state,
                &got[..n],
                &mut plain,
                MZFlush::None,
            );
            assert_eq!(&plain[..r.bytes_written], b"* 3 EXISTS\r\n");
            // The sync flush marker: an empty stored block.
            assert!(got[..n].ends_with(&[0, 0, 0xff, 0xff]), "{:?}", &got[..n]);
        });
    }

    /// A bomb: 8 MiB of one byte, in a few KiB of deflate, comes out of
    /// the line reader as a line too long, the buffer never past its bound.
    #[test]
    fn a_decompression_bomb_is_bounded_by_the_line_limit() {
        smol::block_on(async {
            let (server, mut client) = pair();
            let mut server = Deflate::new(server);
            let mut bomb = vec![b'x'; 8 << 20];
            bomb.extend_from_slice(b"\r\nA1 NOOP\r\n");
            let compressed = raw_deflate(&bomb);
            assert!(compressed.len() < 64 * 1024, "{}", compressed.len());
            let writer = smol::spawn(async move {
                client.write_all(&compressed).await.unwrap();
                client
            });
            let mut input = Input::unpaced();
            let t = Duration::from_secs(10);
            let long = input.line(&mut server, 1024, t).await;
            assert!(matches!(long, Err(crate::net::ReadError::TooLong)));
            let n = input.line(&mut server, 1024, t).await.unwrap();
            assert_eq!(&input.buffered()[..n], b"A1 NOOP\r\n");
            input.consume(n);
            input.shrink();
            let _client = writer.await;
        });
    }

    /// A burst that inflates to more than the reader's buffer comes out
    /// whole without more bytes from the client (miniz holds the excess
    /// until the next call: reading the socket first stalled the mix).
    #[test]
    fn output_held_by_the_inflater_is_read_without_more_input() {
        smol::block_on(async {
            let (server, mut client) = pair();
            let mut server = Deflate::new(server);
            let command = format!("A1 APPEND INBOX {{4000+}}\r\n{}\r\n", "y".repeat(4000));
            client
                .write_all(&raw_deflate(command.as_bytes()))
                .await
                .unwrap();
            let mut got = Vec::new();
            let mut buf = [0; 100];
            while got.len() < command.len() {
                let n = smol::future::or(server.read(&mut buf), async {
                    smol::Timer::after(Duration::from_secs(5)).await;
                    Err(io::ErrorKind::TimedOut.into())
                })
                .await
                .unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, command.as_bytes());
        });
    }

    /// Invalid deflate data is an error, not a hang or a panic.
    #[test]
    fn garbage_is_invalid_data() {
        smol::block_on(async {
            let (server, mut client) = pair();
            let mut server = Deflate::new(server);
            client.write_all(&[0xff; 64]).await.unwrap();
            let mut buf = [0; 64];
            let err = server.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        });
    }

    /// The memory a compressed connection holds (printed with
    /// `cargo test --lib state_size -- --nocapture`), checked against
    /// what is taken from the budget.
    #[test]
    fn state_size() {
        let d = Deflate::new(Stream::Closed);
        let heap = std::mem::size_of::<InflateState>()
            + std::mem::size_of::<CompressorOxide>()
            + compressor_heap(&d.deflate)
            + IN_BUF
            + OUT_BUF;
        println!("deflate state per connection: {} KiB", heap / 1024);
        assert!(heap <= STATE_BYTES, "{heap}");
    }

    /// The compressor's boxed tables: miniz keeps its hash chains, window
    /// and output buffer behind boxes; their sizes by the crate's constants
    /// (window 32 KiB + 258 lookahead, two u16 tables of 32 Ki entries,
    /// LZ code buffer 64 KiB, output buffer 85 KiB; Huffman tables).
    fn compressor_heap(_: &CompressorOxide) -> usize {
        (32 * 1024 + 258 + 2 * 32 * 1024 * 2) + 64 * 1024 + 85 * 1024 + 12 * 1024
    }
}
