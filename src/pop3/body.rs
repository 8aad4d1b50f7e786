//! The part of a message that TOP sends (RFC 1939 §7): a pure function
//! over the stored message, so the session copies only that part out of
//! the store. The byte-stuffing of multi-line responses
//! (RFC 1939 §3) is [`DotStuffed`], shared with the SMTP client.

pub use crate::wire::dot::DotStuffed;

/// How many bytes of `message` TOP sends for `lines` body lines
/// (RFC 1939 §7): the header, the empty line that ends it, and then at most
/// `lines` lines of the body. A message without an empty line is all header.
pub fn top_len(message: &[u8], lines: u32) -> usize {
    // The header, up to and including the empty line that ends it.
    let mut at = crate::mime::header_len(message);
    for _ in 0..lines {
        match line_end(message, at) {
            Some(end) => at = end,
            None => return message.len(),
        }
    }
    at
}

/// The index just after the LF that ends the line starting at `at`, or
/// `None` if no line starts there (end of message). A last line without a
/// line ending ends at the end of the message.
fn line_end(message: &[u8], at: usize) -> Option<usize> {
    let rest = message.get(at..).filter(|r| !r.is_empty())?;
    Some(
        rest.iter()
            .position(|&b| b == b'\n')
            .map_or(message.len(), |i| at + i + 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_cuts_after_header_and_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree";
        assert_eq!(&m[..top_len(m, 0)], b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(&m[..top_len(m, 1)], b"A: 1\r\nB: 2\r\n\r\none\r\n");
        assert_eq!(&m[..top_len(m, 2)], b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n");
        assert_eq!(top_len(m, 3), m.len());
        assert_eq!(top_len(m, u32::MAX), m.len());
        // No empty line: the whole message is header.
        assert_eq!(top_len(b"A: 1\r\nB: 2\r\n", 0), 12);
        assert_eq!(top_len(b"", 5), 0);
        // An empty header.
        assert_eq!(top_len(b"\r\nbody\r\n", 0), 2);
        assert_eq!(top_len(b"A: 1\n\nx\ny\n", 1), 8);
    }
}
