//! `check_host()` (RFC 7208 §4): the record of a domain fetched and its
//! terms evaluated in order over DNS, with the limits of §4.6.4 that keep
//! one message from costing more than a few dozen queries: ten terms that
//! query DNS (include, a, mx, ptr, exists, redirect — across includes),
//! two void lookups, ten MX or PTR names per lookup. The whole check is
//! bounded in time by the caller (`super::check`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use super::SpfResult;
use super::macros::{self, Context};
use super::record::{self, Mechanism, Qualifier};
use crate::net::dns::cache::Cached;
use crate::net::dns::{Answer, DnsError, Qtype, Record, Resolver};

/// §4.6.4: DNS-querying terms per check.
pub const MAX_DNS_TERMS: u32 = 10;
/// §4.6.4: lookups that find nothing, per check.
pub const MAX_VOID: u32 = 2;
/// §4.6.4: names of one MX or PTR answer looked at.
pub const MAX_NAMES: usize = 10;

/// Where answers come from: the server's resolver, or a table in tests.
// Not `Send`: everything runs on the one executor thread.
#[allow(async_fn_in_trait)]
pub trait Dns {
    async fn lookup(&self, name: &str, qtype: Qtype) -> Result<Answer, DnsError>;
}

impl Dns for Resolver {
    async fn lookup(&self, name: &str, qtype: Qtype) -> Result<Answer, DnsError> {
        Resolver::lookup(self, name, qtype).await
    }
}

impl Dns for Cached<'_> {
    async fn lookup(&self, name: &str, qtype: Qtype) -> Result<Answer, DnsError> {
        Cached::lookup(self, name, qtype).await
    }
}

/// Why evaluation stopped early.
enum Stop {
    Temp(String),
    Perm(String),
}

impl Stop {
    fn result(self) -> (SpfResult, String) {
        match self {
            Stop::Temp(why) => (SpfResult::TempError, why),
            Stop::Perm(why) => (SpfResult::PermError, why),
        }
    }
}

/// One check's state: the identity, and the counters shared by includes.
pub struct Eval<'a, D: Dns> {
    pub dns: &'a D,
    pub ip: IpAddr,
    pub sender: &'a str,
    pub helo: &'a str,
    terms: u32,
    voids: u32,
}

type Boxed<'b, T> = Pin<Box<dyn Future<Output = T> + 'b>>;

impl<'a, D: Dns> Eval<'a, D> {
    pub fn new(dns: &'a D, ip: IpAddr, sender: &'a str, helo: &'a str) -> Self {
        Eval {
            dns,
            ip: ip.to_canonical(),
            sender,
            helo,
            terms: 0,
            voids: 0,
        }
    }

    /// §4: the result for `domain`, and a reason for the log.
    pub async fn check_host(&mut self, domain: &str) -> (SpfResult, String) {
        // §4.3: a malformed domain gives "none".
        if !valid_domain(domain) {
            return (SpfResult::None, format!("{domain:?} is not a domain"));
        }
        match self.host(domain.to_ascii_lowercase()).await {
            Ok(r) => r,
            Err(stop) => stop.result(),
        }
    }

