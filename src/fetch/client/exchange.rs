//! The exchange under every command of the fetcher's session: framing
//! and parsing responses in the read buffer, tags, writing commands with
//! their literals (RFC 3501 §7.5: a synchronizing literal waits for `+`),
//! and reading to the tagged answer while untagged data goes to the
//! caller. The commands themselves are in the parent module.

use std::time::Duration;

use smol::io::AsyncReadExt;

use super::{COMMAND, Error, KEEP, Session};
use crate::fetch::command::Arg;
use crate::fetch::response::{self, Code, Framed, Kind, Response, Untagged};
use crate::net::timed;

impl Session {
    pub(super) fn error(&self, text: impl std::fmt::Display) -> Error {
        Error(format!("{}: {text}", self.label))
    }

    /// Reads until the next whole response is in the buffer, then
    /// [`Session::response`] parses it. The limit applies to each wait for
    /// bytes, so a large body arriving steadily is not cut off. Dropping
    /// the future (IDLE's timer) loses nothing: bytes leave the socket only
    /// together with being appended to the buffer.
    pub(super) async fn next_frame(&mut self, limit: Duration) -> Result<(), Error> {
        if self.frame > 0 {
            self.buf.drain(..self.frame);
            self.frame = 0;
            if self.buf.capacity() > KEEP && self.buf.len() < KEEP {
                self.buf.shrink_to(KEEP);
            }
        }
        loop {
            match self.framer.advance(&self.buf, &self.limits) {
                Ok(Framed::Complete(n)) => {
                    self.frame = n;
                    return Ok(());
                }
                Ok(Framed::Need(more)) => {
                    // A literal's whole size is known: grow once for it,
                    // exactly (a doubled buffer would hold twice the
                    // message the sync reserved from the memory budget).
                    self.buf.reserve_exact(
                        more.min(usize::try_from(self.limits.max_literal).unwrap_or(usize::MAX)),
                    );
                    let label = &self.label;
                    let io = &mut self.io;
                    let scratch = &mut self.scratch;
                    let n = timed(
                        limit,
                        || Error(format!("{label}: no answer in {} s", limit.as_secs())),
                        async {
                            io.read(scratch)
                                .await
                                .map_err(|e| Error(format!("{label}: read: {e}")))
                        },
                    )
                    .await?;
                    if n == 0 {
                        return Err(self.error("the server closed the connection"));
                    }
                    self.buf.extend_from_slice(&self.scratch[..n]);
                }
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// The next response of a command's answer; when the connection ends
    /// after the server said BYE (§7.1.5), what it said is the error.
    pub(super) async fn next_answer(&mut self, bye: Option<&str>) -> Result<(), Error> {
        match self.next_frame(COMMAND).await {
            Err(e) => Err(match bye {
                Some(text) => self.error(format_args!("the server said BYE: {text}")),
                None => e,
            }),
            ok => ok,
        }
    }

    /// The response [`Session::next_frame`] read, parsed in place.
    pub(super) fn response(&self) -> Result<Response<'_>, Error> {
        response::parse(&self.buf[..self.frame]).map_err(|e| self.error(e))
    }

    /// Moves `len` bytes at `start` of the current response out of the
    /// read buffer. A large message is not copied: the buffer that holds
    /// it becomes the message, and what followed it starts a new buffer.
    /// So a message is in memory once, not twice.
    pub(super) fn take(&mut self, start: usize, len: usize) -> Vec<u8> {
        if len < KEEP || len.saturating_mul(2) < self.buf.capacity() {
            return self.buf[start..start + len].to_vec();
        }
        let rest = self.buf.split_off(self.frame);
        let mut bytes = std::mem::replace(&mut self.buf, rest);
        self.frame = 0;
        bytes.truncate(start + len);
        bytes.drain(..start);
        bytes
    }

    pub(super) async fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let label = &self.label;
        self.io
            .write_timed(bytes, COMMAND)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => Error(format!("{label}: write timed out")),
                _ => Error(format!("{label}: write: {e}")),
            })
    }

    pub(super) fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("f{}", self.tag)
    }

    /// `* OK`, `* PREAUTH` (true) or `* BYE` (§7.1).
    pub(super) async fn greeting(&mut self) -> Result<bool, Error> {
        self.next_frame(COMMAND).await?;
        let Response::Untagged(Untagged::Status(status)) = self.response()? else {
            return Err(self.error("the server did not greet with * OK"));
        };
        let (kind, text) = (status.kind, status.text.to_string());
        if let Some(Code::Capability(caps)) = &status.code {
            let caps = upper(caps);
            self.caps = caps;
        }
        match kind {
            Kind::Ok => Ok(false),
            Kind::Preauth => Ok(true),
            _ => Err(self.error(format_args!("the server refused us: {text}"))),
        }
    }

    /// Sends `args` as one command and reads to its tagged answer, handing
    /// each untagged response to `each`. A literal argument waits for the
    /// server's `+` (§7.5) before its bytes go. NO and BAD become errors
    /// naming `what` (never the arguments: they may hold the password).
    pub(super) async fn run(
        &mut self,
        what: &str,
        verb: &str,
        args: &[Arg],
        mut each: impl FnMut(Untagged<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let tag = self.next_tag();
        let mut out = format!("{tag} {verb}").into_bytes();
        for arg in args {
            match arg {
                Arg::Inline(text) => {
                    out.push(b' ');
                    out.extend_from_slice(text.as_bytes());
                }
                Arg::Literal(bytes) => {
                    out.extend_from_slice(format!(" {{{}}}\r\n", bytes.len()).as_bytes());
                    self.send(&out).await?;
                    self.until_continuation(what, &tag, &mut each).await?;
                    out.clear();
                    out.extend_from_slice(bytes);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        self.send(&out).await?;
        self.until_tagged(what, &tag, &mut each).await
    }

    /// Reads until `+`; a tagged answer instead is the command's refusal.
    pub(super) async fn until_continuation(
        &mut self,
        what: &str,
        tag: &str,
        each: &mut impl FnMut(Untagged<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        loop {
            self.next_frame(COMMAND).await?;
            let mut caps = None;
            match self.response()? {
                Response::Continuation(_) => return Ok(()),
                Response::Tagged { tag: t, status } if t == tag => {
                    return Err(self.error(format_args!("{what} refused: {}", status.text)));
                }
                Response::Tagged { .. } => {}
                Response::Untagged(u) => {
                    if let Untagged::Capability(c) = &u {
                        caps = Some(upper(c));
                    }
                    each(u)?
                }
            }
            if let Some(c) = caps {
                self.caps = c;
            }
        }
    }

    /// Reads until the tagged answer to `tag`: OK is success, NO or BAD
    /// the command's refusal. Capabilities announced on the way (untagged
    /// or in the OK's code) replace the known ones.
    pub(super) async fn until_tagged(
        &mut self,
        what: &str,
        tag: &str,
        each: &mut impl FnMut(Untagged<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut bye: Option<String> = None;
        loop {
            self.next_answer(bye.as_deref()).await?;
            let mut caps = None;
            let mut done = None;
            match self.response()? {
                Response::Tagged { tag: t, status } if t == tag => {
                    if let Some(Code::Capability(c)) = &status.code {
                        caps = Some(upper(c));
                    }
                    done = Some(match status.kind {
                        Kind::Ok => Ok(()),
                        _ => Err(self.error(format_args!("{what} refused: {}", status.text))),
                    });
                }
                Response::Tagged { .. } | Response::Continuation(_) => {}
                Response::Untagged(Untagged::Status(s)) if s.kind == Kind::Bye => {
                    bye = Some(s.text.to_string());
                }
                Response::Untagged(u) => {
                    if let Untagged::Capability(c) = &u {
                        caps = Some(upper(c));
                    }
                    each(u)?;
                }
            }
            if let Some(c) = caps {
                self.caps = c;
            }
            if let Some(result) = done {
                return result;
            }
        }
    }
}

/// Capabilities as compared: upper case.
fn upper(caps: &[&str]) -> Vec<String> {
    caps.iter().map(|c| c.to_ascii_uppercase()).collect()
}
