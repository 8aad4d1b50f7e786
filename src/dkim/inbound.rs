//! Judging the DKIM signatures of mail that arrives on port 25 from
//! outside (RFC 6376 §6), and saying what was found in an
//! `Authentication-Results:` field (RFC 8601) for the recipient's mail
//! client and filters. `dmarc::inbound` runs [`check`] beside SPF and
//! assembles the field with the SPF and DMARC verdicts.
//!
//! The key records come from DNS through the server's async resolver;
//! the hashing and crypto run on the blocking pool (a large body is hashed
//! once per signature). What a sender can make this cost is bounded: at
//! most [`MAX_SIGNATURES`] signatures are checked (a relay chain has one to
//! three), their key lookups together take at most [`LOOKUP_TIME`], and
//! the parsers' own limits apply (`super` module).
//!
//! RFC 8601 §5: fields already in the message that claim this server's
//! authserv-id (its hostname) are forgeries or leftovers and are removed
//! before ours is added; fields of other servers stay.

use std::time::Duration;

use super::record::{self, KeyRecord};
use super::verify::{self, Failure};
use super::{Algorithm, fields};
use crate::net::dns::{Answer, Qtype, Record};
use crate::spf::Dns;

/// Signatures checked per message; more are reported as not checked.
pub const MAX_SIGNATURES: usize = 5;
/// All key lookups of one message together.
pub const LOOKUP_TIME: Duration = Duration::from_secs(10);

/// One signature's verdict (RFC 8601 §2.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `pass`, `fail`, `neutral`, `temperror` or `permerror`.
    pub result: &'static str,
    pub reason: Option<String>,
    pub domain: String,
    pub selector: String,
    pub algorithm: Option<Algorithm>,
    /// The first characters of `b=` (RFC 6008), telling signatures of one
    /// domain apart.
    pub b: String,
}

