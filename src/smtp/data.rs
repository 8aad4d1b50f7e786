//! The DATA stream (RFC 5321 §4.1.1.4, §4.5.2) as a pure state machine.
//!
//! Only `CRLF . CRLF` ends the data. A bare CR or bare LF anywhere is
//! recorded and the message is refused once the real end arrives: MTAs that
//! disagree on where a message ends are what SMTP smuggling (the
//! CVE-2023-51766 class) exploits, and refusing makes every other reading
//! harmless. Transparency dots are removed (§4.5.2). The output stops
//! growing at the size limit, but the stream is still followed to its end
//! so the session can answer 552 and go on.

/// Where the decoder is relative to the line structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Just after CRLF (or at the very start of the data).
    LineStart,
    /// A `.` at the start of a line.
    Dot,
    /// `.` CR at the start of a line.
    DotCr,
    /// Inside a line.
    Middle,
    /// A CR inside a line or after `.` content.
    Cr,
}

/// Decodes one DATA stream, chunk by chunk.
#[derive(Debug)]
pub struct DataDecoder {
    state: State,
    limit: usize,
    /// Bytes of content seen (unstuffed), counted even past the limit.
    seen: u64,
    bare_line_ending: bool,
    /// Content is still kept (false once the memory budget ran out: the
    /// stream is followed to its end and answered 452).
    keep: bool,
}

/// What happened to a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// All of the chunk was used; more data is needed.
    More,
    /// The terminator ended at this many bytes into the chunk; the rest
    /// belongs to the next command (pipelining).
    Done(usize),
}

/// How the finished data turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    TooBig,
    BareLineEnding,
}

impl DataDecoder {
    /// `limit`: the most content bytes to keep.
    pub fn new(limit: usize) -> DataDecoder {
        DataDecoder {
            state: State::LineStart,
            limit,
            seen: 0,
            bare_line_ending: false,
            keep: true,
        }
    }

    /// Keeps no more content: the rest is read to the end and dropped.
    pub fn stop_keeping(&mut self) {
        self.keep = false;
    }

    /// The most content bytes one `feed` of `chunk_len` bytes can append
    /// (a `.` or `.CR` held from the previous chunk comes out with it).
    pub fn max_growth(chunk_len: usize) -> usize {
        chunk_len.saturating_add(2)
    }

    pub fn verdict(&self) -> Verdict {
        if self.bare_line_ending {
            Verdict::BareLineEnding
        } else if self.seen > self.limit as u64 {
            Verdict::TooBig
        } else {
            Verdict::Ok
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8], base: usize) {
        self.seen += bytes.len() as u64;
        // `base` is where this message's content starts in `out` (headers
        // the server prepends do not count toward the limit).
        let room = (self.limit + base).saturating_sub(out.len());
        if self.keep && !self.bare_line_ending {
            out.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    /// Feeds `chunk`, appending content to `out` (whose content began at
    /// `base`). Content of a message with a bare line ending is not kept.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>, base: usize) -> Progress {
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                State::Middle => {
                    // Fast path: copy the run up to the next CR or LF.
                    let run = chunk[i..]
                        .iter()
                        .position(|&b| b == b'\r' || b == b'\n')
                        .unwrap_or(chunk.len() - i);
                    self.emit(out, &chunk[i..i + run], base);
                    i += run;
                    if i < chunk.len() {
                        if chunk[i] == b'\r' {
                            self.state = State::Cr;
                        } else {
                            self.bare_line_ending = true;
                            self.emit(out, b"\n", base);
                        }
                        i += 1;
                    }
                }
                State::LineStart => {
                    match chunk[i] {
                        b'.' => self.state = State::Dot,
                        b'\r' => self.state = State::Cr,
                        b'\n' => {
                            self.bare_line_ending = true;
                            self.emit(out, b"\n", base);
                            self.state = State::Middle;
                        }
                        b => {
                            self.emit(out, &[b], base);
                            self.state = State::Middle;
                        }
                    }
                    i += 1;
                }
                State::Dot => {
                    match chunk[i] {
                        b'\r' => self.state = State::DotCr,
                        b'\n' => {
                            // "\n.\n" is not an end (smuggling attempt).
                            self.bare_line_ending = true;
                            self.emit(out, b".\n", base);
                            self.state = State::Middle;
                        }
                        // §4.5.2: the first dot of a line with more on it is
                        // a transparency dot; drop it.
                        b => {
                            self.emit(out, &[b], base);
                            self.state = State::Middle;
                        }
                    }
                    i += 1;
                }
                State::DotCr => {
                    if chunk[i] == b'\n' {
                        self.state = State::LineStart;
                        return Progress::Done(i + 1);
                    }
                    // ".\r" followed by anything but LF: a bare CR.
                    self.bare_line_ending = true;
                    self.emit(out, b".\r", base);
                    self.state = State::Middle;
                }
                State::Cr => {
                    match chunk[i] {
                        b'\n' => {
                            self.emit(out, b"\r\n", base);
                            self.state = State::LineStart;
                        }
                        b'\r' => {
                            self.bare_line_ending = true;
                            self.emit(out, b"\r", base);
                        }
                        b => {
                            self.bare_line_ending = true;
                            self.emit(out, &[b'\r', b], base);
                            self.state = State::Middle;
                        }
                    }
                    i += 1;
                }
            }
        }
        Progress::More
    }
}

