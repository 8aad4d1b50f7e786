//! `smolmail dns-records DOMAIN`: the DNS records the owner of a mail
//! domain publishes so that other servers deliver to this one and mail
//! clients set themselves up from an address alone, printed in zone-file
//! form from the same settings `serve` reads.
//!
//! - MX (RFC 5321 §5.1): the domain's mail goes to the hostname.
//! - Service records for mail clients (RFC 6186 §3), implicit TLS
//!   preferred over STARTTLS (RFC 8314 §5.1) and IMAP over POP3 (RFC 6186
//!   §3.4: a client that speaks both takes the lower priority). A service
//!   that is switched off is published as "not offered here" (target `.`,
//!   RFC 6186 §4), so clients do not try it.
//! - The names Thunderbird (`autoconfig.`) and Outlook (`autodiscover.`,
//!   and its `_autodiscover._tcp` SRV) look up, when the web listeners
//!   that answer them are on.
//! - MTA-STS (RFC 8461 §3.1) when a policy is served: the `mta-sts.` name
//!   and the `_mta-sts` TXT record, whose id follows the policy's text so
//!   that it changes whenever the policy does.
//!
//! - SPF (RFC 7208): `v=spf1 mx -all` when this server delivers to MX
//!   hosts itself: it sends from the host its MX names (the usual home
//!   setup, one address for both directions), and `-all` says no other
//!   host sends for the domain, which is what lets receivers refuse
//!   forgeries. With a relay host mail leaves from the provider's
//!   addresses, which only the provider's documentation names: `~all`
//!   (softfail) and a comment saying which `include:` to add.
//! - DKIM (RFC 6376 §3.6.2.1): every key in the store, retired ones too
//!   while a rotation settles (`smolmail dkim`).
//! - DMARC (RFC 7489 §6.3): `p=none` with aggregate reports to the
//!   domain's postmaster, the RFC's advice for a start (§10.3 of RFC 7489
//!   and M3AAWG practice): the reports show whether all mail passes before
//!   `quarantine` or `reject` is published.
//! - TLSRPT (RFC 8460 §3): reports of failed TLS to this MX, to the same
//!   postmaster.
//!
//! Rendering is a pure function of the domain, the configuration and the
//! DKIM records the caller read from the store.

use std::fmt::Write;

use crate::config::Config;

/// The TTL printed on every record: an hour, short enough that a mistake
/// is mended the same day, long enough to spare resolvers.
const TTL: u32 = 3600;

/// One service record of RFC 6186 §3.
struct Service {
    label: &'static str,
    port: Option<u16>,
    priority: u16,
    what: &'static str,
}

/// A DKIM key's record, as the caller read it from the store.
pub struct DkimRecord {
    pub selector: String,
    /// The key record's text (`v=DKIM1; k=...; p=...`).
    pub text: String,
    /// Signs now; a retired key is still printed during a rotation.
    pub active: bool,
}

/// The zone-file text for `domain` (a domain name without the trailing
/// dot) served by `config`, with `dkim` its keys' records.
pub fn render(domain: &str, config: &Config, dkim: &[DkimRecord]) -> String {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let host = config.hostname.trim_end_matches('.');
    let listen = &config.listen;
    let port = |addr: Option<std::net::SocketAddr>| addr.map(|a| a.port());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; DNS records for {domain}, whose mail this server ({host}) takes.\n\
         ; Publish them in the zone of {domain}; {host} needs its own A/AAAA records."
    );
    record(&mut out, &domain, "MX", &format!("10 {host}."));
    authentication(&mut out, &domain, config, dkim);

    out.push_str("\n; Mail client settings (RFC 6186), implicit TLS first (RFC 8314)\n");
    let services = [
        Service {
            label: "_submissions._tcp",
            port: port(listen.submissions),
            priority: 0,
            what: "submission with implicit TLS",
        },
        Service {
            label: "_submission._tcp",
            port: port(listen.submission),
            priority: 10,
            what: "submission with STARTTLS",
        },
        Service {
            label: "_imaps._tcp",
            port: port(listen.imaps),
            priority: 0,
            what: "IMAP with implicit TLS",
        },
        Service {
            label: "_imap._tcp",
            port: port(listen.imap),
            priority: 10,
            what: "IMAP with STARTTLS",
        },
        Service {
            label: "_pop3s._tcp",
            port: port(listen.pop3s),
            priority: 20,
            what: "POP3 with implicit TLS",
        },
        Service {
            label: "_pop3._tcp",
            port: port(listen.pop3),
            priority: 30,
            what: "POP3 with STARTTLS",
        },
    ];
    for s in &services {
        let name = format!("{}.{domain}", s.label);
        match s.port {
            Some(p) => record(
                &mut out,
                &name,
                "SRV",
                &format!("{} 1 {p} {host}.", s.priority),
            ),
            None => {
                let _ = writeln!(out, "; {} is off here: say so (RFC 6186 §4)", s.what);
                record(&mut out, &name, "SRV", "0 0 0 .");
            }
        }
    }

    if listen.http.is_some() || listen.https.is_some() {
        out.push_str("\n; Automatic setup: Thunderbird asks autoconfig., Outlook autodiscover.\n");
        record(
            &mut out,
            &format!("autoconfig.{domain}"),
            "CNAME",
            &format!("{host}."),
        );
        record(
            &mut out,
            &format!("autodiscover.{domain}"),
            "CNAME",
            &format!("{host}."),
        );
        if let Some(p) = port(listen.https) {
            record(
                &mut out,
                &format!("_autodiscover._tcp.{domain}"),
                "SRV",
                &format!("0 1 {p} {host}."),
            );
        }
    }

    if let Some(policy) = &config.mta_sts {
        let text = crate::http::mta_sts::policy(policy);
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        // RFC 8461 §3.1: id is 1 to 32 letters and digits.
        let id: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let _ = writeln!(
            out,
            "\n; MTA-STS (RFC 8461): the policy is served at https://mta-sts.{domain}{}",
            crate::http::mta_sts::PATH
        );
        if listen.https.is_none() {
            out.push_str("; warning: --https is off, so the policy cannot be fetched\n");
        }
        // The policy's text (§3.2), as served: what a sender will read.
        out.push_str("; its text:\n");
        for line in text.lines() {
            let _ = writeln!(out, ";   {line}");
        }
        record(
            &mut out,
            &format!("mta-sts.{domain}"),
            "CNAME",
            &format!("{host}."),
        );
        record(
            &mut out,
            &format!("_mta-sts.{domain}"),
            "TXT",
            &format!("\"v=STSv1; id={id}\""),
        );
    }
    out
}

