//! SMTP conversations against a real `smolmail serve` on 127.0.0.1: every
//! rule of the SMTP issue — relay control, smuggling, STARTTLS injection,
//! limits, AUTH and its limiter, sender ownership, CHUNKING, PIPELINING,
//! DSN parameters, storage errors.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Client, Server, TempDir, add_user, b64, inbox, queue};

/// A server with alice and bob at home.arpa and a catch-all domain.
fn setup(name: &str, extra: &[&str]) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    add_user(&data.0, "bob@home.arpa", "bob-pw");
    common::admin(
        &data.0,
        &["alias", "add", "postmaster@home.arpa", "alice@home.arpa"],
        "",
    );
    common::admin(
        &data.0,
        &["alias", "add", "ali@home.arpa", "alice@home.arpa"],
        "",
    );
    let server = Server::start(&data.0, extra);
    (data, server)
}

fn ehlo(c: &mut Client) -> String {
    c.expect("220");
    c.cmd("EHLO client.example", "250")
}

fn send_message(c: &mut Client, from: &str, to: &[&str], body: &str) -> String {
    c.cmd(&format!("MAIL FROM:<{from}>"), "250");
    for rcpt in to {
        c.cmd(&format!("RCPT TO:<{rcpt}>"), "250");
    }
    c.cmd("DATA", "354");
    c.send(body.as_bytes());
    c.send(if body.ends_with("\r\n") {
        b".\r\n"
    } else {
        b"\r\n.\r\n"
    });
    c.expect("250")
}

