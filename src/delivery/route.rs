//! Where a recipient's mail goes next: the destination (a relay host, a
//! per-domain route, the domain's MX hosts, or a domain literal) and the
//! addresses to try for it, in order (RFC 5321 §5.1).
//!
//! MX records are ordered by preference with equal preferences shuffled;
//! a domain without MX records is its own mail host (the implicit MX); a
//! null MX (RFC 7505) means the domain takes no mail at all; our own name
//! in the list cuts it at our preference, so mail never loops back.
//!
//! Each host's addresses are tried IPv6 first, alternating with IPv4
//! (RFC 8305 §4; RFC 5321 §5.1 leaves the order within a host to the
//! client), limited to the families `--outbound-ip` allows. A dead IPv6
//! path costs little: `runner::jobs` races the IPv4 address after a short
//! head start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::client::Hop;
use crate::config::{DeliveryConfig, OutboundIp, RouteTarget};
use crate::net::dns::{Answer, Qtype, Record, Resolver};

/// MX hosts tried per delivery (Postfix's smtp_mx_session_limit is 2,
/// smtp_mx_address_limit 5: addresses, across hosts).
const MAX_ADDRESSES: usize = 5;

/// What the recipients of one connection have in common.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dest {
    /// The relay host: every domain together.
    Relay,
    /// A `--route` host.
    Host { host: String, port: u16 },
    /// The MX hosts of this domain.
    Mx(String),
    /// `user@[192.0.2.1]` (RFC 5321 §4.1.3).
    Literal(IpAddr),
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Relay => f.write_str("relay host"),
            Dest::Host { host, port } => write!(f, "[{host}]:{port}"),
            Dest::Mx(domain) => f.write_str(domain),
            Dest::Literal(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A destination that cannot be reached, now or ever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    pub permanent: bool,
    /// RFC 3463 status for the DSN.
    pub status: &'static str,
    pub text: String,
}

impl RouteError {
    fn permanent(status: &'static str, text: String) -> RouteError {
        RouteError {
            permanent: true,
            status,
            text,
        }
    }
    fn temporary(text: String) -> RouteError {
        RouteError {
            permanent: false,
            status: "4.4.3",
            text,
        }
    }
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
pub fn domain_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        }
        _ => inner.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// The destination of one recipient address: its domain's `--route`,
/// else the relay host (everything, domain literals too: with port 25
/// blocked nothing else gets out), else the literal or the MX.
pub fn destination(config: &DeliveryConfig, address: &str) -> Result<Dest, RouteError> {
    let domain = address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim_end_matches('.')
        .to_lowercase();
    if domain.is_empty() {
        return Err(RouteError::permanent(
            "5.1.3",
            format!("{address:?} has no domain"),
        ));
    }
    let literal = match domain.starts_with('[') {
        true => Some(domain_literal(&domain).ok_or_else(|| {
            RouteError::permanent("5.1.2", format!("bad domain literal {domain}"))
        })?),
        false => None,
    };
    if let Some(route) = config.routes.iter().find(|r| r.domain == domain) {
        return Ok(match &route.target {
            RouteTarget::Mx => Dest::Mx(domain),
            RouteTarget::Host { host, port } => Dest::Host {
                host: host.clone(),
                port: *port,
            },
        });
    }
    Ok(match (&config.relay, literal) {
        (Some(_), _) => Dest::Relay,
        (None, Some(ip)) => Dest::Literal(ip),
        (None, None) => Dest::Mx(domain),
    })
}

