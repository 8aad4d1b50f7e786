//! The responder's rules, each from its RFC clause, driven through real
//! packets built and read by simple-dns.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use simple_dns::rdata::{A, PTR, RData};
use simple_dns::{CLASS, Name, Packet, PacketFlag, QCLASS, QTYPE, Question, ResourceRecord, TYPE};

use super::answer::{Dest, Recent, respond};
use super::probe::{self, Verdict};
use super::zone::{Addrs, Advert, HOST_TTL, OTHER_TTL, Zone};

fn zone() -> Zone {
    Zone::new(
        "mail",
        vec![
            Advert {
                kind: "_imaps._tcp",
                port: 993,
                txt: vec![],
            },
            Advert {
                kind: "_http._tcp",
                port: 8080,
                txt: vec!["path=/admin".into()],
            },
        ],
    )
}

fn addrs() -> Addrs {
    Addrs {
        v4: vec!["192.0.2.10".parse().unwrap()],
        v6: vec!["fe80::10".parse().unwrap()],
    }
}

fn peer() -> SocketAddr {
    "192.0.2.20:5353".parse().unwrap()
}

fn query(questions: &[(&str, TYPE, bool)], known: Vec<ResourceRecord<'static>>) -> Vec<u8> {
    let mut p = Packet::new_query(0);
    for (name, t, qu) in questions {
        p.questions.push(Question::new(
            Name::new_unchecked(name),
            QTYPE::TYPE(*t),
            QCLASS::CLASS(CLASS::IN),
            *qu,
        ));
    }
    p.answers = known;
    p.build_bytes_vec_compressed().unwrap()
}

fn ask(bytes: &[u8], from: SocketAddr) -> Option<(Vec<u8>, Dest)> {
    respond(
        &zone(),
        &addrs(),
        bytes,
        from,
        Instant::now(),
        &mut Recent::default(),
    )
    .map(|r| (r.bytes, r.dest))
}

#[test]
fn our_host_name_is_answered_by_multicast_with_the_cache_flush_bit_section_6_and_10_2() {
    let (bytes, dest) = ask(&query(&[("MAIL.local", TYPE::A, false)], vec![]), peer()).unwrap();
    assert_eq!(dest, Dest::Multicast);
    let reply = Packet::parse(&bytes).unwrap();
    // §18.1, §18.2, §18.4: ID 0, QR and AA set, no question echoed.
    assert_eq!(reply.id(), 0);
    assert!(reply.has_flags(PacketFlag::RESPONSE | PacketFlag::AUTHORITATIVE_ANSWER));
    assert!(reply.questions.is_empty());
    assert_eq!(reply.answers.len(), 1);
    let a = &reply.answers[0];
    assert_eq!(
        a.rdata,
        RData::A(A::from("192.0.2.10".parse::<std::net::Ipv4Addr>().unwrap()))
    );
    assert!(a.cache_flush);
    assert_eq!(a.ttl, HOST_TTL);
    // §6.2: the other address family comes along as an additional record.
    assert_eq!(reply.additional_records.len(), 1);
    assert_eq!(reply.additional_records[0].rdata.type_code(), TYPE::AAAA);
}

#[test]
fn other_names_and_responses_get_no_reply_section_6() {
    assert!(ask(&query(&[("other.local", TYPE::A, false)], vec![]), peer()).is_none());
    assert!(
        ask(
            &query(&[("_pop3._tcp.local", TYPE::PTR, false)], vec![]),
            peer()
        )
        .is_none()
    );
    let q = query(&[("mail.local", TYPE::A, false)], vec![]);
    let mut response = Packet::parse(&q).unwrap();
    response.set_flags(PacketFlag::RESPONSE);
    assert!(ask(&response.build_bytes_vec().unwrap(), peer()).is_none());
    assert!(ask(b"\x00\x01garbage", peer()).is_none());
    assert!(ask(&vec![0u8; 9001], peer()).is_none());
}

