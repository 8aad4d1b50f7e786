//! From a host name to a connected stream, for every outbound connection
//! (the SMTP client to a relay or `--route` host, the fetcher to an IMAP
//! server).
//!
//! [`resolve`] looks a name up the way the rest of the system does: an IP
//! address is itself; a name in /etc/hosts is what that file says (a
//! homelab's NAS or relay is often known only there), `localhost` is the
//! loopback even without the file (RFC 6761 §6.3); anything else goes to
//! the DNS. [`connect`] tries the addresses in order, each within a time
//! limit. (MX hosts are looked up in the DNS only, as their names come
//! from the DNS: `delivery::route`.)

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use smol::Async;

use super::dns::{DnsError, Resolver};
use super::{Stream, timed, timed_out};

/// Why no address came back for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The name exists nowhere we looked, or has no address.
    NoAddress(String),
    /// The DNS gave no usable answer: try again later.
    Dns(String, DnsError),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NoAddress(host) => write!(f, "{host} has no address"),
            ResolveError::Dns(host, e) => write!(f, "cannot look {host} up: {e}"),
        }
    }
}

/// The addresses of `host`, IPv4 first: an IP address (bracketed or not)
/// itself; a name as /etc/hosts lists it; `localhost` as the loopback;
/// anything else from the DNS.
pub async fn resolve(host: &str, resolver: &Resolver) -> Result<Vec<IpAddr>, ResolveError> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    // A tiny file: reading it does not hold the executor up.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut found = hosts_lookup(&hosts, host);
    if found.is_empty() && host.eq_ignore_ascii_case("localhost") {
        found = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
    }
    if !found.is_empty() {
        return Ok(found);
    }
    match resolver.addresses(host).await {
        Ok(a) if a.is_empty() => Err(ResolveError::NoAddress(host.to_string())),
        Ok(a) => Ok(a),
        Err(e) => Err(ResolveError::Dns(host.to_string(), e)),
    }
}

/// The addresses hosts(5) text gives `host`, IPv4 first.
pub fn hosts_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let ip = words.next()?.parse::<IpAddr>().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(host)).then_some(ip)
        })
        .collect();
    out.sort_by_key(|ip| ip.is_ipv6());
    out.dedup();
    out
}

/// Why no connection came about: the last address tried and its error.
#[derive(Debug)]
pub struct ConnectError {
    pub addr: Option<SocketAddr>,
    pub error: io::Error,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(addr) => write!(f, "connect to {addr}: {}", self.error),
            None => write!(f, "no address to connect to"),
        }
    }
}

/// Connects to the first of `addrs` that answers, giving each `limit`.
/// The stream has Nagle's algorithm off: commands and replies are small
/// and each is waited for.
pub async fn connect(addrs: &[SocketAddr], limit: Duration) -> Result<Stream, ConnectError> {
    let mut last = ConnectError {
        addr: None,
        error: io::ErrorKind::AddrNotAvailable.into(),
    };
    for &addr in addrs {
        match timed(limit, timed_out, Async::<TcpStream>::connect(addr)).await {
            Ok(tcp) => {
                let _ = tcp.get_ref().set_nodelay(true);
                return Ok(Stream::Plain(tcp));
            }
            Err(error) => {
                last = ConnectError {
                    addr: Some(addr),
                    error,
                }
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file() {
        let text = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n192.168.1.5  nas.lan nas # the NAS\n# 10.0.0.1 nas\n";
        assert_eq!(
            hosts_lookup(text, "NAS"),
            vec!["192.168.1.5".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(hosts_lookup(text, "localhost").len(), 2);
        assert!(hosts_lookup(text, "localhost")[0].is_ipv4());
        assert!(hosts_lookup(text, "the").is_empty());
    }

    #[test]
    fn literals_and_localhost_need_no_dns() {
        // A closed port as the DNS server: any question would fail.
        let resolver = Resolver::new(&["127.0.0.1:9".parse().unwrap()]);
        smol::block_on(async {
            let ip = |t: &str| t.parse::<IpAddr>().unwrap();
            assert_eq!(
                resolve("192.0.2.1", &resolver).await.unwrap(),
                [ip("192.0.2.1")]
            );
            assert_eq!(
                resolve("[2001:db8::1]", &resolver).await.unwrap(),
                [ip("2001:db8::1")]
            );
            let local = resolve("localhost", &resolver).await.unwrap();
            assert!(local[0].is_loopback() && local[0].is_ipv4(), "{local:?}");
            let err = resolve("nowhere.invalid", &resolver).await.unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("cannot look nowhere.invalid up: "),
                "{err}"
            );
        });
    }

    #[test]
    fn connect_tries_each_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        // A port nobody listens on (bound, then closed).
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        smol::block_on(async {
            let limit = Duration::from_secs(5);
            let stream = connect(&[closed, open], limit).await.unwrap();
            assert!(!stream.is_tls());
            let err = connect(&[closed], limit).await.err().unwrap();
            assert_eq!(err.addr, Some(closed));
            assert!(
                err.to_string()
                    .starts_with(&format!("connect to {closed}: "))
            );
            let none = connect(&[], limit).await.err().unwrap();
            assert_eq!(none.to_string(), "no address to connect to");
        });
    }
}
