//! The DMARC policy record (RFC 7489 §6.3): a DKIM-style tag-list
//! (§6.4 reuses RFC 6376's syntax, so `dkim::tags` parses it) starting
//! with `v=DMARC1`. Pure; what mail handling needs is kept: p, sp, pct,
//! adkim, aspf, and DMARCbis's psd for the organisational-domain walk.
//! Reporting tags (rua, ruf, fo, rf, ri) are accepted and not used: this
//! server sends no reports.

use crate::dkim::tags;

/// Longest record text accepted (a TXT answer is rarely over 512 bytes).
pub const MAX_RECORD: usize = 2 << 10;

/// §6.3 p= / sp=.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    None,
    Quarantine,
    Reject,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// §6.6.4: what a failure outside `pct` gets instead.
    pub fn weaker(self) -> Policy {
        match self {
            Policy::Reject => Policy::Quarantine,
            _ => Policy::None,
        }
    }
}

/// A parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub p: Policy,
    pub sp: Option<Policy>,
    pub pct: u8,
    /// Strict alignment for DKIM / SPF (`adkim=s`, `aspf=s`).
    pub strict_dkim: bool,
    pub strict_spf: bool,
    /// DMARCbis `psd=`: `Some(true)` a public suffix, `Some(false)` an
    /// organisational domain, `None` not said.
    pub psd: Option<bool>,
}

/// Whether a TXT record is meant as DMARC at all (§6.6.3: others at the
/// name are ignored).
pub fn is_dmarc(text: &str) -> bool {
    let t = text.trim_start().as_bytes();
    t.len() >= 8
        && t[..2].eq_ignore_ascii_case(b"v=")
        && t[2..].trim_ascii_start().len() >= 6
        && t[2..].trim_ascii_start()[..6].eq_ignore_ascii_case(b"DMARC1")
}

fn policy(v: &[u8]) -> Option<Policy> {
    match v.to_ascii_lowercase().as_slice() {
        b"none" => Some(Policy::None),
        b"quarantine" => Some(Policy::Quarantine),
        b"reject" => Some(Policy::Reject),
        _ => None,
    }
}

fn mode(v: Option<&[u8]>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case(b"s"))
}

/// Parses a record. §6.6.3: v= must come first; a bad or missing p= is
/// `p=none` when rua= is given (the domain wants reports), else the record
/// is unusable; other bad values fall back to their defaults.
pub fn parse(text: &str) -> Result<Record, String> {
    if text.len() > MAX_RECORD {
        return Err("record too long".into());
    }
    let list = tags::parse(text.as_bytes()).map_err(|e| e.to_string())?;
    match list.tags.first() {
        Some(("v", v)) if v.eq_ignore_ascii_case(b"DMARC1") => {}
        _ => return Err("does not start with v=DMARC1".into()),
    }
    let p = match list.get("p").and_then(policy) {
        Some(p) => p,
        None if list.get("rua").is_some() => Policy::None,
        None => return Err("no valid p=".into()),
    };
    let pct = list
        .get("pct")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u8>().ok())
        .filter(|n| *n <= 100)
        .unwrap_or(100);
    let psd = match list.get("psd") {
        Some(b"y") => Some(true),
        Some(b"n") => Some(false),
        _ => None,
    };
    Ok(Record {
        p,
        sp: list.get("sp").and_then(policy),
        pct,
        strict_dkim: mode(list.get("adkim")),
        strict_spf: mode(list.get("aspf")),
        psd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7489_6_3_records() {
        // §B.2.1's first example and a full one.
        let r = parse("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com").unwrap();
        assert_eq!(
            (r.p, r.sp, r.pct, r.strict_dkim),
            (Policy::None, None, 100, false)
        );
        let r = parse("v=DMARC1;p=quarantine; sp=reject; pct=20; adkim=s; aspf=r; psd=n").unwrap();
        assert_eq!(
            r,
            Record {
                p: Policy::Quarantine,
                sp: Some(Policy::Reject),
                pct: 20,
                strict_dkim: true,
                strict_spf: false,
                psd: Some(false),
            }
        );
        assert!(is_dmarc("v=DMARC1; p=reject"));
        assert!(!is_dmarc("v=spf1 -all"));
    }

    #[test]
    fn rfc7489_6_6_3_bad_records() {
        assert!(parse("p=reject; v=DMARC1").is_err());
        assert!(parse("v=DMARC1; p=bogus").is_err());
        assert!(parse("v=DMARC1").is_err());
        assert_eq!(
            parse("v=DMARC1; p=bogus; rua=mailto:a@b.example")
                .unwrap()
                .p,
            Policy::None
        );
        // Bad optional values fall back to defaults.
        let r = parse("v=DMARC1; p=reject; pct=500; sp=maybe; adkim=x").unwrap();
        assert_eq!((r.pct, r.sp, r.strict_dkim), (100, None, false));
        assert!(parse("v=DMARC1; p=reject; p=none").is_err());
        assert!(parse(&format!("v=DMARC1; p=none; x={}", "a".repeat(MAX_RECORD))).is_err());
    }
}