/// The MX host names to try, best first. `Err` for a null MX or a list
/// that leads back to us.
pub fn mx_order(
    records: &[Record],
    domain: &str,
    me: &str,
    random: &mut dyn FnMut() -> u32,
) -> Result<Vec<String>, RouteError> {
    let mut mx: Vec<(u16, u32, &str)> = Vec::new();
    for record in records {
        if let Record::Mx {
            preference,
            exchange,
        } = record
        {
            // RFC 7505 §3: a null MX is the root as exchange.
            if exchange.is_empty() {
                return Err(RouteError::permanent(
                    "5.1.10",
                    format!("{domain} does not accept mail (null MX, RFC 7505)"),
                ));
            }
            mx.push((*preference, random(), exchange));
        }
    }
    mx.sort_unstable();
    // RFC 5321 §5.1: drop our own name and every less preferred host.
    if let Some(ours) = mx
        .iter()
        .find(|m| m.2.eq_ignore_ascii_case(me))
        .map(|m| m.0)
    {
        mx.retain(|m| m.0 < ours);
        if mx.is_empty() {
            return Err(RouteError::permanent(
                "5.4.6",
                format!("mail for {domain} loops back to myself ({me} is its best MX)"),
            ));
        }
    }
    Ok(mx.into_iter().map(|m| m.2.to_string()).collect())
}

fn random() -> u32 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u32::from_ne_bytes(b)
}

