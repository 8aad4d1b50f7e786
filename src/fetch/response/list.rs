//! LIST and LSUB data (RFC 3501 §7.2.2, §7.2.3; RFC 5258 §9 for the
//! extended items, RFC 6154 §2 for the special-use attributes): a
//! mailbox's attributes, its hierarchy delimiter and its name, as
//! `smolmail import imap` reads them to walk an account's folders.

use std::borrow::Cow;

use super::Error;
use super::cursor::{Cursor, ascii};

/// One `* LIST` or `* LSUB` line.
#[derive(Debug, PartialEq)]
pub struct Listing<'a> {
    /// Attributes as sent (`\Noselect`, `\HasChildren`, `\Sent`, ...).
    pub attributes: Vec<&'a str>,
    /// The hierarchy delimiter; `None` for a flat namespace (NIL).
    pub delimiter: Option<u8>,
    /// The name as on the wire (modified UTF-7 unless UTF8=ACCEPT).
    pub name: Cow<'a, [u8]>,
}

impl Listing<'_> {
    /// Whether attribute `name` (case-insensitive, with its `\`) is set.
    pub fn has(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// `(attrs) SP (DQUOTE char DQUOTE / nil) SP mailbox [SP (ext)]` after
/// `LIST ` or `LSUB `. Extended data (RFC 5258 CHILDINFO, OLDNAME) is
/// stepped over.
pub(super) fn listing<'a>(p: &mut Cursor<'a>) -> Result<Listing<'a>, Error> {
    let attributes = p.flag_list()?;
    p.expect(b' ')?;
    let delimiter = if p.peek() == Some(b'"') {
        let d = p.quoted()?;
        match d.as_ref() {
            [c] => Some(*c),
            _ => return Err(p.error("hierarchy delimiter")),
        }
    } else {
        let word = p.atom()?;
        if !word.eq_ignore_ascii_case("NIL") {
            return Err(p.error("hierarchy delimiter"));
        }
        None
    };
    p.expect(b' ')?;
    let name = match p.peek() {
        Some(b'"') => p.quoted()?,
        Some(b'{') | Some(b'~') => Cow::Borrowed(p.literal()?),
        // §9 astring: ASTRING-CHAR includes `]`.
        _ => {
            let word = p.take_while(|b| {
                b > b' ' && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'"' | b'%' | b'*')
            });
            if word.is_empty() || ascii(word).is_none() {
                return Err(p.error("mailbox name"));
            }
            Cow::Borrowed(word)
        }
    };
    if p.eat(b' ') {
        p.skip_value(0)?;
    }
    Ok(Listing {
        attributes,
        delimiter,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Response, Untagged, parse};

    fn listing(line: &[u8]) -> super::Listing<'_> {
        match parse(line).unwrap() {
            Response::Untagged(Untagged::List(l)) => l,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn list_lines_as_dovecot_and_rfc_6154_write_them() {
        let l = listing(b"* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n");
        assert!(l.has("\\sent") && !l.has("\\Noselect"));
        assert_eq!((l.delimiter, l.name.as_ref()), (Some(b'.'), &b"Sent"[..]));
        let l = listing(b"* LSUB () \"/\" \"Lists/Entw&APw-rfe\"\r\n");
        assert_eq!(l.name.as_ref(), b"Lists/Entw&APw-rfe");
        let l = listing(b"* LIST (\\Noselect) NIL {5}\r\na b]c\r\n");
        assert_eq!((l.delimiter, l.name.as_ref()), (None, &b"a b]c"[..]));
        // RFC 5258 §9 extended data is stepped over.
        let l =
            listing(b"* LIST (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
        assert_eq!(l.attributes, vec!["\\Subscribed"]);
        assert_eq!(
            listing(b"* LIST () \"/\" INBOX]\r\n").name.as_ref(),
            b"INBOX]"
        );
        for bad in [
            &b"* LIST (\\X) \"//\" a\r\n"[..],
            b"* LIST (\\X) \"/\"\r\n",
            b"* LIST \\X \"/\" a\r\n",
            b"* LIST () x a\r\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