#[test]
fn mta_delivers_locally_with_trace_headers() {
    let (data, server) = setup("mta", &["--trusted-network", "none"]);
    let mut c = server.connect("smtp");
    let caps = ehlo(&mut c);
    for ext in [
        "PIPELINING",
        "SIZE 26214400",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "STARTTLS",
    ] {
        assert!(caps.contains(ext), "{ext} missing: {caps}");
    }
    assert!(!caps.contains("AUTH"), "AUTH offered on port 25: {caps}");
    let reply = send_message(
        &mut c,
        "someone@example.org",
        &["alice@home.arpa", "bob+lists@home.arpa", "ALI@HOME.ARPA"],
        "Subject: hello\r\n\r\nline one\r\n..dotted\r\n",
    );
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    c.cmd("QUIT", "221");
    let alice = inbox(&data.0, "alice@home.arpa");
    let bob = inbox(&data.0, "bob@home.arpa");
    assert_eq!(alice.len(), 1, "alias and address both reach alice once");
    assert_eq!(bob.len(), 1);
    let text = String::from_utf8(alice[0].clone()).unwrap();
    assert!(
        text.starts_with(
            "Return-Path: <someone@example.org>\r\nReceived: from client.example ([127.0.0.1])"
        ),
        "{text}"
    );
    assert!(
        text.contains("by mail.home.arpa (smolmail) with ESMTP id"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\nSubject: hello\r\n\r\nline one\r\n.dotted\r\n"),
        "{text:?}"
    );
    assert!(
        server.log().contains("from=<someone@example.org>, size="),
        "{}",
        server.log()
    );
}

#[test]
fn unknown_users_and_relay_tricks_are_refused() {
    let (data, server) = setup("relay", &["--trusted-network", "none"]);
    for service in ["smtp", "submission"] {
        let mut c = server.connect(service);
        ehlo(&mut c);
        if service == "smtp" {
            c.cmd("MAIL FROM:<x@example.org>", "250");
            c.cmd("RCPT TO:<nobody@home.arpa>", "550 5.1.1");
            c.cmd("RCPT TO:<user%other.example@home.arpa>", "550 5.1.1");
            c.cmd("RCPT TO:<\"user@other.example\"@home.arpa>", "550 5.1.1");
            c.cmd("RCPT TO:<@home.arpa:user@other.example>", "554 5.7.1");
            c.cmd("RCPT TO:<user@other.example>", "554 5.7.1");
            c.cmd("RCPT TO:<user@[192.0.2.1]>", "554 5.7.1");
            c.cmd("DATA", "554 5.5.1");
        } else {
            // Submission: nothing without AUTH.
            c.cmd("MAIL FROM:<alice@home.arpa>", "530 5.7.0");
            c.cmd("RCPT TO:<user@other.example>", "503 5.5.1");
        }
        c.cmd("QUIT", "221");
    }
    assert!(queue(&data.0).is_empty(), "something was queued for relay");
}

/// The smuggling endings of CVE-2023-51766 never end DATA; the message that
/// contains one is refused, and the smuggled command is never run.
#[test]
fn smtp_smuggling_is_refused() {
    let (data, server) = setup("smuggle", &[]);
    for ending in ["\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n.\r"] {
        let mut c = server.connect("smtp");
        ehlo(&mut c);
        c.cmd("MAIL FROM:<x@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        c.cmd("DATA", "354");
        let smuggled = format!(
            "Subject: outer\r\n\r\nhi{ending}MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@home.arpa>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n"
        );
        c.send(smuggled.as_bytes());
        let reply = c.reply();
        assert!(reply.starts_with("550 5.6.0"), "{ending:?}: {reply:?}");
        // The session goes on and nothing of the smuggled transaction ran.
        c.cmd("NOOP", "250");
        c.cmd("QUIT", "221");
    }
    assert!(inbox(&data.0, "alice@home.arpa").is_empty());
    assert!(inbox(&data.0, "bob@home.arpa").is_empty());
}

/// Plaintext pipelined after STARTTLS is thrown away (CVE-2011-0411).
#[test]
fn starttls_discards_pipelined_plaintext() {
    let (data, server) = setup("starttls", &[]);
    let stream = TcpStream::connect(("127.0.0.1", server.port("smtp"))).unwrap();
    let mut c = Client::plain(stream.try_clone().unwrap());
    ehlo(&mut c);
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<alice@home.arpa>\r\nDATA\r\n");
    c.expect("220 2.0.0");
    let mut c = c.start_tls(stream);
    // Had the injected commands run, the first reply here would be theirs.
    c.cmd("MAIL FROM:<x@example.org>", "503 5.5.1");
    let caps = c.cmd("EHLO client.example", "250");
    assert!(!caps.contains("STARTTLS"), "{caps}");
    send_message(
        &mut c,
        "x@example.org",
        &["alice@home.arpa"],
        "Subject: tls\r\n\r\nsecret\r\n",
    );
    c.cmd("QUIT", "221");
    assert!(server.log().contains("discarded"), "no discard logged");
    let mail = inbox(&data.0, "alice@home.arpa");
    assert_eq!(mail.len(), 1);
    let text = String::from_utf8_lossy(&mail[0]);
    assert!(
        text.contains("with ESMTPS id") && text.contains("(using TLS"),
        "{text}"
    );
}

#[test]
fn submission_auth_and_sender_ownership() {
    let (data, server) = setup("submission", &["--trusted-network", "none"]);
    // 465: implicit TLS.
    let mut c = server.connect_tls("submissions");
    let caps = ehlo(&mut c);
    assert!(
        caps.contains("AUTH PLAIN LOGIN") && !caps.contains("STARTTLS"),
        "{caps}"
    );
    c.cmd(
        &format!("AUTH PLAIN {}", b64(b"\0alice@home.arpa\0wrong")),
        "535 5.7.8",
    );
    c.cmd(
        &format!("AUTH PLAIN {}", b64(b"\0alice@home.arpa\0alice-pw")),
        "235 2.7.0",
    );
    c.cmd("AUTH PLAIN", "503 5.5.1");
    c.cmd("MAIL FROM:<bob@home.arpa>", "553 5.7.1");
    c.cmd("MAIL FROM:<alice+x@home.arpa>", "250");
    c.cmd("RSET", "250");
    c.cmd("MAIL FROM:<ali@home.arpa>", "250");
    c.cmd("RCPT TO:<bob@home.arpa>", "250");
    c.cmd(
        "RCPT TO:<friend@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;friend+40example.org",
        "250",
    );
    c.cmd("DATA", "354");
    c.send(b"Subject: out\r\n\r\nhello\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
    let bob = inbox(&data.0, "bob@home.arpa");
    assert_eq!(bob.len(), 1);
    let text = String::from_utf8_lossy(&bob[0]);
    assert!(
        text.contains("with ESMTPSA") && text.contains("(authenticated sender: alice@home.arpa)"),
        "{text}"
    );
    assert!(!text.contains("alice-pw"));
    let q = queue(&data.0);
    assert_eq!(q.len(), 1);
    let r = &q[0].outbound.recipients[0];
    assert_eq!(r.address, "friend@example.org");
    assert_eq!(
        r.notify,
        smolmail::store::queue::notify::FAILURE | smolmail::store::queue::notify::DELAY
    );
    assert_eq!(r.orcpt.as_deref(), Some("rfc822;friend@example.org"));
    assert_eq!(q[0].outbound.sender, "ali@home.arpa");

    // 587: STARTTLS, then AUTH LOGIN.
    let stream = TcpStream::connect(("127.0.0.1", server.port("submission"))).unwrap();
    let mut c = Client::plain(stream.try_clone().unwrap());
    ehlo(&mut c);
    c.cmd("STARTTLS", "220");
    let mut c = c.start_tls(stream);
    c.cmd("EHLO client.example", "250");
    c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6");
    c.cmd(&b64(b"bob@home.arpa"), "334 UGFzc3dvcmQ6");
    c.cmd(&b64(b"bob-pw"), "235");
    send_message(
        &mut c,
        "bob@home.arpa",
        &["alice@home.arpa"],
        "Subject: hi\r\n\r\nfrom bob\r\n",
    );
    c.cmd("AUTH LOGIN", "503");
    c.cmd("QUIT", "221");
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 1);
}

/// A trusted-network client may submit without AUTH, as a local sender only.
#[test]
fn trusted_network_relays_local_senders_only() {
    let (data, server) = setup("trusted", &["--trusted-network", "127.0.0.0/8"]);
    let mut c = server.connect("submission");
    ehlo(&mut c);
    c.cmd("MAIL FROM:<stranger@example.org>", "553 5.7.1");
    c.cmd("MAIL FROM:<gitea@home.arpa>", "250");
    c.cmd("RCPT TO:<someone@example.net>", "250");
    c.cmd("DATA", "354");
    c.send(b"Subject: alert\r\n\r\nbuild failed\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
    assert_eq!(queue(&data.0).len(), 1);
    // On port 25 a trusted client may relay only as one of our domains too.
    let mut c = server.connect("smtp");
    ehlo(&mut c);
    c.cmd("MAIL FROM:<stranger@example.org>", "250");
    c.cmd("RCPT TO:<someone@example.net>", "554 5.7.1");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("QUIT", "221");
}

/// AUTH before TLS is refused for clients that are not on this host. The
/// test runs the server on 192.0.2.1 inside a network namespace that
/// scripts/test.sh creates (SMOLMAIL_TEST_NONLOOPBACK).
#[test]
#[ignore = "needs a network namespace: scripts/test.sh runs it with SMOLMAIL_TEST_NONLOOPBACK"]
fn auth_needs_tls_off_loopback() {
    let ip = common::nonloopback_ip();
    let data = TempDir::new("nonloopback");
    add_user(&data.0, "alice@home.arpa", "alice-pw");
    let server = Server::start_on(&ip, &data.0, &["--trusted-network", "none"]);
    let stream = TcpStream::connect((ip.as_str(), server.port("submission"))).unwrap();
    let mut c = Client::plain(stream.try_clone().unwrap());
    let caps = ehlo(&mut c);
    assert!(!caps.contains("AUTH"), "AUTH offered without TLS: {caps}");
    c.cmd(
        &format!("AUTH PLAIN {}", b64(b"\0alice@home.arpa\0alice-pw")),
        "530 5.7.0",
    );
    c.cmd("STARTTLS", "220");
    let mut c = c.start_tls(stream);
    let caps = c.cmd("EHLO client.example", "250");
    assert!(caps.contains("AUTH PLAIN LOGIN"), "{caps}");
    c.cmd(
        &format!("AUTH PLAIN {}", b64(b"\0alice@home.arpa\0alice-pw")),
        "235",
    );
}

/// The size limit is enforced while reading; the session stays usable.
#[test]
fn size_limit() {
    let (data, server) = setup("size", &["--max-message-size", "2K"]);
    let mut c = server.connect("smtp");
    let caps = ehlo(&mut c);
    assert!(caps.contains("SIZE 2048"), "{caps}");
    c.cmd("MAIL FROM:<x@example.org> SIZE=4096", "552 5.3.4");
    c.cmd("MAIL FROM:<x@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("DATA", "354");
    c.send(format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(3000)).as_bytes());
    c.expect("552 5.3.4");
    send_message(
        &mut c,
        "x@example.org",
        &["alice@home.arpa"],
        "Subject: small\r\n\r\nok\r\n",
    );
    c.cmd("QUIT", "221");
    let mail = inbox(&data.0, "alice@home.arpa");
    assert_eq!(mail.len(), 1);
    assert!(String::from_utf8_lossy(&mail[0]).contains("Subject: small"));
}

#[test]
fn sequence_errors_and_bounds() {
    let (_data, server) = setup("sequence", &["--max-recipients", "2"]);
    let mut c = server.connect("smtp");
    c.expect("220");
    c.cmd("MAIL FROM:<x@example.org>", "503 5.5.1");
    c.cmd("EHLO client.example", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "503 5.5.1");
    c.cmd("DATA", "503 5.5.1");
    c.cmd("MAIL FROM:<x@example.org>", "250");
    c.cmd("MAIL FROM:<x@example.org>", "503 5.5.1");
    c.cmd("DATA", "503 5.5.1");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.cmd("RCPT TO:<bob@home.arpa>", "250");
    c.cmd("RCPT TO:<postmaster@home.arpa>", "452 4.5.3");
    c.cmd("RSET", "250");
    c.cmd("VRFY alice", "252");
    c.cmd("HELP", "214");
    c.cmd("EXPN list", "502");
    c.cmd("FROB", "500 5.5.2");
    c.cmd("MAIL FROM:<x@example.org> FOO=BAR", "555 5.5.4");
    c.cmd("MAIL FROM:x@example.org", "501 5.1.7");
    c.cmd(&format!("NOOP {}", "x".repeat(5000)), "500 5.5.2");
    c.cmd("NOOP", "250");
    c.cmd("QUIT", "221");
    // Too many errors close the session with 421.
    let mut c = server.connect("smtp");
    c.expect("220");
    let mut last = String::new();
    for _ in 0..25 {
        c.send(b"FROB\r\n");
        last = c.reply();
        if last.starts_with("421") {
            break;
        }
    }
    assert!(last.contains("421 4.7.0"), "{last}");
    assert!(c.closed());
}

/// A whole transaction in one write gets every reply, in order.
#[test]
fn pipelining() {
    let (data, server) = setup("pipelining", &[]);
    let mut c = server.connect("smtp");
    ehlo(&mut c);
    c.send(
        b"MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@home.arpa>\r\nRCPT TO:<nobody@home.arpa>\r\nRCPT TO:<bob@home.arpa>\r\nDATA\r\n",
    );
    for code in ["250", "250", "550", "250", "354"] {
        c.expect(code);
    }
    c.send(b"Subject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<y@example.org>\r\nRCPT TO:<bob@home.arpa>\r\nDATA\r\n");
    for code in ["250", "250", "250", "354"] {
        c.expect(code);
    }
    c.send(b"Subject: q\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    c.expect("250");
    c.expect("221");
    assert_eq!(inbox(&data.0, "alice@home.arpa").len(), 1);
    assert_eq!(inbox(&data.0, "bob@home.arpa").len(), 2);
}

#[test]
fn chunking_bdat() {
    let (data, server) = setup("bdat", &[]);
    let mut c = server.connect("smtp");
    ehlo(&mut c);
    // BDAT without a transaction: refused, but its bytes are consumed.
    c.send(b"BDAT 10\r\n0123456789");
    c.expect("503");
    c.cmd("MAIL FROM:<x@example.org> BODY=8BITMIME", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    let part1 = b"Subject: chunked\r\n\r\nfirst half, ";
    let part2 = "sécond half\r\n".as_bytes();
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(part1);
    c.expect("250");
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(part2);
    c.expect("250 2.0.0 Ok: queued");
    // A bare LF inside BDAT content is refused too.
    c.cmd("MAIL FROM:<x@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.send(b"BDAT 10 LAST\r\nA: b\n\r\nc\r\n");
    c.expect("550 5.6.0");
    c.cmd("QUIT", "221");
    let mail = inbox(&data.0, "alice@home.arpa");
    assert_eq!(mail.len(), 1);
    assert!(mail[0].ends_with("Subject: chunked\r\n\r\nfirst half, sécond half\r\n".as_bytes()));
}

/// A chunk that cannot fit is refused as soon as it is declared, even
/// one of 2^32 octets (which a 32-bit build must not truncate); the
/// session reads on, discarding, until the client goes away.
#[test]
fn bdat_too_big_refused_up_front() {
    let (data, server) = setup("bdat-big", &["--max-message-size", "2K"]);
    let mut c = server.connect("smtp");
    ehlo(&mut c);
    // Within the limit per chunk, past it together: the second is refused.
    c.cmd("MAIL FROM:<x@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    let chunk = "x".repeat(1500);
    c.send(format!("BDAT 1500\r\n{chunk}").as_bytes());
    c.expect("250");
    c.send(format!("BDAT 1500 LAST\r\n{chunk}").as_bytes());
    c.expect("552 5.3.4");
    // The session is usable after the discarded chunk.
    c.cmd("NOOP", "250");
    c.cmd("MAIL FROM:<x@example.org>", "250");
    c.cmd("RCPT TO:<alice@home.arpa>", "250");
    c.send(b"BDAT 4294967296 LAST\r\nSubject: huge\r\n");
    c.expect("552 5.3.4");
    drop(c);
    assert!(inbox(&data.0, "alice@home.arpa").is_empty());
}

/// Failed logins slow the failing client down, then lock it out; another
/// client is answered at once meanwhile. Loopback is made untrusted: the
/// world's allowance (the trusted one is larger, tests/lockout.rs).
#[test]
fn auth_failure_limiter() {
    let (_data, server) = setup("limiter", &["--trusted-network", "none"]);
    let bad_stream = TcpStream::connect(("127.0.0.1", server.port("submission"))).unwrap();
    let mut bad = Client::plain(bad_stream.try_clone().unwrap());
    ehlo(&mut bad);
    let mut other = server.connect("smtp");
    ehlo(&mut other);
    let wrong = format!("AUTH PLAIN {}", b64(b"\0alice@home.arpa\0nope"));
    // Per failed login: how long its reply took, and whether the other
    // client's NOOP, sent meanwhile, was answered before it.
    let mut rounds: Vec<(Duration, bool)> = Vec::new();
    let mut locked = false;
    for _ in 0..12 {
        let started = Instant::now();
        bad.send(format!("{wrong}\r\n").as_bytes());
        other.cmd("NOOP", "250");
        let other_first = !reply_waiting(&bad_stream);
        let reply = bad.reply();
        if reply.starts_with("454 4.7.0") {
            locked = true;
            break;
        }
        assert!(reply.starts_with("535"), "{reply}");
        rounds.push((started.elapsed(), other_first));
    }
    assert!(locked, "never locked out after {} failures", rounds.len());
    let delays: Vec<Duration> = rounds.iter().map(|r| r.0).collect();
    // 250 ms doubling to 8 s: the longest wait is many times the first,
    // however loaded the machine (which only lengthens the short ones).
    let longest = *delays.iter().max().unwrap();
    assert!(longest > delays[0] * 2, "no growing delay: {delays:?}");
    // While the bad client waits out a long delay (4 s and more), the
    // other is served: its NOOP is answered before the bad client's reply.
    // (A server that blocked on the delay would answer it after.)
    let long: Vec<&(Duration, bool)> = rounds
        .iter()
        .filter(|r| r.0 >= Duration::from_secs(4))
        .collect();
    assert!(!long.is_empty(), "no delay of 4 s or more: {delays:?}");
    assert!(
        long.iter().all(|r| r.1),
        "another client waited for the failing one's delay: {rounds:?}"
    );
    // Even the right password is refused while locked out.
    bad.cmd(
        &format!("AUTH PLAIN {}", b64(b"\0alice@home.arpa\0alice-pw")),
        "454",
    );
}

/// Whether bytes from the server are waiting on `stream` (without
/// reading them).
fn reply_waiting(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let waiting = matches!(stream.peek(&mut [0u8; 1]), Ok(n) if n > 0);
    stream.set_nonblocking(false).unwrap();
    waiting
}

/// A full store gives 452 4.3.1 and nothing half-written.
#[test]
fn storage_full_is_temporary() {
    let data = TempDir::new("full");
    add_user(&data.0, "alice@home.arpa", "pw");
    let server = Server::start(&data.0, &["--map-size", "1M"]);
    let mut c = server.connect("smtp");
    ehlo(&mut c);
    let body = format!("Subject: filler\r\n\r\n{}\r\n", "y".repeat(200_000));
    let mut accepted = 0;
    let reply = loop {
        c.cmd("MAIL FROM:<x@example.org>", "250");
        c.cmd("RCPT TO:<alice@home.arpa>", "250");
        c.cmd("DATA", "354");
        c.send(body.as_bytes());
        c.send(b".\r\n");
        let reply = c.reply();
        if !reply.starts_with("250") {
            break reply;
        }
        accepted += 1;
        assert!(accepted < 20, "a 1 MiB store took 4 MB");
    };
    assert!(reply.starts_with("452 4.3.1"), "{reply}");
    c.cmd("NOOP", "250");
    c.cmd("QUIT", "221");
    drop(server);
    let mail = inbox(&data.0, "alice@home.arpa");
    assert_eq!(
        mail.len(),
        accepted,
        "an accepted message is missing or a refused one was kept"
    );
    assert!(mail.iter().all(|m| m.ends_with(body.as_bytes())));
}

/// Null sender (bounces) and <Postmaster> are accepted as RFC 5321 requires.
#[test]
fn null_sender_and_postmaster() {
    let (data, server) = setup("postmaster", &[]);
    let mut c = server.connect("smtp");
    ehlo(&mut c);
    c.cmd("MAIL FROM:<>", "250");
    c.cmd("RCPT TO:<Postmaster>", "250");
    c.cmd("DATA", "354");
    c.send(b"Subject: bounce\r\n\r\nx\r\n.\r\n");
    c.expect("250");
    c.cmd("QUIT", "221");
    let mail = inbox(&data.0, "alice@home.arpa");
    assert_eq!(mail.len(), 1);
    assert!(mail[0].starts_with(b"Return-Path: <>\r\n"));
}

/// A client that drops the connection mid-DATA leaves nothing behind.
#[test]
fn dropped_connection_stores_nothing() {
    let (data, server) = setup("drop", &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port("smtp"))).unwrap();
    stream.write_all(b"EHLO x\r\nMAIL FROM:<x@example.org>\r\nRCPT TO:<alice@home.arpa>\r\nDATA\r\nSubject: half\r\n\r\npart").unwrap();
    // Once DATA is answered the server is reading the message: drop then.
    let mut c = Client::plain(stream.try_clone().unwrap());
    for code in ["220", "250", "250", "250", "354"] {
        c.expect(code);
    }
    drop((c, stream));
    server.wait_for_log("connection lost during DATA");
    assert!(inbox(&data.0, "alice@home.arpa").is_empty());
}
