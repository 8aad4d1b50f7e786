//! A session's input buffer: bounded lines, raw chunks, idle timeout.
//!
//! Sessions parse in place from [`Input::buffered`] (parsers take `&[u8]`),
//! so a pipelined burst of commands costs no copy. The buffer starts small
//! and grows only as far as the caller's bound, which keeps an idle
//! connection cheap. [`Input::discard`] exists for STARTTLS/STLS: whatever
//! the client sent in plaintext after the command must never be executed.

use std::io;
use std::time::Duration;

use smol::io::{AsyncRead, AsyncReadExt};

use super::{timed, timed_out};

/// Bytes read ahead of the parser.
pub struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// Why no line came back.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection.
    Eof,
    /// No byte arrived within the idle time.
    Timeout,
    /// The line is longer than the bound; it has been skipped up to and
    /// including its newline, so the session can answer and go on.
    TooLong,
    Io(io::Error),
}

const INITIAL: usize = 1024;

impl Default for Input {
    fn default() -> Self {
        Input::new()
    }
}

impl Input {
    pub fn new() -> Input {
        Input {
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Bytes read but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes room for at least `n` buffered bytes, so bulk transfers (DATA,
    /// literals) read in large pieces.
    pub fn reserve(&mut self, n: usize) {
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
    }

    /// Returns a grown buffer's memory once the bulk transfer is over; an
    /// idle connection keeps only what a command line needs.
    pub fn shrink(&mut self) {
        if self.buf.len() > INITIAL && self.end - self.start <= INITIAL {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buf.truncate(INITIAL);
            self.buf.shrink_to_fit();
        }
    }

    /// Throws away everything buffered; returns how much that was.
    pub fn discard(&mut self) -> usize {
        let n = self.end - self.start;
        self.start = 0;
        self.end = 0;
        n
    }

    /// Reads more bytes (at least one) into the buffer, which may grow to
    /// hold `limit` unconsumed bytes. Returns how many arrived.
    pub async fn fill<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        limit: usize,
        idle: Duration,
    ) -> Result<usize, ReadError> {
        if self.start > 0 && (self.end == self.buf.len() || self.start > self.buf.len() / 2) {
            // Slide the unconsumed tail to the front instead of growing.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let want = (self.buf.len() * 2).clamp(INITIAL, limit.max(INITIAL));
            if want <= self.buf.len() {
                return Err(ReadError::TooLong);
            }
            self.buf.resize(want, 0);
        }
        match timed(idle, timed_out, stream.read(&mut self.buf[self.end..])).await {
            Ok(0) => Err(ReadError::Eof),
            Ok(n) => {
                self.end += n;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(ReadError::Timeout),
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// The length of the next complete line (through its LF) in the buffer.
    pub fn line_len(&self) -> Option<usize> {
        self.buffered()
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
    }

    /// Waits for a whole line of at most `max` bytes and returns its length;
    /// the line is `buffered()[..len]` until consumed. A longer line is
    /// skipped through its newline and reported as [`ReadError::TooLong`].
    pub async fn line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        max: usize,
        idle: Duration,
    ) -> Result<usize, ReadError> {
        loop {
            if let Some(len) = self.line_len() {
                if len > max {
                    self.consume(len);
                    return Err(ReadError::TooLong);
                }
                return Ok(len);
            }
            if self.buffered().len() >= max {
                return self.skip_long_line(stream, idle).await;
            }
            self.fill(stream, max, idle).await?;
        }
    }

    async fn skip_long_line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        idle: Duration,
    ) -> Result<usize, ReadError> {
        loop {
            if let Some(len) = self.line_len() {
                self.consume(len);
                return Err(ReadError::TooLong);
            }
            self.discard();
            self.fill(stream, INITIAL, idle).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        smol::block_on(f)
    }

    #[test]
    fn lines_pipelined_and_long() {
        let data = b"EHLO a\r\nMAIL FROM:<x>\r\n".to_vec();
        let mut long = vec![b'x'; 5000];
        long.extend_from_slice(b"\r\nNOOP\r\n");
        let mut stream = smol::io::Cursor::new([data, long].concat());
        let mut input = Input::new();
        let t = Duration::from_secs(1);
        run(async {
            let n = input.line(&mut stream, 100, t).await.unwrap();
            assert_eq!(&input.buffered()[..n], b"EHLO a\r\n");
            input.consume(n);
            let n = input.line(&mut stream, 100, t).await.unwrap();
            assert_eq!(&input.buffered()[..n], b"MAIL FROM:<x>\r\n");
            input.consume(n);
            assert!(matches!(
                input.line(&mut stream, 100, t).await,
                Err(ReadError::TooLong)
            ));
            let n = input.line(&mut stream, 100, t).await.unwrap();
            assert_eq!(&input.buffered()[..n], b"NOOP\r\n");
            input.consume(n);
            assert!(matches!(
                input.line(&mut stream, 100, t).await,
                Err(ReadError::Eof)
            ));
        });
        assert!(
            input.buf.len() <= 1024 * 2,
            "buffer grew to {}",
            input.buf.len()
        );
    }

    #[test]
    fn discard_drops_pipelined_bytes() {
        let mut stream = smol::io::Cursor::new(b"STARTTLS\r\nMAIL FROM:<evil>\r\n".to_vec());
        let mut input = Input::new();
        run(async {
            let n = input
                .line(&mut stream, 100, Duration::from_secs(1))
                .await
                .unwrap();
            input.consume(n);
            assert_eq!(input.discard(), b"MAIL FROM:<evil>\r\n".len());
            assert!(input.buffered().is_empty());
        });
    }
}
