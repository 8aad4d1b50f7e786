//! Modified UTF-7, the encoding of international mailbox names on the wire
//! (RFC 3501 §5.1.3; the base64 of RFC 2152 UTF-7 with `,` for `/`).
//!
//! Printable US-ASCII (0x20–0x7e) stands for itself, except `&`, which is
//! written `&-`. Everything else is UTF-16BE, base64-encoded between `&`
//! and `-`.
//!
//! [`decode`] accepts only the canonical form, the one [`encode`] produces,
//! so that every mailbox has exactly one wire name and
//! `encode(decode(x)?) == x` holds for every accepted `x`. Otherwise two
//! spellings of one name could create two mailboxes that look identical to
//! the user, or slip past a name check done on the decoded form.
//!
//! Which decoded characters make a good mailbox name (control characters,
//! the hierarchy separator) is the mailbox-name module's policy, not this
//! encoding's.

use std::fmt;

/// Why a byte string is not canonical modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutf7Error {
    /// A byte outside printable US-ASCII (8-bit or a control character).
    NotPrintable,
    /// `&` without the `-` that ends the base64 section.
    Unterminated,
    /// A character outside the modified base64 alphabet inside `&...-`.
    BadBase64,
    /// Valid bits in a non-canonical spelling: leftover padding characters,
    /// non-zero padding bits, a printable ASCII character hidden in base64,
    /// or two base64 sections back to back (`&AOQ-&AOQ-` is `&AOQA5A-`).
    NonCanonical,
    /// The base64 decodes to broken UTF-16 (a lone surrogate).
    BadUtf16,
}

impl fmt::Display for Mutf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mutf7Error::NotPrintable => "mailbox name has a byte outside printable US-ASCII",
            Mutf7Error::Unterminated => "unterminated modified UTF-7 section",
            Mutf7Error::BadBase64 => "bad modified base64 in mailbox name",
            Mutf7Error::NonCanonical => "non-canonical modified UTF-7",
            Mutf7Error::BadUtf16 => "modified UTF-7 decodes to broken UTF-16",
        })
    }
}

impl std::error::Error for Mutf7Error {}

/// The modified base64 alphabet (RFC 3501 §5.1.3: `,` replaces `/`).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Value of one modified base64 character.
fn b64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// True for the characters that must represent themselves.
fn is_direct(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

/// Decodes a wire mailbox name into UTF-8, rejecting anything
/// [`encode`] would not have produced.
pub fn decode(input: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    // Whether the previous token was a non-empty base64 section: a second
    // one straight after it should have been merged into it.
    let mut after_section = false;
    while let Some(&b) = input.get(i) {
        if b == b'&' {
            let start = i + 1;
            let end = input[start..]
                .iter()
                .position(|&c| c == b'-')
                .map(|p| start + p)
                .ok_or(Mutf7Error::Unterminated)?;
            if end == start {
                out.push('&');
                after_section = false;
            } else {
                if after_section {
                    return Err(Mutf7Error::NonCanonical);
                }
                decode_section(&input[start..end], &mut out)?;
                after_section = true;
            }
            i = end + 1;
        } else if is_direct(u32::from(b)) {
            out.push(char::from(b));
            after_section = false;
            i += 1;
        } else {
            return Err(Mutf7Error::NotPrintable);
        }
    }
    Ok(out)
}

/// Decodes the base64 between `&` and `-` (non-empty) as UTF-16BE.
fn decode_section(chars: &[u8], out: &mut String) -> Result<(), Mutf7Error> {
    let mut bits: u32 = 0;
    let mut nbits = 0u32;
    let mut high_surrogate: Option<u32> = None;
    let mut units = 0usize;
    for &c in chars {
        let v = b64_value(c).ok_or(Mutf7Error::BadBase64)?;
        // `bits` holds fewer than 16 pending bits here, so this stays
        // below 2^22.
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            let unit = (bits >> nbits) & 0xffff;
            bits &= (1 << nbits) - 1;
            units += 1;
            push_unit(unit, &mut high_surrogate, out)?;
        }
    }
    // A canonical section ends on the first character that completes the
    // last unit: 0, 2 or 4 padding bits, all zero.
    if units == 0 || nbits >= 6 || bits != 0 {
        return Err(Mutf7Error::NonCanonical);
    }
    if high_surrogate.is_some() {
        return Err(Mutf7Error::BadUtf16);
    }
    Ok(())
}

