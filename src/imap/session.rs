//! One IMAP session (RFC 3501 §3 states, §5.5 pipelining): reading whole
//! commands with their literals, the state machine, STARTTLS, login, and
//! the commands that are not about mailboxes or messages. Mailbox commands
//! are in `mailboxes`, message commands in `messages`, and the untagged
//! updates of the selected mailbox in `selected`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::io::AsyncWriteExt;

use super::parse::{self, Command, CommandKind};
use super::selected::Selected;
use crate::auth::LoginResult;
use crate::auth::sasl::{self, Exchange, SaslError, Step};
use crate::server::{Conn, Context, Input, ReadError, Stream};
use crate::store::Account;

/// RFC 3501 §5.4: the autologout timer is at least 30 minutes.
pub const AUTOLOGOUT: Duration = Duration::from_secs(30 * 60);
/// Before login a client gets 3 minutes: the 30-minute rule is for
/// sessions (RFC 3501 §5.4), and idle unauthenticated connections only
/// hold places that others need.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(3 * 60);
/// Longest command line (long UID sets come in one line).
const MAX_LINE: usize = 64 * 1024;
/// Consecutive BAD commands before the session is closed.
const MAX_BAD: u32 = 20;
/// Failed logins in one session before it is closed.
const MAX_LOGIN_FAILURES: u32 = 5;
/// Commands per second a client may sustain (bursts of 4× allowed);
/// beyond it the session is slowed, not refused. Sync clients pipeline
/// one command per message (mbsync: a UID FETCH each), so this must be
/// well above what a first sync sends: at 200, a 3000-message sync took
/// 11 s instead of one or two.
const COMMANDS_PER_SECOND: f64 = 2000.0;
const BULK: usize = 64 * 1024;
/// Output buffer capacity kept between responses.
const OUT_KEEP: usize = 4 * 1024;

pub(super) enum Flow {
    Continue,
    StartTls,
    Close,
}

pub(super) struct Session {
    pub ctx: Rc<Context>,
    pub id: u64,
    pub peer: SocketAddr,
    pub input: Input,
    pub out: Vec<u8>,
    pub tls: bool,
    pub account: Option<Account>,
    pub selected: Option<Selected>,
    /// ENABLE CONDSTORE, or a command that implies it (RFC 7162 §3.1).
    pub condstore: bool,
    /// ENABLE QRESYNC (RFC 7162 §3.2.3).
    pub qresync: bool,
    bad: u32,
    login_failures: u32,
    /// Token bucket for the command rate.
    tokens: f64,
    last_command: Instant,
}

pub async fn session(conn: Conn, ctx: Rc<Context>) {
    let Conn {
        id, peer, stream, ..
    } = conn;
    let tls = stream.is_tls();
    let mut session = Session {
        ctx,
        id,
        peer,
        input: Input::new(),
        out: Vec::with_capacity(1024),
        tls,
        account: None,
        selected: None,
        condstore: false,
        qresync: false,
        bad: 0,
        login_failures: 0,
        tokens: COMMANDS_PER_SECOND * 4.0,
        last_command: Instant::now(),
    };
    session.run(stream).await;
}

/// Why no command came back.
enum ReadFailure {
    /// The session is over (closed, timed out, or a fatal refusal sent).
    Close,
    /// The command was refused before its literal; read the next one.
    Refused,
}

impl Session {
    pub fn put(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    pub async fn flush(&mut self, stream: &mut Stream) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let ok = stream.write_timed(&self.out, AUTOLOGOUT).await.is_ok();
        self.out.clear();
        // A large response (a first sync's FETCH) leaves a large buffer;
        // an idle session should not keep it.
        if self.out.capacity() > OUT_KEEP {
            self.out.shrink_to(OUT_KEEP);
        }
        ok
    }

    /// Whether plaintext logins are allowed here: inside TLS, or from
    /// this host (DESIGN.md).
    pub fn login_allowed(&self) -> bool {
        self.tls || self.peer.ip().is_loopback()
    }

