//! One client identity for every protocol: on a dual-stack listener
//! (`[::]`), an IPv4 client on this host arrives as `::ffff:127.0.0.1`,
//! and SMTP, IMAP and POP3 alike treat it as the loopback it is: each
//! offers its plaintext login (AUTH, AUTH=PLAIN, USER) without TLS, as it
//! does to `127.0.0.1` on an IPv4 listener.

mod common;

use std::net::{TcpListener, TcpStream};

use common::{Client, Server, TempDir, add_user};

/// A plain connection over IPv4 loopback to the `[::]` listener.
fn connect_v4(server: &Server, service: &str) -> Client {
    Client::plain(TcpStream::connect(("127.0.0.1", server.port(service))).unwrap())
}

#[test]
fn ipv4_mapped_loopback_is_loopback_for_every_protocol() {
    if let Err(e) = TcpListener::bind("[::]:0") {
        eprintln!("SKIPPED: cannot listen on [::] ({e}): no IPv6 here");
        return;
    }
    let data = TempDir::new("client-addr");
    add_user(&data.0, "alice@home.arpa", "pw");
    // Nobody is trusted by network: only the loopback rule counts.
    let server = Server::start_on("::", &data.0, &["--trusted-network", "none"]);

    // SMTP submission: AUTH is offered before STARTTLS, and works.
    let mut smtp = connect_v4(&server, "submission");
    smtp.expect("220");
    let caps = smtp.cmd("EHLO client.example", "250");
    assert!(caps.contains("AUTH ") && caps.contains("PLAIN"), "{caps}");
    smtp.cmd("AUTH PLAIN AGFsaWNlQGhvbWUuYXJwYQBwdw==", "235");
    smtp.cmd("QUIT", "221");

    // IMAP: AUTH=PLAIN rather than LOGINDISABLED, and LOGIN works.
    let mut imap = connect_v4(&server, "imap");
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
    let mut pop3 = connect_v4(&server, "pop3");
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

    // Each came in as the IPv4-mapped address, not as 127.0.0.1.
    let log = server.log();
    for service in ["submission", "imap", "pop3"] {
        let seen = format!("{service}: connect from [::ffff:127.0.0.1]:");
        assert!(log.contains(&seen), "no {seen:?} in log:\n{log}");
    }
}
