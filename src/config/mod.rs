//! `smolmail serve` configuration: command-line flags and `SMOLMAIL_*`
//! environment variables resolved into one validated [`Config`].
//!
//! Every flag has an environment variable named after it (`--max-message-size`
//! → `SMOLMAIL_MAX_MESSAGE_SIZE`) so the appliance can be configured from one
//! env file; the flag wins when both are given. A bad value stops start-up
//! with one line naming where it came from (flag or variable) and why.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use argh::FromArgs;

// The `serve` subcommand's flags, exactly as typed. Every field is optional
// here because its environment variable or default fills it in later.
#[derive(FromArgs, Debug, Default, PartialEq)]
#[argh(subcommand, name = "serve")]
/// run the mail server (every flag also reads SMOLMAIL_<FLAG>; the flag wins)
pub struct ServeArgs {
    /// data directory: LMDB store, generated TLS key [env SMOLMAIL_DATA; default /var/lib/smolmail, or ~/.local/share/smolmail when not root]
    #[argh(option)]
    pub data: Option<String>,
    /// name used in greetings, Received: headers and the self-signed certificate [env SMOLMAIL_HOSTNAME; default: the system host name]
    #[argh(option)]
    pub hostname: Option<String>,
    /// SMTP (MTA) listen address or "off" [env SMOLMAIL_SMTP; default 0.0.0.0:25]
    #[argh(option)]
    pub smtp: Option<String>,
    /// submission with STARTTLS listen address or "off" [env SMOLMAIL_SUBMISSION; default 0.0.0.0:587]
    #[argh(option)]
    pub submission: Option<String>,
    /// submission with implicit TLS listen address or "off" [env SMOLMAIL_SUBMISSIONS; default 0.0.0.0:465]
    #[argh(option)]
    pub submissions: Option<String>,
    /// IMAP listen address or "off" [env SMOLMAIL_IMAP; default 0.0.0.0:143]
    #[argh(option)]
    pub imap: Option<String>,
    /// IMAP with implicit TLS listen address or "off" [env SMOLMAIL_IMAPS; default 0.0.0.0:993]
    #[argh(option)]
    pub imaps: Option<String>,
    /// POP3 listen address or "off" [env SMOLMAIL_POP3; default 0.0.0.0:110]
    #[argh(option)]
    pub pop3: Option<String>,
    /// POP3 with implicit TLS listen address or "off" [env SMOLMAIL_POP3S; default 0.0.0.0:995]
    #[argh(option)]
    pub pop3s: Option<String>,
    /// added to every default port, e.g. 10000 gives 10025, 10587... so an unprivileged user can try smolmail [env SMOLMAIL_PORT_OFFSET; default 0]
    #[argh(option)]
    pub port_offset: Option<String>,
    /// PEM certificate chain [env SMOLMAIL_TLS_CERT; default: a self-signed certificate generated into the data directory]
    #[argh(option)]
    pub tls_cert: Option<String>,
    /// PEM private key for --tls-cert [env SMOLMAIL_TLS_KEY]
    #[argh(option)]
    pub tls_key: Option<String>,
    /// network (CIDR) allowed to send without AUTH, repeatable, or "none" [env SMOLMAIL_TRUSTED_NETWORK, comma-separated; default 127.0.0.0/8,::1/128]
    #[argh(option)]
    pub trusted_network: Vec<String>,
    /// largest message accepted, bytes with optional K/M/G suffix [env SMOLMAIL_MAX_MESSAGE_SIZE; default 25M]
    #[argh(option)]
    pub max_message_size: Option<String>,
    /// connections open at once, all services [env SMOLMAIL_MAX_CONNECTIONS; default 1000]
    #[argh(option)]
    pub max_connections: Option<String>,
    /// connections open at once from one IP address [env SMOLMAIL_MAX_CONNECTIONS_PER_IP; default 20]
    #[argh(option)]
    pub max_connections_per_ip: Option<String>,
    /// LMDB map size: the most the store may grow to, with K/M/G suffix [env SMOLMAIL_MAP_SIZE; default 16G on 64-bit, 1G on 32-bit]
    #[argh(option)]
    pub map_size: Option<String>,
    /// log level: error, warn, info, debug or trace [env SMOLMAIL_LOG_LEVEL; default info]
    #[argh(option)]
    pub log_level: Option<String>,
    /// recipients accepted per message [env SMOLMAIL_MAX_RECIPIENTS; default 100]
    #[argh(option)]
    pub max_recipients: Option<String>,
    /// also offer AUTH on the SMTP port 25 (after STARTTLS) [env SMOLMAIL_SMTP_AUTH=yes|no; default no]
    #[argh(switch)]
    pub smtp_auth: bool,
    /// send all outbound mail through this host, HOST:PORT (a provider's submission port) [env SMOLMAIL_RELAY_HOST; default: none, deliver to each domain's MX]
    #[argh(option)]
    pub relay_host: Option<String>,
    /// user name for AUTH at the relay host [env SMOLMAIL_RELAY_USER]
    #[argh(option)]
    pub relay_user: Option<String>,
    /// file whose first line is the password for --relay-user [env SMOLMAIL_RELAY_PASSWORD_FILE]
    #[argh(option)]
    pub relay_password_file: Option<String>,
    /// TLS to the relay host: implicit or starttls (always verified) [env SMOLMAIL_RELAY_TLS; default implicit on port 465, else starttls]
    #[argh(option)]
    pub relay_tls: Option<String>,
    /// PEM file of CA certificates also trusted for the relay host (a private CA) [env SMOLMAIL_RELAY_CA]
    #[argh(option)]
    pub relay_ca: Option<String>,
    /// DOMAIN=HOST:PORT sends that domain's mail to HOST; DOMAIN=mx delivers it by MX even with --relay-host; repeatable [env SMOLMAIL_ROUTE, comma-separated]
    #[argh(option)]
    pub route: Vec<String>,
    /// DNS server for MX lookups, IP or IP:PORT, repeatable [env SMOLMAIL_DNS_SERVER, comma-separated; default: the nameservers in /etc/resolv.conf]
    #[argh(option)]
    pub dns_server: Vec<String>,
    /// port of MX hosts, for tests [env SMOLMAIL_SMTP_PORT_OUT; default 25]
    #[argh(option, hidden_help)]
    pub smtp_port_out: Option<String>,
    /// first retry delay after a temporary failure, doubling up to 4h; s/m/h/d suffix [env SMOLMAIL_RETRY_BASE; default 5m]
    #[argh(option)]
    pub retry_base: Option<String>,
    /// how long a message is retried before it is bounced [env SMOLMAIL_QUEUE_LIFETIME; default 5d]
    #[argh(option)]
    pub queue_lifetime: Option<String>,
    /// tell the sender when a message has waited this long, or "off" [env SMOLMAIL_DELAY_WARNING; default 4h]
    #[argh(option)]
    pub delay_warning: Option<String>,
    /// outbound SMTP connections at once [env SMOLMAIL_MAX_OUTBOUND; default 20]
    #[argh(option)]
    pub max_outbound: Option<String>,
    /// outbound SMTP connections at once to one destination [env SMOLMAIL_MAX_OUTBOUND_PER_DESTINATION; default 5]
    #[argh(option)]
    pub max_outbound_per_destination: Option<String>,
    /// most messages waiting in the outbound queue; beyond it remote recipients get 452 [env SMOLMAIL_MAX_QUEUE; default 10000]
    #[argh(option)]
    pub max_queue: Option<String>,
}

