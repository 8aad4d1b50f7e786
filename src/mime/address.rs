//! Address lists (RFC 5322 §3.4, with the obsolete forms of §4.4) turned
//! into RFC 3501 §7.4.2 address structures, the way Dovecot and UW
//! c-client read them:
//!
//! - comments and folding white space inside an address are not part of
//!   it (`<user (c)@ (c) domain>` is `user@domain`);
//! - a display name is its words joined by single spaces; without one,
//!   the last comment of the address is the name (`user@host (Name)`);
//! - a mailbox with no local part gets `MISSING_MAILBOX`, one with no
//!   domain `MISSING_DOMAIN`, so that an address is never taken for a
//!   group marker and `Name <>` is still an address;
//! - groups become a start marker (`NIL NIL name NIL`), their members and
//!   an end marker (`NIL NIL NIL NIL`).
//!
//! Strings stay raw header bytes (no RFC 2047 decoding: IMAP sends them as
//! written). The scan is byte by byte, always advancing, so any input
//! costs time linear in its length.

use super::summary::Address;

/// Placeholders for the parts of a mailbox that are missing, as Dovecot
/// sends them.
const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

/// Parses an address list field value (unfolded), spending at most
/// `budget` address structures.
pub(super) fn parse(value: &[u8], budget: &mut usize) -> Vec<Address> {
    let mut p = Parser {
        s: value,
        i: 0,
        comment: None,
        out: Vec::new(),
        budget,
        unclosed_quote: None,
        route_scan: None,
    };
    p.list(false);
    p.out
}

struct Parser<'a, 'b> {
    s: &'a [u8],
    i: usize,
    /// The last comment seen in the current address.
    comment: Option<Vec<u8>>,
    out: Vec<Address>,
    budget: &'b mut usize,
    /// Where a quoted string first ran unclosed to the end of the field.
    unclosed_quote: Option<usize>,
    /// The last obs-route scan: its start and where it stopped.
    route_scan: Option<(usize, usize)>,
}

/// RFC 5322 §3.2.3 atext, plus `.` (dot-atoms and obsolete phrases) and
/// octets above 127 (RFC 6532 and unlabelled 8-bit names).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b) || b >= 0x80
}

/// One word of an address: an atom or a quoted string's content.
enum Word {
    Atom(Vec<u8>),
    Quoted(Vec<u8>),
}

