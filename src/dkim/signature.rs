//! The DKIM-Signature header field (RFC 6376 §3.5): its value parsed into
//! the tags a verifier needs, with the checks of §6.1.1 that need no DNS
//! and no message (required tags, v=1, From signed, `i=` within `d=`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::canon::Canon;
use super::{Algorithm, tags};

/// Most header field names in `h=`: the usual sets have 10 to 20; each
/// costs a walk over the message's fields, so a hostile list is cut short.
pub const MAX_SIGNED_FIELDS: usize = 64;
/// Longest `d=` (a DNS name) and selector (§3.1: a DNS name too).
pub const MAX_NAME: usize = 253;

/// One parsed DKIM-Signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature<'a> {
    pub algorithm: Algorithm,
    /// `b=` decoded.
    pub b: Vec<u8>,
    /// `bh=` decoded.
    pub bh: Vec<u8>,
    pub header_canon: Canon,
    pub body_canon: Canon,
    /// `d=`, lower-cased.
    pub domain: String,
    /// `s=`, lower-cased.
    pub selector: String,
    /// `h=`: the names, in order, as written.
    pub signed: Vec<&'a [u8]>,
    /// `i=` as written (the agent or user identifier).
    pub auid: Option<&'a [u8]>,
    /// `l=`: body bytes signed.
    pub length: Option<u64>,
    /// `t=` and `x=`: Unix seconds.
    pub timestamp: Option<u64>,
    pub expires: Option<u64>,
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// A DNS name as `d=` or `s=` may hold one: LDH labels (and `_`, seen in
/// selectors), no empty label.
fn dns_name(v: &[u8], what: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= MAX_NAME
        && v.split(|&b| b == b'.').all(|l| {
            !l.is_empty()
                && l.iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        });
    if !ok {
        return Err(format!("bad {what}= {:?}", text(v)));
    }
    Ok(text(v).to_ascii_lowercase())
}

fn number(v: &[u8], what: &str) -> Result<u64, String> {
    // §3.5: at most 76 bits for l=, 12 digits for t= and x=; u64 holds both.
    std::str::from_utf8(v)
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad {what}= {:?}", text(v)))
}

fn base64(v: &[u8], what: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(tags::without_fws(v))
        .map_err(|_| format!("{what}= is not base64"))
}

/// Parses a DKIM-Signature field value. `Err` is a reason for the
/// `dkim=permerror` result (RFC 8601 §2.7.1).
pub fn parse(value: &[u8]) -> Result<Signature<'_>, String> {
    if value.len() > super::MAX_SIGNATURE_FIELD {
        return Err(format!(
            "signature longer than {} bytes",
            super::MAX_SIGNATURE_FIELD
        ));
    }
    let list = tags::parse(value).map_err(|e| e.to_string())?;
    let need = |t: &str| list.get(t).ok_or_else(|| format!("no {t}= tag"));
    if need("v")? != b"1" {
        return Err("v= is not 1".into());
    }
    let algorithm = match need("a")? {
        b"rsa-sha256" => Algorithm::RsaSha256,
        b"ed25519-sha256" => Algorithm::Ed25519Sha256,
        // RFC 8301 §3.1: rsa-sha1 signatures are not verified.
        other => return Err(format!("algorithm {} not supported", text(other))),
    };
    let (header_canon, body_canon) = match list.get("c") {
        None => (Canon::Simple, Canon::Simple),
        Some(c) => {
            let mut parts = c.splitn(2, |&b| b == b'/');
            let h = parts.next().and_then(Canon::parse);
            let b = parts.next().map_or(Some(Canon::Simple), Canon::parse);
            match (h, b) {
                (Some(h), Some(b)) => (h, b),
                _ => return Err(format!("unknown c={}", text(c))),
            }
        }
    };
    if let Some(q) = list.get("q")
        && !q
            .split(|&b| b == b':')
            .any(|m| m.trim_ascii() == b"dns/txt")
    {
        return Err("q= has no dns/txt".into());
    }
    let signed: Vec<&[u8]> = need("h")?
        .split(|&b| b == b':')
        .map(|n| n.trim_ascii())
        .collect();
    if signed.len() > MAX_SIGNED_FIELDS || signed.iter().any(|n| n.is_empty()) {
        return Err("bad h= list".into());
    }
    // §5.4: From MUST be signed.
    if !signed.iter().any(|n| n.eq_ignore_ascii_case(b"from")) {
        return Err("From is not signed".into());
    }
    let domain = dns_name(need("d")?, "d")?;
    let selector = dns_name(need("s")?, "s")?;
    let auid = list.get("i");
    if let Some(i) = auid {
        // §3.5 i=: its domain is d= or a subdomain of it.
        let at = i.iter().rposition(|&b| b == b'@').ok_or("i= has no @")?;
        let idomain = text(&i[at + 1..]).to_ascii_lowercase();
        if idomain != domain && !idomain.ends_with(&format!(".{domain}")) {
            return Err("i= is outside d=".into());
        }
    }
    let b = base64(need("b")?, "b")?;
    let bh = base64(need("bh")?, "bh")?;
    let length = list.get("l").map(|v| number(v, "l")).transpose()?;
    let timestamp = list.get("t").map(|v| number(v, "t")).transpose()?;
    let expires = list.get("x").map(|v| number(v, "x")).transpose()?;
    // §3.5: x= MUST be greater than t=.
    if let (Some(t), Some(x)) = (timestamp, expires)
        && x <= t
    {
        return Err("x= is not after t=".into());
    }
    Ok(Signature {
        algorithm,
        b,
        bh,
        header_canon,
        body_canon,
        domain,
        selector,
        signed,
        auid,
        length,
        timestamp,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n subject : date : message-id : from : subject : date;\r\n bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";

    #[test]
    fn rfc8463_a_3_signature_field_parses() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.algorithm, Algorithm::Ed25519Sha256);
        assert_eq!(
            (s.header_canon, s.body_canon),
            (Canon::Relaxed, Canon::Relaxed)
        );
        assert_eq!(s.domain, "football.example.com");
        assert_eq!(s.selector, "brisbane");
        assert_eq!(s.signed.len(), 8);
        assert_eq!(s.signed[1], b"to");
        assert_eq!(s.b.len(), 64);
        assert_eq!(s.bh.len(), 32);
        assert_eq!(s.timestamp, Some(1528637909));
    }

    #[test]
    fn rfc6376_6_1_1_signatures_that_must_not_verify() {
        let base = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from:to; bh=AAAA; b=AAAA";
        assert!(parse(base.as_bytes()).is_ok());
        let bad = [
            base.replace("v=1", "v=2"),
            base.replace("rsa-sha256", "rsa-sha1"),
            base.replace("h=from:to", "h=to:subject"),
            base.replace("; s=sel", ""),
            format!("{base}; i=user@evil.example"),
            format!("{base}; c=weird/simple"),
            format!("{base}; q=https"),
            format!("{base}; t=10; x=5"),
            format!("{base}; l=12a"),
            base.replace("d=example.org", "d=exa mple..org"),
            base.replace("h=from:to", &["from"; MAX_SIGNED_FIELDS + 1].join(":")),
        ];
        for b in bad {
            assert!(parse(b.as_bytes()).is_err(), "{b}");
        }
        let ok = format!("{base}; i=user@sub.example.org; c=relaxed; l=10");
        let s = parse(ok.as_bytes()).unwrap();
        assert_eq!(
            (s.header_canon, s.body_canon, s.length),
            (Canon::Relaxed, Canon::Simple, Some(10))
        );
    }
}
