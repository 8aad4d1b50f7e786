//! Settings of outbound delivery (`crate::delivery`): relay host, routes,
//! DNS, retries and limits, resolved from flags and `SMOLMAIL_*` the same way
//! as the rest of the configuration.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Raw, ServeArgs, count, env_name, pick};

/// How outbound mail leaves: settings of `crate::delivery`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryConfig {
    /// Everything goes through this host (Postfix's `relayhost`); `None`
    /// delivers to each domain's MX.
    pub relay: Option<Relay>,
    /// Per-domain next hops, checked before the relay host.
    pub routes: Vec<Route>,
    /// DNS servers; empty means those of /etc/resolv.conf.
    pub dns_servers: Vec<SocketAddr>,
    /// Port of MX hosts (25; tests point it at a local peer).
    pub smtp_port_out: u16,
    /// First retry delay; it doubles per attempt up to [`MAX_RETRY`].
    pub retry_base: Duration,
    /// How long a message is retried before it is bounced.
    pub queue_lifetime: Duration,
    /// When the sender hears that a message is still waiting.
    pub delay_warning: Option<Duration>,
    pub max_outbound: u32,
    pub max_outbound_per_destination: u32,
    /// Queue entries beyond which SMTP refuses remote recipients.
    pub max_queue: u32,
    /// The IP versions outbound connections use (`--outbound-ip`).
    pub outbound_ip: OutboundIp,
    /// MTA-STS (RFC 8461), tests only: a private CA also trusted for
    /// policy hosts and for the MX hosts of enforcing domains, and the
    /// policy hosts' port (443).
    pub mta_sts_test_ca: Option<PathBuf>,
    pub mta_sts_test_port: u16,
}

/// `--outbound-ip`: which address families delivery connects over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutboundIp {
    /// IPv6 first, IPv4 as the fallback (RFC 8305's preference).
    #[default]
    Both,
    /// IPv4 only: for a home whose IPv6 has no reverse DNS, which big
    /// providers reject mail from.
    V4,
    /// IPv6 only.
    V6,
}

impl OutboundIp {
    pub fn parse(text: &str) -> Result<OutboundIp, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "both" | "any" => Ok(OutboundIp::Both),
            "4" | "ipv4" => Ok(OutboundIp::V4),
            "6" | "ipv6" => Ok(OutboundIp::V6),
            _ => Err("expected 4, 6 or both".into()),
        }
    }

    /// Whether an address of this family may be connected to.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            OutboundIp::Both => true,
            OutboundIp::V4 => ip.is_ipv4(),
            OutboundIp::V6 => ip.is_ipv6(),
        }
    }
}

/// Longest wait between two attempts (Postfix's maximal_backoff_time).
pub const MAX_RETRY: Duration = Duration::from_secs(4 * 3600);

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            relay: None,
            routes: Vec::new(),
            dns_servers: Vec::new(),
            smtp_port_out: 25,
            retry_base: Duration::from_secs(300),
            queue_lifetime: Duration::from_secs(5 * 86_400),
            delay_warning: Some(Duration::from_secs(4 * 3600)),
            max_outbound: 20,
            max_outbound_per_destination: 5,
            max_queue: 10_000,
            outbound_ip: OutboundIp::Both,
            mta_sts_test_ca: None,
            mta_sts_test_port: 443,
        }
    }
}

/// A relay host (a provider's submission service).
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    /// TLS from the first byte (RFC 8314, port 465) instead of STARTTLS.
    pub implicit_tls: bool,
    /// AUTH user and password; both or neither.
    pub auth: Option<(String, Secret)>,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
}

/// Where one domain's mail goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub domain: String,
    pub target: RouteTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RouteTarget {
    /// Look up the domain's MX, as without a relay host.
    Mx,
    /// This host and port, no MX lookup (opportunistic TLS, no AUTH).
    Host { host: String, port: u16 },
}

/// The one password type (kept out of logs), re-exported where the
/// settings that hold one are.
pub use crate::secret::Secret;

