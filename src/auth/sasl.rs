//! SASL (RFC 4422) as every protocol here speaks it: PLAIN (RFC 4616) and
//! LOGIN (draft-murchison-sasl-login; what Outlook and many devices still
//! use), both ends.
//!
//! Server side, [`Exchange`] is the one exchange SMTP AUTH, IMAP
//! AUTHENTICATE and POP3 AUTH run, as a pure state machine over the
//! client's lines: start it with the mechanism and the initial response,
//! if any; it answers with a challenge to send (and the exchange that
//! waits for the answer), the credentials, or why it failed. Each protocol
//! keeps its own framing (`334`, `+ `), its replies and its `*` handling
//! around it, and all of them offer the same [`MECHANISMS`].
//!
//! Client side, [`plain_response`] and [`login_responses`] are what the
//! relay client and the fetcher send.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The mechanisms every protocol offers, in order of preference.
pub const MECHANISMS: [&str; 2] = ["PLAIN", "LOGIN"];

/// Credentials a client presented.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity (authcid): the user logging in.
    pub username: String,
    pub password: String,
    /// PLAIN's authorization identity when it names someone other than
    /// `username`: a request to act as that user (proxy authorization,
    /// RFC 4616 §2), which is well-formed but not offered here, so the
    /// login check refuses it as an authentication failure.
    pub authzid: Option<String>,
}

/// Why a SASL exchange cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslError {
    /// Not base64, or not the mechanism's layout.
    Malformed,
    /// The client sent `*` (RFC 4954 §4, RFC 3501 §6.2.2, RFC 5034 §4).
    Cancelled,
    /// A mechanism other than [`MECHANISMS`].
    Unsupported,
}

/// What to do next in an exchange.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (already base64; PLAIN's is empty) and hand the
    /// client's answer to the exchange's [`Exchange::next`].
    Challenge(Exchange, &'static str),
    /// The client presented these; checking them is the caller's work.
    Done(Credentials),
    Failed(SaslError),
}

/// A server-side exchange waiting for the client's next line.
#[derive(Debug, PartialEq, Eq)]
pub struct Exchange(Waiting);

#[derive(Debug, PartialEq, Eq)]
enum Waiting {
    /// PLAIN's only response.
    Plain,
    /// LOGIN's user name.
    LoginUser,
    /// LOGIN's password, for this user.
    LoginPassword(String),
}

/// The server's LOGIN prompts, already base64: "Username:" and "Password:".
pub const LOGIN_USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

impl Exchange {
    /// Starts `mechanism` (any case). An initial response (RFC 4954 §4,
    /// RFC 4959, RFC 5034 §4; `=` is an empty one) is taken as the answer
    /// to the first challenge, which is then not sent.
    pub fn start(mechanism: &str, initial: Option<&[u8]>) -> Step {
        let waiting = if mechanism.eq_ignore_ascii_case("PLAIN") {
            Waiting::Plain
        } else if mechanism.eq_ignore_ascii_case("LOGIN") {
            Waiting::LoginUser
        } else {
            return Step::Failed(SaslError::Unsupported);
        };
        let exchange = Exchange(waiting);
        match initial {
            Some(response) => exchange.next(response),
            None => exchange.challenge(),
        }
    }

    /// Takes the client's answer to the last challenge: one base64 line
    /// (its line ending is ignored) or `*` to cancel.
    pub fn next(self, line: &[u8]) -> Step {
        let decoded = match decode_response(line) {
            Ok(decoded) => decoded,
            Err(e) => return Step::Failed(e),
        };
        match self.0 {
            Waiting::Plain => match plain(&decoded) {
                Ok(credentials) => Step::Done(credentials),
                Err(e) => Step::Failed(e),
            },
            Waiting::LoginUser => match text(decoded) {
                Ok(user) => Exchange(Waiting::LoginPassword(user)).challenge(),
                Err(e) => Step::Failed(e),
            },
            Waiting::LoginPassword(username) => match text(decoded) {
                Ok(password) => Step::Done(Credentials {
                    username,
                    password,
                    authzid: None,
                }),
                Err(e) => Step::Failed(e),
            },
        }
    }

