//! Structured header fields a summary needs, parsed from raw bytes:
//! Content-Type and Content-Disposition with their parameters (RFC 2045
//! §5.1, RFC 2183), Content-Language (RFC 3282) and address lists
//! (RFC 5322 §3.4, through mailparse) turned into RFC 3501 address
//! structures.
//!
//! mailparse's own Content-Type parser is not used: it works on the
//! RFC 2047-decoded value and returns a sorted map with lower-cased keys,
//! while IMAP wants the parameters as written, in order. Everything here is
//! lenient (mail in the wild is sloppy) and takes no more than the input.

use super::MAX_PARAMS;
use super::summary::{Address, Param};

/// Longest address field handed to mailparse; longer ones are cut at a
/// comma. mailparse builds the whole list before we can count it, so this
/// bounds its transient memory. 64 KiB is far beyond any honest header.
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
        lx.params(),
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
    Some((kind.to_vec(), lx.params()))
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
        let mut out = Vec::new();
        self.bump();
        while let Some(b) = self.peek() {
            self.bump();
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.bump();
                    }
                }
                _ => out.push(b),
            }
        }
        out
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
    /// [`MAX_PARAMS`]. Attributes keep their case; RFC 2231 extended
    /// parameters (`name*0*=...`) are kept undecoded, as IMAP passes them.
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
                self.quoted()
            } else {
                self.bare_value()
            };
            params.push((attribute.to_vec(), value));
        }
        params
    }

    /// Reads an unquoted parameter value. RFC 2045 wants a token, but
    /// unquoted values with spaces or parentheses (`name=report (1).pdf`)
    /// are common, so take everything up to `;`. A trailing comment after
    /// white space (`charset=us-ascii (Plain text)`, RFC 2045 §5.1's own
    /// example) is dropped.
    fn bare_value(&mut self) -> Vec<u8> {
        let raw = trim(self.take_while(|b| b != b';'));
        let value = match raw.split_last() {
            Some((b')', _)) => strip_trailing_comment(raw),
            _ => raw,
        };
        value.to_vec()
    }
}

/// `value` without a final `(comment)` that follows white space.
fn strip_trailing_comment(value: &[u8]) -> &[u8] {
    let Some(open) = value.iter().rposition(|&b| b == b'(') else {
        return value;
    };
    let before = value.get(..open).unwrap_or_default();
    match before.last() {
        Some(&b) if is_wsp(b) => trim(before),
        _ => value,
    }
}

