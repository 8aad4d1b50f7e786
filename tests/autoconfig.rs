//! Mail client autoconfiguration as the clients read it: Thunderbird's
//! config-v1.1.xml checked for what Thunderbird's parser requires
//! (accountcreation's readFromXML: clientConfig, emailProvider id, domain,
//! incomingServer imap/pop3 and outgoingServer smtp each with hostname,
//! port, socketType, username, authentication), Outlook's POX autodiscover
//! answered, and Apple's profile read by python's plistlib. Each names the
//! ports the server actually listens on; other domains get 404.

mod common;

use std::process::Command;

use common::{Server, TempDir, add_user, curl};

/// Runs python3 on `script` with `input` as sys.argv[1]; panics with its
/// output unless it prints `ok`.
fn python(script: &str, input: &[u8], server: &Server) {
    let python = common::require_tool("python3", "python3");
    let file = server.data.join("answer");
    std::fs::write(&file, input).unwrap();
    let out = Command::new(python)
        .args(["-c", script])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "python: {stdout}\n{}\nanswer:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(input)
    );
}

fn start(name: &str) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &[]);
    (data, server)
}

/// What Thunderbird's parser needs, as python checks it; argv[2..] are
/// the expected (type, port, socketType) of each server, in order.
const THUNDERBIRD: &str = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "clientConfig" and root.get("version") == "1.1", root.tag
providers = root.findall("emailProvider")
assert len(providers) == 1
p = providers[0]
assert p.get("id") == "home.arpa", p.get("id")
assert [d.text for d in p.findall("domain")] == ["home.arpa"]
seen = []
for kind, types in (("incomingServer", ("imap", "pop3")), ("outgoingServer", ("smtp",))):
    servers = p.findall(kind)
    assert servers, kind
    for s in servers:
        assert s.get("type") in types, s.get("type")
        assert s.findtext("hostname") == "mail.home.arpa"
        port = int(s.findtext("port"))
        assert 0 < port < 65536
        assert s.findtext("socketType") in ("SSL", "STARTTLS"), s.findtext("socketType")
        assert s.findtext("username") == "%EMAILADDRESS%"
        assert s.findtext("authentication") == "password-cleartext"
        seen.append("%s %d %s" % (s.get("type"), port, s.findtext("socketType")))
expected = open(sys.argv[1] + ".expected").read().split("\n")
assert seen == expected, (seen, expected)
print("ok")
"#;

fn expected_servers(server: &Server) -> String {
    [
        format!("imap {} SSL", server.port("imaps")),
        format!("imap {} STARTTLS", server.port("imap")),
        format!("pop3 {} SSL", server.port("pop3s")),
        format!("pop3 {} STARTTLS", server.port("pop3")),
        format!("smtp {} SSL", server.port("submissions")),
        format!("smtp {} STARTTLS", server.port("submission")),
    ]
    .join("\n")
}

#[test]
fn thunderbird_config_v1_1_has_what_thunderbird_requires() {
    let (_data, server) = start("ac-tb");
    let http = server.port("http");
    std::fs::write(
        server.data.join("answer.expected"),
        expected_servers(&server),
    )
    .unwrap();
    // Both paths; the address in the query, or only the autoconfig host.
    let (status, head, body) = curl(&[&format!(
        "http://127.0.0.1:{http}/mail/config-v1.1.xml?emailaddress=alice%40home.arpa"
    )]);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("Content-Type: application/xml"), "{head}");
    python(THUNDERBIRD, &body, &server);
    let (status, _, body) = curl(&[
        "-H",
        "Host: autoconfig.home.arpa",
        &format!("http://127.0.0.1:{http}/.well-known/autoconfig/mail/config-v1.1.xml"),
    ]);
    assert_eq!(status, 200);
    python(THUNDERBIRD, &body, &server);
    // Over HTTPS too, with the IMAPS certificate.
    let https = server.port("https");
    let (status, _, body) = curl(&[
        "-k",
        &format!("https://127.0.0.1:{https}/mail/config-v1.1.xml?emailaddress=alice@home.arpa"),
    ]);
    assert_eq!(status, 200);
    python(THUNDERBIRD, &body, &server);
    // Not for a domain the server does not serve.
    let (status, _, _) = curl(&[&format!(
        "http://127.0.0.1:{http}/mail/config-v1.1.xml?emailaddress=bob%40example.com"
    )]);
    assert_eq!(status, 404);
}

const AUTODISCOVER_REQUEST: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>alice@home.arpa</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#;

