//! The SPF record (RFC 7208 §4.5, §5, §6, grammar in §12): `v=spf1`
//! followed by directives (an optional qualifier and a mechanism) and
//! modifiers. Parsing is pure; the domain-specs stay macro-strings here
//! (their syntax checked by `super::macros`) because they can only be
//! expanded when the check runs.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::macros;

/// Longest record text accepted: a TXT answer a UDP packet can carry is
/// far less; this only bounds the work of a hostile record.
pub const MAX_RECORD: usize = 4 << 10;
/// Terms in one record (ten DNS-querying ones are allowed, §4.6.4; the
/// rest are ip4/ip6/all, which need no limit of their own beyond this).
pub const MAX_TERMS: usize = 64;

/// §4.6.2: the result a matching mechanism gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

/// A mechanism (§5). Domain-specs are unexpanded macro-strings; `None`
/// means "the current domain".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(String),
    A(Option<String>, u8, u8),
    Mx(Option<String>, u8, u8),
    Ptr(Option<String>),
    Ip4(Ipv4Addr, u8),
    Ip6(Ipv6Addr, u8),
    Exists(String),
}

impl Mechanism {
    /// §4.6.4: the mechanisms (and `redirect`) that cost a DNS query.
    pub fn queries_dns(&self) -> bool {
        !matches!(
            self,
            Mechanism::All | Mechanism::Ip4(..) | Mechanism::Ip6(..)
        )
    }
}

/// A parsed record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub directives: Vec<(Qualifier, Mechanism)>,
    pub redirect: Option<String>,
    pub exp: Option<String>,
}

/// §4.5: whether a TXT record is an SPF record at all: `v=spf1` exactly,
/// then a space or the end.
pub fn is_spf(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && (b.len() == 6 || b[6] == b' ')
}

/// Parses a record; an error is a permerror (§4.6) and says why.
pub fn parse(text: &str) -> Result<Record, String> {
    if text.len() > MAX_RECORD {
        return Err("record too long".into());
    }
    if !is_spf(text) {
        return Err("not an SPF record".into());
    }
    let mut record = Record::default();
    // §4.6.1: terms are separated by one or more spaces (SP only).
    for (n, term) in text[6..].split(' ').filter(|t| !t.is_empty()).enumerate() {
        if n == MAX_TERMS {
            return Err("too many terms".into());
        }
        if !term.is_ascii() {
            return Err(format!("non-ASCII term {term:?}"));
        }
        if let Some((name, value)) = modifier(term) {
            macros::check(value, false)?;
            // §6: redirect and exp each at most once; unknown ones ignored.
            let slot = match name.to_ascii_lowercase().as_str() {
                "redirect" => &mut record.redirect,
                "exp" => &mut record.exp,
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("{name} given twice"));
            }
            *slot = Some(value.to_string());
            continue;
        }
        record.directives.push(directive(term)?);
    }
    Ok(record)
}

/// `name=value` where name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
fn modifier(term: &str) -> Option<(&str, &str)> {
    let (name, value) = term.split_once('=')?;
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    ok.then_some((name, value))
}

fn directive(term: &str) -> Result<(Qualifier, Mechanism), String> {
    let (qualifier, rest) = match term.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &term[1..]),
        b'-' => (Qualifier::Fail, &term[1..]),
        b'~' => (Qualifier::SoftFail, &term[1..]),
        b'?' => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    // The name ends at ':' or '/' (a and mx take a bare CIDR: `a/24`).
    let end = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, arg) = rest.split_at(end);
    let bad = || format!("bad term {term:?}");
    let spec = |arg: &str| -> Result<String, String> {
        let s = arg.strip_prefix(':').ok_or_else(bad)?;
        domain_spec(s)?;
        Ok(s.to_string())
    };
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" if arg.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(spec(arg)?),
        "exists" => Mechanism::Exists(spec(arg)?),
        "ptr" if arg.is_empty() => Mechanism::Ptr(None),
        "ptr" => Mechanism::Ptr(Some(spec(arg)?)),
        "a" | "mx" => {
            // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
            // where the IPv6 one is written `//N`.
            let (domain, cidr) = match arg.find('/') {
                Some(at) => arg.split_at(at),
                None => (arg, ""),
            };
            let domain = match domain {
                "" => None,
                d => Some(spec(d)?),
            };
            let (v4, v6) = dual_cidr(cidr).ok_or_else(bad)?;
            if name.eq_ignore_ascii_case("a") {
                Mechanism::A(domain, v4, v6)
            } else {
                Mechanism::Mx(domain, v4, v6)
            }
        }
        "ip4" => {
            let s = arg.strip_prefix(':').ok_or_else(bad)?;
            let (ip, len) = split_cidr(s, 32).ok_or_else(bad)?;
            Mechanism::Ip4(ip.parse().map_err(|_| bad())?, len)
        }
        "ip6" => {
            let s = arg.strip_prefix(':').ok_or_else(bad)?;
            let (ip, len) = split_cidr(s, 128).ok_or_else(bad)?;
            Mechanism::Ip6(ip.parse().map_err(|_| bad())?, len)
        }
        _ => return Err(format!("unknown mechanism {term:?}")),
    };
    Ok((qualifier, mechanism))
}

