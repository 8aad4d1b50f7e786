//! RFC 3461 delivery status notification (DSN) parameters: NOTIFY, RET,
//! ENVID and ORCPT, and the xtext encoding they travel in.
//!
//! One home for the three places that handle them: the SMTP server parses
//! them from MAIL and RCPT, the store keeps them in queue records, and
//! outbound delivery passes them on to the next hop and decides from them
//! which notices the sender gets. Pure functions over text.

/// RFC 3461 §4.1 NOTIFY, as bits; 0 means the client gave none.
pub mod notify {
    pub const NEVER: u8 = 1;
    pub const SUCCESS: u8 = 2;
    pub const FAILURE: u8 = 4;
    pub const DELAY: u8 = 8;

    /// The words of a combination, in the RFC's order.
    const WORDS: [(u8, &str); 3] = [(SUCCESS, "SUCCESS"), (FAILURE, "FAILURE"), (DELAY, "DELAY")];

    /// RFC 3461 §4.1: `NEVER` alone, or a comma list of SUCCESS, FAILURE
    /// and DELAY (case-insensitive). `None` for anything else.
    pub fn parse(value: &str) -> Option<u8> {
        if value.eq_ignore_ascii_case("NEVER") {
            return Some(NEVER);
        }
        let mut bits = 0;
        for word in value.split(',') {
            let (bit, _) = WORDS.iter().find(|(_, w)| w.eq_ignore_ascii_case(word))?;
            bits |= bit;
        }
        Some(bits)
    }

    /// The NOTIFY value to send on for `bits`; `None` when the client gave
    /// none (0), so the next hop chooses as the RFC lets it.
    pub fn render(bits: u8) -> Option<String> {
        if bits == 0 {
            return None;
        }
        if bits & NEVER != 0 {
            return Some("NEVER".to_string());
        }
        let words: Vec<&str> = WORDS
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, w)| *w)
            .collect();
        Some(words.join(","))
    }

    /// Whether a recipient with NOTIFY `bits` gets a notice of kind `what`
    /// (SUCCESS, FAILURE or DELAY). RFC 3461 §4.1: without NOTIFY the
    /// server chooses; smolmail reports failures and delays, as the RFC
    /// suggests. NEVER silences everything.
    pub fn wants(bits: u8, what: u8) -> bool {
        if bits & NEVER != 0 {
            return false;
        }
        bits == 0 && what != SUCCESS || bits & what != 0
    }
}

/// RFC 3461 §4.3 RET: what a DSN carries of the original. The number is
/// what the store's queue records hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Ret {
    /// Not given: the server chooses (headers, as Postfix does).
    #[default]
    Unspecified = 0,
    Full = 1,
    Headers = 2,
}

impl Ret {
    /// The MAIL parameter's value: `FULL` or `HDRS`, case-insensitive.
    pub fn parse(value: &str) -> Option<Ret> {
        if value.eq_ignore_ascii_case("FULL") {
            Some(Ret::Full)
        } else if value.eq_ignore_ascii_case("HDRS") {
            Some(Ret::Headers)
        } else {
            None
        }
    }

    /// The value to send on; `None` when the client gave none.
    pub fn keyword(self) -> Option<&'static str> {
        match self {
            Ret::Unspecified => None,
            Ret::Full => Some("FULL"),
            Ret::Headers => Some("HDRS"),
        }
    }

    /// From the stored number; an unknown one reads as not given.
    pub fn from_u8(v: u8) -> Ret {
        match v {
            1 => Ret::Full,
            2 => Ret::Headers,
            _ => Ret::Unspecified,
        }
    }
}

