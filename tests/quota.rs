//! Account quotas against a real `smolmail serve`: SMTP refuses at RCPT
//! (`452 4.2.2` full, `552 5.2.2` never fits) and at the end of DATA, IMAP
//! APPEND and COPY answer `NO [OVERQUOTA]` (RFC 5530), MOVE is not
//! refused, and IMAP EXPUNGE and POP3 DELE give the room back. Quotas
//! are set with the CLI while the server runs.

mod common;

use common::{Client, Server, TempDir, add_user, admin, inbox};

/// A message of exactly `size` bytes.
fn message(subject: &str, size: usize) -> Vec<u8> {
    let mut m = format!("Subject: {subject}\r\n\r\n").into_bytes();
    while m.len() + 2 < size {
        m.push(b'x');
        if m.len() % 78 == 0 {
            m.extend_from_slice(b"\r\n");
        }
    }
    m.resize(size - 2, b'x');
    m.extend_from_slice(b"\r\n");
    assert_eq!(m.len(), size);
    m
}

fn ehlo(c: &mut Client) {
    c.expect("220");
    c.cmd("EHLO client.example", "250");
}

/// DATA for an accepted envelope; returns the final reply.
fn send_data(c: &mut Client, body: &[u8]) -> String {
    c.cmd("DATA", "354");
    c.send(body);
    c.send(b".\r\n");
    c.reply()
}

/// A tagged IMAP command; returns its tagged line after the untagged ones.
fn imap(c: &mut Client, tag: &str, command: &str) -> String {
    c.send(format!("{tag} {command}\r\n").as_bytes());
    tagged(c, tag)
}

fn tagged(c: &mut Client, tag: &str) -> String {
    loop {
        let line = c.line();
        assert!(!line.is_empty(), "connection closed before {tag} ended");
        if line.starts_with(&format!("{tag} ")) {
            return line;
        }
    }
}

/// APPEND with a non-synchronizing literal (RFC 7888).
fn append(c: &mut Client, tag: &str, mailbox: &str, m: &[u8]) -> String {
    c.send(format!("{tag} APPEND {mailbox} {{{}+}}\r\n", m.len()).as_bytes());
    c.send(m);
    c.send(b"\r\n");
    tagged(c, tag)
}

#[track_caller]
fn expect(reply: String, start: &str) {
    assert!(reply.starts_with(start), "{reply:?}, expected {start}");
}

fn user_line(data: &std::path::Path, user: &str) -> String {
    admin(data, &["user", "list"], "")
        .lines()
        .find(|l| l.starts_with(user))
        .unwrap_or_else(|| panic!("{user} not listed"))
        .to_string()
}

#[test]
fn smtp_refuses_at_rcpt_and_at_the_end_of_data() {
    let data = TempDir::new("quota-smtp");
    add_user(&data.0, "alice@home.arpa", "pw");
    add_user(&data.0, "bob@home.arpa", "pw");
    admin(&data.0, &["user", "quota", "alice@home.arpa", "10K"], "");
    let server = Server::start(&data.0, &["--trusted-network", "none"]);
    let mut c = server.connect("smtp");
    ehlo(&mut c);

    // A declared size over the quota itself can never fit: permanent.
    c.cmd("MAIL FROM:<x@example.org> SIZE=20000", "250");
    let reply = c.cmd("RCPT TO:<alice@home.arpa>", "552");
    assert!(reply.starts_with("552 5.2.2 "), "{reply}");
    c.cmd("RCPT TO:<bob@home.arpa>", "250");
    c.cmd("RSET", "250");

    // Two messages of 4 KiB fit; the third, undeclared, is refused at
    // the end of DATA with the temporary code, and nothing is stored.
    for n in 0..3 {
        c.cmd("MAIL FROM:<x@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        let reply = send_data(&mut c, &message(&format!("m{n}"), 4096));
        match n {
            0 | 1 => assert!(reply.starts_with("250 "), "{reply}"),
            _ => assert!(reply.starts_with("452 4.2.2 "), "{reply}"),
        }
    }
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 2);
    // One reply for every recipient: bob does not get half a delivery.
    c.cmd("MAIL FROM:<x@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("RCPT TO:<bob@home.arpa>", "250");
    expect(send_data(&mut c, &message("both", 4096)), "452 4.2.2 ");
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 2);
    assert!(inbox(&data.0, "bob@home.arpa").is_empty());

    // With the quota lowered below what she holds, RCPT says "full"
    // (temporary); other recipients are unaffected.
    admin(&data.0, &["user", "quota", "alice@home.arpa", "8K"], "");
    c.cmd("MAIL FROM:<x@example.org>", "250");
    let reply = c.cmd("RCPT TO:<alice@home.arpa>", "452");
    assert!(reply.starts_with("452 4.2.2 "), "{reply}");
    c.cmd("RCPT TO:<bob@home.arpa>", "250");
    let reply = send_data(&mut c, &message("to bob", 4096));
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 2);
    assert_eq!(inbox(&data.0, "bob@home.arpa").len(), 1);
    c.cmd("QUIT", "221");
    server.wait_for_log("quota: alice@home.arpa holds");
}

