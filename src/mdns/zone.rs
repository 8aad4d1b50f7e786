//! Our records: the host name with its addresses and one DNS-SD service
//! instance per advertised listener (RFC 6763 §4: PTR from the service
//! type to the instance, SRV to host and port, TXT), plus the service-type
//! enumeration PTR of RFC 6763 §9.
//!
//! Names are kept as owned strings and the records borrow them
//! (simple-dns's `Name<'a>`), built afresh for each answer: there are a
//! dozen of them and a query is rare, so nothing is cached.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::{A, AAAA, PTR, RData, SRV, TXT};
use simple_dns::{CLASS, Name, ResourceRecord};

/// TTL of the host's address records: RFC 6762 §10, records with the
/// host name in them (A, AAAA, SRV) should be 120 s.
pub const HOST_TTL: u32 = 120;
/// TTL of everything else (PTR, TXT): 75 minutes, RFC 6762 §10. SRV
/// carries the host name, so it takes HOST_TTL as §10 recommends.
pub const OTHER_TTL: u32 = 4500;

/// `_services._dns-sd._udp.local`: RFC 6763 §9, the list of service types.
pub const SERVICES_NAME: &str = "_services._dns-sd._udp.local";

/// One advertised service: its DNS-SD type and the port it listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// e.g. `_imaps._tcp` (RFC 6335 service name, RFC 6763 §7).
    pub kind: &'static str,
    pub port: u16,
    /// `key=value` strings of the TXT record; empty gives the single
    /// empty string RFC 6763 §6.1 requires.
    pub txt: Vec<String>,
}

/// The addresses answered for the host name: those of the interface a
/// query came in on, or all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addrs {
    pub v4: Vec<Ipv4Addr>,
    pub v6: Vec<Ipv6Addr>,
}

impl Addrs {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.v4.contains(&v4),
            IpAddr::V6(v6) => self.v6.contains(&v6),
        }
    }
}

/// Everything we answer for, under one name label.
#[derive(Debug, Clone)]
pub struct Zone {
    label: String,
    host: String,
    adverts: Vec<Advert>,
    /// `_imaps._tcp.local`, parallel to `adverts`.
    types: Vec<String>,
    /// `LABEL._imaps._tcp.local`, parallel to `adverts`.
    instances: Vec<String>,
}

impl Zone {
    pub fn new(label: &str, adverts: Vec<Advert>) -> Zone {
        let mut zone = Zone {
            label: String::new(),
            host: String::new(),
            types: adverts
                .iter()
                .map(|a| format!("{}.local", a.kind))
                .collect(),
            instances: Vec::new(),
            adverts,
        };
        zone.rename(label);
        zone
    }

    /// Takes a new label (after a conflict, RFC 6762 §9): the host name
    /// and every instance name follow it.
    pub fn rename(&mut self, label: &str) {
        self.label = label.to_string();
        self.host = format!("{label}.local");
        self.instances = self
            .adverts
            .iter()
            .map(|a| format!("{label}.{}.local", a.kind))
            .collect();
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// `LABEL.local`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The names only we may hold (RFC 6762 §8.1 probes them): the host
    /// name and each service instance.
    pub fn unique_names(&self) -> Vec<Name<'_>> {
        std::iter::once(&self.host)
            .chain(&self.instances)
            .map(|n| name(n))
            .collect()
    }

    /// Every record: shared ones (PTR) without, unique ones with the
    /// cache-flush bit (RFC 6762 §10.2), addresses from `addrs`.
    pub fn records(&self, addrs: &Addrs) -> Vec<ResourceRecord<'_>> {
        let mut out = self.host_records(addrs);
        for (i, advert) in self.adverts.iter().enumerate() {
            let (kind, instance) = (name(&self.types[i]), name(&self.instances[i]));
            out.push(shared(SERVICES_NAME, RData::PTR(PTR(kind.clone()))));
            out.push(shared(&self.types[i], RData::PTR(PTR(instance.clone()))));
            let srv = SRV {
                priority: 0,
                weight: 0,
                port: advert.port,
                target: name(&self.host),
            };
            out.push(unique(&self.instances[i], HOST_TTL, RData::SRV(srv)));
            // RFC 6763 §6.1: at least one string, the empty one if there
            // is nothing to say (written out, so that it equals the TXT
            // record read back from the wire).
            let mut txt = TXT::new();
            if advert.txt.is_empty() {
                let _ = txt.add_string("");
            }
            for s in &advert.txt {
                // Our own short ASCII strings: they always fit.
                let _ = txt.add_string(s);
            }
            out.push(unique(&self.instances[i], OTHER_TTL, RData::TXT(txt)));
        }
        out
    }

    /// The A and AAAA records of the host name.
    pub fn host_records(&self, addrs: &Addrs) -> Vec<ResourceRecord<'_>> {
        let v4 = addrs.v4.iter().map(|a| RData::A(A::from(*a)));
        let v6 = addrs.v6.iter().map(|a| RData::AAAA(AAAA::from(*a)));
        v4.chain(v6)
            .map(|rdata| unique(&self.host, HOST_TTL, rdata))
            .collect()
    }
}

/// A name we built ourselves from checked labels.
pub fn name(text: &str) -> Name<'_> {
    Name::new_unchecked(text)
}

fn shared<'a>(owner: &'a str, rdata: RData<'a>) -> ResourceRecord<'a> {
    ResourceRecord::new(name(owner), CLASS::IN, OTHER_TTL, rdata)
}

fn unique<'a>(owner: &'a str, ttl: u32, rdata: RData<'a>) -> ResourceRecord<'a> {
    ResourceRecord::new(name(owner), CLASS::IN, ttl, rdata).with_cache_flush(true)
}
