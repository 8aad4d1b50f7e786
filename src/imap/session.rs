//! One IMAP session (RFC 3501 §3 states, §5.5 pipelining): reading whole
//! commands with their literals, the output buffer, STARTTLS, login and
//! AUTHENTICATE, ENABLE and IDLE. Its state is private: the command
//! handlers (`dispatch` routes to them) reach it through the methods
//! here. Mailbox commands are in `mailboxes`, FETCH in `fetch`, other
//! message commands in `messages`, and the untagged updates of the
//! selected mailbox in `selected`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::io::AsyncWriteExt;

use super::parse;
use super::rev2::Rev;
use super::selected::Selected;
use crate::auth::{LoginResult, sasl};
use crate::context::{Conn, Context};
use crate::net::{self, ClientAddr, Input, ReadError, Reservation, Stream};
use crate::store::Account;

mod read;

/// RFC 3501 §5.4: the autologout timer is at least 30 minutes.
const AUTOLOGOUT: Duration = Duration::from_secs(30 * 60);
/// A connection must have logged in this long after it opened, or it is
/// closed (Dovecot's imap-login allows a minute too): the 30-minute rule
/// is for sessions (RFC 3501 §5.4), and unauthenticated connections only
/// hold places that others need (DESIGN.md "Budgets").
const LOGIN_DEADLINE: Duration = Duration::from_secs(60);
/// Longest command line (long UID sets come in one line).
const MAX_LINE: usize = 64 * 1024;
/// Consecutive BAD commands before the session is closed.
const MAX_BAD: u32 = 20;
/// Commands before login that do not try to log in (CAPABILITY, NOOP, ID,
/// STARTTLS, anything refused): a client logs in with about five, so past
/// this the connection is only holding a place (DESIGN.md "Budgets").
const MAX_JUNK: u32 = 50;
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
    /// COMPRESS said OK: flush it, then deflate (RFC 4978 §3).
    Compress,
    Close,
}

pub(super) struct Session {
    ctx: Rc<Context>,
    id: u64,
    peer: SocketAddr,
    /// imap or imaps, for the metrics' `service` label.
    service: crate::config::Service,
    input: Input,
    /// What is queued for the client; [`Session::flush`] sends it.
    out: Vec<u8>,
    tls: bool,
    account: Option<Account>,
    selected: Option<Selected>,
    /// ENABLE CONDSTORE, or a command that implies it (RFC 7162 §3.1).
    condstore: bool,
    /// ENABLE QRESYNC (RFC 7162 §3.2.3).
    qresync: bool,
    /// ENABLE UTF8=ACCEPT (RFC 6855 §3).
    utf8: bool,
    /// IMAP4rev1, or IMAP4rev2 once enabled (RFC 9051 §6.3.1).
    rev: Rev,
    bad: u32,
    /// Commands before login that did not try to log in.
    junk: u32,
    login_failures: u32,
    /// Token bucket for the command rate.
    tokens: f64,
    last_command: Instant,
    /// When the connection opened: the login deadline counts from here.
    opened: Instant,
    /// The deflate state's memory, held while COMPRESS is on.
    compression: Option<Reservation>,
    /// The bytes of the running SEARCH/SORT `RETURN (UPDATE)`, kept so its
    /// search context can re-read its criteria (`context_update`).
    update_command: Option<Vec<u8>>,
}