#[test]
fn imap_append_and_copy_over_quota_and_expunge_frees_room() {
    let data = TempDir::new("quota-imap");
    add_user(&data.0, "carol@home.arpa", "pw");
    admin(&data.0, &["user", "quota", "carol@home.arpa", "10K"], "");
    let server = Server::start(&data.0, &[]);
    let mut c = server.connect("imap");
    c.line();
    expect(imap(&mut c, "a", "LOGIN carol@home.arpa pw"), "a OK");
    let m = message("four k", 4096);
    expect(append(&mut c, "b", "INBOX", &m), "b OK [APPENDUID");
    expect(append(&mut c, "c", "INBOX", &m), "c OK [APPENDUID");
    let refused = append(&mut c, "d", "INBOX", &m);
    assert!(refused.starts_with("d NO [OVERQUOTA]"), "{refused}");
    assert_eq!(
        user_line(&data.0, "carol@"),
        "carol@home.arpa  used 8K of 10K (80%)"
    );

    expect(imap(&mut c, "e", "SELECT INBOX"), "e OK");
    let refused = imap(&mut c, "f", "COPY 1 Archive");
    assert!(refused.starts_with("f NO [OVERQUOTA]"), "{refused}");
    // MOVE keeps the bytes in the account: never refused.
    expect(imap(&mut c, "g", "MOVE 2 Archive"), "g OK");
    assert_eq!(
        user_line(&data.0, "carol@"),
        "carol@home.arpa  used 8K of 10K (80%)"
    );

    // Expunging gives the room back, and APPEND works again.
    expect(
        imap(&mut c, "h", "STORE 1 +FLAGS.SILENT (\\Deleted)"),
        "h OK",
    );
    expect(imap(&mut c, "i", "EXPUNGE"), "i OK");
    assert_eq!(
        user_line(&data.0, "carol@"),
        "carol@home.arpa  used 4K of 10K (40%)"
    );
    expect(append(&mut c, "j", "INBOX", &m), "j OK [APPENDUID");
    // A quota raised while the session lasts counts at once.
    expect(append(&mut c, "k", "INBOX", &m), "k NO [OVERQUOTA]");
    admin(&data.0, &["user", "quota", "carol@home.arpa", "0"], "");
    expect(append(&mut c, "l", "INBOX", &m), "l OK [APPENDUID");
    expect(imap(&mut c, "z", "LOGOUT"), "z OK");
}

#[test]
fn pop3_dele_frees_room() {
    let data = TempDir::new("quota-pop3");
    add_user(&data.0, "dave@home.arpa", "pw");
    admin(&data.0, &["user", "quota", "dave@home.arpa", "10K"], "");
    let server = Server::start(&data.0, &["--trusted-network", "none"]);
    let mut smtp = server.connect("smtp");
    ehlo(&mut smtp);
    for n in 0..2 {
        smtp.cmd("MAIL FROM:<x@example.org> SIZE=4096", "250");
        smtp.cmd("RCPT TO:<dave@home.arpa>", "250");
        let reply = send_data(&mut smtp, &message(&format!("m{n}"), 4096));
        assert!(reply.starts_with("250 "), "{reply}");
    }
    // Declared, the third does not fit: refused at RCPT already.
    smtp.cmd("MAIL FROM:<x@example.org> SIZE=4096", "250");
    expect(smtp.cmd("RCPT TO:<dave@home.arpa>", "452"), "452 4.2.2 ");
    smtp.cmd("RSET", "250");

    let mut pop = server.connect("pop3");
    pop.expect("+OK");
    pop.cmd("USER dave@home.arpa", "+OK");
    pop.cmd("PASS pw", "+OK");
    pop.cmd("DELE 1", "+OK");
    pop.cmd("QUIT", "+OK");
    let line = user_line(&data.0, "dave@");
    assert!(
        line.contains("of 10K") && !line.contains("used 8"),
        "{line}"
    );

    smtp.cmd("MAIL FROM:<x@example.org> SIZE=4096", "250");
    smtp.cmd("RCPT TO:<dave@home.arpa>", "250");
    expect(send_data(&mut smtp, &message("m3", 4096)), "250 ");
    assert_eq!(inbox(&data.0, "dave@home.arpa").len(), 2);
}
