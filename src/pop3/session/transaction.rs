//! The TRANSACTION state (RFC 1939 §5): STAT, LIST, UIDL, RETR, TOP,
//! DELE, NOOP and RSET over the session's snapshot of the INBOX. Its own
//! file because these are the commands that write message data, copied
//! out of the store a piece at a time so that no read transaction lives
//! while the client reads.

use super::{Flow, Session};
use crate::net::Stream;
use crate::pop3::body::{DotStuffed, top_len};
use crate::pop3::command::Command;

impl Session {
    // --- TRANSACTION (RFC 1939 §5) -----------------------------------------

    pub(super) async fn transaction(&mut self, stream: &mut Stream, cmd: Command<'_>) -> Flow {
        let Some(tx) = self.tx.as_mut() else {
            return Flow::Close;
        };
        match cmd {
            Command::Stat => {
                let (count, octets) = tx.maildrop.stat();
                self.ok(format_args!("{count} {octets}"));
            }
            Command::List(Some(n)) | Command::Uidl(Some(n)) => match tx.maildrop.get(n) {
                Ok(entry) if matches!(cmd, Command::List(_)) => {
                    let size = entry.size;
                    self.ok(format_args!("{n} {size}"));
                }
                Ok(entry) => {
                    let uid = tx.maildrop.unique_id(entry);
                    self.ok(format_args!("{n} {}", uid.as_str()));
                }
                Err(e) => self.err(format_args!("{}", e.text())),
            },
            Command::List(None) | Command::Uidl(None) => {
                return self.listing(stream, matches!(cmd, Command::Uidl(_))).await;
            }
            Command::Retr(n) => return self.send_message(stream, n, None).await,
            Command::Top { msg, lines } => {
                return self.send_message(stream, msg, Some(lines)).await;
            }
            Command::Dele(n) => match tx.maildrop.delete(n) {
                Ok(()) => self.ok(format_args!("Message {n} marked for deletion")),
                Err(e) => self.err(format_args!("{}", e.text())),
            },
            Command::Noop => self.ok(format_args!("")),
            Command::Rset => {
                tx.maildrop.undelete_all();
                let (count, octets) = tx.maildrop.stat();
                self.ok(format_args!("{count} messages ({octets} octets)"));
            }
            Command::Stls | Command::User(_) | Command::Pass(_) | Command::Auth { .. } => {
                return self.bad("Already logged in");
            }
            Command::Capa | Command::Quit => {}
        }
        Flow::Continue
    }

    /// LIST or UIDL without an argument: one line per message not deleted.
    async fn listing(&mut self, stream: &mut Stream, uidl: bool) -> Flow {
        let Some(tx) = self.tx.as_ref() else {
            return Flow::Close;
        };
        let (count, octets) = tx.maildrop.stat();
        if uidl {
            self.out.status(b"+OK", format_args!(""));
        } else {
            self.out
                .status(b"+OK", format_args!("{count} messages ({octets} octets)"));
        }
        for (n, entry) in tx.maildrop.live() {
            if uidl {
                let uid = tx.maildrop.unique_id(entry);
                let _ = write!(self.out, "{n} {}\r\n", uid.as_str());
            } else {
                let _ = write!(self.out, "{n} {}\r\n", entry.size);
            }
            if self.out.spill(stream).await.is_err() {
                return Flow::Close;
            }
        }
        self.out.push(b".\r\n");
        Flow::Continue
    }

    /// RETR, or TOP with `lines`: the message from the store, stuffed.
    ///
    /// Sent a [`PIECE`] at a time, each copied out of its own read
    /// transaction: one transaction held across the writes would pin every
    /// page the writer frees for as long as the client takes to read (a
    /// stalled client: the whole write limit) and the map would grow, and
    /// a copy of the whole message would cost its size in memory for as
    /// long (DESIGN.md "Budgets"). A stored message never changes, so the
    /// pieces fit together.
    async fn send_message(&mut self, stream: &mut Stream, n: u32, lines: Option<u32>) -> Flow {
        let Some(tx) = self.tx.as_ref() else {
            return Flow::Close;
        };
        let blob_id = match tx.maildrop.get(n) {
            Ok(entry) => entry.blob_id,
            Err(e) => {
                self.err(format_args!("{}", e.text()));
                return Flow::Continue;
            }
        };
        let len = {
            let reader = match self.ctx.store.read() {
                Ok(reader) => reader,
                Err(e) => {
                    self.store_failure(&e);
                    return Flow::Continue;
                }
            };
            match reader.blob(blob_id) {
                Ok(Some(message)) => lines.map_or(message.len(), |lines| top_len(message, lines)),
                Ok(None) => {
                    // Expunged through IMAP since login, its last copy gone.
                    self.err(format_args!("Message {n} was removed by another session"));
                    return Flow::Continue;
                }
                Err(e) => {
                    self.store_failure(&e);
                    return Flow::Continue;
                }
            }
        };
        match lines {
            None => {
                self.ok(format_args!("{len} octets"));
                self.counts.retr += 1;
            }
            Some(_) => self.ok(format_args!("Top of message follows")),
        }
        self.counts.bytes += len as u64;
        let mut piece = Vec::with_capacity(len.min(PIECE));
        let (mut at, mut line_start, mut last_byte) = (0, true, None);
        loop {
            let end = len.min(at + PIECE);
            piece.clear();
            let copied = self.ctx.store.read().ok().and_then(|reader| {
                let blob = reader.blob(blob_id).ok().flatten()?;
                piece.extend_from_slice(blob.get(at..end)?);
                Some(())
            });
            if copied.is_none() {
                // Removed (or unreadable) halfway: the response cannot be
                // finished truthfully, so the connection ends (RFC 2180
                // §4.1 allows as much to IMAP servers).
                log::warn!(
                    "[{}] {}: message {n} became unreadable while it was sent; closing",
                    self.id,
                    self.name
                );
                return Flow::Close;
            }
            let last = end == len;
            // Whether the message (or TOP's part) ends with CRLF, for the
            // terminator: the last two bytes may straddle two pieces.
            let ends_with_crlf = len == 0
                || piece.ends_with(b"\r\n")
                || (piece == b"\n" && last_byte == Some(b'\r'));
            for run in DotStuffed::piece(&piece, line_start, last.then_some(ends_with_crlf)) {
                if self.out.put(stream, run).await.is_err() {
                    return Flow::Close;
                }
            }
            if let Some(&b) = piece.last() {
                line_start = b == b'\n';
                last_byte = Some(b);
            }
            at = end;
            if last {
                return Flow::Continue;
            }
        }
    }
}

/// Bytes of a message copied out of the store at a time for RETR and TOP.
const PIECE: usize = 64 * 1024;