/// One validated server configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub hostname: String,
    pub listen: Listen,
    /// Certificate and key files; `None` means the generated self-signed pair.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    pub trusted_networks: Vec<Cidr>,
    pub max_message_size: u64,
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
    pub map_size: u64,
    pub log_level: log::LevelFilter,
    pub max_recipients: u32,
    /// AUTH on port 25 as well as on submission.
    pub smtp_auth: bool,
    /// Outbound delivery: relay host, routes, DNS, retries, limits.
    pub delivery: DeliveryConfig,
}

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
}

impl Listen {
    /// Every service with its address, in a fixed order, for binding and logs.
    pub fn services(&self) -> [(Service, Option<SocketAddr>); 7] {
        [
            (Service::Smtp, self.smtp),
            (Service::Submission, self.submission),
            (Service::Submissions, self.submissions),
            (Service::Imap, self.imap),
            (Service::Imaps, self.imaps),
            (Service::Pop3, self.pop3),
            (Service::Pop3s, self.pop3s),
        ]
    }
}

/// The seven listening services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Smtp,
    Submission,
    Submissions,
    Imap,
    Imaps,
    Pop3,
    Pop3s,
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
        }
    }

    /// Implicit TLS (RFC 8314): the handshake comes before any protocol byte.
    pub fn implicit_tls(self) -> bool {
        matches!(self, Service::Submissions | Service::Imaps | Service::Pop3s)
    }
}

