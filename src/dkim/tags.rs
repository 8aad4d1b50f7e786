//! The tag=value list of RFC 6376 §3.2, shared by the DKIM-Signature field
//! and the key record: `tag-spec *( ";" tag-spec ) [ ";" ]`, each spec
//! `[FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]`.
//!
//! Values come back with the folding white space around them removed and
//! the white space inside them kept (base64 values drop it when decoded,
//! §3.5 `b=`). A duplicated tag makes the whole list invalid (§3.2).

/// Most tags in one list: RFC 6376 defines 14 for a signature and 6 for a
/// key record; 64 leaves room for extensions without letting a header of
/// thousands of `;` cost more than a few lookups each.
pub const MAX_TAGS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagError {
    /// A spec without `=` or with a name that is not `ALPHA *(ALNUM / "_")`.
    Syntax,
    /// The same tag twice (§3.2: "MUST be treated as invalid").
    Duplicate(String),
    /// A byte outside VALCHAR and white space inside a value.
    BadValue(String),
    TooMany,
}

impl std::fmt::Display for TagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TagError::Syntax => f.write_str("malformed tag-list"),
            TagError::Duplicate(t) => write!(f, "tag {t}= appears twice"),
            TagError::BadValue(t) => write!(f, "tag {t}= has a bad character"),
            TagError::TooMany => write!(f, "more than {MAX_TAGS} tags"),
        }
    }
}

/// A parsed tag-list: (name, value) in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList<'a> {
    pub tags: Vec<(&'a str, &'a [u8])>,
}

impl<'a> TagList<'a> {
    /// The value of `name` (tag names are case-sensitive, §3.2).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.tags.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_fws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_fws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Parses a tag-list. Linear in the input; at most [`MAX_TAGS`] tags.
pub fn parse(input: &[u8]) -> Result<TagList<'_>, TagError> {
    let mut list = TagList::default();
    let mut specs = input.split(|&b| b == b';').peekable();
    while let Some(spec) = specs.next() {
        if trim(spec).is_empty() && specs.peek().is_none() {
            // The optional trailing ";" (and white space after it).
            break;
        }
        let eq = spec
            .iter()
            .position(|&b| b == b'=')
            .ok_or(TagError::Syntax)?;
        let name = trim(&spec[..eq]);
        let value = trim(&spec[eq + 1..]);
        let valid_name = matches!(name.first(), Some(c) if c.is_ascii_alphabetic())
            && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
        if !valid_name {
            return Err(TagError::Syntax);
        }
        // Checked ASCII above.
        let name = std::str::from_utf8(name).map_err(|_| TagError::Syntax)?;
        // VALCHAR is %x21-3A / %x3C-7E; RFC 8616 adds UTF-8 (bytes >= 0x80).
        if value
            .iter()
            .any(|&b| !(is_fws(b) || (0x21..=0x7e).contains(&b) || b >= 0x80))
        {
            return Err(TagError::BadValue(name.to_string()));
        }
        if list.get(name).is_some() {
            return Err(TagError::Duplicate(name.to_string()));
        }
        if list.tags.len() == MAX_TAGS {
            return Err(TagError::TooMany);
        }
        list.tags.push((name, value));
    }
    Ok(list)
}

/// Removes every white-space byte: base64 values (`b=`, `bh=`, `p=`) may be
/// folded anywhere (§3.5, §3.6.1).
pub fn without_fws(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| !is_fws(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6376_3_2_tag_list_with_folding_and_trailing_semicolon() {
        let l = parse(b" v=1; a=rsa-sha256;\r\n\td=example.net; b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb\r\n av+yuU4zGeeruD00lszZVoG4ZHRNiYzR;\r\n").unwrap();
        assert_eq!(l.get("v"), Some(&b"1"[..]));
        assert_eq!(l.get("d"), Some(&b"example.net"[..]));
        assert_eq!(
            without_fws(l.get("b").unwrap()),
            b"dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR"
        );
        assert_eq!(l.get("V"), None, "names are case-sensitive");
        assert_eq!(parse(b"").unwrap().tags.len(), 0);
        assert_eq!(parse(b"p=").unwrap().get("p"), Some(&b""[..]));
    }

    #[test]
    fn rfc6376_3_2_bad_lists_are_refused() {
        assert_eq!(parse(b"v=1; v=1"), Err(TagError::Duplicate("v".into())));
        assert_eq!(parse(b"v"), Err(TagError::Syntax));
        assert_eq!(parse(b"1v=1"), Err(TagError::Syntax));
        assert_eq!(parse(b"v=1;;a=2"), Err(TagError::Syntax));
        assert!(matches!(parse(b"v=a\x01b"), Err(TagError::BadValue(_))));
        let many: Vec<u8> = (0..=MAX_TAGS)
            .flat_map(|i| format!("t{i}=x;").into_bytes())
            .collect();
        assert_eq!(parse(&many), Err(TagError::TooMany));
    }
}
