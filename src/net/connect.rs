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
//! from the DNS: `delivery::route`.) [`connect_racing`] is the happy
//! eyeballs of RFC 8305 for one IPv6 and one IPv4 address of a host, so a
//! home whose IPv6 has no working route loses a fraction of a second, not
//! a whole connect timeout.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use smol::{Async, Timer};

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

/// RFC 8305 §5's "Connection Attempt Delay": long enough for a working
/// IPv6 path to answer first, short enough that a dead one is barely felt.
pub const HEAD_START: Duration = Duration::from_millis(300);

/// Races two addresses of one host (RFC 8305 §5): `first` (the IPv6 one)
/// alone for `head_start`, then, or at once if `first` fails sooner (no
/// route), `second` as well; the first connection made wins and the other
/// attempt is dropped. Each attempt has `limit`. With the stream comes the
/// address it reached and, when `second` won after `first` failed,
/// `first`'s error (worth a log line: IPv6 is broken here). On failure,
/// both errors.
pub async fn connect_racing(
    first: SocketAddr,
    second: SocketAddr,
    head_start: Duration,
    limit: Duration,
) -> Result<(Stream, SocketAddr, Option<ConnectError>), [ConnectError; 2]> {
    let attempt = |addr| timed(limit, timed_out, Async::<TcpStream>::connect(addr));
    let mut a = pin!(attempt(first));
    let mut b = pin!(attempt(second));
    let mut start = Timer::after(head_start);
    let (mut a_err, mut b_err, mut b_started) = (None, None, false);
    let won = std::future::poll_fn(|cx| {
        if a_err.is_none()
            && let Poll::Ready(r) = a.as_mut().poll(cx)
        {
            match r {
                Ok(tcp) => return Poll::Ready(Some((tcp, first))),
                Err(e) => a_err = Some(e),
            }
        }
        if !b_started && (a_err.is_some() || Pin::new(&mut start).poll(cx).is_ready()) {
            b_started = true;
        }
        if b_started
            && b_err.is_none()
            && let Poll::Ready(r) = b.as_mut().poll(cx)
        {
            match r {
                Ok(tcp) => return Poll::Ready(Some((tcp, second))),
                Err(e) => b_err = Some(e),
            }
        }
        if a_err.is_some() && b_err.is_some() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await;
    match won {
        Some((tcp, addr)) => {
            let _ = tcp.get_ref().set_nodelay(true);
            let lost = a_err.map(|error| ConnectError {
                addr: Some(first),
                error,
            });
            Ok((Stream::Plain(tcp), addr, lost))
        }
        None => {
            let error = |addr, e: Option<io::Error>| ConnectError {
                addr: Some(addr),
                error: e.unwrap_or_else(timed_out),
            };
            Err([error(first, a_err), error(second, b_err)])
        }
    }
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

    /// A listener whose accept queue is full: further SYNs are dropped,
    /// so a connect to it neither succeeds nor fails (a dead route).
    fn black_hole() -> (std::net::TcpListener, SocketAddr, Vec<std::net::TcpStream>) {
        let listener = std::net::TcpListener::bind("[::1]:0").unwrap();
        // SAFETY: shrinks the backlog of a socket this test owns.
        assert_eq!(
            unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 0) },
            0
        );
        let addr = listener.local_addr().unwrap();
        let fill: Vec<_> = (0..4)
            .filter_map(|_| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()
            })
            .collect();
        (listener, addr, fill)
    }

    /// RFC 8305 §5: a silent IPv6 address gives way to IPv4 after the head
    /// start; one that fails at once (no listener: a refusal, like "no
    /// route") gives way at once; a working IPv6 address wins.
    #[test]
    fn happy_eyeballs_falls_back_to_ipv4() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v4_addr = v4.local_addr().unwrap();
        let v6 = std::net::TcpListener::bind("[::1]:0").unwrap();
        let v6_addr = v6.local_addr().unwrap();
        let closed6 = std::net::TcpListener::bind("[::1]:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let (_hole, silent6, _fill) = black_hole();
        let limit = Duration::from_secs(20);
        smol::block_on(async {
            let t = std::time::Instant::now();
            let (_, won, lost) = connect_racing(silent6, v4_addr, HEAD_START, limit)
                .await
                .unwrap();
            assert_eq!(won, v4_addr);
            assert!(lost.is_none(), "the silent address had not failed yet");
            let took = t.elapsed();
            assert!(
                took >= HEAD_START && took < Duration::from_secs(2),
                "{took:?}"
            );

            let t = std::time::Instant::now();
            let (_, won, lost) = connect_racing(closed6, v4_addr, Duration::from_secs(10), limit)
                .await
                .unwrap();
            assert_eq!(won, v4_addr);
            assert_eq!(lost.unwrap().addr, Some(closed6));
            assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

            let (_, won, _) = connect_racing(v6_addr, v4_addr, HEAD_START, limit)
                .await
                .unwrap();
            assert_eq!(won, v6_addr);

            let closed4 = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let [e6, e4] = connect_racing(closed6, closed4, HEAD_START, limit)
                .await
                .err()
                .unwrap();
            assert_eq!((e6.addr, e4.addr), (Some(closed6), Some(closed4)));
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
