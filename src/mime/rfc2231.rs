//! RFC 2231 parameter continuations (§3) and charsets (§4), as RFC 9051
//! §7.5.2 wants them in BODYSTRUCTURE: the pieces `name*0*=…; name*1*=…;
//! name*2="…"` are joined into one parameter, plain `name` when no piece
//! was extended, else `name*` whose value is still an RFC 2231 extended
//! value (`charset'language'` and %-escapes), so that every client that
//! decodes `name*` keeps working and an IMAP4rev1 string stays ASCII.
//!
//! That extended value is the pieces joined as written (what Dovecot
//! sends) when that is already right: every piece extended and the charset
//! UTF-8 or US-ASCII. Otherwise it is rebuilt: the pieces decoded (§4.1:
//! an unextended piece is taken literally, so its `%` or space is escaped
//! now, not left for the client to misread), converted to UTF-8 (RFC 9051
//! §7.5.2 "convert to UTF-8"), and escaped again as `utf-8'language'…`. A
//! charset unknown here keeps its label and its octets.

use super::MAX_PARAMS;
use super::summary::Param;

/// What an attribute says about itself: its name, its continuation
/// number, and whether its value is extended (`*` at the end).
fn split(attribute: &[u8]) -> Option<(&[u8], Option<u32>, bool)> {
    let star = attribute.iter().position(|&b| b == b'*')?;
    let (name, rest) = attribute.split_at(star);
    let rest = rest.get(1..).unwrap_or_default();
    if name.is_empty() {
        return None;
    }
    if rest.is_empty() {
        return Some((name, None, true));
    }
    let (digits, extended) = match rest.strip_suffix(b"*") {
        Some(digits) => (digits, true),
        None => (rest, false),
    };
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((name, Some(n), extended))
}

/// One piece of a continued parameter: number, extended, value.
type Piece = (u32, bool, Vec<u8>);

/// A continued parameter: lower-cased name, name as written, pieces.
type Group = (Vec<u8>, Vec<u8>, Vec<Piece>);

/// Joins continued parameters. Plain parameters keep their order and come
/// first; the joined ones follow, ordered by name (as Dovecot orders
/// them). Pieces are joined in continuation order; a value with no
/// continuation number counts as piece 0.
pub(super) fn join(params: Vec<Param>) -> Vec<Param> {
    if !params.iter().any(|(a, _)| a.contains(&b'*')) {
        return params;
    }
    let mut plain = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for (attribute, value) in params {
        let Some((name, number, extended)) = split(&attribute) else {
            plain.push((attribute, value));
            continue;
        };
        let key = name.to_ascii_lowercase();
        let piece = (number.unwrap_or(0), extended, value);
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, pieces)) => pieces.push(piece),
            None => groups.push((key, name.to_vec(), vec![piece])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, name, mut pieces) in groups {
        pieces.sort_by_key(|p| p.0);
        let mut attribute = name;
        let value = match pieces.iter().any(|p| p.1) {
            true => {
                attribute.push(b'*');
                extended_value(&pieces)
            }
            false => pieces.into_iter().flat_map(|p| p.2).collect(),
        };
        plain.push((attribute, value));
    }
    plain.truncate(MAX_PARAMS);
    plain
}

/// The value of a joined `name*` (see the module comment); `pieces` in
/// continuation order, at least one extended.
fn extended_value(pieces: &[Piece]) -> Vec<u8> {
    let joined = || pieces.iter().flat_map(|p| p.2.iter().copied()).collect();
    // §4.1: charset and language lead the first piece, if it is extended.
    let (charset, language, first) = match pieces.first() {
        Some((_, true, v)) => split_prefix(v).unwrap_or((&[], &[], v)),
        Some((_, false, v)) => (&[][..], &[][..], &v[..]),
        None => return Vec::new(),
    };
    let all_extended = pieces.iter().all(|p| p.1);
    let unicode = charset.is_empty()
        || [&b"utf-8"[..], b"utf8", b"us-ascii"]
            .iter()
            .any(|c| charset.eq_ignore_ascii_case(c));
    if all_extended && unicode {
        return joined();
    }
    let mut octets = Vec::new();
    for (i, (_, extended, v)) in pieces.iter().enumerate() {
        let v = if i == 0 { first } else { &v[..] };
        match extended {
            true => unescape(v, &mut octets),
            false => octets.extend_from_slice(v),
        }
    }
    let converted = match unicode {
        true => None,
        false => match encoding_rs::Encoding::for_label(charset) {
            Some(encoding) => Some(encoding.decode_without_bom_handling(&octets).0),
            // Unknown here: the client may know it; keep label and octets.
            None if all_extended => return joined(),
            None => None,
        },
    };
    let (label, octets): (&[u8], &[u8]) = match &converted {
        Some(text) => (b"utf-8", text.as_bytes()),
        None if charset.is_empty() => (b"", &octets),
        None => (charset, &octets),
    };
    let mut out = Vec::with_capacity(label.len() + language.len() + 2 + octets.len() * 3);
    out.extend_from_slice(label);
    out.push(b'\'');
    out.extend_from_slice(language);
    out.push(b'\'');
    escape(octets, &mut out);
    out
}

