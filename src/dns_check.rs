//! `smolmail dns-records DOMAIN --check`: asks DNS (the resolver `serve`
//! uses, so `--dns-server`/SMOLMAIL_DNS_SERVER count) for each record
//! `dns_records::render` prints and says whether it is published and
//! right. MX and TXT (SPF, DKIM, DMARC, TLSRPT, MTA-STS) are checked; SRV
//! and CNAME lines are reported as not checked, because the resolver of
//! this build asks only the question types mail delivery needs.
//!
//! A TXT record is "ok" when a record of the same kind (`v=spf1`,
//! `v=DKIM1`, ...) at the name has the same text, white space and case
//! aside; "differs" when one of that kind is there with other text (an
//! owner may have added an `include:` on purpose: the line shows both).

use std::fmt::Write;

use crate::net::dns::{Answer, Qtype, Record, Resolver};

/// One record line of the rendered zone: owner (no trailing dot), type,
/// data (TXT strings joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub owner: String,
    pub rtype: String,
    pub data: String,
}

/// Reads `owner. TTL IN TYPE data` lines; comments and blanks skipped.
pub fn parse_zone(zone: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for line in zone.lines() {
        let mut words = line.split_whitespace();
        let (Some(owner), Some(_ttl), Some("IN"), Some(rtype)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        if owner.starts_with(';') {
            continue;
        }
        let rest = words.collect::<Vec<_>>().join(" ");
        let data = if rtype == "TXT" {
            // "a" "b": the strings joined (RFC 6376 §3.6.2.2, RFC 7208 §3.3).
            rest.split('"').skip(1).step_by(2).collect::<String>()
        } else {
            rest
        };
        out.push(Line {
            owner: owner.trim_end_matches('.').to_string(),
            rtype: rtype.to_string(),
            data,
        });
    }
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace()
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The kind of a TXT record: its `v=` tag (`v=spf1`, `v=DKIM1`, ...).
fn kind(text: &str) -> String {
    let first = text
        .trim_start()
        .split([';', ' ', '\t'])
        .next()
        .unwrap_or("");
    squash(first)
}

/// The verdict on one line given the DNS answer.
pub fn judge(line: &Line, answer: &Result<Answer, String>) -> String {
    let records = match answer {
        Err(e) => return format!("lookup failed ({e})"),
        Ok(Answer::Records(r)) => r.as_slice(),
        Ok(_) => &[],
    };
    match line.rtype.as_str() {
        "MX" => {
            let want = line.data.split_whitespace().last().unwrap_or("");
            let want = want.trim_end_matches('.').to_ascii_lowercase();
            let hosts: Vec<&str> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Mx { exchange, .. } => Some(exchange.as_str()),
                    _ => None,
                })
                .collect();
            if hosts.contains(&want.as_str()) {
                "ok".into()
            } else if hosts.is_empty() {
                "missing".into()
            } else {
                format!("differs: published MX {}", hosts.join(", "))
            }
        }
        "TXT" => {
            let want = squash(&line.data);
            let same_kind: Vec<&str> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Txt(t) if kind(t) == kind(&line.data) => Some(t.as_str()),
                    _ => None,
                })
                .collect();
            if same_kind.iter().any(|t| squash(t) == want) {
                "ok".into()
            } else if let Some(t) = same_kind.first() {
                format!("differs: published \"{t}\"")
            } else {
                "missing".into()
            }
        }
        other => format!("not checked ({other} lookups are not in this build)"),
    }
}

/// Checks every record line of `zone` and returns the report.
pub async fn check(resolver: &Resolver, zone: &str) -> String {
    let mut out = String::from("\n; Published? (DNS checked now)\n");
    for line in parse_zone(zone) {
        let qtype = match line.rtype.as_str() {
            "MX" => Some(Qtype::Mx),
            "TXT" => Some(Qtype::Txt),
            _ => None,
        };
        let verdict = match qtype {
            Some(q) => {
                let answer = resolver.lookup(&line.owner, q).await;
                judge(&line, &answer.map_err(|e| e.to_string()))
            }
            None => judge(&line, &Ok(Answer::NoData)),
        };
        let _ = writeln!(out, "; {} {}: {verdict}", line.owner, line.rtype);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_lines_read_back() {
        let zone = "; comment\nexample.org.   3600 IN MX    10 mail.example.org.\n\
                    k._domainkey.example.org. 3600 IN TXT   \"v=DKIM1; k=rsa; p=AB\" \"CD\"\n";
        let lines = parse_zone(zone);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].data, "10 mail.example.org.");
        assert_eq!(lines[1].data, "v=DKIM1; k=rsa; p=ABCD");
        assert_eq!(lines[1].owner, "k._domainkey.example.org");
    }

    #[test]
    fn verdicts() {
        let mx = Line {
            owner: "example.org".into(),
            rtype: "MX".into(),
            data: "10 mail.example.org.".into(),
        };
        let rec = |e: &str| Record::Mx {
            preference: 5,
            exchange: e.into(),
        };
        assert_eq!(
            judge(&mx, &Ok(Answer::Records(vec![rec("mail.example.org")]))),
            "ok"
        );
        assert_eq!(judge(&mx, &Ok(Answer::NxDomain)), "missing");
        assert!(judge(&mx, &Ok(Answer::Records(vec![rec("mx.other")]))).starts_with("differs"));
        let spf = Line {
            owner: "example.org".into(),
            rtype: "TXT".into(),
            data: "v=spf1 mx -all".into(),
        };
        let txt = |t: &str| {
            Ok(Answer::Records(vec![
                Record::Txt("google-site=x".into()),
                Record::Txt(t.into()),
            ]))
        };
        assert_eq!(judge(&spf, &txt("v=spf1  MX -all")), "ok");
        assert_eq!(
            judge(&spf, &txt("v=spf1 mx include:x.example -all")),
            "differs: published \"v=spf1 mx include:x.example -all\""
        );
        assert_eq!(judge(&spf, &txt("v=DMARC1; p=none")), "missing");
        assert!(judge(&spf, &Err("timed out".into())).starts_with("lookup failed"));
    }
}