#[test]
fn compressed_question_names_are_read_rfc_1035_section_4_1_4() {
    // Two questions, the second's "local" a pointer into the first.
    let mut q = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x05other\x05local\x00\x00\x01\x00\x01");
    q.extend_from_slice(b"\x04mail\xc0\x12\x00\x01\x00\x01");
    let (bytes, _) = ask(&q, peer()).expect("the second question is ours");
    let reply = Packet::parse(&bytes).unwrap();
    assert_eq!(reply.answers[0].name.to_string(), "mail.local");
}

#[test]
fn the_qu_bit_gets_a_unicast_reply_once_the_link_has_the_answer_section_5_4() {
    let (z, a) = (zone(), addrs());
    let mut recent = Recent::default();
    let now = Instant::now();
    let qu = query(&[("mail.local", TYPE::A, true)], vec![]);
    // Not multicast lately: the answer goes to the whole link.
    let first = respond(&z, &a, &qu, peer(), now, &mut recent).unwrap();
    assert_eq!(first.dest, Dest::Multicast);
    // Multicast a second ago (well within a quarter of 120 s): unicast.
    let later = now + Duration::from_secs(1);
    let second = respond(&z, &a, &qu, peer(), later, &mut recent).unwrap();
    assert_eq!(second.dest, Dest::Unicast(peer()));
    // A quarter of the TTL on, the link is refreshed again.
    let much_later = now + Duration::from_secs(u64::from(HOST_TTL / 4) + 1);
    let third = respond(&z, &a, &qu, peer(), much_later, &mut recent).unwrap();
    assert_eq!(third.dest, Dest::Multicast);
}

#[test]
fn a_legacy_query_gets_its_id_question_and_short_ttls_back_section_6_7() {
    let q = query(&[("mail.local", TYPE::A, false)], vec![]);
    let mut p = Packet::parse(&q).unwrap();
    p.set_id(0x1234);
    let from: SocketAddr = "192.0.2.20:40000".parse().unwrap();
    let (bytes, dest) = ask(&p.build_bytes_vec().unwrap(), from).unwrap();
    assert_eq!(dest, Dest::Unicast(from));
    let reply = Packet::parse(&bytes).unwrap();
    assert_eq!(reply.id(), 0x1234);
    assert_eq!(reply.questions.len(), 1);
    assert_eq!(reply.questions[0].qname.to_string(), "mail.local");
    for rr in reply.answers.iter().chain(&reply.additional_records) {
        assert!(rr.ttl <= 10, "{rr:?}");
        assert!(!rr.cache_flush, "{rr:?}");
    }
}

#[test]
fn known_answers_with_half_their_ttl_are_not_repeated_section_7_1() {
    let known = |ttl| {
        vec![ResourceRecord::new(
            Name::new_unchecked("_imaps._tcp.local"),
            CLASS::IN,
            ttl,
            RData::PTR(PTR(Name::new_unchecked("mail._imaps._tcp.local"))),
        )]
    };
    let q = |ttl| query(&[("_imaps._tcp.local", TYPE::PTR, false)], known(ttl));
    assert!(ask(&q(OTHER_TTL / 2), peer()).is_none());
    assert!(ask(&q(OTHER_TTL / 2 - 1), peer()).is_some());
}

