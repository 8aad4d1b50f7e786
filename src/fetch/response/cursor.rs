//! The lexical layer of a server response (RFC 3501 §9 formal syntax):
//! a cursor over one framed response that hands out atoms, numbers,
//! strings and literals (borrowed from the read buffer), and steps over
//! values the fetcher does not use.

use std::borrow::Cow;

use super::Error;
use crate::wire::imap::quote;

/// `b` as text when it is ASCII (atoms, codes, capability names).
pub(super) fn ascii(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        std::str::from_utf8(b).ok()
    } else {
        None
    }
}

/// Nesting of parenthesized lists skipped (BODYSTRUCTURE of a deep MIME
/// tree); deeper is refused rather than recursed into.
const MAX_DEPTH: usize = 64;

/// A read position in one response.
pub(super) struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `b`.
    pub(super) fn new(b: &'a [u8]) -> Self {
        Cursor { b, i: 0 }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    pub(super) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn error(&self, what: &str) -> Error {
        let start = self.i.min(self.b.len());
        let near = &self.b[start..(start + 20).min(self.b.len())];
        Error::Syntax(format!(
            "{what} at byte {} (near {:?})",
            self.i,
            String::from_utf8_lossy(near)
        ))
    }

    pub(super) fn expect(&mut self, byte: u8) -> Result<(), Error> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {:?}", byte as char)))
        }
    }

    pub(super) fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&keep) {
            self.i += 1;
        }
        &self.b[start..self.i]
    }

    /// §9 atom (ATOM-CHAR: no space, parens, braces, quotes, `%`, `*`,
    /// `]` or controls); also tags and keywords.
    pub(super) fn atom(&mut self) -> Result<&'a str, Error> {
        let word = self.take_while(|b| {
            b > b' ' && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'"' | b'%' | b']')
        });
        if word.is_empty() {
            return Err(self.error("expected an atom"));
        }
        ascii(word).ok_or_else(|| self.error("atom"))
    }

    pub(super) fn number(&mut self) -> Result<u32, Error> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        ascii(digits)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.error("expected a number"))
    }

    /// Space-separated words to the end of the line (CAPABILITY data).
    pub(super) fn words(&mut self) -> Result<Vec<&'a str>, Error> {
        let line = self.take_while(|b| b != b'\r' && b != b'\n');
        Ok(ascii(line)
            .ok_or_else(|| self.error("capability"))?
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect())
    }

    /// The rest of the line, without its CRLF.
    pub(super) fn text(&mut self) -> Cow<'a, str> {
        let line = self.take_while(|b| b != b'\r' && b != b'\n');
        String::from_utf8_lossy(line)
    }

    /// A FETCH item name: an atom with an optional `[section]` (which may
    /// hold spaces and parentheses) and `<origin>`.
    pub(super) fn att_name(&mut self) -> Result<&'a str, Error> {
        let start = self.i;
        self.take_while(|b| b > b' ' && b < 0x7f && !matches!(b, b'(' | b')' | b'[' | b'"'));
        if self.eat(b'[') {
            self.take_while(|b| b != b']' && b != b'\r' && b != b'\n');
            self.expect(b']')?;
            if self.eat(b'<') {
                self.take_while(|b| b.is_ascii_digit());
                self.expect(b'>')?;
            }
        }
        let name = &self.b[start..self.i];
        if name.is_empty() {
            return Err(self.error("expected a FETCH item"));
        }
        ascii(name).ok_or_else(|| self.error("FETCH item"))
    }

    /// §9 nstring: NIL, a quoted string or a literal.
    pub(super) fn nstring(&mut self) -> Result<Option<Cow<'a, [u8]>>, Error> {
        match self.peek() {
            Some(b'"') => self.quoted().map(Some),
            Some(b'{') | Some(b'~') => self.literal().map(|l| Some(Cow::Borrowed(l))),
            _ => {
                let word = self.atom()?;
                if word.eq_ignore_ascii_case("NIL") {
                    Ok(None)
                } else {
                    Err(self.error("expected a string"))
                }
            }
        }
    }

    /// `"..."` with `\"` and `\\` escapes (§9 quoted), read as the
    /// server reads its commands' quoted strings.
    pub(super) fn quoted(&mut self) -> Result<Cow<'a, [u8]>, Error> {
        let rest: &'a [u8] = self.b.get(self.i..).unwrap_or_default();
        let (value, used) = quote::unquote(rest).map_err(|why| self.error(why))?;
        self.i += used;
        Ok(value)
    }

    /// `{n}` CRLF and n bytes (§4.3), borrowed.
    pub(super) fn literal(&mut self) -> Result<&'a [u8], Error> {
        self.eat(b'~'); // literal8 (RFC 3516)
        self.expect(b'{')?;
        let digits = self.take_while(|b| b.is_ascii_digit());
        let n: usize = ascii(digits)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.error("literal size"))?;
        self.eat(b'+');
        self.expect(b'}')?;
        self.eat(b'\r');
        self.expect(b'\n')?;
        let end = self
            .i
            .checked_add(n)
            .filter(|&end| end <= self.b.len())
            .ok_or_else(|| self.error("literal shorter than announced"))?;
        let bytes = &self.b[self.i..end];
        self.i = end;
        Ok(bytes)
    }

    /// `(flag flag ...)`; flags are atoms, `\`-prefixed for system flags.
    pub(super) fn flag_list(&mut self) -> Result<Vec<&'a str>, Error> {
        self.expect(b'(')?;
        let mut flags = Vec::new();
        loop {
            if self.eat(b')') {
                return Ok(flags);
            }
            if !flags.is_empty() {
                self.expect(b' ')?;
            }
            let start = self.i;
            self.eat(b'\\');
            if !self.eat(b'*') {
                self.atom()?;
            }
            flags.push(ascii(&self.b[start..self.i]).unwrap_or_default());
        }
    }

    /// Steps over one value of any kind (ENVELOPE, BODYSTRUCTURE, MODSEQ
    /// lists and whatever an extension sends).
    pub(super) fn skip_value(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.error("lists nested too deeply"));
        }
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                // Whether the item before was a list; `None` before the first.
                let mut after_list = None;
                loop {
                    if self.eat(b')') {
                        return Ok(());
                    }
                    match after_list {
                        None => {}
                        // §9 `1*address` (ENVELOPE) and `1*body` (a
                        // multipart's BODYSTRUCTURE): lists back to back.
                        Some(true) if self.peek() == Some(b'(') => {}
                        Some(_) => self.expect(b' ')?,
                    }
                    after_list = Some(self.peek() == Some(b'('));
                    self.skip_value(depth + 1)?;
                }
            }
            Some(b'"') => self.quoted().map(drop),
            Some(b'{') | Some(b'~') => self.literal().map(drop),
            _ => {
                let word = self.take_while(|b| {
                    b > b' ' && b < 0x7f && !matches!(b, b'(' | b')' | b'"' | b'{')
                });
                if word.is_empty() {
                    return Err(self.error("expected a value"));
                }
                Ok(())
            }
        }
    }
}
