//! A DNS server for the tests, built with simple-dns, UDP and TCP on one
//! port: MX, A, AAAA, TXT and TLSA records from a list; the AD bit on
//! answers for names said to be signed (DANE tests: RFC 7672 trusts the
//! bit from a validating resolver).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use simple_dns::rdata::{A, AAAA, MX, NULL, RData, TXT};
use simple_dns::{CLASS, Name, Packet, PacketFlag, QTYPE, RCODE, ResourceRecord, TYPE};

/// A record the test DNS server serves.
#[derive(Clone)]
pub enum Rr {
    Mx(u16, &'static str),
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Txt(&'static str),
    /// TLSA record data (RFC 6698 §2.1): usage, selector, matching, data.
    Tlsa(Vec<u8>),
}

/// An authoritative-enough DNS server for the tests: names it does not
/// know are NXDOMAIN, names in `truncated` answer UDP with TC set (so the
/// client must ask again over TCP), answers for names in `signed` carry
/// the AD bit, as a validating resolver's do for a signed zone.
pub struct Dns {
    pub port: u16,
    pub tcp_queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(
    query: &[u8],
    zone: &[(&str, Rr)],
    truncate: bool,
    signed: &HashSet<String>,
) -> Option<Vec<u8>> {
    // simple-dns reads no TLSA question (type 52): smolmail's stand-in
    // turns it into NULL for parsing, and the reply says TLSA again.
    let standin;
    let (q, tlsa) = match Packet::parse(query) {
        Ok(q) => (q, false),
        Err(_) => {
            standin = smolmail::net::dns::tlsa_standin(query)?;
            (Packet::parse(&standin).ok()?, true)
        }
    };
    let mut question = q.questions.first()?.clone();
    if tlsa {
        question.qtype = QTYPE::TYPE(TYPE::Unknown(52));
    }
    let name = question.qname.to_string().to_ascii_lowercase();
    let mut reply = Packet::new_reply(q.id());
    reply.set_flags(PacketFlag::RECURSION_AVAILABLE | PacketFlag::RECURSION_DESIRED);
    if signed.contains(&name) {
        reply.set_flags(PacketFlag::AUTHENTIC_DATA);
    }
    reply.questions.push(question.clone());
    let known = zone.iter().any(|(n, _)| *n == name);
    if !known {
        *reply.rcode_mut() = RCODE::NameError;
        return reply.build_bytes_vec().ok();
    }
    if truncate {
        reply.set_flags(PacketFlag::TRUNCATION);
        return reply.build_bytes_vec().ok();
    }
    for (n, rr) in zone {
        if *n != name {
            continue;
        }
        let rdata = match (rr, &question.qtype) {
            (Rr::Mx(preference, exchange), QTYPE::TYPE(TYPE::MX)) => RData::MX(MX {
                preference: *preference,
                exchange: Name::new_unchecked(exchange),
            }),
            (Rr::A(ip), QTYPE::TYPE(TYPE::A)) => RData::A(A {
                address: u32::from(*ip),
            }),
            (Rr::Aaaa(ip), QTYPE::TYPE(TYPE::AAAA)) => RData::AAAA(AAAA {
                address: u128::from(*ip),
            }),
            (Rr::Txt(text), QTYPE::TYPE(TYPE::TXT)) => {
                RData::TXT(TXT::new().with_string(text).ok()?)
            }
            (Rr::Tlsa(data), _) if tlsa => RData::NULL(52, NULL::new(data).ok()?),
            _ => continue,
        };
        reply.answers.push(ResourceRecord::new(
            Name::new_unchecked(n),
            CLASS::IN,
            60,
            rdata,
        ));
    }
    reply.build_bytes_vec().ok()
}

impl Dns {
    pub fn start(zone: Vec<(&'static str, Rr)>, truncated: &[&'static str]) -> Dns {
        Dns::start_signed(zone, truncated, &[])
    }

    /// As [`Dns::start`], answers for `signed` names with the AD bit.
    pub fn start_signed(
        zone: Vec<(&'static str, Rr)>,
        truncated: &[&'static str],
        signed: &[&'static str],
    ) -> Dns {
        // One port free for both UDP and TCP.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                break (udp, tcp);
            }
        };
        let port = udp.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        let zone = Arc::new(zone);
        let truncated: Arc<HashSet<String>> =
            Arc::new(truncated.iter().map(|s| s.to_string()).collect());
        let signed: Arc<HashSet<String>> = Arc::new(signed.iter().map(|s| s.to_string()).collect());
        {
            let (zone, truncated, stop) = (zone.clone(), truncated.clone(), stop.clone());
            let signed = signed.clone();
            udp.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    let name = Packet::parse(&buf[..n])
                        .ok()
                        .and_then(|p| p.questions.first().map(|q| q.qname.to_string()))
                        .unwrap_or_default();
                    if let Some(reply) =
                        answer(&buf[..n], &zone, truncated.contains(&name), &signed)
                    {
                        let _ = udp.send_to(&reply, from);
                    }
                }
            });
        }
        {
            let (zone, stop, count) = (zone.clone(), stop.clone(), tcp_queries.clone());
            tcp.set_nonblocking(true).unwrap();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((mut s, _)) = tcp.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    s.set_nonblocking(false).unwrap();
                    let mut len = [0u8; 2];
                    if s.read_exact(&mut len).is_err() {
                        continue;
                    }
                    let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                    if s.read_exact(&mut q).is_err() {
                        continue;
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    if let Some(reply) = answer(&q, &zone, false, &signed) {
                        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&reply);
                        let _ = s.write_all(&framed);
                    }
                }
            });
        }
        Dns {
            port,
            tcp_queries,
            stop,
        }
    }

    pub fn flag(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