#[test]
fn a_service_ptr_brings_srv_txt_and_addresses_rfc_6763_section_12() {
    let (bytes, _) = ask(
        &query(&[("_imaps._tcp.local", TYPE::PTR, false)], vec![]),
        peer(),
    )
    .unwrap();
    let reply = Packet::parse(&bytes).unwrap();
    assert_eq!(reply.answers.len(), 1);
    assert!(!reply.answers[0].cache_flush, "a PTR is shared (§10.2)");
    assert_eq!(reply.answers[0].ttl, OTHER_TTL);
    let mut types: Vec<_> = reply
        .additional_records
        .iter()
        .map(|rr| (rr.rdata.type_code(), rr.ttl))
        .collect();
    types.sort_by_key(|(t, _)| u16::from(*t));
    assert_eq!(
        types,
        [
            (TYPE::A, HOST_TTL),
            (TYPE::TXT, OTHER_TTL),
            (TYPE::AAAA, HOST_TTL),
            (TYPE::SRV, HOST_TTL)
        ]
    );
    let srv = reply
        .additional_records
        .iter()
        .find_map(|rr| match &rr.rdata {
            RData::SRV(srv) => Some(srv.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (srv.port, srv.target.to_string()),
        (993, "mail.local".into())
    );
}

#[test]
fn the_service_types_are_enumerated_rfc_6763_section_9() {
    let (bytes, _) = ask(
        &query(
            &[("_services._dns-sd._udp.local", TYPE::PTR, false)],
            vec![],
        ),
        peer(),
    )
    .unwrap();
    let reply = Packet::parse(&bytes).unwrap();
    let kinds: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::PTR(p) => Some(p.0.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["_imaps._tcp.local", "_http._tcp.local"]);
}

#[test]
fn an_empty_txt_record_is_one_empty_string_rfc_6763_section_6_1() {
    let (bytes, _) = ask(
        &query(&[("mail._imaps._tcp.local", TYPE::TXT, false)], vec![]),
        peer(),
    )
    .unwrap();
    // The reply ends with the TXT rdata: RDLENGTH 1, one zero-length string.
    assert_eq!(&bytes[bytes.len() - 3..], &[0, 1, 0]);
    let (bytes, _) = ask(
        &query(&[("mail._http._tcp.local", TYPE::TXT, false)], vec![]),
        peer(),
    )
    .unwrap();
    assert!(bytes.ends_with(b"\x0bpath=/admin"));
}

#[test]
fn a_record_is_multicast_at_most_once_a_second_section_6() {
    let (z, a) = (zone(), addrs());
    let mut recent = Recent::default();
    let now = Instant::now();
    let q = query(&[("mail.local", TYPE::A, false)], vec![]);
    assert!(respond(&z, &a, &q, peer(), now, &mut recent).is_some());
    let soon = now + Duration::from_millis(300);
    assert!(respond(&z, &a, &q, peer(), soon, &mut recent).is_none());
    // A probe (records in Authority) may be answered after 250 ms (§8.1).
    let mut probe = Packet::parse(&q).unwrap();
    probe.name_servers.push(ResourceRecord::new(
        Name::new_unchecked("mail.local"),
        CLASS::IN,
        120,
        RData::A(A::from("192.0.2.99".parse::<std::net::Ipv4Addr>().unwrap())),
    ));
    let probe = probe.build_bytes_vec().unwrap();
    assert!(respond(&z, &a, &probe, peer(), soon, &mut recent).is_some());
    let later = soon + Duration::from_secs(1);
    assert!(respond(&z, &a, &q, peer(), later, &mut recent).is_some());
    // Unicast replies are not held back by it.
    let qu = query(&[("mail.local", TYPE::A, true)], vec![]);
    let reply = respond(&z, &a, &qu, peer(), later, &mut recent).unwrap();
    assert_eq!(reply.dest, Dest::Unicast(peer()));
}

#[test]
fn a_probe_asks_any_with_qu_and_carries_our_records_section_8_1() {
    let bytes = probe::probe_packet(&zone(), &addrs()).unwrap();
    let p = Packet::parse(&bytes).unwrap();
    assert!(!p.has_flags(PacketFlag::RESPONSE));
    let names: Vec<String> = p.questions.iter().map(|q| q.qname.to_string()).collect();
    assert_eq!(
        names,
        [
            "mail.local",
            "mail._imaps._tcp.local",
            "mail._http._tcp.local"
        ]
    );
    assert!(
        p.questions
            .iter()
            .all(|q| q.qtype == QTYPE::ANY && q.unicast_response)
    );
    // A, AAAA, and SRV + TXT for each instance.
    assert_eq!(p.name_servers.len(), 6);
}

fn answer_packet(ttl: u32, ip: &str, response: bool) -> Vec<u8> {
    let mut p = if response {
        Packet::new_reply(0)
    } else {
        Packet::new_query(0)
    };
    let rr = ResourceRecord::new(
        Name::new_unchecked("mail.local"),
        CLASS::IN,
        ttl,
        RData::A(A::from(ip.parse::<std::net::Ipv4Addr>().unwrap())),
    );
    if response {
        p.answers.push(rr.with_cache_flush(true));
    } else {
        p.questions.push(Question::new(
            Name::new_unchecked("mail.local"),
            QTYPE::ANY,
            QCLASS::CLASS(CLASS::IN),
            true,
        ));
        p.name_servers.push(rr);
    }
    p.build_bytes_vec().unwrap()
}

#[test]
fn another_hosts_answer_for_our_name_is_a_conflict_section_9() {
    let (z, a) = (zone(), addrs());
    let theirs = answer_packet(120, "192.0.2.99", true);
    assert!(matches!(
        probe::judge(&z, &a, &theirs, false),
        Verdict::Conflict(_)
    ));
    assert!(matches!(
        probe::judge(&z, &a, &theirs, true),
        Verdict::Conflict(_)
    ));
    // Our own announcement looped back, and a goodbye, are not.
    let ours = probe::announcement(&z, &a).unwrap();
    assert_eq!(probe::judge(&z, &a, &ours, false), Verdict::Fine);
    let goodbye = answer_packet(0, "192.0.2.99", true);
    assert_eq!(probe::judge(&z, &a, &goodbye, false), Verdict::Fine);
    assert_eq!(
        probe::judge(&z, &a, &answer_packet(120, "192.0.2.10", true), false),
        Verdict::Fine
    );
}

#[test]
fn simultaneous_probes_are_settled_by_the_later_data_section_8_2() {
    let (z, a) = (zone(), addrs());
    // Our proposed records for mail.local are A 192.0.2.10 and AAAA
    // fe80::10: class IN, type 1 sorts first, so 192.0.2.99 > 192.0.2.10
    // wins and 192.0.2.1 loses.
    let later = answer_packet(120, "192.0.2.99", false);
    let earlier = answer_packet(120, "192.0.2.1", false);
    assert_eq!(probe::judge(&z, &a, &later, true), Verdict::LostTieBreak);
    assert_eq!(probe::judge(&z, &a, &earlier, true), Verdict::Fine);
    // Only while probing: afterwards a probe is answered, not obeyed.
    assert_eq!(probe::judge(&z, &a, &later, false), Verdict::Fine);
    // Our own probe looped back is a tie: nobody loses.
    let ours = probe::probe_packet(&z, &a).unwrap();
    assert_eq!(probe::judge(&z, &a, &ours, true), Verdict::Fine);
}

#[test]
fn a_lost_name_gets_a_number_section_9() {
    assert_eq!(probe::next_label("mail"), "mail-2");
    assert_eq!(probe::next_label("mail-2"), "mail-3");
    assert_eq!(probe::next_label("mail-9"), "mail-10");
    assert_eq!(probe::next_label("my-box"), "my-box-2");
    let mut z = zone();
    z.rename("mail-2");
    let names: Vec<String> = z.unique_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(names[0], "mail-2.local");
    assert_eq!(names[1], "mail-2._imaps._tcp.local");
}

#[test]
fn goodbye_repeats_every_record_with_ttl_0_section_10_1() {
    let bytes = probe::goodbye(&zone(), &addrs()).unwrap();
    let p = Packet::parse(&bytes).unwrap();
    assert_eq!(p.answers.len(), zone().records(&addrs()).len());
    assert!(p.answers.iter().all(|rr| rr.ttl == 0));
}

#[test]
fn only_listeners_that_are_on_and_reachable_are_advertised_with_their_ports() {
    let env: HashMap<&str, &str> = [
        ("SMOLMAIL_HOSTNAME", "box.example.org"),
        ("SMOLMAIL_IMAPS", "[::]:10993"),
        ("SMOLMAIL_IMAP", "127.0.0.1:10143"),
        ("SMOLMAIL_POP3S", "off"),
        ("SMOLMAIL_HTTP", "off"),
        ("HOME", "/tmp"),
    ]
    .into();
    let config =
        crate::config::Config::resolve(&Default::default(), &|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
    assert_eq!(config.mdns.as_deref(), Some("box"));
    let adverts: Vec<(&str, u16)> = super::adverts(&config)
        .iter()
        .map(|a| (a.kind, a.port))
        .collect();
    assert_eq!(
        adverts,
        [
            ("_submission._tcp", 587),
            ("_submissions._tcp", 465),
            ("_imaps._tcp", 10993)
        ]
    );
}

#[test]
fn a_type_our_name_lacks_is_denied_by_nsec_section_6_1() {
    let v4_only = Addrs {
        v4: vec!["192.0.2.10".parse().unwrap()],
        v6: vec![],
    };
    let q = query(&[("mail.local", TYPE::AAAA, false)], vec![]);
    let reply = respond(
        &zone(),
        &v4_only,
        &q,
        peer(),
        Instant::now(),
        &mut Recent::default(),
    )
    .expect("an NSEC answer");
    let p = Packet::parse(&reply.bytes).unwrap();
    assert_eq!(p.answers.len(), 1);
    let nsec = &p.answers[0];
    assert!(nsec.cache_flush);
    assert_eq!(nsec.ttl, HOST_TTL);
    let RData::NSEC(rdata) = &nsec.rdata else {
        panic!("{nsec:?}")
    };
    assert_eq!(rdata.next_name.to_string(), "mail.local");
    // Window 0, one byte: type 1 (A) only, bit 0x40.
    assert_eq!(rdata.type_bit_maps.len(), 1);
    assert_eq!(&*rdata.type_bit_maps[0].bitmap, &[0x40]);
    // An instance name lacks A: SRV (33) and TXT (16) are listed.
    let q = query(&[("mail._imaps._tcp.local", TYPE::A, false)], vec![]);
    let (bytes, _) = ask(&q, peer()).unwrap();
    let p = Packet::parse(&bytes).unwrap();
    let RData::NSEC(rdata) = &p.answers[0].rdata else {
        panic!()
    };
    assert_eq!(&*rdata.type_bit_maps[0].bitmap, &[0, 0, 0x80, 0, 0x40]);
}

#[test]
fn while_probing_any_record_for_our_name_is_a_conflict_section_8_1() {
    let (z, a) = (zone(), addrs());
    let mut p = Packet::new_reply(0);
    let mut txt = simple_dns::rdata::TXT::new();
    txt.add_string("x").unwrap();
    p.answers.push(ResourceRecord::new(
        Name::new_unchecked("mail.local"),
        CLASS::IN,
        120,
        RData::TXT(txt),
    ));
    let theirs = p.build_bytes_vec().unwrap();
    assert!(matches!(
        probe::judge(&z, &a, &theirs, true),
        Verdict::Conflict(_)
    ));
    // Once the name is ours, a type we do not hold is no claim on it.
    assert_eq!(probe::judge(&z, &a, &theirs, false), Verdict::Fine);
}

#[test]
fn a_renamed_label_stays_within_63_bytes_rfc_1035_section_2_3_4() {
    let long = "x".repeat(63);
    let next = probe::next_label(&long);
    assert!(next.len() <= 63 && next.ends_with("-2"), "{next}");
    let numbered = format!("{}-99", "y".repeat(60));
    let next = probe::next_label(&numbered);
    assert!(next.len() <= 63 && next.ends_with("-100"), "{next}");
    // No overflow at the top of the counter: a new number is started.
    assert_eq!(probe::next_label("mail-4294967295"), "mail-4294967295-2");
}

#[test]
fn a_conflicting_record_is_logged_at_most_100_bytes_long() {
    let (z, a) = (zone(), addrs());
    let mut p = Packet::new_reply(0);
    let mut txt = simple_dns::rdata::TXT::new();
    let junk = "j".repeat(250);
    txt.add_string(&junk).unwrap();
    p.answers.push(ResourceRecord::new(
        Name::new_unchecked("mail.local"),
        CLASS::IN,
        120,
        RData::TXT(txt),
    ));
    let Verdict::Conflict(text) = probe::judge(&z, &a, &p.build_bytes_vec().unwrap(), true) else {
        panic!("no conflict");
    };
    assert!(text.len() <= 103, "{} bytes", text.len());
}
