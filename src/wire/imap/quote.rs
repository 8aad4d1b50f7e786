//! IMAP strings on the wire (RFC 3501 §4.3, §9 `string`): a quoted string
//! when the bytes allow one, else a literal `{n}` CRLF and the bytes.
//! Written by the server (response data) and by the fetcher (command
//! arguments); quoted strings and literal markers are read by both (the
//! server's command reader and parser, the fetcher's response framer and
//! parser).

use std::borrow::Cow;

/// Longest string the server sends quoted; longer ones go as literals,
/// which clients read without scanning for escapes.
pub const MAX_QUOTED: usize = 1024;

/// Whether `s` can be sent as a quoted string. RFC 3501 §9 allows any
/// TEXT-CHAR (CHAR but CR and LF); we quote only printable US-ASCII, so
/// a control character or an 8-bit byte is always sent as a literal,
/// which every reader takes.
pub fn quotable(s: &[u8]) -> bool {
    s.iter().all(|b| (0x20..0x7f).contains(b))
}

/// `s` between double quotes, `"` and `\` escaped (§9 quoted). The caller
/// has checked [`quotable`].
pub fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `{n}` CRLF and the bytes (§4.3 literal).
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// A string (§9): quoted when it can be and is short, else a literal.
///
/// A literal may hold any octet but NUL (§9 CHAR8), and header bytes can
/// still hold one (RFC 5322 §4.1 obs-utext): each NUL is sent as 0x80,
/// which no charset reads as an ASCII character.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= MAX_QUOTED && quotable(s) {
        quoted(out, s);
    } else if s.contains(&0) {
        let no_nul: Vec<u8> = s.iter().map(|&b| if b == 0 { 0x80 } else { b }).collect();
        literal(out, &no_nul);
    } else {
        literal(out, s);
    }
}

/// nstring (§9): NIL or a string.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A literal announced at the end of a line (RFC 3501 §4.3, RFC 7888).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal {
    /// Bytes of data that follow the line's CRLF. Saturates at `u64::MAX`
    /// for absurd digit strings, which any size limit then refuses.
    pub len: u64,
    /// `{n+}` (RFC 7888): the data follows without waiting for `+`.
    pub non_sync: bool,
}

/// Whether `line` (without CRLF) ends in a literal marker `{n}` or `{n+}`
/// (literal8's `~{n}` alike), and if so which. Only the end of the line is
/// examined: a marker can only be the last thing on a line, and literal
/// data is never passed here. The server frames commands with it, the
/// fetcher responses.
pub fn literal_at_end(line: &[u8]) -> Option<Literal> {
    let body = line.strip_suffix(b"}")?;
    let (body, non_sync) = match body.strip_suffix(b"+") {
        Some(b) => (b, true),
        None => (body, false),
    };
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (before, digits) = body.split_at(body.len() - digits);
    before.strip_suffix(b"{")?;
    let len = digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Literal { len, non_sync })
}

