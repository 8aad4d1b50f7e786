//! Reading one whole IMAP command: its lines and literals (RFC 3501
//! §4.3, RFC 7888 for `{n+}`), each bounded before a byte is buffered:
//! short lines and small literals before login, the message size and the
//! memory budget after it (DESIGN.md "Budgets"). A literal that cannot be
//! taken gets its answer without a `+` (or, non-synchronizing, is read
//! and dropped, or ends the session), so the client is never left waiting.

use super::*;

/// Largest literal taken before login. LOGIN's user name and password and
/// a SASL-IR response fit in it many times over; APPEND, the one command
/// with large literals, needs a login first. Larger ones are refused
/// before a byte of them is read or buffered.
const PRELOGIN_LITERAL: u64 = 8 * 1024;
/// Longest command line before login: LOGIN with the longest user name and
/// password `auth` accepts, each quoted with every byte escaped, or a
/// SASL-IR response in base64, fits in it. A client that has not logged in
/// has no use for the 64 KiB that long UID sets need.
const PRELOGIN_LINE: usize = 8 * 1024;

impl Session {
    /// The longest line taken from this client now (see [`PRELOGIN_LINE`]).
    pub(super) fn max_line(&self) -> usize {
        match self.account {
            Some(_) => MAX_LINE,
            None => PRELOGIN_LINE,
        }
    }

