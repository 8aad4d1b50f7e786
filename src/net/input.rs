//! A session's input buffer: bounded lines, raw chunks, idle timeout.
//!
//! Sessions parse in place from [`Input::buffered`] (parsers take `&[u8]`),
//! so a pipelined burst of commands costs no copy. The buffer starts small
//! and grows only as far as the caller's bound, which keeps an idle
//! connection cheap. [`Input::discard`] exists for STARTTLS/STLS: whatever
//! the client sent in plaintext after the command must never be executed.
//!
//! The search for a line's end remembers how far it got: a client that
//! sends a 64 KiB line one byte per read must cost 64 Ki comparisons, not
//! the 2·10⁹ of rescanning the buffer from its start after every read.
//! Each read still costs a wake-up and a few system calls (about 17 µs on
//! x86, over a second for such a line), so once a line is longer than an
//! ordinary command and arrives in small pieces, [`Input::line`] waits
//! before reading on and takes whatever piled up in one read: 10 ms, then
//! twice as long for each further small read of the same line, up to
//! [`MAX_TRICKLE_PAUSE`]. A trickling client gets a few reads a second; an
//! honest one, whose long line comes in full segments, waits at most once,
//! briefly, when the line's last segment is a small one.

use std::io;
use std::time::Duration;

use smol::io::{AsyncRead, AsyncReadExt};

use super::{timed, timed_out};

/// Bytes read ahead of the parser.
pub struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How many bytes from `start` are known to hold no LF; the next
    /// search for a line's end resumes there.
    scanned: usize,
    /// Bytes read since this session last let the executor run others.
    since_yield: usize,
    /// Whether a trickling line makes the next read wait (always, but for
    /// input fed from memory: see [`Input::unpaced`]).
    paced: bool,
    /// Bytes the line search has looked at, for the test of the above.
    #[cfg(test)]
    examined: usize,
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

/// A read that finds bytes waiting does not return to the executor, so a
/// client streaming a 25 MB message as fast as loopback allows would keep
/// every other session waiting until it is done. After this many bytes
/// the session yields: every session gets its turn within a few
/// milliseconds, whatever the others send.
const YIELD_EVERY: usize = 256 * 1024;

