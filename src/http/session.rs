//! One HTTP/1.1 connection: read a request within the bounds of
//! `super` (head size, body size, the whole request within
//! [`REQUEST_TIMEOUT`]), hand it to the listener's router, write the
//! answer, and go on while the connection persists (RFC 9112 §9.3).
//!
//! Every answer carries Content-Length, so the client always knows where
//! it ends; a HEAD answer carries the GET answer's fields without the body
//! (RFC 9110 §9.3.2). A request the parser refuses is answered with its
//! status and the connection closed (RFC 9112 §9.6: after a framing error
//! the next request cannot be found).

use std::io;
use std::time::Duration;

use smol::io::AsyncWriteExt;

use super::parse::{Error, head_end, parse_head, skip_blank_lines};
use super::{
    IDLE_TIMEOUT, MAX_BODY, MAX_HEAD, MAX_REQUESTS, REQUEST_TIMEOUT, Request, Response,
    WRITE_TIMEOUT, reason,
};
use crate::context::{Conn, Shutdown};
use crate::net::{Input, ReadError, Stream, timed, timed_out};

/// How long a refused client's further bytes are read and dropped.
const LINGER: Duration = Duration::from_secs(2);

/// Why no request came.
enum Stop {
    /// The client closed, went idle, or the server is shutting down.
    Quiet,
    /// The request took longer than [`REQUEST_TIMEOUT`].
    Slow,
    /// The request is refused: answer with this, then close.
    Refused(Error),
    Io(io::Error),
}

/// Serves HTTP on `conn` with `route` answering each request until the
/// client closes, stays idle past [`IDLE_TIMEOUT`], sends a request that
/// cannot be served, or [`MAX_REQUESTS`] have been answered.
///
/// `shutdown` (the server's, `Context::shutdown`) ends an idle wait at
/// once and makes the answer in progress the last.
pub async fn session(
    conn: Conn,
    shutdown: &Shutdown,
    route: impl AsyncFn(&Request<'_>) -> Response,
) {
    let Conn {
        id,
        service,
        peer,
        mut stream,
        ..
    } = conn;
    let name = service.name();
    let tls = stream.is_tls();
    let mut input = Input::new();
    let mut stop = shutdown.listen();
    for served in 1..=MAX_REQUESTS {
        let idle = if served == 1 {
            REQUEST_TIMEOUT
        } else {
            IDLE_TIMEOUT
        };
        let read = async {
            first_byte(&mut input, &mut stream, idle).await?;
            smol::future::or(read_request(&mut input, &mut stream), async {
                smol::Timer::after(REQUEST_TIMEOUT).await;
                Err(Stop::Slow)
            })
            .await
        };
        let wait_shutdown = async {
            (&mut stop).await;
            Err(Stop::Quiet)
        };
        let (len, head_len) = match smol::future::or(read, wait_shutdown).await {
            Ok(lens) => lens,
            Err(Stop::Quiet) => return,
            Err(Stop::Slow) => {
                log::info!(
                    "[{id}] {name}: {peer} took over {REQUEST_TIMEOUT:?} to send a request; closing"
                );
                return;
            }
            Err(Stop::Io(e)) => {
                log::info!("[{id}] {name}: read from {peer} failed: {e}");
                return;
            }
            Err(Stop::Refused(e)) => {
                log::info!(
                    "[{id}] {name}: {peer}: refused request ({}: {})",
                    e.status(),
                    match e {
                        Error::Bad(why) => why,
                        _ => reason(e.status()),
                    }
                );
                // Said in words a person at a browser understands too (the
                // admin pages' forms are the only large bodies).
                let text = match e {
                    Error::TooLarge => format!(
                        "{}: a request body has at most {} KiB; nothing was changed\n",
                        reason(413),
                        MAX_BODY >> 10
                    ),
                    _ => format!("{}\n", reason(e.status())),
                };
                let answer = Response::text(e.status(), text);
                if write(&mut stream, &answer, false, false).await.is_ok() {
                    input.discard();
                    linger(&mut input, &mut stream).await;
                }
                return;
            }
        };
        let bytes = &input.buffered()[..len];
        // The head was parsed once already, so this cannot fail; parsing
        // it again (at most MAX_HEAD bytes) lets the request borrow the
        // buffer that reading the body needed to grow.
        let Ok(head) = parse_head(&bytes[..head_len]) else {
            return;
        };
        let request = Request {
            body: &bytes[head_len..],
            peer,
            tls,
            head,
        };
        let keep = request.head.keep_alive && served < MAX_REQUESTS && !shutdown.is_begun();
        let answer = route(&request).await;
        let level = match answer.routine {
            true => log::Level::Debug,
            false => log::Level::Info,
        };
        log::log!(
            level,
            "[{id}] {name}: {peer} {} {} {:?} -> {} ({} bytes)",
            request.head.method,
            loggable(request.head.target),
            request.host().unwrap_or_default(),
            answer.status,
            answer.body_len()
        );
        let head_only = request.head.method == "HEAD";
        let written = write(&mut stream, &answer, keep, head_only).await;
        // A streamed file goes with its answer (see `TempFile`).
        drop(answer);
        input.consume(len);
        input.shrink();
        if let Err(e) = written {
            log::info!("[{id}] {name}: write to {peer} failed: {e}");
            return;
        }
        if !keep {
            // Requests pipelined behind this one stay unanswered: read
            // and drop them for a moment so that closing does not reset
            // the answer just sent (RFC 9112 §9.6).
            input.discard();
            linger(&mut input, &mut stream).await;
            return;
        }
    }
}

/// Waits up to `idle` for the first byte of the next request (one may be
/// buffered already, pipelined).
async fn first_byte(input: &mut Input, stream: &mut Stream, idle: Duration) -> Result<(), Stop> {
    while input.buffered().is_empty() {
        match input.fill(stream, MAX_HEAD + 1, idle).await {
            Ok(_) => {}
            Err(ReadError::Eof | ReadError::Timeout) => return Err(Stop::Quiet),
            Err(ReadError::TooLong) => return Err(Stop::Refused(Error::HeadersTooLarge)),
            Err(ReadError::Io(e)) => return Err(Stop::Io(e)),
        }
    }
    Ok(())
}

/// Reads one whole request; gives (its length, its head's length).
async fn read_request(input: &mut Input, stream: &mut Stream) -> Result<(usize, usize), Stop> {
    // Blank lines before a request are skipped (RFC 9112 §2.2), within
    // the request's deadline: a stream of them keeps nothing open longer.
    loop {
        let blank = skip_blank_lines(input.buffered());
        input.consume(blank);
        if !input.buffered().is_empty() && input.buffered() != b"\r" {
            break;
        }
        more(input, stream, MAX_HEAD + 1).await?;
    }
    let mut scanned = 0;
    let head_len = loop {
        let buf = input.buffered();
        match head_end(buf, scanned.max(3) - 3).map_err(Stop::Refused)? {
            Some(len) => break len,
            None => scanned = buf.len(),
        }
        more(input, stream, MAX_HEAD + 1).await?;
    };
    let head = parse_head(&input.buffered()[..head_len]).map_err(Stop::Refused)?;
    let (length, expect) = (head.content_length, head.expect_continue);
    let need = head_len + length;
    if expect && input.buffered().len() < need {
        // RFC 9110 §10.1.1: the client waits for this before the body.
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
        let write = stream.write_all(interim);
        timed(WRITE_TIMEOUT, timed_out, write)
            .await
            .map_err(Stop::Io)?;
        timed(WRITE_TIMEOUT, timed_out, stream.flush())
            .await
            .map_err(Stop::Io)?;
    }
    while input.buffered().len() < need {
        more(input, stream, need.clamp(MAX_HEAD + 1, MAX_HEAD + MAX_BODY)).await?;
    }
    Ok((need, head_len))
}

/// One more read into `input`, which may hold `limit` bytes.
async fn more(input: &mut Input, stream: &mut Stream, limit: usize) -> Result<(), Stop> {
    // The request as a whole has REQUEST_TIMEOUT; this bound is only so
    // that a read never waits forever on its own.
    match input.fill(stream, limit, REQUEST_TIMEOUT).await {
        Ok(_) => Ok(()),
        Err(ReadError::Eof) => Err(Stop::Quiet),
        Err(ReadError::Timeout) => Err(Stop::Slow),
        Err(ReadError::TooLong) => Err(Stop::Refused(Error::HeadersTooLarge)),
        Err(ReadError::Io(e)) => Err(Stop::Io(e)),
    }
}

/// Writes `answer` with Date, Content-Length and, unless `keep`,
/// `Connection: close`; without the body for HEAD.
async fn write(
    stream: &mut Stream,
    answer: &Response,
    keep: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        answer.status,
        reason(answer.status),
        crate::time::imf_fixdate(crate::time::now()),
        answer.content_type,
        answer.body_len()
    );
    for (name, value) in &answer.headers {
        // Values are the server's own; a line break would still split
        // the answer, so it never reaches the wire.
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !keep {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&answer.body);
    }
    timed(WRITE_TIMEOUT, timed_out, stream.write_all(&bytes)).await?;
    if let (Some(file), false) = (&answer.file, head_only) {
        stream_file(stream, file.path(), file.len()).await?;
    }
    timed(WRITE_TIMEOUT, timed_out, stream.flush()).await?;
    if !keep {
        // Half-close so the client reads the answer before the reset a
        // close with unread request bytes would send (RFC 9112 §9.6).
        let _ = timed(WRITE_TIMEOUT, timed_out, stream.close()).await;
    }
    Ok(())
}

