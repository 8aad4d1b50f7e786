//! IMAP response syntax (RFC 3501 §7.4.2): flags, mailbox names, and the
//! ENVELOPE and BODYSTRUCTURE of a message from its stored summary.
//! Strings, literals and dates are `wire::imap`'s, shared with the fetcher.
//!
//! Everything appends to a caller's buffer; nothing is parsed here, since
//! the summary was computed once at delivery (DESIGN.md).

use crate::mime::{Address, Envelope, Param, Part};
use crate::store::Flags;
use crate::wire::imap::mutf7;
use crate::wire::imap::quote::{nstring, string};

/// A mailbox name for LIST/STATUS: its wire form, quoted.
pub fn mailbox(out: &mut Vec<u8>, name: &str) {
    string(out, mutf7::wire_name(name).as_bytes());
}

/// A mailbox name after ENABLE UTF8=ACCEPT (RFC 6855 §3): as stored,
/// UTF-8, quoted.
pub fn mailbox_utf8(out: &mut Vec<u8>, name: &str) {
    // RFC 6855 §3 (RFC 9051 quoted-char): a quoted string may hold UTF-8
    // once the client enabled it; stored names are UTF-8 without
    // control characters (`Session::mailbox_name`).
    if name.len() <= crate::wire::imap::quote::MAX_QUOTED && !name.chars().any(char::is_control) {
        crate::wire::imap::quote::quoted(out, name.as_bytes());
    } else {
        string(out, name.as_bytes());
    }
}

/// The system flags of `flags` and the keywords, space separated.
pub fn flags<'k>(
    out: &mut Vec<u8>,
    flags: Flags,
    recent: bool,
    keywords: impl Iterator<Item = &'k str>,
) {
    out.push(b'(');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, s: &[u8]| {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(s);
    };
    for (bit, name) in [
        (Flags::SEEN, &b"\\Seen"[..]),
        (Flags::ANSWERED, b"\\Answered"),
        (Flags::FLAGGED, b"\\Flagged"),
        (Flags::DELETED, b"\\Deleted"),
        (Flags::DRAFT, b"\\Draft"),
    ] {
        if flags.contains(bit) {
            put(out, name);
        }
    }
    if recent {
        put(out, b"\\Recent");
    }
    for k in keywords {
        if !k.is_empty() {
            put(out, k.as_bytes());
        }
    }
    out.push(b')');
}

fn addresses(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstring(out, a.name.as_deref());
        out.push(b' ');
        nstring(out, a.adl.as_deref());
        out.push(b' ');
        nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        nstring(out, a.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

/// RFC 3501 §7.4.2 ENVELOPE.
pub fn envelope(out: &mut Vec<u8>, e: &Envelope) {
    out.push(b'(');
    nstring(out, e.date.as_deref());
    out.push(b' ');
    nstring(out, e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        out.push(b' ');
        addresses(out, list);
    }
    out.push(b' ');
    nstring(out, e.in_reply_to.as_deref());
    out.push(b' ');
    nstring(out, e.message_id.as_deref());
    out.push(b')');
}

fn params(out: &mut Vec<u8>, params: &[Param]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, k);
        out.push(b' ');
        string(out, v);
    }
    out.push(b')');
}

fn upper(s: &[u8]) -> Vec<u8> {
    s.to_ascii_uppercase()
}

