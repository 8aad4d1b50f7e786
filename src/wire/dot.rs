//! Dot-stuffing: the transparency rule shared by SMTP DATA (RFC 5321
//! §4.5.2) and POP3 multi-line responses (RFC 1939 §3). A line that
//! starts with `.` gets a second one, and the body ends with a line of a
//! single `.`. Two encoders, because the two rooms need different things:
//!
//! - [`DotStuffer`] (the outbound SMTP client) copies, takes the message in
//!   pieces of any size and turns every bare CR or LF into CRLF on the way,
//!   since nothing but CRLF may reach the next server (RFC 5321 §2.3.8;
//!   DESIGN.md, SMTP smuggling);
//! - [`DotStuffed`] (the POP3 server) copies nothing: it cuts the stored
//!   message, or one piece of it at a time, into runs that borrow from it,
//!   so that RETR of a large message costs no more than one piece, and
//!   the octet counts stay the stored size (RFC 1939 §11).

/// The line that ends a stuffed body.
const TERMINATOR: &[u8] = b".\r\n";
/// The same, for a body whose last line has no line end yet.
const CLOSE_AND_TERMINATE: &[u8] = b"\r\n.\r\n";

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
            out.extend_from_slice(CLOSE_AND_TERMINATE);
        } else {
            out.extend_from_slice(TERMINATOR);
        }
    }
}

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

    /// One piece of a message sent in pieces (each copied out of its own
    /// read transaction). `line_start`: the piece begins a line (it is the
    /// first, or the one before ended with LF). `end`: `None` before the
    /// last piece; for the last, whether the whole message ends with CRLF
    /// (or is empty), and the terminator follows it.
    pub fn piece(piece: &'a [u8], line_start: bool, end: Option<bool>) -> DotStuffed<'a> {
        DotStuffed {
            rest: piece,
            dot: line_start && piece.first() == Some(&b'.'),
            done: end.is_none(),
            ends_with_crlf: end.unwrap_or(true),
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
            TERMINATOR
        } else {
            CLOSE_AND_TERMINATE
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

    /// A message stuffed in pieces of any size comes out as stuffed whole.
    #[test]
    fn pieces_stuff_as_the_whole() {
        let messages: [&[u8]; 5] = [
            b"a\r\n.b\r\n..c\r\nd.e\r\n.\r\n",
            b".first\r\nno end",
            b"",
            b"x\n.y\r\n",
            b"ends in cr\r",
        ];
        for message in messages {
            let whole: Vec<u8> = DotStuffed::new(message).flatten().copied().collect();
            for size in 1..=message.len().max(1) {
                let mut out = Vec::new();
                let mut line_start = true;
                let mut off = 0;
                loop {
                    let end = (off + size).min(message.len());
                    let piece = &message[off..end];
                    let last = end == message.len();
                    let crlf = message.is_empty() || message.ends_with(b"\r\n");
                    for run in DotStuffed::piece(piece, line_start, last.then_some(crlf)) {
                        out.extend_from_slice(run);
                    }
                    if let Some(&b) = piece.last() {
                        line_start = b == b'\n';
                    }
                    off = end;
                    if last {
                        break;
                    }
                }
                assert_eq!(out, whole, "{message:?} in pieces of {size}");
            }
        }
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
}
