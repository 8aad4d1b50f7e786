//! A stub resolver for outbound delivery's MX lookups and for the host
//! names of every client connection (`super::resolve`): MX, A, AAAA, TXT
//! and TLSA questions to the configured recursive servers (`--dns-server`, else
//! /etc/resolv.conf), over UDP, again over TCP when the answer comes back truncated
//! (RFC 1035 §4.2.1, RFC 7766 §5), with per-server timeouts and retries as
//! resolv.conf(5) describes them. Everything is async: one lookup never
//! holds up the executor.
//!
//! Building the question and reading the answer are pure functions over
//! bytes ([`build_query`], [`parse_response`], [`parse_resolv_conf`]), so the
//! tests reach them without a socket. Packets are encoded and decoded by
//! `simple-dns`; what an answer *means* for mail (CNAME chains, NXDOMAIN
//! versus no data, which errors are worth another server) is decided here.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, PacketFlag, QCLASS, QTYPE, Question, RCODE, TYPE};
use smol::Async;
use smol::io::{AsyncReadExt, AsyncWriteExt};

use super::timed;

/// glibc's defaults (resolv.conf(5): `timeout:5`, `attempts:2`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_ATTEMPTS: u32 = 2;
/// resolv.conf(5): at most three nameservers are used.
const MAX_SERVERS: usize = 3;
/// How long a read of /etc/resolv.conf is trusted (DHCP may rewrite it).
const RELOAD_AFTER: Duration = Duration::from_secs(30);
/// CNAME links followed inside one answer before giving up (a loop).
const MAX_CNAME: usize = 8;

/// The question types mail needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qtype {
    Mx,
    A,
    Aaaa,
    /// DKIM key records (RFC 6376 §3.6.2).
    Txt,
    /// DANE for SMTP (RFC 7672 §2.2): `_25._tcp.MXHOST` (the port used).
    Tlsa,
    /// SPF's `ptr` mechanism (RFC 7208 §5.5).
    Ptr,
}

impl Qtype {
    fn code(self) -> TYPE {
        match self {
            Qtype::Mx => TYPE::MX,
            Qtype::A => TYPE::A,
            Qtype::Aaaa => TYPE::AAAA,
            Qtype::Txt => TYPE::TXT,
            // simple-dns has no TLSA type: its number (RFC 6698 §7.1).
            Qtype::Tlsa => TYPE::Unknown(52),
            Qtype::Ptr => TYPE::PTR,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Qtype::Mx => "MX",
            Qtype::A => "A",
            Qtype::Aaaa => "AAAA",
            Qtype::Txt => "TXT",
            Qtype::Tlsa => "TLSA",
            Qtype::Ptr => "PTR",
        }
    }
}

/// One useful record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `exchange` is lower case without the trailing dot; empty for the
    /// root (`.`), which is how a null MX (RFC 7505) names no host.
    Mx {
        preference: u16,
        exchange: String,
    },
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// One TXT record, its strings joined (RFC 6376 §3.6.2.2); a record
    /// that is not UTF-8 is left out.
    Txt(String),
    /// One TLSA record's data, as `wire::tlsa::parse` reads it.
    Tlsa(Vec<u8>),
    /// A PTR target, lower case without the trailing dot.
    Ptr(String),
}

/// What the DNS says about a name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Records(Vec<Record>),
    /// The name exists but has no record of this type (NOERROR, empty).
    NoData,
    /// The name does not exist (RCODE 3, NXDOMAIN).
    NxDomain,
}

/// A lookup that gave no answer worth acting on: try again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsError(pub String);

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed response: its answer and whether the server cut it short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub truncated: bool,
    pub answer: Answer,
    /// The AD bit: the (trusted, validating) resolver says the answer is
    /// DNSSEC-secure (RFC 4035 §3.2.3); what DANE needs (RFC 7672 §2.2).
    pub authentic: bool,
    /// Seconds the answer may be kept: the smallest TTL of the answer
    /// section, or for a negative answer the SOA's (RFC 2308 §5); 0 when
    /// the response gives none.
    pub ttl: u32,
}