/// An IP network in CIDR notation, e.g. `192.168.1.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("prefix length {p:?} must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether the client at `ip` is in the network; an IPv4 client on a
    /// dual-stack socket (::ffff:a.b.c.d) is an IPv4 client (`ClientAddr`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, crate::net::ClientAddr::new(ip).ip()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_match(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let (whole, rest) = ((prefix / 8) as usize, prefix % 8);
    if net[..whole] != ip[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        net[whole] & mask == ip[whole] & mask
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a configuration value was refused: where it came from and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A raw value and where it came from, so errors can name the flag or the
/// environment variable the user actually wrote.
struct Raw {
    value: String,
    origin: String,
}

impl Raw {
    fn error(&self, why: impl fmt::Display) -> ConfigError {
        ConfigError(format!("{}={:?}: {why}", self.origin, self.value))
    }
}

/// Looks up a setting: the flag if given, else `SMOLMAIL_<FLAG>`.
fn pick(flag: &Option<String>, name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<Raw> {
    if let Some(value) = flag {
        return Some(Raw {
            value: value.clone(),
            origin: format!("--{name}"),
        });
    }
    let var = env_name(name);
    env(&var).map(|value| Raw { value, origin: var })
}

/// `max-message-size` → `SMOLMAIL_MAX_MESSAGE_SIZE`.
pub fn env_name(flag: &str) -> String {
    format!("SMOLMAIL_{}", flag.replace('-', "_").to_uppercase())
}

impl Config {
    /// Resolves flags, then environment, then defaults; validates each value.
    pub fn resolve(
        args: &ServeArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let data_dir = match pick(&args.data, "data", env) {
            Some(raw) if raw.value.trim().is_empty() => {
                return Err(raw.error("must name a directory"));
            }
            Some(raw) => PathBuf::from(raw.value),
            None => default_data_dir(env),
        };
        let hostname = match pick(&args.hostname, "hostname", env) {
            Some(raw) => crate::address::normalize_domain(&raw.value).map_err(|e| raw.error(e))?,
            None => system_hostname(),
        };
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
                        Some(port) => Ok(Some(SocketAddr::from(([0, 0, 0, 0], port)))),
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
        };
        check_distinct(&listen)?;

        let cert = pick(&args.tls_cert, "tls-cert", env);
        let key = pick(&args.tls_key, "tls-key", env);
        let tls_files = match (cert, key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some((PathBuf::from(c.value), PathBuf::from(k.value))),
            (Some(c), None) => return Err(c.error("needs --tls-key (SMOLMAIL_TLS_KEY) too")),
            (None, Some(k)) => return Err(k.error("needs --tls-cert (SMOLMAIL_TLS_CERT) too")),
        };

        let trusted_networks = if args.trusted_network.is_empty() {
            match env(&env_name("trusted-network")) {
                Some(value) => parse_networks(
                    value.split(',').map(|s| s.trim()).filter(|s| !s.is_empty()),
                    "SMOLMAIL_TRUSTED_NETWORK",
                )?,
                None => vec![
                    Cidr::parse("127.0.0.0/8").unwrap(),
                    Cidr::parse("::1/128").unwrap(),
                ],
            }
        } else {
            parse_networks(
                args.trusted_network.iter().map(|s| s.trim()),
                "--trusted-network",
            )?
        };

        let max_message_size = match pick(&args.max_message_size, "max-message-size", env) {
            Some(raw) => parse_size(&raw.value)
                .filter(|n| (1024..=(1u64 << 30)).contains(n))
                .ok_or_else(|| raw.error("must be a size from 1K to 1G, like 26214400 or 25M"))?,
            None => 25 << 20,
        };
        let count = |flag: &Option<String>, name: &str, default: u32| match pick(flag, name, env) {
            Some(raw) => raw
                .value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| raw.error("must be a whole number of at least 1")),
            None => Ok(default),
        };
        let max_connections = count(&args.max_connections, "max-connections", 1000)?;
        let max_connections_per_ip =
            count(&args.max_connections_per_ip, "max-connections-per-ip", 20)?;

        let map_size = match pick(&args.map_size, "map-size", env) {
            Some(raw) => parse_size(&raw.value)
                .filter(|n| *n >= 1 << 20 && usize::try_from(*n).is_ok())
                .ok_or_else(|| {
                    raw.error("must be a size of at least 1M that fits this machine, like 4G")
                })?,
            None => default_map_size(),
        };
        let log_level = match pick(&args.log_level, "log-level", env) {
            Some(raw) => parse_log_level(&raw.value)
                .ok_or_else(|| raw.error("must be error, warn, info, debug or trace"))?,
            None => log::LevelFilter::Info,
        };
        let max_recipients = count(&args.max_recipients, "max-recipients", 100)?;
        let smtp_auth = match (args.smtp_auth, env(&env_name("smtp-auth"))) {
            (true, _) => true,
            (false, None) => false,
            (false, Some(value)) => parse_bool(&value).ok_or_else(|| {
                ConfigError(format!("SMOLMAIL_SMTP_AUTH={value:?}: must be yes or no"))
            })?,
        };
        let delivery = resolve_delivery(args, env)?;
        Ok(Config {
            data_dir,
            hostname,
            listen,
            tls_files,
            trusted_networks,
            max_message_size,
            max_connections,
            max_connections_per_ip,
            map_size,
            log_level,
            max_recipients,
            smtp_auth,
            delivery,
        })
    }

    /// Whether `ip` may relay without authenticating.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_networks.iter().any(|net| net.contains(ip))
    }
}

