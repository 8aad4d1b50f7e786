//! Message bytes on the wire: the byte-stuffing and termination of
//! multi-line responses (RFC 1939 §3) and the part of a message that TOP
//! sends (RFC 1939 §7). Pure functions over the stored message, so the
//! session can write straight from the LMDB map without a copy.
//!
//! The stored message is sent byte for byte; only a `.` is inserted before
//! every line that starts with one, and the terminating `.` line is added.
//! The octet counts of LIST, STAT and RETR are therefore the stored size:
//! the store holds CRLF text (SMTP refuses bare CR and LF), and RFC 1939 §11
//! counts a message without its stuffing.

/// The runs of bytes that make up one multi-line response body: the
/// message in slices as stored, with `.` inserted where RFC 1939 §3 asks,
/// then the terminator. Every item borrows from the message or is static.
pub struct DotStuffed<'a> {
    rest: &'a [u8],
    /// A `.` is due before `rest`, which starts a line beginning with `.`.
    dot: bool,
    /// The terminator has been handed out.
    done: bool,
    /// Whether the message ends with CRLF, decided once up front.
    ends_with_crlf: bool,
}

impl<'a> DotStuffed<'a> {
    pub fn new(message: &'a [u8]) -> DotStuffed<'a> {
        DotStuffed {
            rest: message,
            dot: message.first() == Some(&b'.'),
            done: false,
            ends_with_crlf: message.is_empty() || message.ends_with(b"\r\n"),
        }
    }
}

impl<'a> Iterator for DotStuffed<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.dot {
            self.dot = false;
            return Some(b".");
        }
        if !self.rest.is_empty() {
            // A line starts after every LF, bare or not: clients that split
            // on LF alone must not mistake a message line for the end.
            let cut = match dot_line(self.rest) {
                Some(at) => {
                    self.dot = true;
                    at
                }
                None => self.rest.len(),
            };
            let (run, rest) = self.rest.split_at(cut);
            self.rest = rest;
            return Some(run);
        }
        if self.done {
            return None;
        }
        self.done = true;
        // The terminator must be a line of its own (RFC 1939 §3); a message
        // that does not end in CRLF gets one first.
        Some(if self.ends_with_crlf {
            b".\r\n"
        } else {
            b"\r\n.\r\n"
        })
    }
}

/// Where the first line that starts with `.` begins, not counting a line
/// at index 0 (the caller handles that one).
fn dot_line(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'\n') {
        let at = from + i + 1;
        if bytes.get(at) == Some(&b'.') {
            return Some(at);
        }
        from = at;
    }
    None
}

/// How many bytes of `message` TOP sends for `lines` body lines
/// (RFC 1939 §7): the header, the empty line that ends it, and then at most
/// `lines` lines of the body. A message without an empty line is all header.
pub fn top_len(message: &[u8], lines: u32) -> usize {
    let mut at = 0;
    // The header: up to and including the first empty line.
    loop {
        let Some(end) = line_end(message, at) else {
            return message.len();
        };
        let line = &message[at..end];
        at = end;
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
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

    fn wire(message: &[u8]) -> Vec<u8> {
        DotStuffed::new(message).flatten().copied().collect()
    }

    /// What a client gets back after undoing the stuffing (RFC 1939 §3).
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("terminator");
        let mut out = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    #[test]
    fn stuffing_and_termination() {
        assert_eq!(wire(b"a\r\nb\r\n"), b"a\r\nb\r\n.\r\n");
        assert_eq!(wire(b""), b".\r\n");
        assert_eq!(wire(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(wire(b"a\r\n.\r\n..b\r\n"), b"a\r\n..\r\n...b\r\n.\r\n");
        assert_eq!(wire(b"a\r\n.b"), b"a\r\n..b\r\n.\r\n");
        // A dot inside a line is not at a line start.
        assert_eq!(wire(b"a.b\r\n"), b"a.b\r\n.\r\n");
        // Bare LF: still a line start for LF-splitting clients.
        assert_eq!(wire(b"a\n.\n"), b"a\n..\n\r\n.\r\n");
    }

    #[test]
    fn stuffing_round_trips() {
        for message in [
            &b"Subject: x\r\n\r\n.\r\n..\r\n.x\r\nend\r\n"[..],
            b".starts\r\n",
            b"\r\n\r\n.\r\n",
            b"x\r\n",
        ] {
            assert_eq!(unstuff(&wire(message)), message, "{message:?}");
        }
    }

    #[test]
    fn runs_borrow_the_message() {
        let message = b"hello\r\n.world\r\n";
        let runs: Vec<&[u8]> = DotStuffed::new(message).collect();
        assert_eq!(runs, [&b"hello\r\n"[..], b".", b".world\r\n", b".\r\n"]);
    }

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
