//! MTA-STS (RFC 8461) as text: the `_mta-sts` TXT record (§3.1), the
//! policy file (§3.2) and the MX host patterns it lists (§4.1). Pure
//! functions over bytes for the outbound side that fetches other
//! domains' policies (`delivery::mta_sts`); fuzzed (`fuzz/`). The HTTP
//! face writes our own policy itself (`http::mta_sts`); a test here
//! checks that what it writes parses.

/// §3.2: "max_age: ... up to 31557600" (about a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;
/// §3.2: more patterns than any real domain lists; bounds the work of
/// matching and the size of a cached policy.
pub const MAX_MX: usize = 64;

/// The `_mta-sts` TXT record (§3.1): the id says when the policy changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
}

/// Reads one TXT record's text: `v=STSv1` first, then `id=` (1 to 32
/// letters and digits), other fields ignored (extensions, §3.1).
pub fn parse_record(text: &[u8]) -> Option<Record> {
    let text = std::str::from_utf8(text).ok()?;
    let mut fields = text.split(';').map(|f| f.trim_matches([' ', '\t']));
    if fields.next()? != "v=STSv1" {
        return None;
    }
    let mut id = None;
    for field in fields {
        if field.is_empty() {
            continue; // a trailing ';' is allowed
        }
        let (key, value) = field.split_once('=')?;
        if key == "id" && id.is_none() {
            let ok =
                (1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok {
                return None;
            }
            id = Some(value.to_string());
        }
    }
    Some(Record { id: id? })
}

/// §3.1: of all TXT records at `_mta-sts.DOMAIN`, those not starting with
/// `v=STSv1;` are dropped; unless exactly one is left and it is valid, the
/// domain has no policy.
pub fn pick_record<'a>(texts: impl IntoIterator<Item = &'a [u8]>) -> Option<Record> {
    let mut candidates = texts.into_iter().filter(|t| t.starts_with(b"v=STSv1"));
    let one = candidates.next()?;
    if candidates.next().is_some() {
        return None;
    }
    parse_record(one)
}

/// §5: what a sender does with a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A policy file (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// Lower case, without a trailing dot; `*.` leads a wildcard.
    pub mx: Vec<String>,
    /// Seconds, at most [`MAX_AGE_LIMIT`].
    pub max_age: u64,
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

fn bad(text: impl Into<String>) -> PolicyError {
    PolicyError(text.into())
}

/// Parses a policy body (§3.2): `key: value` lines ending in LF or CRLF,
/// `version: STSv1`, `mode`, `max_age` and one or more `mx` (optional
/// for mode `none`, which needs no hosts). Unknown keys are ignored
/// (extensions); of a repeated key other than `mx` the first counts.
pub fn parse_policy(body: &[u8]) -> Result<Policy, PolicyError> {
    let text = std::str::from_utf8(body).map_err(|_| bad("policy is not UTF-8 text"))?;
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("policy line without ':': {:?}", clip(line))))?;
        // §3.2's ABNF is `key ":" *WSP value`: blanks after the colon
        // only. Blanks before it are accepted too, a leniency (they
        // cannot make a line mean anything else).
        let key = key.trim_end_matches([' ', '\t']);
        let value = value.trim_matches([' ', '\t']);
        match key {
            "version" if version.is_none() => version = Some(value),
            "mode" if mode.is_none() => {
                mode = Some(match value {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(bad(format!("unknown mode {:?}", clip(other)))),
                })
            }
            "max_age" if max_age.is_none() => {
                // §3.2: 1*10DIGIT; larger values than the limit are cut
                // to it rather than refused (a year is a year).
                if value.is_empty()
                    || value.len() > 10
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(bad(format!("bad max_age {:?}", clip(value))));
                }
                max_age = Some(value.parse::<u64>().unwrap_or(0).min(MAX_AGE_LIMIT));
            }
            "mx" => {
                if mx.len() >= MAX_MX {
                    return Err(bad(format!("more than {MAX_MX} mx lines")));
                }
                mx.push(check_pattern(value)?);
            }
            _ => {}
        }
    }
    if version != Some("STSv1") {
        return Err(bad("no \"version: STSv1\" line"));
    }
    let mode = mode.ok_or_else(|| bad("no mode line"))?;
    let max_age = max_age.ok_or_else(|| bad("no max_age line"))?;
    if mx.is_empty() && mode != Mode::None {
        return Err(bad("no mx line"));
    }
    Ok(Policy { mode, mx, max_age })
}

/// An `mx` value: a host name, or `*.` and a name (§3.2 `mx-pattern`).
fn check_pattern(value: &str) -> Result<String, PolicyError> {
    // One trailing dot (a fully qualified name) is the same name.
    let value = value.strip_suffix('.').unwrap_or(value);
    let name = value.strip_prefix("*.").unwrap_or(value);
    let labels_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !labels_ok {
        return Err(bad(format!("bad mx pattern {:?}", clip(value))));
    }
    Ok(value.to_ascii_lowercase())
}

