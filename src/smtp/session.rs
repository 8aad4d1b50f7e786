//! One SMTP session, on any of the three SMTP services: the MTA port 25
//! (RFC 5321), submission 587 with STARTTLS (RFC 6409, RFC 3207) and
//! submissions 465 with implicit TLS (RFC 8314).
//!
//! Replies are queued and written when the client has no further complete
//! command waiting (RFC 2920 PIPELINING), and always before the session
//! waits for message content. A message is acknowledged with `250` only
//! after the store's commit holding it has returned (DESIGN.md).
//!
//! This file holds the session's state, the command loop and dispatch,
//! EHLO and STARTTLS; AUTH is in `auth`, MAIL and RCPT in `envelope`, and
//! DATA and BDAT in `super::transfer`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use smol::io::AsyncWriteExt;

use super::command::{self, Command, MailParams, ReversePath};
use crate::auth::sasl;
use crate::config::Service;
use crate::context::{Conn, Context};
use crate::net::{self, Input, ReadError, Stream};
use crate::store::{Account, OutboundRecipient, StoreError};

mod auth;
mod envelope;
mod quota;

/// RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for a command.
pub(super) const IDLE: Duration = Duration::from_secs(300);
/// Longest command line; RFC 5321 says 512, AUTH lines may be longer.
const MAX_LINE: usize = 4096;
/// Postfix's smtpd_hard_error_limit.
const MAX_ERRORS: u32 = 20;
/// Postfix's smtpd_junk_command_limit: commands that do nothing (NOOP,
/// RSET, VRFY, HELP, EXPN, and EHLO/HELO before AUTH or MAIL), so that a
/// connection that never sends mail cannot keep the server answering.
const MAX_JUNK: u32 = 100;
/// Commands in one session, all kinds.
const MAX_COMMANDS: u32 = 100_000;
/// Read size while receiving content.
pub(super) const BULK: usize = 64 * 1024;

/// What the command loop does next.
pub(super) enum Flow {
    Continue,
    StartTls,
    Close,
}

/// A transaction from MAIL to the end of DATA/BDAT LAST.
pub(super) struct Transaction {
    pub(super) queue_id: String,
    pub(super) sender: ReversePath,
    pub(super) params: MailParams,
    /// Accepted recipients as given (for the log and `for <...>`).
    pub(super) recipients: Vec<String>,
    pub(super) rejected: u32,
    pub(super) local: Vec<u64>,
    /// The local accounts' addresses, for the quota check at the end.
    pub(super) accounts: Vec<String>,
    pub(super) remote: Vec<OutboundRecipient>,
    /// Recipients delivered here that asked NOTIFY=SUCCESS (RFC 3461
    /// §4.1): address as given and ORCPT, for the "delivered" notice.
    pub(super) notify_delivered: Vec<(String, Option<String>)>,
    /// BDAT content so far: trace headers, then the chunks.
    pub(super) chunks: Option<Chunks>,
}

pub(super) struct Chunks {
    /// The memory budget held by `message` (its capacity).
    pub(super) reservation: crate::net::Reservation,
    pub(super) message: Vec<u8>,
    pub(super) base: usize,
    pub(super) last_cr: bool,
    pub(super) bare_line_ending: bool,
}

pub(super) struct Session {
    pub(super) ctx: Rc<Context>,
    pub(super) id: u64,
    pub(super) service: Service,
    pub(super) peer: SocketAddr,
    pub(super) input: Input,
    pub(super) out: Vec<u8>,
    pub(super) helo: Option<String>,
    pub(super) esmtp: bool,
    pub(super) tls: Option<String>,
    pub(super) account: Option<Account>,
    pub(super) tx: Option<Transaction>,
    pub(super) errors: u32,
    pub(super) junk: u32,
    /// A MAIL command was seen: EHLO/HELO no longer count as junk.
    pub(super) mail_seen: bool,
}

/// Runs the session to its end.
pub async fn session(conn: Conn, ctx: Rc<Context>) {
    let Conn {
        id,
        service,
        peer,
        stream,
        ..
    } = conn;
    let tls = stream.tls_description();
    let mut session = Session {
        ctx,
        id,
        service,
        peer,
        input: Input::new(),
        out: Vec::with_capacity(512),
        helo: None,
        esmtp: false,
        tls,
        account: None,
        tx: None,
        errors: 0,
        junk: 0,
        mail_seen: false,
    };
    session.run(stream).await;
}

