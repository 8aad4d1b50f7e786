//! SPF macro expansion (RFC 7208 §7): `%{s}`, `%{d2}`, `%{ir}`, `%{l-}`
//! and friends, turning a record's domain-spec into a name to look up.
//! Pure: [`check`] validates the syntax when a record is parsed (an error
//! is a permerror, §7.1), [`expand`] produces the string when it is used.

use std::fmt::Write;
use std::net::IpAddr;

/// Longest expansion kept: §7.3 allows a domain of 253 characters; the
/// bound stops a record like `%{s}%{s}%{s}...` from growing without end.
pub const MAX_EXPANSION: usize = 1024;

/// What the macros refer to (§7.2).
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// `s`: the sender, `local@domain` (postmaster@HELO for a null sender).
    pub sender: &'a str,
    /// `d`: the domain being checked now.
    pub domain: &'a str,
    /// `i`, `c`, `v`: the client's address.
    pub ip: IpAddr,
    /// `h`: the HELO/EHLO name.
    pub helo: &'a str,
    /// `r`: this server's name (explanations only).
    pub receiver: &'a str,
    /// `t`: Unix time (explanations only).
    pub now: u64,
}

/// Checks the syntax of a macro-string; `exp` allows `c`, `r` and `t`.
pub fn check(s: &str, exp: bool) -> Result<(), String> {
    let dummy = Context {
        sender: "a@b",
        domain: "b",
        ip: IpAddr::from([0, 0, 0, 0]),
        helo: "b",
        receiver: "b",
        now: 0,
    };
    expand(s, &dummy, exp).map(|_| ())
}

/// Expands a macro-string (§7.1, §7.3). In a domain-spec (`exp` false) the
/// result is shortened from the left to 253 characters, as §7.3 says.
pub fn expand(s: &str, cx: &Context, exp: bool) -> Result<String, String> {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if out.len() > MAX_EXPANSION {
            return Err("macro expansion too long".into());
        }
        let c = b[i];
        // An explanation is text: spaces allowed there (§6.2).
        if !((0x21..=0x7e).contains(&c) || (exp && c == b' ')) {
            return Err(format!("bad character in macro-string {s:?}"));
        }
        if c != b'%' {
            out.push(c as char);
            i += 1;
        } else {
            match b.get(i + 1) {
                Some(b'%') => out.push('%'),
                Some(b'_') => out.push(' '),
                Some(b'-') => out.push_str("%20"),
                Some(b'{') => {
                    let close = s[i..]
                        .find('}')
                        .ok_or_else(|| format!("unclosed macro in {s:?}"))?;
                    one(&s[i + 2..i + close], cx, exp, &mut out)?;
                    i += close + 1;
                    continue;
                }
                _ => return Err(format!("bad '%' in {s:?}")),
            }
            i += 2;
        }
    }
    if out.len() > MAX_EXPANSION {
        return Err("macro expansion too long".into());
    }
    if !exp {
        // §7.3: drop labels from the left until 253 characters remain.
        while out.len() > 253 {
            match out.find('.') {
                Some(dot) => out.drain(..=dot),
                None => return Err("expanded domain too long".into()),
            };
        }
    }
    Ok(out)
}

/// One `%{...}`: letter, transformers (digits, `r`), delimiters.
fn one(body: &str, cx: &Context, exp: bool, out: &mut String) -> Result<(), String> {
    let bad = || format!("bad macro %{{{body}}}");
    let mut chars = body.chars();
    let letter = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, rest) = rest.split_at(digits_end);
    let keep = match digits {
        "" => None,
        d => {
            // §7.3: a DIGIT transformer must be nonzero.
            let n: usize = d.parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(bad());
            }
            Some(n)
        }
    };
    let (reverse, delimiters) = match rest.strip_prefix(['r', 'R']) {
        Some(d) => (true, d),
        None => (false, rest),
    };
    if !delimiters.chars().all(|c| ".-+,/_=".contains(c)) {
        return Err(bad());
    }
    let value = match letter.to_ascii_lowercase() {
        's' => cx.sender.to_string(),
        'l' => local_part(cx.sender).to_string(),
        'o' => cx
            .sender
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .to_string(),
        'd' => cx.domain.to_string(),
        'i' => dotted(cx.ip),
        // §7.3: "p" SHOULD NOT be used; validating would cost lookups
        // that the limits of §4.6.4 do not count, so "unknown" is given,
        // which the RFC allows.
        'p' => "unknown".to_string(),
        'v' => match cx.ip {
            IpAddr::V4(_) => "in-addr".to_string(),
            IpAddr::V6(_) => "ip6".to_string(),
        },
        'h' => cx.helo.to_string(),
        'c' if exp => cx.ip.to_string(),
        'r' if exp => cx.receiver.to_string(),
        't' if exp => cx.now.to_string(),
        _ => return Err(bad()),
    };
    let delimiters = if delimiters.is_empty() {
        "."
    } else {
        delimiters
    };
    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
    if reverse {
        parts.reverse();
    }
    if let Some(n) = keep {
        let skip = parts.len().saturating_sub(n);
        parts.drain(..skip);
    }
    let joined = parts.join(".");
    if letter.is_ascii_uppercase() {
        // §7.3: upper-case macros are URL-encoded (RFC 3986 unreserved kept).
        for ch in joined.bytes() {
            if ch.is_ascii_alphanumeric() || b"-._~".contains(&ch) {
                out.push(ch as char);
            } else {
                let _ = write!(out, "%{ch:02X}");
            }
        }
    } else {
        out.push_str(&joined);
    }
    Ok(())
}

/// §4.3: a sender without a local part counts as "postmaster".
fn local_part(sender: &str) -> &str {
    match sender.rsplit_once('@') {
        Some(("", _)) | None => "postmaster",
        Some((l, _)) => l,
    }
}

/// `i`: dotted quad, or IPv6 as 32 dot-separated nibbles (§7.3).
fn dotted(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(64);
            for byte in v6.octets() {
                let _ = write!(s, "{:x}.{:x}.", byte >> 4, byte & 15);
            }
            s.pop();
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(ip: &str) -> Context<'static> {
        Context {
            sender: "strong-bad@email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            receiver: "mx.example.net",
            now: 1,
        }
    }

    #[test]
    fn rfc7208_7_4_macro_examples() {
        let v4 = cx("192.0.2.3");
        for (input, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ] {
            assert_eq!(expand(input, &v4, false).unwrap(), want, "{input}");
        }
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", &cx("2001:db8::cb01"), false).unwrap(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn rfc7208_7_1_escapes_and_errors() {
        let v4 = cx("192.0.2.3");
        assert_eq!(expand("a%%b%_c%-d", &v4, true).unwrap(), "a%b c%20d");
        assert_eq!(
            expand("%{S}", &v4, false).unwrap(),
            "strong-bad%40email.example.com"
        );
        assert_eq!(
            expand("%{c} %{r} %{t}", &v4, true).unwrap(),
            "192.0.2.3 mx.example.net 1"
        );
        for bad in ["%{c}", "%{d0}", "%{x}", "%{d", "%a", "%", "%{dq}", "%{}"] {
            assert!(expand(bad, &v4, false).is_err(), "{bad}");
        }
        // §7.3: longer than 253 characters: left labels dropped.
        let long = format!("{}example.com", "a.".repeat(200));
        let got = expand(&long, &v4, false).unwrap();
        assert!(got.len() <= 253 && got.ends_with("a.example.com"));
        assert!(expand(&"%{s}".repeat(100), &v4, false).is_err());
    }
}