    fn challenge(self) -> Step {
        let prompt = match self.0 {
            Waiting::Plain => "",
            Waiting::LoginUser => LOGIN_USERNAME_PROMPT,
            Waiting::LoginPassword(_) => LOGIN_PASSWORD_PROMPT,
        };
        Step::Challenge(self, prompt)
    }
}

/// Decodes one base64 client line (`=` alone is an empty response, RFC 4954 §4).
fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    match line.trim_ascii() {
        b"*" => Err(SaslError::Cancelled),
        b"=" => Ok(Vec::new()),
        line => STANDARD.decode(line).map_err(|_| SaslError::Malformed),
    }
}

/// PLAIN: `[authzid] NUL authcid NUL passwd` (RFC 4616 §2).
fn plain(response: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = response.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let field = |b: &[u8]| text(b.to_vec());
    let (authzid, username, password) = (field(authzid)?, field(authcid)?, field(passwd)?);
    if username.is_empty() {
        return Err(SaslError::Malformed);
    }
    // An empty authzid, or the user's own name, asks for nothing more
    // than the login itself.
    let authzid =
        (!authzid.is_empty() && !authzid.eq_ignore_ascii_case(&username)).then_some(authzid);
    Ok(Credentials {
        username,
        password,
        authzid,
    })
}

/// A decoded field as text (SASL strings are UTF-8, RFC 4422 §3.4).
fn text(bytes: Vec<u8>) -> Result<String, SaslError> {
    String::from_utf8(bytes).map_err(|_| SaslError::Malformed)
}

/// A client's PLAIN response, base64 (RFC 4616 §2): `NUL user NUL
/// password`, no authorization identity. It may go as the initial
/// response.
pub fn plain_response(user: &str, password: &str) -> String {
    let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    let encoded = STANDARD.encode(&raw);
    raw.fill(0);
    encoded
}