    /// Reads one whole command: its lines and literals, as the parser
    /// wants them (see `parse` module docs), without the final CRLF.
    /// After login its literals are reserved from the memory budget before
    /// they are read; the reservation comes back with the command.
    pub(super) async fn read_command(
        &mut self,
        stream: &mut Stream,
    ) -> Result<(Vec<u8>, Reservation), ReadFailure> {
        let mut reservation = self.ctx.budget.empty();
        // Set once a literal could not be reserved: the rest of the command
        // is read and dropped, then answered NO [UNAVAILABLE].
        let mut unavailable: Option<String> = None;
        let max_literal = match self.account {
            Some(_) => self.ctx.config.max_message_size,
            None => PRELOGIN_LITERAL.min(self.ctx.config.max_message_size),
        };
        let max_command = max_literal + MAX_LINE as u64;
        let mut command = Vec::new();
        loop {
            let idle = self.read_timeout();
            let len = match self.input.line(stream, self.max_line(), idle).await {
                Ok(len) => len,
                Err(ReadError::TooLong) => {
                    self.put("* BAD Command line too long\r\n");
                    self.bad += 1;
                    return Err(ReadFailure::Refused);
                }
                Err(ReadError::Timeout) => {
                    self.timed_out();
                    return Err(ReadFailure::Close);
                }
                Err(ReadError::Eof) => return Err(ReadFailure::Close),
                Err(ReadError::Io(e)) => {
                    // Invalid deflate data under COMPRESS lands here too.
                    log::info!(
                        "[{}] imap: closing, read from {} failed: {e}",
                        self.id,
                        self.peer
                    );
                    return Err(ReadFailure::Close);
                }
            };
            let raw = &self.input.buffered()[..len];
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let literal = parse::literal_at_end(line);
            // `~{n}`: a literal8 (RFC 3516 §4.4).
            let literal8 = line
                .iter()
                .rposition(|&b| b == b'{')
                .is_some_and(|i| i > 0 && line[i - 1] == b'~');
            if unavailable.is_none() {
                // Exactly: after a large literal, a doubled Vec would hold
                // twice the message.
                command.reserve_exact(line.len() + 2);
                command.extend_from_slice(line);
            }
            self.input.consume(len);
            let Some(literal) = literal else {
                if let Some(tag) = unavailable {
                    self.unavailable(&tag);
                    return Err(ReadFailure::Refused);
                }
                return Ok((command, reservation));
            };
            // Checked: a truncated length would read part of the literal
            // and take the rest for commands (a 32-bit target, a big limit).
            let size = usize::try_from(literal.len).ok().filter(|_| {
                literal.len <= max_literal && command.len() as u64 + literal.len <= max_command
            });
            let Some(size) = size else {
                log::info!(
                    "[{}] imap: {}: literal of {} octets refused (limit {max_literal}{})",
                    self.id,
                    self.peer,
                    literal.len,
                    if self.account.is_none() {
                        " before login"
                    } else {
                        ""
                    }
                );
                if literal.non_sync {
                    // RFC 7888 §4: the data is already on its way; there is
                    // no way to skip it reliably, so the session ends.
                    self.put("* BYE [TOOBIG] Literal too big\r\n");
                    return Err(ReadFailure::Close);
                }
                let tag =
                    parse::peek_tag(&command).map(|t| String::from_utf8_lossy(t).into_owned());
                let line = format!(
                    "{} NO [TOOBIG] Literal too big (limit {max_literal} octets)\r\n",
                    tag.as_deref().unwrap_or("*")
                );
                self.put(&line);
                return Err(ReadFailure::Refused);
            };
            // APPEND copies the literal once into the delivery, so it is
            // held twice while it is stored.
            if unavailable.is_none()
                && self.account.is_some()
                && !reservation.grow_to(reservation.held().saturating_add(size.saturating_mul(2)))
            {
                log::warn!(
                    "[{}] imap: {}: literal of {size} octets refused: memory budget for messages in flight is spent ({} of {} bytes in use)",
                    self.id,
                    self.peer,
                    self.ctx.budget.in_use(),
                    self.ctx.budget.limit()
                );
                let tag =
                    parse::peek_tag(&command).map(|t| String::from_utf8_lossy(t).into_owned());
                unavailable = Some(tag.unwrap_or_else(|| "*".into()));
                command = Vec::new();
                reservation.shrink_to(0);
            }
            if let Some(tag) = &unavailable {
                if !literal.non_sync {
                    // No `+`: the client sends nothing more of the command
                    // (RFC 3501 §7.5, RFC 7888 §4).
                    let tag = tag.clone();
                    self.unavailable(&tag);
                    return Err(ReadFailure::Refused);
                }
                // A non-synchronizing literal is already on its way
                // (RFC 7888 §3): it is read and dropped, with the rest of
                // the command, and the answer follows.
                if !self.skip_literal(stream, size).await {
                    return Err(ReadFailure::Close);
                }
                continue;
            }
            // RFC 9208 §4.4: an APPEND that cannot fit the quota is
            // refused before the client sends its message.
            if !literal.non_sync
                && self.account.is_some()
                && self.append_literal_refused(&command, literal.len)
            {
                return Err(ReadFailure::Refused);
            }
            if !literal.non_sync {
                self.put("+ Ready for literal data\r\n");
                if !self.flush(stream).await {
                    return Err(ReadFailure::Close);
                }
            }
            command.extend_from_slice(b"\r\n");
            let mut remaining = size;
            // Exactly: a doubled Vec would hold more than was reserved.
            command.reserve_exact(remaining);
            if remaining > 4096 {
                self.input.reserve(BULK);
            }
            while remaining > 0 {
                if self.input.buffered().is_empty()
                    && self
                        .input
                        .fill(stream, BULK, self.read_timeout())
                        .await
                        .is_err()
                {
                    return Err(ReadFailure::Close);
                }
                let take = remaining.min(self.input.buffered().len());
                let start = command.len();
                command.extend_from_slice(&self.input.buffered()[..take]);
                // RFC 3501 §4.3: a literal carries no NUL; only BINARY's
                // literal8 may (RFC 3516 §4.4), and keeps them. Like
                // Dovecot, each NUL of an ordinary literal becomes 0x80
                // rather than failing the command: the message is stored.
                if !literal8 {
                    for b in &mut command[start..] {
                        if *b == 0 {
                            *b = 0x80;
                        }
                    }
                }
                self.input.consume(take);
                remaining -= take;
            }
            self.input.shrink();
        }
    }

    /// Tells the client its command was not run for want of memory
    /// (RFC 5530 UNAVAILABLE: a temporary failure, try again later).
    fn unavailable(&mut self, tag: &str) {
        self.put(&format!(
            "{tag} NO [UNAVAILABLE] Server busy with other messages, try again later\r\n"
        ));
    }

    /// Reads and drops `size` octets of a literal; false when the client
    /// is gone.
    async fn skip_literal(&mut self, stream: &mut Stream, mut remaining: usize) -> bool {
        self.input.reserve(BULK);
        while remaining > 0 {
            if self.input.buffered().is_empty()
                && self
                    .input
                    .fill(stream, BULK, self.read_timeout())
                    .await
                    .is_err()
            {
                return false;
            }
            let take = remaining.min(self.input.buffered().len());
            self.input.consume(take);
            remaining -= take;
        }
        self.input.shrink();
        true
    }
}
