//! The pieces of the fetcher's IMAP commands (RFC 3501 §9): strings,
//! mailbox names, UID sets and the SASL PLAIN token, as pure functions.
//!
//! The fetcher's whole vocabulary is CAPABILITY, STARTTLS, LOGIN or
//! AUTHENTICATE PLAIN, EXAMINE, UID FETCH, IDLE/DONE and LOGOUT: nothing
//! that changes a message or a mailbox on the remote side is ever built
//! here (no STORE, EXPUNGE, DELETE, MOVE or COPY; EXAMINE, not SELECT).

use base64::Engine;

/// An argument as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Fits a quoted string (§4.3): sent inline, quotes included.
    Inline(String),
    /// Needs a literal (CR, LF, NUL or 8-bit bytes): `{n}` then the bytes
    /// after the server's continuation.
    Literal(Vec<u8>),
}

/// A string argument (§9 astring), quoted when it can be.
pub fn string(s: &str) -> Arg {
    if s.bytes()
        .all(|b| (1..0x80).contains(&b) && b != b'\r' && b != b'\n')
    {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        Arg::Inline(q)
    } else {
        Arg::Literal(s.as_bytes().to_vec())
    }
}

/// A mailbox name: INBOX as is, anything else in modified UTF-7
/// (§5.1.3), quoted.
pub fn mailbox(name: &str) -> String {
    let wire = if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        crate::imap::mutf7::encode(name)
    };
    match string(&wire) {
        Arg::Inline(q) => q,
        // Modified UTF-7 is 7-bit; only a control character gets here.
        Arg::Literal(_) => format!("\"{}\"", wire.replace(|c: char| c.is_control(), "")),
    }
}

/// A sorted, duplicate-free list of UIDs as a §9 sequence-set, with runs
/// written `a:b`: `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// RFC 4616 PLAIN initial response: base64 of `NUL user NUL password`
/// (no authorization identity).
pub fn plain_token(user: &str, password: &str) -> String {
    let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
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
    }

    #[test]
    fn mailboxes() {
        assert_eq!(mailbox("inbox"), "\"INBOX\"");
        assert_eq!(mailbox("Lists/Rust"), "\"Lists/Rust\"");
        assert_eq!(mailbox("Entwürfe"), "\"Entw&APw-rfe\"");
    }

    #[test]
    fn sets() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(
            uid_set(&[u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
    }

    #[test]
    fn plain() {
        // RFC 4616 §4 example without authzid: "\0tim\0tanstaaftanstaaf".
        assert_eq!(
            plain_token("tim", "tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }
}
