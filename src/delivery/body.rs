//! The message on the way out: what it needs from the next server
//! (8BITMIME, SMTPUTF8, its size); its encoding for DATA is
//! [`crate::wire::dot::DotStuffer`]. The `Return-Path:`
//! that local delivery put on top is not sent: it belongs to final
//! delivery only (RFC 5321 §4.4).

/// What a stored message is, for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Where the content to send begins (after a leading Return-Path).
    pub start: usize,
    /// Bytes from `start` on: the RFC 1870 SIZE to declare.
    pub size: usize,
    /// Some octet is not 7-bit: BODY=8BITMIME (RFC 6152) is needed.
    pub eight_bit: bool,
    /// The header section holds UTF-8 (RFC 6532): SMTPUTF8 is needed.
    pub utf8_headers: bool,
}

/// The length of a leading `Return-Path:` field with its folded lines.
fn return_path_len(message: &[u8]) -> usize {
    const NAME: &[u8] = b"return-path:";
    if message.len() < NAME.len() || !message[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return 0;
    }
    let mut at = 0;
    loop {
        match message[at..].iter().position(|&b| b == b'\n') {
            None => return message.len(),
            Some(end) => at += end + 1,
        }
        // RFC 5322 §2.2.3: a line starting with white space continues it.
        if !matches!(message.get(at), Some(b' ' | b'\t')) {
            return at;
        }
    }
}

pub fn inspect(message: &[u8]) -> Shape {
    let start = return_path_len(message);
    let content = &message[start..];
    let header_end = crate::mime::header_len(content);
    let utf8_headers = !content[..header_end].is_ascii();
    let eight_bit = utf8_headers || !content[header_end..].is_ascii();
    Shape {
        start,
        size: content.len(),
        eight_bit,
        utf8_headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_path_is_skipped_and_needs_found() {
        let m =
            b"Return-Path: <a@x.org>\r\nReceived: from x\r\n\tby y\r\nSubject: hi\r\n\r\nbody\r\n";
        let s = inspect(m);
        assert_eq!(&m[s.start..s.start + 9], b"Received:");
        assert_eq!(s.size, m.len() - s.start);
        assert!(!s.eight_bit && !s.utf8_headers);
        let folded = b"RETURN-PATH:\r\n <a@x.org>\r\nSubject: x\r\n\r\n";
        assert_eq!(&folded[inspect(folded).start..][..8], b"Subject:");
        let plain = b"Subject: x\r\n\r\nb\xc3\xa9\r\n";
        let s = inspect(plain);
        assert_eq!(s.start, 0);
        assert!(s.eight_bit && !s.utf8_headers);
        let utf8 = "Subject: caf\u{e9}\r\n\r\nplain\r\n";
        let s = inspect(utf8.as_bytes());
        assert!(s.eight_bit && s.utf8_headers);
        assert_eq!(inspect(b"Return-Path: <>").start, 15);
    }
}
