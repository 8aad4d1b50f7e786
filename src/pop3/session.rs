//! One POP3 conversation (RFC 1939 §3–§6): the AUTHORIZATION state with
//! USER/PASS, AUTH (RFC 5034) and STLS (RFC 2595); the TRANSACTION state
//! over a snapshot of the INBOX; the UPDATE state at QUIT, which removes the
//! messages marked deleted in one store commit.
//!
//! Replies are collected in a small buffer and written when the client has
//! no further complete command waiting (RFC 2449 §6.6 PIPELINING): a burst
//! of commands costs one write. Message bodies are written from the LMDB
//! map, in the runs that [`DotStuffed`] cuts, without copying the message.

use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use smol::io::AsyncWriteExt;

use super::body::{DotStuffed, top_len};
use super::command::{self, Command};
use super::maildrop::{Lock, Maildrop};
use super::{IDLE_TIMEOUT, MAX_BAD_COMMANDS, MAX_LINE};
use crate::auth::LoginResult;
use crate::auth::sasl::{self, Exchange, SaslError, Step};
use crate::config::Service;
use crate::context::{Conn, Context};
use crate::net::{self, ClientAddr, Input, Output, ReadError, Stream};
use crate::store::Account;

/// Runs a POP3 session on an accepted connection (TLS already up on 995).
pub async fn session(conn: Conn, ctx: Rc<Context>) {
    let Conn {
        id,
        service,
        peer,
        mut stream,
        ..
    } = conn;
    let mut session = Session::new(ctx.clone(), id, service, peer, stream.is_tls());
    if ctx.is_shutting_down() {
        session.err(format_args!("[SYS/TEMP] Server is shutting down"));
    } else {
        // RFC 1939 §4: the greeting. No APOP timestamp: APOP is not offered.
        session.ok(format_args!("{} POP3 server ready", ctx.config.hostname));
        let mut input = Input::new();
        loop {
            match session.run(&mut stream, &mut input).await {
                Flow::Continue | Flow::Close => break,
                Flow::StartTls => {
                    if session.out.flush(&mut stream).await.is_err() {
                        break;
                    }
                    // RFC 2595 §4 and DESIGN.md: plaintext that came in
                    // behind STLS is thrown away, never executed.
                    let acceptor = ctx.tls.acceptor();
                    let who = format!("[{id}] {}", session.name);
                    let upgrade = net::starttls(&mut stream, &mut input, &acceptor, &who, "STLS");
                    if upgrade.await.is_err() {
                        session.log_end();
                        return;
                    }
                    session.tls = true;
                }
            }
        }
    }
    let _ = session.out.flush(&mut stream).await;
    let _ = stream.close().await;
    session.log_end();
}

/// What the conversation does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    /// The `+OK` to STLS is queued; upgrade the stream, then go on.
    StartTls,
}

/// The TRANSACTION state (RFC 1939 §5): who is logged in, their snapshot,
/// and the lock that keeps other POP3 sessions out until UPDATE is done.
struct Transaction {
    user: String,
    maildrop: Maildrop,
    _lock: Lock,
}

/// Counts for the log line at the end.
#[derive(Default)]
struct Counts {
    retr: u32,
    dele: u32,
    bytes: u64,
}

struct Session {
    ctx: Rc<Context>,
    id: u64,
    name: &'static str,
    /// STLS is offered: the plaintext port, before TLS.
    plain_port: bool,
    tls: bool,
    peer: SocketAddr,
    out: Output,
    /// AUTHORIZATION: the name from USER, waiting for PASS.
    user: Option<String>,
    /// AUTHORIZATION: a SASL exchange waiting for the client's next line.
    sasl: Option<Exchange>,
    /// `Some` in the TRANSACTION state.
    tx: Option<Transaction>,
    /// Last logged-in user, for the end-of-session log line.
    who: Option<String>,
    quit: bool,
    bad: u32,
    counts: Counts,
    shutdown: event_listener::EventListener,
}

impl Session {
    fn new(ctx: Rc<Context>, id: u64, service: Service, peer: SocketAddr, tls: bool) -> Session {
        // Listen before anyone can check the flag, so no shutdown is missed.
        let shutdown = ctx.shutdown.listen();
        Session {
            ctx,
            id,
            name: service.name(),
            plain_port: service == Service::Pop3,
            tls,
            peer,
            out: Output::new(IDLE_TIMEOUT),
            user: None,
            sasl: None,
            tx: None,
            who: None,
            quit: false,
            bad: 0,
            counts: Counts::default(),
            shutdown,
        }
    }

