//! A message's identity for telling "fetched before" after a folder's
//! UIDVALIDITY changed (RFC 3501 §2.3.1.1: the old UIDs then mean
//! nothing): a 64-bit hash of its Message-ID (RFC 5322 §3.6.4), or of its
//! Date, From and Subject when it has none. With the size beside it, this
//! is what the store keeps per fetched message.
//!
//! The same function reads a whole message and the
//! `BODY[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]` the fetcher asks
//! for when re-syncing, so both must give the same hash: fields are found
//! by name, unfolded and their white space collapsed, whatever else the
//! header holds and however the server folded it.

/// The header fields asked for when only identities are wanted.
pub const FIELDS: &str = "MESSAGE-ID DATE FROM SUBJECT";

/// The identity of a message from its header (or any prefix holding it).
pub fn identity(message: &[u8]) -> u64 {
    let mut message_id = None;
    let (mut date, mut from, mut subject) = (None, None, None);
    for (name, value) in fields(message) {
        let slot = if name.eq_ignore_ascii_case(b"message-id") {
            &mut message_id
        } else if name.eq_ignore_ascii_case(b"date") {
            &mut date
        } else if name.eq_ignore_ascii_case(b"from") {
            &mut from
        } else if name.eq_ignore_ascii_case(b"subject") {
            &mut subject
        } else {
            continue;
        };
        // The first occurrence counts, as for a reader of the message.
        if slot.is_none() {
            *slot = Some(collapse(value));
        }
    }
    let mut input = Vec::with_capacity(256);
    match message_id.filter(|id| !id.is_empty()) {
        Some(id) => {
            input.extend_from_slice(b"id\n");
            input.extend_from_slice(&id);
        }
        None => {
            input.extend_from_slice(b"fields\n");
            for v in [date, from, subject] {
                input.extend_from_slice(&v.unwrap_or_default());
                input.push(b'\n');
            }
        }
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// The header's fields as (name, raw value with folds), up to the first
/// empty line (RFC 5322 §2.2, §2.2.3).
fn fields(message: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = message;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
                return None;
            }
            // The field runs to the first line end not followed by WSP.
            let mut end = 0;
            let field_end = loop {
                match rest[end..].iter().position(|&b| b == b'\n') {
                    None => break rest.len(),
                    Some(i) => {
                        end += i + 1;
                        if !matches!(rest.get(end), Some(b' ' | b'\t')) {
                            break end;
                        }
                    }
                }
            };
            let field = &rest[..field_end];
            rest = &rest[field_end..];
            if let Some(colon) = field.iter().position(|&b| b == b':') {
                let name = trim(&field[..colon]);
                if !name.is_empty() {
                    return Some((name, &field[colon + 1..]));
                }
            }
            // A line without a colon is not a field: skip it.
        }
    })
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Unfolds and collapses every run of white space into one space.
fn collapse(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for word in value
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_header_fields_agree() {
        let message = b"Received: from x\r\n by y; Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID:\r\n <abc@example.com>\r\nSubject: hello\r\n\r\nMessage-ID: <not-this@body>\r\n";
        // What a server returns for BODY[HEADER.FIELDS (MESSAGE-ID ...)].
        let fields = b"Message-ID: <abc@example.com>\r\nSubject: hello\r\n\r\n";
        assert_eq!(identity(message), identity(fields));
        assert_ne!(
            identity(message),
            identity(b"Message-ID: <abd@example.com>\r\n\r\n")
        );
        // Case of the field name does not matter; of the id it does.
        assert_eq!(
            identity(b"message-id: <abc@example.com>\r\n\r\n"),
            identity(fields)
        );
        assert_ne!(
            identity(b"Message-ID: <ABC@example.com>\r\n\r\n"),
            identity(fields)
        );
    }

    #[test]
    fn without_message_id_date_from_subject_count() {
        let a = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: a@b\r\nSubject: s\r\nX-Other: 1\r\n\r\nbody";
        let b = b"Subject:   s\r\nFrom: a@b\r\nDate: Mon, 1 Jan 2024\r\n  00:00:00 +0000\r\n\r\n";
        assert_eq!(identity(a), identity(b));
        let c = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: a@b\r\nSubject: t\r\n\r\n";
        assert_ne!(identity(a), identity(c));
        // An empty Message-ID is no Message-ID.
        let d = b"Message-ID: \r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: a@b\r\nSubject: s\r\n\r\n";
        assert_eq!(identity(a), identity(d));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for input in [
            &b""[..],
            b"\r\n",
            b"no colon here\r\nMessage-ID: <x>\r\n",
            b"Message-ID",
            b":\r\n",
            b"Message-ID: <x>",
        ] {
            let _ = identity(input);
        }
        assert_eq!(
            identity(b"no colon here\r\nMessage-ID: <x>\r\n"),
            identity(b"Message-ID: <x>")
        );
    }
}
