//! The fetcher's IMAP client session (RFC 3501): connect, TLS (implicit,
//! RFC 8314, or STARTTLS, §6.2.1), log in, EXAMINE, UID FETCH, IDLE
//! (RFC 2177), LOGOUT; LIST and LSUB for `import imap` (`client/copy.rs`). Every wait has a time limit; every response goes
//! through the bounded framer of `response.rs`, and one response (so at
//! most one message's literal) is buffered at a time.
//!
//! The session only reads: mailboxes are opened with EXAMINE (§6.3.2,
//! read-only, so not even \Recent changes) and bodies are fetched with
//! BODY.PEEK[] (§6.4.5, \Seen stays as it was). `command.rs` has no way
//! to spell STORE, EXPUNGE, DELETE, MOVE or COPY.
//!
//! The exchange under the commands (framing, tags, literals, reading to
//! the tagged answer) is `client/exchange.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::command::{self, Arg};
use super::response::{self, Code, Framer, Limits, Response, Untagged};
use crate::net::dns::Resolver;
use crate::net::{self, Stream, timed};

mod copy;
mod exchange;

pub use copy::{Fetching, Folder, MAX_FOLDERS};

/// TCP connection set-up, per address tried.
const CONNECT: Duration = Duration::from_secs(30);
const HANDSHAKE: Duration = Duration::from_secs(30);
/// Any one command's answer (a batch of bodies included; the limit is
/// between reads, not for the whole answer: see [`Session::read`]).
pub const COMMAND: Duration = Duration::from_secs(120);
/// Bytes read from the socket at a time.
const CHUNK: usize = 64 * 1024;
/// Kept between responses: a read buffer grown for a large message is
/// given back once that message is handed on.
const KEEP: usize = 256 * 1024;

/// Why a session failed; the text is for the log and `fetch list`, and
/// never holds the password.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<response::Error> for Error {
    fn from(e: response::Error) -> Error {
        Error(e.to_string())
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub starttls: bool,
    /// Verifying configuration (`net::tls::verified_pem`).
    pub tls: Arc<ClientConfig>,
    pub limits: Limits,
}

impl Target {
    /// `host:port` for messages.
    pub fn label(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What EXAMINE told about a mailbox (§6.3.1, §7.1, §7.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub uidvalidity: u32,
    pub uidnext: Option<u32>,
    pub exists: u32,
}

/// One message as [`Session::fetch_bodies`] hands it over.
#[derive(Debug)]
pub struct Body {
    pub uid: u32,
    /// RFC822.SIZE as the server reported it.
    pub size: Option<u32>,
    /// INTERNALDATE, Unix seconds.
    pub internal_date: Option<i64>,
    /// FLAGS as sent (system flags with their `\`, keywords).
    pub flags: Vec<String>,
    pub bytes: Vec<u8>,
}

/// How an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The server announced a new message count.
    NewMail,
    /// The time given ran out.
    Timeout,
}

/// One logged-in (or logging-in) connection.
pub struct Session {
    io: Stream,
    /// Received bytes; the response last returned is `buf[..frame]`.
    buf: Vec<u8>,
    frame: usize,
    framer: Framer,
    scratch: Box<[u8]>,
    limits: Limits,
    tag: u32,
    /// The server's capabilities, upper-case, as last announced.
    caps: Vec<String>,
    /// `host:port`, for messages.
    pub label: String,
}

impl Session {
    /// Connects, secures the connection and logs in.
    pub async fn open(
        target: &Target,
        resolver: &Resolver,
        user: &str,
        password: &str,
    ) -> Result<Session, Error> {
        let label = target.label();
        let addresses: Vec<SocketAddr> = net::resolve(&target.host, resolver)
            .await
            .map_err(|e| Error(e.to_string()))?
            .into_iter()
            .map(|ip| SocketAddr::new(ip, target.port))
            .collect();
        let mut io = net::connect(&addresses, CONNECT)
            .await
            .map_err(|e| Error(e.to_string()))?;
        if !target.starttls {
            handshake(&mut io, target).await?;
        }
        let mut session = Session {
            io,
            buf: Vec::with_capacity(8192),
            frame: 0,
            framer: Framer::default(),
            scratch: vec![0u8; CHUNK].into_boxed_slice(),
            limits: target.limits,
            tag: 0,
            caps: Vec::new(),
            label,
        };
        let preauth = session.greeting().await?;
        if target.starttls {
            session.starttls(target).await?;
        }
        if !preauth {
            session.login(user, password).await?;
        }
        if !session.caps.iter().any(|c| c == "IMAP4REV1") {
            session.capability().await?;
        }
        Ok(session)
    }