/// `charset'language'rest` (§4); `None` without both quotes.
fn split_prefix(v: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let a = v.iter().position(|&b| b == b'\'')?;
    let b = a + 1 + v[a + 1..].iter().position(|&b| b == b'\'')?;
    Some((&v[..a], &v[a + 1..b], &v[b + 1..]))
}

/// §4 `%XX` escapes to octets; a `%` not followed by two hex digits is
/// taken as itself.
fn unescape(v: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%'
            && let (Some(h), Some(l)) = (
                v.get(i + 1).copied().and_then(hex),
                v.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(v[i]);
        i += 1;
    }
}

/// Octets as §7 extended-other-values: attribute-chars as themselves,
/// everything else (space, controls, 8-bit, `*'%` and tspecials) as `%XX`.
fn escape(octets: &[u8], out: &mut Vec<u8>) {
    for &b in octets {
        let attribute_char = b.is_ascii_graphic() && !b"*'%()<>@,;:\\\"/[]?=".contains(&b);
        match attribute_char {
            true => out.push(b),
            false => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    fn p(list: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        list.iter()
            .map(|(a, v)| (a.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn rfc2231_3_continuations_joined_in_order() {
        let got = join(p(&[
            ("name*1*", "%20for"),
            ("charset", "x"),
            ("name*0*", "utf-8''%E2%82%AC"),
            ("name*2", ".pdf"),
            ("title*0", "one "),
            ("title*1", "two"),
        ]));
        assert_eq!(
            got,
            p(&[
                ("charset", "x"),
                ("name*", "utf-8''%E2%82%AC%20for.pdf"),
                ("title", "one two"),
            ])
        );
    }

    /// RFC 9051 §7.5.2: pieces in another charset are decoded, converted
    /// to UTF-8 and given as `name*` in UTF-8; RFC 2231 §4.1: a plain piece
    /// among extended ones is literal, so its space and `%` get escaped.
    #[test]
    fn rfc9051_7_5_2_charsets_converted_to_utf8() {
        let got = join(p(&[
            ("name*0*", "iso-8859-1'de'M%FC"),
            ("name*1*", "ller"),
            ("name*2", " 100%.pdf"),
            ("title*", "iso-8859-1''%E4"),
            ("zz*0*", "utf-8''%F0%9F%98%80"),
            ("zz*1", " a"),
        ]));
        assert_eq!(
            got,
            p(&[
                ("name*", "utf-8'de'M%C3%BCller%20100%25.pdf"),
                ("title*", "utf-8''%C3%A4"),
                ("zz*", "utf-8''%F0%9F%98%80%20a"),
            ])
        );
    }

    /// Already right (all extended, UTF-8) or not convertible (a charset
    /// unknown here): joined as written, as Dovecot sends it.
    #[test]
    fn rfc2231_4_valid_or_unknown_values_kept_as_written() {
        let got = join(p(&[
            ("a*0*", "UTF-8'en'%e2%82%ac"),
            ("a*1*", "%41x"),
            ("b*", "x-unknown''abc%41"),
            ("c*0*", "''no%20charset"),
            ("d*0", "plain "),
            ("d*1*", "%41"),
        ]));
        assert_eq!(
            got,
            p(&[
                ("a*", "UTF-8'en'%e2%82%ac%41x"),
                ("b*", "x-unknown''abc%41"),
                ("c*", "''no%20charset"),
                ("d*", "''plain%20A"),
            ])
        );
    }

    #[test]
    fn rfc2231_4_single_extended_value_in_utf8() {
        let got = join(p(&[
            ("filename*", "iso-8859-1'de'M%FCller.pdf"),
            ("a*b", "c"),
        ]));
        assert_eq!(
            got,
            p(&[("a*b", "c"), ("filename*", "utf-8'de'M%C3%BCller.pdf")])
        );
    }
}
