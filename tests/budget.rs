//! The memory budget for message bytes in flight (issue 13, DESIGN.md
//! "Budgets") against a real server with a tiny `--memory-budget`: what
//! does not fit gets the protocol's temporary answer (SMTP 452 4.3.1,
//! IMAP NO [UNAVAILABLE] with no `+`), and the budget comes back when the
//! message is stored or its connection goes.

mod common;

use std::time::Duration;

use common::{Client, Server, TempDir, add_user, inbox};

/// Largest message 100 KB, 150 KB in flight at once: one message being
/// received leaves room for less than half of another.
fn setup(name: &str) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(
        &data.0,
        &["--max-message-size", "100K", "--memory-budget", "150K"],
    );
    (data, server)
}

fn body(fill: u8, len: usize) -> Vec<u8> {
    let mut m = b"Subject: big\r\n\r\n".to_vec();
    while m.len() < len {
        m.extend_from_slice(&[fill; 78]);
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// An SMTP client inside DATA, 90 KB sent, the final dot not yet.
fn half_sent(server: &Server) -> Client {
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    c.cmd("MAIL FROM:<someone@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(&body(b'a', 90_000));
    // Time for the server to read (and reserve) what was sent.
    std::thread::sleep(Duration::from_millis(500));
    c
}

/// Sends one whole message over DATA; the reply to the final dot.
fn send(c: &mut Client, fill: u8) -> String {
    c.cmd("MAIL FROM:<someone@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(&body(fill, 90_000));
    c.send(b".\r\n");
    c.reply()
}

#[test]
fn smtp_and_imap_get_temporary_errors_while_the_budget_is_spent() {
    let (data, server) = setup("budget-spent");
    let mut a = half_sent(&server);

    // DATA past what is left: read to the dot, then 452 4.3.1; the
    // session goes on.
    let mut b = server.connect("smtp");
    b.expect("220");
    b.cmd("EHLO client.example", "250");
    let reply = send(&mut b, b'b');
    assert!(reply.starts_with("452 4.3.1"), "{reply}");
    b.cmd("RSET", "250");

    // BDAT is reserved as declared: refused before it is kept.
    b.cmd("MAIL FROM:<someone@example.org>", "250");
    b.cmd("RCPT TO:<alice@home.arpa>", "250");
    let chunk = body(b'c', 60_000);
    b.send(format!("BDAT {} LAST\r\n", chunk.len()).as_bytes());
    b.send(&chunk);
    let reply = b.reply();
    assert!(reply.starts_with("452 4.3.1"), "{reply}");
    b.cmd("RSET", "250");

    // An APPEND literal that does not fit: NO [UNAVAILABLE], and no `+`.
    let mut i = server.connect("imap");
    i.line();
    i.send(b"a LOGIN alice@home.arpa alice-pw\r\n");
    assert!(i.line().starts_with("a OK"));
    i.send(b"b APPEND INBOX {40000}\r\n");
    let line = i.line();
    assert!(line.starts_with("b NO [UNAVAILABLE]"), "{line}");
    // A non-synchronizing one is read and dropped, then refused.
    let literal = body(b'd', 40_000);
    i.send(format!("c APPEND INBOX {{{}+}}\r\n", literal.len()).as_bytes());
    i.send(&literal);
    i.send(b"\r\n");
    let line = i.line();
    assert!(line.starts_with("c NO [UNAVAILABLE]"), "{line}");
    i.send(b"d NOOP\r\n");
    assert!(i.line().starts_with("d OK"));

    // The first message ends and is stored: its budget comes back.
    a.send(b".\r\n");
    a.expect("250");
    let literal = body(b'e', 40_000);
    i.send(format!("e APPEND INBOX {{{}}}\r\n", literal.len()).as_bytes());
    assert!(i.line().starts_with("+ "));
    i.send(&literal);
    i.send(b"\r\n");
    let line = i.line();
    assert!(line.starts_with("e OK"), "{line}");
    let reply = send(&mut b, b'f');
    assert!(reply.starts_with("250"), "{reply}");

    let stored = inbox(&data.0, "alice@home.arpa");
    assert_eq!(stored.len(), 3, "a's, the APPEND and b's retry");
    assert!(
        server
            .log()
            .contains("memory budget for messages in flight is spent")
    );
}

/// A client that leaves in the middle of DATA gives its share back: a
/// message that needs more than half the budget is taken afterwards.
#[test]
fn budget_comes_back_when_a_connection_drops() {
    let (data, server) = setup("budget-dropped");
    for round in 0..3 {
        let a = half_sent(&server);
        drop(a);
        std::thread::sleep(Duration::from_millis(300));
        let mut c = server.connect("smtp");
        c.expect("220");
        c.cmd("EHLO client.example", "250");
        let reply = send(&mut c, b'g');
        assert!(reply.starts_with("250"), "round {round}: {reply}");
        c.cmd("QUIT", "221");
    }
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 3);
}
