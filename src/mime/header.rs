//! Where a message's header section ends: the one answer that delivery
//! (8BITMIME/SMTPUTF8 checks), bounces (the returned header) and POP3 TOP
//! all need, so that they agree on messages with bare LF line ends.

/// The length of the header section of `message`, the empty line that ends
/// it included (RFC 5322 §2.1). A line end is CRLF or a bare LF: mail
/// fetched or imported from other systems can hold bare LFs, and an empty
/// line of either kind ends the header. A message without an empty line is
/// all header.
pub fn header_len(message: &[u8]) -> usize {
    let mut at = 0;
    while at < message.len() {
        match &message[at..] {
            [b'\n', ..] => return at + 1,
            [b'\r', b'\n', ..] => return at + 2,
            rest => match rest.iter().position(|&b| b == b'\n') {
                Some(i) => at += i + 1,
                None => return message.len(),
            },
        }
    }
    message.len()
}

#[cfg(test)]
mod tests {
    use super::header_len;

    #[test]
    fn crlf_lf_and_none() {
        assert_eq!(header_len(b"A: 1\r\nB: 2\r\n\r\nbody\r\n"), 14);
        assert_eq!(header_len(b"A: 1\nB: 2\n\nbody\n"), 11);
        // Mixed: the first empty line of either kind ends it.
        assert_eq!(header_len(b"A: 1\nB: 2\r\n\r\nx"), 13);
        assert_eq!(header_len(b"A: 1\r\nB: 2\r\n"), 12);
        assert_eq!(header_len(b"A: 1"), 4);
        assert_eq!(header_len(b""), 0);
        // An empty header.
        assert_eq!(header_len(b"\r\nbody"), 2);
        assert_eq!(header_len(b"\nbody"), 1);
        // A CR alone is not a line end; a line of only CR is not empty.
        assert_eq!(header_len(b"A: 1\r\r\nB\r\n\r\n"), 12);
    }
}
