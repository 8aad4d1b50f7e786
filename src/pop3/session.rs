//! One POP3 conversation (RFC 1939 §3–§6): the AUTHORIZATION state with
//! USER/PASS, AUTH (RFC 5034) and STLS (RFC 2595); the TRANSACTION state
//! over a snapshot of the INBOX; the UPDATE state at QUIT, which removes the
//! messages marked deleted in one store commit.
//!
//! Replies are collected in a small buffer and written when the client has
//! no further complete command waiting (RFC 2449 §6.6 PIPELINING): a burst
//! of commands costs one write. Message bodies are written from the LMDB
//! map, in the runs that [`DotStuffed`](super::DotStuffed) cuts, without
//! copying the message.
//!
//! This file holds the session's state, the read loop, replies, CAPA and
//! the UPDATE state; the AUTHORIZATION state is in `authorization`, the
//! TRANSACTION state in `transaction`.

use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::io::AsyncWriteExt;

use super::command::{self, Command};
use super::maildrop::{Lock, Maildrop};
use super::{IDLE_TIMEOUT, LOGIN_DEADLINE, MAX_BAD_COMMANDS, MAX_JUNK_COMMANDS, MAX_LINE};
use crate::auth::sasl::{self, Exchange};
use crate::config::Service;
use crate::context::{Conn, Context};
use crate::net::{self, Input, Output, ReadError, Stream};

mod authorization;
mod transaction;

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
    /// Commands before login that did not try to log in.
    junk: u32,
    counts: Counts,
    shutdown: event_listener::EventListener,
    /// When the connection opened: the login deadline counts from here.
    opened: Instant,
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
            junk: 0,
            counts: Counts::default(),
            shutdown,
            opened: Instant::now(),
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
            let timeout = self.read_timeout();
            let read = async { Some(input.line(stream, MAX_LINE, timeout).await) };
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
                Some(Err(ReadError::Timeout)) if self.tx.is_none() => {
                    log::info!(
                        "[{}] {}: {} did not log in within {} s; closing",
                        self.id,
                        self.name,
                        self.peer,
                        LOGIN_DEADLINE.as_secs()
                    );
                    self.err(format_args!("Login time is over"));
                    return Flow::Close;
                }
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

    /// How long the next read may wait: the autologout timer in the
    /// TRANSACTION state, what is left of the login deadline before it.
    fn read_timeout(&self) -> Duration {
        match self.tx {
            Some(_) => IDLE_TIMEOUT,
            None => (self.opened + LOGIN_DEADLINE).saturating_duration_since(Instant::now()),
        }
    }

    async fn line(&mut self, stream: &mut Stream, line: &[u8]) -> Flow {
        if let Some(exchange) = self.sasl.take() {
            return self.sasl_step(exchange.next(line)).await;
        }
        let parsed = command::parse(line);
        let logging_in = matches!(
            parsed,
            Ok(Command::Pass(_)
                | Command::Quit
                | Command::Auth {
                    mechanism: Some(_),
                    ..
                })
        );
        if self.tx.is_none() && !logging_in {
            self.junk += 1;
            if self.junk > MAX_JUNK_COMMANDS {
                log::info!(
                    "[{}] {}: {} sent {MAX_JUNK_COMMANDS} commands without logging in; closing",
                    self.id,
                    self.name,
                    self.peer
                );
                self.err(format_args!("Too many commands without logging in"));
                return Flow::Close;
            }
        }
        match parsed {
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

    fn store_failure(&mut self, e: &crate::store::StoreError) {
        log::log!(e.log_level(), "[{}] {}: store: {e}", self.id, self.name);
        self.err(format_args!("[SYS/TEMP] Temporary server failure"));
    }

    // --- commands of every state ------------------------------------------

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