    /// Whether the server announced `cap` (upper-case).
    pub fn has(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c == cap)
    }

    async fn capability(&mut self) -> Result<(), Error> {
        self.run("CAPABILITY", "CAPABILITY", &[], |_| Ok(())).await
    }

    /// STARTTLS (§6.2.1) then the handshake; what the server sent before
    /// TLS (capabilities, and anything pipelined after the OK) is thrown
    /// away, and the capabilities are asked for again inside TLS.
    async fn starttls(&mut self, target: &Target) -> Result<(), Error> {
        if self.caps.is_empty() {
            self.capability().await?;
        }
        if !self.has("STARTTLS") {
            return Err(self.error(
                "the server does not offer STARTTLS; without TLS the password would travel in the clear",
            ));
        }
        self.run("STARTTLS", "STARTTLS", &[], |_| Ok(())).await?;
        self.buf.clear();
        self.frame = 0;
        self.framer = Framer::default();
        self.caps.clear();
        if self.io.is_tls() {
            return Err(self.error("TLS is already on"));
        }
        handshake(&mut self.io, target).await?;
        self.capability().await
    }

    /// AUTHENTICATE PLAIN (RFC 4959 SASL-IR when offered) or LOGIN.
    async fn login(&mut self, user: &str, password: &str) -> Result<(), Error> {
        if self.caps.is_empty() {
            self.capability().await?;
        }
        let token = crate::auth::sasl::plain_response(user, password);
        let what = format!("login as {user}");
        if self.has("AUTH=PLAIN") {
            if self.has("SASL-IR") {
                return self
                    .run(&what, "AUTHENTICATE PLAIN", &[Arg::Inline(token)], |_| {
                        Ok(())
                    })
                    .await;
            }
            let tag = self.next_tag();
            self.send(format!("{tag} AUTHENTICATE PLAIN\r\n").as_bytes())
                .await?;
            let mut ignore = |_: Untagged<'_>| Ok(());
            self.until_continuation(&what, &tag, &mut ignore).await?;
            self.send(format!("{token}\r\n").as_bytes()).await?;
            return self.until_tagged(&what, &tag, &mut ignore).await;
        }
        if self.has("LOGINDISABLED") {
            return Err(self.error("the server allows neither LOGIN nor AUTHENTICATE PLAIN"));
        }
        self.run(
            &what,
            "LOGIN",
            &[command::string(user), command::string(password)],
            |_| Ok(()),
        )
        .await
    }

    /// EXAMINE (§6.3.2): opens `mailbox` read-only.
    pub async fn examine(&mut self, mailbox: &str) -> Result<Selected, Error> {
        let (mut uidvalidity, mut uidnext, mut exists) = (None, None, 0);
        self.run(
            &format!("EXAMINE {mailbox}"),
            "EXAMINE",
            &[Arg::Inline(command::mailbox(mailbox))],
            |u| {
                match u {
                    Untagged::Exists(n) => exists = n,
                    Untagged::Status(s) => match s.code {
                        Some(Code::UidValidity(v)) => uidvalidity = Some(v),
                        Some(Code::UidNext(n)) => uidnext = Some(n),
                        _ => {}
                    },
                    _ => {}
                }
                Ok(())
            },
        )
        .await?;
        let uidvalidity = uidvalidity.ok_or_else(|| {
            self.error(format_args!(
                "EXAMINE {mailbox} gave no UIDVALIDITY; cannot tell old messages from new"
            ))
        })?;
        Ok(Selected {
            uidvalidity,
            uidnext,
            exists,
        })
    }

