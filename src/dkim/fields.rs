//! A message's header section cut into fields (RFC 5322 §2.2): each field
//! with its name and its raw bytes (folded lines and the final line end
//! included), which is what both canonicalizations of RFC 6376 §3.4 start
//! from. At most [`super::MAX_FIELDS`] fields.

/// One header field, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name as written (compare with `eq_ignore_ascii_case`).
    pub name: &'a [u8],
    /// The whole field: name, colon, value, folds and the final line end.
    pub raw: &'a [u8],
    /// What follows the colon, up to (not including) the final line end.
    pub value: &'a [u8],
}

/// A message cut into its header fields and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    pub fields: Vec<Field<'a>>,
    /// Everything after the empty line that ends the header (empty if none).
    pub body: &'a [u8],
}

/// The header has more than [`super::MAX_FIELDS`] fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyFields;

/// Cuts `message` into fields and body. A line that is neither a field nor
/// a continuation (no colon) is skipped: it cannot be signed by name.
pub fn split(message: &[u8]) -> Result<Split<'_>, TooManyFields> {
    let header_len = crate::mime::header_len(message);
    let body = &message[header_len..];
    // The header without the empty line ending it.
    let mut header = &message[..header_len];
    if header.ends_with(b"\r\n\r\n") || header == b"\r\n" {
        header = &header[..header.len() - 2];
    } else if header.ends_with(b"\n\n") || header == b"\n" {
        header = &header[..header.len() - 1];
    }
    let mut fields = Vec::new();
    let mut at = 0;
    while at < header.len() {
        let start = at;
        // The field runs to the line end not followed by white space.
        loop {
            match header[at..].iter().position(|&b| b == b'\n') {
                None => {
                    at = header.len();
                    break;
                }
                Some(i) => at += i + 1,
            }
            if !matches!(header.get(at), Some(b' ' | b'\t')) {
                break;
            }
        }
        let raw = &header[start..at];
        let Some(colon) = raw.iter().position(|&b| b == b':') else {
            continue;
        };
        if fields.len() == super::MAX_FIELDS {
            return Err(TooManyFields);
        }
        let mut value = &raw[colon + 1..];
        value = value.strip_suffix(b"\n").unwrap_or(value);
        value = value.strip_suffix(b"\r").unwrap_or(value);
        fields.push(Field {
            name: &raw[..colon],
            raw,
            value,
        });
    }
    Ok(Split { fields, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_folds_and_the_body_follows() {
        let m = b"A: 1\r\nB: 2\r\n\tmore\r\nC:3\r\n\r\nbody\r\n";
        let s = split(m).unwrap();
        assert_eq!(s.fields.len(), 3);
        assert_eq!(s.fields[1].name, b"B");
        assert_eq!(s.fields[1].raw, b"B: 2\r\n\tmore\r\n");
        assert_eq!(s.fields[1].value, b" 2\r\n\tmore");
        assert_eq!(s.fields[2].value, b"3");
        assert_eq!(s.body, b"body\r\n");
        assert_eq!(split(b"A: 1\r\n").unwrap().body, b"");
        assert_eq!(split(b"A: 1").unwrap().fields[0].value, b" 1");
        let many = b"a:b\r\n".repeat(super::super::MAX_FIELDS + 1);
        assert_eq!(split(&many), Err(TooManyFields));
    }
}
