//! The TRANSACTION state (RFC 1939 §5): STAT, LIST, UIDL, RETR, TOP,
//! DELE, NOOP and RSET over the session's snapshot of the INBOX. Its own
//! file because these are the commands that write message data, copied
//! out of the store under the memory budget so that no read transaction
//! lives while the client reads.

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
        // The bytes are copied out of a read transaction that lives only
        // for the copy: one held across the writes would pin every page
        // the writer frees for as long as the client takes to read (a
        // stalled client: the whole write limit), and the map would grow
        // (DESIGN.md "Budgets"). The copy comes out of the memory budget.
        let (body, _held) = {
            let reader = match self.ctx.store.read() {
                Ok(reader) => reader,
                Err(e) => {
                    self.store_failure(&e);
                    return Flow::Continue;
                }
            };
            let message = match reader.blob(blob_id) {
                Ok(Some(message)) => message,
                Ok(None) => {
                    // Expunged through IMAP since login, its last copy gone.
                    self.err(format_args!("Message {n} was removed by another session"));
                    return Flow::Continue;
                }
                Err(e) => {
                    self.store_failure(&e);
                    return Flow::Continue;
                }
            };
            let len = lines.map_or(message.len(), |lines| top_len(message, lines));
            let Some(held) = self.ctx.budget.reserve(len) else {
                log::warn!(
                    "[{}] {}: message {n} not sent: memory budget for messages in flight is spent ({} of {} bytes in use)",
                    self.id,
                    self.name,
                    self.ctx.budget.in_use(),
                    self.ctx.budget.limit()
                );
                // RFC 3206 §4: a temporary condition, try again later.
                self.err(format_args!("[SYS/TEMP] Server busy, try again later"));
                return Flow::Continue;
            };
            let mut body = Vec::with_capacity(len);
            body.extend_from_slice(&message[..len]);
            (body, held)
        };
        match lines {
            None => {
                self.ok(format_args!("{} octets", body.len()));
                self.counts.retr += 1;
            }
            Some(_) => self.ok(format_args!("Top of message follows")),
        }
        self.counts.bytes += body.len() as u64;
        for run in DotStuffed::new(&body) {
            if self.out.put(stream, run).await.is_err() {
                return Flow::Close;
            }
        }
        Flow::Continue
    }
}