/// The key of each `(selector, domain)`: `Ok(text)`, or the verdict a
/// failed lookup gives.
type Fetched = Vec<((String, String), Result<String, (&'static str, String)>)>;

async fn fetch_keys<D: Dns>(resolver: &D, names: &[(String, String)]) -> Fetched {
    let mut out: Fetched = Vec::new();
    let lookups = async {
        for (selector, domain) in names {
            let name = format!("{selector}._domainkey.{domain}");
            let got = match resolver.lookup(&name, Qtype::Txt).await {
                Ok(Answer::Records(records)) => {
                    let texts: Vec<String> = records
                        .into_iter()
                        .filter_map(|r| match r {
                            Record::Txt(t) => Some(t),
                            _ => None,
                        })
                        .collect();
                    // §6.1.2: of several records the verifier may choose
                    // one: the first that is a key record (TXT records of
                    // other purposes can share the name).
                    let key = texts.iter().find(|t| record::parse(t.as_bytes()).is_ok());
                    match (key, texts.first()) {
                        (Some(k), _) => Ok(k.clone()),
                        // None parses: the first one's error is the verdict.
                        (None, Some(first)) => Ok(first.clone()),
                        (None, None) => Err(("permerror", "no key record".to_string())),
                    }
                }
                Ok(_) => Err(("permerror", "no key record".to_string())),
                Err(e) => Err(("temperror", format!("key lookup: {e}"))),
            };
            out.push(((selector.clone(), domain.clone()), got));
        }
    };
    let timed_out = async {
        async_io::Timer::after(LOOKUP_TIME).await;
    };
    smol::future::or(lookups, timed_out).await;
    out
}

/// Checks the signatures of `message[base..]` (the message as the client
/// sent it, below this server's trace fields) at Unix time `now`; a message
/// without any gives no verdict (`dkim=none`). The message is handed back.
pub async fn check<D: Dns>(
    resolver: &D,
    message: Vec<u8>,
    base: usize,
    now: u64,
) -> (Vec<u8>, Vec<Verdict>) {
    // The names to look up, before any await: the parsed signatures
    // borrow the message.
    let names: Vec<(String, String)> = match fields::split(&message[base..]) {
        Err(_) => {
            return (
                message,
                vec![unchecked("permerror", "too many header fields")],
            );
        }
        Ok(split) => {
            let signatures = verify::signatures(&split);
            if signatures.is_empty() {
                // Most mail: nothing to look up, nothing to hash.
                return (message, Vec::new());
            }
            let mut names = Vec::new();
            for (_, sig) in signatures.into_iter().take(MAX_SIGNATURES) {
                if let Ok(sig) = sig {
                    let name = (sig.selector.clone(), sig.domain.clone());
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            names
        }
    };
    let keys = fetch_keys(resolver, &names).await;
    smol::unblock(move || {
        let verdicts = judge(&message[base..], &keys, now);
        (message, verdicts)
    })
    .await
}

fn unchecked(result: &'static str, reason: &str) -> Verdict {
    Verdict {
        result,
        reason: Some(reason.to_string()),
        domain: String::new(),
        selector: String::new(),
        algorithm: None,
        b: String::new(),
    }
}

/// The verdicts, with the keys fetched (pure; the blocking pool runs it).
fn judge(content: &[u8], keys: &Fetched, now: u64) -> Vec<Verdict> {
    let Ok(split) = fields::split(content) else {
        return vec![unchecked("permerror", "too many header fields")];
    };
    let mut out = Vec::new();
    for (n, (index, sig)) in verify::signatures(&split).into_iter().enumerate() {
        if n == MAX_SIGNATURES {
            out.push(unchecked("neutral", "more signatures than are checked"));
            break;
        }
        let sig = match sig {
            Ok(sig) => sig,
            Err(e) => {
                out.push(unchecked("permerror", &e));
                continue;
            }
        };
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &sig.b);
        let mut verdict = Verdict {
            result: "pass",
            reason: None,
            domain: sig.domain.clone(),
            selector: sig.selector.clone(),
            algorithm: Some(sig.algorithm),
            b: b64.chars().take(8).collect(),
        };
        let key = keys
            .iter()
            .find(|((s, d), _)| *s == sig.selector && *d == sig.domain)
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| Err(("temperror", "key lookup timed out".into())));
        let key: Result<KeyRecord, (&'static str, String)> = key.and_then(|text| {
            record::parse(text.as_bytes()).map_err(|e| ("permerror", e.to_string()))
        });
        match key.and_then(|k| {
            verify::verify(&split, index, &sig, &k, now).map_err(|f| match f {
                Failure::Fail(r) => ("fail", r),
                Failure::PermError(r) => ("permerror", r),
            })
        }) {
            Ok(()) => {}
            Err((result, reason)) => {
                verdict.result = result;
                verdict.reason = Some(reason);
            }
        }
        out.push(verdict);
    }
    out
}

/// The `Authentication-Results:` field (RFC 8601 §2.2) for `verdicts`,
/// with `authserv_id` this server's name; CRLF-terminated and folded.
pub fn results_field(authserv_id: &str, verdicts: &[Verdict]) -> String {
    let mut field = format!("Authentication-Results: {authserv_id}");
    if verdicts.is_empty() {
        field.push_str(";\r\n\tdkim=none");
    }
    for v in verdicts {
        field.push_str(";\r\n\tdkim=");
        field.push_str(v.result);
        if let Some(reason) = &v.reason {
            // A quoted-string without quotes, backslashes or controls.
            let clean: String = reason
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .take(100)
                .collect();
            field.push_str(&format!(" reason=\"{clean}\""));
        }
        if !v.domain.is_empty() {
            field.push_str(&format!(
                "\r\n\theader.d={} header.s={}",
                v.domain, v.selector
            ));
        }
        if let Some(a) = v.algorithm {
            field.push_str(&format!(" header.a={}", a.name()));
        }
        if !v.b.is_empty() {
            field.push_str(&format!(" header.b={}", v.b));
        }
    }
    field.push_str("\r\n");
    field
}

/// Removes from `message[base..]` the Authentication-Results fields that
/// claim `authserv_id` (RFC 8601 §5: a receiver must not let a sender
/// speak in its name); logs how many. Every message stored here passes
/// through it, whatever its way in (port 25, submission, a trusted
/// network, fetching), so no mailbox holds a forged verdict of ours.
pub fn strip_own_results(message: &mut Vec<u8>, base: usize, authserv_id: &str, log_prefix: &str) {
    let ranges = own_results(&message[base..], authserv_id);
    for r in ranges.iter().rev() {
        message.drain(base + r.start..base + r.end);
    }
    if !ranges.is_empty() {
        log::info!(
            "{log_prefix}: removed {} Authentication-Results field(s) claiming {authserv_id}",
            ranges.len()
        );
    }
}

/// The byte ranges of `Authentication-Results:` fields in `content` whose
/// authserv-id is `authserv_id` (RFC 8601 §5), to remove; also those whose
/// authserv-id cannot be read, since a reader might take them for ours.
/// The header is walked line by line (no field-count limit: a forged
/// field must not survive because the header is long).
pub fn own_results(content: &[u8], authserv_id: &str) -> Vec<std::ops::Range<usize>> {
    let header = &content[..crate::mime::header_len(content)];
    let line_end = |at: usize| {
        header[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(header.len(), |p| at + p + 1)
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < header.len() {
        // A field: its first line and the folded lines after it.
        let mut end = line_end(at);
        while end < header.len() && matches!(header[end], b' ' | b'\t') {
            end = line_end(end);
        }
        let field = &header[at..end];
        if let Some(colon) = field.iter().position(|&b| b == b':')
            && field[..colon]
                .trim_ascii_end()
                .eq_ignore_ascii_case(b"authentication-results")
            && authserv_id_of(&field[colon + 1..])
                .is_none_or(|id| id.eq_ignore_ascii_case(authserv_id.as_bytes()))
        {
            out.push(at..end);
        }
        at = end;
    }
    out
}

/// The authserv-id of an Authentication-Results value (RFC 8601 §2.2:
/// `[CFWS] authserv-id`, the id a `value` of RFC 2045, a token or a
/// quoted-string), unquoted; `None` if it cannot be read.
fn authserv_id_of(value: &[u8]) -> Option<Vec<u8>> {
    let mut i = skip_cfws(value)?;
    let mut id = Vec::new();
    if value.get(i) == Some(&b'"') {
        i += 1;
        loop {
            match *value.get(i)? {
                b'"' => return Some(id),
                b'\\' => {
                    id.push(*value.get(i + 1)?);
                    i += 2;
                }
                b'\r' | b'\n' => i += 1,
                b => {
                    id.push(b);
                    i += 1;
                }
            }
        }
    }
    let token = value[i..]
        .iter()
        .take_while(|&&b| !matches!(b, b';' | b'(' | b'"') && !b.is_ascii_whitespace());
    id.extend(token);
    (!id.is_empty()).then_some(id)
}

/// Where the text after leading folding white space and comments (RFC
/// 5322 §3.2.2; comments nest and may hold quoted pairs) begins; `None`
/// for a comment left open.
fn skip_cfws(v: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        match v.get(i) {
            Some(b) if b.is_ascii_whitespace() => i += 1,
            Some(b'(') => {
                let mut depth = 0usize;
                loop {
                    match *v.get(i)? {
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        b'\\' => i += 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => return Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8601_field_and_own_id_removal() {
        let none = results_field("mx.example.org", &[]);
        assert_eq!(
            none,
            "Authentication-Results: mx.example.org;\r\n\tdkim=none\r\n"
        );
        let v = Verdict {
            result: "fail",
            reason: Some("body hash \"did\" not verify".into()),
            domain: "a.example".into(),
            selector: "s1".into(),
            algorithm: Some(Algorithm::Ed25519Sha256),
            b: "abcdefgh".into(),
        };
        let f = results_field("mx.example.org", &[v]);
        assert!(f.contains("dkim=fail reason=\"body hash did not verify\"\r\n\theader.d=a.example header.s=s1 header.a=ed25519-sha256 header.b=abcdefgh\r\n"), "{f}");
        let m = b"Authentication-Results: MX.example.org; dkim=pass\r\nAuthentication-Results: other.example; dkim=pass\r\nAuthentication-Results:\r\n mx.example.org;\r\n dkim=pass\r\nSubject: x\r\n\r\nAuthentication-Results: mx.example.org; in the body\r\n";
        let ranges = own_results(m, "mx.example.org");
        assert_eq!(ranges.len(), 2);
        assert_eq!(
            &m[ranges[0].clone()],
            b"Authentication-Results: MX.example.org; dkim=pass\r\n"
        );
        assert!(m[ranges[1].clone()].ends_with(b" dkim=pass\r\n"));
        // §2.2: CFWS before the id, a quoted id, a comment right after
        // it, an unreadable one: all removed; another id's field stays.
        let forged: &[&[u8]] = &[
            b"Authentication-Results: (x (nested)) mx.example.org; dkim=pass\r\n",
            b"Authentication-Results: \"mx.example.org\"; dkim=pass\r\n",
            b"Authentication-Results: \"mx.exam\\ple.org\"; dkim=pass\r\n",
            b"Authentication-Results: mx.example.org(c); dkim=pass\r\n",
            b"Authentication-Results: (open mx.example.org; dkim=pass\r\n",
            b"authentication-results :mx.example.org;dkim=pass\r\n",
        ];
        for f in forged {
            let m = [*f, b"Subject: x\r\n\r\nbody\r\n"].concat();
            assert_eq!(
                own_results(&m, "mx.example.org"),
                vec![std::ops::Range {
                    start: 0,
                    end: f.len()
                }],
                "{}",
                String::from_utf8_lossy(f)
            );
        }
        let other = b"Authentication-Results: (mx.example.org) other.example; dkim=pass\r\n\r\n";
        assert!(own_results(other, "mx.example.org").is_empty());
        // More fields than the DKIM field split allows: still found.
        let mut long = b"X-A: 1\r\n".repeat(2000);
        long.extend_from_slice(b"Authentication-Results: mx.example.org; dkim=pass\r\n\r\n");
        assert_eq!(own_results(&long, "mx.example.org").len(), 1);
    }

    #[test]
    fn rfc6376_6_1_judged_with_the_rfc8463_example_keys() {
        let signed = include_str!("../../fuzz/seeds/dkim/rfc8463-a3");
        let keys: Fetched = vec![(
            ("brisbane".into(), "football.example.com".into()),
            Ok("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into()),
        )];
        let v = judge(signed.as_bytes(), &keys, 1528637909);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].result, v[0].b.as_str()), ("pass", "/gCrinpc"));
        let v = judge(signed.replace("Joe.", "Jim.").as_bytes(), &keys, 1528637909);
        assert_eq!(v[0].result, "fail");
        let v = judge(signed.as_bytes(), &Vec::new(), 0);
        assert_eq!(v[0].result, "temperror");
        let revoked: Fetched = vec![(
            ("brisbane".into(), "football.example.com".into()),
            Ok("v=DKIM1; k=ed25519; p=".into()),
        )];
        assert_eq!(judge(signed.as_bytes(), &revoked, 0)[0].result, "permerror");
    }
}
