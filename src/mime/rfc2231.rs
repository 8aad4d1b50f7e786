//! RFC 2231 parameter continuations (§3) and charsets (§4): the pieces
//! `name*0*=utf-8''a; name*1*=b; name*2="c"` are joined into one
//! parameter, `name*` (still marked as extended, so the value keeps its
//! `charset'language'` prefix and %-encoding) or plain `name` when no
//! piece was extended. This is what Dovecot sends in BODYSTRUCTURE, and
//! clients then decode `name*` the RFC 2231 way as they would a single
//! extended parameter.

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
        let extended = pieces.iter().any(|p| p.1);
        let mut attribute = name;
        if extended {
            attribute.push(b'*');
        }
        let value = pieces.into_iter().flat_map(|p| p.2).collect();
        plain.push((attribute, value));
    }
    plain.truncate(MAX_PARAMS);
    plain
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

    #[test]
    fn rfc2231_4_single_extended_value_kept() {
        let got = join(p(&[
            ("filename*", "iso-8859-1'de'M%FCller.pdf"),
            ("a*b", "c"),
        ]));
        assert_eq!(
            got,
            p(&[("a*b", "c"), ("filename*", "iso-8859-1'de'M%FCller.pdf")])
        );
    }
}
