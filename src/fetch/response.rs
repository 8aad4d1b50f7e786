//! IMAP server responses as the fetcher reads them (RFC 3501 §7, formal
//! syntax §9): pure functions over bytes, so the tests reach them without
//! a socket.
//!
//! Reading is two steps. [`Framer`] finds where one response ends in a
//! buffer that may hold only its beginning: a response is a line, and a
//! line ending in `{n}` (a literal, §4.3) continues after `n` more bytes.
//! It resumes where it stopped, so a 25 MB literal arriving in 64 KiB
//! reads is scanned once, and it refuses lines and literals over the
//! limits before anything is buffered for them. [`parse`] then reads a
//! complete response in place: message bodies are borrowed slices of the
//! read buffer, not copies.
//!
//! Only what a fetcher needs is decoded (status responses and their codes,
//! CAPABILITY, EXISTS, EXPUNGE, FETCH's UID, RFC822.SIZE, INTERNALDATE,
//! FLAGS and BODY[...], and LIST/LSUB for `import imap`); everything else is skipped by its syntax, so a
//! server may send any data it likes without confusing us.

use std::borrow::Cow;

use crate::wire::imap::{datetime, quote};

mod cursor;
mod list;

use cursor::{Cursor, ascii};
pub use list::Listing;

/// Bounds on what a server may send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest run of bytes outside literals.
    pub max_line: usize,
    /// Largest literal.
    pub max_literal: u64,
}

/// Why bytes cannot be a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A line longer than [`Limits::max_line`].
    LineTooLong,
    /// A literal larger than [`Limits::max_literal`] (its announced size).
    LiteralTooLarge(u64),
    /// Not the syntax of §9; the text says where.
    Syntax(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::LineTooLong => f.write_str("the server sent an over-long line"),
            Error::LiteralTooLarge(n) => write!(f, "the server announced a {n}-byte literal"),
            Error::Syntax(e) => write!(f, "unparsable server response: {e}"),
        }
    }
}

/// What [`Framer::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// The response is `buf[..n]`.
    Complete(usize),
    /// At least this many more bytes are needed (a literal's rest, or 1).
    Need(usize),
}

/// Finds the end of the response at the start of a buffer, across reads.
#[derive(Debug, Default, Clone)]
pub struct Framer {
    /// Bytes before this are scanned.
    pos: usize,
    /// Where the current line (after the last literal) began.
    line_start: usize,
    /// Inside a literal that ends here.
    literal_end: Option<usize>,
}

