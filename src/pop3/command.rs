//! POP3 command lines (RFC 1939 §3, with CAPA and the extension syntax of
//! RFC 2449 §3, STLS of RFC 2595 §4 and AUTH of RFC 5034 §4): a pure
//! parser over one line of the session's input buffer.
//!
//! The grammar is small: a case-insensitive keyword, then arguments
//! separated by spaces. The parser is lenient where clients are sloppy in
//! practice (a bare LF ends a line, runs of spaces separate arguments) and
//! strict where leniency would change meaning (PASS keeps its argument
//! byte for byte, RFC 1939 §7).

/// One client command, borrowing its arguments from the input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// RFC 2449 §5: list the capabilities.
    Capa,
    /// RFC 2595 §4: start TLS on the plaintext port.
    Stls,
    /// RFC 1939 §7: the mailbox name.
    User(&'a str),
    /// RFC 1939 §7: the password, everything after `PASS ` (spaces are part
    /// of it).
    Pass(&'a [u8]),
    /// RFC 5034 §4: SASL. Without a mechanism the client asks which ones
    /// are offered (the older RFC 1734 form many clients still send).
    Auth {
        mechanism: Option<&'a str>,
        /// The base64 initial response, `=` for an empty one.
        initial: Option<&'a [u8]>,
    },
    /// RFC 1939 §5: count and size of the maildrop.
    Stat,
    /// RFC 1939 §5: sizes, of one message or of all.
    List(Option<u32>),
    /// RFC 1939 §7: unique-id listing, of one message or of all.
    Uidl(Option<u32>),
    /// RFC 1939 §5: the whole message.
    Retr(u32),
    /// RFC 1939 §7: the header and the first `lines` lines of the body.
    Top { msg: u32, lines: u32 },
    /// RFC 1939 §5: mark for deletion at QUIT.
    Dele(u32),
    /// RFC 1939 §5.
    Noop,
    /// RFC 1939 §5: unmark every message.
    Rset,
    /// RFC 1939 §4 and §6: end the session (and apply deletions).
    Quit,
}

/// Why a line is not a command; the text goes after `-ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The keyword is not one this server knows.
    Unknown,
    /// The keyword is known but its arguments are wrong.
    Syntax(&'static str),
}

impl ParseError {
    pub fn text(self) -> &'static str {
        match self {
            ParseError::Unknown => "Unknown command",
            ParseError::Syntax(why) => why,
        }
    }
}

/// Strips the line ending: CRLF, or a bare LF from a sloppy client.
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A message number (RFC 1939 §3: "msg"). Digits only; a number too large
/// for `u32` cannot name a message, so it saturates and is then reported
/// as "no such message" rather than as a syntax error.
fn number(arg: &[u8]) -> Option<u32> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(arg.iter().fold(0u32, |n, &d| {
        n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    }))
}

fn text(arg: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(arg).map_err(|_| ParseError::Syntax("Argument is not UTF-8"))
}

