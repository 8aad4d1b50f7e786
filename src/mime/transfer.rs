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
        Kind::Base64 => {
            let mut out = Vec::with_capacity(body.len() / 4 * 3);
            base64(body, &mut out);
            Cow::Owned(out)
        }
        Kind::QuotedPrintable => {
            let mut out = Vec::with_capacity(body.len());
            quoted_printable(body, &mut out);
            Cow::Owned(out)
        }
    })
}

/// The length [`decode`] would return, counted without building it
/// (BINARY.SIZE, RFC 3516 §4.2, allocates nothing).
pub fn decoded_len(encoding: &[u8], body: &[u8]) -> Result<usize, UnknownEncoding> {
    let mut count = Count(0);
    match kind(encoding).ok_or(UnknownEncoding)? {
        Kind::Identity => return Ok(body.len()),
        Kind::Base64 => base64(body, &mut count),
        Kind::QuotedPrintable => quoted_printable(body, &mut count),
    }
    Ok(count.0)
}

/// The most bytes [`decode`] allocates for `body`: nothing for the
/// identity encodings (borrowed), else a bound taken from the memory
/// budget before decoding: base64 gives 3 bytes per 4, quoted-printable
/// at most one byte per byte plus a CR per bare LF.
pub fn decoded_bound(encoding: &[u8], body: &[u8]) -> usize {
    match kind(encoding) {
        None | Some(Kind::Identity) => 0,
        Some(Kind::Base64) => body.len() / 4 * 3 + 3,
        Some(Kind::QuotedPrintable) => body.len() * 2,
    }
}

/// Where decoded bytes go: a buffer, or a counter.
trait Sink {
    fn put(&mut self, b: u8);
    fn put_all(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, b: u8) {
        self.push(b);
    }
    fn put_all(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

struct Count(usize);

impl Sink for Count {
    fn put(&mut self, _: u8) {
        self.0 += 1;
    }
    fn put_all(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
}

fn base64(body: &[u8], out: &mut impl Sink) {
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
            out.put((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
}

fn quoted_printable(body: &[u8], out: &mut impl Sink) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
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
                out.put(h << 4 | l);
                i += 3;
                continue;
            }
            out.put(text[i]);
            i += 1;
        }
        if eol && !soft {
            out.put_all(b"\r\n");
        }
    }
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

    #[test]
    fn rfc3516_sizes_counted_without_decoding_and_bounded() {
        for (e, body) in [
            (&b"base64"[..], &b"aGVs\r\nbG8g d29y bGQ="[..]),
            (
                b"quoted-printable",
                b"caf=C3=A9 =\r\nsoft  \r\nx=3D=zz\n\n\n",
            ),
            (b"7bit", b"abc\r\n"),
        ] {
            let decoded = decode(e, body).unwrap();
            assert_eq!(decoded_len(e, body).unwrap(), decoded.len());
            if let Cow::Owned(v) = decoded {
                assert!(v.len() <= decoded_bound(e, body), "{e:?}");
            }
        }
        assert_eq!(decoded_bound(b"8bit", b"abc"), 0);
        assert_eq!(decoded_len(b"x-uuencode", b"abc"), Err(UnknownEncoding));
    }
}