impl Framer {
    /// Looks at `buf` (which only ever grows between calls for one
    /// response); after `Complete` the framer is ready for the next one.
    pub fn advance(&mut self, buf: &[u8], limits: &Limits) -> Result<Framed, Error> {
        loop {
            if let Some(end) = self.literal_end {
                if buf.len() < end {
                    return Ok(Framed::Need(end - buf.len()));
                }
                self.pos = end;
                self.line_start = end;
                self.literal_end = None;
            }
            let Some(found) = buf
                .get(self.pos..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            else {
                if buf.len().saturating_sub(self.line_start) > limits.max_line {
                    return Err(Error::LineTooLong);
                }
                self.pos = buf.len();
                return Ok(Framed::Need(1));
            };
            let newline = self.pos + found;
            if newline + 1 - self.line_start > limits.max_line {
                return Err(Error::LineTooLong);
            }
            match literal_at_end(&buf[self.line_start..=newline]) {
                Some(n) => {
                    // Checked: a limit set past the 32-bit address space
                    // must not truncate a server's literal size.
                    let end = usize::try_from(n)
                        .ok()
                        .filter(|_| n <= limits.max_literal)
                        .and_then(|n| (newline + 1).checked_add(n));
                    let Some(end) = end else {
                        return Err(Error::LiteralTooLarge(n));
                    };
                    self.literal_end = Some(end);
                }
                None => {
                    *self = Framer::default();
                    return Ok(Framed::Complete(newline + 1));
                }
            }
        }
    }
}

/// The size of the literal announced at the end of `line`, CRLF
/// included (§4.3, `{n}`; `{n+}` and literal8's `~{n}` are read alike).
fn literal_at_end(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    quote::literal_at_end(line).map(|literal| literal.len)
}

/// One parsed response.
#[derive(Debug, PartialEq)]
pub enum Response<'a> {
    /// `+ text`: the server waits for more of the command (§7.5).
    Continuation(Cow<'a, str>),
    /// The end of a command.
    Tagged {
        tag: &'a str,
        status: Status<'a>,
    },
    Untagged(Untagged<'a>),
}

/// OK, NO, BAD, PREAUTH or BYE with its code and text (§7.1).
#[derive(Debug, PartialEq)]
pub struct Status<'a> {
    pub kind: Kind,
    pub code: Option<Code<'a>>,
    pub text: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ok,
    No,
    Bad,
    Preauth,
    Bye,
}

/// A response code in brackets (§7.1).
#[derive(Debug, PartialEq)]
pub enum Code<'a> {
    UidValidity(u32),
    UidNext(u32),
    Capability(Vec<&'a str>),
    ReadOnly,
    /// Any other code, by name (ALERT, TRYCREATE, AUTHENTICATIONFAILED...).
    Other(&'a str),
}

/// Untagged data (§7.2–§7.4).
#[derive(Debug, PartialEq)]
pub enum Untagged<'a> {
    Status(Status<'a>),
    Capability(Vec<&'a str>),
    Exists(u32),
    Expunge(u32),
    /// `* n FETCH (...)`: message sequence number and the items decoded.
    Fetch(u32, MessageData<'a>),
    /// `* LIST` or `* LSUB` (§7.2.2, §7.2.3): one mailbox.
    List(Listing<'a>),
    /// Anything else (FLAGS, RECENT, SEARCH, ENABLED, ...).
    Other,
}

/// The FETCH items the fetcher uses (§7.4.2); absent ones are `None`.
#[derive(Debug, Default, PartialEq)]
pub struct MessageData<'a> {
    pub uid: Option<u32>,
    pub size: Option<u32>,
    /// INTERNALDATE as Unix seconds.
    pub internal_date: Option<i64>,
    pub flags: Option<Vec<&'a str>>,
    /// `BODY[]`: the whole message. `None` when absent or NIL.
    pub body: Option<Cow<'a, [u8]>>,
    /// `BODY[HEADER.FIELDS (...)]`: the header lines asked for.
    pub header_fields: Option<Cow<'a, [u8]>>,
}

/// Parses one complete response (as [`Framer`] delimited it).
pub fn parse(frame: &[u8]) -> Result<Response<'_>, Error> {
    let mut p = Cursor::new(frame);
    let response = if p.eat(b'+') {
        p.eat(b' ');
        Response::Continuation(p.text())
    } else if p.eat(b'*') {
        p.expect(b' ')?;
        Response::Untagged(untagged(&mut p)?)
    } else {
        let tag = p.atom()?;
        p.expect(b' ')?;
        let kind = match p.atom()?.to_ascii_uppercase().as_str() {
            "OK" => Kind::Ok,
            "NO" => Kind::No,
            "BAD" => Kind::Bad,
            other => return Err(p.error(&format!("tagged {other}"))),
        };
        Response::Tagged {
            tag,
            status: status(&mut p, kind)?,
        }
    };
    Ok(response)
}

fn untagged<'a>(p: &mut Cursor<'a>) -> Result<Untagged<'a>, Error> {
    if p.peek().is_some_and(|b| b.is_ascii_digit()) {
        let n = p.number()?;
        p.expect(b' ')?;
        let name = p.atom()?.to_ascii_uppercase();
        return Ok(match name.as_str() {
            "EXISTS" => Untagged::Exists(n),
            "EXPUNGE" => Untagged::Expunge(n),
            "FETCH" => {
                p.expect(b' ')?;
                Untagged::Fetch(n, message_data(p)?)
            }
            _ => Untagged::Other, // RECENT and extensions
        });
    }
    let name = p.atom()?.to_ascii_uppercase();
    let kind = match name.as_str() {
        "OK" => Kind::Ok,
        "NO" => Kind::No,
        "BAD" => Kind::Bad,
        "PREAUTH" => Kind::Preauth,
        "BYE" => Kind::Bye,
        "CAPABILITY" => return Ok(Untagged::Capability(p.words()?)),
        "LIST" | "LSUB" => {
            p.expect(b' ')?;
            return Ok(Untagged::List(list::listing(p)?));
        }
        _ => return Ok(Untagged::Other),
    };
    Ok(Untagged::Status(status(p, kind)?))
}

/// `[SP] ["[" code "]" SP] text` after OK/NO/BAD/PREAUTH/BYE (§9
/// resp-text; the text may be missing, which some servers do).
fn status<'a>(p: &mut Cursor<'a>, kind: Kind) -> Result<Status<'a>, Error> {
    p.eat(b' ');
    let code = if p.eat(b'[') {
        let name = p.take_while(|b| b != b' ' && b != b']' && b != b'\r' && b != b'\n');
        let name = ascii(name).ok_or_else(|| p.error("response code"))?;
        let args = if p.eat(b' ') {
            p.take_while(|b| b != b']' && b != b'\r' && b != b'\n')
        } else {
            &[]
        };
        p.expect(b']')?;
        p.eat(b' ');
        let number = || {
            ascii(args)
                .and_then(|a| a.trim().parse::<u32>().ok())
                .ok_or_else(|| p.error(name))
        };
        Some(match name.to_ascii_uppercase().as_str() {
            "UIDVALIDITY" => Code::UidValidity(number()?),
            "UIDNEXT" => Code::UidNext(number()?),
            "CAPABILITY" => Code::Capability(
                ascii(args)
                    .ok_or_else(|| p.error("capability"))?
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .collect(),
            ),
            "READ-ONLY" => Code::ReadOnly,
            _ => Code::Other(name),
        })
    } else {
        None
    };
    Ok(Status {
        kind,
        code,
        text: p.text(),
    })
}