    pub fn capabilities(&self) -> String {
        let mut caps = String::from("IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE");
        let more: &[&str] = match &self.account {
            None => {
                if !self.tls {
                    caps.push_str(" STARTTLS");
                }
                if self.login_allowed() {
                    // RFC 3501 §6.2.2: AUTH= for each SASL mechanism.
                    for mechanism in sasl::MECHANISMS {
                        caps.push_str(" AUTH=");
                        caps.push_str(mechanism);
                    }
                    &[]
                } else {
                    &["LOGINDISABLED"]
                }
            }
            Some(_) => &[
                "NAMESPACE",
                "UIDPLUS",
                "MOVE",
                "UNSELECT",
                "CHILDREN",
                "SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "CONDSTORE",
                "QRESYNC",
            ],
        };
        for cap in more {
            caps.push(' ');
            caps.push_str(cap);
        }
        caps
    }

    async fn run(&mut self, mut stream: Stream) {
        let greeting = format!(
            "* OK [CAPABILITY {}] {} smolmail IMAP ready\r\n",
            self.capabilities(),
            self.ctx.config.hostname
        );
        self.put(&greeting);
        loop {
            if self.input.line_len().is_none() && !self.flush(&mut stream).await {
                break;
            }
            let command = match self.read_command(&mut stream).await {
                Ok(c) => c,
                Err(ReadFailure::Refused) => continue,
                Err(ReadFailure::Close) => break,
            };
            self.pace().await;
            if self.ctx.is_shutting_down() {
                self.put("* BYE Server shutting down\r\n");
                break;
            }
            match self.execute(&command, &mut stream).await {
                Flow::Continue => {}
                Flow::Close => break,
                Flow::StartTls => {
                    if !self.flush(&mut stream).await {
                        break;
                    }
                    // RFC 3501 §6.2.1 / CVE-2011-0411: plaintext pipelined
                    // after STARTTLS is thrown away, never executed.
                    let dropped = self.input.discard();
                    if dropped > 0 {
                        log::warn!(
                            "[{}] imap: discarded {dropped} bytes of plaintext pipelined after STARTTLS",
                            self.id
                        );
                    }
                    let acceptor = self.ctx.tls.acceptor();
                    match stream.start_tls_timed(&acceptor).await {
                        Ok(tls) => stream = tls,
                        Err(e) => {
                            log::info!("[{}] imap: STARTTLS handshake failed: {e}", self.id);
                            return;
                        }
                    }
                    self.tls = true;
                }
            }
            if self.bad >= MAX_BAD {
                self.put("* BYE Too many invalid commands\r\n");
                log::info!(
                    "[{}] imap: closing after {MAX_BAD} invalid commands from {}",
                    self.id,
                    self.peer
                );
                break;
            }
        }
        self.flush(&mut stream).await;
        let _ = stream.close().await;
    }