impl Word {
    fn bytes(&self) -> &[u8] {
        match self {
            Word::Atom(b) | Word::Quoted(b) => b,
        }
    }
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) {
        self.i = (self.i + 1).min(self.s.len());
    }

    fn push(&mut self, address: Address) {
        if *self.budget > 0 {
            *self.budget -= 1;
            self.out.push(address);
        }
    }

    /// Skips white space and comments, remembering the last comment.
    fn skip_cfws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.bump(),
                b'(' => {
                    let text = self.comment_text();
                    self.comment = Some(text);
                }
                _ => return,
            }
        }
    }

    /// Reads a comment from its `(`, nested comments and quoted-pairs
    /// included; returns its outer text, white space runs made one space.
    fn comment_text(&mut self) -> Vec<u8> {
        let mut depth = 0usize;
        let mut text = Vec::new();
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'\\' => {
                    text.extend(self.peek());
                    self.bump();
                }
                b'(' => {
                    depth += 1;
                    if depth > 1 {
                        text.push(b);
                    }
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                    text.push(b);
                }
                _ => text.push(b),
            }
        }
        squeeze(&text)
    }

    /// Reads a quoted string from its `"`; an unterminated one runs to the
    /// end, and says so (false).
    fn quoted(&mut self) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        self.bump();
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'"' => return (out, true),
                b'\\' => {
                    out.extend(self.peek());
                    self.bump();
                }
                _ => out.push(b),
            }
        }
        (out, false)
    }

    /// The next word after CFWS, if the next thing is a word.
    fn word(&mut self) -> Option<Word> {
        loop {
            self.skip_cfws();
            match self.peek()? {
                b'"' => {
                    // An unterminated quote is a stray octet, so that
                    // `"name <a@b>` still yields the address. Once one
                    // quote ran to the end unclosed, so would every later
                    // one (its scan is a suffix of that one): they are
                    // stray octets too, not rescanned, keeping the field
                    // linear (`"\"\"\...` was quadratic).
                    let open = self.i;
                    if self.unclosed_quote.is_none_or(|at| open < at) {
                        let (text, closed) = self.quoted();
                        if closed {
                            return Some(Word::Quoted(text));
                        }
                        self.unclosed_quote = Some(open);
                    }
                    self.i = open + 1;
                }
                b if is_atext(b) => {
                    let start = self.i;
                    while self.peek().is_some_and(is_atext) {
                        self.bump();
                    }
                    return Some(Word::Atom(
                        self.s.get(start..self.i).unwrap_or_default().to_vec(),
                    ));
                }
                _ => return None,
            }
        }
    }

    /// Reads addresses up to the end, or to the `;` that ends a group.
    fn list(&mut self, in_group: bool) {
        loop {
            self.skip_cfws();
            match self.peek() {
                None => return,
                Some(b';') if in_group => {
                    self.bump();
                    return;
                }
                Some(b',' | b';' | b'>' | b')' | b'@' | b'[' | b']') => self.bump(),
                Some(_) => self.address(in_group),
            }
        }
    }

    /// One mailbox or group, starting at a word, `"`, `<` or `:`.
    fn address(&mut self, in_group: bool) {
        self.comment = None;
        let start = self.i;
        let mut words = Vec::new();
        while let Some(word) = self.word() {
            words.push(word);
        }
        match self.peek() {
            Some(b'<') => {
                self.bump();
                let name = phrase(&words);
                self.angle(name);
            }
            Some(b':') if !in_group && !words.is_empty() => {
                self.bump();
                self.group(phrase(&words));
            }
            Some(b'@') if !words.is_empty() => {
                self.bump();
                let local = local_part(&words);
                let domain = self.domain();
                let name = self.comment.take();
                self.mailbox(name, None, local, domain);
            }
            _ if !words.is_empty() => {
                let local = local_part(&words);
                let name = self.comment.take();
                self.mailbox(name, None, local, Vec::new());
            }
            _ => {
                // Nothing usable here: step over the stray octet.
                if self.i == start {
                    self.bump();
                }
            }
        }
    }

    /// The rest of `<[route:]local@domain>` after `<`.
    fn angle(&mut self, name: Option<Vec<u8>>) {
        self.skip_cfws();
        // RFC 5322 §4.4 obs-route: `@a,@b:` before the addr-spec.
        let mut route = None;
        if self.peek() == Some(b'@') {
            let start = self.i;
            // The scan stops at the first `:` or `>` whatever its start,
            // so a start inside the last scanned span stops where it did:
            // reuse that, or `<@<@<@...` rescans the field per `<`.
            match self.route_scan {
                Some((from, stop)) if (from..=stop).contains(&start) => self.i = stop,
                _ => {
                    while self.peek().is_some_and(|b| b != b':' && b != b'>') {
                        self.bump();
                    }
                    self.route_scan = Some((start, self.i));
                }
            }
            if self.peek() == Some(b':') {
                let text = self.s.get(start..self.i).unwrap_or_default();
                route = Some(
                    text.iter()
                        .copied()
                        .filter(|b| !b.is_ascii_whitespace())
                        .collect(),
                );
                self.bump();
            } else {
                self.i = start;
            }
        }
        let mut words = Vec::new();
        while let Some(word) = self.word() {
            words.push(word);
        }
        let local = local_part(&words);
        let domain = if self.peek() == Some(b'@') {
            self.bump();
            self.domain()
        } else {
            Vec::new()
        };
        // Anything else up to `>` is junk.
        while self.peek().is_some_and(|b| b != b'>' && b != b',') {
            self.bump();
        }
        if self.peek() == Some(b'>') {
            self.bump();
        }
        self.mailbox(name, route, local, domain);
    }

    /// A domain: dot-atoms or a domain literal, CFWS dropped.
    fn domain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            self.skip_cfws();
            match self.peek() {
                Some(b'[') => {
                    let start = self.i;
                    while self.peek().is_some_and(|b| b != b']') {
                        self.bump();
                    }
                    self.bump();
                    out.extend_from_slice(self.s.get(start..self.i).unwrap_or_default());
                }
                Some(b) if is_atext(b) => {
                    while self.peek().is_some_and(is_atext) {
                        out.push(self.peek().unwrap_or(b'.'));
                        self.bump();
                    }
                }
                _ => return out,
            }
        }
    }

    /// A group's members up to `;`, between its markers. A group needs
    /// room for both markers or is left out whole, so markers pair up.
    fn group(&mut self, name: Option<Vec<u8>>) {
        if *self.budget >= 2 {
            // The end marker's place is kept back while members spend.
            *self.budget -= 1;
            self.push(Address {
                mailbox: Some(name.unwrap_or_default()),
                ..Address::default()
            });
            self.list(true);
            *self.budget += 1;
            self.push(Address::default());
        } else {
            let saved = std::mem::replace(&mut *self.budget, 0);
            self.list(true);
            *self.budget = saved;
        }
    }

    fn mailbox(
        &mut self,
        name: Option<Vec<u8>>,
        adl: Option<Vec<u8>>,
        local: Vec<u8>,
        domain: Vec<u8>,
    ) {
        let or = |v: Vec<u8>, missing: &[u8]| {
            if v.is_empty() { missing.to_vec() } else { v }
        };
        self.push(Address {
            name: name.filter(|n| !n.is_empty()),
            adl,
            mailbox: Some(or(local, MISSING_MAILBOX)),
            host: Some(or(domain, MISSING_DOMAIN)),
        });
    }
}

