//! The message on the way out: what it needs from the next server
//! (8BITMIME, SMTPUTF8, its size) and its encoding for DATA — lines ended
//! by CRLF and a leading dot doubled (RFC 5321 §4.5.2), never a bare CR or
//! LF (RFC 5321 §2.3.8; DESIGN.md, SMTP smuggling). The `Return-Path:`
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
    let header_end = content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(content.len(), |p| p + 4);
    let utf8_headers = !content[..header_end].is_ascii();
    let eight_bit = utf8_headers || !content[header_end..].is_ascii();
    Shape {
        start,
        size: content.len(),
        eight_bit,
        utf8_headers,
    }
}

/// Turns message bytes, fed in pieces of any size, into DATA content.
#[derive(Debug)]
pub struct DotStuffer {
    line_start: bool,
    /// A CR ended the last piece: CRLF or a bare CR, known only next time.
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> DotStuffer {
        DotStuffer::new()
    }
}

impl DotStuffer {
    pub fn new() -> DotStuffer {
        DotStuffer {
            line_start: true,
            pending_cr: false,
        }
    }

    /// Appends the encoding of `input` to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64);
        if self.pending_cr && !input.is_empty() {
            self.pending_cr = false;
            out.extend_from_slice(b"\r\n");
            self.line_start = true;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }
        while !input.is_empty() {
            if self.line_start && input[0] == b'.' {
                out.push(b'.');
            }
            match input.iter().position(|&b| b == b'\r' || b == b'\n') {
                None => {
                    out.extend_from_slice(input);
                    self.line_start = false;
                    return;
                }
                Some(end) => {
                    out.extend_from_slice(&input[..end]);
                    let eol = input[end];
                    input = &input[end + 1..];
                    if eol == b'\r' {
                        match input.first() {
                            None => {
                                self.pending_cr = true;
                                self.line_start = false;
                                return;
                            }
                            Some(b'\n') => input = &input[1..],
                            // A bare CR ends a line, as CRLF.
                            Some(_) => {}
                        }
                    }
                    // A bare LF, too.
                    out.extend_from_slice(b"\r\n");
                    self.line_start = true;
                }
            }
        }
    }

    /// Ends the content: closes an unfinished last line, then `.` CRLF.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(pieces: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::new();
        let mut out = Vec::new();
        for p in pieces {
            s.push(p, &mut out);
        }
        s.finish(&mut out);
        out
    }

    /// Every CR and LF in the output is part of a CRLF pair.
    fn only_crlf(bytes: &[u8]) -> bool {
        bytes.iter().enumerate().all(|(i, &b)| match b {
            b'\r' => bytes.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && bytes[i - 1] == b'\r',
            _ => true,
        })
    }

    #[test]
    fn dots_are_doubled_at_line_start_only() {
        assert_eq!(
            encode(&[b"a\r\n.b\r\n..c\r\nd.e\r\n.\r\n"]),
            b"a\r\n..b\r\n...c\r\nd.e\r\n..\r\n.\r\n"
        );
        assert_eq!(encode(&[b".first\r\n"]), b"..first\r\n.\r\n");
        assert_eq!(encode(&[b""]), b".\r\n");
    }

    #[test]
    fn bare_cr_and_lf_become_crlf() {
        let out = encode(&[b"a\nb\rc\r\n\n.d\r.e"]);
        assert_eq!(out, b"a\r\nb\r\nc\r\n\r\n..d\r\n..e\r\n.\r\n");
        assert!(only_crlf(&out));
        // The smuggling shape: LF.LF or CR.CR must not end DATA early.
        let out = encode(&[b"x\n.\ny\r.\rz\r\n"]);
        assert_eq!(out, b"x\r\n..\r\ny\r\n..\r\nz\r\n.\r\n");
    }

    #[test]
    fn pieces_split_anywhere_give_the_same_bytes() {
        let message = b"H: v\r\n\r\n.one\r\ntwo\r\r\n.\n..x\rend";
        let whole = encode(&[message]);
        assert!(only_crlf(&whole));
        for a in 0..=message.len() {
            for b in a..=message.len() {
                let split = encode(&[&message[..a], &message[a..b], &message[b..]]);
                assert_eq!(split, whole, "split at {a},{b}");
            }
        }
    }

    #[test]
    fn unfinished_last_line_is_closed() {
        assert_eq!(encode(&[b"no newline"]), b"no newline\r\n.\r\n");
        assert_eq!(encode(&[b"cr at end\r"]), b"cr at end\r\n.\r\n");
    }

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
