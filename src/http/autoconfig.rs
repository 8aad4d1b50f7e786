//! Mail client autoconfiguration, Thunderbird's format: the
//! `clientConfig` XML served at `/mail/config-v1.1.xml` and
//! `/.well-known/autoconfig/mail/config-v1.1.xml` (Mozilla's "Autoconfig
//! file format", version 1.1), which Thunderbird, Thunderbird for Android
//! (K-9) and Evolution fetch from `autoconfig.DOMAIN`.
//!
//! What is offered is read from the listeners actually enabled
//! ([`Endpoints`]): a client is never sent to a port that is off. The same
//! endpoints feed Outlook's autodiscover (`autodiscover`) and the Apple
//! profile (`mobileconfig`).

use crate::config::Config;

/// How a client secures a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (RFC 8314 §3).
    Implicit,
    /// STARTTLS / STLS after the greeting.
    StartTls,
}

/// One place a client can connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// `imap`, `pop3` or `smtp`.
    pub protocol: &'static str,
    pub port: u16,
    pub security: Security,
}

/// The server's name and the enabled mail services, best first: implicit
/// TLS ahead of STARTTLS (RFC 8314 §3.3, §4.1), IMAP ahead of POP3.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub hostname: String,
    pub incoming: Vec<Endpoint>,
    pub outgoing: Vec<Endpoint>,
}

impl Endpoints {
    pub fn of(config: &Config) -> Endpoints {
        let l = &config.listen;
        let pick = |list: &[(&'static str, Option<std::net::SocketAddr>, Security)]| {
            list.iter()
                .filter_map(|(protocol, addr, security)| {
                    addr.map(|a| Endpoint {
                        protocol,
                        port: a.port(),
                        security: *security,
                    })
                })
                .collect()
        };
        Endpoints {
            hostname: config.hostname.clone(),
            incoming: pick(&[
                ("imap", l.imaps, Security::Implicit),
                ("imap", l.imap, Security::StartTls),
                ("pop3", l.pop3s, Security::Implicit),
                ("pop3", l.pop3, Security::StartTls),
            ]),
            outgoing: pick(&[
                ("smtp", l.submissions, Security::Implicit),
                ("smtp", l.submission, Security::StartTls),
            ]),
        }
    }

    /// The first incoming endpoint of `protocol`.
    pub fn first(&self, protocol: &str) -> Option<Endpoint> {
        self.incoming
            .iter()
            .chain(&self.outgoing)
            .find(|e| e.protocol == protocol)
            .copied()
    }
}

/// Text made safe for XML character data and attribute values (XML 1.0
/// §2.4); control characters XML cannot carry are dropped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Thunderbird's `clientConfig` for `domain`.
pub fn thunderbird(domain: &str, endpoints: &Endpoints) -> String {
    let d = xml_escape(domain);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <clientConfig version=\"1.1\">\n\
         \x20 <emailProvider id=\"{d}\">\n\
         \x20   <domain>{d}</domain>\n\
         \x20   <displayName>{d} mail</displayName>\n\
         \x20   <displayShortName>{d}</displayShortName>\n"
    );
    for e in &endpoints.incoming {
        server(&mut xml, "incomingServer", e, &endpoints.hostname);
    }
    for e in &endpoints.outgoing {
        server(&mut xml, "outgoingServer", e, &endpoints.hostname);
    }
    xml.push_str("  </emailProvider>\n</clientConfig>\n");
    xml
}

fn server(xml: &mut String, element: &str, e: &Endpoint, hostname: &str) {
    let socket_type = match e.security {
        Security::Implicit => "SSL",
        Security::StartTls => "STARTTLS",
    };
    xml.push_str(&format!(
        "    <{element} type=\"{}\">\n\
         \x20     <hostname>{}</hostname>\n\
         \x20     <port>{}</port>\n\
         \x20     <socketType>{socket_type}</socketType>\n\
         \x20     <username>%EMAILADDRESS%</username>\n\
         \x20     <authentication>password-cleartext</authentication>\n\
         \x20   </{element}>\n",
        e.protocol,
        xml_escape(hostname),
        e.port
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            hostname: "mail.example.org".into(),
            incoming: vec![Endpoint {
                protocol: "imap",
                port: 993,
                security: Security::Implicit,
            }],
            outgoing: vec![Endpoint {
                protocol: "smtp",
                port: 587,
                security: Security::StartTls,
            }],
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1}d"),
            "a&lt;b&gt;&amp;&quot;c&apos;d"
        );
    }

    #[test]
    fn thunderbird_names_what_is_enabled() {
        let xml = thunderbird("example.org", &endpoints());
        assert!(xml.contains("<incomingServer type=\"imap\">"), "{xml}");
        assert!(xml.contains("<port>993</port>\n      <socketType>SSL</socketType>"));
        assert!(xml.contains("<port>587</port>\n      <socketType>STARTTLS</socketType>"));
        assert!(!xml.contains("pop3"));
        assert_eq!(
            xml.matches("<hostname>mail.example.org</hostname>").count(),
            2
        );
    }
}
