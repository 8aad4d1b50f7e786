//! The failed-login limiter and the SASL login checks as clients meet
//! them over SMTP AUTH (submission), IMAP and POP3 (issue 14, points 2
//! and 6): a lockout is per (address, user name), so a client failing as
//! one user never locks another user at that address out; the trusted
//! networks get a larger allowance; a PLAIN authorization identity naming
//! another user is an authentication failure, not a syntax error.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Server, TempDir, add_user, b64};

const ALICE: (&str, &str) = ("alice@home.arpa", "alice-pw");
const BOB: (&str, &str) = ("bob@home.arpa", "bob-pw");

fn setup(name: &str, extra: &[&str]) -> (TempDir, Server) {
    let data = TempDir::new(name);
    add_user(&data.0, ALICE.0, ALICE.1);
    add_user(&data.0, BOB.0, BOB.1);
    let server = Server::start(&data.0, extra);
    (data, server)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Smtp,
    Imap,
    Pop3,
}

const PROTOS: [Proto; 3] = [Proto::Smtp, Proto::Imap, Proto::Pop3];

/// One AUTH PLAIN with this raw `authzid NUL authcid NUL passwd` on a new
/// connection (loopback: no TLS needed); the server's answer line.
fn auth_plain(server: &Server, proto: Proto, response: &[u8]) -> String {
    let token = b64(response);
    match proto {
        Proto::Smtp => {
            let mut c = server.connect("submission");
            c.expect("220");
            c.cmd("EHLO client.example", "250");
            c.send(format!("AUTH PLAIN {token}\r\n").as_bytes());
            c.reply()
        }
        Proto::Imap => {
            let mut c = server.connect("imap");
            assert!(c.line().starts_with("* OK"));
            c.send(format!("a AUTHENTICATE PLAIN {token}\r\n").as_bytes());
            tagged(&mut c, "a ")
        }
        Proto::Pop3 => {
            let mut c = server.connect("pop3");
            assert!(c.line().starts_with("+OK"));
            c.send(format!("AUTH PLAIN {token}\r\n").as_bytes());
            c.line()
        }
    }
}

/// Reads IMAP lines up to the one tagged `tag`.
fn tagged(c: &mut Client, tag: &str) -> String {
    loop {
        let line = c.line();
        assert!(!line.is_empty(), "connection closed before {tag}");
        if line.starts_with(tag) {
            return line;
        }
    }
}

fn login(server: &Server, proto: Proto, (user, password): (&str, &str)) -> String {
    auth_plain(server, proto, format!("\0{user}\0{password}").as_bytes())
}

/// The answer means a login, an authentication failure, or the temporary
/// lockout error, in each protocol's own words.
fn succeeded(proto: Proto, answer: &str) -> bool {
    match proto {
        Proto::Smtp => answer.starts_with("235 2.7.0"),
        Proto::Imap => answer.starts_with("a OK"),
        Proto::Pop3 => answer.starts_with("+OK"),
    }
}

fn failed(proto: Proto, answer: &str) -> bool {
    match proto {
        Proto::Smtp => answer.starts_with("535 5.7.8"),
        Proto::Imap => answer.starts_with("a NO [AUTHENTICATIONFAILED]"),
        Proto::Pop3 => answer.starts_with("-ERR [AUTH]"),
    }
}

fn locked(proto: Proto, answer: &str) -> bool {
    match proto {
        Proto::Smtp => answer.starts_with("454 4.7.0"),
        Proto::Imap => answer.starts_with("a NO [UNAVAILABLE]"),
        Proto::Pop3 => answer.starts_with("-ERR [SYS/TEMP]"),
    }
}

/// `n` wrong-password logins as alice at once, spread over the three
/// protocols (at most 9 together: what the verifier line holds for one
/// address); every one must be answered as a failure, none as locked.
fn fail_alice(server: &Server, n: usize) {
    assert!(n <= 9);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let proto = PROTOS[i % 3];
                s.spawn(move || (proto, login(server, proto, (ALICE.0, "stale"))))
            })
            .collect();
        for t in threads {
            let (proto, answer) = t.join().unwrap();
            assert!(failed(proto, &answer), "{proto:?}: {answer:?}");
        }
    });
}

/// Another user logs in over every protocol, not slowed down by the
/// failures: a correct password is not delayed (the address's failures
/// would earn a failure 8 s).
fn bob_logs_in_everywhere(server: &Server) {
    for proto in PROTOS {
        let started = Instant::now();
        let answer = login(server, proto, BOB);
        assert!(succeeded(proto, &answer), "bob over {proto:?}: {answer:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bob over {proto:?} waited {:?}",
            started.elapsed()
        );
    }
}

fn alice_is_locked_everywhere(server: &Server) {
    for proto in PROTOS {
        let answer = login(server, proto, ALICE);
        assert!(locked(proto, &answer), "alice over {proto:?}: {answer:?}");
    }
}

/// Issue 14 point 2, from an address outside the trusted networks (here
/// loopback, made untrusted): after 10 failures as alice, alice is refused
/// with the temporary error, right password or not, over SMTP, IMAP and
/// POP3; bob at the same address logs in over all three.
#[test]
fn lockout_is_per_address_and_user_not_per_address() {
    let (_data, server) = setup("lockout-world", &["--trusted-network", "none"]);
    fail_alice(&server, 9);
    fail_alice(&server, 1);
    alice_is_locked_everywhere(&server);
    bob_logs_in_everywhere(&server);
    // Bob's success cleared nothing of alice's.
    alice_is_locked_everywhere(&server);
    server.wait_for_log("too many failures");
}

/// The trusted networks (loopback by default) get a larger allowance: 20
/// failures per user instead of 10, and other users are never affected.
#[test]
fn trusted_network_has_a_larger_allowance() {
    let (_data, server) = setup("lockout-trusted", &[]);
    // Past the world's 10 failures: still answered, not locked.
    fail_alice(&server, 9);
    fail_alice(&server, 2);
    bob_logs_in_everywhere(&server);
    // Up to the trusted 20: locked.
    fail_alice(&server, 9);
    alice_is_locked_everywhere(&server);
    bob_logs_in_everywhere(&server);
}

/// Issue 14 point 6: PLAIN's authorization identity naming another user
/// (RFC 4616 §2) is well-formed: a proxy login, not offered, answered as
/// an authentication failure (SMTP 535 5.7.8, IMAP NO
/// [AUTHENTICATIONFAILED], POP3 -ERR [AUTH]) even with the right password;
/// the user's own name as authzid logs in as before.
#[test]
fn plain_authzid_of_another_user_is_an_authentication_failure() {
    let (_data, server) = setup("authzid", &[]);
    let proxy = format!("{}\0{}\0{}", BOB.0, ALICE.0, ALICE.1);
    let own = format!("{}\0{}\0{}", "Alice@home.arpa", ALICE.0, ALICE.1);
    for proto in PROTOS {
        let answer = auth_plain(&server, proto, proxy.as_bytes());
        assert!(failed(proto, &answer), "proxy over {proto:?}: {answer:?}");
        let answer = auth_plain(&server, proto, own.as_bytes());
        assert!(succeeded(proto, &answer), "own over {proto:?}: {answer:?}");
    }
    server.wait_for_log("\"alice@home.arpa\" asked to act as \"bob@home.arpa\"");
}
