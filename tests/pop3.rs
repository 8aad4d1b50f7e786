//! POP3 against a real `smolmail serve`: scripted conversations over plain
//! TCP, STLS and implicit TLS for every rule of the POP3 issue — the
//! commands, byte-stuffing and exact octet counts, the login snapshot,
//! IN-USE, UPDATE in one commit, stable UIDLs, TLS-only logins off
//! loopback, plaintext injection after STLS, bounded bad commands.
//!
//! The test process opens the server's store too (LMDB allows a second
//! process) to deliver mail and to expunge behind a session's back, as SMTP
//! and IMAP do in the server.
//!
//! The `#[ignore]`d `real_clients` drives real clients (python poplib,
//! curl, fetchmail, getmail6) and `login_needs_tls_off_loopback` needs a
//! network namespace; scripts/test.sh runs each, checking that it ran.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use common::{Client, Server, TempDir, b64};
use smolmail::store::{self, Delivery, Flags, Store};

const USER: &str = "alice@home.arpa";
const PASSWORD: &str = "secret";

/// The test process's handle on the server's store: alice's INBOX.
struct Mail {
    store: Store,
    inbox: u64,
}

impl Mail {
    /// Opens the store in `data` and creates alice (before the server
    /// starts, or while it runs).
    fn create(data: &Path) -> Mail {
        let store = Store::open(data, &store::Options::default()).unwrap();
        // A {PLAIN} hash keeps the tests fast; the argon2 path is the
        // same login code and is covered by the auth tests.
        smol::block_on(store.add_account(USER, &format!("{{PLAIN}}{PASSWORD}"))).unwrap();
        let inbox = {
            let r = store.read().unwrap();
            let account = r.account(USER).unwrap().unwrap();
            r.mailbox(account.id, "INBOX").unwrap().unwrap().id
        };
        Mail { store, inbox }
    }

    fn deliver(&self, message: &[u8]) -> u32 {
        let delivered = smol::block_on(self.store.deliver(Delivery {
            message: message.to_vec(),
            internal_date: 1_700_000_000,
            flags: Flags::default(),
            keywords: vec![],
            mailboxes: vec![self.inbox],
            outbound: None,
        }))
        .unwrap();
        delivered.placed[0].1
    }

    fn uids(&self) -> Vec<u32> {
        let r = self.store.read().unwrap();
        r.messages(self.inbox)
            .unwrap()
            .map(|m| m.unwrap().uid)
            .collect()
    }

    /// What an IMAP EXPUNGE does.
    fn expunge(&self, uids: Vec<u32>) {
        smol::block_on(self.store.expunge(self.inbox, uids)).unwrap();
    }
}

impl Drop for Mail {
    fn drop(&mut self) {
        self.store.shutdown();
    }
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Bob <bob@example.org>\r\nTo: {USER}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.org>\r\n\r\n{body}"
    )
    .into_bytes()
}

/// A message with lines that need byte-stuffing, one at the very start of
/// the body and one that is a lone dot.
fn dotted() -> Vec<u8> {
    message(
        "dots",
        ".starts with a dot\r\nmiddle\r\n.\r\n..two\r\nlast line\r\n",
    )
}

/// A message larger than the server's output buffer, with dot lines spread
/// through it, so both the buffered and the direct write paths run.
fn large(kib: usize) -> Vec<u8> {
    let mut body = String::new();
    let mut i = 0;
    while body.len() < kib * 1024 {
        if i % 97 == 0 {
            body.push_str(".dot line\r\n");
        }
        body.push_str(&format!(
            "line {i:06} of the large message, some text to fill it up\r\n"
        ));
        i += 1;
    }
    message("large", &body)
}

// --- a POP3 client on top of the shared line client ------------------------

fn cmd(c: &mut Client, line: &str) -> String {
    c.send(format!("{line}\r\n").as_bytes());
    c.line()
}

