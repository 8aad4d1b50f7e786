//! A strict reader for the IMAP values smolmail writes in ENVELOPE and
//! BODYSTRUCTURE (RFC 3501 §9: `nil`, `number`, `string` as `quoted` or
//! `literal`, and parenthesised lists, items separated by one space or,
//! for `1*address` and `1*body`, lists back to back). A renderer bug
//! shows up as a reading error, or as a value read back that differs from
//! the one rendered.

/// One value as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Nil,
    Number(u64),
    Str(Vec<u8>),
    List(Vec<Value>),
}

impl Value {
    /// A string's bytes, or `None` for NIL; anything else is an error.
    pub fn nstring(&self) -> Result<Option<&[u8]>, String> {
        match self {
            Value::Nil => Ok(None),
            Value::Str(s) => Ok(Some(s)),
            other => Err(format!("expected nstring, got {other:?}")),
        }
    }

    pub fn list(&self) -> Result<&[Value], String> {
        match self {
            Value::List(items) => Ok(items),
            other => Err(format!("expected a list, got {other:?}")),
        }
    }
}

/// Reads exactly one value filling all of `bytes`.
pub fn read(bytes: &[u8]) -> Result<Value, String> {
    let mut at = 0;
    let value = value(bytes, &mut at, 0)?;
    if at != bytes.len() {
        return Err(format!("{} bytes after the value", bytes.len() - at));
    }
    Ok(value)
}

/// Deeper than any summary smolmail keeps (its MIME depth limit is 32,
/// and each level costs a few lists).
const MAX_DEPTH: usize = 200;

fn value(b: &[u8], at: &mut usize, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("nested too deep".into());
    }
    match b.get(*at) {
        Some(b'(') => {
            *at += 1;
            let mut items = Vec::new();
            if b.get(*at) == Some(&b')') {
                *at += 1;
                return Ok(Value::List(items));
            }
            loop {
                let item = value(b, at, depth + 1)?;
                let after_list = matches!(item, Value::List(_));
                items.push(item);
                match b.get(*at) {
                    Some(b')') => {
                        *at += 1;
                        return Ok(Value::List(items));
                    }
                    Some(b' ') => *at += 1,
                    // `1*address` and `1*body` (§9) are lists written
                    // back to back.
                    Some(b'(') if after_list => {}
                    other => return Err(format!("at {}: {other:?} in a list", *at)),
                }
            }
        }
        Some(b'"') => quoted(b, at),
        Some(b'{') => literal(b, at),
        Some(c) if c.is_ascii_digit() => {
            let start = *at;
            while b.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            let digits = std::str::from_utf8(&b[start..*at]).map_err(|e| e.to_string())?;
            let n: u64 = digits.parse().map_err(|_| format!("number {digits}"))?;
            if n > u64::from(u32::MAX) {
                return Err(format!("number {n} is not a 32-bit number"));
            }
            Ok(Value::Number(n))
        }
        Some(b'N') if b[*at..].starts_with(b"NIL") => {
            *at += 3;
            Ok(Value::Nil)
        }
        other => Err(format!("at {}: unexpected {other:?}", *at)),
    }
}

/// §9 quoted: TEXT-CHARs (7-bit, no CR, LF or NUL), `"` and `\` escaped.
fn quoted(b: &[u8], at: &mut usize) -> Result<Value, String> {
    *at += 1;
    let mut out = Vec::new();
    loop {
        match b.get(*at) {
            Some(b'"') => {
                *at += 1;
                return Ok(Value::Str(out));
            }
            Some(b'\\') => match b.get(*at + 1) {
                Some(&c @ (b'"' | b'\\')) => {
                    out.push(c);
                    *at += 2;
                }
                other => return Err(format!("at {}: bad escape {other:?}", *at)),
            },
            Some(&c) if c != 0 && c != b'\r' && c != b'\n' && c < 0x80 => {
                out.push(c);
                *at += 1;
            }
            other => return Err(format!("at {}: {other:?} in a quoted string", *at)),
        }
    }
}

/// §9 literal: `{n}` CRLF and n CHAR8s (any octet but NUL).
fn literal(b: &[u8], at: &mut usize) -> Result<Value, String> {
    let close = b[*at..]
        .iter()
        .position(|&c| c == b'}')
        .ok_or("unterminated literal size")?;
    let digits = &b[*at + 1..*at + close];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!("at {}: bad literal size", *at));
    }
    let n: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or("literal size")?;
    *at += close + 1;
    if !b[*at..].starts_with(b"\r\n") {
        return Err(format!("at {}: no CRLF after the literal size", *at));
    }
    *at += 2;
    let data = at
        .checked_add(n)
        .and_then(|end| b.get(*at..end))
        .ok_or("literal shorter than its size")?;
    if data.contains(&0) {
        return Err(format!("at {}: NUL in a literal (RFC 3501 CHAR8)", *at));
    }
    *at += n;
    Ok(Value::Str(data.to_vec()))
}