/// `host:port`, `[host]:port` (Postfix's spelling) or `[IPv6]:port`; the
/// host is a domain name or an IP address.
pub fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    const EXPECTED: &str = "expected HOST:PORT, like smtp.example.net:587";
    let text = text.trim();
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, port) = rest.split_once(']').ok_or(EXPECTED)?;
            (host, port.strip_prefix(':').ok_or(EXPECTED)?)
        }
        None => text.rsplit_once(':').ok_or(EXPECTED)?,
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("port {port:?} is not 1 to 65535"))?;
    if host.parse::<IpAddr>().is_ok() {
        return Ok((host.to_string(), port));
    }
    let host = crate::address::normalize_domain(host)?;
    Ok((host, port))
}

/// `300`, `30s`, `5m`, `4h`, `5d`: whole seconds with an optional unit.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = match text.as_bytes().last()?.to_ascii_lowercase() {
        b's' => (&text[..text.len() - 1], 1),
        b'm' => (&text[..text.len() - 1], 60),
        b'h' => (&text[..text.len() - 1], 3600),
        b'd' => (&text[..text.len() - 1], 86_400),
        _ => (text, 1),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(unit).map(Duration::from_secs)
}

/// A DNS server: `IP` (port 53), `IP:PORT` or `[IPv6]:PORT`.
fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| "expected an IP address, IP:PORT or [IPv6]:PORT".to_string())
}

