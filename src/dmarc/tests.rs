//! DMARC judged against a table of `_dmarc` answers.

use super::*;
use crate::net::dns::DnsError;

struct Zone(Vec<(&'static str, &'static str)>);

impl Dns for Zone {
    async fn lookup(&self, name: &str, _: Qtype) -> Result<Answer, DnsError> {
        if name.contains("broken") {
            return Err(DnsError("SERVFAIL".into()));
        }
        let found: Vec<DnsRecord> = self
            .0
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, t)| DnsRecord::Txt(t.to_string()))
            .collect();
        Ok(if found.is_empty() {
            Answer::NxDomain
        } else {
            Answer::Records(found)
        })
    }
}

fn zone() -> Zone {
    Zone(vec![
        ("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine"),
        (
            "_dmarc.strict.example",
            "v=DMARC1; p=reject; aspf=s; adkim=s",
        ),
        ("_dmarc.strict.example", "some other text"),
        ("_dmarc.half.example", "v=DMARC1; p=reject; pct=50"),
        ("_dmarc.example", "v=DMARC1; p=none; psd=y"),
        ("_dmarc.none.example", "v=DMARC1; p=none"),
    ])
}

fn judge(from: &str, spf: (SpfResult, &str), dkim: &[(&str, &str)], roll: u8) -> Verdict {
    smol::block_on(evaluate(&zone(), Some(from), spf, dkim, roll))
}

const NO_SPF: (SpfResult, &str) = (SpfResult::None, "");

#[test]
fn rfc7489_3_1_relaxed_and_strict_alignment() {
    let spf = (SpfResult::Pass, "bounce.example.com");
    assert_eq!(judge("example.com", spf, &[], 0).result, DmarcResult::Pass);
    let dkim = [("fail", "example.com"), ("pass", "mail.example.com")];
    assert_eq!(
        judge("news.example.com", NO_SPF, &dkim, 0).result,
        DmarcResult::Pass
    );
    let spf = (SpfResult::Pass, "bounce.strict.example");
    assert_eq!(
        judge("strict.example", spf, &[], 0).result,
        DmarcResult::Fail
    );
    let spf = (SpfResult::Pass, "strict.example");
    assert_eq!(
        judge("strict.example", spf, &[], 0).result,
        DmarcResult::Pass
    );
    // An SPF pass for someone else's domain is no help.
    let spf = (SpfResult::Pass, "example.net");
    assert_eq!(
        judge("example.com", spf, &[("pass", "example.org")], 0).result,
        DmarcResult::Fail
    );
}

#[test]
fn rfc7489_6_6_3_policy_discovery() {
    let v = judge("example.com", NO_SPF, &[], 0);
    assert_eq!((v.result, v.policy), (DmarcResult::Fail, Policy::Reject));
    // Found at the organisational domain: sp= applies.
    let v = judge("a.b.example.com", NO_SPF, &[], 0);
    assert_eq!(
        (v.result, v.policy),
        (DmarcResult::Fail, Policy::Quarantine)
    );
    assert_eq!(
        judge("example.org", NO_SPF, &[], 0).result,
        DmarcResult::None
    );
    assert_eq!(
        judge("broken.example.org", NO_SPF, &[], 0).result,
        DmarcResult::TempError
    );
    let v = smol::block_on(evaluate(&zone(), None, NO_SPF, &[], 0));
    assert_eq!(v.result, DmarcResult::PermError);
}

#[test]
fn rfc7489_6_6_4_pct_samples_failures() {
    assert_eq!(
        judge("half.example", NO_SPF, &[], 10).policy,
        Policy::Reject
    );
    assert_eq!(
        judge("half.example", NO_SPF, &[], 70).policy,
        Policy::Quarantine
    );
}

#[test]
fn dmarcbis_tree_walk_and_psd() {
    assert_eq!(
        walk_names("a.b.example.com"),
        ["a.b.example.com", "b.example.com", "example.com", "com"]
    );
    let long = walk_names("1.2.3.4.5.6.7.8.9.example");
    assert_eq!(long.len(), MAX_WALK);
    assert_eq!(long[1], "4.5.6.7.8.9.example");
    let z = zone();
    let w = smol::block_on(walk(&z, "mail.none.example")).unwrap();
    // psd=y at "example": the organisation is the name below it.
    assert_eq!(org_domain("mail.none.example", &w), "none.example");
    let w = smol::block_on(walk(&z, "x.example.com")).unwrap();
    assert_eq!(org_domain("x.example.com", &w), "example.com");
}

#[test]
fn rfc7489_6_7_local_policy() {
    use crate::config::DmarcPolicy as S;
    let v = |result, policy| Verdict {
        result,
        from: "example.com".into(),
        policy,
        reason: String::new(),
    };
    let fail_reject = v(DmarcResult::Fail, Policy::Reject);
    let fail_quarantine = v(DmarcResult::Fail, Policy::Quarantine);
    assert_eq!(action(S::Reject, &fail_reject), Action::Refuse);
    assert_eq!(action(S::Reject, &fail_quarantine), Action::Junk);
    assert_eq!(action(S::Junk, &fail_reject), Action::Junk);
    assert_eq!(action(S::None, &fail_reject), Action::Deliver);
    assert_eq!(
        action(S::Reject, &v(DmarcResult::Fail, Policy::None)),
        Action::Deliver
    );
    assert_eq!(
        action(S::Reject, &v(DmarcResult::TempError, Policy::Reject)),
        Action::Deliver
    );
}
