//! Real SMTP clients against smolmail: Debian's swaks and Python's smtplib,
//! plain on 25, STARTTLS + AUTH on 587, implicit TLS on 465 (installed by
//! scripts/setup.sh). Deliveries are checked in the store.

mod common;

use std::process::Command;

use common::{Server, TempDir, add_user, inbox, queue};

fn setup(name: &str) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    add_user(&data.0, "bob@home.arpa", "bob-pw");
    let server = Server::start(&data.0, &["--trusted-network", "none"]);
    (data, server)
}

fn swaks(args: &[&str]) -> (bool, String) {
    let out = Command::new(common::require_tool("swaks", "swaks"))
        .args(["--silent", "1", "--timeout", "60"])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn swaks_plain_starttls_and_implicit_tls() {
    let (data, server) = setup("swaks");
    let p = |s: &str| server.port(s).to_string();
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &p("smtp"),
        "--from",
        "x@example.org",
        "--to",
        "alice@home.arpa",
    ]);
    assert!(ok, "plain on 25: {out}");
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &p("submission"),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@home.arpa",
        "--auth-password",
        "alice-pw",
        "--from",
        "alice@home.arpa",
        "--to",
        "bob@home.arpa",
    ]);
    assert!(ok, "STARTTLS + AUTH PLAIN on 587: {out}");
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &p("submissions"),
        "--tls-on-connect",
        "--auth",
        "LOGIN",
        "--auth-user",
        "bob@home.arpa",
        "--auth-password",
        "bob-pw",
        "--from",
        "bob@home.arpa",
        "--to",
        "alice@home.arpa",
        "--header",
        "Subject: via 465",
    ]);
    assert!(ok, "implicit TLS + AUTH LOGIN on 465: {out}");
    // Refusals: relay without AUTH, wrong password, someone else's sender.
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &p("smtp"),
        "--from",
        "x@example.org",
        "--to",
        "x@example.net",
    ]);
    assert!(!ok && out.contains("554 5.7.1"), "relay on 25: {out}");
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &p("submission"),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@home.arpa",
        "--auth-password",
        "wrong",
        "--to",
        "bob@home.arpa",
    ]);
    assert!(!ok && out.contains("535"), "wrong password: {out}");
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &p("submission"),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@home.arpa",
        "--auth-password",
        "bob-pw",
        "--from",
        "alice@home.arpa",
        "--to",
        "alice@home.arpa",
    ]);
    assert!(!ok && out.contains("553 5.7.1"), "forged sender: {out}");
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 2);
    assert_eq!(inbox(&data.0, "bob@home.arpa").len(), 1);
    assert!(queue(&data.0).is_empty());
}

#[test]
fn python_smtplib() {
    let (data, server) = setup("smtplib");
    let script = r#"
import smtplib, ssl, sys
host = "127.0.0.1"
p25, p587, p465 = (int(x) for x in sys.argv[1:4])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = "From: alice@home.arpa\r\nTo: bob@home.arpa\r\nSubject: smtplib\r\n\r\nhello from python\r\n"

with smtplib.SMTP(host, p25) as s:
    s.ehlo("client.example")
    assert s.has_extn("starttls") and not s.has_extn("auth")
    s.sendmail("someone@example.org", ["alice@home.arpa"], msg)
    try:
        s.sendmail("someone@example.org", ["far@example.net"], msg)
        raise SystemExit("relay accepted on 25")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["far@example.net"][0] == 554, e.recipients

with smtplib.SMTP(host, p587) as s:
    s.starttls(context=ctx)
    s.login("alice@home.arpa", "alice-pw")
    s.sendmail("alice@home.arpa", ["bob@home.arpa", "friend@example.net"], msg)
    try:
        s.sendmail("bob@home.arpa", ["bob@home.arpa"], msg)
        raise SystemExit("forged sender accepted")
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 553, e

with smtplib.SMTP_SSL(host, p465, context=ctx) as s:
    s.login("bob@home.arpa", "bob-pw")
    try:
        s.sendmail("bob@home.arpa", ["nobody@home.arpa"], msg)
        raise SystemExit("unknown user accepted")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["nobody@home.arpa"][0] == 550, e.recipients
    partial = s.sendmail("bob@home.arpa", ["alice@home.arpa", "nobody@home.arpa"], msg)
    assert 550 == partial["nobody@home.arpa"][0], partial
print("ok")
"#;
    let out = Command::new(common::require_tool("python3", "python3"))
        .args(["-c", script])
        .args(
            [
                server.port("smtp"),
                server.port("submission"),
                server.port("submissions"),
            ]
            .map(|p| p.to_string()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 2);
    let bob = inbox(&data.0, "bob@home.arpa");
    assert_eq!(bob.len(), 1);
    assert!(String::from_utf8_lossy(&bob[0]).contains("hello from python"));
    let q = queue(&data.0);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].outbound.recipients[0].address, "friend@example.net");
}
