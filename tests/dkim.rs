//! DKIM signing of outbound mail (RFC 6376, RFC 8463), checked by an
//! independent verifier: Debian's python3-dkim (dkimpy), with its DNS
//! answers taken from the TXT records `smolmail dkim add` printed (no real
//! DNS). The mail is submitted on port 587 and leaves through a relay
//! host, a second smolmail, whose inbox is what gets verified: the message
//! as it arrived, after two servers' trace fields.

mod common;

use std::path::Path;

use common::{PATIENCE, Server, TempDir, add_user, admin, inbox, require_tool};

/// The TXT records of `smolmail dkim add` output, as (owner, text): the
/// quoted strings of a line joined (RFC 6376 §3.6.2.2).
fn txt_records(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter(|l| !l.starts_with(';') && l.contains(" TXT "))
        .map(|l| {
            let owner = l.split_whitespace().next().unwrap().to_string();
            let strings = &l[l.find('"').unwrap()..];
            let text: String = strings
                .split('"')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            (owner, text)
        })
        .collect()
}

/// Runs dkimpy on `message`: one line per signature, "a= verdict", and the
/// same for a copy with the body changed.
const VERIFY: &str = r#"
import sys, json, dkim
records = json.load(open(sys.argv[2]))
def dns(name, timeout=5):
    return records.get(name.decode().lower().rstrip("."), "").encode() or None
msg = open(sys.argv[1], "rb").read()
for copy, m in (("original", msg), ("tampered", msg.replace(b"lost the game", b"won the game"))):
    sigs = [h for h in dkim.DKIM(m).headers if h[0].lower() == b"dkim-signature"]
    for i in range(len(sigs)):
        try:
            ok = dkim.DKIM(m).verify(idx=i, dnsfunc=dns)
        except dkim.DKIMException as e:
            print(copy, e, file=sys.stderr)
            ok = False
        a = [t.split(b"=", 1)[1].strip() for t in sigs[i][1].split(b";") if t.strip().startswith(b"a=")][0]
        print(copy, a.decode(), ok)
"#;

fn dkimpy(dir: &Path, message: &[u8], records: &[(String, String)]) -> String {
    // dkimverify proves the package is there; its module is Debian's
    // python3's (the `python3` first in PATH may be another one).
    require_tool("dkimverify", "python3-dkim");
    let python = "/usr/bin/python3";
    let msg = dir.join("arrived.eml");
    std::fs::write(&msg, message).unwrap();
    let json = dir.join("records.json");
    let pairs: Vec<String> = records
        .iter()
        .map(|(o, t)| format!("{:?}: {:?}", o.trim_end_matches('.'), t))
        .collect();
    std::fs::write(&json, format!("{{{}}}", pairs.join(", "))).unwrap();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(VERIFY)
        .arg(&msg)
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn rfc6376_rfc8463_outbound_mail_signed_with_ed25519_and_rsa_verifies_elsewhere() {
    // The relay host: a second smolmail taking our relay user's mail.
    let provider_data = TempDir::new("dkim-provider");
    add_user(&provider_data.0, "alice@home.arpa", "relay-pw");
    add_user(&provider_data.0, "bob@provider.test", "bob-pw");
    let provider = Server::start(&provider_data.0, &[]);
    let ca = provider_data
        .0
        .join("tls/selfsigned-cert.pem")
        .display()
        .to_string();

    let data = TempDir::new("dkim-home");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let printed = admin(
        &data.0,
        &["dkim", "add", "home.arpa", "--selector", "t1"],
        "",
    );
    let records = txt_records(&printed);
    assert_eq!(records.len(), 2, "{printed}");
    assert!(
        records[0].0.starts_with("t1-ed25519._domainkey.home.arpa"),
        "{printed}"
    );
    assert!(
        records[1].1.starts_with("v=DKIM1; k=rsa; p=MIIB"),
        "{printed}"
    );
    let listed = admin(&data.0, &["dkim", "list"], "");
    assert!(
        listed.contains("home.arpa t1-rsa rsa-sha256 signing"),
        "{listed}"
    );

    let password = data.0.join("relay-password");
    std::fs::write(&password, "relay-pw\n").unwrap();
    let relay = format!("localhost:{}", provider.port("submission"));
    let pw = password.display().to_string();
    let server = Server::start(
        &data.0,
        &[
            "--relay-host",
            &relay,
            "--relay-tls",
            "starttls",
            "--relay-ca",
            &ca,
            "--relay-user",
            "alice@home.arpa",
            "--relay-password-file",
            &pw,
        ],
    );
    let mut c = server.connect("submission");
    c.expect("220");
    c.cmd("EHLO client.test", "250");
    c.cmd("MAIL FROM:<alice@home.arpa>", "250");
    c.cmd("RCPT TO:<bob@provider.test>", "250");
    c.cmd("DATA", "354");
    c.send(
        b"From: Alice <alice@home.arpa>\r\nTo: Bob <bob@provider.test>\r\n\
          Subject: dinner\r\n   tonight?\r\nMIME-Version: 1.0\r\n\
          Content-Type: text/plain\r\n\r\nWe lost the game.  Hungry?  \r\n\r\n\r\n.\r\n",
    );
    c.expect("250");
    c.cmd("QUIT", "221");
    server.wait_until(PATIENCE, "delivery through the relay", || {
        inbox(&provider_data.0, "bob@provider.test").len() == 1
    });
    server.wait_for_log("DKIM-signed d=home.arpa s=t1-ed25519,t1-rsa");
    let arrived = inbox(&provider_data.0, "bob@provider.test").remove(0);
    let text = String::from_utf8_lossy(&arrived);
    assert_eq!(text.matches("DKIM-Signature:").count(), 2, "{text}");
    assert!(text.contains("h=from:from:"), "From oversigned: {text}");

    let verdicts = dkimpy(&data.0, &arrived, &records);
    let mut lines: Vec<&str> = verdicts.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "original ed25519-sha256 True",
            "original rsa-sha256 True",
            "tampered ed25519-sha256 False",
            "tampered rsa-sha256 False",
        ],
        "{text}"
    );
}
