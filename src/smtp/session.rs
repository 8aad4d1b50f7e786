//! One SMTP session, on any of the three SMTP services: the MTA port 25
//! (RFC 5321), submission 587 with STARTTLS (RFC 6409, RFC 3207) and
//! submissions 465 with implicit TLS (RFC 8314).
//!
//! Replies are queued and written when the client has no further complete
//! command waiting (RFC 2920 PIPELINING), and always before the session
//! waits for message content. A message is acknowledged with `250` only
//! after the store's commit holding it has returned (DESIGN.md).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use smol::io::AsyncWriteExt;

use super::command::{self, Body, Command, MailParams, ReversePath};
use super::policy;
use crate::auth::LoginResult;
use crate::auth::sasl::{self, Exchange, SaslError, Step};
use crate::config::Service;
use crate::context::{Conn, Context};
use crate::net::{self, ClientAddr, Input, ReadError, Stream};
use crate::store::{Account, OutboundRecipient, StoreError};

/// RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for a command.
pub(super) const IDLE: Duration = Duration::from_secs(300);
/// Longest command line; RFC 5321 says 512, AUTH lines may be longer.
const MAX_LINE: usize = 4096;
/// Postfix's smtpd_hard_error_limit.
const MAX_ERRORS: u32 = 20;
/// Postfix's smtpd_junk_command_limit (NOOP, RSET, VRFY, HELP, EXPN).
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
    pub(super) remote: Vec<OutboundRecipient>,
    /// BDAT content so far: trace headers, then the chunks.
    pub(super) chunks: Option<Chunks>,
}

