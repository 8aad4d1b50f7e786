//! The lexical layer of IMAP4rev1 (RFC 3501 §9 formal syntax, with §4
//! on data formats): a cursor over one assembled command that hands out
//! atoms, numbers, quoted strings, literals and astrings as slices of the
//! input. Every method either advances past what it returned or reports a
//! short reason; none panics, whatever the bytes.

use std::borrow::Cow;

/// A parse step's outcome; the error is the reason the client will read
/// after `BAD`.
pub(super) type PResult<T> = Result<T, &'static str>;

/// RFC 3501 §9 atom-specials, minus `]` (resp-specials), which ASTRING-CHAR
/// allows: `(`, `)`, `{`, SP, CTL, `%`, `*`, `"`, `\`. 8-bit bytes are not
/// CHAR and so never ATOM-CHAR either.
fn is_atom_special_but_bracket(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\')
        || !(0x20..0x7f).contains(&b)
}

/// RFC 3501 §9 ATOM-CHAR.
pub(super) fn is_atom_char(b: u8) -> bool {
    b != b']' && !is_atom_special_but_bracket(b)
}

/// RFC 3501 §9 ASTRING-CHAR (ATOM-CHAR or `]`).
pub(super) fn is_astring_char(b: u8) -> bool {
    !is_atom_special_but_bracket(b)
}

/// RFC 3501 §9 tag: any ASTRING-CHAR except `+` (which would be confused
/// with a continuation request).
pub(super) fn is_tag_char(b: u8) -> bool {
    b != b'+' && is_astring_char(b)
}

/// RFC 3501 §9 list-char: ATOM-CHAR, the wildcards `%` `*`, or `]`.
fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// Letters, digits, `.` and `-`: enough for every keyword of the grammar
/// (`RFC822.SIZE`, `HEADER.FIELDS.NOT`, `SPECIAL-USE`, `FLAGS.SILENT`)
/// while stopping before `[`, `<` and `(`.
fn is_keyword_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// An upper-cased copy of a short keyword on the stack, so that keywords
/// (case-insensitive, RFC 3501 §9) can be `match`ed against byte-string
/// patterns without allocating. A word longer than the buffer, longer than
/// any keyword of the grammar, comes out as `b"?"`, which matches nothing.
pub(super) struct Upper {
    buf: [u8; 24],
    len: usize,
}

impl Upper {
    pub(super) fn new(word: &[u8]) -> Self {
        let mut buf = [0u8; 24];
        match buf.get_mut(..word.len()) {
            Some(dst) => {
                dst.copy_from_slice(word);
                dst.make_ascii_uppercase();
                Upper {
                    buf,
                    len: word.len(),
                }
            }
            None => {
                buf[0] = b'?';
                Upper { buf, len: 1 }
            }
        }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A cursor over the assembled command bytes.
pub(super) struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Lexer { input, pos: 0 }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// What is left, unparsed.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// The current position, for [`Lexer::reset`].
    pub(super) fn mark(&self) -> usize {
        self.pos
    }

    /// Goes back to a position from [`Lexer::mark`].
    pub(super) fn reset(&mut self, mark: usize) {
        self.pos = mark;
    }

    /// Consumes `b` if it comes next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect(&mut self, b: u8, why: &'static str) -> PResult<()> {
        if self.eat(b) { Ok(()) } else { Err(why) }
    }

    /// Exactly one SP: RFC 3501 §9 separates every element with a single
    /// space, and accepting runs of them would only hide client bugs.
    pub(super) fn sp(&mut self) -> PResult<()> {
        self.expect(b' ', "expected a space")
    }

