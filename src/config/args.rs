//! The `serve` subcommand's flags as argh parses them, kept apart from
//! their resolution (`super`) because this list is long and grows with
//! every setting while the resolving code does not.

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
    /// SMTP (MTA) listen address or "off" [env SMOLMAIL_SMTP; default [::]:25, IPv6 and IPv4]
    #[argh(option)]
    pub smtp: Option<String>,
    /// submission with STARTTLS listen address or "off" [env SMOLMAIL_SUBMISSION; default [::]:587, IPv6 and IPv4]
    #[argh(option)]
    pub submission: Option<String>,
    /// submission with implicit TLS listen address or "off" [env SMOLMAIL_SUBMISSIONS; default [::]:465, IPv6 and IPv4]
    #[argh(option)]
    pub submissions: Option<String>,
    /// IMAP listen address or "off" [env SMOLMAIL_IMAP; default [::]:143, IPv6 and IPv4]
    #[argh(option)]
    pub imap: Option<String>,
    /// IMAP with implicit TLS listen address or "off" [env SMOLMAIL_IMAPS; default [::]:993, IPv6 and IPv4]
    #[argh(option)]
    pub imaps: Option<String>,
    /// POP3 listen address or "off" [env SMOLMAIL_POP3; default [::]:110, IPv6 and IPv4]
    #[argh(option)]
    pub pop3: Option<String>,
    /// POP3 with implicit TLS listen address or "off" [env SMOLMAIL_POP3S; default [::]:995, IPv6 and IPv4]
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
    /// message bytes buffered at once over all connections (DATA, BDAT, APPEND, large FETCH items, fetched mail); beyond it clients get a temporary error [env SMOLMAIL_MEMORY_BUDGET; default twice --max-message-size, at least 32M]
    #[argh(option)]
    pub memory_budget: Option<String>,
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
    /// name the authenticated user in the Received: header of submitted mail, which goes out with it (Postfix's smtpd_sasl_authenticated_header) [env SMOLMAIL_RECEIVED_AUTH=yes|no; default no]
    #[argh(switch)]
    pub received_auth: bool,
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
    /// PEM CA trusted, for tests only, for MTA-STS policy hosts and the MX hosts of MTA-STS domains [env SMOLMAIL_MTA_STS_TEST_CA]
    #[argh(option, hidden_help)]
    pub mta_sts_test_ca: Option<String>,
    /// port of MTA-STS policy hosts, for tests [env SMOLMAIL_MTA_STS_TEST_PORT; default 443]
    #[argh(option, hidden_help)]
    pub mta_sts_test_port: Option<String>,
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
    /// how long a successful login is remembered so the same password skips hashing, s/m/h suffix, 0 turns it off [env SMOLMAIL_AUTH_CACHE_TTL; default 1h]
    #[argh(option)]
    pub auth_cache_ttl: Option<String>,
    /// which IP versions outbound SMTP uses: both (IPv6 first, falling back to IPv4), 4 (for an IPv6 without reverse DNS, which providers reject) or 6 [env SMOLMAIL_OUTBOUND_IP; default both]
    #[argh(option)]
    pub outbound_ip: Option<String>,
    /// get the certificate by ACME for the hostname plus these names, comma-separated [env SMOLMAIL_ACME_DOMAIN; default: off]
    #[argh(option)]
    pub acme_domain: Option<String>,
    /// ACME directory URL, e.g. a LAN step-ca's [env SMOLMAIL_ACME_DIRECTORY; default Let's Encrypt's when --acme-domain is given]
    #[argh(option)]
    pub acme_directory: Option<String>,
    /// PEM root certificate also trusted for the ACME directory (a LAN CA) [env SMOLMAIL_ACME_CA]
    #[argh(option)]
    pub acme_ca: Option<String>,
    /// contact address of the ACME account [env SMOLMAIL_ACME_EMAIL; default: none]
    #[argh(option)]
    pub acme_email: Option<String>,
    /// ACME challenge: tls-alpn-01 (port 443) or http-01 (port 80) [env SMOLMAIL_ACME_CHALLENGE; default tls-alpn-01]
    #[argh(option)]
    pub acme_challenge: Option<String>,
    /// where Prometheus scrapes GET /metrics, HOST:PORT or "off" [env SMOLMAIL_METRICS; default 127.0.0.1:9154, loopback only]
    #[argh(option)]
    pub metrics: Option<String>,
    /// answer /metrics only to clients in --trusted-network, others get 403 [env SMOLMAIL_METRICS_TRUSTED_ONLY=yes|no; default no]
    #[argh(switch)]
    pub metrics_trusted_only: bool,
    /// HTTP listen address (autoconfig for mail clients, ACME HTTP-01 challenges) or "off" [env SMOLMAIL_HTTP; default [::]:80, IPv6 and IPv4]
    #[argh(option)]
    pub http: Option<String>,
    /// HTTPS listen address (autoconfig, MTA-STS policy), with the IMAPS certificate, or "off" [env SMOLMAIL_HTTPS; default [::]:443, IPv6 and IPv4]
    #[argh(option)]
    pub https: Option<String>,
    /// serve an MTA-STS policy (RFC 8461) at https://mta-sts.DOMAIN/.well-known/mta-sts.txt for every local domain: enforce, testing, none (withdraws a policy) or off [env SMOLMAIL_MTA_STS_MODE; default off]
    #[argh(option)]
    pub mta_sts_mode: Option<String>,
    /// MX host name or *.pattern the MTA-STS policy allows, repeatable [env SMOLMAIL_MTA_STS_MX, comma-separated; default: --hostname]
    #[argh(option)]
    pub mta_sts_mx: Vec<String>,
    /// seconds senders may cache the MTA-STS policy [env SMOLMAIL_MTA_STS_MAX_AGE; default 604800, one week]
    #[argh(option)]
    pub mta_sts_max_age: Option<String>,
    /// what a DMARC failure of port-25 mail does when the domain asks for reject (or quarantine): reject (550 5.7.1), junk (into the Junk mailbox) or none (delivered, only marked) [env SMOLMAIL_DMARC_POLICY; default reject]
    #[argh(option)]
    pub dmarc_policy: Option<String>,
    /// networks (CIDR, comma-separated) that may open the web admin pages at https://HOST/admin [env SMOLMAIL_ADMIN_FROM; default: --trusted-network plus loopback]
    #[argh(option)]
    pub admin_from: Option<String>,
    /// admin password for https://HOST/admin, set at start when none is set yet (then change it there or with `smolmail admin passwd`); prefer the variable, a flag shows in ps [env SMOLMAIL_ADMIN_PASSWORD; default: none, the operator cannot log in]
    #[argh(option)]
    pub admin_password: Option<String>,
    /// answer HOSTNAME.local and announce the mail services (and the web page) by multicast DNS (RFC 6762/6763) on the local network: on or off [env SMOLMAIL_MDNS; default on]
    #[argh(option)]
    pub mdns: Option<String>,
    /// the name answered as NAME.local by mDNS and shown for the announced services [env SMOLMAIL_MDNS_NAME; default the first label of --hostname, or smolmail for localhost]
    #[argh(option)]
    pub mdns_name: Option<String>,
}
