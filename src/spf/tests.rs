//! `check_host()` against a table of answers: the RFC 7208 Appendix A
//! zone and the §4.6.4 limits.

use std::cell::Cell;
use std::net::IpAddr;

use super::eval::{Dns, Eval, in_net, reverse_name};
use super::{SpfResult, check};
use crate::net::dns::{Answer, DnsError, Qtype, Record};

struct Zone {
    rows: Vec<(&'static str, Qtype, Record)>,
    queries: Cell<u32>,
}

impl Dns for Zone {
    async fn lookup(&self, name: &str, qtype: Qtype) -> Result<Answer, DnsError> {
        self.queries.set(self.queries.get() + 1);
        if name.starts_with("broken.") {
            return Err(DnsError("SERVFAIL".into()));
        }
        let found: Vec<Record> = self
            .rows
            .iter()
            .filter(|(n, t, _)| *n == name && *t == qtype)
            .map(|(_, _, r)| r.clone())
            .collect();
        if !found.is_empty() {
            return Ok(Answer::Records(found));
        }
        let exists = self.rows.iter().any(|(n, _, _)| *n == name);
        Ok(if exists {
            Answer::NoData
        } else {
            Answer::NxDomain
        })
    }
}

fn txt(name: &'static str, text: &str) -> (&'static str, Qtype, Record) {
    (name, Qtype::Txt, Record::Txt(text.into()))
}
fn a(name: &'static str, ip: [u8; 4]) -> (&'static str, Qtype, Record) {
    (name, Qtype::A, Record::A(ip.into()))
}
fn mx(name: &'static str, host: &str) -> (&'static str, Qtype, Record) {
    let exchange = host.into();
    (
        name,
        Qtype::Mx,
        Record::Mx {
            preference: 10,
            exchange,
        },
    )
}

/// RFC 7208 Appendix A's example.com, abridged.
fn appendix_a() -> Zone {
    let mut rows = vec![
        a("example.com", [192, 0, 2, 10]),
        a("example.com", [192, 0, 2, 11]),
        mx("example.com", "mail-a.example.com"),
        mx("example.com", "mail-b.example.com"),
        a("mail-a.example.com", [192, 0, 2, 129]),
        a("mail-b.example.com", [192, 0, 2, 130]),
        a("amy.example.com", [192, 0, 2, 65]),
        a("bob.example.com", [192, 0, 2, 66]),
        mx("example.org", "mail-c.example.org"),
        a("mail-c.example.org", [192, 0, 2, 140]),
        (
            "66.2.0.192.in-addr.arpa",
            Qtype::Ptr,
            Record::Ptr("bob.example.com".into()),
        ),
        (
            "140.2.0.192.in-addr.arpa",
            Qtype::Ptr,
            Record::Ptr("mail-c.example.org".into()),
        ),
    ];
    rows.push(txt("example.com", "v=spf1 mx -all"));
    Zone {
        rows,
        queries: Cell::new(0),
    }
}

fn run(zone: &Zone, ip: &str, domain: &str) -> SpfResult {
    let ip: IpAddr = ip.parse().unwrap();
    let sender = format!("user@{domain}");
    smol::block_on(Eval::new(zone, ip, &sender, "helo.example").check_host(domain)).0
}

#[test]
fn rfc7208_appendix_a_4_mechanism_examples() {
    let records = [
        ("v=spf1 +all", "192.0.2.200", SpfResult::Pass),
        ("v=spf1 a -all", "192.0.2.10", SpfResult::Pass),
        ("v=spf1 a -all", "192.0.2.65", SpfResult::Fail),
        ("v=spf1 a:example.org -all", "192.0.2.10", SpfResult::Fail),
        ("v=spf1 mx -all", "192.0.2.129", SpfResult::Pass),
        ("v=spf1 mx:example.org -all", "192.0.2.140", SpfResult::Pass),
        (
            "v=spf1 mx/30 mx:example.org/30 -all",
            "192.0.2.131",
            SpfResult::Pass,
        ),
        ("v=spf1 ptr -all", "192.0.2.66", SpfResult::Pass),
        ("v=spf1 ptr -all", "192.0.2.140", SpfResult::Fail),
        (
            "v=spf1 ip4:192.0.2.128/28 -all",
            "192.0.2.130",
            SpfResult::Pass,
        ),
        (
            "v=spf1 ip4:192.0.2.128/28 ~all",
            "192.0.2.1",
            SpfResult::SoftFail,
        ),
        ("v=spf1 ?all", "192.0.2.1", SpfResult::Neutral),
        ("v=spf1 ip4:192.0.2.1", "192.0.2.2", SpfResult::Neutral),
        (
            "v=spf1 exists:%{ir}.%{v}.example.com -all",
            "192.0.2.1",
            SpfResult::Fail,
        ),
        (
            "v=spf1 ip6:2001:db8::/32 -all",
            "2001:db8::1",
            SpfResult::Pass,
        ),
        (
            "v=spf1 ip4:192.0.2.0/24 -all",
            "::ffff:192.0.2.9",
            SpfResult::Pass,
        ),
        ("v=spf1 bogus -all", "192.0.2.1", SpfResult::PermError),
    ];
    for (record, ip, want) in records {
        let mut zone = appendix_a();
        zone.rows
            .retain(|r| !(r.0 == "example.com" && r.1 == Qtype::Txt));
        zone.rows.push(txt("example.com", record));
        assert_eq!(run(&zone, ip, "example.com"), want, "{record} from {ip}");
    }
}

#[test]
fn rfc7208_4_4_and_4_5_record_lookup() {
    let mut zone = appendix_a();
    assert_eq!(run(&zone, "192.0.2.1", "nowhere.example"), SpfResult::None);
    assert_eq!(
        run(&zone, "192.0.2.1", "broken.example"),
        SpfResult::TempError
    );
    assert_eq!(run(&zone, "192.0.2.1", "not a domain"), SpfResult::None);
    zone.rows.push(txt("example.com", "v=spf1 +all"));
    assert_eq!(run(&zone, "192.0.2.1", "example.com"), SpfResult::PermError);
}

#[test]
fn rfc7208_5_2_include_and_6_1_redirect() {
    let mut zone = appendix_a();
    zone.rows
        .push(txt("a.example", "v=spf1 include:example.com ~all"));
    zone.rows
        .push(txt("b.example", "v=spf1 include:nowhere.example ~all"));
    zone.rows
        .push(txt("c.example", "v=spf1 redirect=example.com"));
    zone.rows
        .push(txt("d.example", "v=spf1 redirect=nowhere.example"));
    zone.rows
        .push(txt("e.example", "v=spf1 include:broken.example -all"));
    assert_eq!(run(&zone, "192.0.2.129", "a.example"), SpfResult::Pass);
    assert_eq!(run(&zone, "192.0.2.1", "a.example"), SpfResult::SoftFail);
    assert_eq!(run(&zone, "192.0.2.1", "b.example"), SpfResult::PermError);
    assert_eq!(run(&zone, "192.0.2.129", "c.example"), SpfResult::Pass);
    assert_eq!(run(&zone, "192.0.2.1", "c.example"), SpfResult::Fail);
    assert_eq!(run(&zone, "192.0.2.1", "d.example"), SpfResult::PermError);
    assert_eq!(run(&zone, "192.0.2.1", "e.example"), SpfResult::TempError);
}

#[test]
fn rfc7208_4_6_4_lookup_limits() {
    let mut zone = appendix_a();
    // Eleven DNS-querying terms: permerror, and no twelfth query.
    zone.rows.push(txt(
        "many.example",
        &format!("v=spf1{} -all", " a:example.com".repeat(11)),
    ));
    assert_eq!(
        run(&zone, "192.0.2.1", "many.example"),
        SpfResult::PermError
    );
    assert!(zone.queries.get() <= 12, "{}", zone.queries.get());
    zone.rows.push(txt(
        "ten.example",
        &format!("v=spf1{} -all", " a:example.com".repeat(10)),
    ));
    assert_eq!(run(&zone, "192.0.2.1", "ten.example"), SpfResult::Fail);
    // A loop of includes ends at the term limit.
    zone.rows
        .push(txt("loop.example", "v=spf1 include:loop.example -all"));
    assert_eq!(
        run(&zone, "192.0.2.1", "loop.example"),
        SpfResult::PermError
    );
    // Three void lookups.
    zone.rows.push(txt(
        "void.example",
        "v=spf1 a:x1.example a:x2.example a:x3.example -all",
    ));
    assert_eq!(
        run(&zone, "192.0.2.1", "void.example"),
        SpfResult::PermError
    );
    zone.rows.push(txt(
        "void2.example",
        "v=spf1 a:x1.example a:x2.example -all",
    ));
    assert_eq!(run(&zone, "192.0.2.1", "void2.example"), SpfResult::Fail);
    // Eleven MX names.
    for n in 0..11 {
        let host: &'static str = Box::leak(format!("mx{n}.example").into_boxed_str());
        zone.rows.push(mx("mxs.example", host));
    }
    zone.rows.push(txt("mxs.example", "v=spf1 mx -all"));
    assert_eq!(run(&zone, "192.0.2.1", "mxs.example"), SpfResult::PermError);
}

#[test]
fn rfc7208_2_3_and_2_4_identities() {
    let mut zone = appendix_a();
    zone.rows
        .push(txt("helo.example", "v=spf1 ip4:192.0.2.7 -all"));
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let v = smol::block_on(check(&zone, ip, "", "helo.example"));
    assert_eq!(
        (v.mailfrom, v.mailfrom_domain.as_str()),
        (SpfResult::Pass, "helo.example")
    );
    assert_eq!(v.helo, Some(SpfResult::Pass));
    let v = smol::block_on(check(&zone, ip, "joe@example.com", "[192.0.2.7]"));
    assert_eq!((v.mailfrom, v.helo), (SpfResult::Fail, None));
}

#[test]
fn cidr_and_reverse_names() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(in_net(ip("192.0.2.130"), ip("192.0.2.128"), 28));
    assert!(!in_net(ip("192.0.2.150"), ip("192.0.2.128"), 28));
    assert!(in_net(ip("10.1.1.1"), ip("192.0.2.1"), 0));
    assert!(!in_net(ip("2001:db8::1"), ip("192.0.2.1"), 0));
    assert_eq!(reverse_name(ip("192.0.2.3")), "3.2.0.192.in-addr.arpa");
    assert!(reverse_name(ip("2001:db8::1")).starts_with("1.0.0.0.0.0.0.0"));
    assert!(reverse_name(ip("2001:db8::1")).ends_with("8.b.d.0.1.0.0.2.ip6.arpa"));
}
