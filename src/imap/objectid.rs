//! OBJECTID (RFC 8474): stable identifiers for mailboxes and messages.
//!
//! - MAILBOXID (§4) is the store's mailbox id, a counter never reused, so
//!   a mailbox deleted and created again under its name gets a new one,
//!   while RENAME keeps it (the store moves the record, not the id).
//!   Renaming INBOX moves its messages to a new mailbox (RFC 3501
//!   §6.3.5), which so gets a new id, as §4.2 asks.
//! - EMAILID (§5.1) is the id of the stored message body, which COPY and
//!   MOVE share rather than duplicate: the same message keeps its EMAILID
//!   in every mailbox, and an APPEND of the same bytes is a new message
//!   with a new one (the RFC allows either for identical content).
//! - THREADID (§5.2) is NIL: smolmail keeps no threads, which the RFC
//!   allows ("the server MAY return NIL").
//!
//! All three use the objectid syntax (§7: letters, digits, `-`, `_`).

/// `F` and the mailbox's store id.
pub fn mailbox_id(id: u64) -> String {
    format!("F{id}")
}

/// `M` and the message body's store id.
pub fn email_id(blob_id: u64) -> String {
    format!("M{blob_id}")
}

/// The blob id an EMAILID names; `None` for anything else (which then
/// matches no message).
pub fn parse_email_id(id: &[u8]) -> Option<u64> {
    let digits = id.strip_prefix(b"M")?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_junk_names_nothing() {
        assert_eq!(mailbox_id(42), "F42");
        assert_eq!(parse_email_id(email_id(7).as_bytes()), Some(7));
        for junk in [
            &b""[..],
            b"M",
            b"F7",
            b"M7x",
            b"M99999999999999999999999",
            b"m7",
        ] {
            assert_eq!(parse_email_id(junk), None, "{junk:?}");
        }
    }
}