/// `addr[/len]` with len ≤ max and no leading zero (§5.6's ABNF).
fn split_cidr(s: &str, max: u8) -> Option<(&str, u8)> {
    match s.split_once('/') {
        None => Some((s, max)),
        Some((ip, len)) => Some((ip, cidr_len(len, max)?)),
    }
}

fn cidr_len(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    let n: u8 = s.parse().ok()?;
    (n <= max).then_some(n)
}

fn dual_cidr(s: &str) -> Option<(u8, u8)> {
    if s.is_empty() {
        return Some((32, 128));
    }
    if let Some(v6) = s.strip_prefix("//") {
        return Some((32, cidr_len(v6, 128)?));
    }
    let s = s.strip_prefix('/')?;
    match s.split_once("//") {
        Some((v4, v6)) => Some((cidr_len(v4, 32)?, cidr_len(v6, 128)?)),
        None => Some((cidr_len(s, 32)?, 128)),
    }
}

/// §7.1: a domain-spec is a macro-string ending in a top label or a
/// macro (so that it can name a host at all).
fn domain_spec(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty domain-spec".into());
    }
    macros::check(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7208_4_5_record_selection() {
        assert!(is_spf("v=spf1"));
        assert!(is_spf("V=SPF1 -all"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("v=DMARC1; p=none"));
    }

    #[test]
    fn rfc7208_appendix_a_records_parse() {
        let r = parse("v=spf1 +mx a:colo.example.com/28 -all").unwrap();
        assert_eq!(
            r.directives,
            vec![
                (Qualifier::Pass, Mechanism::Mx(None, 32, 128)),
                (
                    Qualifier::Pass,
                    Mechanism::A(Some("colo.example.com".into()), 28, 128)
                ),
                (Qualifier::Fail, Mechanism::All),
            ]
        );
        let r = parse("v=spf1 ip4:192.0.2.128/28 ip6:2001:db8::/32 a//64 ~all").unwrap();
        assert_eq!(
            r.directives[0].1,
            Mechanism::Ip4([192, 0, 2, 128].into(), 28)
        );
        assert_eq!(
            r.directives[1].1,
            Mechanism::Ip6("2001:db8::".parse().unwrap(), 32)
        );
        assert_eq!(r.directives[2].1, Mechanism::A(None, 32, 64));
        assert_eq!(r.directives[3].0, Qualifier::SoftFail);
        let r = parse("v=spf1 mx:example.com/24//64 exists:%{ir}.%{l1r+-}._spf.%{d} redirect=_spf.example.com exp=explain._spf.%{d} foo=bar").unwrap();
        assert_eq!(
            r.directives[0].1,
            Mechanism::Mx(Some("example.com".into()), 24, 64)
        );
        assert_eq!(r.redirect.as_deref(), Some("_spf.example.com"));
        assert_eq!(r.exp.as_deref(), Some("explain._spf.%{d}"));
    }

    #[test]
    fn rfc7208_4_6_syntax_errors_are_permerrors() {
        for bad in [
            "v=spf1 foo",
            "v=spf1 ip4:192.0.2.1/33",
            "v=spf1 ip4:192.0.2.1/024",
            "v=spf1 ip6:zz::1",
            "v=spf1 all:x",
            "v=spf1 include",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 exists:%{x}",
            "v=spf1 a:%",
            "v=spf1 mx/",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let many = format!("v=spf1{}", " ip4:192.0.2.1".repeat(MAX_TERMS + 1));
        assert!(parse(&many).is_err());
    }
}
