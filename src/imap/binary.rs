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
//!
//! Costs (DESIGN.md "Budgets"): the decoded copy a FETCH BINARY builds is
//! taken from the memory budget before decoding ([`decode_cost`]; without
//! it the item is NIL and the FETCH ends `NO [UNAVAILABLE]`, as for other
//! large items); BINARY.SIZE counts without decoding; the §4.2 check
//! before a FETCH reads summaries [`CHUNK`] messages per read transaction,
//! yielding between chunks.

use std::borrow::Cow;

use super::parse::FetchItem;
use crate::mime::transfer::{self, UnknownEncoding};
use crate::mime::{Part, Summary};
use crate::store::{Store, StoreError};

/// Messages whose summaries are read between two yields.
pub const CHUNK: usize = 256;

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

/// The stored bytes of the leaf part `path`, with its encoding; `None`
/// when BINARY[`path`] has nothing to decode (no such part, the whole
/// message, a multipart or message part).
fn leaf_body<'a, 's>(
    raw: &'a [u8],
    summary: &'s Summary,
    path: &[u32],
) -> Option<(&'s [u8], &'a [u8])> {
    let part = part(summary, path)?;
    if !is_leaf(part, path) {
        return None;
    }
    let body = raw
        .get(part.body_start as usize..part.end as usize)
        .unwrap_or(&[]);
    Some((&part.encoding, body))
}

/// The most bytes [`content`] allocates for BINARY[`path`]: taken from
/// the memory budget before it is called.
pub fn decode_cost(raw: &[u8], summary: &Summary, path: &[u32]) -> usize {
    leaf_body(raw, summary, path).map_or(0, |(e, body)| transfer::decoded_bound(e, body))
}

/// BINARY.SIZE[`path`] (RFC 3516 §4.2): the length of [`content`],
/// counted without decoding.
pub fn size(raw: &[u8], summary: &Summary, path: &[u32]) -> Result<usize, UnknownEncoding> {
    match leaf_body(raw, summary, path) {
        Some((e, body)) => transfer::decoded_len(e, body),
        None => content(raw, summary, path).map(|c| c.len()),
    }
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
/// stored summaries only, before the FETCH sends or marks anything;
/// [`CHUNK`] messages per read transaction, yielding between chunks, so
/// `FETCH 1:* BINARY.SIZE[1]` on a big mailbox does not hold the
/// executor.
pub async fn unknown_in(
    store: &Store,
    mailbox_id: u64,
    targets: &[(u32, u32)],
    items: &[FetchItem<'_>],
) -> Result<bool, StoreError> {
    if !items
        .iter()
        .any(|i| matches!(i, FetchItem::Binary { .. } | FetchItem::BinarySize(_)))
    {
        return Ok(false);
    }
    for (i, chunk) in targets.chunks(CHUNK).enumerate() {
        if i > 0 {
            smol::future::yield_now().await;
        }
        let reader = store.read()?;
        let unknown = chunk.iter().any(|&(_, uid)| {
            let Some(view) = reader.message(mailbox_id, uid).ok().flatten() else {
                return false;
            };
            let summary = match reader.summary(view.blob_id).ok().flatten() {
                Some(s) => s,
                None => Summary::compute(reader.blob(view.blob_id).ok().flatten().unwrap_or(&[])),
            };
            unknown_encoding(items, &summary)
        });
        if unknown {
            return Ok(true);
        }
    }
    Ok(false)
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
        assert_eq!(size(MSG, &s, &[2]), Ok(3));
        assert_eq!(size(MSG, &s, &[]), Ok(MSG.len()));
        assert_eq!(decode_cost(MSG, &s, &[2]), 6);
        assert_eq!(decode_cost(MSG, &s, &[]), 0);
    }
}