pub async fn session(conn: Conn, ctx: Rc<Context>) {
    let Conn {
        id,
        peer,
        stream,
        service,
        ..
    } = conn;
    let tls = stream.is_tls();
    let mut session = Session {
        ctx,
        id,
        peer,
        service,
        input: Input::new(),
        out: Vec::with_capacity(1024),
        tls,
        account: None,
        selected: None,
        condstore: false,
        qresync: false,
        utf8: false,
        rev: Rev::Rev1,
        bad: 0,
        junk: 0,
        login_failures: 0,
        tokens: COMMANDS_PER_SECOND * 4.0,
        last_command: Instant::now(),
        opened: Instant::now(),
        compression: None,
        update_command: None,
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

/// What the command handlers use of the session.
impl Session {
    /// The session number, for the log.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn store(&self) -> &crate::store::Store {
        &self.ctx.store
    }

    /// The memory budget for message bytes in flight.
    pub fn budget(&self) -> &net::Budget {
        &self.ctx.budget
    }

    /// Answers a command the memory budget could not pay for (DESIGN.md
    /// "Budgets"): a log line saying what was refused and how full the
    /// budget is, and `NO [UNAVAILABLE] answer`, RFC 5530's temporary
    /// failure, so the client tries again later.
    pub fn budget_spent(&mut self, tag: &[u8], what: &str, answer: &str) {
        log::warn!(
            "[{}] imap: {what}: memory budget for messages in flight is spent ({} of {} bytes in use)",
            self.id(),
            self.budget().in_use(),
            self.budget().limit()
        );
        self.tagged(tag, "NO", &format!("[UNAVAILABLE] {answer}"));
    }

    /// Queues `text` for the client.
    pub fn put(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    /// The output buffer, for the response writers in `render`.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Sends what is queued; false when the client is gone.
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

    pub fn tagged(&mut self, tag: &[u8], status: &str, text: &str) {
        self.out.extend_from_slice(tag);
        self.out.push(b' ');
        self.put(status);
        self.out.push(b' ');
        self.put(text);
        self.put("\r\n");
    }

    /// A tagged BAD, counted towards closing the session.
    pub fn bad(&mut self, tag: &[u8], text: &str) {
        self.bad += 1;
        self.tagged(tag, "BAD", text);
    }

    pub fn authenticated(&self) -> bool {
        self.account.is_some()
    }

    /// The logged-in account's id (0 before login, which owns nothing).
    pub fn account_id(&self) -> u64 {
        self.account.as_ref().map_or(0, |a| a.id)
    }

    /// Mailbox names are UTF-8 on the wire: the client enabled UTF8=ACCEPT
    /// (RFC 6855 §3) or IMAP4rev2 (RFC 9051 §5.1).
    pub fn utf8(&self) -> bool {
        self.utf8 || self.rev == Rev::Rev2
    }

    /// The client enabled UTF8=ACCEPT itself (RFC 6855 §4: APPEND's UTF8
    /// data item is for it alone; IMAP4rev2 does not include it).
    pub fn utf8_accept(&self) -> bool {
        self.utf8
    }

    /// The protocol revision the session speaks.
    pub fn rev(&self) -> Rev {
        self.rev
    }

    /// The client enabled IMAP4rev2 (RFC 9051 §6.3.1).
    pub fn rev2(&self) -> bool {
        self.rev == Rev::Rev2
    }

    /// The largest message APPEND takes (RFC 7889): the server's message
    /// size limit, the same for every mailbox.
    pub fn append_limit(&self) -> u64 {
        self.ctx.config.max_message_size
    }

    /// The logged-in account's address ("" before login).
    pub fn account_address(&self) -> &str {
        self.account.as_ref().map_or("", |a| a.address.as_str())
    }

    pub fn selected(&self) -> Option<&Selected> {
        self.selected.as_ref()
    }

    pub fn selected_mut(&mut self) -> Option<&mut Selected> {
        self.selected.as_mut()
    }

    /// Selects `selected` (or nothing), returning what was selected.
    pub fn set_selected(&mut self, selected: Option<Selected>) -> Option<Selected> {
        std::mem::replace(&mut self.selected, selected)
    }

    /// The selected mailbox and the output buffer together, for writing
    /// the updates that bring the one up to date.
    pub fn selected_and_out(&mut self) -> Option<(&mut Selected, &mut Vec<u8>)> {
        Some((self.selected.as_mut()?, &mut self.out))
    }

    /// Whether MODSEQ goes in FETCH responses (RFC 7162 §3.1).
    pub fn condstore(&self) -> bool {
        self.condstore
    }

    /// A command that implies CONDSTORE was used (RFC 7162 §3.1).
    pub fn use_condstore(&mut self) {
        self.condstore = true;
    }

    /// Keeps the budget taken for COMPRESS for the session's lifetime.
    pub fn hold_compression(&mut self, held: Reservation) {
        self.compression = Some(held);
    }

    /// Whether expunges are reported as VANISHED (RFC 7162 §3.2.10).
    pub fn qresync(&self) -> bool {
        self.qresync
    }
}

impl Session {
    /// Whether plaintext logins are allowed here: inside TLS, or from
    /// this host (DESIGN.md).
    pub fn login_allowed(&self) -> bool {
        self.tls || ClientAddr::from(self.peer).may_login_without_tls()
    }

    /// The CAPABILITY list for the session's state (RFC 3501 §6.1.1):
    /// how to log in before login, the extensions after.
    pub fn capabilities(&self) -> String {
        // IMAP4rev2 (RFC 9051) is spoken after ENABLE IMAP4rev2 (`rev2`).
        // Its LITERAL- is covered by LITERAL+, which takes non-synchronizing
        // literals of any size (RFC 7888 §4).
        let mut caps: Vec<String> = [
            "IMAP4rev1",
            "IMAP4rev2",
            "LITERAL+",
            "SASL-IR",
            "ID",
            "ENABLE",
            "IDLE",
        ]
        .map(String::from)
        .to_vec();
        if self.account.is_some() {
            caps.extend(
                [
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
                    "COMPRESS=DEFLATE",
                    "BINARY",
                ]
                .map(String::from),
            );
            // #15 extensions (RFC 7889, 9208, 8438, 6154 §3).
            caps.push(format!("APPENDLIMIT={}", self.append_limit()));
            caps.extend(
                [
                    "QUOTA",
                    "QUOTA=RES-STORAGE",
                    "STATUS=SIZE",
                    "CREATE-SPECIAL-USE",
                    "OBJECTID",
                    "MULTIAPPEND",
                    "PREVIEW",
                    "UTF8=ACCEPT",
                    "ESEARCH",
                    "SORT",
                    "SORT=DISPLAY",
                    "ESORT",
                    "THREAD=ORDEREDSUBJECT",
                    "THREAD=REFERENCES",
                    "THREAD=REFS",
                    // RFC 5182: `$`, in `searchres`.
                    "SEARCHRES",
                    // RFC 5267 §4: RETURN (UPDATE) keeps results live.
                    "CONTEXT=SEARCH",
                    "CONTEXT=SORT",
                    "SAVEDATE",
                    // RFC 9394: SEARCH/SORT RETURN (PARTIAL ...) and the
                    // FETCH modifier (§3.3).
                    "PARTIAL",
                    // RFC 4469 (imap/catenate.rs).
                    "CATENATE",
                ]
                .map(String::from),
            );
        } else {
            if !self.tls {
                caps.push("STARTTLS".into());
            }
            if self.login_allowed() {
                // RFC 3501 §6.2.2: AUTH= for each SASL mechanism offered.
                caps.extend(sasl::MECHANISMS.map(|m| format!("AUTH={m}")));
            } else {
                caps.push("LOGINDISABLED".into());
            }
        }
        caps.join(" ")
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
            // The literals' memory budget is held until the command ran.
            let (command, _literals) = match self.read_command(&mut stream).await {
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
                    if !self.start_tls(&mut stream).await {
                        return;
                    }
                }
                Flow::Compress => {
                    // RFC 4978 §3: the OK goes out uncompressed, then both
                    // directions deflate.
                    if !self.flush(&mut stream).await || stream.start_deflate().is_err() {
                        return;
                    }
                }
            }
            if self.junk > MAX_JUNK {
                self.put("* BYE Too many commands without logging in\r\n");
                log::info!(
                    "[{}] imap: closing after {MAX_JUNK} commands without a login from {}",
                    self.id,
                    self.peer
                );
                break;
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

    /// After the positive reply to STARTTLS: the reply out, the pipelined
    /// plaintext thrown away, the handshake; false if the session is over.
    async fn start_tls(&mut self, stream: &mut Stream) -> bool {
        if !self.flush(stream).await {
            return false;
        }
        // RFC 3501 §6.2.1 / CVE-2011-0411: plaintext pipelined after
        // STARTTLS is thrown away, never executed.
        let acceptor = self.ctx.tls.acceptor();
        let who = format!("[{}] imap", self.id);
        let upgrade = net::starttls(stream, &mut self.input, &acceptor, &who, "STARTTLS");
        if upgrade.await.is_err() {
            return false;
        }
        self.tls = true;
        true
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

    /// How long the next read may wait: the autologout timer in a session,
    /// what is left of the login deadline before one.
    fn read_timeout(&self) -> Duration {
        match self.account {
            Some(_) => AUTOLOGOUT,
            None => (self.opened + LOGIN_DEADLINE).saturating_duration_since(Instant::now()),
        }
    }

    /// A read ran out of time: says why before the session closes.
    fn timed_out(&mut self) {
        if self.account.is_some() {
            self.put("* BYE Autologout; idle for too long\r\n");
        } else {
            log::info!(
                "[{}] imap: {} did not log in within {} s; closing",
                self.id,
                self.peer,
                LOGIN_DEADLINE.as_secs()
            );
            self.put("* BYE Login time is over\r\n");
        }
    }

    /// Parses one command and runs it; a command that does not parse is
    /// answered BAD (RFC 3501 §7.1.3), tagged when the tag could be read.
    async fn execute(&mut self, bytes: &[u8], stream: &mut Stream) -> Flow {
        let parsed = parse::parse_command(bytes);
        if self.account.is_none() {
            use parse::CommandKind as K;
            let logging_in = matches!(
                &parsed,
                Ok(parse::Command {
                    kind: K::Login { .. } | K::Authenticate { .. } | K::Logout,
                    ..
                })
            );
            if !logging_in {
                self.junk += 1;
            }
        }
        let command = match parsed {
            Ok(c) => c,
            Err(e) => {
                log::debug!("[{}] imap: BAD: {}", self.id, e.reason);
                if super::searchres::failed_save(bytes)
                    && let Some(sel) = self.selected.as_mut()
                {
                    // RFC 5182 §2.1: a failed SEARCH with SAVE empties `$`.
                    sel.forget_saved();
                }
                match e.tag {
                    Some(tag) => self.bad(tag, e.reason),
                    None => {
                        self.bad += 1;
                        self.put(&format!("* BAD {}\r\n", e.reason));
                    }
                }
                return Flow::Continue;
            }
        };
        self.bad = 0;
        self.update_command = super::context_update::wants_update(&command).then(|| bytes.to_vec());
        self.dispatch(command, stream).await
    }

    /// The command bytes a search context is made from (RFC 5267 §4.2).
    pub fn take_update_command(&mut self) -> Option<Vec<u8>> {
        self.update_command.take()
    }

    /// CAPABILITY (RFC 3501 §6.1.1).
    pub fn capability(&mut self, tag: &[u8]) {
        let caps = self.capabilities();
        self.put(&format!("* CAPABILITY {caps}\r\n"));
        self.tagged(tag, "OK", "CAPABILITY completed");
    }

    /// STARTTLS (RFC 3501 §6.2.1): the OK, then the upgrade in `run`.
    pub fn starttls(&mut self, tag: &[u8]) -> Flow {
        if self.tls {
            self.bad(tag, "TLS is already active");
            return Flow::Continue;
        }
        self.tagged(tag, "OK", "Begin TLS negotiation now");
        Flow::StartTls
    }

    /// ENABLE (RFC 5161) of CONDSTORE and QRESYNC (RFC 7162 §3.1, §3.2.3),
    /// UTF8=ACCEPT and IMAP4rev2 (RFC 9051 §6.3.1); anything else is
    /// ignored, as §3.1 asks. A capability already on is not listed again.
    pub fn enable(&mut self, tag: &[u8], caps: &[&[u8]]) {
        let rev2 = caps.iter().any(|c| c.eq_ignore_ascii_case(b"IMAP4rev2"));
        if rev2 && self.selected.is_some() && self.rev == Rev::Rev1 {
            // RFC 5161 §3.1: ENABLE belongs to the authenticated state; a
            // selected view cannot change its revision (\Recent claimed).
            log::info!(
                "[{}] imap: ENABLE IMAP4rev2 refused in selected state",
                self.id
            );
            self.bad(tag, "ENABLE IMAP4rev2 only before SELECT (RFC 5161 3.1)");
            return;
        }
        let mut enabled = String::from("* ENABLED");
        for cap in caps {
            if cap.eq_ignore_ascii_case(b"CONDSTORE") && !self.condstore {
                self.condstore = true;
                enabled.push_str(" CONDSTORE");
            } else if cap.eq_ignore_ascii_case(b"QRESYNC") && !self.qresync {
                // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                self.qresync = true;
                self.condstore = true;
                enabled.push_str(" QRESYNC");
            } else if cap.eq_ignore_ascii_case(b"UTF8=ACCEPT") && !self.utf8 {
                // RFC 6855 §3: names and quoted strings in UTF-8 from now.
                self.utf8 = true;
                enabled.push_str(" UTF8=ACCEPT");
            } else if cap.eq_ignore_ascii_case(b"IMAP4rev2") && self.rev == Rev::Rev1 {
                self.rev = Rev::Rev2;
                enabled.push_str(" IMAP4rev2");
            }
        }
        enabled.push_str("\r\n");
        self.put(&enabled);
        self.tagged(tag, "OK", "ENABLE completed");
    }

    /// Sends what is queued and reads one line from the client (a SASL
    /// response); `None` when the connection is gone.
    pub async fn client_line(&mut self, stream: &mut Stream) -> Option<Vec<u8>> {
        if !self.flush(stream).await {
            return None;
        }
        let len = self
            .input
            .line(stream, self.max_line(), self.read_timeout())
            .await
            .ok()?;
        let line = self.input.buffered()[..len].to_vec();
        self.input.consume(len);
        Some(line)
    }

    /// Checks a user's credentials for this client (the limiter shared
    /// with SMTP and POP3, and the refusal of a proxy authorization
    /// identity, are in `ctx.login_sasl`).
    pub async fn check_password(&self, credentials: sasl::Credentials) -> LoginResult {
        crate::metrics::login(
            self.service,
            self.ctx.login_sasl(self.peer.ip(), credentials).await,
        )
    }

    /// The client, for the log.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether to log a line this client can make the server repeat
    /// (see `Context::repeated_line`).
    pub fn repeated_line(&self) -> Option<String> {
        self.ctx.repeated_line(self.peer.ip())
    }

    /// Enters the authenticated state (RFC 3501 §3.2).
    pub fn logged_in(&mut self, account: Account) {
        self.account = Some(account);
    }

    /// Counts a failed login; true when the session has had too many.
    pub fn login_failed(&mut self) -> bool {
        self.login_failures += 1;
        self.login_failures >= MAX_LOGIN_FAILURES
    }

    /// IDLE (RFC 2177): untagged updates as they happen until DONE.
    pub async fn idle(&mut self, tag: &[u8], stream: &mut Stream) -> Flow {
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
