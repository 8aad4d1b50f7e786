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

/// Reads IMAP lines up to the one tagged `tag`, and returns that one.
fn tagged(c: &mut Client, tag: &str) -> String {
    loop {
        let line = c.line();
        assert!(!line.is_empty(), "connection closed");
        if line.starts_with(&format!("{tag} ")) {
            return line;
        }
    }
}

/// Runs `tag FETCH args`: the untagged lines, each with its literals
/// read into it, and the tagged line.
fn fetch(c: &mut Client, tag: &str, args: &str) -> (Vec<String>, String) {
    c.send(format!("{tag} FETCH {args}\r\n").as_bytes());
    let mut lines = Vec::new();
    loop {
        let mut line = c.line();
        assert!(!line.is_empty(), "connection closed after {lines:?}");
        if line.starts_with(&format!("{tag} ")) {
            return (lines, line);
        }
        while let Some(n) = line
            .strip_suffix("}\r\n")
            .and_then(|l| l.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<usize>().ok())
        {
            let mut bytes = vec![0u8; n];
            let mut got = 0;
            while got < n {
                let k = c.read_some(&mut bytes[got..]).unwrap();
                assert!(k > 0, "connection closed in a literal");
                got += k;
            }
            line.push_str(&String::from_utf8_lossy(&bytes));
            line.push_str(&c.line());
        }
        lines.push(line);
    }
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
    // A stored message with an 80 KB header.
    let mut first = server.connect("smtp");
    first.expect("220");
    first.cmd("EHLO client.example", "250");
    first.cmd("MAIL FROM:<someone@example.org>", "250");
    first.cmd("RCPT TO:<alice@home.arpa>", "250");
    first.cmd("DATA", "354");
    let mut heavy = b"Subject: heavy\r\n".to_vec();
    for _ in 0..1000 {
        heavy.extend_from_slice(b"X-Fill: ");
        heavy.extend_from_slice(&[b'h'; 70]);
        heavy.extend_from_slice(b"\r\n");
    }
    heavy.extend_from_slice(b"\r\nbody\r\n.\r\n");
    first.send(&heavy);
    first.expect("250");
    first.cmd("QUIT", "221");
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

    // Stored bytes go out a piece at a time, needing no budget: BODY[]
    // is sent. A large section built for the answer (HEADER.FIELDS.NOT of
    // the 80 KB header) needs it: NIL, and NO [UNAVAILABLE].
    i.send(b"s SELECT INBOX\r\n");
    tagged(&mut i, "s");
    let (data_lines, done) = fetch(&mut i, "f", "1 BODY.PEEK[]");
    assert!(done.starts_with("f OK"), "{done}");
    let stored = &inbox(&data.0, "alice@home.arpa")[0];
    let whole = format!(
        "* 1 FETCH (BODY[] {{{}}}\r\n{})\r\n",
        stored.len(),
        String::from_utf8_lossy(stored)
    );
    assert!(data_lines[0] == whole, "BODY[] sent in pieces differs");
    // A partial from the middle, then another item after it.
    let (data_lines, done) = fetch(&mut i, "p", "1 (BODY.PEEK[]<100.70000> UID)");
    assert!(done.starts_with("p OK"), "{done}");
    let part = format!(
        "* 1 FETCH (BODY[]<100> {{70000}}\r\n{} UID 1)\r\n",
        String::from_utf8_lossy(&stored[100..70_100])
    );
    assert!(data_lines[0] == part, "a partial sent in pieces differs");
    let (data_lines, done) = fetch(&mut i, "h", "1 BODY.PEEK[HEADER.FIELDS.NOT (Subject)]");
    assert!(done.starts_with("h NO [UNAVAILABLE]"), "{done}");
    assert!(
        data_lines[0].starts_with("* 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT)] NIL)"),
        "{data_lines:?}"
    );
    // POP3 buffers a piece at a time, not the message: RETR works.
    let mut pop = server.connect("pop3");
    pop.line();
    pop.send(b"USER alice@home.arpa\r\nPASS alice-pw\r\n");
    assert!(pop.line().starts_with("+OK"));
    assert!(pop.line().starts_with("+OK"));
    pop.send(b"RETR 1\r\n");
    let line = pop.line();
    assert!(line.starts_with("+OK "), "{line}");
    let mut got = 0;
    loop {
        let line = pop.line();
        assert!(!line.is_empty(), "connection closed");
        if line == ".\r\n" {
            break;
        }
        got += line.len();
    }
    // Sent in two pieces, joined whole (no line of it starts with a dot).
    let octets: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(got == octets && got > 70_000, "{got} of {octets}");
    pop.send(b"QUIT\r\n");
    pop.line();

    // The first message ends and is stored: its budget comes back.
    a.send(b".\r\n");
    a.expect("250");
    let literal = body(b'e', 40_000);
    i.send(format!("e APPEND INBOX {{{}}}\r\n", literal.len()).as_bytes());
    assert!(i.line().starts_with("+ "));
    i.send(&literal);
    i.send(b"\r\n");
    let line = tagged(&mut i, "e");
    assert!(line.starts_with("e OK"), "{line}");
    let reply = send(&mut b, b'f');
    assert!(reply.starts_with("250"), "{reply}");
    let (data_lines, done) = fetch(&mut i, "g", "1 BODY.PEEK[HEADER.FIELDS.NOT (Subject)]");
    assert!(done.starts_with("g OK"), "{done}");
    let header = data_lines
        .iter()
        .find(|l| l.starts_with("* 1 FETCH"))
        .unwrap();
    assert!(
        header.len() > 70_000 && !header.contains("heavy"),
        "{}",
        header.len()
    );

    let stored = inbox(&data.0, "alice@home.arpa");
    assert_eq!(stored.len(), 4, "the first, a's, the APPEND and b's retry");
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

/// The server's resident memory, from /proc.
fn rss(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// An IMAP session logged in as alice with INBOX selected.
fn imap_selected(server: &Server) -> Client {
    let mut i = server.connect("imap");
    i.line();
    i.send(b"a LOGIN alice@home.arpa alice-pw\r\n");
    assert!(i.line().starts_with("a OK"));
    i.send(b"b SELECT INBOX\r\n");
    loop {
        let line = i.line();
        assert!(!line.is_empty(), "connection closed");
        if line.starts_with("b ") {
            assert!(line.starts_with("b OK"), "{line}");
            return i;
        }
    }
}

/// A FETCH of 2500 sections of one 60 KB message (150 MB of response)
/// to a client that does not read: the server sends it item by item and
/// stays small, instead of building the whole response first.
#[test]
fn a_fetch_of_many_sections_is_not_built_in_memory() {
    let (_data, server) = setup("budget-sections");
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    c.cmd("MAIL FROM:<someone@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(&body(b's', 60_000));
    c.send(b".\r\n");
    c.expect("250");
    let before = rss(&server);
    let mut i = imap_selected(&server);
    let mut command = b"c FETCH 1 (".to_vec();
    for n in 0..2500 {
        if n > 0 {
            command.push(b' ');
        }
        command.extend_from_slice(b"BODY.PEEK[]<0.60000>");
    }
    command.extend_from_slice(b")\r\n");
    i.send(&command);
    // Time to build it all, were it built; the client reads nothing.
    std::thread::sleep(Duration::from_secs(3));
    let grown = rss(&server).saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "the server grew by {} MiB for a stalled FETCH",
        grown >> 20
    );
    // The session is still sound: the response reads to its end.
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let mut tail = Vec::new();
    while !tail.ends_with(b"c OK FETCH completed\r\n") {
        let n = i.read_some(&mut buf).unwrap();
        assert!(n > 0, "connection closed after {total} bytes");
        total += n;
        tail.extend_from_slice(&buf[..n]);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    assert!(total > 2500 * 60_000, "{total} bytes");
}

/// The size of the store's data file.
fn data_mdb(data: &std::path::Path) -> u64 {
    std::fs::metadata(data.join("data.mdb")).unwrap().len()
}

/// Delivers `n` small messages to alice over one SMTP session.
fn deliver_small(server: &Server, n: usize) {
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    for k in 0..n {
        c.cmd("MAIL FROM:<someone@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        c.cmd("DATA", "354");
        c.send(format!("Subject: small {k}\r\n\r\nhello\r\n.\r\n").as_bytes());
        c.expect("250");
    }
    c.cmd("QUIT", "221");
}

/// Clients that stop reading in the middle of a large IMAP FETCH and of a
/// POP3 RETR hold no LMDB read transaction: mail delivered meanwhile
/// reuses the pages it frees, and data.mdb grows no more than it does
/// with no such client (a pinned snapshot would make every commit's
/// copied pages new ones).
#[test]
fn stalled_readers_hold_no_read_transaction() {
    let data = TempDir::new("budget-stalled");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(
        &data.0,
        &["--max-message-size", "10M", "--memory-budget", "40M"],
    );
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    for k in 0..4u8 {
        c.cmd("MAIL FROM:<someone@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        c.cmd("DATA", "354");
        c.send(&body(b'0' + k, 8 << 20));
        c.send(b".\r\n");
        c.expect("250");
    }
    c.cmd("QUIT", "221");

    // How much the file grows for 200 deliveries with nobody reading.
    deliver_small(&server, 20);
    let start = data_mdb(&data.0);
    deliver_small(&server, 200);
    let quiet = data_mdb(&data.0) - start;

    // Now with a FETCH of 32 MB and a RETR of 8 MB that nobody reads.
    let mut imap = imap_selected(&server);
    imap.send(b"c FETCH 1:* BODY.PEEK[]\r\n");
    let mut pop = server.connect("pop3");
    pop.line();
    pop.send(b"USER alice@home.arpa\r\nPASS alice-pw\r\n");
    assert!(pop.line().starts_with("+OK"));
    assert!(pop.line().starts_with("+OK"));
    pop.send(b"RETR 2\r\n");
    std::thread::sleep(Duration::from_secs(1));
    let start = data_mdb(&data.0);
    deliver_small(&server, 200);
    let stalled = data_mdb(&data.0) - start;
    assert!(
        stalled <= quiet + quiet / 2 + (256 << 10),
        "data.mdb grew {stalled} bytes with stalled readers, {quiet} without"
    );
    drop(imap);
    drop(pop);
}

/// The figure of issue 13's "done when", at full size (slow; run by hand
/// with `cargo test --release --test budget -- --ignored --nocapture`):
/// 100 MB of messages, a client that stops reading in the middle of
/// `FETCH 1:* BODY[]`, 1000 messages delivered meanwhile; data.mdb must
/// grow no more than 10% beyond what those messages need.
#[test]
#[ignore]
fn figure_stalled_fetch_over_100_mb() {
    let data = TempDir::new("budget-figure");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start(&data.0, &["--max-message-size", "10M"]);
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    for k in 0..10u8 {
        c.cmd("MAIL FROM:<someone@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        c.cmd("DATA", "354");
        c.send(&body(b'0' + k, 10_000_000));
        c.send(b".\r\n");
        c.expect("250");
    }
    c.cmd("QUIT", "221");
    // What 1000 messages need, with nobody reading.
    let start = data_mdb(&data.0);
    deliver_small(&server, 1000);
    let quiet = data_mdb(&data.0) - start;
    let mut imap = imap_selected(&server);
    imap.send(b"c FETCH 1:* BODY[]\r\n");
    std::thread::sleep(Duration::from_secs(1));
    let start = data_mdb(&data.0);
    deliver_small(&server, 1000);
    let stalled = data_mdb(&data.0) - start;
    println!(
        "data.mdb grew {stalled} bytes for 1000 messages under a stalled FETCH of 100 MB, {quiet} with nobody reading; total {}",
        data_mdb(&data.0)
    );
    assert!(stalled <= quiet + quiet / 10 + (64 << 10));
    drop(imap);
}

/// Peak resident memory of the server, from /proc.
fn peak_rss(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Issue 13's SMTP flood at full size (slow; run by hand as above): 20
/// connections each sending a 25 MB message at once, with the default
/// budget. Those that do not fit hear 452 4.3.1; the server's peak RSS
/// stays under 128 MiB.
#[test]
#[ignore]
fn figure_twenty_25_mb_messages_at_once() {
    let (_data, server) = {
        let data = TempDir::new("budget-flood");
        add_user(&data.0, "alice@home.arpa", "alice-pw");
        let server = Server::start(&data.0, &[]);
        (data, server)
    };
    let message = std::sync::Arc::new(body(b'z', 25_000_000));
    let senders: Vec<_> = (0..20)
        .map(|_| {
            let port = server.port("smtp");
            let message = message.clone();
            std::thread::spawn(move || {
                let mut c =
                    Client::plain(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
                c.expect("220");
                c.cmd("EHLO client.example", "250");
                c.cmd("MAIL FROM:<someone@example.org>", "250");
                c.cmd("RCPT TO:<alice@home.arpa>", "250");
                c.cmd("DATA", "354");
                c.send(&message);
                c.send(b".\r\n");
                c.reply()
            })
        })
        .collect();
    let replies: Vec<String> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    let taken = replies.iter().filter(|r| r.starts_with("250")).count();
    let later = replies
        .iter()
        .filter(|r| r.starts_with("452 4.3.1"))
        .count();
    let peak = peak_rss(&server);
    println!(
        "20 x 25 MB at once: {taken} taken, {later} told 452 4.3.1; peak RSS {} MiB",
        peak >> 20
    );
    assert_eq!(taken + later, 20, "{replies:?}");
    assert!(peak < 128 << 20);
}

/// RFC 3516 BINARY decodes a part into a copy: the copy is taken from the
/// budget before decoding. A 60 KB part (80 KB of base64, so its copy is
/// small enough to go out in one piece) while another message holds most
/// of the budget: BINARY is NIL with NO [UNAVAILABLE]; BINARY.SIZE,
/// counted without a copy, is answered; once the budget is back, BINARY
/// is sent.
#[test]
fn binary_decoding_takes_the_budget_first() {
    let (_data, server) = setup("budget-binary");
    let mut encoded = String::new();
    for line in "QUFB".repeat(20_000).as_bytes().chunks(76) {
        encoded.push_str(std::str::from_utf8(line).unwrap());
        encoded.push_str("\r\n");
    }
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("EHLO client.example", "250");
    c.cmd("MAIL FROM:<someone@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(
        format!(
            "Subject: b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n\
             --X\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             {encoded}--X--\r\n.\r\n"
        )
        .as_bytes(),
    );
    c.expect("250");
    let mut i = imap_selected(&server);
    let held = half_sent(&server);
    let (lines, done) = fetch(&mut i, "f", "1 BINARY.PEEK[1]");
    assert!(done.starts_with("f NO [UNAVAILABLE]"), "{done}");
    assert!(
        lines[0].starts_with("* 1 FETCH (BINARY[1] NIL)"),
        "{lines:?}"
    );
    let (lines, done) = fetch(&mut i, "g", "1 BINARY.SIZE[1]");
    assert!(done.starts_with("g OK"), "{done}");
    assert!(lines[0].contains("BINARY.SIZE[1] 60000"), "{lines:?}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let (lines, done) = fetch(&mut i, "h", "1 BINARY.PEEK[1]");
    assert!(done.starts_with("h OK"), "{done}");
    let expected = format!(
        "* 1 FETCH (BINARY[1] {{60000}}\r\n{})\r\n",
        "A".repeat(60_000)
    );
    assert!(lines[0] == expected, "BINARY[1] differs");
}

/// RFC 5256 THREAD holds every matched message's keys (up to 64
/// References of 512 bytes each) and a forest of them: taken from the
/// budget as read. Two messages with the most keys while another message
/// holds most of the budget: NO [UNAVAILABLE]; afterwards, the threads.
#[test]
fn thread_keys_take_the_budget() {
    let (_data, server) = setup("budget-thread");
    for m in 0..2 {
        let mut refs = String::from("References:");
        for r in 0..64 {
            refs.push_str(&format!(" <{}{m}-{r}@example.org>\r\n", "r".repeat(490)));
        }
        let mut c = server.connect("smtp");
        c.expect("220");
        c.cmd("EHLO client.example", "250");
        c.cmd("MAIL FROM:<someone@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        c.cmd("DATA", "354");
        c.send(format!("Subject: t{m}\r\n{refs}\r\nbody\r\n.\r\n").as_bytes());
        c.expect("250");
    }
    let mut i = imap_selected(&server);
    let held = half_sent(&server);
    i.send(b"t THREAD REFERENCES UTF-8 ALL\r\n");
    let done = tagged(&mut i, "t");
    assert!(done.starts_with("t NO [UNAVAILABLE]"), "{done}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    i.send(b"u THREAD REFERENCES UTF-8 ALL\r\n");
    let threads = i.line();
    assert!(threads.starts_with("* THREAD ("), "{threads}");
    assert!(tagged(&mut i, "u").starts_with("u OK"));
}