/// Parses an address list field (From, To, ...) into RFC 3501 address
/// structures, spending at most `budget` of them.
///
/// mailparse's `addrparse` is used rather than `addrparse_header` because
/// the latter decodes RFC 2047 encoded words and IMAP wants them as sent.
/// When the whole list does not parse (one bad address fails all of it),
/// each comma-separated piece is tried alone and a piece that still fails
/// is salvaged as a bare address, so one bad recipient hides no others.
pub(super) fn addresses(value: &[u8], budget: &mut usize) -> Vec<Address> {
    if *budget == 0 {
        return Vec::new();
    }
    let value = cap_address_field(value);
    // addrparse takes a str; header bytes that are not UTF-8 are carried
    // through as Latin-1 chars, which map back to the same bytes.
    let (text, latin1) = match std::str::from_utf8(value) {
        Ok(utf8) => (separate_groups(utf8.chars()), false),
        Err(_) => (separate_groups(value.iter().map(|&b| char::from(b))), true),
    };
    let mut out = Vec::new();
    let mut sink = Sink {
        out: &mut out,
        budget,
        latin1,
    };
    match mailparse::addrparse(&text) {
        Ok(list) => sink.push_list(list),
        Err(_) => {
            for piece in split_top_level(&text) {
                match mailparse::addrparse(piece) {
                    Ok(list) => sink.push_list(list),
                    Err(_) => sink.push_salvaged(piece),
                }
            }
        }
    }
    out
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

/// Tracks where a scan of an address list is: inside a quoted string, a
/// comment or angle brackets, or at the top level where `,` `:` `;`
/// separate addresses and groups (RFC 5322 §3.4).
#[derive(Default)]
struct Nesting {
    quoted: bool,
    escaped: bool,
    parens: usize,
    angle: bool,
}

impl Nesting {
    /// Takes the next octet; true if it is a top-level separator.
    fn separator(&mut self, b: u8) -> bool {
        if self.escaped {
            self.escaped = false;
            return false;
        }
        let bare = !self.quoted && self.parens == 0;
        match b {
            b'\\' if !bare => self.escaped = true,
            b'"' if self.parens == 0 => self.quoted = !self.quoted,
            b'(' if !self.quoted => self.parens += 1,
            b')' if !self.quoted => self.parens = self.parens.saturating_sub(1),
            b'<' if bare => self.angle = true,
            b'>' if bare => self.angle = false,
            b',' | b':' | b';' => return bare && !self.angle,
            _ => {}
        }
        false
    }
}

/// Blanks the comma that separates a group from what follows it
/// (`G: a@b;, c@d`). mailparse does not consume that comma and makes it
/// part of the next address, or fails on it.
fn separate_groups(text: impl Iterator<Item = char>) -> String {
    let mut nesting = Nesting::default();
    let mut after_group = false;
    text.map(|c| {
        let b = u8::try_from(c).unwrap_or(0x80);
        let separator = nesting.separator(b);
        if separator && b == b',' && after_group {
            after_group = false;
            return ' ';
        }
        if separator {
            after_group = b == b';';
        } else if !c.is_whitespace() {
            after_group = false;
        }
        c
    })
    .collect()
}

/// Splits an address list at commas that are outside quoted strings,
/// comments, angle brackets and groups.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut nesting = Nesting::default();
    let (mut start, mut in_group) = (0, false);
    for (i, b) in text.bytes().enumerate() {
        if !nesting.separator(b) {
            continue;
        }
        match b {
            b':' => in_group = true,
            b';' => in_group = false,
            _ if !in_group => {
                // `,` is ASCII, so `i` is a char boundary.
                pieces.extend(text.get(start..i));
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.extend(text.get(start..));
    pieces
}

/// Collects address structures within a budget.
struct Sink<'o> {
    out: &'o mut Vec<Address>,
    budget: &'o mut usize,
    latin1: bool,
}

impl Sink<'_> {
    fn push(&mut self, address: Address) {
        if *self.budget > 0 {
            *self.budget -= 1;
            self.out.push(address);
        }
    }

    fn push_list(&mut self, list: mailparse::MailAddrList) {
        for entry in list.into_inner() {
            match entry {
                mailparse::MailAddr::Single(single) => {
                    let address = self.mailbox(single.display_name.as_deref(), &single.addr);
                    self.push(address);
                }
                mailparse::MailAddr::Group(group) => {
                    // A group needs room for both markers, or it is left
                    // out whole so the markers always pair up.
                    if *self.budget < 2 {
                        continue;
                    }
                    self.push(Address {
                        mailbox: Some(self.bytes(&group.group_name)),
                        ..Address::default()
                    });
                    for member in &group.addrs {
                        if *self.budget <= 1 {
                            break;
                        }
                        let address = self.mailbox(member.display_name.as_deref(), &member.addr);
                        self.push(address);
                    }
                    self.push(Address::default());
                }
            }
        }
    }

    /// Keeps what can be kept of an address mailparse rejected: the part
    /// in angle brackets if any, else the whole piece, with the phrase
    /// before the bracket as the name.
    fn push_salvaged(&mut self, piece: &str) {
        let piece = piece.trim();
        let (name, spec) = match piece.split_once('<') {
            Some((name, rest)) => {
                let spec = rest.split_once('>').map_or(rest, |(spec, _)| spec);
                (Some(name.trim().trim_matches('"').trim()), spec.trim())
            }
            None => (None, piece),
        };
        if spec.is_empty() {
            return;
        }
        let address = self.mailbox(name, spec);
        self.push(address);
    }

    /// Builds the structure of one mailbox from a display name and an
    /// addr-spec, possibly with a source route (`@a,@b:local@domain`).
    fn mailbox(&self, name: Option<&str>, addr: &str) -> Address {
        let addr = addr.trim();
        let (adl, spec) = match addr.strip_prefix('@').and(addr.split_once(':')) {
            Some((route, spec)) => (Some(route), spec),
            None => (None, addr),
        };
        // The domain follows the last '@': a quoted local part may hold '@'.
        let (local, domain) = spec.rsplit_once('@').unwrap_or((spec, ""));
        Address {
            name: name.filter(|n| !n.is_empty()).map(|n| self.bytes(n)),
            adl: adl.map(|a| self.bytes(a)),
            mailbox: Some(self.bytes(local)),
            host: Some(self.bytes(domain)),
        }
    }

    /// The original bytes of text that came from the header.
    fn bytes(&self, s: &str) -> Vec<u8> {
        if self.latin1 {
            s.chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect()
        } else {
            s.as_bytes().to_vec()
        }
    }
}
