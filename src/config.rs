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
use std::time::Duration;

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

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
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

/// A password: kept out of `Debug` output and so out of logs.
#[derive(Clone, PartialEq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

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

fn resolve_delivery(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DeliveryConfig, ConfigError> {
    let mut d = DeliveryConfig::default();
    let relay_host = pick(&args.relay_host, "relay-host", env);
    let user = pick(&args.relay_user, "relay-user", env);
    let password_file = pick(&args.relay_password_file, "relay-password-file", env);
    let tls = pick(&args.relay_tls, "relay-tls", env);
    let ca = pick(&args.relay_ca, "relay-ca", env);
    match relay_host {
        Some(raw) => {
            let (host, port) = parse_host_port(&raw.value).map_err(|e| raw.error(e))?;
            let implicit_tls = match tls {
                None => port == 465,
                Some(raw) => match raw.value.trim().to_ascii_lowercase().as_str() {
                    "implicit" | "tls" | "smtps" => true,
                    "starttls" => false,
                    _ => return Err(raw.error("must be implicit or starttls")),
                },
            };
            let auth = match (user, password_file) {
                (None, None) => None,
                (Some(u), None) => {
                    return Err(
                        u.error("needs --relay-password-file (SMOLMAIL_RELAY_PASSWORD_FILE) too")
                    );
                }
                (None, Some(p)) => {
                    return Err(p.error("needs --relay-user (SMOLMAIL_RELAY_USER) too"));
                }
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
                    Some((u.value.trim().to_string(), Secret(line.to_string())))
                }
            };
            let ca_file = match ca {
                Some(raw) if !std::path::Path::new(&raw.value).is_file() => {
                    return Err(raw.error("no such file"));
                }
                Some(raw) => Some(PathBuf::from(raw.value)),
                None => None,
            };
            d.relay = Some(Relay {
                host,
                port,
                implicit_tls,
                auth,
                ca_file,
            });
        }
        None => {
            if let Some(raw) = [user, password_file, tls, ca].into_iter().flatten().next() {
                return Err(raw.error("needs --relay-host (SMOLMAIL_RELAY_HOST)"));
            }
        }
    }
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
        d.routes.push(Route { domain, target });
    }
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
    d.max_outbound = count(&args.max_outbound, "max-outbound", d.max_outbound)?;
    d.max_outbound_per_destination = count(
        &args.max_outbound_per_destination,
        "max-outbound-per-destination",
        d.max_outbound_per_destination,
    )?;
    d.max_queue = count(&args.max_queue, "max-queue", d.max_queue)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(args: ServeArgs, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::resolve(&args, &|k| env.get(k).cloned())
    }

    /// Arguments, environment, and the text the error must contain.
    type Case = (ServeArgs, Vec<(&'static str, &'static str)>, &'static str);

    #[test]
    fn defaults() {
        let c = resolve(ServeArgs::default(), &[("HOME", "/home/u")]).unwrap();
        assert_eq!(c.listen.smtp, Some("0.0.0.0:25".parse().unwrap()));
        assert_eq!(c.listen.pop3s, Some("0.0.0.0:995".parse().unwrap()));
        assert_eq!(c.max_message_size, 25 << 20);
        assert!(c.is_trusted("127.0.0.1".parse().unwrap()));
        assert!(!c.is_trusted("192.168.1.5".parse().unwrap()));
        assert_eq!(c.tls_files, None);
    }

    #[test]
    fn flag_beats_env_and_env_beats_default() {
        let args = ServeArgs {
            smtp: Some("127.0.0.1:2525".into()),
            ..Default::default()
        };
        let c = resolve(
            args,
            &[("SMOLMAIL_SMTP", "127.0.0.1:9"), ("SMOLMAIL_IMAP", "off")],
        )
        .unwrap();
        assert_eq!(c.listen.smtp, Some("127.0.0.1:2525".parse().unwrap()));
        assert_eq!(c.listen.imap, None);
    }

    #[test]
    fn port_offset_moves_defaults_only() {
        let args = ServeArgs {
            port_offset: Some("10000".into()),
            pop3: Some(":1110".into()),
            ..Default::default()
        };
        let c = resolve(args, &[]).unwrap();
        assert_eq!(c.listen.smtp.unwrap().port(), 10025);
        assert_eq!(c.listen.submission.unwrap().port(), 10587);
        assert_eq!(c.listen.pop3.unwrap().port(), 1110);
    }

    #[test]
    fn listen_forms() {
        assert_eq!(parse_listen("off").unwrap(), None);
        assert_eq!(
            parse_listen("2525").unwrap(),
            Some("0.0.0.0:2525".parse().unwrap())
        );
        assert_eq!(
            parse_listen("[::1]:25").unwrap(),
            Some("[::1]:25".parse().unwrap())
        );
        assert_eq!(
            parse_listen("localhost:25").unwrap(),
            Some("127.0.0.1:25".parse().unwrap())
        );
    }

    /// Each bad value gives one message that names the flag or variable.
    #[test]
    fn bad_values_name_their_origin() {
        let cases: Vec<Case> = vec![
            (
                ServeArgs {
                    smtp: Some("nonsense".into()),
                    ..Default::default()
                },
                vec![],
                "--smtp=\"nonsense\": not an address",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_IMAPS", "1.2.3.4:99999")],
                "SMOLMAIL_IMAPS=\"1.2.3.4:99999\": not an address",
            ),
            (
                ServeArgs {
                    pop3: Some("99999".into()),
                    ..Default::default()
                },
                vec![],
                "--pop3=\"99999\": port 99999 is not 0 to 65535",
            ),
            (
                ServeArgs {
                    max_message_size: Some("lots".into()),
                    ..Default::default()
                },
                vec![],
                "--max-message-size=\"lots\": must be a size",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_MAX_MESSAGE_SIZE", "10")],
                "SMOLMAIL_MAX_MESSAGE_SIZE=\"10\": must be a size",
            ),
            (
                ServeArgs {
                    max_connections: Some("0".into()),
                    ..Default::default()
                },
                vec![],
                "--max-connections=\"0\": must be a whole number",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_MAX_CONNECTIONS_PER_IP", "-3")],
                "SMOLMAIL_MAX_CONNECTIONS_PER_IP=\"-3\"",
            ),
            (
                ServeArgs {
                    trusted_network: vec!["10.0.0.0/33".into()],
                    ..Default::default()
                },
                vec![],
                "--trusted-network=\"10.0.0.0/33\": prefix length",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_TRUSTED_NETWORK", "10.0.0.0/8, banana")],
                "SMOLMAIL_TRUSTED_NETWORK=\"banana\": \"banana\" is not an IP address",
            ),
            (
                ServeArgs {
                    tls_cert: Some("/x.pem".into()),
                    ..Default::default()
                },
                vec![],
                "--tls-cert=\"/x.pem\": needs --tls-key",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_TLS_KEY", "/k.pem")],
                "SMOLMAIL_TLS_KEY=\"/k.pem\": needs --tls-cert",
            ),
            (
                ServeArgs {
                    hostname: Some("bad host".into()),
                    ..Default::default()
                },
                vec![],
                "--hostname=\"bad host\"",
            ),
            (
                ServeArgs {
                    map_size: Some("12".into()),
                    ..Default::default()
                },
                vec![],
                "--map-size=\"12\": must be a size",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_SMTP_AUTH", "maybe")],
                "SMOLMAIL_SMTP_AUTH=\"maybe\": must be yes or no",
            ),
            (
                ServeArgs {
                    max_recipients: Some("0".into()),
                    ..Default::default()
                },
                vec![],
                "--max-recipients=\"0\"",
            ),
            (
                ServeArgs {
                    log_level: Some("loud".into()),
                    ..Default::default()
                },
                vec![],
                "--log-level=\"loud\": must be error",
            ),
            (
                ServeArgs {
                    port_offset: Some("70000".into()),
                    ..Default::default()
                },
                vec![],
                "--port-offset=\"70000\"",
            ),
            (
                ServeArgs {
                    port_offset: Some("65000".into()),
                    ..Default::default()
                },
                vec![],
                "pushes the",
            ),
            (
                ServeArgs {
                    data: Some(" ".into()),
                    ..Default::default()
                },
                vec![],
                "--data=\" \": must name a directory",
            ),
            (
                ServeArgs {
                    imap: Some("127.0.0.1:2000".into()),
                    pop3: Some("127.0.0.1:2000".into()),
                    ..Default::default()
                },
                vec![],
                "--imap and --pop3 both listen on 127.0.0.1:2000",
            ),
        ];
        for (args, env, expected) in cases {
            let err = resolve(args, &env).expect_err(expected);
            assert!(
                err.0.contains(expected),
                "{:?} does not contain {expected:?}",
                err.0
            );
            assert!(!err.0.contains('\n'), "one line: {:?}", err.0);
        }
    }

    #[test]
    fn cidr_matching() {
        let net = Cidr::parse("192.168.1.0/24").unwrap();
        assert!(net.contains("192.168.1.77".parse().unwrap()));
        assert!(net.contains("::ffff:192.168.1.77".parse().unwrap()));
        assert!(!net.contains("192.168.2.1".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("10.1.2.3/13")
                .unwrap()
                .contains("10.7.0.0".parse().unwrap())
        );
        assert!(
            !Cidr::parse("10.1.2.3/13")
                .unwrap()
                .contains("10.8.0.0".parse().unwrap())
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("25M"), Some(25 << 20));
        assert_eq!(parse_size("1024k"), Some(1 << 20));
        assert_eq!(parse_size("12345"), Some(12345));
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("99999999999999G"), None);
    }

    #[test]
    fn delivery_settings() {
        let c = resolve(ServeArgs::default(), &[]).unwrap();
        assert_eq!(c.delivery, DeliveryConfig::default());
        let dir = std::env::temp_dir().join(format!("smolmail-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("pw");
        std::fs::write(&pw, "s3cret pass\nignored\n").unwrap();
        let args = ServeArgs {
            relay_host: Some("[smtp.example.net]:465".into()),
            relay_user: Some("me@example.net".into()),
            relay_password_file: Some(pw.display().to_string()),
            route: vec!["lan.example=10.0.0.5:25".into(), "friend.example=mx".into()],
            dns_server: vec!["127.0.0.1:5353".into(), "::1".into()],
            retry_base: Some("1s".into()),
            ..Default::default()
        };
        let env = [
            ("SMOLMAIL_QUEUE_LIFETIME", "2d"),
            ("SMOLMAIL_DELAY_WARNING", "off"),
            ("SMOLMAIL_MAX_OUTBOUND", "3"),
        ];
        let d = resolve(args, &env).unwrap().delivery;
        let relay = d.relay.unwrap();
        assert_eq!((relay.host.as_str(), relay.port), ("smtp.example.net", 465));
        assert!(relay.implicit_tls, "port 465 means implicit TLS");
        let (user, password) = relay.auth.unwrap();
        assert_eq!(
            (user.as_str(), password.0.as_str()),
            ("me@example.net", "s3cret pass")
        );
        assert!(!format!("{password:?}").contains("s3cret"));
        assert_eq!(d.routes.len(), 2);
        assert_eq!(d.routes[1].target, RouteTarget::Mx);
        assert_eq!(d.dns_servers[1], "[::1]:53".parse().unwrap());
        assert_eq!(d.retry_base, Duration::from_secs(1));
        assert_eq!(d.queue_lifetime, Duration::from_secs(2 * 86_400));
        assert_eq!(d.delay_warning, None);
        assert_eq!(d.max_outbound, 3);
        let args = ServeArgs {
            relay_host: Some("smtp.example.net:465".into()),
            relay_tls: Some("starttls".into()),
            ..Default::default()
        };
        assert!(
            !resolve(args, &[])
                .unwrap()
                .delivery
                .relay
                .unwrap()
                .implicit_tls
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn delivery_bad_values_name_their_origin() {
        let relay = |f: fn(&mut ServeArgs)| {
            let mut a = ServeArgs {
                relay_host: Some("smtp.example.net:587".into()),
                ..Default::default()
            };
            f(&mut a);
            a
        };
        let cases: Vec<Case> = vec![
            (
                ServeArgs {
                    relay_host: Some("smtp.example.net".into()),
                    ..Default::default()
                },
                vec![],
                "--relay-host=\"smtp.example.net\": expected HOST:PORT",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_RELAY_HOST", "smtp.example.net:0")],
                "SMOLMAIL_RELAY_HOST=\"smtp.example.net:0\": port",
            ),
            (
                relay(|a| a.relay_tls = Some("maybe".into())),
                vec![],
                "--relay-tls=\"maybe\": must be implicit or starttls",
            ),
            (
                relay(|a| a.relay_user = Some("me".into())),
                vec![],
                "--relay-user=\"me\": needs --relay-password-file",
            ),
            (
                relay(|a| a.relay_user = Some("me".into())),
                vec![("SMOLMAIL_RELAY_PASSWORD_FILE", "/nonexistent/pw")],
                "SMOLMAIL_RELAY_PASSWORD_FILE=\"/nonexistent/pw\": cannot read",
            ),
            (
                relay(|a| a.relay_ca = Some("/nonexistent/ca.pem".into())),
                vec![],
                "--relay-ca=\"/nonexistent/ca.pem\": no such file",
            ),
            (
                ServeArgs {
                    relay_user: Some("me".into()),
                    ..Default::default()
                },
                vec![],
                "--relay-user=\"me\": needs --relay-host",
            ),
            (
                ServeArgs {
                    route: vec!["example.org".into()],
                    ..Default::default()
                },
                vec![],
                "--route=\"example.org\": expected DOMAIN=HOST:PORT",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_ROUTE", "ok.example=mx, bad domain=mx")],
                "SMOLMAIL_ROUTE=\"bad domain=mx\"",
            ),
            (
                ServeArgs {
                    dns_server: vec!["dns.example".into()],
                    ..Default::default()
                },
                vec![],
                "--dns-server=\"dns.example\": expected an IP address",
            ),
            (
                ServeArgs {
                    smtp_port_out: Some("0".into()),
                    ..Default::default()
                },
                vec![],
                "--smtp-port-out=\"0\": must be a port",
            ),
            (
                ServeArgs {
                    retry_base: Some("soon".into()),
                    ..Default::default()
                },
                vec![],
                "--retry-base=\"soon\": must be a time",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_RETRY_BASE", "5h")],
                "SMOLMAIL_RETRY_BASE=\"5h\": must be a time from 1s to 4h",
            ),
            (
                ServeArgs {
                    queue_lifetime: Some("0".into()),
                    ..Default::default()
                },
                vec![],
                "--queue-lifetime=\"0\": must be a time",
            ),
            (
                ServeArgs {
                    delay_warning: Some("later".into()),
                    ..Default::default()
                },
                vec![],
                "--delay-warning=\"later\": must be a time",
            ),
            (
                ServeArgs {
                    max_outbound: Some("0".into()),
                    ..Default::default()
                },
                vec![],
                "--max-outbound=\"0\": must be a whole number",
            ),
            (
                ServeArgs::default(),
                vec![("SMOLMAIL_MAX_OUTBOUND_PER_DESTINATION", "many")],
                "SMOLMAIL_MAX_OUTBOUND_PER_DESTINATION=\"many\"",
            ),
            (
                ServeArgs {
                    max_queue: Some("-1".into()),
                    ..Default::default()
                },
                vec![],
                "--max-queue=\"-1\"",
            ),
        ];
        for (args, env, expected) in cases {
            let err = resolve(args, &env).expect_err(expected);
            assert!(
                err.0.contains(expected),
                "{:?} does not contain {expected:?}",
                err.0
            );
            assert!(!err.0.contains('\n'), "one line: {:?}", err.0);
        }
    }

    #[test]
    fn durations_and_hosts() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("5d"), Some(Duration::from_secs(432_000)));
        assert_eq!(parse_duration("m"), None);
        assert_eq!(
            parse_host_port("[::1]:25").unwrap(),
            ("::1".to_string(), 25)
        );
        assert_eq!(
            parse_host_port("Smtp.Example.NET:587").unwrap(),
            ("smtp.example.net".to_string(), 587)
        );
        assert!(parse_host_port("bad host:25").is_err());
    }
}
