//! BINARY (RFC 3516): FETCH BINARY[part], BINARY.PEEK[part] and
//! BINARY.SIZE[part] give a part's content with its
//! Content-Transfer-Encoding removed (`mime::transfer`), so a client
//! downloading an attachment need not decode base64 itself; APPEND takes
//! literal8 (`~{n}`, §4.4), whose NULs are kept (in `session::read`).
//!
//! §4.2: a part whose encoding the server does not know fails the whole
//! FETCH with `NO [UNKNOWN-CTE]`, checked before anything is sent.
//! `BINARY[]` (no part) and multipart or message parts are sent as they
//! are stored: only a leaf part has an encoding to remove.

use std::borrow::Cow;

use super::parse::FetchItem;
use crate::mime::transfer::{self, UnknownEncoding};
use crate::mime::{Part, Summary};
use crate::store::Reader;

/// The part `path` names (none: the message), if it exists.
fn part<'s>(summary: &'s Summary, path: &[u32]) -> Option<&'s Part> {
    summary.root.find(path)
}

/// Whether `part`'s content is decoded (a leaf, not the whole message).
fn is_leaf(part: &Part, path: &[u32]) -> bool {
    !path.is_empty()
        && !part.media_type.eq_ignore_ascii_case(b"multipart")
        && part.message.is_none()
}

/// The content BINARY[`path`] returns for the message `raw`: empty for a
/// part that does not exist (as BODY[] does).
pub fn content<'a>(
    raw: &'a [u8],
    summary: &Summary,
    path: &[u32],
) -> Result<Cow<'a, [u8]>, UnknownEncoding> {
    if path.is_empty() {
        return Ok(Cow::Borrowed(raw));
    }
    let Some(part) = part(summary, path) else {
        return Ok(Cow::Borrowed(&[]));
    };
    let body = raw
        .get(part.body_start as usize..part.end as usize)
        .unwrap_or(&[]);
    if !is_leaf(part, path) {
        return Ok(Cow::Borrowed(body));
    }
    transfer::decode(&part.encoding, body)
}

/// Whether any BINARY item of `items` names a part of this message whose
/// encoding is unknown (the FETCH is then refused, §4.2).
pub fn unknown_encoding(items: &[FetchItem<'_>], summary: &Summary) -> bool {
    items.iter().any(|item| {
        let path = match item {
            FetchItem::Binary { part, .. } | FetchItem::BinarySize(part) => part,
            _ => return false,
        };
        part(summary, path).is_some_and(|p| is_leaf(p, path) && !transfer::known(&p.encoding))
    })
}

/// Whether a BINARY item of `items` meets an unknown encoding in any of
/// the `targets` (sequence number, UID) of the mailbox: read from the
/// stored summaries only, before the FETCH sends or marks anything.
pub fn unknown_in(
    reader: &Reader,
    mailbox_id: u64,
    targets: &[(u32, u32)],
    items: &[FetchItem<'_>],
) -> bool {
    if !items
        .iter()
        .any(|i| matches!(i, FetchItem::Binary { .. } | FetchItem::BinarySize(_)))
    {
        return false;
    }
    targets.iter().any(|&(_, uid)| {
        let Some(view) = reader.message(mailbox_id, uid).ok().flatten() else {
            return false;
        };
        let summary = match reader.summary(view.blob_id).ok().flatten() {
            Some(s) => s,
            None => Summary::compute(reader.blob(view.blob_id).ok().flatten().unwrap_or(&[])),
        };
        unknown_encoding(items, &summary)
    })
}

/// The item names the response uses (§4.3): `BINARY[1.2]`, `BINARY.SIZE[1.2]`.
pub fn name(prefix: &str, path: &[u32]) -> String {
    let path: Vec<String> = path.iter().map(u32::to_string).collect();
    format!("{prefix}[{}]", path.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--B\r\nContent-Type: application/x-odd\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--B--\r\n";

    #[test]
    fn rfc3516_leaf_parts_decoded() {
        let s = Summary::compute(MSG);
        assert_eq!(content(MSG, &s, &[1]).unwrap(), &b"caf\xc3\xa9"[..]);
        assert_eq!(content(MSG, &s, &[2]).unwrap(), &[0u8, 1, 2][..]);
        assert_eq!(content(MSG, &s, &[]).unwrap(), MSG);
        assert!(content(MSG, &s, &[3]).is_err());
        assert_eq!(content(MSG, &s, &[9]).unwrap(), &b""[..]);
        let item = |p: Vec<u32>| vec![FetchItem::BinarySize(p)];
        assert!(unknown_encoding(&item(vec![3]), &s));
        assert!(!unknown_encoding(&item(vec![2]), &s));
        assert_eq!(name("BINARY.SIZE", &[1, 2]), "BINARY.SIZE[1.2]");
    }
}
