//! The responder's pure part: a query packet in, our reply (if any) out.
//! No sockets and no clock of its own: the caller passes the time and the
//! record of what was multicast lately, so every rule is unit-tested.
//!
//! RFC 6762 rules applied here:
//! - §6: we answer only questions about our own names; §18.3, §18.11:
//!   queries with another opcode or rcode are ignored;
//! - §5.4: a query whose questions all have the unicast-response ("QU")
//!   bit is answered by unicast to the asker's address, unless we have
//!   not multicast the answer within a quarter of its TTL;
//! - §6.7: a query from a port other than 5353 is a legacy one-shot
//!   resolver's: a unicast reply with its ID and question echoed, TTLs
//!   capped at 10 s and no cache-flush bit;
//! - §6.1: a type one of our unique names lacks is denied by NSEC;
//! - §7.1: an answer the asker already holds with at least half its TTL
//!   left (the query's Answer section) is not sent again;
//! - §6: a record is multicast at most once a second (a quarter second
//!   when answering a probe, §8.1 lets a defence be quicker);
//! - §18.1 and §18.4: multicast replies carry ID 0 and the AA bit;
//!   RFC 6763 §12: additional records save the asker its next queries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use simple_dns::rdata::{NSEC, NsecTypeBitMap, RData};
use simple_dns::{
    CLASS, Name, OPCODE, Packet, PacketFlag, QCLASS, QTYPE, Question, RCODE, ResourceRecord, TYPE,
};

use super::zone::{Addrs, HOST_TTL, Zone};

/// The mDNS port (RFC 6762 §3).
pub const PORT: u16 = 5353;
/// The largest mDNS packet read or written (RFC 6762 §17: 9000 bytes
/// including the IP and UDP headers; reading that much is harmless).
pub const MAX_PACKET: usize = 9000;
/// Questions looked at per query: a query of ours is answered by a
/// handful; the rest of a longer one is somebody else's business.
const MAX_QUESTIONS: usize = 32;
/// Known answers compared per query (§7.1), bounding the work a big
/// packet can cause: MAX_QUESTIONS × our dozen records × this.
const MAX_KNOWN: usize = 64;
/// Legacy unicast replies carry TTLs of at most this (§6.7).
const LEGACY_TTL: u32 = 10;

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// To 224.0.0.251 / ff02::fb port 5353 on the link it came from.
    Multicast,
    /// To the asker alone (§5.4 QU queries, §6.7 legacy queries).
    Unicast(SocketAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub dest: Dest,
}

/// When each of our records was last multicast (§6). Bounded by our own
/// record count: keys are our records, never the asker's.
#[derive(Debug, Default)]
pub struct Recent {
    sent: HashMap<(String, u16, String), Instant>,
}

impl Recent {
    fn key(rr: &ResourceRecord<'_>) -> (String, u16, String) {
        (
            rr.name.to_string().to_ascii_lowercase(),
            u16::from(rr.rdata.type_code()),
            format!("{:?}", rr.rdata),
        )
    }

    fn sent_within(&self, rr: &ResourceRecord<'_>, now: Instant, within: Duration) -> bool {
        self.sent
            .get(&Self::key(rr))
            .is_some_and(|at| now.saturating_duration_since(*at) < within)
    }