/// SPF, DKIM, DMARC and TLSRPT (see the opening comment for the choices).
fn authentication(out: &mut String, domain: &str, config: &Config, dkim: &[DkimRecord]) {
    out.push_str("\n; Sender authentication: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489)\n");
    let spf = match &config.delivery.relay {
        None => "v=spf1 mx -all".to_string(),
        Some(relay) => {
            let _ = writeln!(
                out,
                "; mail leaves through the relay host {}: add its provider's SPF \
                 include: (see its documentation) before ~all",
                relay.host
            );
            "v=spf1 mx ~all".to_string()
        }
    };
    out.push_str(&txt_line(domain, &spf));
    if dkim.is_empty() {
        let _ = writeln!(
            out,
            "; no DKIM keys for {domain} yet: smolmail dkim add {domain}"
        );
    }
    for k in dkim {
        if !k.active {
            let _ = writeln!(
                out,
                "; {} no longer signs (rotated): remove it once mail signed with it has arrived",
                k.selector
            );
        }
        out.push_str(&txt_line(
            &format!("{}._domainkey.{domain}", k.selector),
            &k.text,
        ));
    }
    out.push_str(&txt_line(
        &format!("_dmarc.{domain}"),
        &format!("v=DMARC1; p=none; rua=mailto:postmaster@{domain}"),
    ));
    out.push_str("; TLS reporting (RFC 8460): senders report TLS failures to this MX\n");
    out.push_str(&txt_line(
        &format!("_smtp._tls.{domain}"),
        &format!("v=TLSRPTv1; rua=mailto:postmaster@{domain}"),
    ));
}

/// A TXT record line, its text cut into strings of at most 255 bytes
/// (RFC 1035 §3.3.14; an RSA-2048 DKIM key needs two).
pub fn txt_line(owner: &str, text: &str) -> String {
    let mut out = String::new();
    record(
        &mut out,
        owner,
        "TXT",
        &crate::dkim::record::zone_strings(text),
    );
    out
}

