//! One client identity for every protocol, over IPv4 and IPv6 alike
//! (issue #21). On a dual-stack listener (`[::]`, the default) an IPv4
//! client on this host arrives as `::ffff:127.0.0.1`; over IPv6 it is
//! `::1`. SMTP, IMAP and POP3 treat both as the loopback they are: each
//! offers its plaintext login (AUTH, AUTH=PLAIN, USER) without TLS, as it
//! does to `127.0.0.1` on an IPv4 listener, and logs and Received headers
//! show the canonical address. The `#[ignore]`d namespace test checks an
//! IPv6 `--trusted-network` from an address that is not loopback.

mod common;

use std::net::TcpStream;

use common::{Client, Server, TempDir, add_user, b64, inbox};

/// The plaintext-login rules of a loopback client, for all three
/// protocols; `connect` opens a plain connection to a service.
fn loopback_may_login_without_tls(connect: impl Fn(&str) -> Client) {
    // SMTP submission: AUTH is offered before STARTTLS, and works.
    let mut smtp = connect("submission");
    smtp.expect("220");
    let caps = smtp.cmd("EHLO client.example", "250");
    assert!(caps.contains("AUTH ") && caps.contains("PLAIN"), "{caps}");
    smtp.cmd("AUTH PLAIN AGFsaWNlQGhvbWUuYXJwYQBwdw==", "235");
    smtp.cmd("QUIT", "221");

    // IMAP: AUTH=PLAIN rather than LOGINDISABLED, and LOGIN works.
    let mut imap = connect("imap");
    let greeting = imap.line();
    assert!(
        greeting.contains("AUTH=PLAIN") && !greeting.contains("LOGINDISABLED"),
        "{greeting}"
    );
    imap.send(b"a LOGIN alice@home.arpa pw\r\n");
    let reply = imap.line();
    assert!(reply.starts_with("a OK"), "{reply}");
    imap.send(b"b LOGOUT\r\n");

    // POP3: USER and SASL are in CAPA, and USER/PASS works.
    let mut pop3 = connect("pop3");
    assert!(pop3.line().starts_with("+OK"));
    pop3.send(b"CAPA\r\n");
    let mut capa = String::new();
    loop {
        let line = pop3.line();
        assert!(!line.is_empty(), "closed; CAPA so far: {capa}");
        if line == ".\r\n" {
            break;
        }
        capa.push_str(&line);
    }
    assert!(
        capa.contains("USER\r\n") && capa.contains("SASL PLAIN"),
        "{capa}"
    );
    pop3.send(b"USER alice@home.arpa\r\n");
    assert!(pop3.line().starts_with("+OK"));
    pop3.send(b"PASS pw\r\n");
    let reply = pop3.line();
    assert!(reply.starts_with("+OK"), "{reply}");
    pop3.send(b"QUIT\r\n");
}

