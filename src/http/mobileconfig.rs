//! An Apple configuration profile (`.mobileconfig`, Apple's "Configuration
//! Profile Reference", payload type `com.apple.mail.managed`) with one
//! mail account: the incoming server (IMAP, else POP3) and the SMTP
//! submission server, the address as user name and no password, which the
//! device asks for when the profile is installed. Unsigned: the device
//! shows it as such, and the user installs it knowingly.
//!
//! A property list in XML (Apple's PropertyList-1.0 DTD); every string
//! escaped as XML character data.

use super::autoconfig::{Endpoints, xml_escape};

pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// The profile for `address`, or `None` when no incoming or no outgoing
/// service is enabled.
pub fn profile(address: &str, endpoints: &Endpoints) -> Option<String> {
    let incoming = endpoints
        .first("imap")
        .or_else(|| endpoints.first("pop3"))?;
    let outgoing = endpoints.first("smtp")?;
    let a = xml_escape(address);
    let host = xml_escape(&endpoints.hostname);
    let account_type = if incoming.protocol == "imap" {
        "EmailTypeIMAP"
    } else {
        "EmailTypePOP"
    };
    // Stable identifiers: reinstalling the profile for the same address
    // replaces it instead of adding a second account.
    let (outer, inner) = (uuid(address, "profile"), uuid(address, "account"));
    let reverse: Vec<&str> = endpoints.hostname.rsplit('.').collect();
    let id = xml_escape(&format!(
        "{}.smolmail.{}",
        reverse.join("."),
        uuid(address, "id")
    ));
    // UseSSL covers both kinds: with it on, the device speaks implicit TLS
    // or upgrades with STARTTLS as the port calls for.
    let (in_port, out_port) = (incoming.port, outgoing.port);
    Some(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key><string>{a}</string>
      <key>EmailAccountType</key><string>{account_type}</string>
      <key>EmailAddress</key><string>{a}</string>
      <key>IncomingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>IncomingMailServerHostName</key><string>{host}</string>
      <key>IncomingMailServerPortNumber</key><integer>{in_port}</integer>
      <key>IncomingMailServerUseSSL</key><true/>
      <key>IncomingMailServerUsername</key><string>{a}</string>
      <key>OutgoingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>OutgoingMailServerHostName</key><string>{host}</string>
      <key>OutgoingMailServerPortNumber</key><integer>{out_port}</integer>
      <key>OutgoingMailServerUseSSL</key><true/>
      <key>OutgoingMailServerUsername</key><string>{a}</string>
      <key>OutgoingPasswordSameAsIncomingPassword</key><true/>
      <key>PayloadDisplayName</key><string>{a}</string>
      <key>PayloadIdentifier</key><string>{id}.account</string>
      <key>PayloadType</key><string>com.apple.mail.managed</string>
      <key>PayloadUUID</key><string>{inner}</string>
      <key>PayloadVersion</key><integer>1</integer>
    </dict>
  </array>
  <key>PayloadDisplayName</key><string>Mail for {a}</string>
  <key>PayloadIdentifier</key><string>{id}</string>
  <key>PayloadRemovalDisallowed</key><false/>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>{outer}</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
"#
    ))
}

/// A UUID (RFC 9562 §5.8, version 8: application-defined) derived from
/// the address and a purpose, so it is the same on every download.
fn uuid(address: &str, purpose: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("smolmail mobileconfig {purpose} {address}").as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::autoconfig::{Endpoint, Security};

    #[test]
    fn imap_and_smtp_account_without_password() {
        let endpoints = Endpoints {
            hostname: "mail.example.org".into(),
            incoming: vec![Endpoint {
                protocol: "imap",
                port: 993,
                security: Security::Implicit,
            }],
            outgoing: vec![Endpoint {
                protocol: "smtp",
                port: 465,
                security: Security::Implicit,
            }],
        };
        let p = profile("a&b@example.org", &endpoints).unwrap();
        assert!(p.contains("<string>a&amp;b@example.org</string>"));
        assert!(p.contains("<key>IncomingMailServerPortNumber</key><integer>993</integer>"));
        assert!(!p.contains("Password</key><string>"), "no password inside");
        assert_eq!(uuid("x", "profile"), uuid("x", "profile"));
        assert_ne!(uuid("x", "profile"), uuid("y", "profile"));
        assert_eq!(uuid("x", "profile").len(), 36);
        let none = Endpoints {
            outgoing: vec![],
            ..endpoints
        };
        assert_eq!(profile("a@example.org", &none), None);
    }
}
