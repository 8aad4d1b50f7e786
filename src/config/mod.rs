//! `smolmail serve` configuration: command-line flags and `SMOLMAIL_*`
//! environment variables resolved into one validated [`Config`].
//!
//! Every flag has an environment variable named after it (`--max-message-size`
//! → `SMOLMAIL_MAX_MESSAGE_SIZE`) so the appliance can be configured from one
//! env file; the flag wins when both are given. A bad value stops start-up
//! with one line naming where it came from (flag or variable) and why.
//!
//! The flags themselves are in `args`; where the services listen is
//! resolved in `listen`, outbound delivery's settings in `delivery`.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

mod acme;
mod admin;
mod args;
mod delivery;
mod listen;
mod mdns;
mod metrics;
#[cfg(test)]
mod tests;
mod web;

pub use acme::{AcmeChallenge, AcmeConfig};
pub use args::ServeArgs;
use delivery::resolve_delivery;
pub use delivery::{
    DeliveryConfig, MAX_RETRY, OutboundIp, Relay, Route, RouteTarget, Secret, parse_duration,
    parse_host_port,
};
pub use listen::{Listen, Service, parse_listen};
pub use metrics::MetricsConfig;
pub use web::{MtaSts, MtaStsMode};

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
    /// Message bytes buffered at once, all connections (`net::Budget`).
    pub memory_budget: u64,
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
    pub map_size: u64,
    pub log_level: log::LevelFilter,
    pub max_recipients: u32,
    /// AUTH on port 25 as well as on submission.
    pub smtp_auth: bool,
    /// Name the authenticated user in Received: (off: the header, which
    /// leaves with relayed mail, does not give away login names).
    pub received_auth: bool,
    /// Outbound delivery: relay host, routes, DNS, retries, limits.
    pub delivery: DeliveryConfig,
    /// How long a verified login is cached (`auth::cache`); zero: off.
    pub auth_cache_ttl: Duration,
    /// Certificates by ACME (`crate::acme`); `None`: files or self-signed.
    pub acme: Option<AcmeConfig>,
    /// `--metrics`: where Prometheus scrapes `/metrics`.
    pub metrics: MetricsConfig,
    /// The MTA-STS policy the HTTPS listener serves; `None`: none served.
    pub mta_sts: Option<MtaSts>,
    /// `--dmarc-policy`: how far this server follows a domain's DMARC
    /// policy for mail that fails (RFC 7489 §6.7 leaves it to receivers).
    pub dmarc_policy: DmarcPolicy,
    /// `--admin-from`: who may reach the web admin pages.
    pub admin_from: Vec<Cidr>,
    /// `--admin-password`: the admin password set at start if none is.
    pub admin_password: Option<Secret>,
    /// `--mdns`/`--mdns-name`: the label answered as `LABEL.local` by
    /// multicast DNS (`crate::mdns`); `None`: off.
    pub mdns: Option<String>,
}

