//! The POP3 server: RFC 1939 with CAPA and response codes (RFC 2449, RFC
//! 3206), STLS (RFC 2595), SASL AUTH (RFC 5034), UIDL and TOP, on port 110
//! (STLS) and 995 (implicit TLS). It serves each account's INBOX.
//!
//! The pieces: [`command`] parses a line, [`maildrop`] is the session's
//! numbered snapshot of the INBOX and its lock, [`body`] puts a stored
//! message on the wire, and [`session`] runs the conversation. Only
//! `session` does I/O; the rest are pure and unit-tested.

mod body;
mod command;
mod maildrop;
mod session;

use std::time::Duration;

pub use body::{DotStuffed, top_len};
pub use command::{Command, ParseError, parse};
pub use maildrop::{Entry, Lock, Maildrop, NoMessage, UniqueId};
pub use session::session;

/// Longest command line accepted, CRLF included. RFC 2449 §4 sets 255
/// octets; some clients send longer AUTH responses (long passwords), so
/// the bound is looser, as Dovecot's is.
pub const MAX_LINE: usize = 1024;

/// Idle time before the server closes the session. RFC 1939 §3: the
/// autologout timer must be at least 10 minutes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A connection must have logged in this long after it opened, or it is
/// closed, however many commands it sends (DESIGN.md "Budgets"; Dovecot's
/// login processes allow a minute too).
pub const LOGIN_DEADLINE: Duration = Duration::from_secs(60);

/// Bad commands (unknown, malformed, wrong state, too long) a session may
/// send; the next one closes it.
pub const MAX_BAD_COMMANDS: u32 = 20;

/// Commands before login that do not try to log in (CAPA, STLS, USER, the
/// AUTH listing, anything refused): a login takes about five, so past this
/// the connection is only holding a place and is closed (DESIGN.md
/// "Budgets": no-op commands before login count as junk).
pub const MAX_JUNK_COMMANDS: u32 = 50;