/// Mail for alice from `connect`'s client on port 25, without AUTH.
fn send_to_alice(connect: impl Fn(&str) -> Client) {
    let mut c = connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    c.cmd("MAIL FROM:<someone@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(b"Subject: hi\r\n\r\nhello\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
}

fn first_received(data: &std::path::Path) -> String {
    let mail = inbox(data, "alice@home.arpa");
    let text = String::from_utf8_lossy(&mail[0]).into_owned();
    text.lines().nth(1).unwrap_or_default().to_string()
}

#[test]
fn ipv4_mapped_loopback_is_loopback_for_every_protocol() {
    let data = TempDir::new("client-addr");
    add_user(&data.0, "alice@home.arpa", "pw");
    // Nobody is trusted by network: only the loopback rule counts.
    let server = Server::start_on("::", &data.0, &["--trusted-network", "none"]);
    // A plain connection over IPv4 loopback to the `[::]` listener.
    let connect_v4 = |service: &str| {
        Client::plain(TcpStream::connect(("127.0.0.1", server.port(service))).unwrap())
    };
    loopback_may_login_without_tls(connect_v4);
    send_to_alice(connect_v4);

    // Each came in as ::ffff:127.0.0.1 and is logged and recorded as the
    // IPv4 address it is (issue #21: canonical everywhere).
    let log = server.log();
    for service in ["submission", "imap", "pop3", "smtp"] {
        let seen = format!("{service}: connect from 127.0.0.1:");
        assert!(log.contains(&seen), "no {seen:?} in log:\n{log}");
    }
    assert!(!log.contains("::ffff:"), "a mapped address leaked:\n{log}");
    let received = first_received(&data.0);
    assert_eq!(received, "Received: from client.example ([127.0.0.1])");
}

/// Over `::1` the loopback rules are those of 127.0.0.1, and the default
/// trusted networks (`127.0.0.0/8,::1/128`) let `::1` submit without AUTH.
#[test]
fn ipv6_loopback_is_loopback_for_every_protocol() {
    let data = TempDir::new("client-addr6");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start_on("::1", &data.0, &[]);
    let connect_v6 =
        |service: &str| Client::plain(TcpStream::connect(("::1", server.port(service))).unwrap());
    loopback_may_login_without_tls(connect_v6);
    send_to_alice(connect_v6);

    // Trusted by default: a local sender may relay without AUTH.
    let mut c = connect_v6("submission");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    c.cmd("MAIL FROM:<gitea@home.arpa>", "250");
    c.cmd("RCPT TO:<someone@example.net>", "250");
    c.cmd("QUIT", "221");

    let log = server.log();
    for service in ["submission", "imap", "pop3", "smtp"] {
        let seen = format!("{service}: connect from [::1]:");
        assert!(log.contains(&seen), "no {seen:?} in log:\n{log}");
    }
    // RFC 5321 §4.4: TCP-info is an address literal, tagged for IPv6.
    let received = first_received(&data.0);
    assert_eq!(received, "Received: from client.example ([IPv6:::1])");
}

/// The address of 2001:db8::/32 that the namespace test listens and
/// connects on: scripts/test.sh puts it on the loopback device of a network
/// namespace of its own and sets SMOLMAIL_TEST_NONLOOPBACK6.
fn nonloopback_ip6() -> String {
    std::env::var("SMOLMAIL_TEST_NONLOOPBACK6").unwrap_or_else(|_| {
        panic!(
            "SMOLMAIL_TEST_NONLOOPBACK6 is not set: this test needs an IPv6 client address \
             that is not loopback; scripts/test.sh runs it in a network namespace \
             (unshare --net, 2001:db8::1 on lo) with SMOLMAIL_TEST_NONLOOPBACK6=2001:db8::1"
        )
    })
}

/// `--trusted-network` with an IPv6 network: a client of 2001:db8::/32 may
/// submit without AUTH (as Postfix's mynetworks), yet, not being loopback,
/// is offered no AUTH before TLS; outside the trusted networks the same
/// client must authenticate.
#[test]
#[ignore = "needs a network namespace: scripts/test.sh runs it with SMOLMAIL_TEST_NONLOOPBACK6"]
fn ipv6_trusted_network_off_loopback() {
    let ip = nonloopback_ip6();
    let data = TempDir::new("trusted6");
    add_user(&data.0, "alice@home.arpa", "pw");
    // The default listener, dual-stack on every interface.
    let server = Server::start_on("::", &data.0, &["--trusted-network", "2001:db8::/32"]);
    let connect = |service: &str| {
        Client::plain(TcpStream::connect((ip.as_str(), server.port(service))).unwrap())
    };
    let mut c = connect("submission");
    c.expect("220");
    let caps = c.cmd("EHLO client.example", "250");
    assert!(!caps.contains("AUTH"), "AUTH offered without TLS: {caps}");
    c.cmd(
        &format!("AUTH PLAIN {}", b64(b"\0alice@home.arpa\0pw")),
        "530 5.7.0",
    );
    c.cmd("MAIL FROM:<gitea@home.arpa>", "250");
    c.cmd("RCPT TO:<someone@example.net>", "250");
    c.cmd("QUIT", "221");
    let log = server.log();
    assert!(
        log.contains(&format!("submission: connect from [{ip}]:")),
        "{log}"
    );
    drop(server);

    let data = TempDir::new("untrusted6");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start_on("::", &data.0, &[]);
    let mut c =
        Client::plain(TcpStream::connect((ip.as_str(), server.port("submission"))).unwrap());
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    c.cmd("MAIL FROM:<gitea@home.arpa>", "530 5.7.0");
    c.cmd("QUIT", "221");
}
