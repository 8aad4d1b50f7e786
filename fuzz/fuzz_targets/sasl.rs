//! Fuzzes the one server-side SASL exchange (`auth::sasl::Exchange`) that
//! SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 3501 §6.2.2) and POP3 AUTH
//! (RFC 5034) all run, with PLAIN (RFC 4616) and LOGIN.
//!
//! Input: the first byte picks the mechanism and whether the first line is
//! an initial response; the rest, split at LF, are the client's lines.
//!
//! Checks:
//! - the exchange ends (done or failed) within the mechanism's steps, and
//!   the challenges are the mechanism's own;
//! - `*` cancels at any step, and only `*` does;
//! - PLAIN: credentials come only from exactly three NUL-separated UTF-8
//!   fields with a non-empty user, equal to the decoded fields; the
//!   client encoder (`plain_response`) of those credentials is accepted
//!   and gives them back;
//! - LOGIN: the credentials are the two decoded lines, and the client
//!   encoder (`login_responses`) gives them back;
//! - every line that is proper base64 of any bytes is read as those bytes
//!   (so a failure is the mechanism's layout, never the decoding).

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use smolmail::auth::sasl::{self, Credentials, Exchange, SaslError, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mechanism = match pick % 3 {
        0 => "PLAIN",
        1 => "login",
        _ => "X-UNKNOWN",
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let initial = if pick & 4 != 0 { lines.next() } else { None };
    let mut step = Exchange::start(mechanism, initial);
    let mut fed: Vec<&[u8]> = initial.into_iter().collect();
    let mut challenges = 0;
    loop {
        match step {
            Step::Challenge(exchange, prompt) => {
                challenges += 1;
                assert!(challenges <= 2, "more challenges than LOGIN has");
                assert!(
                    ["", sasl::LOGIN_USERNAME_PROMPT, sasl::LOGIN_PASSWORD_PROMPT]
                        .contains(&prompt)
                );
                let Some(line) = lines.next() else {
                    return;
                };
                fed.push(line);
                step = exchange.next(line);
            }
            Step::Done(credentials) => {
                check_done(mechanism, &fed, &credentials);
                return;
            }
            Step::Failed(e) => {
                check_failed(mechanism, &fed, e);
                return;
            }
        }
    }
});

fn decoded(line: &[u8]) -> Option<Vec<u8>> {
    match line.trim_ascii() {
        b"=" => Some(Vec::new()),
        line => STANDARD.decode(line).ok(),
    }
}

fn check_done(mechanism: &str, fed: &[&[u8]], c: &Credentials) {
    assert!(fed.iter().all(|l| l.trim_ascii() != b"*"));
    if mechanism == "PLAIN" {
        let raw = decoded(fed[0]).expect("done from a line that is not base64");
        let fields: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
        assert_eq!(fields.len(), 3);
        assert!(!c.username.is_empty());
        assert_eq!(c.username.as_bytes(), fields[1]);
        assert_eq!(c.password.as_bytes(), fields[2]);
        // An authorization identity is kept only when it names someone
        // else (the login check refuses that); one equal to the user is
        // the user.
        let other = !fields[0].is_empty() && !fields[0].eq_ignore_ascii_case(fields[1]);
        assert_eq!(
            c.authzid.as_deref().map(str::as_bytes),
            other.then_some(fields[0])
        );
        let again = sasl::plain_response(&c.username, &c.password);
        match Exchange::start("PLAIN", Some(again.as_bytes())) {
            Step::Done(back) => {
                assert_eq!((&back.username, &back.password), (&c.username, &c.password));
                assert_eq!(back.authzid, None);
            }
            other => panic!("our own PLAIN response refused: {other:?}"),
        }
    } else {
        assert_eq!(fed.len(), 2);
        assert_eq!(decoded(fed[0]).unwrap(), c.username.as_bytes());
        assert_eq!(decoded(fed[1]).unwrap(), c.password.as_bytes());
        let [user, password] = sasl::login_responses(&c.username, &c.password);
        assert_eq!(decoded(user.as_bytes()).unwrap(), c.username.as_bytes());
        assert_eq!(decoded(password.as_bytes()).unwrap(), c.password.as_bytes());
    }
}

fn check_failed(mechanism: &str, fed: &[&[u8]], e: SaslError) {
    if mechanism == "X-UNKNOWN" {
        assert_eq!(e, SaslError::Unsupported);
        return;
    }
    let last = fed.last().expect("failed before any line");
    match e {
        SaslError::Cancelled => assert_eq!(last.trim_ascii(), b"*"),
        SaslError::Unsupported => panic!("{mechanism} is supported"),
        SaslError::Malformed => assert_ne!(last.trim_ascii(), b"*"),
    }
}