/// Servers and timing from resolv.conf(5).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvConf {
    pub servers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub attempts: u32,
}

/// Reads `nameserver` lines and `options timeout:N attempts:N`.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut conf = ResolvConf {
        servers: Vec::new(),
        timeout: DEFAULT_TIMEOUT,
        attempts: DEFAULT_ATTEMPTS,
    };
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                // A link-local IPv6 server may carry a zone (`fe80::1%eth0`),
                // which std cannot parse; such a server is skipped.
                if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok())
                    && conf.servers.len() < MAX_SERVERS
                {
                    conf.servers.push(SocketAddr::new(ip, 53));
                }
            }
            Some("options") => {
                for option in words {
                    if let Some(n) = option.strip_prefix("timeout:").and_then(|n| n.parse().ok()) {
                        conf.timeout = Duration::from_secs(u64::clamp(n, 1, 30));
                    }
                    if let Some(n) = option
                        .strip_prefix("attempts:")
                        .and_then(|n| n.parse().ok())
                    {
                        conf.attempts = u32::clamp(n, 1, 5);
                    }
                }
            }
            _ => {}
        }
    }
    // resolv.conf(5): with no nameserver line, the local host is asked.
    if conf.servers.is_empty() {
        conf.servers.push(SocketAddr::from(([127, 0, 0, 1], 53)));
    }
    conf
}