/// A partial line longer than this is past an ordinary command...
const TRICKLE_AFTER: usize = 64;
/// ...and a read shorter than this, while it waits for its end, makes the
/// next read wait: [`TRICKLE_PAUSE`] at first, doubling up to
/// [`MAX_TRICKLE_PAUSE`].
const SMALL_READ: usize = 256;
const TRICKLE_PAUSE: Duration = Duration::from_millis(10);
const MAX_TRICKLE_PAUSE: Duration = Duration::from_millis(320);

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
            scanned: 0,
            since_yield: 0,
            paced: true,
            #[cfg(test)]
            examined: 0,
        }
    }

    /// An input that never waits between small reads: for bytes fed from
    /// memory in arbitrary pieces (the fuzzers), where the waits would be
    /// real time spent on nothing. Lines, literals and bounds are read
    /// exactly as [`Input::new`] reads them.
    pub fn unpaced() -> Input {
        Input {
            paced: false,
            ..Input::new()
        }
    }

    /// Waits `pause` before the next read of a trickling line, if paced.
    async fn pause(&self, pause: Duration) {
        if self.paced {
            smol::Timer::after(pause).await;
        }
    }

    /// Bytes read but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        // The bytes after the consumed ones were searched already.
        self.scanned = self.scanned.saturating_sub(n);
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
        self.scanned = 0;
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
                self.since_yield += n;
                if self.since_yield >= YIELD_EVERY {
                    self.since_yield = 0;
                    smol::future::yield_now().await;
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(ReadError::Timeout),
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// The length of the next complete line (through its LF) in the buffer.
    /// Searches only bytes no earlier call has searched, so waiting for a
    /// line costs each byte one comparison however it is split into reads.
    pub fn line_len(&mut self) -> Option<usize> {
        let from = self.scanned;
        let found = self.buffered()[from..].iter().position(|&b| b == b'\n');
        #[cfg(test)]
        {
            self.examined += found.map_or(self.end - self.start - from, |i| i + 1);
        }
        match found {
            Some(i) => {
                // Not remembered past the LF: consuming the line resets it.
                self.scanned = from + i;
                Some(from + i + 1)
            }
            None => {
                self.scanned = self.end - self.start;
                None
            }
        }
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
        let mut pause = TRICKLE_PAUSE;
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
            let n = self.fill(stream, max, idle).await?;
            if n < SMALL_READ && self.buffered().len() > TRICKLE_AFTER {
                self.pause(pause).await;
                pause = (pause * 2).min(MAX_TRICKLE_PAUSE);
            }
        }
    }

    async fn skip_long_line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        idle: Duration,
    ) -> Result<usize, ReadError> {
        let mut pause = TRICKLE_PAUSE;
        loop {
            if let Some(len) = self.line_len() {
                self.consume(len);
                return Err(ReadError::TooLong);
            }
            self.discard();
            // The line is refused already: reading its rest slowly costs
            // an honest client nothing.
            if self.fill(stream, INITIAL, idle).await? < SMALL_READ {
                self.pause(pause).await;
                pause = (pause * 2).min(MAX_TRICKLE_PAUSE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        smol::block_on(f)
    }

    /// A session reading a stream that never runs dry still lets the
    /// others run: the reader is scheduled first and would otherwise read
    /// all of it before the other task got a turn.
    #[test]
    fn bulk_reads_let_other_sessions_run() {
        let ex = smol::LocalExecutor::new();
        let other_ran = std::rc::Rc::new(std::cell::Cell::new(false));
        let seen = other_ran.clone();
        let reader = ex.spawn(async move {
            let mut stream = smol::io::Cursor::new(vec![b'x'; 4 * YIELD_EVERY]);
            let mut input = Input::new();
            let (mut total, mut ran_midway) = (0, false);
            while total < 4 * YIELD_EVERY {
                let n = input
                    .fill(&mut stream, 64 * 1024, Duration::from_secs(1))
                    .await
                    .unwrap();
                input.consume(n);
                total += n;
                ran_midway |= total <= 2 * YIELD_EVERY && seen.get();
            }
            ran_midway
        });
        let _other = ex.spawn(async move { other_ran.set(true) });
        assert!(smol::block_on(ex.run(reader)));
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

    /// A stream that hands out one byte per read, as a hostile client
    /// sending a byte per TCP segment would.
    struct OneByteAtATime(Vec<u8>, usize);

    impl AsyncRead for OneByteAtATime {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let n = usize::from(self.1 < self.0.len() && !buf.is_empty());
            if n == 1 {
                buf[0] = self.0[self.1];
                self.1 += 1;
            }
            std::task::Poll::Ready(Ok(n))
        }
    }

    #[test]
    fn line_sent_a_byte_per_read_is_searched_once() {
        // Short of TRICKLE_AFTER, so every read is one byte.
        let size = TRICKLE_AFTER;
        let mut data = vec![b'x'; size - 2];
        data.extend_from_slice(b"\r\nNOOP\r\n");
        let mut stream = OneByteAtATime(data, 0);
        let mut input = Input::new();
        run(async {
            let n = input
                .line(&mut stream, size, Duration::from_secs(1))
                .await
                .unwrap();
            assert_eq!(n, size);
            input.consume(n);
            let n = input
                .line(&mut stream, size, Duration::from_secs(1))
                .await
                .unwrap();
            assert_eq!(&input.buffered()[..n], b"NOOP\r\n");
        });
        // Each byte looked at once, not once per read that followed it.
        assert_eq!(input.examined, size + 6);
    }

    /// A client that sends its first `burst` bytes at once and then one
    /// byte every `gap`, by the clock; counts the reads it answers.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        burst: usize,
        gap: Duration,
        start: std::time::Instant,
        timer: Option<smol::Timer>,
        reads: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            use std::future::Future;
            loop {
                let ticks = self.start.elapsed().as_nanos() / self.gap.as_nanos();
                let ready = (self.burst + ticks as usize).min(self.data.len());
                if ready > self.pos {
                    let n = (ready - self.pos).min(buf.len());
                    let pos = self.pos;
                    buf[..n].copy_from_slice(&self.data[pos..pos + n]);
                    self.pos += n;
                    self.reads += 1;
                    return std::task::Poll::Ready(Ok(n));
                }
                let next = self.start + self.gap * (self.pos + 1 - self.burst) as u32;
                let timer = self.timer.insert(smol::Timer::at(next));
                if std::pin::Pin::new(timer).poll(cx).is_pending() {
                    return std::task::Poll::Pending;
                }
            }
        }
    }

    #[test]
    fn trickled_long_line_is_read_a_few_times_not_per_byte() {
        // 64 KiB, the first KiB at once, then a byte every 10 µs: without
        // the pause each byte could be a read of its own.
        let size = 64 * 1024;
        let mut data = vec![b'x'; size - 2];
        data.extend_from_slice(b"\r\n");
        let mut stream = Trickle {
            data,
            pos: 0,
            burst: TRICKLE_AFTER + 1,
            gap: Duration::from_micros(10),
            start: std::time::Instant::now(),
            timer: None,
            reads: 0,
        };
        let mut input = Input::new();
        let began = std::time::Instant::now();
        let n = run(input.line(&mut stream, size, Duration::from_secs(5))).unwrap();
        assert_eq!(n, size);
        assert_eq!(input.examined, size);
        // A pause, a big read of what piled up, a small one of what came
        // meanwhile, the next pause: about two reads per pause.
        let pauses = began.elapsed().as_millis() / TRICKLE_PAUSE.as_millis();
        assert!(
            stream.reads as u128 <= 2 * pauses + 5,
            "{} reads in {pauses} pauses",
            stream.reads
        );
        // And the pauses grow (10, 20, ... 320 ms): a fixed 10 ms made 126.
        assert!(stream.reads <= 40, "{} reads", stream.reads);
    }

    #[test]
    fn partly_consumed_buffer_keeps_its_search_position() {
        let mut stream = smol::io::Cursor::new(b"abcdef\r\nxyz\r\n".to_vec());
        let mut input = Input::new();
        run(async {
            input
                .fill(&mut stream, 100, Duration::from_secs(1))
                .await
                .unwrap();
        });
        // A literal's bytes taken from the front keep the search valid.
        assert_eq!(input.line_len(), Some(8));
        input.consume(3);
        assert_eq!(input.line_len(), Some(5));
        assert_eq!(&input.buffered()[..5], b"def\r\n");
        input.consume(5);
        assert_eq!(input.line_len(), Some(5));
        assert_eq!(&input.buffered()[..5], b"xyz\r\n");
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