fn ok(c: &mut Client, line: &str) -> String {
    let reply = cmd(c, line);
    assert!(reply.starts_with("+OK"), "{line:?} -> {reply:?}");
    reply
}

fn err(c: &mut Client, line: &str, code: &str) -> String {
    let reply = cmd(c, line);
    assert!(
        reply.starts_with(&format!("-ERR {code}")),
        "{line:?} -> {reply:?}, expected -ERR {code}"
    );
    reply
}

/// The lines of a multi-line response up to the terminating `.` line.
fn lines(c: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let line = c.line();
        assert!(line.ends_with("\r\n"), "line without CRLF: {line:?}");
        if line == ".\r\n" {
            return out;
        }
        out.push(line);
    }
}

/// A multi-line body with the byte-stuffing undone (RFC 1939 §3).
fn body(c: &mut Client) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines(c) {
        out.extend_from_slice(line.strip_prefix('.').unwrap_or(&line).as_bytes());
    }
    out
}

fn greeting(c: &mut Client) {
    let line = c.line();
    assert!(line.starts_with("+OK"), "{line:?}");
}

fn login(c: &mut Client) -> String {
    ok(c, &format!("USER {USER}"));
    ok(c, &format!("PASS {PASSWORD}"))
}

fn capa(c: &mut Client) -> Vec<String> {
    ok(c, "CAPA");
    lines(c)
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn uidl(c: &mut Client) -> Vec<String> {
    ok(c, "UIDL");
    lines(c)
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn setup(name: &str) -> (TempDir, Mail, Server) {
    let data = TempDir::new(&format!("pop3-{name}"));
    let mail = Mail::create(&data.0);
    let server = Server::start(&data.0, &[]);
    (data, mail, server)
}

#[test]
fn transaction_commands_and_update() {
    let (_data, mail, server) = setup("transaction");
    let m1 = dotted();
    let m2 = message("two", "l1\r\nl2\r\nl3\r\n");
    let m3 = large(200);
    for m in [&m1, &m2, &m3] {
        mail.deliver(m);
    }
    let mut c = server.connect("pop3");
    greeting(&mut c);
    let caps = capa(&mut c);
    for cap in [
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN LOGIN",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "STLS",
    ] {
        assert!(caps.iter().any(|c| c == cap), "{cap} missing: {caps:?}");
    }
    assert!(caps.iter().any(|c| c.starts_with("IMPLEMENTATION ")));
    // Nothing but login before login.
    err(&mut c, "STAT", "");
    err(&mut c, "PASS x", "");
    let total = m1.len() + m2.len() + m3.len();
    let reply = login(&mut c);
    assert!(
        reply.contains(&format!("3 messages ({total} octets)")),
        "{reply}"
    );
    assert_eq!(ok(&mut c, "STAT"), format!("+OK 3 {total}\r\n"));
    ok(&mut c, "LIST");
    assert_eq!(
        lines(&mut c),
        [
            format!("1 {}\r\n", m1.len()),
            format!("2 {}\r\n", m2.len()),
            format!("3 {}\r\n", m3.len())
        ]
    );
    assert_eq!(ok(&mut c, "LIST 2"), format!("+OK 2 {}\r\n", m2.len()));
    err(&mut c, "LIST 4", "");
    err(&mut c, "LIST 0", "");
    err(&mut c, "RETR x", "");
    let ids = uidl(&mut c);
    assert_eq!(ids.len(), 3);
    for (i, line) in ids.iter().enumerate() {
        let (n, id) = line.split_once(' ').unwrap();
        assert_eq!(n, (i + 1).to_string());
        assert!(
            (1..=70).contains(&id.len()) && id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "{id:?}"
        );
    }
    assert_eq!(ok(&mut c, "UIDL 3"), format!("+OK {}\r\n", ids[2]));

    // RETR: exact octet count, byte-stuffing on the wire, exact bytes back.
    assert_eq!(ok(&mut c, "RETR 1"), format!("+OK {} octets\r\n", m1.len()));
    let raw = lines(&mut c);
    assert!(
        raw.contains(&"..starts with a dot\r\n".to_string()),
        "{raw:?}"
    );
    assert!(raw.contains(&"..\r\n".to_string()));
    assert!(raw.contains(&"...two\r\n".to_string()));
    let unstuffed: String = raw
        .iter()
        .map(|l| l.strip_prefix('.').unwrap_or(l))
        .collect();
    assert_eq!(unstuffed.as_bytes(), &m1[..]);
    ok(&mut c, "RETR 3");
    assert_eq!(body(&mut c), m3);
    // TOP: the header, the empty line, n body lines.
    let header_len = m2.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    ok(&mut c, "TOP 2 0");
    assert_eq!(body(&mut c), &m2[..header_len]);
    ok(&mut c, "TOP 2 2");
    assert_eq!(body(&mut c), &m2[..header_len + 8]);
    ok(&mut c, "TOP 2 100");
    assert_eq!(body(&mut c), m2);

    // DELE marks; the marked message is out of reach until RSET.
    ok(&mut c, "DELE 1");
    err(&mut c, "DELE 1", "");
    err(&mut c, "RETR 1", "");
    err(&mut c, "LIST 1", "");
    assert_eq!(
        ok(&mut c, "STAT"),
        format!("+OK 2 {}\r\n", m2.len() + m3.len())
    );
    ok(&mut c, "LIST");
    assert_eq!(lines(&mut c).len(), 2);
    ok(&mut c, "RSET");
    assert_eq!(ok(&mut c, "STAT"), format!("+OK 3 {total}\r\n"));
    ok(&mut c, "NOOP");
    ok(&mut c, "DELE 1");
    ok(&mut c, "DELE 3");
    // Transaction-state commands do not go back to authorization.
    err(&mut c, &format!("USER {USER}"), "");
    assert_eq!(
        ok(&mut c, "QUIT"),
        "+OK Logging out; messages deleted: 2\r\n"
    );
    assert!(c.closed());
    // UPDATE removed both in one commit; message 2 stays.
    assert_eq!(mail.uids(), [2]);
    assert_eq!(imap_exists(&server), 1);
    server.wait_for_log("quit user=alice@home.arpa, retr=2, dele=2");

    // A new session numbers what is left; its UIDL is unchanged.
    let mut c = server.connect("pop3");
    greeting(&mut c);
    login(&mut c);
    assert_eq!(ok(&mut c, "STAT"), format!("+OK 1 {}\r\n", m2.len()));
    assert_eq!(
        uidl(&mut c),
        [format!("1 {}", ids[1].split_once(' ').unwrap().1)]
    );
    // Deletions without QUIT are not applied (RFC 1939 §6).
    ok(&mut c, "DELE 1");
    drop(c);
    server.wait_for_log("closed without QUIT");
    let mut c = server.connect("pop3");
    greeting(&mut c);
    login(&mut c);
    assert_eq!(ok(&mut c, "STAT"), format!("+OK 1 {}\r\n", m2.len()));
    ok(&mut c, "QUIT");
    assert_eq!(mail.uids(), [2]);
}

#[test]
fn snapshot_in_use_and_expunge_meanwhile() {
    let (_data, mail, server) = setup("snapshot");
    let first = mail.deliver(&message("one", "1\r\n"));
    mail.deliver(&message("two", "2\r\n"));
    let mut a = server.connect("pop3");
    greeting(&mut a);
    login(&mut a);
    // A second POP3 session on the same mailbox is refused, and may retry.
    let mut b = server.connect_tls("pop3s");
    greeting(&mut b);
    ok(&mut b, &format!("USER {USER}"));
    err(&mut b, &format!("PASS {PASSWORD}"), "[IN-USE]");

    // Mail delivered after login does not show in this session.
    let late = message("late", "3\r\n");
    mail.deliver(&late);
    assert!(ok(&mut a, "STAT").starts_with("+OK 2 "));
    // IMAP expunges message 1 meanwhile: numbering does not shift.
    mail.expunge(vec![first]);
    ok(&mut a, "LIST");
    assert_eq!(lines(&mut a).len(), 2);
    err(&mut a, "RETR 1", "");
    ok(&mut a, "RETR 2");
    assert_eq!(body(&mut a), message("two", "2\r\n"));
    ok(&mut a, "DELE 1");
    ok(&mut a, "DELE 2");
    // UPDATE skips the message that is already gone.
    assert_eq!(
        ok(&mut a, "QUIT"),
        "+OK Logging out; messages deleted: 1\r\n"
    );

    // The lock went with the session.
    ok(&mut b, &format!("USER {USER}"));
    ok(&mut b, &format!("PASS {PASSWORD}"));
    assert_eq!(ok(&mut b, "STAT"), format!("+OK 1 {}\r\n", late.len()));
    ok(&mut b, "RETR 1");
    assert_eq!(body(&mut b), late);
    ok(&mut b, "QUIT");
}

#[test]
fn uidl_stable_across_restart() {
    let data = TempDir::new("pop3-restart");
    let mail = Mail::create(&data.0);
    for i in 0..3 {
        mail.deliver(&message(&format!("m{i}"), "x\r\n"));
    }
    let before = {
        let server = Server::start(&data.0, &[]);
        let mut c = server.connect("pop3");
        greeting(&mut c);
        login(&mut c);
        let ids = uidl(&mut c);
        ok(&mut c, "QUIT");
        ids
    };
    let server = Server::start(&data.0, &[]);
    let mut c = server.connect_tls("pop3s");
    greeting(&mut c);
    login(&mut c);
    assert_eq!(uidl(&mut c), before);
    ok(&mut c, "QUIT");
}

#[test]
fn pop3s_and_sasl() {
    let (_data, mail, server) = setup("sasl");
    let m = dotted();
    mail.deliver(&m);
    let mut c = server.connect_tls("pop3s");
    greeting(&mut c);
    let caps = capa(&mut c);
    assert!(!caps.iter().any(|c| c == "STLS"), "{caps:?}");
    assert!(caps.iter().any(|c| c == "USER"));
    // The mechanism list (the RFC 1734 form).
    ok(&mut c, "AUTH");
    assert_eq!(lines(&mut c), ["PLAIN\r\n", "LOGIN\r\n"]);
    err(&mut c, "AUTH CRAM-MD5", "");
    // A wrong password: [AUTH] (RFC 3206), counted by the shared limiter.
    let wrong = b64(format!("\0{USER}\0nope").as_bytes());
    err(&mut c, &format!("AUTH PLAIN {wrong}"), "[AUTH]");
    // Cancelled and malformed exchanges.
    assert_eq!(cmd(&mut c, "AUTH PLAIN"), "+ \r\n");
    err(&mut c, "*", "");
    assert_eq!(cmd(&mut c, "AUTH PLAIN"), "+ \r\n");
    err(&mut c, "not base64!", "");
    // PLAIN with a continuation.
    assert_eq!(cmd(&mut c, "AUTH PLAIN"), "+ \r\n");
    ok(&mut c, &b64(format!("\0{USER}\0{PASSWORD}").as_bytes()));
    assert_eq!(ok(&mut c, "RETR 1"), format!("+OK {} octets\r\n", m.len()));
    assert_eq!(body(&mut c), m);
    err(&mut c, "AUTH PLAIN", "");
    ok(&mut c, "QUIT");

    // PLAIN with an initial response (RFC 5034 §4).
    let mut c = server.connect_tls("pop3s");
    greeting(&mut c);
    let good = b64(format!("{USER}\0{USER}\0{PASSWORD}").as_bytes());
    ok(&mut c, &format!("AUTH PLAIN {good}"));
    ok(&mut c, "QUIT");

    // LOGIN, prompted.
    let mut c = server.connect_tls("pop3s");
    greeting(&mut c);
    assert_eq!(cmd(&mut c, "AUTH LOGIN"), "+ VXNlcm5hbWU6\r\n");
    assert_eq!(cmd(&mut c, &b64(USER.as_bytes())), "+ UGFzc3dvcmQ6\r\n");
    ok(&mut c, &b64(PASSWORD.as_bytes()));
    ok(&mut c, "QUIT");
    server.wait_for_log("login failed for \"alice@home.arpa\"");
}

#[test]
fn stls_discards_pipelined_plaintext() {
    let (_data, mail, server) = setup("stls");
    mail.deliver(&message("one", "1\r\n"));
    let tcp = TcpStream::connect(("127.0.0.1", server.port("pop3"))).unwrap();
    let mut c = Client::plain(tcp.try_clone().unwrap());
    greeting(&mut c);
    // Everything behind STLS in the same packet must be thrown away.
    c.send(format!("STLS\r\nUSER {USER}\r\nPASS {PASSWORD}\r\nDELE 1\r\nQUIT\r\n").as_bytes());
    let reply = c.line();
    assert!(reply.starts_with("+OK"), "{reply:?}");
    let mut c = c.start_tls(tcp);
    // The first reply over TLS answers CAPA: nothing injected ran.
    let caps = capa(&mut c);
    assert!(!caps.iter().any(|c| c == "STLS"), "{caps:?}");
    err(&mut c, "STLS", "");
    err(&mut c, "STAT", "");
    login(&mut c);
    assert!(ok(&mut c, "STAT").starts_with("+OK 1 "));
    ok(&mut c, "QUIT");
    server.wait_for_log("plaintext bytes sent after STLS");
    assert_eq!(mail.uids().len(), 1);
}

/// Login before TLS is refused for clients that are not on this host. The
/// test runs the server on 192.0.2.1 inside a network namespace that
/// scripts/test.sh creates (SMOLMAIL_TEST_NONLOOPBACK).
/// A connection that has not logged in a minute after it opened is
/// closed, however busy it keeps itself: not an idle timer.
#[test]
fn login_deadline_is_not_reset_by_commands() {
    let (_d, _mail, server) = setup("login-deadline");
    let mut c = server.connect("pop3");
    greeting(&mut c);
    let opened = std::time::Instant::now();
    // Busy for 45 s (a CAPA every 5 s), then quiet until the -ERR.
    while opened.elapsed().as_secs() < 45 {
        capa(&mut c);
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    let end = c.line();
    assert!(end.starts_with("-ERR Login time is over"), "{end:?}");
    // Not before the minute was up (it may be later on a busy machine).
    assert!(opened.elapsed().as_secs() >= 59, "{:?}", opened.elapsed());
    assert!(c.closed());
    server.wait_for_log("did not log in within 60 s");
}

#[test]
#[ignore = "needs a network namespace: scripts/test.sh runs it with SMOLMAIL_TEST_NONLOOPBACK"]
fn login_needs_tls_off_loopback() {
    let ip = common::nonloopback_ip();
    let data = TempDir::new("pop3-lan");
    let mail = Mail::create(&data.0);
    mail.deliver(&message("one", "1\r\n"));
    let server = Server::start_on(&ip, &data.0, &[]);
    let tcp = TcpStream::connect((ip.as_str(), server.port("pop3"))).unwrap();
    let mut c = Client::plain(tcp.try_clone().unwrap());
    greeting(&mut c);
    // No login is offered in plaintext, only STLS (RFC 2595 §4).
    let caps = capa(&mut c);
    assert!(caps.iter().any(|c| c == "STLS"), "{caps:?}");
    assert!(
        !caps.iter().any(|c| c == "USER" || c.starts_with("SASL")),
        "{caps:?}"
    );
    err(&mut c, &format!("USER {USER}"), "[AUTH]");
    err(&mut c, &format!("PASS {PASSWORD}"), "[AUTH]");
    let plain = b64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    err(&mut c, &format!("AUTH PLAIN {plain}"), "[AUTH]");
    ok(&mut c, "STLS");
    let mut c = c.start_tls(tcp);
    assert!(capa(&mut c).iter().any(|c| c == "USER"));
    login(&mut c);
    ok(&mut c, "QUIT");
    // Implicit TLS from the LAN logs in directly.
    let mut c = server.connect_tls("pop3s");
    greeting(&mut c);
    login(&mut c);
    ok(&mut c, "QUIT");
}

#[test]
fn bad_commands_are_answered_then_bounded() {
    let (_data, _mail, server) = setup("bad");
    let mut c = server.connect("pop3");
    greeting(&mut c);
    let mut bad = 0;
    for line in ["HELO", "RETR", "LIST x y", "\u{1}\u{2}", "", "TOP 1"] {
        err(&mut c, line, "");
        bad += 1;
    }
    // A line past the bound is answered and skipped, not fatal.
    let long = "X".repeat(5000);
    err(&mut c, &long, "");
    bad += 1;
    // The session goes on between bad commands.
    capa(&mut c);
    login(&mut c);
    ok(&mut c, "NOOP");
    while bad < 19 {
        err(&mut c, "BOGUS", "");
        bad += 1;
    }
    // The 20th closes the connection.
    let last = cmd(&mut c, "BOGUS");
    assert!(last.starts_with("-ERR Too many"), "{last:?}");
    assert!(c.closed());
    server.wait_for_log("20 bad commands; closing");
}

// --- real clients (scripts/test.sh runs these with --ignored) --------------

fn run(what: &str, cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// What IMAP sees: the EXISTS count of SELECT INBOX (RFC 3501 §7.3.1).
fn imap_exists(server: &Server) -> usize {
    let mut c = server.connect_tls("imaps");
    assert!(c.line().starts_with("* OK"));
    let tagged = |c: &mut Client, tag: &str, command: String| {
        c.send(format!("{tag} {command}\r\n").as_bytes());
        let mut exists = None;
        loop {
            let line = c.line();
            assert!(!line.is_empty(), "IMAP connection closed");
            if let Some(n) = line
                .strip_prefix("* ")
                .and_then(|l| l.strip_suffix(" EXISTS\r\n"))
            {
                exists = n.parse().ok();
            }
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "IMAP {command}: {line}");
                return exists;
            }
        }
    };
    tagged(&mut c, "a", format!("LOGIN {USER} {PASSWORD}"));
    let exists = tagged(&mut c, "b", "SELECT INBOX".into()).expect("EXISTS");
    tagged(&mut c, "c", "LOGOUT".into());
    exists
}

/// A second POP3 session's view of the INBOX: (count, octets).
fn stat(server: &Server) -> String {
    let mut c = server.connect("pop3");
    greeting(&mut c);
    login(&mut c);
    let stat = ok(&mut c, "STAT");
    ok(&mut c, "QUIT");
    stat.trim_end().trim_start_matches("+OK ").to_string()
}

fn real_messages() -> Vec<Vec<u8>> {
    vec![message("real-1", "hello\r\n"), dotted(), large(100)]
}

fn stat_of(messages: &[Vec<u8>]) -> String {
    let octets: usize = messages.iter().map(Vec::len).sum();
    format!("{} {octets}", messages.len())
}

const POPLIB: &str = r#"
import base64, poplib, ssl, sys
pop3, pop3s, user, password, expected_dir, count = sys.argv[1:7]
expected = [open(f"{expected_dir}/m{i}.eml", "rb").read() for i in range(int(count))]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE

def check(p):
    assert p.stat() == (len(expected), sum(map(len, expected))), p.stat()
    resp, listing, _ = p.list()
    assert listing == [f"{i + 1} {len(m)}".encode() for i, m in enumerate(expected)], listing
    resp, ids, _ = p.uidl()
    assert len(set(ids)) == len(expected), ids
    for i, m in enumerate(expected):
        resp, lines, octets = p.retr(i + 1)
        assert resp == f"+OK {len(m)} octets".encode(), resp
        assert b"\r\n".join(lines) + b"\r\n" == m, (i, lines[:5])
    resp, lines, _ = p.top(1, 0)
    assert b"\r\n".join(lines) + b"\r\n" == expected[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"

# 110: STLS, then USER/PASS.
p = poplib.POP3("127.0.0.1", int(pop3))
assert "STLS" in p.capa()
p.stls(context)
caps = p.capa()
assert "STLS" not in caps and "USER" in caps and "PLAIN" in caps["SASL"], caps
p.user(user)
p.pass_(password)
check(p)
p.quit()

# 995: implicit TLS, AUTH PLAIN with an initial response.
p = poplib.POP3_SSL("127.0.0.1", int(pop3s), context=context)
token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
assert p._shortcmd("AUTH PLAIN " + token).startswith(b"+OK")
check(p)
p.quit()
print("poplib ok")
"#;

#[test]
#[ignore = "needs python3, curl, fetchmail and getmail6 (scripts/setup.sh); run by scripts/test.sh"]
fn real_clients() {
    for (tool, package) in [
        ("python3", "python3"),
        ("curl", "curl"),
        ("fetchmail", "fetchmail"),
        ("getmail", "getmail6"),
    ] {
        common::require_tool(tool, package);
    }
    let (data, mail, server) = setup("clients");
    let dir = data.0.join("clients");
    std::fs::create_dir_all(&dir).unwrap();
    let messages = real_messages();
    for (i, m) in messages.iter().enumerate() {
        mail.deliver(m);
        std::fs::write(dir.join(format!("m{i}.eml")), m).unwrap();
    }
    let (pop3, pop3s) = (
        server.port("pop3").to_string(),
        server.port("pop3s").to_string(),
    );
    let all = stat_of(&messages);

    // python poplib: STLS + USER/PASS on 110, AUTH PLAIN on 995.
    let out = run(
        "python poplib",
        Command::new("python3").args([
            "-c",
            POPLIB,
            &pop3,
            &pop3s,
            USER,
            PASSWORD,
            dir.to_str().unwrap(),
            &messages.len().to_string(),
        ]),
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "poplib ok");
    assert_eq!(stat(&server), all);

    // curl: pop3 with STLS required, and pop3s; RETR, LIST and UIDL.
    let userpass = format!("{USER}:{PASSWORD}");
    let curl = |url: String, extra: &[&str]| {
        run(
            &format!("curl {url}"),
            Command::new("curl")
                .args(["-sS", "-k", "--max-time", "60", "-u", &userpass])
                .args(extra)
                .arg(url),
        )
    };
    for (i, m) in messages.iter().enumerate() {
        let got = curl(
            format!("pop3://127.0.0.1:{pop3}/{}", i + 1),
            &["--ssl-reqd"],
        );
        assert_eq!(got, *m, "curl pop3 RETR {}", i + 1);
        let got = curl(
            format!("pop3s://127.0.0.1:{pop3s}/{}", i + 1),
            &["--sasl-ir"],
        );
        assert_eq!(got, *m, "curl pop3s RETR {}", i + 1);
    }
    let list = curl(format!("pop3s://127.0.0.1:{pop3s}/"), &[]);
    let expected: String = messages
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}\r\n", i + 1, m.len()))
        .collect();
    assert_eq!(String::from_utf8_lossy(&list), expected);
    let ids = curl(format!("pop3s://127.0.0.1:{pop3s}/"), &["-X", "UIDL"]);
    assert_eq!(
        String::from_utf8_lossy(&ids).lines().count(),
        messages.len()
    );
    assert_eq!(stat(&server), all);

    // fetchmail: keep over 110 (STLS), then delete over 995.
    let fetchmail = |name: &str, port: &str, options: &str| {
        let home = dir.join(name);
        std::fs::create_dir_all(&home).unwrap();
        let out = home.join("delivered");
        let rc = home.join("fetchmailrc");
        std::fs::write(
            &rc,
            format!(
                "set no syslog\n\
                 poll 127.0.0.1 service {port} proto pop3 auth password\n  \
                 user \"{USER}\" there with password \"{PASSWORD}\" is \"{}\" here\n  \
                 {options} no sslcertck fetchall\n  \
                 mda \"/bin/sh -c 'cat >> {}'\"\n",
                std::env::var("USER").unwrap_or_else(|_| "root".into()),
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
        run(
            &format!("fetchmail {name}"),
            Command::new("fetchmail").env("FETCHMAILHOME", &home).args([
                "-f",
                rc.to_str().unwrap(),
                "-v",
            ]),
        );
        std::fs::read(out).unwrap()
    };
    let kept = fetchmail("fetchmail-keep", &pop3, "sslproto tls1.2+ keep");
    assert_delivered("fetchmail keep", &kept, &messages);
    assert_eq!(stat(&server), all, "fetchmail keep mode deleted mail");
    assert_eq!(imap_exists(&server), messages.len());
    let fetched = fetchmail("fetchmail-delete", &pop3s, "ssl nokeep");
    assert_delivered("fetchmail delete", &fetched, &messages);
    assert_eq!(stat(&server), "0 0", "fetchmail delete mode left mail");
    assert_eq!(imap_exists(&server), 0, "IMAP still sees what POP3 deleted");
    assert!(mail.uids().is_empty());

    // getmail6: keep over 995, then delete over 110 (loopback, plaintext).
    for m in &messages {
        mail.deliver(m);
    }
    let getmail = |name: &str, retriever: &str, port: &str, delete: bool| {
        let home = dir.join(name);
        std::fs::create_dir_all(&home).unwrap();
        let out = home.join("delivered");
        let rc = home.join("getmailrc");
        std::fs::write(
            &rc,
            format!(
                "[retriever]\ntype = {retriever}\nserver = 127.0.0.1\nport = {port}\n\
                 username = {USER}\npassword = {PASSWORD}\n\n\
                 [destination]\ntype = MDA_external\npath = /bin/sh\n\
                 arguments = (\"-c\", \"cat >> {}\")\nallow_root_commands = true\n\n\
                 [options]\nread_all = true\ndelete = {delete}\nverbose = 0\n",
                out.display()
            ),
        )
        .unwrap();
        run(
            &format!("getmail {name}"),
            Command::new("getmail").args([
                &format!("--rcfile={}", rc.display()),
                &format!("--getmaildir={}", home.display()),
            ]),
        );
        std::fs::read(out).unwrap()
    };
    let kept = getmail("getmail-keep", "SimplePOP3SSLRetriever", &pop3s, false);
    assert_delivered("getmail keep", &kept, &messages);
    assert_eq!(stat(&server), all, "getmail keep mode deleted mail");
    assert_eq!(imap_exists(&server), messages.len());
    let fetched = getmail("getmail-delete", "SimplePOP3Retriever", &pop3, true);
    assert_delivered("getmail delete", &fetched, &messages);
    assert_eq!(stat(&server), "0 0", "getmail delete mode left mail");
    assert_eq!(imap_exists(&server), 0, "IMAP still sees what POP3 deleted");
    assert!(mail.uids().is_empty());
}

/// Each message's body arrived intact in what a client delivered (clients
/// add their own trace headers, so only bodies are compared).
fn assert_delivered(what: &str, delivered: &[u8], messages: &[Vec<u8>]) {
    let delivered = String::from_utf8_lossy(delivered).replace("\r\n", "\n");
    for m in messages {
        let m = String::from_utf8_lossy(m).replace("\r\n", "\n");
        let (header, body) = m.split_once("\n\n").unwrap();
        let subject = header.lines().find(|l| l.starts_with("Subject:")).unwrap();
        assert_eq!(
            delivered.matches(subject).count(),
            1,
            "{what}: {subject} not delivered exactly once"
        );
        assert!(
            delivered.contains(body),
            "{what}: body of {subject} differs"
        );
    }
}