/// `(att SP value SP att SP value ...)` of a FETCH response (§7.4.2).
fn message_data<'a>(p: &mut Cursor<'a>) -> Result<MessageData<'a>, Error> {
    let mut data = MessageData::default();
    p.expect(b'(')?;
    if p.eat(b')') {
        return Ok(data);
    }
    loop {
        let name = p.att_name()?;
        p.expect(b' ')?;
        let upper = name.to_ascii_uppercase();
        match upper.as_str() {
            "UID" => data.uid = Some(p.number()?),
            "RFC822.SIZE" => data.size = Some(p.number()?),
            "INTERNALDATE" => {
                let text = p.nstring()?.ok_or_else(|| p.error("INTERNALDATE NIL"))?;
                // §9 date-time, read as the server reads APPEND's.
                let date = datetime::parse_date_time(text.trim_ascii());
                data.internal_date = Some(date.ok_or_else(|| p.error("INTERNALDATE"))?.unix);
            }
            "FLAGS" => data.flags = Some(p.flag_list()?),
            "BODY[]" => data.body = p.nstring()?,
            _ if upper.starts_with("BODY[HEADER.FIELDS") => data.header_fields = p.nstring()?,
            _ => p.skip_value(0)?,
        }
        if p.eat(b')') {
            return Ok(data);
        }
        p.expect(b' ')?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_line: 1000,
        max_literal: 100_000,
    };

    fn one(bytes: &[u8]) -> Response<'_> {
        let mut f = Framer::default();
        assert_eq!(
            f.advance(bytes, &LIMITS).unwrap(),
            Framed::Complete(bytes.len())
        );
        parse(bytes).unwrap()
    }

    #[test]
    fn greeting_with_capabilities() {
        let r = one(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN IDLE] Dovecot ready.\r\n");
        let Response::Untagged(Untagged::Status(s)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(s.kind, Kind::Ok);
        assert_eq!(
            s.code,
            Some(Code::Capability(vec![
                "IMAP4rev1",
                "SASL-IR",
                "AUTH=PLAIN",
                "IDLE"
            ]))
        );
        assert_eq!(s.text, "Dovecot ready.");
        assert_eq!(
            one(b"* PREAUTH\r\n"),
            Response::Untagged(Untagged::Status(Status {
                kind: Kind::Preauth,
                code: None,
                text: "".into()
            }))
        );
    }

    #[test]
    fn examine_responses() {
        assert_eq!(
            one(b"* 172 EXISTS\r\n"),
            Response::Untagged(Untagged::Exists(172))
        );
        assert_eq!(one(b"* 1 RECENT\r\n"), Response::Untagged(Untagged::Other));
        assert_eq!(
            one(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"),
            Response::Untagged(Untagged::Other)
        );
        let Response::Untagged(Untagged::Status(s)) =
            one(b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n")
        else {
            panic!()
        };
        assert_eq!(s.code, Some(Code::UidValidity(3_857_529_045)));
        let Response::Untagged(Untagged::Status(s)) = one(b"* OK [UIDNEXT 4392] Predicted\r\n")
        else {
            panic!()
        };
        assert_eq!(s.code, Some(Code::UidNext(4392)));
        let Response::Tagged { tag, status } = one(b"A142 OK [READ-ONLY] EXAMINE completed\r\n")
        else {
            panic!()
        };
        assert_eq!(tag, "A142");
        assert_eq!(status.kind, Kind::Ok);
        assert_eq!(status.code, Some(Code::ReadOnly));
        let Response::Tagged { status, .. } =
            one(b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
        else {
            panic!()
        };
        assert_eq!(status.kind, Kind::No);
        assert_eq!(status.code, Some(Code::Other("AUTHENTICATIONFAILED")));
        assert_eq!(
            one(b"+ idling\r\n"),
            Response::Continuation("idling".into())
        );
        assert_eq!(one(b"+\r\n"), Response::Continuation("".into()));
        assert_eq!(
            one(b"* CAPABILITY IMAP4rev1 IDLE\r\n"),
            Response::Untagged(Untagged::Capability(vec!["IMAP4rev1", "IDLE"]))
        );
    }

    #[test]
    fn fetch_with_body_literal() {
        let msg = b"Subject: hi\r\nMessage-ID: <a@b>\r\n\r\nbody {5}\r\n";
        let mut bytes = format!(
            "* 12 FETCH (UID 4827 RFC822.SIZE {} INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" FLAGS (\\Seen $Junk) BODY[] {{{}}}\r\n",
            msg.len(),
            msg.len()
        )
        .into_bytes();
        bytes.extend_from_slice(msg);
        bytes.extend_from_slice(b")\r\n");
        let Response::Untagged(Untagged::Fetch(12, d)) = one(&bytes) else {
            panic!()
        };
        assert_eq!(d.uid, Some(4827));
        assert_eq!(d.size, Some(msg.len() as u32));
        // 1996-07-17 09:44:25 UTC
        assert_eq!(d.internal_date, Some(837_596_665));
        assert_eq!(d.flags, Some(vec!["\\Seen", "$Junk"]));
        assert_eq!(d.body.as_deref(), Some(&msg[..]));
        assert_eq!(d.header_fields, None);
    }

    #[test]
    fn fetch_items_in_any_order_and_unknown_ones_skipped() {
        let bytes = b"* 3 FETCH (MODSEQ (624) BODY[HEADER.FIELDS (MESSAGE-ID DATE)] {21}\r\nMessage-ID: <x@y>\r\n\r\n ENVELOPE (\"date\" NIL ((NIL NIL \"a\" \"b\")) {3}\r\nabc) X-GM-LABELS (\\Inbox \"a b\") BODYSTRUCTURE ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) \"mixed\") UID 9)\r\n";
        let Response::Untagged(Untagged::Fetch(3, d)) = one(bytes) else {
            panic!()
        };
        assert_eq!(d.uid, Some(9));
        assert_eq!(
            d.header_fields.as_deref(),
            Some(&b"Message-ID: <x@y>\r\n\r\n"[..])
        );
        assert_eq!(d.body, None);
    }

    #[test]
    fn lists_back_to_back_are_skipped() {
        // Found by fuzzing: two addresses, two body parts (RFC 3501 §9
        // `1*address`, `1*body`) have no space between them.
        let bytes = b"* 4 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)(\"text\" \"html\" NIL NIL NIL \"7bit\" 2 1) \"alternative\") UID 5)\r\n";
        let Response::Untagged(Untagged::Fetch(4, d)) = one(bytes) else {
            panic!()
        };
        assert_eq!(d.uid, Some(5));
        assert!(parse(b"* 4 FETCH (X-LIST (a b)c UID 5)\r\n").is_err());
    }

    #[test]
    fn quoted_bodies_and_nil() {
        let Response::Untagged(Untagged::Fetch(1, d)) =
            one(b"* 1 FETCH (BODY[] \"a \\\"q\\\" \\\\\" UID 2)\r\n")
        else {
            panic!()
        };
        assert_eq!(d.body.as_deref(), Some(&b"a \"q\" \\"[..]));
        let Response::Untagged(Untagged::Fetch(1, d)) = one(b"* 1 FETCH (BODY[] NIL UID 2)\r\n")
        else {
            panic!()
        };
        assert_eq!((d.body, d.uid), (None, Some(2)));
    }

    #[test]
    fn framing_across_reads() {
        let body = vec![b'x'; 5000];
        let mut whole = b"* 1 FETCH (UID 1 BODY[] {5000}\r\n".to_vec();
        whole.extend_from_slice(&body);
        whole.extend_from_slice(b" FLAGS ())\r\n* 2 EXISTS\r\n");
        let first_len = whole.len() - b"* 2 EXISTS\r\n".len();
        let mut f = Framer::default();
        let mut buf = Vec::new();
        let mut result = None;
        for chunk in whole.chunks(7) {
            buf.extend_from_slice(chunk);
            match f.advance(&buf, &LIMITS).unwrap() {
                Framed::Complete(n) => {
                    result = Some(n);
                    break;
                }
                Framed::Need(n) => assert!(n >= 1),
            }
        }
        assert_eq!(result, Some(first_len));
        // Inside the literal the framer asks for its whole rest at once.
        let mut f = Framer::default();
        assert_eq!(
            f.advance(&whole[..40], &LIMITS).unwrap(),
            Framed::Need(4992)
        );
    }

    #[test]
    fn limits_are_enforced_before_buffering() {
        let mut f = Framer::default();
        assert_eq!(
            f.advance(b"* 1 FETCH (BODY[] {100001}\r\n", &LIMITS),
            Err(Error::LiteralTooLarge(100_001))
        );
        let mut f = Framer::default();
        assert_eq!(
            f.advance(&vec![b'a'; 1001], &LIMITS),
            Err(Error::LineTooLong)
        );
        // A line may be long in total when literals split it.
        let mut long = b"* 1 FETCH (BODY[] {2000}\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'y', 2000));
        long.extend_from_slice(b")\r\n");
        let mut f = Framer::default();
        assert_eq!(f.advance(&long, &LIMITS), Ok(Framed::Complete(long.len())));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good: &[&[u8]] = &[
            b"* 12 FETCH (UID 4827 RFC822.SIZE 44 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n",
            b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
            b"a1 OK [CAPABILITY IMAP4rev1 IDLE] done\r\n",
            b"* 3 FETCH (ENVELOPE (\"d\" NIL ((NIL NIL \"a\" \"b\"))) UID 9)\r\n",
        ];
        for g in good {
            assert!(parse(g).is_ok(), "{}", String::from_utf8_lossy(g));
            for cut in 0..g.len() {
                let _ = parse(&g[..cut]);
                let mut f = Framer::default();
                let _ = f.advance(&g[..cut], &LIMITS);
                let mut flipped = g.to_vec();
                flipped[cut] ^= 0x20;
                let _ = parse(&flipped);
            }
        }
        assert!(parse(b"a1 MAYBE fine\r\n").is_err());
        assert!(parse(b"* 1 FETCH (UID x)\r\n").is_err());
        assert!(parse(b"* 1 FETCH (BODY[] {10}\r\nabc)\r\n").is_err());
        let deep = format!("* 1 FETCH (X {}{})\r\n", "(".repeat(100), ")".repeat(100));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