/// BODY (`extended` false) or BODYSTRUCTURE (`extended` true) of a part,
/// RFC 3501 §7.4.2.
pub fn body_structure(out: &mut Vec<u8>, part: &Part, extended: bool) {
    out.push(b'(');
    if part.is_multipart() {
        for child in &part.children {
            body_structure(out, child, extended);
        }
        out.push(b' ');
        string(out, &upper(&part.media_subtype));
        if extended {
            out.push(b' ');
            params(out, &part.params);
            extension_tail(out, part);
        }
        out.push(b')');
        return;
    }
    string(out, &upper(&part.media_type));
    out.push(b' ');
    string(out, &upper(&part.media_subtype));
    out.push(b' ');
    params(out, &part.params);
    out.push(b' ');
    nstring(out, part.id.as_deref());
    out.push(b' ');
    nstring(out, part.description.as_deref());
    out.push(b' ');
    string(out, &upper(&part.encoding));
    out.extend_from_slice(format!(" {}", part.body_octets).as_bytes());
    if let Some(message) = &part.message {
        // message/rfc822: envelope, body structure, lines.
        out.push(b' ');
        envelope(out, &message.0);
        out.push(b' ');
        body_structure(out, &message.1, extended);
        out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
    } else if part.media_type == b"message" && part.media_subtype == b"rfc822" {
        // An encapsulated message that was not parsed (encoded against
        // RFC 2046 §5.2.1, or past the limits) keeps its declared type; the
        // grammar's body-type-msg still wants an envelope and a body, so
        // it gets empty ones, as Dovecot sends.
        out.extend_from_slice(b" (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
        out.extend_from_slice(
            b"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0",
        );
        if extended {
            out.extend_from_slice(b" NIL NIL NIL NIL");
        }
        out.push(b')');
        out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
    } else if part.media_type.eq_ignore_ascii_case(b"text") {
        out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
    }
    if extended {
        out.push(b' ');
        nstring(out, part.md5.as_deref());
        extension_tail(out, part);
    }
    out.push(b')');
}

/// body-ext: disposition, language, location (the part after MD5 or
/// the multipart parameters).
fn extension_tail(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some((kind, ps)) => {
            out.push(b'(');
            string(out, &upper(kind));
            out.push(b' ');
            params(out, ps);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    // Always a list, even of one, as Dovecot sends it (RFC 3501 allows a
    // bare string too).
    match &part.language[..] {
        [] => out.extend_from_slice(b"NIL"),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, l);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, part.location.as_deref());
}

/// Appends `n` in decimal: SORT and THREAD answers carry 50 000 numbers,
/// and the formatting machinery costs several times this per number.
pub fn push_number(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::Summary;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn mailbox_names() {
        assert_eq!(text(|o| mailbox(o, "Entwürfe")), "\"Entw&APw-rfe\"");
        assert_eq!(text(|o| mailbox(o, "INBOX")), "\"INBOX\"");
    }

    #[test]
    fn flag_lists() {
        let f = Flags::SEEN.union(Flags::DELETED);
        assert_eq!(
            text(|o| flags(o, f, true, ["$Junk"].into_iter())),
            "(\\Seen \\Deleted \\Recent $Junk)"
        );
        assert_eq!(
            text(|o| flags(o, Flags::default(), false, std::iter::empty())),
            "()"
        );
    }

    #[test]
    fn simple_message_structure() {
        let raw = b"From: Alice <alice@example.org>\r\nTo: bob@home.arpa\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nhello\r\nworld\r\n";
        let s = Summary::compute(raw);
        assert_eq!(
            text(|o| envelope(o, &s.envelope)),
            "(NIL \"hi\" ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) \
             ((\"Alice\" NIL \"alice\" \"example.org\")) ((NIL NIL \"bob\" \"home.arpa\")) NIL NIL NIL \"<1@x>\")"
        );
        assert_eq!(
            text(|o| body_structure(o, &s.root, false)),
            "(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 14 2)"
        );
        assert_eq!(
            text(|o| body_structure(o, &s.root, true)),
            "(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn multipart_structure() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";
        let s = Summary::compute(raw);
        let body = text(|o| body_structure(o, &s.root, true));
        assert!(body.starts_with("((\"TEXT\" \"PLAIN\""), "{body}");
        assert!(body.contains("\"APPLICATION\" \"PDF\" (\"name\" \"x.pdf\") NIL NIL \"BASE64\" 4 NIL (\"ATTACHMENT\" (\"filename\" \"x.pdf\")) NIL NIL)"), "{body}");
        assert!(
            body.ends_with(" \"MIXED\" (\"boundary\" \"b\") NIL NIL NIL)"),
            "{body}"
        );
    }

    #[test]
    fn push_number_writes_decimal() {
        let mut out = String::new();
        for n in [0, 7, 10, 4_294_967_295] {
            push_number(&mut out, n);
            out.push(' ');
        }
        assert_eq!(out, "0 7 10 4294967295 ");
    }
}
