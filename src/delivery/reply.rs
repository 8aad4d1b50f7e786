//! What an SMTP server says to our client: replies (RFC 5321 §4.2), their
//! enhanced status codes (RFC 2034, RFC 3463) and the EHLO keywords that
//! decide how a message may be sent (RFC 5321 §4.1.1.1). Pure functions
//! over bytes, so no socket is needed to test them; a reply that breaks
//! the grammar is an error value, never a panic.

/// Longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512; servers
/// exceed it, so allow some room) and most lines in one reply.
pub const MAX_LINE: usize = 2048;
const MAX_LINES: usize = 200;

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The lines' text after the code, in order.
    pub lines: Vec<String>,
}

/// A reply that does not follow RFC 5321 §4.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReply(pub String);

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// The enhanced status code the reply starts with (`5.1.1`), if any
    /// and if its class agrees with the reply code.
    pub fn enhanced(&self) -> Option<String> {
        let first = self.lines.first()?;
        let word = first.split_whitespace().next()?;
        let mut parts = word.split('.');
        let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
        let ok = parts.next().is_none()
            && matches!(class, "2" | "4" | "5")
            && class.as_bytes()[0] - b'0' == (self.code / 100) as u8
            && (1..=3).contains(&subject.len())
            && (1..=3).contains(&detail.len())
            && subject
                .bytes()
                .chain(detail.bytes())
                .all(|b| b.is_ascii_digit());
        ok.then(|| word.to_string())
    }

    /// A status for a DSN: the enhanced code, else one made from the
    /// reply class (RFC 3463 §3.1 X.0.0).
    pub fn status(&self) -> String {
        self.enhanced()
            .unwrap_or_else(|| format!("{}.0.0", self.code / 100))
    }

    /// The reply as one line for logs and DSN Diagnostic-Code fields.
    pub fn text(&self) -> String {
        let mut out = self.code.to_string();
        for (i, line) in self.lines.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { " / " });
            out.push_str(line);
        }
        out
    }
}

/// Reads one complete reply from the start of `buf`: `Ok(None)` when more
/// bytes are needed, else the reply and how many bytes it used.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, BadReply> {
    Parser::default().parse(buf)
}

/// A reply read as its bytes arrive. Lines already complete are parsed
/// once and the search for the next line's end resumes where it stopped,
/// so a multi-line reply trickling in costs linear time in its length,
/// not a re-parse of everything after every read.
#[derive(Debug, Default)]
pub struct Parser {
    /// Where the next unparsed line starts in the caller's buffer.
    at: usize,
    /// How many bytes after `at` are known to hold no LF.
    scanned: usize,
    code: Option<u16>,
    lines: Vec<String>,
}

impl Parser {
    /// Goes on reading the reply at the start of `buf`, which must be what
    /// the earlier calls saw with more bytes after it. `Ok(None)` asks for
    /// more; a reply comes back with the bytes it used, and the parser is
    /// then ready for the next reply (whose bytes the caller drops or
    /// keeps at the buffer's start). After an error, or when the caller
    /// throws its buffer away, start again with [`Parser::reset`].
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<(Reply, usize)>, BadReply> {
        loop {
            let rest = &buf[self.at..];
            let from = self.scanned.min(rest.len());
            let Some(i) = rest[from..].iter().position(|&b| b == b'\n') else {
                self.scanned = rest.len();
                if rest.len() > MAX_LINE {
                    return Err(BadReply("reply line too long".into()));
                }
                return Ok(None);
            };
            let end = from + i;
            self.scanned = 0;
            if end > MAX_LINE {
                return Err(BadReply("reply line too long".into()));
            }
            // RFC 5321 §2.3.8 says CRLF; a lone LF is tolerated in replies,
            // as every client does, since it cannot smuggle anything here.
            let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
            self.at += end + 1;
            if let Some(reply) = self.line(line)? {
                let used = self.at;
                self.reset();
                return Ok(Some((reply, used)));
            }
        }
    }

    /// Forgets the reply read so far.
    pub fn reset(&mut self) {
        self.at = 0;
        self.scanned = 0;
        self.code = None;
        self.lines.clear();
    }

