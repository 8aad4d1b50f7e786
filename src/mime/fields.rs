//! Structured header fields a summary needs, parsed from raw bytes:
//! Content-Type and Content-Disposition with their parameters (RFC 2045
//! §5.1, RFC 2183), Content-Language (RFC 3282) and address lists
//! (RFC 5322 §3.4, parsed in `address`) turned into RFC 3501 address
//! structures.
//!
//! mailparse's own Content-Type parser is not used: it works on the
//! RFC 2047-decoded value and returns a sorted map with lower-cased keys,
//! while IMAP wants the parameters as written, in order. Everything here is
//! lenient (mail in the wild is sloppy) and takes no more than the input.

use super::MAX_PARAMS;
use super::summary::{Address, Param};
use super::{address, rfc2231};

/// Longest address field parsed; longer ones are cut at a comma. 64 KiB
/// is far beyond any honest header.
const MAX_ADDRESS_FIELD: usize = 64 * 1024;

/// The value of a field as a summary keeps it: folding removed (RFC 5322
/// §2.2.3; any stray CR or LF goes too, as IMAP strings cannot hold them)
/// and surrounding white space trimmed.
pub(super) fn unfold(value: &[u8]) -> Vec<u8> {
    let unfolded: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    trim(&unfolded).to_vec()
}

/// `bytes` without leading and trailing spaces and tabs.
pub(super) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_wsp(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_wsp(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 2045 §5.1 `token` octet: printable US-ASCII except `tspecials`.
fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Parses a Content-Type value into lower-cased type and subtype and the
/// parameters. `None` when the value is syntactically unusable, for which
/// RFC 2045 §5.2 says to assume `text/plain; charset=us-ascii`.
pub(super) fn media_type(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<Param>)> {
    let mut lx = Lexer::new(value);
    lx.skip_cfws();
    let main = lx.token();
    lx.skip_cfws();
    if main.is_empty() || !lx.eat(b'/') {
        return None;
    }
    lx.skip_cfws();
    let sub = lx.token();
    if sub.is_empty() {
        return None;
    }
    Some((
        main.to_ascii_lowercase(),
        sub.to_ascii_lowercase(),
        rfc2231::join(lx.params()),
    ))
}

/// Parses a Content-Disposition value (RFC 2183 §2) into its type, kept as
/// written, and parameters. `None` when there is no type.
pub(super) fn disposition(value: &[u8]) -> Option<(Vec<u8>, Vec<Param>)> {
    let mut lx = Lexer::new(value);
    lx.skip_cfws();
    let kind = lx.token();
    if kind.is_empty() {
        return None;
    }
    Some((kind.to_vec(), rfc2231::join(lx.params())))
}

/// Parses a Content-Language value (RFC 3282 §2): a comma-separated list
/// of language tags, comments allowed between them.
pub(super) fn languages(value: &[u8]) -> Vec<Vec<u8>> {
    let mut lx = Lexer::new(value);
    let mut tags = Vec::new();
    while tags.len() < MAX_PARAMS {
        lx.skip_cfws();
        match lx.peek() {
            None => break,
            Some(b',') => lx.bump(),
            Some(_) => {
                // Tags are `ALPHA *("-" alphanum)`; take any run up to the
                // next separator so odd tags survive rather than vanish.
                let tag = lx.take_while(|b| b != b',' && b != b'(' && !is_wsp(b));
                if tag.is_empty() {
                    // Only a stray ')' can get here; step over it.
                    lx.bump();
                } else {
                    tags.push(tag.to_vec());
                }
            }
        }
    }
    tags
}

/// Looks up a parameter by attribute, case-insensitively (RFC 2045 §5.1).
pub(super) fn param<'p>(params: &'p [Param], attribute: &[u8]) -> Option<&'p [u8]> {
    params
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
        .map(|(_, v)| v.as_slice())
}

