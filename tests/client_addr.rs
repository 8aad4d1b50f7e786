//! One client identity for every protocol: on a dual-stack listener
//! (`[::]`), an IPv4 client on this host arrives as `::ffff:127.0.0.1`,
//! and SMTP, IMAP and POP3 alike treat it as the loopback it is: each
//! offers its plaintext login (AUTH, AUTH=PLAIN, USER) without TLS, as it
//! does to `127.0.0.1` on an IPv4 listener.

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, Client, SERVICES, TempDir, add_user};

/// `smolmail serve` with every service on `[::]`, killed when dropped.
struct DualStack {
    child: std::process::Child,
    log: std::path::PathBuf,
    ports: Vec<(&'static str, u16)>,
}

impl DualStack {
    /// `None` (and a note) where the machine has no IPv6.
    fn start(data: &std::path::Path) -> Option<DualStack> {
        let probes: Vec<TcpListener> = match SERVICES
            .iter()
            .map(|_| TcpListener::bind("[::]:0"))
            .collect()
        {
            Ok(probes) => probes,
            Err(e) => {
                eprintln!("SKIPPED: cannot listen on [::] ({e}): no IPv6 here");
                return None;
            }
        };
        let ports: Vec<(&'static str, u16)> = SERVICES
            .iter()
            .zip(&probes)
            .map(|(s, l)| (*s, l.local_addr().unwrap().port()))
            .collect();
        drop(probes);
        let log = data.join("serve.log");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env("SMOLMAIL_DATA", data)
            .env("SMOLMAIL_HOSTNAME", "mail.home.arpa")
            .env("SMOLMAIL_DNS_SERVER", "127.0.0.1:9")
            // Nobody is trusted by network: only the loopback rule counts.
            .args(["--trusted-network", "none"]);
        for (service, port) in &ports {
            cmd.arg(format!("--{service}")).arg(format!("[::]:{port}"));
        }
        cmd.stderr(std::fs::File::create(&log).unwrap());
        let server = DualStack {
            child: cmd.spawn().unwrap(),
            log,
            ports,
        };
        server.wait_for_log("pop3s: listening on");
        Some(server)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A plain connection over IPv4 loopback to the `[::]` listener.
    fn connect_v4(&self, service: &str) -> Client {
        let port = self.ports.iter().find(|(s, _)| *s == service).unwrap().1;
        Client::plain(TcpStream::connect(("127.0.0.1", port)).unwrap())
    }
}

impl Drop for DualStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ipv4_mapped_loopback_is_loopback_for_every_protocol() {
    let data = TempDir::new("client-addr");
    add_user(&data.0, "alice@home.arpa", "pw");
    let Some(server) = DualStack::start(&data.0) else {
        return;
    };

    // SMTP submission: AUTH is offered before STARTTLS, and works.
    let mut smtp = server.connect_v4("submission");
    smtp.expect("220");
    let caps = smtp.cmd("EHLO client.example", "250");
    assert!(caps.contains("AUTH ") && caps.contains("PLAIN"), "{caps}");
    smtp.cmd("AUTH PLAIN AGFsaWNlQGhvbWUuYXJwYQBwdw==", "235");
    smtp.cmd("QUIT", "221");

    // IMAP: AUTH=PLAIN rather than LOGINDISABLED, and LOGIN works.
    let mut imap = server.connect_v4("imap");
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
    let mut pop3 = server.connect_v4("pop3");
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