/// A recursive query (RD set) for `name`, ready to send. AD is set too:
/// RFC 6840 §5.7 has a validating resolver then say in its answer whether
/// the data is secure, without the cost of DO (signatures in the answer).
pub fn build_query(id: u16, name: &str, qtype: Qtype) -> Result<Vec<u8>, DnsError> {
    let qname = Name::new(name).map_err(|e| DnsError(format!("bad name {name:?}: {e}")))?;
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED | PacketFlag::AUTHENTIC_DATA);
    packet.questions.push(Question::new(
        qname,
        QTYPE::TYPE(qtype.code()),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    packet
        .build_bytes_vec()
        .map_err(|e| DnsError(format!("cannot encode a query for {name}: {e}")))
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Reads the response to the query `id` for `name`/`qtype`. A response
/// for another question (a spoof or a stray) is an error, as is any RCODE
/// but NOERROR and NXDOMAIN (SERVFAIL, REFUSED: another server may know).
pub fn parse_response(id: u16, name: &str, qtype: Qtype, bytes: &[u8]) -> Result<Parsed, DnsError> {
    let standin;
    let bytes = match qtype {
        Qtype::Tlsa => {
            standin = tlsa_standin(bytes);
            standin.as_deref().unwrap_or(bytes)
        }
        _ => bytes,
    };
    let packet =
        Packet::parse(bytes).map_err(|e| DnsError(format!("unreadable DNS response: {e}")))?;
    if packet.id() != id || !packet.has_flags(PacketFlag::RESPONSE) {
        return Err(DnsError("DNS response does not match the query".into()));
    }
    let asked = packet.questions.first().is_some_and(|q| {
        let code = match qtype {
            Qtype::Tlsa => TYPE::NULL,
            _ => qtype.code(),
        };
        same_name(&q.qname.to_string(), name) && q.qtype == QTYPE::TYPE(code)
    });
    if !asked {
        return Err(DnsError("DNS response is for another question".into()));
    }
    let truncated = packet.has_flags(PacketFlag::TRUNCATION);
    let authentic = packet.has_flags(PacketFlag::AUTHENTIC_DATA);
    let answer = match packet.rcode() {
        RCODE::NoError => collect(&packet, name, qtype),
        RCODE::NameError => Answer::NxDomain,
        other => {
            return Err(DnsError(format!(
                "DNS server answered {other:?} for {name} {}",
                qtype.name()
            )));
        }
    };
    let ttl = packet
        .answers
        .iter()
        .chain(packet.name_servers.iter())
        .map(|rr| rr.ttl)
        .min()
        .unwrap_or(0);
    Ok(Parsed {
        truncated,
        answer,
        authentic,
        ttl,
    })
}

/// simple-dns refuses a packet whose question has a type it does not
/// know, and TLSA (52) is one: a copy of `bytes` with the first
/// question's type read here and replaced by NULL (10), which it knows;
/// the TLSA records themselves come out of it as `RData::NULL(52, _)`.
/// `None` when the question is not a TLSA one (left to the parser).
pub fn tlsa_standin(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.get(4..6)? == [0, 0] {
        return None;
    }
    let mut i = 12;
    loop {
        let len = *bytes.get(i)? as usize;
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xc0 == 0xc0 {
            i += 2;
            break;
        }
        i += 1 + len;
    }
    if bytes.get(i..i + 2)? != [0, 52] {
        return None;
    }
    let mut copy = bytes.to_vec();
    copy[i + 1] = 10;
    Some(copy)
}

/// The records of `qtype` owned by `name` or by the end of its CNAME chain
/// within the answer section (RFC 1034 §3.6.2).
fn collect(packet: &Packet, name: &str, qtype: Qtype) -> Answer {
    let mut owner = name.trim_end_matches('.').to_ascii_lowercase();
    for _ in 0..MAX_CNAME {
        let mut found = Vec::new();
        let mut alias = None;
        for rr in &packet.answers {
            if !same_name(&rr.name.to_string(), &owner) {
                continue;
            }
            match (&rr.rdata, qtype) {
                (RData::MX(mx), Qtype::Mx) => found.push(Record::Mx {
                    preference: mx.preference,
                    exchange: mx
                        .exchange
                        .to_string()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                }),
                (RData::A(a), Qtype::A) => found.push(Record::A(Ipv4Addr::from(a.address))),
                (RData::AAAA(a), Qtype::Aaaa) => {
                    found.push(Record::Aaaa(Ipv6Addr::from(a.address)))
                }
                (RData::TXT(t), Qtype::Txt) => {
                    if let Ok(text) = String::try_from(t.clone()) {
                        found.push(Record::Txt(text));
                    }
                }
                (RData::NULL(52, data), Qtype::Tlsa) => {
                    found.push(Record::Tlsa(data.get_data().to_vec()))
                }
                (RData::PTR(p), Qtype::Ptr) => found.push(Record::Ptr(
                    p.0.to_string().trim_end_matches('.').to_ascii_lowercase(),
                )),
                (RData::CNAME(c), _) => alias = Some(c.0.to_string().to_ascii_lowercase()),
                _ => {}
            }
        }
        if !found.is_empty() {
            return Answer::Records(found);
        }
        match alias {
            Some(next) => owner = next.trim_end_matches('.').to_string(),
            None => break,
        }
    }
    Answer::NoData
}

/// The resolver: the servers to ask and how patiently.
pub struct Resolver {
    /// `--dns-server`; empty means /etc/resolv.conf.
    fixed: Vec<SocketAddr>,
    loaded: RefCell<Option<(ResolvConf, Instant)>>,
    /// Whether the "AD bit not trusted" line was logged (once is enough).
    told_untrusted: Cell<bool>,
}

/// Whether the AD bit of answers from `servers` may be believed: only
/// when every one is on this host, the one path a stub can consider
/// secure without TSIG or SIG(0) (RFC 4035 §4.9.3, RFC 6698 §4.1). A
/// remote resolver's AD bit can be set by anyone on the path.
pub fn ad_trusted(servers: &[SocketAddr]) -> bool {
    !servers.is_empty() && servers.iter().all(|s| s.ip().is_loopback())
}

impl Resolver {
    pub fn new(servers: &[SocketAddr]) -> Resolver {
        Resolver {
            fixed: servers.to_vec(),
            loaded: RefCell::new(None),
            told_untrusted: Cell::new(false),
        }
    }

    /// The current settings; /etc/resolv.conf is re-read now and then
    /// (a tiny file: reading it does not hold the executor up).
    fn conf(&self) -> ResolvConf {
        if !self.fixed.is_empty() {
            return ResolvConf {
                servers: self.fixed.clone(),
                timeout: DEFAULT_TIMEOUT,
                attempts: DEFAULT_ATTEMPTS,
            };
        }
        let mut loaded = self.loaded.borrow_mut();
        match &*loaded {
            Some((conf, at)) if at.elapsed() < RELOAD_AFTER => conf.clone(),
            _ => {
                let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                let conf = parse_resolv_conf(&text);
                *loaded = Some((conf.clone(), Instant::now()));
                conf
            }
        }
    }

    /// Asks each server in turn, `attempts` rounds, until one answers
    /// NOERROR or NXDOMAIN.
    pub async fn lookup(&self, name: &str, qtype: Qtype) -> Result<Answer, DnsError> {
        self.lookup_full(name, qtype)
            .await
            .map(|(answer, ..)| answer)
    }

    /// As [`Resolver::lookup`], with the answer's AD bit: `true` only if
    /// the configured resolver says the answer is DNSSEC-secure *and* it
    /// is reached over a secure path ([`ad_trusted`]: loopback only);
    /// otherwise always `false`, logged once.
    pub async fn lookup_secure(
        &self,
        name: &str,
        qtype: Qtype,
    ) -> Result<(Answer, bool), DnsError> {
        self.lookup_full(name, qtype)
            .await
            .map(|(answer, authentic, _)| (answer, authentic))
    }

    /// [`Resolver::lookup`] with the answer's TTL (for `cache`).
    pub async fn lookup_ttl(&self, name: &str, qtype: Qtype) -> Result<(Answer, u32), DnsError> {
        self.lookup_full(name, qtype)
            .await
            .map(|(answer, _, ttl)| (answer, ttl))
    }

    /// The answer with its AD bit and TTL.
    async fn lookup_full(&self, name: &str, qtype: Qtype) -> Result<(Answer, bool, u32), DnsError> {
        if !name.is_ascii() {
            // Internationalized names must be sent as A-labels (RFC 5891),
            // which needs an IDNA mapping this build does not carry.
            return Err(DnsError(format!(
                "{name}: internationalized domain names are not supported for delivery"
            )));
        }
        let conf = self.conf();
        let trusted = ad_trusted(&conf.servers);
        if !trusted && qtype == Qtype::Tlsa && !self.told_untrusted.replace(true) {
            log::warn!(
                "dns: DNS servers {:?} are not all on this host: their AD bit is not trusted, so DANE is off (RFC 4035 §4.9.3; run a validating resolver on 127.0.0.1 to use DANE)",
                conf.servers
            );
        }
        let mut last = DnsError("no DNS server configured".into());
        for _ in 0..conf.attempts {
            for &server in &conf.servers {
                match query(server, name, qtype, conf.timeout).await {
                    Ok(parsed) => {
                        let (authentic, ttl) = (parsed.authentic && trusted, parsed.ttl);
                        return counted(qtype, Ok(parsed.answer)).map(|a| (a, authentic, ttl));
                    }
                    Err(e) => {
                        log::debug!("dns: {name} {} via {server}: {e}", qtype.name());
                        last = e;
                    }
                }
            }
        }
        counted(qtype, Err(last)).map(|a| (a, false, 0))
    }

    /// A then AAAA addresses of `host`, IPv4 first, for clients without
    /// a fallback (the fetcher); delivery reorders them IPv6 first and
    /// races the families (`delivery::route`). `Ok(empty)` when the name
    /// has none.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let mut out = Vec::new();
        let mut error = None;
        for qtype in [Qtype::A, Qtype::Aaaa] {
            match self.lookup(host, qtype).await {
                Ok(Answer::Records(records)) => {
                    out.extend(records.iter().filter_map(|r| match r {
                        Record::A(ip) => Some(IpAddr::V4(*ip)),
                        Record::Aaaa(ip) => Some(IpAddr::V6(*ip)),
                        Record::Mx { .. } | Record::Txt(_) | Record::Ptr(_) | Record::Tlsa(_) => {
                            None
                        }
                    }))
                }
                Ok(_) => {}
                Err(e) => error = Some(e),
            }
        }
        match error {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }
}

fn timed_out() -> DnsError {
    DnsError("DNS query timed out".into())
}

fn random_id() -> u16 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 2];
    // A predictable id would help spoofing; if the system RNG fails the
    // time is a poor but working fallback.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        return nanos as u16;
    }
    u16::from_be_bytes(bytes)
}