    /// UID FETCH `set` `items` (§6.4.8); `each` sees every untagged
    /// response, the FETCH data among them.
    pub async fn uid_fetch(
        &mut self,
        set: &str,
        items: &str,
        each: impl FnMut(Untagged<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.run(
            "UID FETCH",
            "UID FETCH",
            &[Arg::Inline(set.to_string()), Arg::Inline(items.to_string())],
            each,
        )
        .await
    }

    /// `UID FETCH set (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])`
    /// (§6.4.8; PEEK leaves \Seen alone, §6.4.5), handing each message to
    /// `each` as it arrives: one message is buffered at a time, and a large
    /// one is moved out of the read buffer rather than copied.
    pub async fn fetch_bodies(
        &mut self,
        set: &str,
        mut each: impl FnMut(Body),
    ) -> Result<(), Error> {
        let mut fetching = self.fetch_start(set).await?;
        while let Some(body) = self.fetch_next(&mut fetching).await? {
            each(body);
        }
        Ok(())
    }

    /// IDLE (RFC 2177) on the mailbox examined last, until the server
    /// announces a message count (`* n EXISTS`) or `limit` passes; then
    /// DONE and its tagged answer.
    pub async fn idle(&mut self, limit: Duration) -> Result<Woken, Error> {
        let tag = self.next_tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes()).await?;
        let mut woken = Woken::Timeout;
        let mut note = |u: Untagged<'_>| {
            if matches!(u, Untagged::Exists(_)) {
                woken = Woken::NewMail;
            }
            Ok(())
        };
        self.until_continuation("IDLE", &tag, &mut note).await?;
        if woken == Woken::Timeout {
            let deadline = std::time::Instant::now() + limit;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                let label = self.label.clone();
                let read = async {
                    self.next_frame(COMMAND.max(left)).await?;
                    Ok::<bool, Error>(matches!(
                        self.response()?,
                        Response::Untagged(Untagged::Exists(_))
                    ))
                };
                let timer = async {
                    smol::Timer::after(left).await;
                    Ok(false)
                };
                match smol::future::or(read, timer).await {
                    Ok(true) => {
                        woken = Woken::NewMail;
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => return Err(Error(format!("{e} (while idling at {label})"))),
                }
            }
        }
        self.send(b"DONE\r\n").await?;
        let mut ignore = |_: Untagged<'_>| Ok(());
        self.until_tagged("IDLE", &tag, &mut ignore).await?;
        Ok(woken)
    }

    /// LOGOUT (§6.1.3), best effort: the session ends either way.
    pub async fn logout(mut self) {
        let tag = self.next_tag();
        if self
            .send(format!("{tag} LOGOUT\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        let mut ignore = |_: Untagged<'_>| Ok(());
        let _ = timed(
            Duration::from_secs(5),
            || Error(String::new()),
            self.until_tagged("LOGOUT", &tag, &mut ignore),
        )
        .await;
    }
}

/// The TLS handshake with the target: from the first byte (implicit TLS,
/// RFC 8314) or after STARTTLS.
async fn handshake(io: &mut Stream, target: &Target) -> Result<(), Error> {
    let name = net::tls::server_name(&target.host).map_err(Error)?;
    io.connect_tls(&target.tls, name, HANDSHAKE)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => {
                Error(format!("{}: TLS handshake timed out", target.label()))
            }
            _ => Error(format!("{}: TLS: {e}", target.label())),
        })
}

#[cfg(test)]
mod tests {
    /// The session's source never spells a command that changes the
    /// remote side, in either way commands are written here (a verb
    /// string for `run`, or after the tag in a `format!`).
    #[test]
    fn no_command_changes_the_remote() {
        let sources = [
            include_str!("client.rs"),
            include_str!("client/exchange.rs"),
            include_str!("client/copy.rs"),
            include_str!("../migrate/imap.rs"),
            include_str!("../migrate/imap_run.rs"),
            include_str!("sync.rs"),
            include_str!("runner.rs"),
            include_str!("command.rs"),
        ];
        // Spelled in pieces so that this test does not find itself.
        for verb in [
            ["ST", "ORE"],
            ["EXP", "UNGE"],
            ["DEL", "ETE"],
            ["MO", "VE"],
            ["CO", "PY"],
            ["SEL", "ECT"],
            ["APP", "END"],
            ["CRE", "ATE"],
            ["REN", "AME"],
        ] {
            let verb = verb.concat();
            for source in sources {
                for pattern in [
                    format!("\"{verb}"),
                    format!("}} {verb}"),
                    format!("UID {verb}"),
                ] {
                    assert!(!source.contains(&pattern), "{pattern} in the fetcher");
                }
            }
        }
        assert!(include_str!("client.rs").contains("\"EXAMINE\""));
        assert!(include_str!("sync.rs").contains("BODY.PEEK[]"));
    }
}