/// `--dmarc-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcPolicy {
    /// p=reject refused with 550 5.7.1; p=quarantine into Junk.
    Reject,
    /// p=reject and p=quarantine both into Junk.
    Junk,
    /// Delivered as usual; only Authentication-Results tells.
    None,
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
        // An IPv4 network written IPv4-mapped (`::ffff:10.0.0.0/104`) is
        // that IPv4 network: clients are matched in canonical form
        // (`ClientAddr`), where such an address is IPv4.
        if let (IpAddr::V6(v6), 96..) = (addr, prefix)
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            return Ok(Cidr {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            });
        }
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
    /// The settings are taken in a fixed order, so with several bad values
    /// the error names the same one every time.
    pub fn resolve(
        args: &ServeArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let data_dir = resolve_data_dir(args, env)?;
        let hostname = match pick(&args.hostname, "hostname", env) {
            Some(raw) => crate::address::normalize_domain(&raw.value).map_err(|e| raw.error(e))?,
            None => system_hostname(),
        };
        let listen = listen::resolve_listen(args, env)?;
        let tls_files = resolve_tls_files(args, env)?;
        let trusted_networks = resolve_trusted_networks(args, env)?;

        let max_message_size = match pick(&args.max_message_size, "max-message-size", env) {
            Some(raw) => parse_size(&raw.value)
                .filter(|n| (1024..=(1u64 << 30)).contains(n))
                .ok_or_else(|| raw.error("must be a size from 1K to 1G, like 26214400 or 25M"))?,
            None => 25 << 20,
        };
        // Twice --max-message-size (50 MiB by default): two messages of
        // the largest size in flight at once (an APPEND of one needs that
        // much: its literal and the delivery's copy). The writer's copy of
        // a message being committed comes on top of it, so a flood of
        // big messages keeps the whole process under 128 MiB on a 1 GB
        // board (scripts/hostile.sh measures it); mail beyond it is
        // answered with a temporary error and retried by its sender. At
        // least 32 MiB, for many small messages at once.
        let memory_budget = match pick(&args.memory_budget, "memory-budget", env) {
            Some(raw) => parse_size(&raw.value)
                .filter(|n| *n >= max_message_size && usize::try_from(*n).is_ok())
                .ok_or_else(|| {
                    raw.error("must be a size of at least --max-message-size, like 64M")
                })?,
            None => (32 << 20).max(max_message_size.saturating_mul(2)),
        };
        let max_connections = count(&args.max_connections, "max-connections", 1000, env)?;
        let max_connections_per_ip = count(
            &args.max_connections_per_ip,
            "max-connections-per-ip",
            20,
            env,
        )?;

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
        let max_recipients = count(&args.max_recipients, "max-recipients", 100, env)?;
        let smtp_auth = match (args.smtp_auth, env(&env_name("smtp-auth"))) {
            (true, _) => true,
            (false, None) => false,
            (false, Some(value)) => parse_bool(&value).ok_or_else(|| {
                ConfigError(format!("SMOLMAIL_SMTP_AUTH={value:?}: must be yes or no"))
            })?,
        };
        let received_auth = match (args.received_auth, env(&env_name("received-auth"))) {
            (true, _) => true,
            (false, None) => false,
            (false, Some(value)) => parse_bool(&value).ok_or_else(|| {
                ConfigError(format!(
                    "SMOLMAIL_RECEIVED_AUTH={value:?}: must be yes or no"
                ))
            })?,
        };
        let delivery = resolve_delivery(args, env)?;
        // Dovecot's auth_cache_ttl default: a phone reconnecting every few
        // minutes hashes once an hour; a changed password takes effect at
        // once anyway (the stored hash is part of the cache key).
        let auth_cache_ttl = match pick(&args.auth_cache_ttl, "auth-cache-ttl", env) {
            Some(raw) => parse_duration(&raw.value)
                .filter(|t| t.as_secs() <= 86_400)
                .ok_or_else(|| raw.error("must be a time from 0 (off) to 1d, like 1h or 600"))?,
            None => Duration::from_secs(3600),
        };
        let acme = acme::resolve_acme(args, env, &hostname, tls_files.is_some(), &listen)?;
        let metrics = metrics::resolve_metrics(args, env, &listen)?;
        let mta_sts = web::resolve_mta_sts(args, env, &hostname)?;
        let dmarc_policy = match pick(&args.dmarc_policy, "dmarc-policy", env) {
            Some(raw) => match raw.value.as_str() {
                "reject" => DmarcPolicy::Reject,
                "junk" => DmarcPolicy::Junk,
                "none" => DmarcPolicy::None,
                _ => return Err(raw.error("must be reject, junk or none")),
            },
            None => DmarcPolicy::Reject,
        };
        let admin_from = admin::resolve_admin_from(args, env, &trusted_networks)?;
        let admin_password = admin::resolve_admin_password(args, env)?;
        let mdns = mdns::resolve_mdns(args, env, &hostname)?;
        Ok(Config {
            data_dir,
            hostname,
            listen,
            tls_files,
            trusted_networks,
            max_message_size,
            memory_budget,
            max_connections,
            max_connections_per_ip,
            map_size,
            log_level,
            max_recipients,
            smtp_auth,
            received_auth,
            delivery,
            auth_cache_ttl,
            acme,
            metrics,
            mta_sts,
            dmarc_policy,
            admin_from,
            admin_password,
            mdns,
        })
    }

    /// Whether `ip` may relay without authenticating.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_networks.iter().any(|net| net.contains(ip))
    }

    /// Whether `ip` may reach the web admin pages (`--admin-from`).
    pub fn may_admin(&self, ip: IpAddr) -> bool {
        self.admin_from.iter().any(|net| net.contains(ip))
    }
}

/// `--data`, or the default directory for this user.
fn resolve_data_dir(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, ConfigError> {
    match pick(&args.data, "data", env) {
        Some(raw) if raw.value.trim().is_empty() => Err(raw.error("must name a directory")),
        Some(raw) => Ok(PathBuf::from(raw.value)),
        None => Ok(default_data_dir(env)),
    }
}

/// `--tls-cert` and `--tls-key`: both or neither (the self-signed pair).
fn resolve_tls_files(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
    let cert = pick(&args.tls_cert, "tls-cert", env);
    let key = pick(&args.tls_key, "tls-key", env);
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) => Ok(Some((PathBuf::from(c.value), PathBuf::from(k.value)))),
        (Some(c), None) => Err(c.error("needs --tls-key (SMOLMAIL_TLS_KEY) too")),
        (None, Some(k)) => Err(k.error("needs --tls-cert (SMOLMAIL_TLS_CERT) too")),
    }
}

/// The repeatable `--trusted-network`, else its comma-separated variable,
/// else loopback.
fn resolve_trusted_networks(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Cidr>, ConfigError> {
    if !args.trusted_network.is_empty() {
        return parse_networks(
            args.trusted_network.iter().map(|s| s.trim()),
            "--trusted-network",
        );
    }
    match env(&env_name("trusted-network")) {
        Some(value) => parse_networks(
            value.split(',').map(|s| s.trim()).filter(|s| !s.is_empty()),
            "SMOLMAIL_TRUSTED_NETWORK",
        ),
        None => Ok(vec![
            Cidr::parse("127.0.0.0/8").unwrap(),
            Cidr::parse("::1/128").unwrap(),
        ]),
    }
}

/// A count setting (connections, recipients, outbound limits): a whole
/// number of at least 1, or `default`.
fn count(
    flag: &Option<String>,
    name: &str,
    default: u32,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<u32, ConfigError> {
    match pick(flag, name, env) {
        Some(raw) => raw
            .value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| raw.error("must be a whole number of at least 1")),
        None => Ok(default),
    }
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

/// The server's name as `serve` would take it from SMOLMAIL_HOSTNAME or
/// the system, for commands that act for it (`fetch run`); a name that
/// does not parse falls back to the system's.
pub fn hostname_from_env() -> String {
    std::env::var("SMOLMAIL_HOSTNAME")
        .ok()
        .and_then(|h| crate::address::normalize_domain(&h).ok())
        .unwrap_or_else(system_hostname)
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