/// `off`, `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (all IPv4 interfaces).
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
        return Ok(Some(SocketAddr::from(([0, 0, 0, 0], port))));
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

fn parse_networks<'a>(
    items: impl Iterator<Item = &'a str>,
    origin: &str,
) -> Result<Vec<Cidr>, ConfigError> {
    let mut nets = Vec::new();
    for item in items {
        if item.eq_ignore_ascii_case("none") {
            continue;
        }
        let net =
            Cidr::parse(item).map_err(|why| ConfigError(format!("{origin}={item:?}: {why}")))?;
        nets.push(net);
    }
    Ok(nets)
}

/// `1048576`, `1024K`, `25M`, `2G` (binary multiples, as Postfix and
/// Dovecot users write them).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&text[..text.len() - 1], 10),
        b'M' => (&text[..text.len() - 1], 20),
        b'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

/// `yes`/`no` and the usual spellings of them.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

pub fn parse_log_level(text: &str) -> Option<log::LevelFilter> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" => Some(log::LevelFilter::Off),
        "error" => Some(log::LevelFilter::Error),
        "warn" | "warning" => Some(log::LevelFilter::Warn),
        "info" => Some(log::LevelFilter::Info),
        "debug" => Some(log::LevelFilter::Debug),
        "trace" => Some(log::LevelFilter::Trace),
        _ => None,
    }
}

/// `/var/lib/smolmail` for root (the appliance), else a per-user directory
/// so that a newcomer's first run needs no privileges.
pub fn default_data_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/smolmail");
    }
    if let Some(xdg) = env("XDG_DATA_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(xdg).join("smolmail");
    }
    match env("HOME").filter(|s| !s.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/smolmail"),
        None => PathBuf::from("smolmail-data"),
    }
}

/// The effective uid is root: read from /proc so no libc binding is needed.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            // Uid: real effective saved fs
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| crate::address::normalize_domain(&h).ok())
        .unwrap_or_else(|| "localhost".to_string())
}

fn default_map_size() -> u64 {
    if cfg!(target_pointer_width = "64") {
        16 << 30
    } else {
        1 << 30
    }
}
mod delivery;
#[cfg(test)]
mod tests;

use delivery::resolve_delivery;
pub use delivery::{
    DeliveryConfig, MAX_RETRY, Relay, Route, RouteTarget, Secret, parse_duration, parse_host_port,
};