/// Adds one UTF-16 code unit, pairing surrogates.
fn push_unit(unit: u32, high: &mut Option<u32>, out: &mut String) -> Result<(), Mutf7Error> {
    let code = match (high.take(), unit) {
        (Some(h), 0xdc00..=0xdfff) => 0x10000 + ((h - 0xd800) << 10) + (unit - 0xdc00),
        (Some(_), _) => return Err(Mutf7Error::BadUtf16),
        (None, 0xd800..=0xdbff) => {
            *high = Some(unit);
            return Ok(());
        }
        (None, 0xdc00..=0xdfff) => return Err(Mutf7Error::BadUtf16),
        (None, u) => u,
    };
    if is_direct(code) {
        // RFC 3501 §5.1.3: base64 MUST NOT encode a printable US-ASCII
        // character that can represent itself.
        return Err(Mutf7Error::NonCanonical);
    }
    let c = char::from_u32(code).ok_or(Mutf7Error::BadUtf16)?;
    out.push(c);
    Ok(())
}

/// Encodes a UTF-8 mailbox name for the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut bits: u32 = 0;
    let mut nbits = 0u32;
    let mut in_section = false;
    for ch in name.chars() {
        if is_direct(u32::from(ch)) {
            if in_section {
                close_section(&mut out, bits, nbits);
                in_section = false;
                bits = 0;
                nbits = 0;
            }
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
            continue;
        }
        if !in_section {
            out.push('&');
            in_section = true;
        }
        let mut buf = [0u16; 2];
        for &unit in ch.encode_utf16(&mut buf).iter() {
            // Fewer than 6 bits are pending, so this stays below 2^22.
            bits = (bits << 16) | u32::from(unit);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(char::from(ALPHABET[((bits >> nbits) & 63) as usize]));
            }
            bits &= (1 << nbits) - 1;
        }
    }
    if in_section {
        close_section(&mut out, bits, nbits);
    }
    out
}

/// A stored (UTF-8) mailbox name as it goes on the wire: INBOX in any
/// case as `INBOX` (RFC 3501 §5.1: the name is case-insensitive), any
/// other name in modified UTF-7.
pub fn wire_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        encode(name)
    }
}