/// Whether BDAT content (raw, RFC 3030) has a bare CR or LF; `last_cr`
/// carries a CR that ended the previous chunk. Returns the new carry.
pub fn scan_bare_line_endings(chunk: &[u8], last_cr: bool, bad: &mut bool) -> bool {
    let mut prev_cr = last_cr;
    for &b in chunk {
        match b {
            b'\n' if !prev_cr => *bad = true,
            _ if prev_cr && b != b'\n' => *bad = true,
            _ => {}
        }
        prev_cr = b == b'\r';
    }
    prev_cr
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns content, verdict,
    /// and the bytes after the terminator (None if no terminator).
    fn decode(input: &[u8], step: usize, limit: usize) -> (Vec<u8>, Verdict, Option<Vec<u8>>) {
        let mut d = DataDecoder::new(limit);
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            if let Progress::Done(n) = d.feed(&input[pos..end], &mut out, 0) {
                return (out, d.verdict(), Some(input[pos + n..].to_vec()));
            }
            pos = end;
        }
        (out, d.verdict(), None)
    }

    #[test]
    fn plain_message_and_pipelined_rest() {
        for step in [1, 2, 3, 7, 1000] {
            let (out, v, rest) = decode(b"Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n", step, 1000);
            assert_eq!(out, b"Subject: x\r\n\r\nhello\r\n");
            assert_eq!(v, Verdict::Ok);
            assert_eq!(rest.unwrap(), b"QUIT\r\n");
        }
    }

    #[test]
    fn dot_unstuffing() {
        let (out, _, rest) = decode(b"..leading\r\n...\r\n. \r\n.\r\n", 1, 1000);
        assert_eq!(out, b".leading\r\n..\r\n \r\n");
        assert!(rest.is_some());
        // An empty message.
        let (out, v, rest) = decode(b".\r\n", 1, 10);
        assert!(out.is_empty() && v == Verdict::Ok && rest.is_some());
    }

    /// The smuggling endings of the issue never end DATA, and any bare CR or
    /// LF marks the message refused.
    #[test]
    fn smuggling_endings_do_not_end_data() {
        for ending in [
            &b"\n.\n"[..],
            b"\n.\r\n",
            b"\r.\r\n",
            b"\r\n.\n",
            b"\r\n.\r",
        ] {
            let mut input = b"Subject: a\r\n\r\nfirst".to_vec();
            input.extend_from_slice(ending);
            input.extend_from_slice(b"MAIL FROM:<evil@x.example>\r\n");
            for step in [1, 5, 1000] {
                let (_, verdict, rest) = decode(&input, step, 10_000);
                assert_eq!(rest, None, "{ending:?} ended DATA");
                assert_eq!(verdict, Verdict::BareLineEnding, "{ending:?}");
            }
            // With the real end after it, the message is still refused.
            input.extend_from_slice(b"\r\n.\r\n");
            let (out, verdict, rest) = decode(&input, 3, 10_000);
            assert!(rest.is_some());
            assert_eq!(verdict, Verdict::BareLineEnding, "{ending:?}");
            assert!(out.len() < input.len());
        }
    }

    #[test]
    fn bare_lf_and_cr_in_body() {
        assert_eq!(decode(b"a\nb\r\n.\r\n", 4, 100).1, Verdict::BareLineEnding);
        assert_eq!(decode(b"a\rb\r\n.\r\n", 4, 100).1, Verdict::BareLineEnding);
        assert_eq!(decode(b"a\r\r\n.\r\n", 4, 100).1, Verdict::BareLineEnding);
        assert_eq!(decode(b"\n.\r\n", 1, 100).2, None);
    }

    #[test]
    fn size_limit_is_enforced_but_stream_followed() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
        let (out, verdict, rest) = decode(&input, 512, 1000);
        assert_eq!(verdict, Verdict::TooBig);
        assert_eq!(out.len(), 1000);
        assert_eq!(rest.unwrap(), b"NOOP\r\n");
    }

    #[test]
    fn limit_excludes_prepended_headers() {
        let mut d = DataDecoder::new(5);
        let mut out = b"Received: x\r\n".to_vec();
        let base = out.len();
        assert_eq!(
            d.feed(b"12345\r\n.\r\n", &mut out, base),
            Progress::Done(10)
        );
        // 5 content bytes + CRLF = 7 > 5: too big, but only content counted.
        assert_eq!(d.verdict(), Verdict::TooBig);
        let mut d = DataDecoder::new(7);
        let mut out = b"Received: x\r\n".to_vec();
        d.feed(b"12345\r\n.\r\n", &mut out, base);
        assert_eq!(d.verdict(), Verdict::Ok);
        assert_eq!(&out[base..], b"12345\r\n");
    }

    #[test]
    fn bdat_scan() {
        let mut bad = false;
        let carry = scan_bare_line_endings(b"a\r\nb\r", false, &mut bad);
        assert!(carry && !bad);
        scan_bare_line_endings(b"\nc\r\n", carry, &mut bad);
        assert!(!bad);
        scan_bare_line_endings(b"x\ny", false, &mut bad);
        assert!(bad);
        let mut bad = false;
        scan_bare_line_endings(b"x\ry", false, &mut bad);
        assert!(bad);
    }
}