/// A client's LOGIN responses, base64: the user name, then the password,
/// one for each of the server's prompts.
pub fn login_responses(user: &str, password: &str) -> [String; 2] {
    [STANDARD.encode(user), STANDARD.encode(password)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> Vec<u8> {
        STANDARD.encode(s).into_bytes()
    }

    fn done(username: &str, password: &str) -> Step {
        Step::Done(Credentials {
            username: username.into(),
            password: password.into(),
            authzid: None,
        })
    }

    /// Answers every challenge with the next line; the challenges sent
    /// and the end.
    fn run(mechanism: &str, initial: Option<&[u8]>, lines: &[&[u8]]) -> (Vec<&'static str>, Step) {
        let mut step = Exchange::start(mechanism, initial);
        let mut challenges = Vec::new();
        let mut lines = lines.iter();
        while let Step::Challenge(exchange, challenge) = step {
            challenges.push(challenge);
            let Some(line) = lines.next() else {
                panic!("no answer for challenge {challenge:?}");
            };
            step = exchange.next(line);
        }
        (challenges, step)
    }

    #[test]
    fn plain_with_initial_response() {
        let token = b64(b"\0alice@home.arpa\0pw");
        let (challenges, end) = run("PLAIN", Some(&token), &[]);
        assert!(challenges.is_empty());
        assert_eq!(end, done("alice@home.arpa", "pw"));
    }

    #[test]
    fn plain_after_an_empty_challenge() {
        let token = b64(b"\0alice@home.arpa\0pw");
        let line = [token.as_slice(), b"\r\n"].concat();
        let (challenges, end) = run("plain", None, &[&line]);
        assert_eq!(challenges, [""]);
        assert_eq!(end, done("alice@home.arpa", "pw"));
    }

    #[test]
    fn login_in_two_steps() {
        let (user, pass) = (b64(b"alice@home.arpa"), b64(b"pw"));
        let (challenges, end) = run("LOGIN", None, &[&user, &pass]);
        assert_eq!(challenges, [LOGIN_USERNAME_PROMPT, LOGIN_PASSWORD_PROMPT]);
        assert_eq!(end, done("alice@home.arpa", "pw"));
        // The user name as initial response skips the first prompt.
        let (challenges, end) = run("Login", Some(&user), &[&pass]);
        assert_eq!(challenges, [LOGIN_PASSWORD_PROMPT]);
        assert_eq!(end, done("alice@home.arpa", "pw"));
        // An empty password is a password.
        let (_, end) = run("LOGIN", Some(&user), &[b"="]);
        assert_eq!(end, done("alice@home.arpa", ""));
    }

    #[test]
    fn the_prompts_say_what_they_ask() {
        assert_eq!(
            STANDARD.decode(LOGIN_USERNAME_PROMPT).unwrap(),
            b"Username:"
        );
        assert_eq!(
            STANDARD.decode(LOGIN_PASSWORD_PROMPT).unwrap(),
            b"Password:"
        );
    }

    #[test]
    fn star_cancels_at_any_step() {
        let cancelled = Step::Failed(SaslError::Cancelled);
        assert_eq!(run("PLAIN", Some(b"*"), &[]).1, cancelled);
        assert_eq!(run("PLAIN", None, &[b"*\r\n"]).1, cancelled);
        assert_eq!(run("LOGIN", None, &[b"*"]).1, cancelled);
        assert_eq!(run("LOGIN", None, &[&b64(b"alice"), b"*"]).1, cancelled);
    }

    #[test]
    fn malformed_responses() {
        let malformed = Step::Failed(SaslError::Malformed);
        assert_eq!(run("PLAIN", Some(b"not base64!"), &[]).1, malformed);
        assert_eq!(run("LOGIN", None, &[b"!!!"]).1, malformed);
        // `=` is an empty response, and PLAIN has no empty form.
        assert_eq!(run("PLAIN", Some(b"="), &[]).1, malformed);
        assert_eq!(run("PLAIN", None, &[b""]).1, malformed);
        for bad in [&b"\0alice"[..], b"\0\0pw", b"\0a\0b\0c", b"\0\xff\0pw"] {
            assert_eq!(run("PLAIN", Some(&b64(bad)), &[]).1, malformed, "{bad:?}");
        }
        assert_eq!(run("LOGIN", Some(&b64(b"\xff")), &[]).1, malformed);
    }

    #[test]
    fn authorization_identity() {
        let same = b64(b"alice@home.arpa\0alice@home.arpa\0pw");
        assert_eq!(
            run("PLAIN", Some(&same), &[]).1,
            done("alice@home.arpa", "pw")
        );
        let same_any_case = b64(b"Alice@Home.arpa\0alice@home.arpa\0pw");
        assert_eq!(
            run("PLAIN", Some(&same_any_case), &[]).1,
            done("alice@home.arpa", "pw")
        );
        // Another user's name is well-formed: handed on for the login
        // check to refuse (proxy authorization is not offered).
        let other = b64(b"bob\0alice\0pw");
        assert_eq!(
            run("PLAIN", Some(&other), &[]).1,
            Step::Done(Credentials {
                username: "alice".into(),
                password: "pw".into(),
                authzid: Some("bob".into()),
            })
        );
    }

    #[test]
    fn unsupported_mechanisms() {
        for mechanism in ["CRAM-MD5", "", "PLAINX", "XOAUTH2"] {
            assert_eq!(
                run(mechanism, None, &[]).1,
                Step::Failed(SaslError::Unsupported)
            );
        }
    }

    #[test]
    fn client_responses_read_back() {
        // RFC 4616 §4 example without authzid: "\0tim\0tanstaaftanstaaf".
        let plain = plain_response("tim", "tanstaaftanstaaf");
        assert_eq!(plain, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
        assert_eq!(
            run("PLAIN", Some(plain.as_bytes()), &[]).1,
            done("tim", "tanstaaftanstaaf")
        );
        let [user, pass] = login_responses("tim", "pä ss");
        assert_eq!(
            run("LOGIN", None, &[user.as_bytes(), pass.as_bytes()]).1,
            done("tim", "pä ss")
        );
    }
}