/// One record line: owner, TTL, class, type, data, in aligned columns.
fn record(out: &mut String, owner: &str, rtype: &str, data: &str) {
    let owner = format!("{owner}.");
    let _ = writeln!(out, "{owner:<40} {TTL} IN {rtype:<5} {data}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServeArgs;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let dir = std::env::temp_dir().join("smolmail-dns-records-unused");
        let args = ServeArgs {
            data: Some(dir.to_string_lossy().into_owned()),
            ..ServeArgs::default()
        };
        Config::resolve(&args, &env).unwrap()
    }

    #[test]
    fn rfc6186_3_services_with_implicit_tls_first() {
        let c = config(&[("SMOLMAIL_HOSTNAME", "mail.example.org")]);
        let text = render("Example.org.", &c, &[]);
        let has = |line: &str| {
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == line)
        };
        assert!(
            has("example.org. 3600 IN MX 10 mail.example.org."),
            "{text}"
        );
        assert!(has(
            "_submissions._tcp.example.org. 3600 IN SRV 0 1 465 mail.example.org."
        ));
        assert!(has(
            "_submission._tcp.example.org. 3600 IN SRV 10 1 587 mail.example.org."
        ));
        assert!(has(
            "_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mail.example.org."
        ));
        assert!(has(
            "_imap._tcp.example.org. 3600 IN SRV 10 1 143 mail.example.org."
        ));
        assert!(has(
            "_pop3s._tcp.example.org. 3600 IN SRV 20 1 995 mail.example.org."
        ));
        assert!(has(
            "_pop3._tcp.example.org. 3600 IN SRV 30 1 110 mail.example.org."
        ));
        assert!(has(
            "autoconfig.example.org. 3600 IN CNAME mail.example.org."
        ));
        assert!(has(
            "_autodiscover._tcp.example.org. 3600 IN SRV 0 1 443 mail.example.org."
        ));
        assert!(!text.contains("_mta-sts"), "no policy, no record");
    }

    #[test]
    fn rfc7208_rfc7489_rfc8460_sender_authentication_records() {
        let has = |text: &str, line: &str| {
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == line)
        };
        let direct = config(&[("SMOLMAIL_HOSTNAME", "mail.example.org")]);
        let keys = [
            DkimRecord {
                selector: "s1-ed25519".into(),
                text: "v=DKIM1; k=ed25519; p=AAAA".into(),
                active: true,
            },
            DkimRecord {
                selector: "s0-rsa".into(),
                text: "v=DKIM1; k=rsa; p=BBBB".into(),
                active: false,
            },
        ];
        let text = render("example.org", &direct, &keys);
        assert!(
            has(&text, "example.org. 3600 IN TXT \"v=spf1 mx -all\""),
            "{text}"
        );
        assert!(has(
            &text,
            "s1-ed25519._domainkey.example.org. 3600 IN TXT \"v=DKIM1; k=ed25519; p=AAAA\""
        ));
        assert!(text.contains("; s0-rsa no longer signs"), "{text}");
        assert!(has(
            &text,
            "_dmarc.example.org. 3600 IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@example.org\""
        ));
        assert!(has(
            &text,
            "_smtp._tls.example.org. 3600 IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.org\""
        ));
        let relayed = config(&[
            ("SMOLMAIL_HOSTNAME", "mail.example.org"),
            ("SMOLMAIL_RELAY_HOST", "smtp.provider.test:587"),
        ]);
        let text = render("example.org", &relayed, &[]);
        assert!(
            has(&text, "example.org. 3600 IN TXT \"v=spf1 mx ~all\""),
            "{text}"
        );
        assert!(text.contains("relay host smtp.provider.test"), "{text}");
        assert!(text.contains("smolmail dkim add example.org"), "{text}");
    }

    #[test]
    fn rfc6186_4_a_service_that_is_off_is_published_as_absent() {
        let c = config(&[
            ("SMOLMAIL_HOSTNAME", "mail.example.org"),
            ("SMOLMAIL_POP3", "off"),
            ("SMOLMAIL_POP3S", "off"),
            ("SMOLMAIL_HTTP", "off"),
            ("SMOLMAIL_HTTPS", "off"),
        ]);
        let text = render("example.org", &c, &[]);
        let srv = |label: &str| {
            text.lines()
                .find(|l| l.starts_with(label))
                .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "))
        };
        assert_eq!(srv("_pop3._tcp").as_deref(), Some("0 0 0 ."));
        assert_eq!(srv("_pop3s._tcp").as_deref(), Some("0 0 0 ."));
        assert!(!text.contains("autoconfig."), "{text}");
    }

    #[test]
    fn rfc8461_3_1_mta_sts_id_follows_the_policy() {
        let enforce = config(&[
            ("SMOLMAIL_HOSTNAME", "mail.example.org"),
            ("SMOLMAIL_MTA_STS_MODE", "enforce"),
        ]);
        let testing = config(&[
            ("SMOLMAIL_HOSTNAME", "mail.example.org"),
            ("SMOLMAIL_MTA_STS_MODE", "testing"),
        ]);
        let id = |c: &Config| {
            let text = render("example.org", c, &[]);
            let line = text
                .lines()
                .find(|l| l.starts_with("_mta-sts.example.org."))
                .unwrap()
                .to_string();
            assert!(text.contains("mta-sts.example.org."), "{text}");
            line
        };
        let (a, b) = (id(&enforce), id(&testing));
        assert!(a.contains("\"v=STSv1; id="), "{a}");
        // §3.2: the policy text is shown as served.
        let text = render("example.org", &enforce, &[]);
        assert!(
            text.contains(";   version: STSv1\n;   mode: enforce\n"),
            "{text}"
        );
        assert!(text.contains(";   mx: mail.example.org\n"), "{text}");
        assert_ne!(a, b, "a different policy needs a different id");
        assert_eq!(a, id(&enforce), "the same policy keeps its id");
    }
}