impl Session {
    pub(super) fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
    }

    pub(super) async fn flush(&mut self, stream: &mut Stream) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let ok = stream.write_timed(&self.out, IDLE).await.is_ok();
        self.out.clear();
        ok
    }

    pub(super) fn hostname(&self) -> &str {
        &self.ctx.config.hostname
    }

    pub(super) fn name(&self) -> &'static str {
        self.service.name()
    }

    async fn run(&mut self, mut stream: Stream) {
        let greeting = format!("220 {} ESMTP smolmail\r\n", self.hostname());
        self.reply(&greeting);
        let mut commands = 0u32;
        loop {
            if self.input.line_len().is_none() && !self.flush(&mut stream).await {
                break;
            }
            let len = match self.input.line(&mut stream, MAX_LINE, IDLE).await {
                Ok(len) => len,
                Err(ReadError::TooLong) => {
                    self.reply("500 5.5.2 Error: line too long\r\n");
                    if self.error() {
                        break;
                    }
                    continue;
                }
                Err(ReadError::Timeout) => {
                    log::info!("[{}] {}: timeout after {IDLE:?} idle", self.id, self.name());
                    let line = format!("421 4.4.2 {} Error: timeout exceeded\r\n", self.hostname());
                    self.reply(&line);
                    break;
                }
                Err(ReadError::Eof) => break,
                Err(ReadError::Io(e)) => {
                    log::info!("[{}] {}: read error: {e}", self.id, self.name());
                    break;
                }
            };
            commands += 1;
            if commands > MAX_COMMANDS {
                let line = format!("421 4.7.0 {} Error: too many commands\r\n", self.hostname());
                self.reply(&line);
                break;
            }
            if self.ctx.is_shutting_down() {
                let line = format!(
                    "421 4.3.2 {} Service shutting down, try again later\r\n",
                    self.hostname()
                );
                self.reply(&line);
                break;
            }
            let line = self.input.buffered()[..len].to_vec();
            self.input.consume(len);
            match self.command(&line, &mut stream).await {
                Flow::Continue => {}
                Flow::Close => break,
                Flow::StartTls => {
                    if !self.start_tls(&mut stream).await {
                        return;
                    }
                }
            }
            if self.junk > MAX_JUNK {
                let line = format!("421 4.7.0 {} Error: too many commands\r\n", self.hostname());
                self.reply(&line);
                log::info!(
                    "[{}] {}: closing after {MAX_JUNK} commands that do nothing from {}",
                    self.id,
                    self.name(),
                    self.peer
                );
                break;
            }
            if self.errors >= MAX_ERRORS {
                let line = format!("421 4.7.0 {} Error: too many errors\r\n", self.hostname());
                self.reply(&line);
                log::info!(
                    "[{}] {}: closing after too many errors from {}",
                    self.id,
                    self.name(),
                    self.peer
                );
                break;
            }
        }
        self.flush(&mut stream).await;
        let _ = stream.close().await;
    }

    /// After the positive reply to STARTTLS: the reply out, the pipelined
    /// plaintext thrown away, the handshake; false if the session is over.
    async fn start_tls(&mut self, stream: &mut Stream) -> bool {
        if !self.flush(stream).await {
            return false;
        }
        // RFC 3207 §4.2 / CVE-2011-0411: anything the client pipelined
        // after STARTTLS was sent in the clear and is thrown away, never
        // executed inside TLS.
        let acceptor = self.ctx.tls.acceptor();
        let who = format!("[{}] {}", self.id, self.name());
        let upgrade = net::starttls(stream, &mut self.input, &acceptor, &who, "STARTTLS");
        if upgrade.await.is_err() {
            return false;
        }
        self.tls = stream.tls_description();
        // RFC 3207 §4.2: forget everything learned before TLS.
        self.helo = None;
        self.esmtp = false;
        self.account = None;
        self.tx = None;
        log::info!(
            "[{}] {}: TLS started ({})",
            self.id,
            self.name(),
            self.tls.as_deref().unwrap_or("")
        );
        true
    }

    /// Counts an error; true when the session has had enough.
    fn error(&mut self) -> bool {
        self.errors += 1;
        self.errors >= MAX_ERRORS
    }

    pub(super) fn refuse(&mut self, reply: &str) {
        log::info!(
            "[{}] {}: reject from {}: {}",
            self.id,
            self.name(),
            self.peer,
            reply.trim_end()
        );
        self.reply(reply);
        self.errors += 1;
    }

    async fn command(&mut self, line: &[u8], stream: &mut Stream) -> Flow {
        let command = match command::parse(line) {
            Ok(c) => c,
            Err(e) => {
                let reply = e.reply();
                self.refuse(&reply);
                return Flow::Continue;
            }
        };
        match command {
            Command::Ehlo(name) => {
                self.count_greeting();
                self.ehlo(name, true)
            }
            Command::Helo(name) => {
                self.count_greeting();
                self.ehlo(name, false)
            }
            Command::StartTls => return self.starttls(),
            Command::Auth { mechanism, initial } => {
                let (mechanism, initial) =
                    (mechanism.to_ascii_uppercase(), initial.map(<[u8]>::to_vec));
                return self.auth(&mechanism, initial, stream).await;
            }
            Command::Mail(sender, params) => {
                self.mail_seen = true;
                self.mail(sender, params)
            }
            Command::Rcpt(path, params) => self.rcpt(path, params),
            Command::Data => return self.data(stream).await,
            Command::Bdat { size, last } => return self.bdat(size, last, stream).await,
            Command::Rset => {
                self.junk += 1;
                self.tx = None;
                self.reply("250 2.0.0 Ok\r\n");
            }
            Command::Noop => {
                self.junk += 1;
                self.reply("250 2.0.0 Ok\r\n");
            }
            Command::Quit => {
                self.reply("221 2.0.0 Bye\r\n");
                return Flow::Close;
            }
            // RFC 5321 §3.5.3: 252 when we will not verify but will accept.
            Command::Vrfy => {
                self.junk += 1;
                self.reply(
                    "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n",
                );
            }
            Command::Expn => {
                self.junk += 1;
                self.reply("502 5.5.1 EXPN not available\r\n");
            }
            Command::Help => {
                self.junk += 1;
                self.help();
            }
        }
        Flow::Continue
    }

    /// EHLO/HELO is junk until the client authenticates or starts mail:
    /// repeating it is how a client keeps a connection busy for nothing.
    fn count_greeting(&mut self) {
        if self.account.is_none() && !self.mail_seen {
            self.junk += 1;
        }
    }

    fn ehlo(&mut self, name: &str, esmtp: bool) {
        // RFC 5321 §4.1.4: EHLO resets any transaction.
        self.tx = None;
        self.helo = Some(name.to_string());
        self.esmtp = esmtp;
        let host = self.hostname().to_string();
        if !esmtp {
            self.reply(&format!("250 {host}\r\n"));
            return;
        }
        let mut lines = vec![
            format!("{host} greets {name}"),
            "PIPELINING".into(),
            format!("SIZE {}", self.ctx.config.max_message_size),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
            "CHUNKING".into(),
            "DSN".into(),
        ];
        if self.tls.is_none() {
            lines.push("STARTTLS".into());
        }
        if self.auth_listed() {
            lines.push(format!("AUTH {}", sasl::MECHANISMS.join(" ")));
        }
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            self.out
                .extend_from_slice(format!("250{sep}{line}\r\n").as_bytes());
        }
    }

    /// AUTH is listed (EHLO, HELP) where offered and not yet done.
    fn auth_listed(&self) -> bool {
        self.auth_offered() && self.account.is_none()
    }

    /// RFC 5321 §4.1.1.8: HELP names the commands this session takes,
    /// the optional ones exactly as EHLO offers them here.
    fn help(&mut self) {
        let mut line = "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP"
            .to_string();
        if self.tls.is_none() {
            line.push_str(" STARTTLS");
        }
        if self.auth_listed() {
            line.push_str(" AUTH");
        }
        line.push_str("\r\n");
        self.reply(&line);
    }

    fn starttls(&mut self) -> Flow {
        if self.tls.is_some() {
            self.refuse("503 5.5.1 Error: TLS already active\r\n");
            return Flow::Continue;
        }
        self.reply("220 2.0.0 Ready to start TLS\r\n");
        Flow::StartTls
    }

    pub(super) fn store_trouble(&mut self, e: &StoreError) {
        log::log!(
            e.log_level(),
            "[{}] {}: store error: {e}",
            self.id,
            self.name()
        );
        match e {
            StoreError::Full => self.reply("452 4.3.1 Insufficient system storage\r\n"),
            _ => self.reply("451 4.3.0 Error: temporary local problem, try again later\r\n"),
        }
    }
}
