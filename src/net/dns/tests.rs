//! Tests of the DNS stub resolver's pure parts: queries, answers, resolv.conf.

use super::*;
use simple_dns::ResourceRecord;
use simple_dns::rdata::{A, AAAA, CNAME, MX};

fn reply(id: u16, name: &str, qtype: Qtype, rcode: RCODE, answers: Vec<ResourceRecord>) -> Vec<u8> {
    let mut p = Packet::new_reply(id);
    *p.rcode_mut() = rcode;
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype.code()),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.answers = answers;
    p.build_bytes_vec().unwrap()
}

fn rr<'a>(name: &'a str, rdata: RData<'a>) -> ResourceRecord<'a> {
    ResourceRecord::new(Name::new_unchecked(name), CLASS::IN, 300, rdata)
}

#[test]
fn resolv_conf() {
    let conf = parse_resolv_conf(
        "# comment\nsearch lan\nnameserver 192.168.1.1\nnameserver fe80::1%eth0\n\
         nameserver ::1 # v6\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n\
         options edns0 timeout:2 attempts:3\n",
    );
    assert_eq!(
        conf.servers,
        vec![
            "192.168.1.1:53".parse().unwrap(),
            "[::1]:53".parse().unwrap(),
            "10.0.0.1:53".parse().unwrap()
        ]
    );
    assert_eq!(conf.timeout, Duration::from_secs(2));
    assert_eq!(conf.attempts, 3);
    let empty = parse_resolv_conf("");
    assert_eq!(empty.servers, vec!["127.0.0.1:53".parse().unwrap()]);
    assert_eq!(empty.attempts, DEFAULT_ATTEMPTS);
}

#[test]
fn query_round_trips() {
    let q = build_query(0x1234, "example.org", Qtype::Mx).unwrap();
    let p = Packet::parse(&q).unwrap();
    assert_eq!(p.id(), 0x1234);
    assert!(p.has_flags(PacketFlag::RECURSION_DESIRED));
    assert_eq!(p.questions[0].qname.to_string(), "example.org");
    let long_label = format!("{}.example", "a".repeat(64));
    assert!(build_query(1, &long_label, Qtype::A).is_err());
}

#[test]
fn mx_answers_and_null_mx() {
    let bytes = reply(
        7,
        "example.org",
        Qtype::Mx,
        RCODE::NoError,
        vec![
            rr(
                "example.org",
                RData::MX(MX {
                    preference: 20,
                    exchange: Name::new_unchecked("MX2.example.org"),
                }),
            ),
            rr(
                "example.org",
                RData::MX(MX {
                    preference: 10,
                    exchange: Name::new_unchecked("mx1.example.org"),
                }),
            ),
        ],
    );
    let parsed = parse_response(7, "Example.ORG.", Qtype::Mx, &bytes).unwrap();
    assert!(!parsed.truncated);
    assert_eq!(
        parsed.answer,
        Answer::Records(vec![
            Record::Mx {
                preference: 20,
                exchange: "mx2.example.org".into()
            },
            Record::Mx {
                preference: 10,
                exchange: "mx1.example.org".into()
            },
        ])
    );
    let null = reply(
        8,
        "nomail.example",
        Qtype::Mx,
        RCODE::NoError,
        vec![rr(
            "nomail.example",
            RData::MX(MX {
                preference: 0,
                exchange: Name::new_unchecked(""),
            }),
        )],
    );
    assert_eq!(
        parse_response(8, "nomail.example", Qtype::Mx, &null)
            .unwrap()
            .answer,
        Answer::Records(vec![Record::Mx {
            preference: 0,
            exchange: String::new()
        }])
    );
}

#[test]
fn cname_chains_are_followed() {
    let bytes = reply(
        9,
        "www.example.org",
        Qtype::A,
        RCODE::NoError,
        vec![
            rr(
                "www.example.org",
                RData::CNAME(CNAME(Name::new_unchecked("web.example.net"))),
            ),
            rr(
                "web.example.net",
                RData::A(A {
                    address: u32::from(Ipv4Addr::new(192, 0, 2, 7)),
                }),
            ),
            rr(
                "other.example",
                RData::A(A {
                    address: u32::from(Ipv4Addr::new(192, 0, 2, 99)),
                }),
            ),
        ],
    );
    assert_eq!(
        parse_response(9, "www.example.org", Qtype::A, &bytes)
            .unwrap()
            .answer,
        Answer::Records(vec![Record::A(Ipv4Addr::new(192, 0, 2, 7))])
    );
    let v6 = reply(
        10,
        "h.example",
        Qtype::Aaaa,
        RCODE::NoError,
        vec![rr(
            "h.example",
            RData::AAAA(AAAA {
                address: u128::from("2001:db8::1".parse::<Ipv6Addr>().unwrap()),
            }),
        )],
    );
    assert_eq!(
        parse_response(10, "h.example", Qtype::Aaaa, &v6)
            .unwrap()
            .answer,
        Answer::Records(vec![Record::Aaaa("2001:db8::1".parse().unwrap())])
    );
}

