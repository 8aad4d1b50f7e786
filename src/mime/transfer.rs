//! Content-Transfer-Encoding removal (RFC 2045 §6), for IMAP BINARY
//! (RFC 3516): the identity encodings as they are, base64 (§6.8) and
//! quoted-printable (§6.7) decoded, anything else unknown (the server
//! answers `NO [UNKNOWN-CTE]`).
//!
//! Decoding is lenient as readers must be (§6.8: characters outside the
//! alphabet are ignored; §6.7 (4)/(5): a lone `=` not followed by two hex
//! digits is kept, trailing whitespace dropped), one pass, output no
//! longer than the input.

use std::borrow::Cow;

/// The encoding is not one RFC 2045 defines (nor a known alias).
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownEncoding;

/// Whether `encoding` (a Content-Transfer-Encoding value, any case) is
/// one [`decode`] knows.
pub fn known(encoding: &[u8]) -> bool {
    kind(encoding).is_some()
}

enum Kind {
    Identity,
    Base64,
    QuotedPrintable,
}

fn kind(encoding: &[u8]) -> Option<Kind> {
    let e = encoding.trim_ascii().to_ascii_lowercase();
    match e.as_slice() {
        // An absent header means 7bit (RFC 2045 §6.1).
        b"" | b"7bit" | b"8bit" | b"binary" => Some(Kind::Identity),
        b"base64" => Some(Kind::Base64),
        b"quoted-printable" => Some(Kind::QuotedPrintable),
        _ => None,
    }
}

/// `body` with `encoding` removed.
pub fn decode<'a>(encoding: &[u8], body: &'a [u8]) -> Result<Cow<'a, [u8]>, UnknownEncoding> {
    Ok(match kind(encoding).ok_or(UnknownEncoding)? {
        Kind::Identity => Cow::Borrowed(body),
        Kind::Base64 => Cow::Owned(base64(body)),
        Kind::QuotedPrintable => Cow::Owned(quoted_printable(body)),
    })
}

fn base64(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in body {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            // Padding ends the data (§6.8); what follows is not decoded.
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(body.len());
    for line in body.split_inclusive(|&b| b == b'\n') {
        let (text, eol) = match line.strip_suffix(b"\n") {
            Some(t) => (t.strip_suffix(b"\r").unwrap_or(t), true),
            None => (line, false),
        };
        // Rule (3): whitespace at the end of an encoded line is padding.
        let text = text.trim_ascii_end();
        let (text, soft) = match text.strip_suffix(b"=") {
            Some(t) => (t, true),
            None => (text, false),
        };
        let mut i = 0;
        while i < text.len() {
            if text[i] == b'='
                && let (Some(h), Some(l)) = (
                    text.get(i + 1).copied().and_then(hex),
                    text.get(i + 2).copied().and_then(hex),
                )
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(text[i]);
            i += 1;
        }
        if eol && !soft {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2045_encodings() {
        assert_eq!(decode(b"7BIT", b"abc").unwrap(), &b"abc"[..]);
        assert_eq!(decode(b"", b"abc").unwrap(), &b"abc"[..]);
        assert_eq!(
            decode(b"base64", b"AAEC/w==\r\n").unwrap(),
            &[0u8, 1, 2, 255][..]
        );
        assert_eq!(
            decode(b"Base64", b"aGVs\r\nbG8g d29y bGQ=").unwrap(),
            &b"hello world"[..]
        );
        assert_eq!(
            decode(b"quoted-printable", b"caf=C3=A9 =\r\nsoft  \r\nx=3D=zz\r\n").unwrap(),
            &b"caf\xc3\xa9 soft\r\nx==zz\r\n"[..]
        );
        assert_eq!(decode(b"x-uuencode", b"abc"), Err(UnknownEncoding));
        assert!(!known(b"x-uuencode") && known(b" QUOTED-PRINTABLE"));
    }
}