/// RFC 3461 §4: xtext keeps printable ASCII except `+` and `=` as is and
/// writes every other octet as `+HH`.
pub fn encode_xtext(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// RFC 3461 §4: undoes the `+HH` escapes. `None` for a malformed escape, a
/// character xtext does not allow, or a result that is not UTF-8.
pub fn decode_xtext(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                // Two hex digits exactly: `from_str_radix` alone would also
                // take a sign, reading `++1` as 0x01.
                let hex = text.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if (33..=126).contains(&b) && b != b'=' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// RFC 3461 §4.2 ORCPT as received (`addr-type ";" xtext`, e.g.
/// `rfc822;user+40example.org`) to the form stored and shown in a DSN's
/// Original-Recipient (`rfc822;user@example.org`).
pub fn decode_orcpt(value: &str) -> Option<String> {
    let (kind, address) = value.split_once(';')?;
    Some(format!("{kind};{}", decode_xtext(address)?))
}

/// A stored ORCPT back to the parameter's form, to send on to the next
/// hop; `None` for a value without its address type.
pub fn encode_orcpt(stored: &str) -> Option<String> {
    let (kind, address) = stored.split_once(';')?;
    Some(format!("{kind};{}", encode_xtext(address)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_both_ways() {
        assert_eq!(encode_xtext("rfc822;a+b=c@x.org"), "rfc822;a+2Bb+3Dc@x.org");
        assert_eq!(encode_xtext("sp ce"), "sp+20ce");
        assert_eq!(encode_xtext("é"), "+C3+A9");
        assert_eq!(decode_xtext("a+2Bb").as_deref(), Some("a+b"));
        assert_eq!(decode_xtext("a+2"), None);
        assert_eq!(decode_xtext("a=b"), None);
        // Found by fuzzing: a sign is no hex digit.
        assert_eq!(decode_xtext("++1QQ1"), None);
        assert_eq!(decode_xtext("a+-1"), None);
        assert_eq!(decode_xtext("a b"), None);
        assert_eq!(decode_xtext("+FF"), None, "not UTF-8");
        for s in ["x@y", "a+b=c", "ünï cödé", ""] {
            assert_eq!(decode_xtext(&encode_xtext(s)).as_deref(), Some(s));
        }
    }

    #[test]
    fn orcpt_both_ways() {
        assert_eq!(
            decode_orcpt("rfc822;bob+40home.arpa").as_deref(),
            Some("rfc822;bob@home.arpa")
        );
        assert_eq!(decode_orcpt("bob@home.arpa"), None);
        assert_eq!(decode_orcpt("rfc822;a=b"), None);
        assert_eq!(
            encode_orcpt("rfc822;a+b@x.org").as_deref(),
            Some("rfc822;a+2Bb@x.org")
        );
        assert_eq!(encode_orcpt("no type"), None);
    }

    #[test]
    fn notify_parse_and_render() {
        use notify::*;
        assert_eq!(parse("never"), Some(NEVER));
        assert_eq!(parse("SUCCESS,delay"), Some(SUCCESS | DELAY));
        assert_eq!(parse("NEVER,SUCCESS"), None);
        assert_eq!(parse("SUCCESS,"), None);
        assert_eq!(parse("SOMETIMES"), None);
        assert_eq!(render(0), None);
        assert_eq!(render(NEVER).as_deref(), Some("NEVER"));
        assert_eq!(
            render(DELAY | SUCCESS | FAILURE).as_deref(),
            Some("SUCCESS,FAILURE,DELAY")
        );
        for bits in [NEVER, SUCCESS, FAILURE | DELAY] {
            assert_eq!(render(bits).as_deref().and_then(parse), Some(bits));
        }
    }

    #[test]
    fn notify_defaults() {
        use notify::*;
        assert!(wants(0, FAILURE) && wants(0, DELAY));
        assert!(!wants(0, SUCCESS));
        assert!(!wants(NEVER, FAILURE));
        assert!(wants(SUCCESS, SUCCESS));
        assert!(!wants(SUCCESS, FAILURE));
    }

    #[test]
    fn ret_values() {
        assert_eq!(Ret::parse("hdrs"), Some(Ret::Headers));
        assert_eq!(Ret::parse("FULL"), Some(Ret::Full));
        assert_eq!(Ret::parse("ALL"), None);
        for r in [Ret::Unspecified, Ret::Full, Ret::Headers] {
            assert_eq!(Ret::from_u8(r as u8), r);
        }
        assert_eq!(Ret::Headers.keyword(), Some("HDRS"));
        assert_eq!(Ret::Unspecified.keyword(), None);
    }
}
