//! Real SMTP clients against smolmail: Debian's swaks and msmtp, Python's smtplib,
//! plain on 25, STARTTLS + AUTH on 587, implicit TLS on 465 (installed by
//! scripts/setup.sh). Deliveries are checked in the store.

mod common;

use std::process::Command;

use common::{Server, TempDir, add_user, header_field, inbox, queue};

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

/// RFC 6409 §8.2, §8.3 with a real client: msmtp submits on 587 with
/// STARTTLS (verifying the server's self-signed certificate from the data
/// directory) and AUTH PLAIN a message without Date and Message-ID (its
/// own completion turned off, as a script's or an appliance's sender
/// would leave them out); the stored copy and the copy relayed to a second
/// smolmail both carry the same two fields, made by the server.
#[test]
fn msmtp_submission_gets_date_and_message_id() {
    let msmtp = common::require_tool("msmtp", "msmtp");
    let peer_data = TempDir::new("msmtp-peer");
    add_user(&peer_data.0, "friend@remote.test", "friend-pw");
    let peer = Server::start(&peer_data.0, &["--trusted-network", "none"]);
    let data = TempDir::new("msmtp");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    add_user(&data.0, "bob@home.arpa", "bob-pw");
    let route = format!("remote.test=127.0.0.1:{}", peer.port("smtp"));
    let server = Server::start(&data.0, &["--trusted-network", "none", "--route", &route]);
    let cert = data.0.join("tls/selfsigned-cert.pem");
    let mut child = Command::new(msmtp)
        .args([
            "--host=127.0.0.1",
            &format!("--port={}", server.port("submission")),
            "--tls=on",
            "--tls-starttls=on",
            &format!("--tls-trust-file={}", cert.display()),
            "--tls-host-override=mail.home.arpa",
            "--auth=plain",
            "--user=alice@home.arpa",
            "--passwordeval=printf %s alice-pw",
            "--from=alice@home.arpa",
            "--set-date-header=off",
            "--set-msgid-header=off",
            "--",
            "bob@home.arpa",
            "friend@remote.test",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"From: alice@home.arpa\nTo: bob@home.arpa\nSubject: alert\n\nthe disk is full\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "msmtp: {}{}\nlog:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let stored = inbox(&data.0, "bob@home.arpa");
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8_lossy(&stored[0]).into_owned();
    assert!(text.contains("with ESMTPSA"), "not TLS + AUTH: {text}");
    let date = header_field(&stored[0], "Date").expect("Date in the stored copy");
    let id = header_field(&stored[0], "Message-ID").expect("Message-ID in the stored copy");
    assert!(id.ends_with("@mail.home.arpa>"), "{id}");
    peer.wait_until(
        std::time::Duration::from_secs(30),
        "the relayed copy",
        || inbox(&peer_data.0, "friend@remote.test").len() == 1,
    );
    let relayed = inbox(&peer_data.0, "friend@remote.test").remove(0);
    assert_eq!(header_field(&relayed, "Date"), Some(date));
    assert_eq!(header_field(&relayed, "Message-ID"), Some(id));
    assert!(
        server
            .log()
            .contains(": added Date Message-ID (submission from [127.0.0.1])"),
        "the server, not msmtp, made them: {}",
        server.log()
    );
    server.wait_until(std::time::Duration::from_secs(30), "an empty queue", || {
        queue(&data.0).is_empty()
    });
}