    /// Consumes the longest run of bytes satisfying `f`.
    pub(super) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// A grammar keyword (case-insensitive by RFC 3501 §9's ABNF
    /// convention), e.g. a command name or fetch attribute; may be empty,
    /// which no comparison matches.
    pub(super) fn keyword(&mut self) -> &'a [u8] {
        self.take_while(is_keyword_char)
    }

    /// RFC 3501 §9 atom.
    pub(super) fn atom(&mut self) -> PResult<&'a [u8]> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            Err("expected an atom")
        } else {
            Ok(a)
        }
    }

    /// RFC 3501 §9 tag.
    pub(super) fn tag(&mut self) -> PResult<&'a [u8]> {
        let t = self.take_while(is_tag_char);
        if t.is_empty() {
            Err("missing or invalid tag")
        } else {
            Ok(t)
        }
    }

    /// RFC 3501 §9 number: 32-bit unsigned.
    pub(super) fn number(&mut self) -> PResult<u32> {
        let n = self.number64()?;
        u32::try_from(n).map_err(|_| "number too large")
    }

    /// RFC 3501 §9 nz-number: a number that is not zero.
    pub(super) fn nz_number(&mut self) -> PResult<u32> {
        match self.number()? {
            0 => Err("zero is not allowed here"),
            n => Ok(n),
        }
    }

    /// RFC 7162 §7 mod-sequence-valzer: 0 ..= 2^63-1.
    pub(super) fn mod_seq(&mut self) -> PResult<u64> {
        let n = self.number64()?;
        if n > i64::MAX as u64 {
            Err("mod-sequence too large")
        } else {
            Ok(n)
        }
    }

    /// 1*DIGIT as u64, rejecting overflow.
    fn number64(&mut self) -> PResult<u64> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err("expected a number");
        }
        digits.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or("number too large")
        })
    }

    /// RFC 3501 §9 quoted, read by `wire::imap::quote::unquote` (which
    /// the fetcher shares): escapes resolved, 8-bit bytes accepted (many
    /// clients send UTF-8 in quoted SEARCH strings and mailbox names; the
    /// session decides what the bytes mean), NUL, CR and LF refused.
    pub(super) fn quoted(&mut self) -> PResult<Cow<'a, [u8]>> {
        let (value, used) = crate::wire::imap::quote::unquote(self.rest())?;
        self.pos += used;
        Ok(value)
    }

    /// RFC 3501 §9 literal, also in the RFC 7888 non-synchronizing form
    /// `{n+}`: the marker, CRLF and then exactly n bytes, which are
    /// returned. The session has already turned each NUL of a literal
    /// into 0x80 (RFC 3501 §4.3, as Dovecot does); this check stands for
    /// callers that parse raw bytes. `allow_nul` is for APPEND message
    /// data: RFC 3501's CHAR8 excludes NUL, but a message that contains
    /// one is better stored than refused; in names and strings a NUL is
    /// always an error.
    pub(super) fn literal(&mut self, allow_nul: bool) -> PResult<&'a [u8]> {
        self.expect(b'{', "expected a literal")?;
        let len = self.number().map_err(|_| "bad literal length")?;
        self.eat(b'+');
        self.expect(b'}', "bad literal marker")?;
        if !self.rest().starts_with(b"\r\n") {
            return Err("literal marker not followed by CRLF");
        }
        self.pos += 2;
        let len = len as usize;
        let data = self
            .rest()
            .get(..len)
            .ok_or("literal shorter than announced")?;
        if !allow_nul && data.contains(&0) {
            return Err("NUL in literal");
        }
        self.pos += len;
        Ok(data)
    }

    /// RFC 3501 §9 string: quoted or literal.
    pub(super) fn string(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(false).map(Cow::Borrowed),
            _ => Err("expected a string"),
        }
    }

    /// RFC 3501 §9 astring: 1*ASTRING-CHAR or string.
    pub(super) fn astring(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    Err("expected a string")
                } else {
                    Ok(Cow::Borrowed(a))
                }
            }
        }
    }

    /// RFC 3501 §9 nstring: string or NIL.
    pub(super) fn nstring(&mut self) -> PResult<Option<Cow<'a, [u8]>>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string().map(Some),
            _ if self.keyword().eq_ignore_ascii_case(b"NIL") => Ok(None),
            _ => Err("expected a string or NIL"),
        }
    }

    /// RFC 3501 §9 list-mailbox: 1*list-char or string.
    pub(super) fn list_mailbox(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    Err("expected a mailbox pattern")
                } else {
                    Ok(Cow::Borrowed(a))
                }
            }
        }
    }

    /// Parses `"(" item *(SP item) ")"` with at most `max` items; `empty_ok`
    /// allows `()`. Used for every flat parenthesised list.
    pub(super) fn paren_list<T>(
        &mut self,
        empty_ok: bool,
        max: usize,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        self.expect(b'(', "expected '('")?;
        let mut out = Vec::new();
        if self.eat(b')') {
            return if empty_ok { Ok(out) } else { Err("empty list") };
        }
        loop {
            if out.len() >= max {
                return Err("list too long");
            }
            out.push(item(self)?);
            if self.eat(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }
}