    /// Reads and answers commands until the session ends or wants TLS.
    async fn run(&mut self, stream: &mut Stream, input: &mut Input) -> Flow {
        loop {
            // Pipelining: answer a burst in one write, once no complete
            // command is left to read.
            if input.line_len().is_none() && self.out.flush(stream).await.is_err() {
                return Flow::Close;
            }
            let read = async { Some(input.line(stream, MAX_LINE, IDLE_TIMEOUT).await) };
            let stop = async {
                (&mut self.shutdown).await;
                None
            };
            let len = match smol::future::or(read, stop).await {
                None => {
                    self.err(format_args!("[SYS/TEMP] Server is shutting down"));
                    return Flow::Close;
                }
                Some(Ok(len)) => len,
                Some(Err(ReadError::TooLong)) => match self.bad("Line too long") {
                    Flow::Continue => continue,
                    other => return other,
                },
                Some(Err(ReadError::Timeout)) => {
                    // RFC 1939 §3: the autologout ends the session without
                    // an UPDATE.
                    self.err(format_args!("Disconnected for inactivity"));
                    return Flow::Close;
                }
                Some(Err(ReadError::Eof | ReadError::Io(_))) => return Flow::Close,
            };
            let flow = self.line(stream, &input.buffered()[..len]).await;
            input.consume(len);
            if flow != Flow::Continue {
                return flow;
            }
        }
    }

    async fn line(&mut self, stream: &mut Stream, line: &[u8]) -> Flow {
        if let Some(exchange) = self.sasl.take() {
            return self.sasl_step(exchange.next(line)).await;
        }
        match command::parse(line) {
            Ok(Command::Capa) => {
                self.capa();
                Flow::Continue
            }
            Ok(Command::Quit) => self.quit().await,
            Ok(cmd) if self.tx.is_some() => self.transaction(stream, cmd).await,
            Ok(cmd) => self.authorization(cmd).await,
            Err(e) => self.bad(e.text()),
        }
    }

    // --- replies -----------------------------------------------------------

    fn ok(&mut self, text: fmt::Arguments) {
        self.out.status(b"+OK", text);
    }

    fn err(&mut self, text: fmt::Arguments) {
        self.out.status(b"-ERR", text);
    }

    /// Answers a bad command; past [`MAX_BAD_COMMANDS`] the session ends.
    fn bad(&mut self, why: &str) -> Flow {
        self.bad += 1;
        if self.bad >= MAX_BAD_COMMANDS {
            log::info!(
                "[{}] {}: {} bad commands; closing",
                self.id,
                self.name,
                self.bad
            );
            self.err(format_args!(
                "Too many bad commands; closing the connection"
            ));
            return Flow::Close;
        }
        self.err(format_args!("{why}"));
        Flow::Continue
    }

    // --- AUTHORIZATION (RFC 1939 §4) ----------------------------------------

    /// Credentials may only cross an encrypted connection, or loopback
    /// (DESIGN.md; RFC 2595 §2.2 leaves the policy to the server).
    fn login_allowed(&self) -> bool {
        self.tls || ClientAddr::from(self.peer).may_login_without_tls()
    }

