//! Where each service listens: the nine services, their default ports
//! and `--port-offset`, the `HOST:PORT`/`off` syntax, and the check that no
//! two services share an address. Apart from the rest of the settings
//! because the server's binding code reads only this.
//!
//! Every service listens on `[::]:PORT` unless told otherwise: one
//! dual-stack socket answers IPv6 and IPv4 clients alike (IPv4 ones arrive
//! as `::ffff:a.b.c.d`, RFC 4291 §2.5.5.2, which `net::ClientAddr` maps
//! back), as Postfix's `inet_protocols = all` and Dovecot's `listen = *, ::`
//! do. On a kernel without IPv6 the server falls back to `0.0.0.0:PORT`
//! (`server::bind`).

use std::net::{Ipv6Addr, SocketAddr};

use super::{ConfigError, ServeArgs, pick};

/// Where each service listens; `None` is "off".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Listen {
    pub smtp: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub submissions: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
}

impl Listen {
    /// Every service with its address, in a fixed order, for binding and logs.
    pub fn services(&self) -> [(Service, Option<SocketAddr>); 9] {
        [
            (Service::Smtp, self.smtp),
            (Service::Submission, self.submission),
            (Service::Submissions, self.submissions),
            (Service::Imap, self.imap),
            (Service::Imaps, self.imaps),
            (Service::Pop3, self.pop3),
            (Service::Pop3s, self.pop3s),
            (Service::Http, self.http),
            (Service::Https, self.https),
        ]
    }
}

/// The nine listening services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Smtp,
    Submission,
    Submissions,
    Imap,
    Imaps,
    Pop3,
    Pop3s,
    /// HTTP/1.1 (`crate::http`): autoconfig, ACME HTTP-01 challenges.
    Http,
    /// HTTP/1.1 over implicit TLS: autoconfig, MTA-STS policy.
    Https,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Submissions => "submissions",
            Service::Imap => "imap",
            Service::Imaps => "imaps",
            Service::Pop3 => "pop3",
            Service::Pop3s => "pop3s",
            Service::Http => "http",
            Service::Https => "https",
        }
    }

    /// The IANA port, before --port-offset.
    pub fn default_port(self) -> u16 {
        match self {
            Service::Smtp => 25,
            Service::Submission => 587,
            Service::Submissions => 465,
            Service::Imap => 143,
            Service::Imaps => 993,
            Service::Pop3 => 110,
            Service::Pop3s => 995,
            Service::Http => 80,
            Service::Https => 443,
        }
    }

    /// Implicit TLS (RFC 8314): the handshake comes before any protocol byte.
    pub fn implicit_tls(self) -> bool {
        matches!(
            self,
            Service::Submissions | Service::Imaps | Service::Pop3s | Service::Https
        )
    }
}

/// `--port-offset` and the nine listen addresses, checked to be distinct.
pub(super) fn resolve_listen(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Listen, ConfigError> {
    let port_offset = match pick(&args.port_offset, "port-offset", env) {
        Some(raw) => raw
            .value
            .trim()
            .parse::<u16>()
            .map_err(|_| raw.error("must be a number from 0 to 64000"))?,
        None => 0,
    };
    let listen_for =
        |service: Service, flag: &Option<String>| -> Result<Option<SocketAddr>, ConfigError> {
            let default_port = service.default_port().checked_add(port_offset);
            match pick(flag, service.name(), env) {
                Some(raw) => parse_listen(&raw.value).map_err(|e| raw.error(e)),
                None => match default_port {
                    Some(port) => Ok(Some(all_interfaces(port))),
                    None => Err(ConfigError(format!(
                        "--port-offset={port_offset} pushes the {} port past 65535",
                        service.name()
                    ))),
                },
            }
        };
    let listen = Listen {
        smtp: listen_for(Service::Smtp, &args.smtp)?,
        submission: listen_for(Service::Submission, &args.submission)?,
        submissions: listen_for(Service::Submissions, &args.submissions)?,
        imap: listen_for(Service::Imap, &args.imap)?,
        imaps: listen_for(Service::Imaps, &args.imaps)?,
        pop3: listen_for(Service::Pop3, &args.pop3)?,
        pop3s: listen_for(Service::Pop3s, &args.pop3s)?,
        http: listen_for(Service::Http, &args.http)?,
        https: listen_for(Service::Https, &args.https)?,
    };
    check_distinct(&listen)?;
    Ok(listen)
}

/// Every interface, IPv6 and IPv4: `[::]:port`, dual-stack.
pub fn all_interfaces(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))
}

/// `off`, `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (every interface,
/// IPv6 and IPv4, as the defaults).
pub fn parse_listen(text: &str) -> Result<Option<SocketAddr>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    const EXPECTED: &str = "expected HOST:PORT, [IPv6]:PORT, :PORT or off";
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if !port_only.is_empty() && port_only.bytes().all(|b| b.is_ascii_digit()) {
        let port = port_only
            .parse::<u16>()
            .map_err(|_| format!("port {port_only} is not 0 to 65535"))?;
        return Ok(Some(all_interfaces(port)));
    }
    if let Some(rest) = text.strip_prefix("localhost:") {
        let port = rest
            .parse::<u16>()
            .map_err(|_| format!("not an address: {EXPECTED}"))?;
        return Ok(Some(SocketAddr::from(([127, 0, 0, 1], port))));
    }
    text.parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| format!("not an address: {EXPECTED}"))
}

/// Two services on one address would make the second bind fail obscurely.
fn check_distinct(listen: &Listen) -> Result<(), ConfigError> {
    let services = listen.services();
    for (i, (a, addr_a)) in services.iter().enumerate() {
        for (b, addr_b) in &services[i + 1..] {
            if let (Some(x), Some(y)) = (addr_a, addr_b)
                && x == y
                && x.port() != 0
            {
                return Err(ConfigError(format!(
                    "--{} and --{} both listen on {x}; give one of them another address or \"off\"",
                    a.name(),
                    b.name()
                )));
            }
        }
    }
    Ok(())
}