/// Values of a repeatable flag, or its variable split at commas.
fn list(flag: &[String], name: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<Raw> {
    if !flag.is_empty() {
        return flag
            .iter()
            .map(|value| Raw {
                value: value.clone(),
                origin: format!("--{name}"),
            })
            .collect();
    }
    let var = env_name(name);
    env(&var)
        .map(|all| {
            all.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|value| Raw {
                    value: value.to_string(),
                    origin: var.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The outbound settings, in a fixed order: relay host, routes, DNS
/// servers, MX port, retry times, limits.
pub(super) fn resolve_delivery(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DeliveryConfig, ConfigError> {
    let mut d = DeliveryConfig {
        relay: resolve_relay(args, env)?,
        routes: resolve_routes(args, env)?,
        ..DeliveryConfig::default()
    };
    for raw in list(&args.dns_server, "dns-server", env) {
        d.dns_servers
            .push(parse_dns_server(&raw.value).map_err(|e| raw.error(e))?);
    }
    if let Some(raw) = pick(&args.smtp_port_out, "smtp-port-out", env) {
        d.smtp_port_out = raw
            .value
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| raw.error("must be a port from 1 to 65535"))?;
    }
    if let Some(raw) = pick(&args.mta_sts_test_ca, "mta-sts-test-ca", env) {
        d.mta_sts_test_ca = Some(PathBuf::from(raw.value.trim()));
    }
    if let Some(raw) = pick(&args.mta_sts_test_port, "mta-sts-test-port", env) {
        d.mta_sts_test_port = raw
            .value
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| raw.error("must be a port from 1 to 65535"))?;
    }
    resolve_retry_times(&mut d, args, env)?;
    d.max_outbound = count(&args.max_outbound, "max-outbound", d.max_outbound, env)?;
    d.max_outbound_per_destination = count(
        &args.max_outbound_per_destination,
        "max-outbound-per-destination",
        d.max_outbound_per_destination,
        env,
    )?;
    d.max_queue = count(&args.max_queue, "max-queue", d.max_queue, env)?;
    if let Some(raw) = pick(&args.outbound_ip, "outbound-ip", env) {
        d.outbound_ip = OutboundIp::parse(&raw.value).map_err(|e| raw.error(e))?;
    }
    Ok(d)
}

/// `--relay-host` and what only makes sense with it (user, password file,
/// TLS mode, CA file); those without a relay host are an error.
fn resolve_relay(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Relay>, ConfigError> {
    let relay_host = pick(&args.relay_host, "relay-host", env);
    let user = pick(&args.relay_user, "relay-user", env);
    let password_file = pick(&args.relay_password_file, "relay-password-file", env);
    let tls = pick(&args.relay_tls, "relay-tls", env);
    let ca = pick(&args.relay_ca, "relay-ca", env);
    let Some(raw) = relay_host else {
        if let Some(raw) = [user, password_file, tls, ca].into_iter().flatten().next() {
            return Err(raw.error("needs --relay-host (SMOLMAIL_RELAY_HOST)"));
        }
        return Ok(None);
    };
    let (host, port) = parse_host_port(&raw.value).map_err(|e| raw.error(e))?;
    let implicit_tls = match tls {
        None => port == 465,
        Some(raw) => match raw.value.trim().to_ascii_lowercase().as_str() {
            "implicit" | "tls" | "smtps" => true,
            "starttls" => false,
            _ => return Err(raw.error("must be implicit or starttls")),
        },
    };
    let auth = relay_auth(user, password_file)?;
    let ca_file = match ca {
        Some(raw) if !std::path::Path::new(&raw.value).is_file() => {
            return Err(raw.error("no such file"));
        }
        Some(raw) => Some(PathBuf::from(raw.value)),
        None => None,
    };
    Ok(Some(Relay {
        host,
        port,
        implicit_tls,
        auth,
        ca_file,
    }))
}

/// The relay's AUTH user and the password from the first line of its
/// file: both or neither.
fn relay_auth(
    user: Option<Raw>,
    password_file: Option<Raw>,
) -> Result<Option<(String, Secret)>, ConfigError> {
    match (user, password_file) {
        (None, None) => Ok(None),
        (Some(u), None) => {
            Err(u.error("needs --relay-password-file (SMOLMAIL_RELAY_PASSWORD_FILE) too"))
        }
        (None, Some(p)) => Err(p.error("needs --relay-user (SMOLMAIL_RELAY_USER) too")),
        (Some(u), Some(p)) => {
            if u.value.trim().is_empty() {
                return Err(u.error("must name the user"));
            }
            let text = std::fs::read_to_string(&p.value)
                .map_err(|e| p.error(format!("cannot read the password: {e}")))?;
            let line = text.lines().next().unwrap_or("");
            if line.is_empty() {
                return Err(p.error("the first line (the password) is empty"));
            }
            Ok(Some((u.value.trim().to_string(), Secret(line.to_string()))))
        }
    }
}

/// The repeatable `--route DOMAIN=HOST:PORT` or `DOMAIN=mx`.
fn resolve_routes(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Route>, ConfigError> {
    let mut routes = Vec::new();
    for raw in list(&args.route, "route", env) {
        let (domain, target) = raw
            .value
            .split_once('=')
            .ok_or_else(|| raw.error("expected DOMAIN=HOST:PORT or DOMAIN=mx"))?;
        let domain = crate::address::normalize_domain(domain).map_err(|e| raw.error(e))?;
        let target = if target.trim().eq_ignore_ascii_case("mx") {
            RouteTarget::Mx
        } else {
            let (host, port) = parse_host_port(target).map_err(|e| raw.error(e))?;
            RouteTarget::Host { host, port }
        };
        routes.push(Route { domain, target });
    }
    Ok(routes)
}

/// How often and how long a message is retried, and when the sender is
/// told it is still waiting; each left at its default when not given.
fn resolve_retry_times(
    d: &mut DeliveryConfig,
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(raw) = pick(&args.retry_base, "retry-base", env) {
        d.retry_base = parse_duration(&raw.value)
            .filter(|t| (Duration::from_secs(1)..=MAX_RETRY).contains(t))
            .ok_or_else(|| raw.error("must be a time from 1s to 4h, like 300, 30s or 5m"))?;
    }
    if let Some(raw) = pick(&args.queue_lifetime, "queue-lifetime", env) {
        d.queue_lifetime = parse_duration(&raw.value)
            .filter(|t| *t >= Duration::from_secs(1) && t.as_secs() <= 365 * 86_400)
            .ok_or_else(|| raw.error("must be a time from 1s to 365d, like 5d or 12h"))?;
    }
    if let Some(raw) = pick(&args.delay_warning, "delay-warning", env) {
        d.delay_warning = match raw.value.trim() {
            "off" | "0" => None,
            text => Some(
                parse_duration(text)
                    .filter(|t| *t >= Duration::from_secs(1))
                    .ok_or_else(|| raw.error("must be a time like 4h, or off"))?,
            ),
        };
    }
    Ok(())
}