    fn host(&mut self, domain: String) -> Boxed<'_, Result<(SpfResult, String), Stop>> {
        Box::pin(async move {
            let text = match self.record(&domain).await? {
                Some(t) => t,
                None => return Ok((SpfResult::None, format!("no SPF record at {domain}"))),
            };
            let rec = record::parse(&text).map_err(|e| Stop::Perm(format!("{domain}: {e}")))?;
            for (qualifier, mechanism) in &rec.directives {
                if mechanism.queries_dns() {
                    self.count_term()?;
                }
                if self.matches(mechanism, &domain).await? {
                    let result = match qualifier {
                        Qualifier::Pass => SpfResult::Pass,
                        Qualifier::Fail => SpfResult::Fail,
                        Qualifier::SoftFail => SpfResult::SoftFail,
                        Qualifier::Neutral => SpfResult::Neutral,
                    };
                    return Ok((result, format!("{domain} matched {mechanism:?}")));
                }
            }
            // §6.1: redirect only when no mechanism matched (and not
            // with an `all`, which always matches first).
            if let Some(target) = &rec.redirect {
                self.count_term()?;
                let target = self.expand(target, &domain)?;
                return match self.host(target.clone()).await? {
                    (SpfResult::None, _) => {
                        Err(Stop::Perm(format!("redirect to {target}: no SPF record")))
                    }
                    other => Ok(other),
                };
            }
            // exp= (§6.2) is not fetched: it explains a fail to the
            // sender in a rejection, and this server does not reject on
            // SPF alone (DMARC decides; see `dmarc`).
            Ok((SpfResult::Neutral, format!("{domain}: nothing matched")))
        })
    }

    fn count_term(&mut self) -> Result<(), Stop> {
        self.terms += 1;
        if self.terms > MAX_DNS_TERMS {
            return Err(Stop::Perm("more than 10 DNS-querying terms".into()));
        }
        Ok(())
    }

    /// §4.4: the SPF record of `domain`, `None` when it has none.
    async fn record(&mut self, domain: &str) -> Result<Option<String>, Stop> {
        let records = self.query(domain, Qtype::Txt).await?;
        let mut spf = records.into_iter().filter_map(|r| match r {
            Record::Txt(t) if record::is_spf(&t) => Some(t),
            _ => None,
        });
        match (spf.next(), spf.next()) {
            (None, _) => Ok(None),
            (Some(one), None) => Ok(Some(one)),
            // §4.5: more than one record is a permerror.
            (Some(_), Some(_)) => Err(Stop::Perm(format!("{domain}: several SPF records"))),
        }
    }

    /// A lookup; an error is a temperror (§4.4, §5), an empty answer a
    /// void lookup counted against [`MAX_VOID`].
    async fn query(&mut self, name: &str, qtype: Qtype) -> Result<Vec<Record>, Stop> {
        match self.dns.lookup(name, qtype).await {
            Ok(Answer::Records(r)) => Ok(r),
            Ok(Answer::NoData | Answer::NxDomain) => {
                self.voids += 1;
                if self.voids > MAX_VOID {
                    return Err(Stop::Perm("more than 2 void lookups".into()));
                }
                Ok(Vec::new())
            }
            Err(e) => Err(Stop::Temp(format!("{name} {}: {e}", qtype.name()))),
        }
    }

    fn expand(&self, spec: &str, domain: &str) -> Result<String, Stop> {
        let cx = Context {
            sender: self.sender,
            domain,
            ip: self.ip,
            helo: self.helo,
            receiver: "",
            now: 0,
        };
        let name = macros::expand(spec, &cx, false).map_err(Stop::Perm)?;
        Ok(name.trim_end_matches('.').to_ascii_lowercase())
    }

    fn target(&self, spec: &Option<String>, domain: &str) -> Result<String, Stop> {
        match spec {
            Some(s) => self.expand(s, domain),
            None => Ok(domain.to_string()),
        }
    }

    /// The addresses of `name` in the client's family.
    async fn addresses(&mut self, name: &str) -> Result<Vec<IpAddr>, Stop> {
        let qtype = match self.ip {
            IpAddr::V4(_) => Qtype::A,
            IpAddr::V6(_) => Qtype::Aaaa,
        };
        Ok(addrs(self.query(name, qtype).await?))
    }

    async fn matches(&mut self, mechanism: &Mechanism, domain: &str) -> Result<bool, Stop> {
        Ok(match mechanism {
            Mechanism::All => true,
            Mechanism::Ip4(net, len) => in_net(self.ip, IpAddr::V4(*net), *len),
            Mechanism::Ip6(net, len) => in_net(self.ip, IpAddr::V6(*net), *len),
            Mechanism::A(spec, v4, v6) => {
                let name = self.target(spec, domain)?;
                let len = self.cidr(*v4, *v6);
                let found = self.addresses(&name).await?;
                found.iter().any(|a| in_net(self.ip, *a, len))
            }
            Mechanism::Mx(spec, v4, v6) => {
                let name = self.target(spec, domain)?;
                let len = self.cidr(*v4, *v6);
                let hosts: Vec<String> = self
                    .query(&name, Qtype::Mx)
                    .await?
                    .into_iter()
                    .filter_map(|r| match r {
                        Record::Mx { exchange, .. } if !exchange.is_empty() => Some(exchange),
                        _ => None,
                    })
                    .collect();
                // §4.6.4: more than ten MX names is a permerror.
                if hosts.len() > MAX_NAMES {
                    return Err(Stop::Perm(format!("{name}: more than 10 MX names")));
                }
                let mut hit = false;
                for host in hosts {
                    let found = addrs(self.lookup_quiet(&host).await?);
                    if found.iter().any(|a| in_net(self.ip, *a, len)) {
                        hit = true;
                        break;
                    }
                }
                hit
            }
            Mechanism::Ptr(spec) => {
                let want = self.target(spec, domain)?;
                self.ptr_matches(&want).await
            }
            Mechanism::Exists(spec) => {
                let name = self.expand(spec, domain)?;
                // §5.7: an A query whatever the client's family.
                !self.query(&name, Qtype::A).await?.is_empty()
            }
            Mechanism::Include(spec) => {
                let name = self.expand(spec, domain)?;
                // §5.2's table.
                match self.host(name.clone()).await? {
                    (SpfResult::Pass, _) => true,
                    (SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral, _) => false,
                    (SpfResult::TempError, why) => return Err(Stop::Temp(why)),
                    (SpfResult::None | SpfResult::PermError, why) => {
                        return Err(Stop::Perm(format!("include:{name}: {why}")));
                    }
                }
            }
        })
    }

    /// Address lookups below an MX or PTR answer: errors are errors, but
    /// empty answers are not void lookups of the record's own terms.
    async fn lookup_quiet(&mut self, host: &str) -> Result<Vec<Record>, Stop> {
        let qtype = match self.ip {
            IpAddr::V4(_) => Qtype::A,
            IpAddr::V6(_) => Qtype::Aaaa,
        };
        match self.dns.lookup(host, qtype).await {
            Ok(Answer::Records(r)) => Ok(r),
            Ok(_) => Ok(Vec::new()),
            Err(e) => Err(Stop::Temp(format!("{host}: {e}"))),
        }
    }

    /// §5.5: the client's validated names (PTR, then forward-confirmed;
    /// the first ten only) and whether one is `want` or below it. DNS
    /// errors here make the mechanism not match, as §5.5 says.
    async fn ptr_matches(&mut self, want: &str) -> bool {
        let Ok(Answer::Records(names)) = self.dns.lookup(&reverse_name(self.ip), Qtype::Ptr).await
        else {
            return false;
        };
        for r in names.into_iter().take(MAX_NAMES) {
            let Record::Ptr(name) = r else { continue };
            let below = name == want || name.ends_with(&format!(".{want}"));
            if below
                && let Ok(found) = self.lookup_quiet(&name).await
                && addrs(found).contains(&self.ip)
            {
                return true;
            }
        }
        false
    }

    fn cidr(&self, v4: u8, v6: u8) -> u8 {
        match self.ip {
            IpAddr::V4(_) => v4,
            IpAddr::V6(_) => v6,
        }
    }
}

fn addrs(records: Vec<Record>) -> Vec<IpAddr> {
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::A(a) => Some(IpAddr::V4(a)),
            Record::Aaaa(a) => Some(IpAddr::V6(a)),
            _ => None,
        })
        .collect()
}

/// Whether `ip` is in `net/len` (families must agree).
pub fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The `in-addr.arpa` / `ip6.arpa` name of `ip` (RFC 1035 §3.5, RFC 3596).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 15, byte >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

/// §4.3: a name of at least two labels, each 1–63 characters of letters,
/// digits, '-' or '_' (SPF names like `_spf`), 253 in all, and a top
/// label that is not all digits (so an address literal is not a domain).
pub fn valid_domain(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(label)
        && !d
            .rsplit('.')
            .next()
            .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
}