#[test]
fn outlook_pox_autodiscover_post_is_answered() {
    let (_data, server) = start("ac-outlook");
    let expected = format!(
        "IMAP {} SSL\nIMAP {} TLS\nPOP3 {} SSL\nPOP3 {} TLS\nSMTP {} SSL\nSMTP {} TLS",
        server.port("imaps"),
        server.port("imap"),
        server.port("pop3s"),
        server.port("pop3"),
        server.port("submissions"),
        server.port("submission")
    );
    std::fs::write(server.data.join("answer.expected"), expected).unwrap();
    let script = r#"
import sys, xml.etree.ElementTree as ET
R = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
O = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == R + "Autodiscover", root.tag
account = root.find(O + "Response/" + O + "Account")
assert account.findtext(O + "AccountType") == "email"
assert account.findtext(O + "Action") == "settings"
seen = []
for p in account.findall(O + "Protocol"):
    assert p.findtext(O + "Server") == "mail.home.arpa"
    assert p.findtext(O + "LoginName") == "alice@home.arpa"
    assert p.findtext(O + "SSL") == "on" and p.findtext(O + "SPA") == "off"
    seen.append("%s %s %s" % (p.findtext(O + "Type"), p.findtext(O + "Port"), p.findtext(O + "Encryption")))
expected = open(sys.argv[1] + ".expected").read().split("\n")
assert seen == expected, (seen, expected)
print("ok")
"#;
    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
    ] {
        let (status, head, body) = curl(&[
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            AUTODISCOVER_REQUEST,
            &format!("http://127.0.0.1:{}{path}", server.port("http")),
        ]);
        assert_eq!(status, 200, "{head}");
        python(script, &body, &server);
    }
    let stranger = AUTODISCOVER_REQUEST.replace("alice@home.arpa", "bob@example.com");
    let (status, _, _) = curl(&[
        "--data-binary",
        &stranger,
        &format!(
            "http://127.0.0.1:{}/autodiscover/autodiscover.xml",
            server.port("http")
        ),
    ]);
    assert_eq!(status, 404);
    let (status, head, _) = curl(&[&format!(
        "http://127.0.0.1:{}/autodiscover/autodiscover.xml",
        server.port("http")
    )]);
    assert_eq!(status, 405);
    assert!(head.contains("Allow: POST"), "{head}");
}

#[test]
fn apple_mobileconfig_is_a_plist_with_imap_and_smtp_and_no_password() {
    let (_data, server) = start("ac-apple");
    std::fs::write(
        server.data.join("answer.expected"),
        format!("{} {}", server.port("imaps"), server.port("submissions")),
    )
    .unwrap();
    let (status, head, body) = curl(&[&format!(
        "http://127.0.0.1:{}/apple/alice@home.arpa.mobileconfig",
        server.port("http")
    )]);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("Content-Type: application/x-apple-aspen-config"),
        "{head}"
    );
    let script = r#"
import sys, plistlib
p = plistlib.load(open(sys.argv[1], "rb"))
assert p["PayloadType"] == "Configuration" and p["PayloadVersion"] == 1
[a] = p["PayloadContent"]
assert a["PayloadType"] == "com.apple.mail.managed"
assert a["EmailAccountType"] == "EmailTypeIMAP"
assert a["EmailAddress"] == "alice@home.arpa"
assert a["IncomingMailServerHostName"] == a["OutgoingMailServerHostName"] == "mail.home.arpa"
assert a["IncomingMailServerUsername"] == a["OutgoingMailServerUsername"] == "alice@home.arpa"
assert a["IncomingMailServerUseSSL"] is True and a["OutgoingMailServerUseSSL"] is True
ports = "%d %d" % (a["IncomingMailServerPortNumber"], a["OutgoingMailServerPortNumber"])
assert ports == open(sys.argv[1] + ".expected").read(), ports
assert not any("Password" in k and k != "OutgoingPasswordSameAsIncomingPassword" for k in a), a.keys()
print("ok")
"#;
    python(script, &body, &server);
    // Percent-encoded '@' too; a stranger's domain is not served.
    let (status, _, _) = curl(&[&format!(
        "http://127.0.0.1:{}/apple/alice%40home.arpa.mobileconfig",
        server.port("http")
    )]);
    assert_eq!(status, 200);
    let (status, _, _) = curl(&[&format!(
        "http://127.0.0.1:{}/apple/bob@example.com.mobileconfig",
        server.port("http")
    )]);
    assert_eq!(status, 404);
}