    /// Notes that `records` went out by multicast at `now` (answers and
    /// announcements alike).
    pub fn note(&mut self, records: &[ResourceRecord<'_>], now: Instant) {
        for rr in records {
            self.sent.insert(Self::key(rr), now);
        }
    }

    /// Forgets everything (our records changed: new name or addresses).
    pub fn clear(&mut self) {
        self.sent.clear();
    }
}

/// Our answer to `query`, received from `from`, with `addrs` as the host's
/// addresses on that link; `None` when we have nothing to say.
pub fn respond(
    zone: &Zone,
    addrs: &Addrs,
    query: &[u8],
    from: SocketAddr,
    now: Instant,
    recent: &mut Recent,
) -> Option<Reply> {
    if query.len() > MAX_PACKET {
        return None;
    }
    let packet = Packet::parse(query).ok()?;
    if packet.has_flags(PacketFlag::RESPONSE)
        || packet.opcode() != OPCODE::StandardQuery
        || packet.rcode() != RCODE::NoError
    {
        return None;
    }
    let legacy = from.port() != PORT;
    let ours = zone.records(addrs);
    let unique = zone.unique_names();
    let known = &packet.answers[..packet.answers.len().min(MAX_KNOWN)];
    let mut answers: Vec<ResourceRecord<'_>> = Vec::new();
    let mut all_qu = true;
    for question in packet.questions.iter().take(MAX_QUESTIONS) {
        let mut matching: Vec<ResourceRecord<'_>> = ours
            .iter()
            .filter(|rr| asks_for(question, rr))
            .cloned()
            .collect();
        if matching.is_empty() {
            // §6.1: a type our unique name does not have is denied with
            // an NSEC record, so the asker stops waiting for it.
            match negative(question, &ours, &unique) {
                Some(nsec) => matching.push(nsec),
                None => continue,
            }
        }
        all_qu &= question.unicast_response;
        for rr in matching {
            if !already_known(&rr, known) && !answers.contains(&rr) {
                answers.push(rr);
            }
        }
    }
    // §5.4: a QU question is answered by unicast, unless an answer has
    // not been multicast within a quarter of its TTL: then by multicast,
    // which refreshes every cache on the link at the same cost.
    let stale = |rr: &ResourceRecord<'_>| {
        !recent.sent_within(rr, now, Duration::from_secs(u64::from(rr.ttl / 4)))
    };
    let dest = if legacy || (all_qu && !answers.iter().any(stale)) {
        Dest::Unicast(from)
    } else {
        Dest::Multicast
    };
    if dest == Dest::Multicast {
        // A defence against a probe (a query with records in Authority)
        // may follow sooner than a plain repeat (§6, §8.1).
        let within = if packet.name_servers.is_empty() {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(250)
        };
        answers.retain(|rr| !recent.sent_within(rr, now, within));
    }
    if answers.is_empty() {
        return None;
    }
    let additional = additional_for(&answers, &ours);
    let bytes = if legacy {
        legacy_reply(&packet, answers, additional)?
    } else {
        if dest == Dest::Multicast {
            recent.note(&answers, now);
        }
        build(0, Vec::new(), answers, additional)?
    };
    Some(Reply { bytes, dest })
}

/// Whether `question` asks for our record `rr`: same name (case-blind,
/// simple-dns compares labels so), a type it covers, class IN.
fn asks_for(question: &Question<'_>, rr: &ResourceRecord<'_>) -> bool {
    let class_ok = matches!(question.qclass, QCLASS::ANY | QCLASS::CLASS(CLASS::IN));
    let type_ok = match question.qtype {
        QTYPE::ANY => true,
        QTYPE::TYPE(t) => t == rr.rdata.type_code(),
        _ => false,
    };
    class_ok && type_ok && question.qname == rr.name
}

/// §6.1: for a question about one of our unique names asking a type it
/// has no record of, an NSEC record naming the types it does have: owner
/// and next name the name itself, the bitmap in window 0 (all our types
/// are below 256), the TTL of the host records, the cache-flush bit.
fn negative<'a>(
    question: &Question<'_>,
    ours: &[ResourceRecord<'a>],
    unique: &[Name<'a>],
) -> Option<ResourceRecord<'a>> {
    let QTYPE::TYPE(_) = question.qtype else {
        return None;
    };
    if !matches!(question.qclass, QCLASS::ANY | QCLASS::CLASS(CLASS::IN)) {
        return None;
    }
    let name = unique.iter().find(|n| **n == question.qname)?;
    let mut bitmap = Vec::new();
    for rr in ours.iter().filter(|rr| rr.name == *name) {
        let t = u16::from(rr.rdata.type_code());
        let (byte, bit) = (usize::from(t / 8), t % 8);
        if t < 256 {
            if bitmap.len() <= byte {
                bitmap.resize(byte + 1, 0u8);
            }
            bitmap[byte] |= 0x80 >> bit;
        }
    }
    if bitmap.is_empty() {
        // A host name without addresses yet: nothing to deny against.
        return None;
    }
    let nsec = NSEC {
        next_name: name.clone(),
        type_bit_maps: vec![NsecTypeBitMap {
            window_block: 0,
            bitmap: bitmap.into(),
        }],
    };
    Some(
        ResourceRecord::new(name.clone(), CLASS::IN, HOST_TTL, RData::NSEC(nsec))
            .with_cache_flush(true),
    )
}