/// A cursor over a structured field value.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a [u8]) -> Self {
        Lexer { s, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) {
        self.i = self.i.saturating_add(1).min(self.s.len());
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Advances over octets matching `keep` and returns them.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.s.get(start..self.i).unwrap_or_default()
    }

    fn token(&mut self) -> &'a [u8] {
        self.take_while(is_token)
    }

    /// Skips folding white space and comments (RFC 5322 §3.2.2 CFWS, which
    /// RFC 2045 §5.1 allows between the parts of these fields).
    fn skip_cfws(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.bump(),
                Some(b'(') => self.skip_comment(),
                _ => return,
            }
        }
    }

    /// Skips a comment, nested comments and quoted-pairs included; an
    /// unterminated comment runs to the end.
    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'\\' => self.bump(),
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads a quoted-string (RFC 5322 §3.2.4) starting at the opening
    /// quote, returning its content with quoted-pairs resolved. An
    /// unterminated string runs to the end.
    fn quoted(&mut self) -> Vec<u8> {
        self.quoted_closed().0
    }

    /// [`Lexer::quoted`], also saying whether the closing quote was there.
    fn quoted_closed(&mut self) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        self.bump();
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'"' => return (out, true),
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.bump();
                    }
                }
                _ => out.push(b),
            }
        }
        (out, false)
    }

    /// Moves to the next `;` outside quoted strings and comments, to
    /// resynchronise after a malformed parameter.
    fn skip_to_semicolon(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b';' => return,
                b'"' => drop(self.quoted()),
                b'(' => self.skip_comment(),
                _ => self.bump(),
            }
        }
    }

    /// Reads `*(";" parameter)` (RFC 2045 §5.1), keeping at most
    /// [`MAX_PARAMS`]. Attributes keep their case; RFC 2231 pieces are
    /// joined by the caller.
    fn params(&mut self) -> Vec<Param> {
        let mut params = Vec::new();
        while params.len() < MAX_PARAMS {
            self.skip_cfws();
            match self.peek() {
                None => break,
                Some(b';') => {
                    self.bump();
                    continue;
                }
                Some(_) => {}
            }
            let attribute = self.token();
            self.skip_cfws();
            if attribute.is_empty() || !self.eat(b'=') {
                // Junk such as a second media type or a lone word: skip
                // it, and a stray tspecial with it so we always advance.
                if attribute.is_empty() && self.peek() != Some(b'"') {
                    self.bump();
                }
                self.skip_to_semicolon();
                continue;
            }
            self.skip_cfws();
            let value = if self.peek() == Some(b'"') {
                match self.quoted_closed() {
                    (value, true) => value,
                    // An unterminated quoted value ran to the end of the
                    // field: it is no value, and Dovecot drops it too.
                    (_, false) => continue,
                }
            } else {
                self.bare_value()
            };
            params.push((attribute.to_vec(), value));
        }
        params
    }

    /// Reads an unquoted parameter value: a token, ending at white space
    /// or `;` (RFC 2045 §5.1), as Dovecot and c-client read it. What
    /// follows up to the next `;` (`name=report (1).pdf`) is junk the
    /// parameter loop skips.
    fn bare_value(&mut self) -> Vec<u8> {
        self.take_while(|b| b != b';' && !is_wsp(b) && b != b'\r' && b != b'\n')
            .to_vec()
    }
}

/// Parses an address list field (From, To, ...) into RFC 3501 address
/// structures, spending at most `budget` of them; see `address`.
pub(super) fn addresses(value: &[u8], budget: &mut usize) -> Vec<Address> {
    if *budget == 0 {
        return Vec::new();
    }
    address::parse(cap_address_field(value), budget)
}

/// `value` cut to [`MAX_ADDRESS_FIELD`], at the last comma if there is one
/// so that the addresses before it stay whole.
fn cap_address_field(value: &[u8]) -> &[u8] {
    let Some(head) = value.get(..MAX_ADDRESS_FIELD) else {
        return value;
    };
    match head.iter().rposition(|&b| b == b',') {
        Some(comma) => head.get(..comma).unwrap_or(head),
        None => head,
    }
}