#[test]
fn rcodes_ids_and_garbage() {
    let nx = reply(1, "gone.example", Qtype::Mx, RCODE::NameError, vec![]);
    assert_eq!(
        parse_response(1, "gone.example", Qtype::Mx, &nx)
            .unwrap()
            .answer,
        Answer::NxDomain
    );
    let empty = reply(2, "a.example", Qtype::Mx, RCODE::NoError, vec![]);
    assert_eq!(
        parse_response(2, "a.example", Qtype::Mx, &empty)
            .unwrap()
            .answer,
        Answer::NoData
    );
    let fail = reply(3, "a.example", Qtype::Mx, RCODE::ServerFailure, vec![]);
    assert!(parse_response(3, "a.example", Qtype::Mx, &fail).is_err());
    assert!(
        parse_response(4, "a.example", Qtype::Mx, &empty).is_err(),
        "id"
    );
    assert!(
        parse_response(2, "b.example", Qtype::Mx, &empty).is_err(),
        "name"
    );
    assert!(
        parse_response(2, "a.example", Qtype::A, &empty).is_err(),
        "type"
    );
    for cut in 0..empty.len() {
        let _ = parse_response(2, "a.example", Qtype::Mx, &empty[..cut]);
    }
    assert!(parse_response(2, "a.example", Qtype::Mx, b"\xff\xff\x00").is_err());
}

#[test]
fn truncation_is_reported() {
    let mut p = Packet::new_reply(5);
    p.set_flags(PacketFlag::TRUNCATION);
    p.questions.push(Question::new(
        Name::new_unchecked("big.example"),
        QTYPE::TYPE(TYPE::MX),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let bytes = p.build_bytes_vec().unwrap();
    assert!(
        parse_response(5, "big.example", Qtype::Mx, &bytes)
            .unwrap()
            .truncated
    );
}

#[test]
fn rfc6376_3_6_2_2_txt_strings_are_joined() {
    let name = "sel._domainkey.example.org";
    let txt = simple_dns::rdata::TXT::new()
        .with_string("v=DKIM1; k=rsa; p=AAAA")
        .unwrap()
        .with_string("BBBB")
        .unwrap();
    let bytes = reply(
        9,
        name,
        Qtype::Txt,
        RCODE::NoError,
        vec![rr(name, RData::TXT(txt))],
    );
    let parsed = parse_response(9, name, Qtype::Txt, &bytes).unwrap();
    assert_eq!(
        parsed.answer,
        Answer::Records(vec![Record::Txt("v=DKIM1; k=rsa; p=AAAABBBB".into())])
    );
}

/// RFC 6840 §5.7: the query sets AD so a validating resolver reports
/// whether the answer is secure; RFC 7672 §2.2 trusts that bit for TLSA.
#[test]
fn rfc6840_5_7_ad_bit_asked_and_read_with_tlsa_records() {
    let q = build_query(3, "_25._tcp.mx.example", Qtype::Tlsa).unwrap();
    assert_eq!(
        Packet::parse(&q).err(),
        Some(simple_dns::SimpleDnsError::InvalidQType(52))
    );
    let standin = tlsa_standin(&q).unwrap();
    let p = Packet::parse(&standin).unwrap();
    assert!(p.has_flags(PacketFlag::AUTHENTIC_DATA));
    assert_eq!(p.questions[0].qtype, QTYPE::TYPE(TYPE::NULL));
    assert_eq!(
        tlsa_standin(&build_query(3, "x.example", Qtype::A).unwrap()),
        None
    );
    let data = [3u8, 1, 1, 0xaa, 0xbb];
    let mut bytes = reply(
        3,
        "_25._tcp.mx.example",
        Qtype::Tlsa,
        RCODE::NoError,
        vec![rr(
            "_25._tcp.mx.example",
            RData::NULL(52, simple_dns::rdata::NULL::new(&data).unwrap()),
        )],
    );
    let parsed = parse_response(3, "_25._tcp.mx.example", Qtype::Tlsa, &bytes).unwrap();
    assert_eq!(
        parsed.answer,
        Answer::Records(vec![Record::Tlsa(data.to_vec())])
    );
    assert!(!parsed.authentic);
    bytes[3] |= 0x20; // the AD bit of the header's second flag byte
    let parsed = parse_response(3, "_25._tcp.mx.example", Qtype::Tlsa, &bytes).unwrap();
    assert!(parsed.authentic);
}

/// RFC 4035 §4.9.3, RFC 6698 §4.1: the AD bit counts only from resolvers
/// on this host; one remote server among them, or none, and it does not.
#[test]
fn rfc4035_4_9_3_ad_bit_trusted_only_over_loopback() {
    let local4: SocketAddr = "127.0.0.1:53".parse().unwrap();
    let local6: SocketAddr = "[::1]:5353".parse().unwrap();
    let remote: SocketAddr = "192.0.2.53:53".parse().unwrap();
    assert!(ad_trusted(&[local4]));
    assert!(ad_trusted(&[local4, local6]));
    assert!(!ad_trusted(&[remote]));
    assert!(!ad_trusted(&[local4, remote]));
    assert!(!ad_trusted(&[]));
}