    /// Takes one line (RFC 5321 §4.2: `code SP text` ends the reply,
    /// `code - text` continues it); the reply when it was the last.
    fn line(&mut self, line: &[u8]) -> Result<Option<Reply>, BadReply> {
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(BadReply(format!(
                "not an SMTP reply: {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            )));
        }
        let this = u16::from(line[0] - b'0') * 100
            + u16::from(line[1] - b'0') * 10
            + u16::from(line[2] - b'0');
        if !(200..600).contains(&this) || self.code.is_some_and(|c| c != this) {
            return Err(BadReply(format!("bad reply code {this}")));
        }
        self.code = Some(this);
        let more = match line.get(3) {
            None | Some(b' ') => false,
            Some(b'-') => true,
            Some(_) => return Err(BadReply("bad separator after the reply code".into())),
        };
        let text = line.get(4..).unwrap_or_default();
        // Replies end up in logs and DSNs: no control characters.
        let text: String = String::from_utf8_lossy(text)
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        self.lines.push(text);
        if !more {
            let lines = std::mem::take(&mut self.lines);
            return Ok(Some(Reply { code: this, lines }));
        }
        if self.lines.len() >= MAX_LINES {
            return Err(BadReply("reply has too many lines".into()));
        }
        Ok(None)
    }
}

/// The service extensions a server announced in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub starttls: bool,
    pub pipelining: bool,
    /// RFC 1870: the declared limit, `Some(0)` for "no fixed limit".
    pub size: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub dsn: bool,
    pub auth_plain: bool,
    pub auth_login: bool,
}

impl Extensions {
    /// Reads the keyword lines (every line after the greeting line).
    /// Keywords are case-insensitive (RFC 5321 §2.4); unknown ones are
    /// ignored.
    pub fn parse(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => ext.starttls = true,
                "PIPELINING" => ext.pipelining = true,
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "DSN" => ext.dsn = true,
                "SIZE" => ext.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "AUTH" => {
                    for mechanism in words {
                        match mechanism.to_ascii_uppercase().as_str() {
                            "PLAIN" => ext.auth_plain = true,
                            "LOGIN" => ext.auth_login = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multiline_replies() {
        let (r, n) = parse(b"250 2.1.0 Ok\r\nextra").unwrap().unwrap();
        assert_eq!((r.code, n), (250, 14));
        assert_eq!(r.enhanced().as_deref(), Some("2.1.0"));
        assert!(r.is_positive());
        let ehlo =
            b"250-mx.example greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
        let (r, n) = parse(ehlo).unwrap().unwrap();
        assert_eq!((r.code, r.lines.len(), n), (250, 4, ehlo.len()));
        assert_eq!(parse(&ehlo[..ehlo.len() - 3]).unwrap(), None);
        let (r, _) = parse(b"354\r\n").unwrap().unwrap();
        assert!(r.is_intermediate() && r.lines == vec![String::new()]);
        let (r, _) = parse(b"550 x\x1b[31m\r\n").unwrap().unwrap();
        assert_eq!(r.lines, ["x?[31m"]);
        let (r, _) = parse(b"550 no such user\n").unwrap().unwrap();
        assert!(r.is_permanent() && r.enhanced().is_none());
        assert_eq!(r.status(), "5.0.0");
        assert_eq!(r.text(), "550 no such user");
    }

    #[test]
    fn broken_replies_are_errors_not_panics() {
        for bad in [
            &b"25\r\n"[..],
            b"hello\r\n",
            b"250-a\r\n251 b\r\n",
            b"250xyz\r\n",
            b"999 what\r\n",
            b"\xff\xfe\xfd\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&vec![b'2'; MAX_LINE + 10]).is_err());
        let many = "250-x\r\n".repeat(MAX_LINES + 1);
        assert!(parse(many.as_bytes()).is_err());
        // A mismatched enhanced code class is not believed.
        let (r, _) = parse(b"550 2.0.0 odd\r\n").unwrap().unwrap();
        assert_eq!(r.enhanced(), None);
    }

    #[test]
    fn reply_read_in_pieces_matches_reply_read_whole() {
        let ehlo = b"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n354 go\r\n";
        let whole = parse(ehlo).unwrap().unwrap();
        let mut parser = Parser::default();
        let mut got = None;
        for end in 0..=ehlo.len() {
            if let Some(r) = parser.parse(&ehlo[..end]).unwrap() {
                got = Some(r);
                break;
            }
        }
        assert_eq!(got.as_ref(), Some(&whole));
        // Ready for the next reply once the caller drops the used bytes.
        let rest = &ehlo[whole.1..];
        assert_eq!(parser.parse(rest).unwrap().unwrap().0.code, 354);
    }

    #[test]
    fn reply_trickling_in_a_byte_per_read_is_parsed_in_linear_time() {
        // Most lines a reply may have, each as long as allowed, fed one
        // byte more per call: re-parsing from the start would look at
        // about 200 × 2048 × 400 000 / 2 ≈ 8·10¹⁰ bytes and never finish.
        let line = format!("250-{}\r\n", "x".repeat(MAX_LINE - 10));
        let mut reply = line.repeat(MAX_LINES - 1);
        reply.push_str("250 done\r\n");
        let bytes = reply.as_bytes();
        let mut parser = Parser::default();
        for end in 1..bytes.len() {
            assert_eq!(parser.parse(&bytes[..end]), Ok(None));
        }
        let (r, used) = parser.parse(bytes).unwrap().unwrap();
        assert_eq!((r.lines.len(), used), (MAX_LINES, bytes.len()));
    }

    #[test]
    fn ehlo_keywords() {
        let (r, _) = parse(
            b"250-mx.example\r\n250-pipelining\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
              250-STARTTLS\r\n250-AUTH LOGIN plain CRAM-MD5\r\n250-DSN\r\n250 SMTPUTF8\r\n",
        )
        .unwrap()
        .unwrap();
        let e = Extensions::parse(&r);
        assert_eq!(
            e,
            Extensions {
                starttls: true,
                pipelining: true,
                size: Some(52_428_800),
                eight_bit_mime: true,
                smtputf8: true,
                dsn: true,
                auth_plain: true,
                auth_login: true,
            }
        );
        let (r, _) = parse(b"250-mx\r\n250 SIZE\r\n").unwrap().unwrap();
        assert_eq!(Extensions::parse(&r).size, Some(0));
        let (r, _) = parse(b"250 mx.example STARTTLS\r\n").unwrap().unwrap();
        assert!(
            !Extensions::parse(&r).starttls,
            "the greeting line is no keyword"
        );
    }
}
