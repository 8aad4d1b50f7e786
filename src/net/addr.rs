//! Who a client is, once for every rule that asks: the connection limits,
//! the failed-login limiter, trusted networks and the plaintext-login rule.
//!
//! On a dual-stack listener (`[::]`) an IPv4 client arrives as an
//! IPv4-mapped IPv6 address, `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2). Asked
//! about the raw address, `127.0.0.1` seen that way is not loopback and
//! `192.168.1.7` is in no IPv4 network: each rule would have to remember
//! to map it, and they drifted. [`ClientAddr`] maps it on construction, so
//! every rule sees the same client.
//!
//! A limit that counts clients counts an IPv6 client by its /64
//! ([`ClientAddr::group`]): one host or one home network is routinely
//! given a whole /64 (RFC 6177) and can pick any address in it, so
//! counting single addresses would let it evade every per-client bound.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A client's address in canonical form: IPv4-mapped IPv6 is IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    pub fn new(ip: IpAddr) -> ClientAddr {
        ClientAddr(ip.to_canonical())
    }

    /// The canonical address.
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// On this host: 127.0.0.0/8 or ::1, whichever way it arrived.
    pub fn is_loopback(self) -> bool {
        self.0.is_loopback()
    }

    /// Whether this client may send a password over a connection without
    /// TLS: only from this host, where nobody can listen in (DESIGN.md,
    /// "AUTH, LOGIN, USER/PASS only over TLS, except from loopback"; RFC
    /// 4954 §4, RFC 2595 §2.2 and RFC 3501 §6.2.3 leave it to the server).
    /// SMTP, IMAP and POP3 all ask here.
    pub fn may_login_without_tls(self) -> bool {
        self.is_loopback()
    }

    /// The key a per-client limit counts under: an IPv4 address itself,
    /// an IPv6 address's /64 (its last 64 bits zero).
    pub fn group(self) -> IpAddr {
        match self.0 {
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
            v4 => v4,
        }
    }
}

impl ClientAddr {
    /// The address as RFC 5321 writes it in a Received header's TCP-info
    /// (§4.4) and a domain literal (§4.1.3): `[192.0.2.1]`, or with the
    /// `IPv6:` tag, `[IPv6:2001:db8::1]`.
    pub fn literal(self) -> String {
        match self.0 {
            IpAddr::V4(v4) => format!("[{v4}]"),
            IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
        }
    }
}

impl From<IpAddr> for ClientAddr {
    fn from(ip: IpAddr) -> ClientAddr {
        ClientAddr::new(ip)
    }
}

impl From<SocketAddr> for ClientAddr {
    fn from(peer: SocketAddr) -> ClientAddr {
        ClientAddr::new(peer.ip())
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> ClientAddr {
        ClientAddr::new(text.parse().unwrap())
    }

    #[test]
    fn ipv4_mapped_is_ipv4() {
        let mapped = client("::ffff:192.0.2.7");
        assert_eq!(mapped, client("192.0.2.7"));
        assert_eq!(mapped.ip(), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(mapped.to_string(), "192.0.2.7");
        let peer: SocketAddr = "[::ffff:10.1.2.3]:4321".parse().unwrap();
        assert_eq!(ClientAddr::from(peer), client("10.1.2.3"));
        // Only the mapped form is IPv4; the deprecated compatible form
        // (::a.b.c.d) and NAT64 (64:ff9b::/96) stay IPv6.
        assert!(client("::192.0.2.7").ip().is_ipv6());
        assert!(client("64:ff9b::c000:207").ip().is_ipv6());
    }

    #[test]
    fn loopback_whichever_way_it_arrives() {
        for local in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert!(client(local).is_loopback(), "{local}");
            assert!(client(local).may_login_without_tls(), "{local}");
        }
        for remote in ["192.168.1.2", "::ffff:192.168.1.2", "2001:db8::1", "::"] {
            assert!(!client(remote).is_loopback(), "{remote}");
            assert!(!client(remote).may_login_without_tls(), "{remote}");
        }
    }

    #[test]
    fn rfc5321_address_literals() {
        assert_eq!(client("::ffff:192.0.2.7").literal(), "[192.0.2.7]");
        assert_eq!(client("2001:db8::1").literal(), "[IPv6:2001:db8::1]");
    }

    #[test]
    fn limits_count_ipv6_by_64() {
        assert_eq!(
            client("2001:db8:1:2:aaaa::1").group(),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client("2001:db8:1:2::ffff").group(),
            client("2001:db8:1:2:1234::").group()
        );
        assert_ne!(
            client("2001:db8:1:2::1").group(),
            client("2001:db8:1:3::1").group()
        );
        // IPv4, mapped or not, is counted per address.
        assert_eq!(
            client("::ffff:192.0.2.7").group(),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_ne!(client("192.0.2.7").group(), client("192.0.2.8").group());
    }
}