/// Writes the last partial base64 character (zero-padded) and the `-`.
fn close_section(out: &mut String, bits: u32, nbits: u32) {
    if nbits > 0 {
        out.push(char::from(ALPHABET[((bits << (6 - nbits)) & 63) as usize]));
    }
    out.push('-');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(utf8: &str, wire: &str) {
        assert_eq!(encode(utf8), wire, "encode {utf8:?}");
        assert_eq!(
            decode(wire.as_bytes()).as_deref(),
            Ok(utf8),
            "decode {wire:?}"
        );
    }

    #[test]
    fn plain_ascii_is_itself() {
        roundtrip("INBOX", "INBOX");
        roundtrip("Sent Items/2024", "Sent Items/2024");
        roundtrip("", "");
        roundtrip("~peter/mail/x", "~peter/mail/x");
    }

    #[test]
    fn wire_names() {
        assert_eq!(wire_name("inbox"), "INBOX");
        assert_eq!(wire_name("Inbox/Sub"), "Inbox/Sub");
        assert_eq!(wire_name("Entwürfe"), "Entw&APw-rfe");
    }

    #[test]
    fn ampersand() {
        roundtrip("&", "&-");
        roundtrip("Tom & Jerry", "Tom &- Jerry");
        roundtrip("&&", "&-&-");
    }

    #[test]
    fn rfc_examples() {
        roundtrip("Entwürfe", "Entw&APw-rfe");
        roundtrip("日本語", "&ZeVnLIqe-");
        // RFC 3501 §5.1.3's example.
        roundtrip("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        roundtrip("ä&", "&AOQ-&-");
        roundtrip("Gelöschte Elemente", "Gel&APY-schte Elemente");
    }

    #[test]
    fn astral_plane_uses_surrogate_pairs() {
        roundtrip("📧", "&2D3c5w-");
        roundtrip("a📧b", "a&2D3c5w-b");
    }

    #[test]
    fn control_characters_are_encoded() {
        let wire = encode("a\tb");
        assert_eq!(wire, "a&AAk-b");
        assert_eq!(decode(wire.as_bytes()).as_deref(), Ok("a\tb"));
    }

    #[test]
    fn rejects_non_ascii_bytes() {
        assert_eq!(decode("Entwürfe".as_bytes()), Err(Mutf7Error::NotPrintable));
        assert_eq!(decode(b"a\x00b"), Err(Mutf7Error::NotPrintable));
        assert_eq!(decode(b"a\x7fb"), Err(Mutf7Error::NotPrintable));
        assert_eq!(decode(b"a\tb"), Err(Mutf7Error::NotPrintable));
    }

    #[test]
    fn rejects_unterminated() {
        assert_eq!(decode(b"&"), Err(Mutf7Error::Unterminated));
        assert_eq!(decode(b"Entw&APw"), Err(Mutf7Error::Unterminated));
    }

    #[test]
    fn rejects_bad_base64() {
        assert_eq!(decode(b"&AP/-"), Err(Mutf7Error::BadBase64));
        assert_eq!(decode(b"&AP w-"), Err(Mutf7Error::BadBase64));
        assert_eq!(decode(b"&AP=-"), Err(Mutf7Error::BadBase64));
    }

    #[test]
    fn rejects_non_canonical() {
        // 'a' hidden in base64.
        assert_eq!(decode(b"&AGE-"), Err(Mutf7Error::NonCanonical));
        // '&' hidden in base64 instead of "&-".
        assert_eq!(decode(b"&ACY-"), Err(Mutf7Error::NonCanonical));
        // Non-zero padding bits ("&APw-" is ü; x is 'APx').
        assert_eq!(decode(b"&APx-"), Err(Mutf7Error::NonCanonical));
        // One character too many.
        assert_eq!(decode(b"&APwA-"), Err(Mutf7Error::NonCanonical));
        // Too few bits for even one unit.
        assert_eq!(decode(b"&AP-"), Err(Mutf7Error::NonCanonical));
        // Adjacent sections must be merged.
        assert_eq!(decode(b"&AOQ-&AOQ-"), Err(Mutf7Error::NonCanonical));
        assert_eq!(decode(b"&AOQA5A-").as_deref(), Ok("ää"));
    }

    #[test]
    fn rejects_lone_surrogates() {
        // High surrogate D83D alone.
        assert_eq!(decode(b"&2D0-"), Err(Mutf7Error::BadUtf16));
        // Low surrogate DCE7 alone.
        assert_eq!(decode(b"&3Oc-"), Err(Mutf7Error::BadUtf16));
        // High surrogate followed by a non-surrogate (D83D 00E4).
        assert_eq!(decode(b"&2D0A5A-"), Err(Mutf7Error::BadUtf16));
    }

    #[test]
    fn everything_accepted_reencodes_to_itself() {
        // Pseudo-random byte strings over the interesting alphabet.
        let alphabet = b"&-AZaz09+,/ \x80";
        let mut state: u64 = 0x1234_5678;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 59) as usize;
            let mut s = Vec::with_capacity(len);
            for k in 0..len {
                let r = state.rotate_left(7 * k as u32 + 3);
                s.push(alphabet[(r % alphabet.len() as u64) as usize]);
            }
            if let Ok(text) = decode(&s) {
                assert_eq!(encode(&text).as_bytes(), &s[..], "{s:?}");
            }
        }
    }

    #[test]
    fn every_string_roundtrips() {
        for text in [
            "",
            "a",
            "ü",
            "üü",
            "üüü",
            "a😀b😀",
            "\u{ffff}",
            "x&y&",
            "\u{7f}\u{80}",
        ] {
            assert_eq!(decode(encode(text).as_bytes()).as_deref(), Ok(text));
        }
    }
}