/// Counts a lookup's result in the metrics (`smolmail_dns_lookups_total`)
/// and hands it on.
fn counted(qtype: Qtype, result: Result<Answer, DnsError>) -> Result<Answer, DnsError> {
    use crate::metrics::{DnsResult, DnsType};
    let t = match qtype {
        Qtype::Mx => DnsType::Mx,
        Qtype::A => DnsType::A,
        Qtype::Aaaa => DnsType::Aaaa,
        Qtype::Txt => DnsType::Txt,
        Qtype::Tlsa => DnsType::Tlsa,
        Qtype::Ptr => DnsType::Ptr,
    };
    let r = match &result {
        Ok(Answer::Records(_)) => DnsResult::Records,
        Ok(Answer::NoData) => DnsResult::NoData,
        Ok(Answer::NxDomain) => DnsResult::NxDomain,
        Err(_) => DnsResult::Error,
    };
    crate::metrics::dns(t, r);
    result
}

/// One question to one server: UDP, then TCP if truncated.
async fn query(
    server: SocketAddr,
    name: &str,
    qtype: Qtype,
    timeout: Duration,
) -> Result<Parsed, DnsError> {
    let id = random_id();
    let question = build_query(id, name, qtype)?;
    let parsed = timed(timeout, timed_out, udp(server, id, name, qtype, &question)).await?;
    if !parsed.truncated {
        return Ok(parsed);
    }
    timed(timeout, timed_out, tcp(server, id, name, qtype, &question)).await
}