/// Parses one line, line ending included or not.
pub fn parse(line: &[u8]) -> Result<Command<'_>, ParseError> {
    let line = strip_eol(line);
    let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b""[..]),
    };
    // RFC 1939 §3: keywords are three or four characters.
    if keyword.len() < 3 || keyword.len() > 4 {
        return Err(ParseError::Unknown);
    }
    let mut upper = [0u8; 4];
    upper[..keyword.len()].copy_from_slice(keyword);
    upper.make_ascii_uppercase();
    let keyword = &upper[..keyword.len()];

    // PASS is the one command whose argument is not split (RFC 1939 §7).
    if keyword == b"PASS" {
        return if rest.is_empty() {
            Err(ParseError::Syntax("PASS needs a password"))
        } else {
            Ok(Command::Pass(rest))
        };
    }
    let mut args = rest.split(|&b| b == b' ').filter(|a| !a.is_empty());
    let (a, b, extra) = (args.next(), args.next(), args.next().is_some());
    let none = |cmd| {
        if a.is_some() {
            Err(ParseError::Syntax("This command takes no arguments"))
        } else {
            Ok(cmd)
        }
    };
    let msg = |arg: &[u8]| number(arg).ok_or(ParseError::Syntax("Invalid message number"));
    let optional_msg = || match (a, b) {
        (None, _) => Ok(None),
        (Some(a), None) => msg(a).map(Some),
        _ => Err(ParseError::Syntax("Too many arguments")),
    };
    match keyword {
        b"CAPA" => none(Command::Capa),
        b"STLS" => none(Command::Stls),
        b"STAT" => none(Command::Stat),
        b"NOOP" => none(Command::Noop),
        b"RSET" => none(Command::Rset),
        b"QUIT" => none(Command::Quit),
        b"LIST" => optional_msg().map(Command::List),
        b"UIDL" => optional_msg().map(Command::Uidl),
        b"RETR" | b"DELE" => match (a, b) {
            (Some(a), None) => {
                let n = msg(a)?;
                Ok(if keyword == b"RETR" {
                    Command::Retr(n)
                } else {
                    Command::Dele(n)
                })
            }
            _ => Err(ParseError::Syntax("Expected one message number")),
        },
        b"TOP" => match (a, b, extra) {
            (Some(a), Some(b), false) => Ok(Command::Top {
                msg: msg(a)?,
                lines: number(b).ok_or(ParseError::Syntax("Invalid number of lines"))?,
            }),
            _ => Err(ParseError::Syntax(
                "Expected a message number and a line count",
            )),
        },
        b"USER" => match (a, b) {
            (Some(a), None) => Ok(Command::User(text(a)?)),
            _ => Err(ParseError::Syntax("USER needs one name")),
        },
        b"AUTH" if !extra => Ok(Command::Auth {
            mechanism: a.map(text).transpose()?,
            initial: b,
        }),
        b"AUTH" => Err(ParseError::Syntax("Too many arguments")),
        _ => Err(ParseError::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_commands_any_case() {
        assert_eq!(parse(b"CAPA\r\n"), Ok(Command::Capa));
        assert_eq!(parse(b"capa\r\n"), Ok(Command::Capa));
        assert_eq!(parse(b"StLs\n"), Ok(Command::Stls));
        assert_eq!(parse(b"STAT"), Ok(Command::Stat));
        assert_eq!(parse(b"QUIT\r\n"), Ok(Command::Quit));
        assert_eq!(parse(b"NOOP \r\n"), Ok(Command::Noop));
        assert_eq!(
            parse(b"NOOP x\r\n"),
            Err(ParseError::Syntax("This command takes no arguments"))
        );
    }

    #[test]
    fn message_numbers() {
        assert_eq!(parse(b"LIST\r\n"), Ok(Command::List(None)));
        assert_eq!(parse(b"LIST 7\r\n"), Ok(Command::List(Some(7))));
        assert_eq!(parse(b"UIDL 1\r\n"), Ok(Command::Uidl(Some(1))));
        assert_eq!(parse(b"RETR 12\r\n"), Ok(Command::Retr(12)));
        assert_eq!(parse(b"dele 3\r\n"), Ok(Command::Dele(3)));
        assert_eq!(
            parse(b"RETR 99999999999999999999\r\n"),
            Ok(Command::Retr(u32::MAX))
        );
        assert_eq!(parse(b"RETR 0\r\n"), Ok(Command::Retr(0)));
        for bad in [
            &b"RETR\r\n"[..],
            b"RETR -1",
            b"RETR 1 2",
            b"RETR x",
            b"LIST 1 2",
        ] {
            assert!(matches!(parse(bad), Err(ParseError::Syntax(_))), "{bad:?}");
        }
        assert_eq!(
            parse(b"TOP 2 10\r\n"),
            Ok(Command::Top { msg: 2, lines: 10 })
        );
        assert_eq!(parse(b"TOP 2 0\r\n"), Ok(Command::Top { msg: 2, lines: 0 }));
        assert!(parse(b"TOP 2\r\n").is_err());
        assert!(parse(b"TOP 2 1 1\r\n").is_err());
    }

    #[test]
    fn user_pass_keep_their_bytes() {
        assert_eq!(
            parse(b"USER alice@home.arpa\r\n"),
            Ok(Command::User("alice@home.arpa"))
        );
        assert!(parse(b"USER\r\n").is_err());
        assert!(parse(b"USER a b\r\n").is_err());
        assert!(parse(b"USER \xff\r\n").is_err());
        // Spaces, leading and trailing, belong to the password.
        assert_eq!(
            parse(b"PASS  my secret \r\n"),
            Ok(Command::Pass(b" my secret "))
        );
        assert_eq!(parse(b"pass x\n"), Ok(Command::Pass(b"x")));
        assert!(parse(b"PASS\r\n").is_err());
        assert!(parse(b"PASS \r\n").is_err());
    }

    #[test]
    fn auth_forms() {
        assert_eq!(
            parse(b"AUTH\r\n"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
        assert_eq!(
            parse(b"AUTH PLAIN\r\n"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN"),
                initial: None
            })
        );
        assert_eq!(
            parse(b"AUTH PLAIN AGEAYg==\r\n"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN"),
                initial: Some(b"AGEAYg==")
            })
        );
        assert!(parse(b"AUTH PLAIN a b\r\n").is_err());
    }

    #[test]
    fn unknown_and_garbage() {
        for line in [
            &b"\r\n"[..],
            b"",
            b"XY\r\n",
            b"APOP a b\r\n",
            b"LAST\r\n",
            b"RETRIEVE 1\r\n",
            b"\x00\x01\x02\r\n",
            b"\xff\xfe\xfd\xfc\r\n",
            b" RETR 1\r\n",
        ] {
            assert_eq!(parse(line), Err(ParseError::Unknown), "{line:?}");
        }
    }
}
