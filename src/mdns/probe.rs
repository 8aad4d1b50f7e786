//! Claiming our names and defending them: probes (RFC 6762 §8.1), the
//! tie-break between two simultaneous probers (§8.2), announcements
//! (§8.3), conflicts found later (§9), the next name to try after losing
//! one, and goodbyes (§10.1). Pure: packets in, packets and verdicts out.

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Packet, PacketFlag, QCLASS, QTYPE, Question, ResourceRecord};

use super::answer::build;
use super::zone::{Addrs, Zone};

/// What a packet heard while probing or after means for our names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing about our names, or only agreement with them.
    Fine,
    /// Another host holds one of our names (§8.1 during probing, §9
    /// after): take another name and probe again. The record that says
    /// so, for the log.
    Conflict(String),
    /// Another host probes for one of our names with data that sorts
    /// later than ours (§8.2): we lost the tie-break; wait one second and
    /// probe again for the same name.
    LostTieBreak,
}

/// A probe (§8.1): an "ANY" question for each unique name with the QU bit
/// (the first probes ask for unicast replies, §8.1), and the records we
/// intend to hold in the Authority section so that a simultaneous prober
/// can run the tie-break.
pub fn probe_packet(zone: &Zone, addrs: &Addrs) -> Option<Vec<u8>> {
    let questions = zone
        .unique_names()
        .into_iter()
        .map(|n| Question::new(n, QTYPE::ANY, QCLASS::CLASS(CLASS::IN), true))
        .collect();
    let mut packet = Packet::new_query(0);
    packet.questions = questions;
    packet.name_servers = unique_records(zone, addrs)
        .into_iter()
        .map(|rr| rr.with_cache_flush(false))
        .collect();
    packet.build_bytes_vec_compressed().ok()
}

/// An unsolicited response with every record (§8.3), the unique ones with
/// the cache-flush bit so that caches drop stale data (§10.2).
pub fn announcement(zone: &Zone, addrs: &Addrs) -> Option<Vec<u8>> {
    build(0, Vec::new(), zone.records(addrs), Vec::new())
}

/// The same records with TTL 0 (§10.1): caches forget them in a second.
pub fn goodbye(zone: &Zone, addrs: &Addrs) -> Option<Vec<u8>> {
    let records = zone
        .records(addrs)
        .into_iter()
        .map(|mut rr| {
            rr.ttl = 0;
            rr
        })
        .collect();
    build(0, Vec::new(), records, Vec::new())
}

/// What `packet` means for our names. `ours` are every address we hold
/// on any link (our own multicast loops back to us and must agree);
/// `probing` says whether we are still probing (§8.2's tie-break applies
/// only then).
pub fn judge(zone: &Zone, ours: &Addrs, packet: &[u8], probing: bool) -> Verdict {
    let Ok(packet) = Packet::parse(packet) else {
        return Verdict::Fine;
    };
    let names = zone.unique_names();
    let mine = unique_records(zone, ours);
    if packet.has_flags(PacketFlag::RESPONSE) {
        // §9: a record with one of our unique names, a type we hold and
        // data we do not hold is somebody else's claim. A goodbye (TTL 0)
        // claims nothing.
        // §8.1: while probing, a record of any type for one of our names
        // means someone holds it, except NSEC: an NSEC alone claims no
        // data, and ours, sent just before a §9 re-probe, may loop back.
        let theirs = packet.answers.iter().chain(&packet.additional_records);
        for rr in theirs {
            let same_rrset = |m: &&ResourceRecord<'_>| {
                m.name == rr.name && m.rdata.type_code() == rr.rdata.type_code()
            };
            let type_counts = if probing {
                !matches!(rr.rdata, RData::NSEC(_))
            } else {
                mine.iter().any(|m| same_rrset(&m))
            };
            if rr.ttl > 0
                && names.contains(&rr.name)
                && type_counts
                && !mine.iter().filter(same_rrset).any(|m| m.rdata == rr.rdata)
            {
                return Verdict::Conflict(clip(format!("{} {:?}", rr.name, rr.rdata)));
            }
        }
        return Verdict::Fine;
    }
    if !probing || packet.name_servers.is_empty() {
        return Verdict::Fine;
    }
    // §8.2: a simultaneous probe for one of our names. Compare the two
    // sets of proposed records, each sorted, by class, type, then rdata
    // as raw bytes; the lexicographically later set wins.
    for name in &names {
        let theirs: Vec<&ResourceRecord<'_>> = packet
            .name_servers
            .iter()
            .filter(|rr| rr.name == *name)
            .collect();
        if theirs.is_empty() {
            continue;
        }
        let ours_here: Vec<&ResourceRecord<'_>> =
            mine.iter().filter(|rr| rr.name == *name).collect();
        if sort_key(&ours_here) < sort_key(&theirs) {
            return Verdict::LostTieBreak;
        }
    }
    Verdict::Fine
}

/// The records we hold alone: addresses, SRV and TXT.
fn unique_records<'a>(zone: &'a Zone, addrs: &Addrs) -> Vec<ResourceRecord<'a>> {
    zone.records(addrs)
        .into_iter()
        .filter(|rr| rr.cache_flush)
        .collect()
}

/// §8.2's order: records sorted by (class without the cache-flush bit,
/// type, rdata in uncompressed wire form).
fn sort_key(records: &[&ResourceRecord<'_>]) -> Vec<(u16, u16, Vec<u8>)> {
    let mut keys: Vec<_> = records
        .iter()
        .map(|rr| {
            (
                rr.class as u16,
                u16::from(rr.rdata.type_code()),
                rdata_bytes(rr),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// A record's rdata as raw uncompressed bytes: the record written alone
/// into a packet, then read past the header, owner name and fixed fields.
fn rdata_bytes(rr: &ResourceRecord<'_>) -> Vec<u8> {
    let mut packet = Packet::new_reply(0);
    packet.answers.push(rr.clone());
    let Ok(bytes) = packet.build_bytes_vec() else {
        return Vec::new();
    };
    let mut at = 12;
    while let Some(&len) = bytes.get(at) {
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    bytes.get(at + 10..).map(<[u8]>::to_vec).unwrap_or_default()
}

/// The other host's record, for the log: at most 100 bytes of it, the
/// rest being the sender's to choose.
fn clip(mut text: String) -> String {
    if text.len() > 100 {
        let mut end = 100;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// The label to try after `label` was lost (§9: "a new name, e.g. by
/// adding a number"): `mail` → `mail-2` → `mail-3` ... The base is cut so
/// that the label stays within DNS's 63 bytes (RFC 1035 §2.3.4).
pub fn next_label(label: &str) -> String {
    let numbered = label.rsplit_once('-').and_then(|(base, n)| {
        let n = n
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 2 && !base.is_empty())?;
        Some((base, n.checked_add(1)?))
    });
    let (base, n) = numbered.unwrap_or((label, 2));
    let suffix = format!("-{n}");
    let mut end = base.len().min(63 - suffix.len());
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    let base = base[..end].trim_end_matches('-');
    let base = if base.is_empty() { "smolmail" } else { base };
    format!("{base}{suffix}")
}
