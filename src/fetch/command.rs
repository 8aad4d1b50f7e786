//! The pieces of the fetcher's IMAP commands (RFC 3501 §9): strings and
//! mailbox names as pure functions, written with `wire::imap`'s quoting
//! and modified UTF-7 (shared with the server).
//!
//! The fetcher's whole vocabulary is CAPABILITY, STARTTLS, LOGIN or
//! AUTHENTICATE PLAIN, EXAMINE, UID FETCH, IDLE/DONE and LOGOUT: nothing
//! that changes a message or a mailbox on the remote side is ever built
//! here (no STORE, EXPUNGE, DELETE, MOVE or COPY; EXAMINE, not SELECT).

use crate::wire::imap::{mutf7, quote};

/// An argument as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Fits a quoted string (§4.3): sent inline, quotes included.
    Inline(String),
    /// Needs a literal (control characters or 8-bit bytes): `{n}` then the bytes
    /// after the server's continuation.
    Literal(Vec<u8>),
}

/// A string argument (§9 astring), quoted when it can be.
pub fn string(s: &str) -> Arg {
    if quote::quotable(s.as_bytes()) {
        Arg::Inline(quoted(s))
    } else {
        Arg::Literal(s.as_bytes().to_vec())
    }
}

/// `s`, which [`quote::quotable`] accepts, as a quoted string.
fn quoted(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    quote::quoted(&mut out, s.as_bytes());
    // Quotable bytes are printable ASCII, and so is what quoting adds.
    String::from_utf8_lossy(&out).into_owned()
}

/// A mailbox name: INBOX as is, anything else in modified UTF-7
/// (§5.1.3), quoted (the wire form is always printable ASCII).
pub fn mailbox(name: &str) -> String {
    quoted(&mutf7::wire_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(string("bob"), Arg::Inline("\"bob\"".into()));
        assert_eq!(string("a\"b\\c"), Arg::Inline("\"a\\\"b\\\\c\"".into()));
        assert_eq!(string(""), Arg::Inline("\"\"".into()));
        assert_eq!(string("pä"), Arg::Literal("pä".as_bytes().to_vec()));
        assert_eq!(string("a\r\nb"), Arg::Literal(b"a\r\nb".to_vec()));
        assert_eq!(string("a\tb"), Arg::Literal(b"a\tb".to_vec()));
    }

    #[test]
    fn mailboxes() {
        assert_eq!(mailbox("inbox"), "\"INBOX\"");
        assert_eq!(mailbox("Lists/Rust"), "\"Lists/Rust\"");
        assert_eq!(mailbox("Entwürfe"), "\"Entw&APw-rfe\"");
    }
}