/// A display name: the words joined by single spaces, white space runs
/// inside them made one space; `None` if empty.
fn phrase(words: &[Word]) -> Option<Vec<u8>> {
    let joined = words
        .iter()
        .map(Word::bytes)
        .collect::<Vec<_>>()
        .join(&b' ');
    let name = squeeze(&joined);
    (!name.is_empty()).then_some(name)
}

/// A local part: its words joined with nothing between (CFWS is not part
/// of an address).
fn local_part(words: &[Word]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| w.bytes().iter().copied())
        .collect()
}

/// `text` with each run of white space made one space, trimmed.
fn squeeze(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        let space = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        if space {
            if out.last().is_some_and(|&l| l != b' ') {
                out.push(b' ');
            }
        } else {
            out.push(b);
        }
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::mime::Address;

    fn list(value: &str) -> Vec<(Option<String>, Option<String>, Option<String>)> {
        let mut budget = 100;
        let text =
            |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        parse(value.as_bytes(), &mut budget)
            .iter()
            .map(|a: &Address| (text(&a.name), text(&a.mailbox), text(&a.host)))
            .collect()
    }

    fn one(
        name: Option<&str>,
        mailbox: &str,
        host: &str,
    ) -> (Option<String>, Option<String>, Option<String>) {
        (
            name.map(String::from),
            Some(mailbox.into()),
            Some(host.into()),
        )
    }

    /// RFC 5322 §3.2.2: CFWS inside an address is not part of it; the
    /// last comment names a bare addr-spec (not an angle address without
    /// a display name), as in Dovecot.
    #[test]
    fn rfc5322_3_2_2_comments_are_not_part_of_an_address() {
        assert_eq!(
            list("(nobody) <user (c)@ (c) example.net>"),
            vec![one(None, "user", "example.net")]
        );
        assert_eq!(
            list("user@example.com (Real Name)"),
            vec![one(Some("Real Name"), "user", "example.com")]
        );
        assert_eq!(
            list("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            vec![one(Some("Pete"), "pete", "silly.test")]
        );
        // Folding white space in a display name counts as one space.
        assert_eq!(
            list("Folded\r\n   Name <f@example.com>"),
            vec![one(Some("Folded Name"), "f", "example.com")]
        );
    }

    /// RFC 3501 §7.4.2 keeps NIL host for group markers only: a mailbox
    /// missing its parts gets Dovecot's placeholders.
    #[test]
    fn rfc3501_7_4_2_missing_parts_get_placeholders() {
        assert_eq!(
            list("Name <>, nodomain"),
            vec![
                one(Some("Name"), "MISSING_MAILBOX", "MISSING_DOMAIN"),
                one(None, "nodomain", "MISSING_DOMAIN"),
            ]
        );
        let mut budget = 100;
        let group = parse(b"G: a@b.c;, d@e.f", &mut budget);
        assert_eq!(group.len(), 4);
        assert!(group[0].is_group_marker() && group[2].is_group_marker());
        assert_eq!(group[0].mailbox.as_deref(), Some(&b"G"[..]));
    }

    #[test]
    fn hostile_quotes_and_routes_parse_in_linear_time() {
        // An unterminated quote used to be rescanned to the end from each
        // later quote, and `<@` routes likewise: quadratic in the field.
        for field in [
            "\"".repeat(64 * 1024),
            "\"\\".repeat(32 * 1024),
            "<@,".repeat(22 * 1024),
            "<@<@".repeat(16 * 1024) + ">",
        ] {
            let started = std::time::Instant::now();
            let mut budget = 100;
            parse(field.as_bytes(), &mut budget);
            let took = started.elapsed();
            assert!(took < std::time::Duration::from_secs(2), "{took:?}");
        }
    }
}