    /// Slows a client that sends more than COMMANDS_PER_SECOND for long,
    /// and lets other sessions run between two commands: a pipelined
    /// burst whose reads and writes never wait would otherwise keep the
    /// executor thread to itself.
    async fn pace(&mut self) {
        smol::future::yield_now().await;
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_command).as_secs_f64();
        self.last_command = now;
        self.tokens =
            (self.tokens + elapsed * COMMANDS_PER_SECOND).min(COMMANDS_PER_SECOND * 4.0) - 1.0;
        if self.tokens < 0.0 {
            smol::Timer::after(Duration::from_secs_f64(-self.tokens / COMMANDS_PER_SECOND)).await;
        }
    }

    /// Reads one whole command: its lines and literals, as the parser
    /// wants them (see `parse` module docs), without the final CRLF.
    async fn read_command(&mut self, stream: &mut Stream) -> Result<Vec<u8>, ReadFailure> {
        let max_literal = self.ctx.config.max_message_size;
        let max_command = max_literal + MAX_LINE as u64;
        let mut command = Vec::new();
        loop {
            let idle = if self.account.is_some() {
                AUTOLOGOUT
            } else {
                LOGIN_TIMEOUT
            };
            let len = match self.input.line(stream, MAX_LINE, idle).await {
                Ok(len) => len,
                Err(ReadError::TooLong) => {
                    self.put("* BAD Command line too long\r\n");
                    self.bad += 1;
                    return Err(ReadFailure::Refused);
                }
                Err(ReadError::Timeout) => {
                    self.put("* BYE Autologout; idle for too long\r\n");
                    return Err(ReadFailure::Close);
                }
                Err(ReadError::Eof) | Err(ReadError::Io(_)) => return Err(ReadFailure::Close),
            };
            let raw = &self.input.buffered()[..len];
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let literal = parse::literal_at_end(line);
            command.extend_from_slice(line);
            self.input.consume(len);
            let Some(literal) = literal else {
                return Ok(command);
            };
            if literal.len > max_literal || command.len() as u64 + literal.len > max_command {
                if literal.non_sync {
                    // RFC 7888 §4: the data is already on its way; there is
                    // no way to skip it reliably, so the session ends.
                    self.put("* BYE [TOOBIG] Literal too big\r\n");
                    return Err(ReadFailure::Close);
                }
                let tag =
                    parse::peek_tag(&command).map(|t| String::from_utf8_lossy(t).into_owned());
                let line = format!(
                    "{} NO [TOOBIG] Literal too big (limit {max_literal} octets)\r\n",
                    tag.as_deref().unwrap_or("*")
                );
                self.put(&line);
                return Err(ReadFailure::Refused);
            }
            if !literal.non_sync {
                self.put("+ Ready for literal data\r\n");
                if !self.flush(stream).await {
                    return Err(ReadFailure::Close);
                }
            }
            command.extend_from_slice(b"\r\n");
            let mut remaining = literal.len as usize;
            command.reserve(remaining);
            if remaining > 4096 {
                self.input.reserve(BULK);
            }
            while remaining > 0 {
                if self.input.buffered().is_empty()
                    && self.input.fill(stream, BULK, AUTOLOGOUT).await.is_err()
                {
                    return Err(ReadFailure::Close);
                }
                let take = remaining.min(self.input.buffered().len());
                command.extend_from_slice(&self.input.buffered()[..take]);
                self.input.consume(take);
                remaining -= take;
            }
            self.input.shrink();
        }
    }

    pub fn tagged(&mut self, tag: &[u8], status: &str, text: &str) {
        self.out.extend_from_slice(tag);
        self.out.push(b' ');
        self.put(status);
        self.out.push(b' ');
        self.put(text);
        self.put("\r\n");
    }

    pub fn bad(&mut self, tag: &[u8], text: &str) {
        self.bad += 1;
        self.tagged(tag, "BAD", text);
    }

    async fn execute(&mut self, bytes: &[u8], stream: &mut Stream) -> Flow {
        let command = match parse::parse_command(bytes) {
            Ok(c) => c,
            Err(e) => {
                let tag = e.tag.map(<[u8]>::to_vec);
                log::debug!("[{}] imap: BAD: {}", self.id, e.reason);
                match tag {
                    Some(tag) => self.bad(&tag, e.reason),
                    None => {
                        self.bad += 1;
                        self.put(&format!("* BAD {}\r\n", e.reason));
                    }
                }
                return Flow::Continue;
            }
        };
        self.bad = 0;
        let Command { tag, kind } = command;
        let authenticated = self.account.is_some();
        let selected = self.selected.is_some();
        use CommandKind as K;
        let allowed = match &kind {
            K::Capability | K::Noop | K::Logout | K::Id(_) => true,
            K::StartTls | K::Login { .. } | K::Authenticate { .. } => !authenticated,
            K::Check
            | K::Close
            | K::Unselect
            | K::Expunge
            | K::UidExpunge(_)
            | K::Search { .. }
            | K::Fetch { .. } => selected,
            K::Store { .. } | K::Copy { .. } | K::Move { .. } => selected,
            _ => authenticated,
        };
        if !allowed {
            let why = if authenticated {
                "No mailbox selected"
            } else {
                "Log in first"
            };
            self.bad(
                tag,
                &format!("{} not valid in this state: {why}", kind.name()),
            );
            return Flow::Continue;
        }
        match kind {
            K::Capability => {
                let caps = self.capabilities();
                self.put(&format!("* CAPABILITY {caps}\r\n"));
                self.tagged(tag, "OK", "CAPABILITY completed");
            }
            K::Noop | K::Check => {
                self.sync(true).await;
                self.tagged(tag, "OK", "NOOP completed");
            }
            K::Logout => {
                self.put("* BYE Logging out\r\n");
                self.tagged(tag, "OK", "LOGOUT completed");
                return Flow::Close;
            }
            K::StartTls => {
                if self.tls {
                    self.bad(tag, "TLS is already active");
                    return Flow::Continue;
                }
                self.tagged(tag, "OK", "Begin TLS negotiation now");
                return Flow::StartTls;
            }
            K::Login { user, password } => {
                let user = String::from_utf8_lossy(&user).into_owned();
                let password = String::from_utf8_lossy(&password).into_owned();
                return self.login(tag, &user, password, "LOGIN", stream).await;
            }
            K::Authenticate { mechanism, initial } => {
                return self.authenticate(tag, mechanism, initial, stream).await;
            }
            K::Id(_) => {
                self.put(&format!(
                    "* ID (\"name\" \"smolmail\" \"version\" \"{}\")\r\n",
                    env!("CARGO_PKG_VERSION")
                ));
                self.tagged(tag, "OK", "ID completed");
            }
            K::Namespace => {
                self.put("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                self.tagged(tag, "OK", "NAMESPACE completed");
            }
            K::Enable(caps) => {
                let mut enabled = Vec::new();
                for cap in caps {
                    if cap.eq_ignore_ascii_case(b"CONDSTORE") && !self.condstore {
                        self.condstore = true;
                        enabled.push("CONDSTORE");
                    } else if cap.eq_ignore_ascii_case(b"QRESYNC") && !self.qresync {
                        // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                        self.qresync = true;
                        self.condstore = true;
                        enabled.push("QRESYNC");
                    }
                }
                self.put(&format!(
                    "* ENABLED{}{}\r\n",
                    if enabled.is_empty() { "" } else { " " },
                    enabled.join(" ")
                ));
                self.tagged(tag, "OK", "ENABLE completed");
            }
            K::Idle => return self.idle(tag, stream).await,
            other => return self.dispatch(tag, other, stream).await,
        }
        Flow::Continue
    }

    /// AUTHENTICATE (RFC 3501 §6.2.2) with SASL-IR (RFC 4959): the SASL
    /// exchange in `+ ` continuations, then the login.
    async fn authenticate(
        &mut self,
        tag: &[u8],
        mechanism: &[u8],
        initial: Option<&[u8]>,
        stream: &mut Stream,
    ) -> Flow {
        let mechanism = String::from_utf8_lossy(mechanism).to_ascii_uppercase();
        let mut step = Exchange::start(&mechanism, initial);
        if step != Step::Failed(SaslError::Unsupported) && !self.login_allowed() {
            self.tagged(tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
            return Flow::Continue;
        }
        let credentials = loop {
            match step {
                Step::Challenge(exchange, challenge) => {
                    self.put("+ ");
                    self.put(challenge);
                    self.put("\r\n");
                    let Some(line) = self.client_line(stream).await else {
                        return Flow::Close;
                    };
                    step = exchange.next(&line);
                }
                Step::Done(credentials) => break credentials,
                Step::Failed(SaslError::Unsupported) => {
                    self.tagged(tag, "NO", "Unsupported authentication mechanism");
                    return Flow::Continue;
                }
                // RFC 3501 §6.2.2: a cancelled exchange is answered BAD.
                Step::Failed(SaslError::Cancelled) => {
                    self.bad(tag, "Authentication cancelled");
                    return Flow::Continue;
                }
                Step::Failed(_) => {
                    self.bad(tag, "Cannot decode the authentication response");
                    return Flow::Continue;
                }
            }
        };
        let how = format!("AUTHENTICATE {mechanism}");
        let sasl::Credentials { username, password } = credentials;
        self.login(tag, &username, password, &how, stream).await
    }

    /// Sends what is queued and reads one line from the client (a SASL
    /// response); `None` when the connection is gone.
    async fn client_line(&mut self, stream: &mut Stream) -> Option<Vec<u8>> {
        if !self.flush(stream).await {
            return None;
        }
        let len = self.input.line(stream, MAX_LINE, AUTOLOGOUT).await.ok()?;
        let line = self.input.buffered()[..len].to_vec();
        self.input.consume(len);
        Some(line)
    }

    async fn login(
        &mut self,
        tag: &[u8],
        user: &str,
        password: String,
        how: &str,
        stream: &mut Stream,
    ) -> Flow {
        if !self.login_allowed() {
            self.tagged(
                tag,
                "NO",
                "[PRIVACYREQUIRED] Use STARTTLS first (LOGINDISABLED)",
            );
            return Flow::Continue;
        }
        if !self.flush(stream).await {
            return Flow::Close;
        }
        match self.ctx.login(self.peer.ip(), user, password).await {
            LoginResult::Ok(account) => {
                log::info!("[{}] imap: login {} ({how})", self.id, account.address);
                self.account = Some(account);
                let caps = self.capabilities();
                self.tagged(tag, "OK", &format!("[CAPABILITY {caps}] Logged in"));
            }
            LoginResult::Failed => {
                self.login_failures += 1;
                log::warn!(
                    "[{}] imap: {how} failed for {user:?} from {}",
                    self.id,
                    self.peer
                );
                self.tagged(tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
                if self.login_failures >= MAX_LOGIN_FAILURES {
                    self.put("* BYE Too many failed logins\r\n");
                    return Flow::Close;
                }
            }
            LoginResult::Blocked(b) => {
                log::warn!(
                    "[{}] imap: login refused for {}: too many failures (retry in {}s)",
                    self.id,
                    self.peer,
                    b.retry_after.as_secs()
                );
                self.tagged(
                    tag,
                    "NO",
                    "[UNAVAILABLE] Too many failed logins; try again later",
                );
            }
            LoginResult::Unavailable(e) => {
                log::error!("[{}] imap: login lookup failed: {e}", self.id);
                self.tagged(
                    tag,
                    "NO",
                    "[UNAVAILABLE] Temporary failure; try again later",
                );
            }
        }
        Flow::Continue
    }

    /// IDLE (RFC 2177): untagged updates as they happen until DONE.
    async fn idle(&mut self, tag: &[u8], stream: &mut Stream) -> Flow {
        self.put("+ idling\r\n");
        loop {
            // Listen before looking, so a change in between is not missed.
            let watch = self.selected.as_ref().map(|s| self.ctx.store.watch(s.id));
            self.sync(true).await;
            if !self.flush(stream).await {
                return Flow::Close;
            }
            if let Some(len) = self.input.line_len() {
                let done = parse::is_done(self.input.buffered()[..len].trim_ascii_end());
                self.input.consume(len);
                if done {
                    self.tagged(tag, "OK", "IDLE terminated");
                } else {
                    self.bad(tag, "Expected DONE");
                }
                return Flow::Continue;
            }
            let changed = async {
                match watch {
                    Some(listener) => listener.await,
                    None => std::future::pending().await,
                }
                Ok(0)
            };
            let input = self.input.fill(stream, MAX_LINE, AUTOLOGOUT);
            match smol::future::or(input, changed).await {
                Ok(_) => {}
                Err(ReadError::Timeout) => {
                    self.put("* BYE Autologout; idle for too long\r\n");
                    return Flow::Close;
                }
                Err(_) => return Flow::Close,
            }
            if self.ctx.is_shutting_down() {
                self.put("* BYE Server shutting down\r\n");
                return Flow::Close;
            }
        }
    }
}