/// Reads the quoted string at the start of `input` (which begins with its
/// opening `"`): its value with `\"` and `\\` resolved (borrowed unless
/// there was an escape) and how many bytes it took, closing quote
/// included. 8-bit bytes are accepted although TEXT-CHAR excludes them:
/// clients send UTF-8 in quoted SEARCH strings and names, and servers in
/// quoted data; NUL, CR and LF are refused (CHAR excludes NUL, TEXT-CHAR
/// CR and LF). The error is a short reason fit for a BAD.
pub fn unquote(input: &[u8]) -> Result<(Cow<'_, [u8]>, usize), &'static str> {
    if input.first() != Some(&b'"') {
        return Err("expected a quoted string");
    }
    let mut escaped = false;
    let mut i = 1;
    loop {
        match input.get(i) {
            None => return Err("unterminated quoted string"),
            Some(b'"') => break,
            Some(b'\\') => {
                i += 1;
                if !matches!(input.get(i), Some(b'"' | b'\\')) {
                    return Err("bad escape in quoted string");
                }
                escaped = true;
            }
            Some(0 | b'\r' | b'\n') => return Err("bad character in quoted string"),
            Some(_) => {}
        }
        i += 1;
    }
    let body = &input[1..i];
    let used = i + 1;
    if !escaped {
        return Ok((Cow::Borrowed(body), used));
    }
    let mut out = Vec::with_capacity(body.len());
    let mut bytes = body.iter();
    while let Some(&b) = bytes.next() {
        // Every `\` was checked above to be followed by `"` or `\`.
        out.push(if b == b'\\' {
            bytes.next().copied().unwrap_or(b)
        } else {
            b
        });
    }
    Ok((Cow::Owned(out), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `write` puts out for `s`.
    fn written(write: fn(&mut Vec<u8>, &[u8]), s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, s);
        out
    }

    #[test]
    fn strings_quoted_or_literal() {
        assert_eq!(written(string, br#"a "b" \c"#), br#""a \"b\" \\c""#);
        assert_eq!(written(string, b""), b"\"\"");
        assert_eq!(written(string, "é".as_bytes()), "{2}\r\né".as_bytes());
        assert_eq!(written(string, b"a\r\nb"), b"{4}\r\na\r\nb");
        assert_eq!(written(string, b"tab\there"), b"{8}\r\ntab\there");
        // Found by fuzzing: a NUL in a header field made an invalid literal.
        assert_eq!(written(string, b"<a\0b>"), b"{5}\r\n<a\x80b>");
        let long = vec![b'x'; MAX_QUOTED + 1];
        assert!(written(string, &long).starts_with(b"{1025}\r\n"));
        let mut out = Vec::new();
        nstring(&mut out, None);
        nstring(&mut out, Some(b"x"));
        assert_eq!(out, b"NIL\"x\"");
    }

    #[test]
    fn reading_quoted_strings() {
        assert_eq!(
            unquote(b"\"abc\" rest"),
            Ok((Cow::Borrowed(&b"abc"[..]), 5))
        );
        assert_eq!(unquote(b"\"\""), Ok((Cow::Borrowed(&b""[..]), 2)));
        let (value, used) = unquote(br#""a \"q\" \\" x"#).unwrap();
        assert_eq!((&*value, used), (&br#"a "q" \"#[..], 12));
        assert!(matches!(value, Cow::Owned(_)));
        assert_eq!(unquote("\"pä\"".as_bytes()).unwrap().0, "pä".as_bytes());
        for bad in [
            &b"abc"[..],
            b"\"abc",
            b"\"a\\b\"",
            b"\"a\\",
            b"\"a\rb\"",
            b"\"a\nb\"",
            b"\"a\0b\"",
        ] {
            assert!(unquote(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn literal_markers() {
        let lit = |len, non_sync| Some(Literal { len, non_sync });
        assert_eq!(literal_at_end(b"a LOGIN {3}"), lit(3, false));
        assert_eq!(literal_at_end(b"a LOGIN {3+}"), lit(3, true));
        assert_eq!(literal_at_end(b" {0}"), lit(0, false));
        assert_eq!(literal_at_end(b"{007}"), lit(7, false));
        assert_eq!(
            literal_at_end(b"a APPEND x {99999999999999999999999}"),
            lit(u64::MAX, false)
        );
        // BINARY's literal8: not offered by the server, but sent by other
        // servers to the fetcher, and framed alike.
        assert_eq!(literal_at_end(b"* 1 FETCH (BINARY[] ~{4}"), lit(4, false));
        for line in [
            &b"a NOOP"[..],
            b"",
            b"}",
            b"{}",
            b"{+}",
            b"{a}",
            b"{3 }",
            b"{3}x",
            b"a LOGIN \"{3}\"",
            b"{3++}",
            b"{-3}",
            b"3}",
        ] {
            assert_eq!(literal_at_end(line), None, "{line:?}");
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        for s in [&b""[..], b"plain", b"\"\\\"", b"a b (c) {d}"] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(unquote(&out), Ok((Cow::Borrowed(s), out.len())));
        }
    }
}
