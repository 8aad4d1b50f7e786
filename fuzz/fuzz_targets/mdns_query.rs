//! Fuzzes the mDNS responder's reading of packets from the link
//! (`mdns::answer::respond`, RFC 6762 §6, §6.7, §7.1; decoded by
//! simple-dns) and its conflict judge (`mdns::probe::judge`, §8.2, §9).
//!
//! Checks:
//! - nothing panics, whatever the packet;
//! - a reply is at most 9000 bytes (§17), reads back as a response with
//!   the AA bit, and holds only records of our own names;
//! - a legacy query (source port not 5353) gets its ID back, TTLs of at
//!   most 10 s and no cache-flush bit (§6.7); a multicast reply has ID 0
//!   (§18.1) and is not multicast again at once (§6).
//!
//! Input: one packet; its first byte's low bit picks a legacy source port.

#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use simple_dns::{Packet, PacketFlag};
use smolmail::mdns::answer::{Dest, Recent, respond};
use smolmail::mdns::probe;
use smolmail::mdns::zone::{Addrs, Advert, Zone};

fuzz_target!(|data: &[u8]| {
    let zone = Zone::new(
        "mail",
        vec![
            Advert {
                kind: "_imaps._tcp",
                port: 993,
                txt: vec![],
            },
            Advert {
                kind: "_http._tcp",
                port: 80,
                txt: vec!["path=/admin".into()],
            },
        ],
    );
    let addrs = Addrs {
        v4: vec!["192.0.2.10".parse().unwrap()],
        v6: vec!["fe80::10".parse().unwrap()],
    };
    let legacy = data.first().is_some_and(|b| b & 1 == 1);
    let from: SocketAddr = if legacy {
        "192.0.2.20:40000".parse().unwrap()
    } else {
        "192.0.2.20:5353".parse().unwrap()
    };
    for probing in [false, true] {
        let _ = probe::judge(&zone, &addrs, data, probing);
    }
    let now = Instant::now();
    let mut recent = Recent::default();
    let Some(reply) = respond(&zone, &addrs, data, from, now, &mut recent) else {
        return;
    };
    assert!(reply.bytes.len() <= 9000);
    let parsed = Packet::parse(&reply.bytes).expect("our reply reads back");
    assert!(parsed.has_flags(PacketFlag::RESPONSE | PacketFlag::AUTHORITATIVE_ANSWER));
    assert!(!parsed.answers.is_empty());
    let ours: Vec<String> = zone
        .records(&addrs)
        .iter()
        .map(|rr| rr.name.to_string())
        .collect();
    for rr in parsed.answers.iter().chain(&parsed.additional_records) {
        assert!(ours.contains(&rr.name.to_string()), "{rr:?}");
        if legacy {
            assert!(rr.ttl <= 10 && !rr.cache_flush, "{rr:?}");
        }
    }
    let query = Packet::parse(data).expect("a query answered was read");
    if legacy {
        assert_eq!(parsed.id(), query.id());
    }
    if reply.dest == Dest::Multicast {
        assert_eq!(parsed.id(), 0);
        // Asked again at once: nothing more by multicast (§6); a QU
        // question may now be answered by unicast (§5.4).
        let again = respond(&zone, &addrs, data, from, now, &mut recent);
        assert!(again.is_none_or(|r| r.dest != Dest::Multicast));
    }
});