async fn udp(
    server: SocketAddr,
    id: u16,
    name: &str,
    qtype: Qtype,
    question: &[u8],
) -> Result<Parsed, DnsError> {
    let io = |e: std::io::Error| DnsError(format!("DNS server {server}: {e}"));
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    // A fresh socket per question: the kernel picks a random source port,
    // which with the random id makes spoofed answers hard (RFC 5452).
    let socket = Async::<UdpSocket>::bind(local).map_err(io)?;
    socket.get_ref().connect(server).map_err(io)?;
    socket.send(question).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        match parse_response(id, name, qtype, &buf[..n]) {
            // A packet for another question: keep waiting for ours.
            Err(e) if e.0.contains("does not match") || e.0.contains("another question") => {
                continue;
            }
            other => return other,
        }
    }
}

async fn tcp(
    server: SocketAddr,
    id: u16,
    name: &str,
    qtype: Qtype,
    question: &[u8],
) -> Result<Parsed, DnsError> {
    let io = |e: std::io::Error| DnsError(format!("DNS server {server} (TCP): {e}"));
    let mut stream = Async::<TcpStream>::connect(server).await.map_err(io)?;
    // RFC 1035 §4.2.2: a two-byte length before each message.
    let mut framed = Vec::with_capacity(question.len() + 2);
    framed.extend_from_slice(&(question.len() as u16).to_be_bytes());
    framed.extend_from_slice(question);
    stream.write_all(&framed).await.map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(io)?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).await.map_err(io)?;
    parse_response(id, name, qtype, &buf)
}

pub mod cache;

#[cfg(test)]
mod tests;