/// Sends the file at `path`, exactly `len` bytes (the Content-Length
/// already sent), in 64 KiB pieces read on the blocking pool (smol's
/// `fs`), each written within [`WRITE_TIMEOUT`]: a large backup never
/// holds the executor, and a client that stops reading is dropped.
async fn stream_file(stream: &mut Stream, path: &std::path::Path, len: u64) -> io::Result<()> {
    use smol::io::AsyncReadExt;
    let mut file = smol::fs::File::open(path).await?;
    let mut chunk = vec![0u8; 64 << 10];
    let mut left = len;
    while left > 0 {
        let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while sent",
            ));
        }
        timed(WRITE_TIMEOUT, timed_out, stream.write_all(&chunk[..n])).await?;
        left -= n as u64;
    }
    Ok(())
}

/// A target for the log: at most 200 characters (it is client input).
fn loggable(target: &str) -> &str {
    match target.char_indices().nth(200) {
        Some((i, _)) => &target[..i],
        None => target,
    }
}

/// Reads and drops what the client still sends, for a moment, after a
/// refusal: closing with unread bytes makes the kernel reset the
/// connection, and the reset can destroy the answer before the client
/// read it (RFC 9112 §9.6 asks for a staged close).
async fn linger(input: &mut Input, stream: &mut Stream) {
    let until = std::time::Instant::now() + LINGER;
    let mut dropped = 0;
    while dropped < 256 * 1024 {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        match input.fill(stream, 4096, left).await {
            Ok(n) => dropped += n,
            Err(_) => return,
        }
        input.discard();
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