/// §7.1: the asker listed `rr` among its known answers with at least half
/// our TTL left.
fn already_known(rr: &ResourceRecord<'_>, known: &[ResourceRecord<'_>]) -> bool {
    known
        .iter()
        .any(|k| k == rr && u64::from(k.ttl) * 2 >= u64::from(rr.ttl))
}

/// RFC 6763 §12 (and RFC 6762 §6.2 for addresses): for a PTR to a service
/// instance, its SRV and TXT and the host's addresses; for an SRV, the
/// addresses; for an address, the host's other addresses.
fn additional_for<'a>(
    answers: &[ResourceRecord<'a>],
    ours: &[ResourceRecord<'a>],
) -> Vec<ResourceRecord<'a>> {
    let mut wanted: Vec<&simple_dns::Name<'a>> = Vec::new();
    for rr in answers {
        match &rr.rdata {
            RData::PTR(ptr) => wanted.push(&ptr.0),
            RData::SRV(srv) => wanted.push(&srv.target),
            RData::A(_) | RData::AAAA(_) => wanted.push(&rr.name),
            _ => {}
        }
    }
    // The SRV records found add their targets (one more step suffices:
    // an SRV points at the host, whose records point nowhere).
    for rr in ours {
        if let RData::SRV(srv) = &rr.rdata
            && wanted.contains(&&rr.name)
        {
            wanted.push(&srv.target);
        }
    }
    let mut extra: Vec<ResourceRecord<'a>> = Vec::new();
    for rr in ours {
        let is_ptr = rr.rdata.type_code() == TYPE::PTR;
        if !is_ptr && wanted.contains(&&rr.name) && !answers.contains(rr) && !extra.contains(rr) {
            extra.push(rr.clone());
        }
    }
    extra
}

/// §6.7: the legacy asker's ID and question back, TTLs of at most 10 s,
/// no cache-flush bit (a legacy resolver would read it as class 32769).
fn legacy_reply<'a>(
    query: &'a Packet<'a>,
    answers: Vec<ResourceRecord<'a>>,
    additional: Vec<ResourceRecord<'a>>,
) -> Option<Vec<u8>> {
    let plain = |rr: ResourceRecord<'a>| {
        let mut rr = rr.with_cache_flush(false);
        rr.ttl = rr.ttl.min(LEGACY_TTL);
        rr
    };
    let questions = query
        .questions
        .iter()
        .take(MAX_QUESTIONS)
        .map(|q| Question::new(q.qname.clone(), q.qtype, q.qclass, false))
        .collect();
    build(
        query.id(),
        questions,
        answers.into_iter().map(plain).collect(),
        additional.into_iter().map(plain).collect(),
    )
}

/// A response packet (QR and AA set, §18.2, §18.4), name-compressed and
/// at most MAX_PACKET bytes.
pub fn build<'a>(
    id: u16,
    questions: Vec<Question<'a>>,
    answers: Vec<ResourceRecord<'a>>,
    additional: Vec<ResourceRecord<'a>>,
) -> Option<Vec<u8>> {
    let mut packet = Packet::new_reply(id);
    packet.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    packet.questions = questions;
    packet.answers = answers;
    packet.additional_records = additional;
    let bytes = packet.build_bytes_vec_compressed().ok()?;
    if bytes.len() <= MAX_PACKET {
        return Some(bytes);
    }
    // Additional records are a courtesy: drop them before the answers.
    packet.additional_records.clear();
    packet
        .build_bytes_vec_compressed()
        .ok()
        .filter(|b| b.len() <= MAX_PACKET)
}