/// The addresses `allowed` lets us use, IPv6 first, then alternating
/// families (RFC 8305 §4), each family in the order the lookup gave.
pub fn order_addresses(addresses: &[IpAddr], allowed: OutboundIp) -> Vec<IpAddr> {
    let (v6, v4): (Vec<IpAddr>, Vec<IpAddr>) = addresses
        .iter()
        .copied()
        .filter(|ip| allowed.allows(*ip))
        .partition(|ip| ip.is_ipv6());
    let mut out = Vec::with_capacity(v6.len() + v4.len());
    let (mut v6, mut v4) = (v6.into_iter(), v4.into_iter());
    loop {
        match (v6.next(), v4.next()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Why a host's addresses are all of the wrong family.
fn family_excluded(host: &str, allowed: OutboundIp) -> String {
    let family = if allowed == OutboundIp::V6 {
        "IPv6"
    } else {
        "IPv4"
    };
    format!("{host} has no {family} address (--outbound-ip)")
}

/// Addresses of a named host (relay, `--route`): as every client looks a
/// name up (`net::resolve`: IP literal, /etc/hosts, localhost, DNS), in
/// the order and families of [`order_addresses`].
async fn host_addresses(
    resolver: &Resolver,
    host: &str,
    allowed: OutboundIp,
) -> Result<Vec<IpAddr>, RouteError> {
    let found = crate::net::resolve(host, resolver)
        .await
        .map_err(|e| RouteError::temporary(e.to_string()))?;
    let usable = order_addresses(&found, allowed);
    if usable.is_empty() {
        return Err(RouteError::temporary(family_excluded(host, allowed)));
    }
    Ok(usable)
}

fn hops_for(name: &str, addresses: &[IpAddr], port: u16) -> Vec<Hop> {
    addresses
        .iter()
        .map(|ip| Hop {
            name: name.to_string(),
            addr: SocketAddr::new(*ip, port),
        })
        .collect()
}

/// Which MX host names may be used (an MTA-STS `enforce` policy's
/// patterns, `delivery::secure`); `None`: all.
pub type MxFilter<'a> = Option<&'a dyn Fn(&str) -> bool>;

/// The addresses to try for `dest`, in order; MX hosts `allowed` refuses
/// are dropped before any address is looked up, so they do not use up
/// [`MAX_ADDRESSES`] (RFC 8461 §4.1).
pub async fn hops(
    dest: &Dest,
    config: &DeliveryConfig,
    resolver: &Resolver,
    me: &str,
    allowed: MxFilter<'_>,
) -> Result<Vec<Hop>, RouteError> {
    match dest {
        Dest::Relay => {
            let Some(relay) = &config.relay else {
                return Err(RouteError::temporary("no relay host configured".into()));
            };
            let addresses = host_addresses(resolver, &relay.host, config.outbound_ip).await?;
            Ok(hops_for(&relay.host, &addresses, relay.port))
        }
        Dest::Host { host, port } => {
            let addresses = host_addresses(resolver, host, config.outbound_ip).await?;
            Ok(hops_for(host, &addresses, *port))
        }
        Dest::Literal(ip) if !config.outbound_ip.allows(*ip) => Err(RouteError::temporary(
            family_excluded(&format!("[{ip}]"), config.outbound_ip),
        )),
        Dest::Literal(ip) => Ok(hops_for(&ip.to_string(), &[*ip], config.smtp_port_out)),
        Dest::Mx(domain) => mx_hops(domain, config, resolver, me, allowed).await,
    }
}

async fn mx_hops(
    domain: &str,
    config: &DeliveryConfig,
    resolver: &Resolver,
    me: &str,
    allowed: MxFilter<'_>,
) -> Result<Vec<Hop>, RouteError> {
    let port = config.smtp_port_out;
    if !domain.is_ascii() {
        // The DNS wants A-labels (RFC 5891); this build has no IDNA mapping.
        // A relay host can still take such mail (with SMTPUTF8).
        return Err(RouteError::permanent(
            "5.1.2",
            format!("{domain}: internationalized domain names need a relay host (--relay-host)"),
        ));
    }
    let names = match resolver.lookup(domain, Qtype::Mx).await {
        Err(e) => return Err(RouteError::temporary(format!("MX lookup of {domain}: {e}"))),
        Ok(Answer::NxDomain) => {
            return Err(RouteError::permanent(
                "5.1.2",
                format!("Host or domain name not found: {domain} does not exist (NXDOMAIN)"),
            ));
        }
        // RFC 5321 §5.1: no MX records: the domain is its own host.
        Ok(Answer::NoData) => vec![domain.to_string()],
        Ok(Answer::Records(records)) => mx_order(&records, domain, me, &mut random)?,
    };
    let implicit = names.len() == 1 && names[0] == domain;
    let names = match allowed {
        None => names,
        Some(allows) => {
            let (kept, refused): (Vec<String>, Vec<String>) =
                names.into_iter().partition(|n| allows(n));
            for name in &refused {
                log::warn!(
                    "delivery: MX host {name} of {domain} is not in its MTA-STS policy (enforce): not used (RFC 8461 §4.1)"
                );
            }
            if kept.is_empty() {
                // §5.1: temporary, so a corrected policy or MX gets through.
                return Err(RouteError {
                    permanent: false,
                    status: "4.7.5",
                    text: format!(
                        "no MX host of {domain} matches its MTA-STS policy (enforce): {}",
                        refused.join(", ")
                    ),
                });
            }
            kept
        }
    };
    let mut hops = Vec::new();
    let mut trouble = None;
    for name in &names {
        if hops.len() >= MAX_ADDRESSES {
            break;
        }
        match resolver.addresses(name).await {
            Ok(addresses) if addresses.is_empty() => {
                trouble = Some(format!("MX host {name} of {domain} has no address"));
            }
            Ok(found) => {
                let addresses = order_addresses(&found, config.outbound_ip);
                if addresses.is_empty() {
                    trouble = Some(format!(
                        "MX host {}",
                        family_excluded(name, config.outbound_ip)
                    ));
                    continue;
                }
                let room = MAX_ADDRESSES - hops.len();
                hops.extend(hops_for(
                    name,
                    &addresses[..addresses.len().min(room)],
                    port,
                ));
            }
            Err(e) => trouble = Some(format!("lookup of MX host {name}: {e}")),
        }
    }
    if hops.is_empty() {
        if implicit && trouble.as_deref().is_some_and(|t| t.contains("no address")) {
            return Err(RouteError::permanent(
                "5.1.2",
                format!("Host or domain name not found: {domain} has no MX and no address"),
            ));
        }
        return Err(RouteError::temporary(trouble.unwrap_or_else(|| {
            format!("no MX host of {domain} has an address")
        })));
    }
    Ok(hops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Relay, Route};

    /// RFC 8305 §4: IPv6 first, then alternating families; `--outbound-ip`
    /// drops a family.
    #[test]
    fn addresses_ipv6_first_alternating_within_outbound_ip() {
        let ips = |t: &str| -> Vec<IpAddr> { t.split(' ').map(|a| a.parse().unwrap()).collect() };
        let found = ips("192.0.2.1 192.0.2.2 192.0.2.3 2001:db8::1 2001:db8::2");
        assert_eq!(
            order_addresses(&found, OutboundIp::Both),
            ips("2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2 192.0.2.3")
        );
        assert_eq!(
            order_addresses(&found, OutboundIp::V4),
            ips("192.0.2.1 192.0.2.2 192.0.2.3")
        );
        assert_eq!(
            order_addresses(&found, OutboundIp::V6),
            ips("2001:db8::1 2001:db8::2")
        );
        assert!(order_addresses(&ips("2001:db8::1"), OutboundIp::V4).is_empty());
    }

    fn mx(preference: u16, exchange: &str) -> Record {
        Record::Mx {
            preference,
            exchange: exchange.into(),
        }
    }

    #[test]
    fn literals() {
        assert_eq!(
            domain_literal("[192.0.2.1]"),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            domain_literal("[IPv6:2001:db8::1]"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(domain_literal("[2001:db8::1]"), None);
        assert_eq!(domain_literal("[999.1.1.1]"), None);
        assert_eq!(domain_literal("example.org"), None);
    }

    #[test]
    fn destinations() {
        let mut config = DeliveryConfig::default();
        assert_eq!(
            destination(&config, "a@Example.ORG").unwrap(),
            Dest::Mx("example.org".into())
        );
        assert_eq!(
            destination(&config, "a@[192.0.2.1]").unwrap(),
            Dest::Literal("192.0.2.1".parse().unwrap())
        );
        assert!(destination(&config, "a@[bogus]").unwrap_err().permanent);
        config.relay = Some(Relay {
            host: "smtp.example.net".into(),
            port: 587,
            implicit_tls: false,
            auth: None,
            ca_file: None,
        });
        config.routes = vec![
            Route {
                domain: "friend.example".into(),
                target: RouteTarget::Mx,
            },
            Route {
                domain: "lan.example".into(),
                target: RouteTarget::Host {
                    host: "10.0.0.5".into(),
                    port: 2525,
                },
            },
        ];
        assert_eq!(destination(&config, "a@example.org").unwrap(), Dest::Relay);
        assert_eq!(destination(&config, "a@[192.0.2.1]").unwrap(), Dest::Relay);
        assert_eq!(
            destination(&config, "a@friend.example").unwrap(),
            Dest::Mx("friend.example".into())
        );
        assert_eq!(
            destination(&config, "a@lan.example").unwrap(),
            Dest::Host {
                host: "10.0.0.5".into(),
                port: 2525
            }
        );
    }

    #[test]
    fn mx_preference_order_null_mx_and_loops() {
        let mut n = 0u32;
        let mut counter = move || {
            n += 1;
            n
        };
        let order = mx_order(
            &[
                mx(20, "b.example"),
                mx(10, "a.example"),
                mx(30, "c.example"),
            ],
            "example.org",
            "mail.home.arpa",
            &mut counter,
        )
        .unwrap();
        assert_eq!(order, ["a.example", "b.example", "c.example"]);
        let null = mx_order(&[mx(0, "")], "nomail.example", "me", &mut counter).unwrap_err();
        assert!(null.permanent && null.status == "5.1.10");
        // Our own name at 20: only the better host stays.
        let cut = mx_order(
            &[
                mx(10, "a.example"),
                mx(20, "ME.example"),
                mx(30, "c.example"),
            ],
            "x.example",
            "me.example",
            &mut counter,
        )
        .unwrap();
        assert_eq!(cut, ["a.example"]);
        let looped = mx_order(
            &[mx(10, "me.example")],
            "x.example",
            "me.example",
            &mut counter,
        )
        .unwrap_err();
        assert_eq!(looped.status, "5.4.6");
    }

    #[test]
    fn equal_preferences_are_shuffled() {
        let records = [mx(10, "a.example"), mx(10, "b.example")];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            let order = mx_order(&records, "x", "me", &mut random).unwrap();
            seen.insert(order[0].clone());
        }
        assert_eq!(seen.len(), 2, "both hosts come first sometimes");
    }
}