/// A bounded piece of outside text for an error message.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// §4.1: does MX host `host` match `pattern`? Case-insensitive; a `*.`
/// pattern matches exactly one more label on the left
/// (`*.example.com` takes `mx1.example.com`, not `example.com` nor
/// `a.b.example.com`).
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail.eq_ignore_ascii_case(rest)),
        None => host.eq_ignore_ascii_case(pattern),
    }
}

impl Policy {
    /// §4.1: the MX host is one the policy names.
    pub fn allows(&self, host: &str) -> bool {
        self.mx.iter().any(|p| mx_matches(p, host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8461_3_1_txt_record() {
        assert_eq!(
            parse_record(b"v=STSv1; id=20160831085700Z;"),
            Some(Record {
                id: "20160831085700Z".into()
            })
        );
        assert_eq!(parse_record(b"v=STSv1;id=abc;ext=1").unwrap().id, "abc");
        assert_eq!(parse_record(b"v=STSv1;"), None, "id is required");
        assert_eq!(parse_record(b"id=abc; v=STSv1"), None, "v comes first");
        assert_eq!(parse_record(b"v=STSv1; id=has-dash"), None);
        assert_eq!(parse_record(&[b'v'; 40]), None);
        let long = format!("v=STSv1; id={}", "a".repeat(33));
        assert_eq!(parse_record(long.as_bytes()), None);
    }

    #[test]
    fn rfc8461_3_1_exactly_one_sts_record() {
        let one: [&[u8]; 2] = [b"v=spf1 -all", b"v=STSv1; id=1"];
        assert_eq!(pick_record(one).unwrap().id, "1");
        let two: [&[u8]; 2] = [b"v=STSv1; id=1", b"v=STSv1; id=2"];
        assert_eq!(pick_record(two), None);
        assert_eq!(pick_record([b"v=STSv1; nothing" as &[u8]]), None);
    }

    #[test]
    fn rfc8461_3_2_policy_file() {
        // The RFC's example, with LF line ends as well as CRLF.
        let body = b"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n";
        let p = parse_policy(body).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(
            p.mx,
            ["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
        assert_eq!(p.max_age, 604_800);
        let crlf = String::from_utf8_lossy(body).replace('\n', "\r\n");
        assert_eq!(parse_policy(crlf.as_bytes()).unwrap(), p);
        // Unknown keys are extensions; max_age is capped at a year.
        let p = parse_policy(b"version: STSv1\r\nmode: testing\r\nfoo: bar\r\nmx: MX.Example.ORG.\r\nmax_age: 9999999999\r\n").unwrap();
        assert_eq!(p.mode, Mode::Testing);
        assert_eq!(p.mx, ["mx.example.org"]);
        assert_eq!(p.max_age, MAX_AGE_LIMIT);
        let spaced =
            parse_policy(b"version : STSv1\nmode :\tenforce \nmx : a.example\nmax_age:1").unwrap();
        assert_eq!((spaced.mode, spaced.max_age), (Mode::Enforce, 1));
        assert_eq!(
            parse_policy(b"version: STSv1\nmode: none\nmax_age: 1\n")
                .unwrap()
                .mode,
            Mode::None
        );
    }

    #[test]
    fn rfc8461_3_2_bad_policies_are_refused() {
        for body in [
            &b"mode: enforce\nmx: a.example\nmax_age: 1\n"[..],
            b"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
            b"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
            b"version: STSv1\nmode: enforce\nmax_age: 1\n",
            b"version: STSv1\nmode: enforce\nmx: a.example\n",
            b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
            b"version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
            b"version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n",
            b"version: STSv1\nmode: enforce\nmx: a.example..\nmax_age: 1\n",
            b"version: STSv1\nmode enforce\n",
            b"\xff\xfe",
        ] {
            assert!(
                parse_policy(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn rfc8461_4_1_mx_patterns() {
        assert!(mx_matches("mail.example.com", "MAIL.example.com."));
        assert!(!mx_matches("mail.example.com", "mail2.example.com"));
        assert!(mx_matches("*.example.com", "mx1.example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(!mx_matches("*.example.com", "a.b.example.com"));
        assert!(!mx_matches("*.example.com", ".example.com"));
    }

    #[test]
    fn our_served_policy_parses() {
        use crate::config::{MtaSts, MtaStsMode};
        let text = crate::http::mta_sts::policy(&MtaSts {
            mode: MtaStsMode::Testing,
            mx: vec!["mail.example.org".into()],
            max_age: 86_400,
        });
        let p = parse_policy(text.as_bytes()).unwrap();
        assert_eq!((p.mode, p.max_age), (Mode::Testing, 86_400));
        assert!(p.allows("mail.example.org"));
    }
}