pub(super) struct Chunks {
    pub(super) message: Vec<u8>,
    pub(super) base: usize,
    pub(super) last_cr: bool,
    pub(super) bare_line_ending: bool,
    pub(super) too_big: bool,
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
            if self.errors >= MAX_ERRORS || self.junk > MAX_JUNK {
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

    /// AUTH is offered on submission, and on port 25 with --smtp-auth;
    /// only inside TLS unless the client is on this host (RFC 4954 §4,
    /// DESIGN.md).
    fn auth_enabled(&self) -> bool {
        self.service != Service::Smtp || self.ctx.config.smtp_auth
    }

    fn auth_offered(&self) -> bool {
        self.auth_enabled()
            && (self.tls.is_some() || ClientAddr::from(self.peer).may_login_without_tls())
    }

    fn trusted(&self) -> bool {
        self.ctx.config.is_trusted(self.peer.ip())
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
            Command::Ehlo(name) => self.ehlo(name, true),
            Command::Helo(name) => self.ehlo(name, false),
            Command::StartTls => return self.starttls(),
            Command::Auth { mechanism, initial } => {
                let (mechanism, initial) =
                    (mechanism.to_ascii_uppercase(), initial.map(<[u8]>::to_vec));
                return self.auth(&mechanism, initial, stream).await;
            }
            Command::Mail(sender, params) => self.mail(sender, params),
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
                self.reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n");
            }
        }
        Flow::Continue
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
        if self.auth_offered() && self.account.is_none() {
            lines.push(format!("AUTH {}", sasl::MECHANISMS.join(" ")));
        }
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            self.out
                .extend_from_slice(format!("250{sep}{line}\r\n").as_bytes());
        }
    }

    fn starttls(&mut self) -> Flow {
        if self.tls.is_some() {
            self.refuse("503 5.5.1 Error: TLS already active\r\n");
            return Flow::Continue;
        }
        self.reply("220 2.0.0 Ready to start TLS\r\n");
        Flow::StartTls
    }

    /// Reads one SASL response line after a 334 challenge.
    async fn sasl_line(&mut self, challenge: &str, stream: &mut Stream) -> Option<Vec<u8>> {
        self.reply(&format!("334 {challenge}\r\n"));
        if !self.flush(stream).await {
            return None;
        }
        match self.input.line(stream, MAX_LINE, IDLE).await {
            Ok(len) => {
                let line = self.input.buffered()[..len].to_vec();
                self.input.consume(len);
                Some(line)
            }
            Err(_) => None,
        }
    }

    /// Runs the SASL exchange (RFC 4954 §4): the credentials, the reply
    /// that refuses them, or `None` when the connection is gone.
    async fn sasl(
        &mut self,
        mechanism: &str,
        initial: Option<&[u8]>,
        stream: &mut Stream,
    ) -> Option<Result<sasl::Credentials, &'static str>> {
        let mut step = Exchange::start(mechanism, initial);
        loop {
            let refusal = match step {
                Step::Challenge(exchange, challenge) => {
                    let line = self.sasl_line(challenge, stream).await?;
                    step = exchange.next(&line);
                    continue;
                }
                Step::Done(credentials) => return Some(Ok(credentials)),
                Step::Failed(SaslError::Unsupported) => {
                    "504 5.5.4 Unrecognized authentication type\r\n"
                }
                Step::Failed(SaslError::Cancelled) => "501 5.7.0 Authentication cancelled\r\n",
                Step::Failed(_) => "501 5.5.2 Error: cannot decode the authentication response\r\n",
            };
            return Some(Err(refusal));
        }
    }

    async fn auth(
        &mut self,
        mechanism: &str,
        initial: Option<Vec<u8>>,
        stream: &mut Stream,
    ) -> Flow {
        if self.helo.is_none() || !self.esmtp {
            self.refuse("503 5.5.1 Error: send EHLO first\r\n");
            return Flow::Continue;
        }
        if !self.auth_enabled() {
            self.refuse("503 5.5.1 Error: authentication not enabled\r\n");
            return Flow::Continue;
        }
        if !self.auth_offered() {
            self.refuse("530 5.7.0 Must issue a STARTTLS command first\r\n");
            return Flow::Continue;
        }
        if self.account.is_some() {
            self.refuse("503 5.5.1 Error: already authenticated\r\n");
            return Flow::Continue;
        }
        if self.tx.is_some() {
            self.refuse("503 5.5.1 Error: MAIL transaction in progress\r\n");
            return Flow::Continue;
        }
        let credentials = match self.sasl(mechanism, initial.as_deref(), stream).await {
            Some(Ok(credentials)) => credentials,
            Some(Err(reply)) => {
                self.refuse(reply);
                return Flow::Continue;
            }
            None => return Flow::Close,
        };
        let username = credentials.username.clone();
        // Flush what is queued so the limiter's delay is not also spent
        // holding earlier replies back.
        if !self.flush(stream).await {
            return Flow::Close;
        }
        match self
            .ctx
            .login(self.peer.ip(), &username, credentials.password)
            .await
        {
            LoginResult::Ok(account) => {
                log::info!(
                    "[{}] {}: authenticated {} ({mechanism})",
                    self.id,
                    self.name(),
                    account.address
                );
                self.account = Some(account);
                self.reply("235 2.7.0 Authentication successful\r\n");
            }
            LoginResult::Failed => {
                log::warn!(
                    "[{}] {}: AUTH {mechanism} failed for {username:?} from {}",
                    self.id,
                    self.name(),
                    self.peer
                );
                self.refuse("535 5.7.8 Error: authentication failed\r\n");
            }
            LoginResult::Blocked(b) => {
                log::warn!(
                    "[{}] {}: AUTH refused for {}: too many failures (retry in {}s)",
                    self.id,
                    self.name(),
                    self.peer,
                    b.retry_after.as_secs()
                );
                self.refuse("454 4.7.0 Temporary authentication failure: too many failures, try again later\r\n");
            }
            LoginResult::Unavailable(e) => {
                log::error!("[{}] {}: AUTH lookup failed: {e}", self.id, self.name());
                self.reply("454 4.7.0 Temporary authentication failure\r\n");
            }
        }
        Flow::Continue
    }

    fn mail(&mut self, sender: ReversePath, params: MailParams) {
        if self.helo.is_none() {
            self.refuse("503 5.5.1 Error: send HELO/EHLO first\r\n");
            return;
        }
        if self.tx.is_some() {
            self.refuse("503 5.5.1 Error: nested MAIL command\r\n");
            return;
        }
        let extended = params.size.is_some()
            || params.body != Body::SevenBit
            || params.smtputf8
            || params.envid.is_some()
            || params.ret != Default::default();
        if extended && !self.esmtp {
            self.refuse("555 5.5.4 Error: parameters need EHLO\r\n");
            return;
        }
        // RFC 6409 §4.3 / §6.1: submission needs AUTH (trusted networks
        // excepted, as Postfix's permit_mynetworks).
        if self.service != Service::Smtp && self.account.is_none() && !self.trusted() {
            self.refuse("530 5.7.0 Authentication required\r\n");
            return;
        }
        let limit = self.ctx.config.max_message_size;
        if params.size.is_some_and(|s| s > limit) {
            self.refuse("552 5.3.4 Message size exceeds fixed limit\r\n");
            return;
        }
        if let ReversePath::Mailbox(path) = &sender {
            let check = self.ctx.store.read().and_then(|r| match &self.account {
                Some(account) => policy::sender_owned(&r, account, path),
                None if self.service != Service::Smtp => policy::sender_is_local(&r, path),
                None => Ok(true),
            });
            match check {
                Ok(true) => {}
                Ok(false) => {
                    let reply = match &self.account {
                        Some(a) => format!(
                            "553 5.7.1 <{}>: Sender address rejected: not owned by user {}\r\n",
                            path.address(),
                            a.address
                        ),
                        None => format!(
                            "553 5.7.1 <{}>: Sender address rejected: not in a local domain\r\n",
                            path.address()
                        ),
                    };
                    self.refuse(&reply);
                    return;
                }
                Err(e) => {
                    self.store_trouble(&e);
                    return;
                }
            }
        }
        self.tx = Some(Transaction {
            queue_id: crate::store::new_queue_id(),
            sender,
            params,
            recipients: Vec::new(),
            rejected: 0,
            local: Vec::new(),
            remote: Vec::new(),
            chunks: None,
        });
        self.reply("250 2.1.0 Ok\r\n");
    }

    fn rcpt(&mut self, path: command::Path, params: command::RcptParams) {
        let Some(tx) = &self.tx else {
            self.refuse("503 5.5.1 Error: need MAIL command\r\n");
            return;
        };
        if tx.chunks.is_some() {
            self.refuse("503 5.5.1 Error: BDAT in progress\r\n");
            return;
        }
        // RFC 5321 §4.5.3.1.10: 452 for too many recipients.
        if tx.recipients.len() >= self.ctx.config.max_recipients as usize {
            self.reply("452 4.5.3 Error: too many recipients\r\n");
            return;
        }
        // Relaying needs AUTH, or a trusted client sending as one of our
        // domains (a trusted printer may not forge outside senders).
        let relay_allowed = self.account.is_some()
            || (self.trusted()
                && match &tx.sender {
                    ReversePath::Null => true,
                    ReversePath::Mailbox(s) => self
                        .ctx
                        .store
                        .read()
                        .and_then(|r| r.is_local_domain(&s.domain))
                        .unwrap_or(false),
                });
        let routed = self
            .ctx
            .store
            .read()
            .and_then(|r| policy::route(&r, &path, &self.ctx.config.hostname, relay_allowed));
        let route = match routed {
            Ok(Ok(route)) => route,
            Ok(Err(refusal)) => {
                if let Some(tx) = &mut self.tx {
                    tx.rejected += 1;
                }
                self.refuse(&refusal);
                return;
            }
            Err(e) => {
                self.store_trouble(&e);
                return;
            }
        };
        if !route.remote.is_empty() && self.ctx.queue_full() {
            self.reply("452 4.3.1 Insufficient system storage: the outbound queue is full\r\n");
            return;
        }
        let Some(tx) = &mut self.tx else { return };
        for account in route.local {
            if !tx.local.contains(&account) {
                tx.local.push(account);
            }
        }
        for address in route.remote {
            if !tx.remote.iter().any(|r| r.address == address) {
                tx.remote.push(OutboundRecipient {
                    address,
                    notify: params.notify,
                    orcpt: params.orcpt.clone(),
                    ..Default::default()
                });
            }
        }
        tx.recipients.push(path.address());
        self.reply("250 2.1.5 Ok\r\n");
    }

    pub(super) fn store_trouble(&mut self, e: &StoreError) {
        log::error!("[{}] {}: store error: {e}", self.id, self.name());
        self.reply("451 4.3.0 Error: temporary local problem, try again later\r\n");
    }
}