    fn capa(&mut self) {
        // RFC 2449 §5: the capabilities of the current state.
        self.ok(format_args!("Capability list follows"));
        for capability in ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"] {
            self.out.line(&[capability]);
        }
        let authorizing = self.tx.is_none();
        // RFC 2595 §4: no login offers over plaintext until STLS is done.
        if authorizing && self.login_allowed() {
            self.out.line(&["USER"]);
            // RFC 2449 §6.3, RFC 5034 §4: the mechanisms AUTH takes.
            self.out.line(&["SASL ", &sasl::MECHANISMS.join(" ")]);
        }
        if authorizing && self.plain_port && !self.tls {
            self.out.line(&["STLS"]);
        }
        self.out
            .line(&["IMPLEMENTATION smolmail ", env!("CARGO_PKG_VERSION")]);
        self.out.push(b".\r\n");
    }

    async fn authorization(&mut self, cmd: Command<'_>) -> Flow {
        let plaintext_refused = "[AUTH] Plaintext authentication is not allowed on an unencrypted connection; use STLS or port 995";
        match cmd {
            Command::Stls if self.tls => self.bad("TLS is already active"),
            Command::Stls if !self.plain_port => self.bad("STLS is not offered here"),
            Command::Stls => {
                self.user = None;
                self.ok(format_args!("Begin TLS negotiation"));
                Flow::StartTls
            }
            Command::User(_) | Command::Pass(_) | Command::Auth { .. } if !self.login_allowed() => {
                self.bad(plaintext_refused)
            }
            Command::User(name) => {
                // Any name is accepted here: whether it exists is only told
                // after PASS, together with the password's verdict.
                self.user = Some(name.to_string());
                self.ok(format_args!("Send the password"));
                Flow::Continue
            }
            Command::Pass(password) => match self.user.take() {
                Some(user) => {
                    let password = String::from_utf8_lossy(password).into_owned();
                    self.login(user, password).await
                }
                None => self.bad("Send USER first"),
            },
            Command::Auth {
                mechanism: None, ..
            } => {
                // The RFC 1734 listing form (Outlook and others still ask).
                self.ok(format_args!("Mechanisms follow"));
                for mechanism in sasl::MECHANISMS {
                    self.out.line(&[mechanism]);
                }
                self.out.push(b".\r\n");
                Flow::Continue
            }
            Command::Auth {
                mechanism: Some(mechanism),
                initial,
            } => {
                self.user = None;
                // RFC 5034 §4: an initial response is handled as if it
                // had answered the first challenge.
                self.sasl_step(Exchange::start(mechanism, initial)).await
            }
            _ => self.bad("Log in first"),
        }
    }

    /// Answers a step of the SASL exchange: a `+ ` continuation
    /// (RFC 5034 §4), the login, or the refusal.
    async fn sasl_step(&mut self, step: Step) -> Flow {
        match step {
            Step::Challenge(exchange, challenge) => {
                self.out.line(&["+ ", challenge]);
                self.sasl = Some(exchange);
                Flow::Continue
            }
            Step::Done(c) => self.login(c.username, c.password).await,
            // RFC 5034 §4: "*" cancels; the answer is -ERR.
            Step::Failed(SaslError::Cancelled) => {
                self.err(format_args!("Authentication cancelled"));
                Flow::Continue
            }
            Step::Failed(SaslError::AuthzidMismatch) => {
                self.err(format_args!(
                    "[AUTH] Logging in as another user is not allowed"
                ));
                Flow::Continue
            }
            Step::Failed(SaslError::Unsupported) => {
                self.bad("Unsupported authentication mechanism")
            }
            Step::Failed(SaslError::Malformed) => self.bad("Malformed SASL response"),
        }
    }

    /// Checks the credentials (the limiter shared with IMAP and SMTP is in
    /// `ctx.login`) and, when they are good, opens the maildrop.
    async fn login(&mut self, user: String, password: String) -> Flow {
        match self.ctx.login(self.peer.ip(), &user, password).await {
            LoginResult::Ok(account) => self.open(account),
            LoginResult::Failed => {
                log::info!("[{}] {}: login failed for {user:?}", self.id, self.name);
                // RFC 3206 §4: [AUTH] says the credentials were wrong.
                self.err(format_args!("[AUTH] Authentication failed"));
            }
            LoginResult::Blocked(blocked) => {
                log::info!(
                    "[{}] {}: login refused for {user:?}: too many failures from {}",
                    self.id,
                    self.name,
                    self.peer.ip()
                );
                let minutes = blocked.retry_after.as_secs().div_ceil(60).max(1);
                self.err(format_args!(
                    "[SYS/TEMP] Too many failed logins from your address; try again in {minutes} minutes"
                ));
            }
            LoginResult::Unavailable(e) => {
                log::error!("[{}] {}: login: {e}", self.id, self.name);
                self.err(format_args!("[SYS/TEMP] Temporary server failure"));
            }
        }
        Flow::Continue
    }

    /// Locks the account's INBOX and takes the session's snapshot of it
    /// (RFC 1939 §4: "acquires an exclusive-access lock on the maildrop").
    fn open(&mut self, account: Account) {
        let reader = match self.ctx.store.read() {
            Ok(reader) => reader,
            Err(e) => return self.store_failure(&e),
        };
        let mailbox = match reader.mailbox(account.id, "INBOX") {
            Ok(Some(mailbox)) => mailbox,
            Ok(None) => {
                log::error!(
                    "[{}] {}: {} has no INBOX",
                    self.id,
                    self.name,
                    account.address
                );
                return self.err(format_args!("[SYS/PERM] The account has no INBOX"));
            }
            Err(e) => return self.store_failure(&e),
        };
        // No await from here to the end: the lock is taken and the snapshot
        // read without another session running in between, so a session
        // that released the lock has committed its UPDATE before this read
        // transaction could have started.
        let Some(lock) = Lock::acquire(mailbox.id) else {
            log::info!(
                "[{}] {}: {} is in use by another POP3 session",
                self.id,
                self.name,
                account.address
            );
            // RFC 2449 §8.1.1.
            return self.err(format_args!(
                "[IN-USE] The mailbox is in use by another POP3 session"
            ));
        };
        let snapshot: Result<Vec<_>, _> = match reader.messages(mailbox.id) {
            Ok(messages) => messages
                .map(|m| m.map(|m| (m.uid, m.blob_id, m.size)))
                .collect(),
            Err(e) => Err(e),
        };
        let snapshot = match snapshot {
            Ok(snapshot) => snapshot,
            Err(e) => return self.store_failure(&e),
        };
        let maildrop = Maildrop::new(mailbox.id, mailbox.uidvalidity, snapshot);
        let (count, octets) = maildrop.stat();
        log::info!(
            "[{}] {}: login {} ({count} messages, {octets} octets)",
            self.id,
            self.name,
            account.address
        );
        self.ok(format_args!(
            "Logged in; {count} messages ({octets} octets)"
        ));
        self.who = Some(account.address.clone());
        self.tx = Some(Transaction {
            user: account.address,
            maildrop,
            _lock: lock,
        });
    }

    fn store_failure(&mut self, e: &crate::store::StoreError) {
        log::error!("[{}] {}: store: {e}", self.id, self.name);
        self.err(format_args!("[SYS/TEMP] Temporary server failure"));
    }

    // --- TRANSACTION (RFC 1939 §5) -----------------------------------------

    async fn transaction(&mut self, stream: &mut Stream, cmd: Command<'_>) -> Flow {
        let Some(tx) = self.tx.as_mut() else {
            return Flow::Close;
        };
        match cmd {
            Command::Stat => {
                let (count, octets) = tx.maildrop.stat();
                self.ok(format_args!("{count} {octets}"));
            }
            Command::List(Some(n)) | Command::Uidl(Some(n)) => match tx.maildrop.get(n) {
                Ok(entry) if matches!(cmd, Command::List(_)) => {
                    let size = entry.size;
                    self.ok(format_args!("{n} {size}"));
                }
                Ok(entry) => {
                    let uid = tx.maildrop.unique_id(entry);
                    self.ok(format_args!("{n} {}", uid.as_str()));
                }
                Err(e) => self.err(format_args!("{}", e.text())),
            },
            Command::List(None) | Command::Uidl(None) => {
                return self.listing(stream, matches!(cmd, Command::Uidl(_))).await;
            }
            Command::Retr(n) => return self.send_message(stream, n, None).await,
            Command::Top { msg, lines } => {
                return self.send_message(stream, msg, Some(lines)).await;
            }
            Command::Dele(n) => match tx.maildrop.delete(n) {
                Ok(()) => self.ok(format_args!("Message {n} marked for deletion")),
                Err(e) => self.err(format_args!("{}", e.text())),
            },
            Command::Noop => self.ok(format_args!("")),
            Command::Rset => {
                tx.maildrop.undelete_all();
                let (count, octets) = tx.maildrop.stat();
                self.ok(format_args!("{count} messages ({octets} octets)"));
            }
            Command::Stls | Command::User(_) | Command::Pass(_) | Command::Auth { .. } => {
                return self.bad("Already logged in");
            }
            Command::Capa | Command::Quit => {}
        }
        Flow::Continue
    }

    /// LIST or UIDL without an argument: one line per message not deleted.
    async fn listing(&mut self, stream: &mut Stream, uidl: bool) -> Flow {
        let Some(tx) = self.tx.as_ref() else {
            return Flow::Close;
        };
        let (count, octets) = tx.maildrop.stat();
        if uidl {
            self.out.status(b"+OK", format_args!(""));
        } else {
            self.out
                .status(b"+OK", format_args!("{count} messages ({octets} octets)"));
        }
        for (n, entry) in tx.maildrop.live() {
            if uidl {
                let uid = tx.maildrop.unique_id(entry);
                let _ = write!(self.out, "{n} {}\r\n", uid.as_str());
            } else {
                let _ = write!(self.out, "{n} {}\r\n", entry.size);
            }
            if self.out.spill(stream).await.is_err() {
                return Flow::Close;
            }
        }
        self.out.push(b".\r\n");
        Flow::Continue
    }

    /// RETR, or TOP with `lines`: the message from the store, stuffed.
    async fn send_message(&mut self, stream: &mut Stream, n: u32, lines: Option<u32>) -> Flow {
        let Some(tx) = self.tx.as_ref() else {
            return Flow::Close;
        };
        let blob_id = match tx.maildrop.get(n) {
            Ok(entry) => entry.blob_id,
            Err(e) => {
                self.err(format_args!("{}", e.text()));
                return Flow::Continue;
            }
        };
        // A read transaction for the length of this one response: the
        // bytes are written straight from the map. It pins the pages it
        // sees while the client reads, which is why it is not kept longer.
        let reader = match self.ctx.store.read() {
            Ok(reader) => reader,
            Err(e) => {
                self.store_failure(&e);
                return Flow::Continue;
            }
        };
        let message = match reader.blob(blob_id) {
            Ok(Some(message)) => message,
            Ok(None) => {
                // Expunged through IMAP since login, its last copy gone.
                self.err(format_args!("Message {n} was removed by another session"));
                return Flow::Continue;
            }
            Err(e) => {
                self.store_failure(&e);
                return Flow::Continue;
            }
        };
        let body = match lines {
            None => {
                self.ok(format_args!("{} octets", message.len()));
                self.counts.retr += 1;
                message
            }
            Some(lines) => {
                self.ok(format_args!("Top of message follows"));
                &message[..top_len(message, lines)]
            }
        };
        self.counts.bytes += body.len() as u64;
        for run in DotStuffed::new(body) {
            if self.out.put(stream, run).await.is_err() {
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    // --- UPDATE (RFC 1939 §6) ----------------------------------------------

    async fn quit(&mut self) -> Flow {
        self.quit = true;
        let Some(tx) = self.tx.take() else {
            let hostname = &self.ctx.config.hostname;
            self.out
                .status(b"+OK", format_args!("{hostname} POP3 server signing off"));
            return Flow::Close;
        };
        let uids = tx.maildrop.deleted_uids();
        self.counts.dele = uids.len() as u32;
        if uids.is_empty() {
            self.ok(format_args!("Logging out"));
            return Flow::Close;
        }
        // One commit for all of them. A message IMAP expunged meanwhile is
        // skipped by the store. The lock is held until the commit is done
        // (`tx` lives to the end), so the next session sees the result.
        match self.ctx.store.expunge(tx.maildrop.mailbox_id, uids).await {
            Ok(removed) => {
                self.ok(format_args!(
                    "Logging out; messages deleted: {}",
                    removed.len()
                ));
            }
            Err(e) => {
                log::error!(
                    "[{}] {}: UPDATE for {} failed: {e}",
                    self.id,
                    self.name,
                    tx.user
                );
                // RFC 1939 §6: "-ERR some deleted messages not removed".
                self.err(format_args!(
                    "[SYS/TEMP] Deleted messages were not removed; try again"
                ));
            }
        }
        drop(tx);
        Flow::Close
    }

    fn log_end(&self) {
        let Some(user) = &self.who else { return };
        let c = &self.counts;
        if self.quit {
            log::info!(
                "[{}] {}: quit user={user}, retr={}, dele={}, bytes={}",
                self.id,
                self.name,
                c.retr,
                c.dele,
                c.bytes
            );
        } else {
            // RFC 1939 §6: without QUIT there is no UPDATE.
            log::info!(
                "[{}] {}: closed without QUIT user={user}, retr={}, bytes={}; nothing deleted",
                self.id,
                self.name,
                c.retr,
                c.bytes
            );
        }
    }
}
