//! The fetcher's IMAP client session (RFC 3501): connect, TLS (implicit,
//! RFC 8314, or STARTTLS, §6.2.1), log in, EXAMINE, UID FETCH, IDLE
//! (RFC 2177), LOGOUT. Every wait has a time limit; every response goes
//! through the bounded framer of `response.rs`, and one response (so at
//! most one message's literal) is buffered at a time.
//!
//! The session only reads: mailboxes are opened with EXAMINE (§6.3.2,
//! read-only, so not even \Recent changes) and bodies are fetched with
//! BODY.PEEK[] (§6.4.5, \Seen stays as it was). `command.rs` has no way
//! to spell STORE, EXPUNGE, DELETE, MOVE or COPY.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use smol::Async;

use super::command::{self, Arg};
use super::response::{self, Code, Framed, Framer, Kind, Limits, Response, Untagged};
use crate::delivery::dns::Resolver;
use crate::delivery::io::Io;

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
    /// Verifying configuration (`delivery::tls::verified_pem`).
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

async fn timed<T>(
    limit: Duration,
    what: impl FnOnce() -> Error,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    smol::future::or(work, async {
        smol::Timer::after(limit).await;
        Err(what())
    })
    .await
}

/// One logged-in (or logging-in) connection.
pub struct Session {
    io: Io,
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
        let addresses = addresses(&target.host, resolver).await?;
        let mut last = Error(format!("{}: no address", target.host));
        let mut tcp = None;
        for ip in addresses {
            let addr = SocketAddr::new(ip, target.port);
            match timed(
                CONNECT,
                || Error(format!("connect to {addr}: timed out")),
                async {
                    Async::<TcpStream>::connect(addr)
                        .await
                        .map_err(|e| Error(format!("connect to {addr}: {e}")))
                },
            )
            .await
            {
                Ok(t) => {
                    tcp = Some(t);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let tcp = tcp.ok_or(last)?;
        let _ = tcp.get_ref().set_nodelay(true);
        let io = if target.starttls {
            Io::Plain(tcp)
        } else {
            Io::Tls(Box::new(handshake(tcp, target).await?))
        };
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

    fn error(&self, text: impl std::fmt::Display) -> Error {
        Error(format!("{}: {text}", self.label))
    }

    /// Reads until the next whole response is in the buffer, then
    /// [`Session::response`] parses it. The limit applies to each wait for
    /// bytes, so a large body arriving steadily is not cut off. Dropping
    /// the future (IDLE's timer) loses nothing: bytes leave the socket only
    /// together with being appended to the buffer.
    async fn next_frame(&mut self, limit: Duration) -> Result<(), Error> {
        if self.frame > 0 {
            self.buf.drain(..self.frame);
            self.frame = 0;
            if self.buf.capacity() > KEEP && self.buf.len() < KEEP {
                self.buf.shrink_to(KEEP);
            }
        }
        loop {
            match self.framer.advance(&self.buf, &self.limits) {
                Ok(Framed::Complete(n)) => {
                    self.frame = n;
                    return Ok(());
                }
                Ok(Framed::Need(more)) => {
                    // A literal's whole size is known: grow once for it.
                    self.buf.reserve(more.min(self.limits.max_literal as usize));
                    let label = &self.label;
                    let io = &mut self.io;
                    let scratch = &mut self.scratch;
                    let n = timed(
                        limit,
                        || Error(format!("{label}: no answer in {} s", limit.as_secs())),
                        async {
                            io.read(scratch)
                                .await
                                .map_err(|e| Error(format!("{label}: read: {e}")))
                        },
                    )
                    .await?;
                    if n == 0 {
                        return Err(self.error("the server closed the connection"));
                    }
                    self.buf.extend_from_slice(&self.scratch[..n]);
                }
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// The response [`Session::next_frame`] read, parsed in place.
    fn response(&self) -> Result<Response<'_>, Error> {
        response::parse(&self.buf[..self.frame]).map_err(|e| self.error(e))
    }

    /// Moves `len` bytes at `start` of the current response out of the
    /// read buffer. A large message is not copied: the buffer that holds
    /// it becomes the message, and what followed it starts a new buffer.
    /// So a message is in memory once, not twice.
    fn take(&mut self, start: usize, len: usize) -> Vec<u8> {
        if len < KEEP || len.saturating_mul(2) < self.buf.capacity() {
            return self.buf[start..start + len].to_vec();
        }
        let rest = self.buf.split_off(self.frame);
        let mut bytes = std::mem::replace(&mut self.buf, rest);
        self.frame = 0;
        bytes.truncate(start + len);
        bytes.drain(..start);
        bytes
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let label = &self.label;
        let io = &mut self.io;
        timed(
            COMMAND,
            || Error(format!("{label}: write timed out")),
            async {
                io.write_all(bytes)
                    .await
                    .map_err(|e| Error(format!("{label}: write: {e}")))
            },
        )
        .await
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("f{}", self.tag)
    }

    /// `* OK`, `* PREAUTH` (true) or `* BYE` (§7.1).
    async fn greeting(&mut self) -> Result<bool, Error> {
        self.next_frame(COMMAND).await?;
        let Response::Untagged(Untagged::Status(status)) = self.response()? else {
            return Err(self.error("the server did not greet with * OK"));
        };
        let (kind, text) = (status.kind, status.text.to_string());
        if let Some(Code::Capability(caps)) = &status.code {
            let caps = upper(caps);
            self.caps = caps;
        }
        match kind {
            Kind::Ok => Ok(false),
            Kind::Preauth => Ok(true),
            _ => Err(self.error(format_args!("the server refused us: {text}"))),
        }
    }

    /// Sends `args` as one command and reads to its tagged answer, handing
    /// each untagged response to `each`. A literal argument waits for the
    /// server's `+` (§7.5) before its bytes go. NO and BAD become errors
    /// naming `what` (never the arguments: they may hold the password).
    async fn run(
        &mut self,
        what: &str,
        verb: &str,
        args: &[Arg],
        mut each: impl FnMut(Untagged<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let tag = self.next_tag();
        let mut out = format!("{tag} {verb}").into_bytes();
        for arg in args {
            match arg {
                Arg::Inline(text) => {
                    out.push(b' ');
                    out.extend_from_slice(text.as_bytes());
                }
                Arg::Literal(bytes) => {
                    out.extend_from_slice(format!(" {{{}}}\r\n", bytes.len()).as_bytes());
                    self.send(&out).await?;
                    self.until_continuation(what, &tag, &mut each).await?;
                    out.clear();
                    out.extend_from_slice(bytes);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        self.send(&out).await?;
        self.until_tagged(what, &tag, &mut each).await
    }

    /// Reads until `+`; a tagged answer instead is the command's refusal.
    async fn until_continuation(
        &mut self,
        what: &str,
        tag: &str,
        each: &mut impl FnMut(Untagged<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        loop {
            self.next_frame(COMMAND).await?;
            let mut caps = None;
            match self.response()? {
                Response::Continuation(_) => return Ok(()),
                Response::Tagged { tag: t, status } if t == tag => {
                    return Err(self.error(format_args!("{what} refused: {}", status.text)));
                }
                Response::Tagged { .. } => {}
                Response::Untagged(u) => {
                    if let Untagged::Capability(c) = &u {
                        caps = Some(upper(c));
                    }
                    each(u)?
                }
            }
            if let Some(c) = caps {
                self.caps = c;
            }
        }
    }

    /// Reads until the tagged answer to `tag`: OK is success, NO or BAD
    /// the command's refusal. Capabilities announced on the way (untagged
    /// or in the OK's code) replace the known ones.
    async fn until_tagged(
        &mut self,
        what: &str,
        tag: &str,
        each: &mut impl FnMut(Untagged<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut bye: Option<String> = None;
        loop {
            if let Err(e) = self.next_frame(COMMAND).await {
                return Err(match bye {
                    Some(text) => self.error(format_args!("the server said BYE: {text}")),
                    None => e,
                });
            }
            let mut caps = None;
            let mut done = None;
            match self.response()? {
                Response::Tagged { tag: t, status } if t == tag => {
                    if let Some(Code::Capability(c)) = &status.code {
                        caps = Some(upper(c));
                    }
                    done = Some(match status.kind {
                        Kind::Ok => Ok(()),
                        _ => Err(self.error(format_args!("{what} refused: {}", status.text))),
                    });
                }
                Response::Tagged { .. } | Response::Continuation(_) => {}
                Response::Untagged(Untagged::Status(s)) if s.kind == Kind::Bye => {
                    bye = Some(s.text.to_string());
                }
                Response::Untagged(u) => {
                    if let Untagged::Capability(c) = &u {
                        caps = Some(upper(c));
                    }
                    each(u)?;
                }
            }
            if let Some(c) = caps {
                self.caps = c;
            }
            if let Some(result) = done {
                return result;
            }
        }
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
        let Io::Plain(tcp) = std::mem::replace(&mut self.io, Io::Gone) else {
            return Err(self.error("TLS is already on"));
        };
        self.io = Io::Tls(Box::new(handshake(tcp, target).await?));
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

    /// `UID FETCH set (UID RFC822.SIZE INTERNALDATE BODY.PEEK[])`
    /// (§6.4.8; PEEK leaves \Seen alone, §6.4.5), handing each message to
    /// `each` as it arrives: one message is buffered at a time, and a large
    /// one is moved out of the read buffer rather than copied.
    pub async fn fetch_bodies(
        &mut self,
        set: &str,
        mut each: impl FnMut(Body),
    ) -> Result<(), Error> {
        let tag = self.next_tag();
        let command =
            format!("{tag} UID FETCH {set} (UID RFC822.SIZE INTERNALDATE BODY.PEEK[])\r\n");
        self.send(command.as_bytes()).await?;
        let mut bye: Option<String> = None;
        loop {
            if let Err(e) = self.next_frame(COMMAND).await {
                return Err(match bye {
                    Some(text) => self.error(format_args!("the server said BYE: {text}")),
                    None => e,
                });
            }
            let base = self.buf.as_ptr() as usize;
            let found = match self.response()? {
                Response::Tagged { tag: t, status } if t == tag => {
                    return match status.kind {
                        Kind::Ok => Ok(()),
                        _ => Err(self.error(format_args!("UID FETCH refused: {}", status.text))),
                    };
                }
                Response::Untagged(Untagged::Status(s)) if s.kind == Kind::Bye => {
                    bye = Some(s.text.to_string());
                    None
                }
                // Unsolicited FETCH responses (flag changes) carry no body.
                Response::Untagged(Untagged::Fetch(_, d)) => match (d.uid, d.body) {
                    (Some(uid), Some(body)) => {
                        let place = match body {
                            // Where the literal lies in the buffer.
                            Cow::Borrowed(b) => Ok((b.as_ptr() as usize - base, b.len())),
                            Cow::Owned(v) => Err(v),
                        };
                        Some((uid, d.size, d.internal_date, place))
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some((uid, size, internal_date, place)) = found {
                let bytes = match place {
                    Ok((start, len)) => self.take(start, len),
                    Err(owned) => owned,
                };
                each(Body {
                    uid,
                    size,
                    internal_date,
                    bytes,
                });
            }
        }
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

fn upper(caps: &[&str]) -> Vec<String> {
    caps.iter().map(|c| c.to_ascii_uppercase()).collect()
}

async fn handshake(
    tcp: Async<TcpStream>,
    target: &Target,
) -> Result<futures_rustls::client::TlsStream<Async<TcpStream>>, Error> {
    let name = ServerName::try_from(target.host.clone())
        .map_err(|_| Error(format!("{} is not a valid TLS server name", target.host)))?;
    let connector = futures_rustls::TlsConnector::from(target.tls.clone());
    timed(
        HANDSHAKE,
        || Error(format!("{}: TLS handshake timed out", target.label())),
        async {
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| Error(format!("{}: TLS: {e}", target.label())))
        },
    )
    .await
}

/// The addresses of `host`: an IP address itself; `localhost` and names
/// in /etc/hosts as listed there (a homelab's IMAP server is often only
/// known there); anything else from DNS.
async fn addresses(host: &str, resolver: &Resolver) -> Result<Vec<IpAddr>, Error> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut found = hosts_lookup(&hosts, host);
    if found.is_empty() && host.eq_ignore_ascii_case("localhost") {
        found = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
    }
    if !found.is_empty() {
        return Ok(found);
    }
    match resolver.addresses(host).await {
        Ok(a) if a.is_empty() => Err(Error(format!("{host} has no address"))),
        Ok(a) => Ok(a),
        Err(e) => Err(Error(format!("cannot look {host} up: {}", e.0))),
    }
}

/// The addresses hosts(5) text gives `host`, IPv4 first.
pub fn hosts_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let ip = words.next()?.parse::<IpAddr>().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(host)).then_some(ip)
        })
        .collect();
    out.sort_by_key(|ip| ip.is_ipv6());
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The session's source never spells a command that changes the
    /// remote side, in either way commands are written here (a verb
    /// string for `run`, or after the tag in a `format!`).
    #[test]
    fn no_command_changes_the_remote() {
        let sources = [
            include_str!("client.rs"),
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

    #[test]
    fn hosts_file() {
        let text = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n192.168.1.5  nas.lan nas # the NAS\n# 10.0.0.1 nas\n";
        assert_eq!(
            hosts_lookup(text, "NAS"),
            vec!["192.168.1.5".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(hosts_lookup(text, "localhost").len(), 2);
        assert!(hosts_lookup(text, "localhost")[0].is_ipv4());
        assert!(hosts_lookup(text, "the").is_empty());
    }
}
