//! The SMTP client (RFC 5321): a session to one next-hop server that
//! carries any number of messages, each with its own recipients and
//! per-recipient results.
//!
//! - EHLO with our host name, HELO if EHLO is refused (§4.1.1.1, §3.2);
//! - STARTTLS (RFC 3207) by the transport's policy, then EHLO again, and
//!   implicit TLS (RFC 8314) from the first byte for a relay on 465;
//! - AUTH PLAIN (RFC 4616) or LOGIN to a relay host (RFC 4954);
//! - MAIL/RCPT/DATA sent in one write when PIPELINING is offered
//!   (RFC 2920), with SIZE (RFC 1870), BODY=8BITMIME (RFC 6152), SMTPUTF8
//!   (RFC 6531) and the DSN parameters (RFC 3461) passed on;
//! - the timeouts of §4.5.3.2 on every wait.
//!
//! The message is read from the store in pieces, each in its own short read
//! transaction, and dot-stuffed on the way (`body.rs`): a 25 MB message
//! costs a 64 KiB buffer, and no LMDB reader stays open across a network
//! wait.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use smol::Async;

use super::body::{DotStuffer, Shape};
use super::io::Io;
use super::reply::{self, Extensions, Reply, xtext};
use super::{Kind, Verdict};
use crate::config::Secret;
use crate::store::{DsnRet, Store};

/// Postfix's smtp_connect_timeout.
const CONNECT: Duration = Duration::from_secs(30);
/// RFC 5321 §4.5.3.2.1 initial 220, §4.5.3.2.2 MAIL, §4.5.3.2.3 RCPT.
const COMMAND: Duration = Duration::from_secs(300);
/// §4.5.3.2.4 DATA initiation.
const DATA_INIT: Duration = Duration::from_secs(120);
/// §4.5.3.2.5 data block: each write of content.
const DATA_BLOCK: Duration = Duration::from_secs(180);
/// §4.5.3.2.6 DATA termination: the server may be slow to commit.
const DATA_END: Duration = Duration::from_secs(600);
const HANDSHAKE: Duration = Duration::from_secs(60);
/// Piece of the message read from the store per write.
const CHUNK: usize = 64 * 1024;

/// How a transport uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// STARTTLS when offered; any certificate (MX hosts).
    Opportunistic,
    /// TLS or nothing, certificate verified (relay hosts).
    Required { implicit: bool },
}

/// Everything about how to talk to a kind of next hop.
#[derive(Clone)]
pub struct Transport {
    /// Our name for EHLO (`--hostname`).
    pub helo: String,
    pub tls: Arc<ClientConfig>,
    pub policy: TlsPolicy,
    pub auth: Option<(String, Secret)>,
}

/// One address to try: the host name (for SNI, certificate checks and
/// logs) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub name: String,
    pub addr: SocketAddr,
}

impl Hop {
    /// Postfix's `relay=` notation: `name[ip]:port`.
    pub fn label(&self) -> String {
        format!("{}[{}]:{}", self.name, self.addr.ip(), self.addr.port())
    }
}

/// Why no usable session came about with one hop.
#[derive(Debug, Clone)]
pub struct HopError {
    pub text: String,
    /// The TLS handshake failed after STARTTLS: a plaintext retry may work
    /// (opportunistic policy only).
    pub tls_failed: bool,
    /// The TCP connection was made: the error says more about the host
    /// than a refused connection to another of its addresses.
    pub reached: bool,
}

impl HopError {
    fn new(text: String) -> HopError {
        HopError {
            text,
            tls_failed: false,
            reached: true,
        }
    }
}

/// The session died mid-transaction (I/O error, timeout, bad reply).
#[derive(Debug, Clone)]
pub struct Broken(pub String);

async fn timed<T, E>(
    limit: Duration,
    what: impl Fn() -> E,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    smol::future::or(work, async {
        smol::Timer::after(limit).await;
        Err(what())
    })
    .await
}

async fn handshake(io: Io, hop: &Hop, config: &Arc<ClientConfig>) -> Result<Io, HopError> {
    let Io::Plain(tcp) = io else {
        return Err(HopError::new("TLS requested twice".into()));
    };
    let name = ServerName::try_from(hop.name.clone())
        .map_err(|_| HopError::new(format!("{} is not a valid TLS server name", hop.name)))?;
    let connector = futures_rustls::TlsConnector::from(config.clone());
    let stream = timed(
        HANDSHAKE,
        || std::io::Error::from(std::io::ErrorKind::TimedOut),
        async { connector.connect(name, tcp).await },
    )
    .await
    .map_err(|e| HopError {
        text: format!("TLS handshake with {} failed: {e}", hop.label()),
        tls_failed: true,
        reached: true,
    })?;
    Ok(Io::Tls(Box::new(stream)))
}

/// A session ready for MAIL.
pub struct Session {
    io: Io,
    buf: Vec<u8>,
    out: Vec<u8>,
    pub ext: Extensions,
    /// `name[ip]:port` for logs.
    pub relay: String,
    /// The host name, for DSN Remote-MTA.
    pub mta: String,
    pub tls: bool,
    /// A transaction was left open or failed: RSET before the next one.
    dirty: bool,
}

impl Session {
    /// Connects to `hop` and gets through greeting, EHLO, TLS and AUTH.
    /// `plain_only` skips STARTTLS (the retry after a failed handshake).
    pub async fn connect(
        hop: &Hop,
        transport: &Transport,
        plain_only: bool,
    ) -> Result<Session, HopError> {
        let tcp = timed(
            CONNECT,
            || std::io::Error::from(std::io::ErrorKind::TimedOut),
            Async::<TcpStream>::connect(hop.addr),
        )
        .await
        .map_err(|e| HopError {
            text: format!("connect to {}: {e}", hop.label()),
            tls_failed: false,
            reached: false,
        })?;
        let _ = tcp.get_ref().set_nodelay(true);
        let mut session = Session {
            io: Io::Plain(tcp),
            buf: Vec::with_capacity(1024),
            out: Vec::with_capacity(1024),
            ext: Extensions::default(),
            relay: hop.label(),
            mta: hop.name.clone(),
            tls: false,
            dirty: false,
        };
        if let TlsPolicy::Required { implicit: true } = transport.policy {
            let io = std::mem::replace(&mut session.io, Io::Gone);
            session.io = handshake(io, hop, &transport.tls).await?;
            session.tls = true;
        }
        let greeting = session.reply(COMMAND).await.map_err(session.hop_error())?;
        if !greeting.is_positive() {
            return Err(HopError::new(format!(
                "host {} refused to talk to me: {}",
                session.relay,
                greeting.text()
            )));
        }
        session.ehlo(&transport.helo).await?;
        if !session.tls && !plain_only {
            let wanted = match transport.policy {
                TlsPolicy::Opportunistic => session.ext.starttls,
                TlsPolicy::Required { .. } => {
                    if !session.ext.starttls {
                        return Err(HopError::new(format!(
                            "{} does not offer STARTTLS, which this relay needs",
                            session.relay
                        )));
                    }
                    true
                }
            };
            if wanted {
                session.starttls(hop, transport).await?;
            }
        }
        if let Some((user, password)) = &transport.auth {
            session.auth(user, password).await?;
        }
        Ok(session)
    }

    fn hop_error(&self) -> impl Fn(Broken) -> HopError + '_ {
        move |b| HopError::new(format!("{}: {}", self.relay, b.0))
    }

    async fn ehlo(&mut self, helo: &str) -> Result<(), HopError> {
        let reply = self
            .command(&format!("EHLO {helo}\r\n"), COMMAND)
            .await
            .map_err(self.hop_error())?;
        if reply.is_positive() {
            self.ext = Extensions::parse(&reply);
            return Ok(());
        }
        // RFC 5321 §3.2: a server that does not know EHLO gets HELO.
        let reply = self
            .command(&format!("HELO {helo}\r\n"), COMMAND)
            .await
            .map_err(self.hop_error())?;
        if !reply.is_positive() {
            return Err(HopError::new(format!(
                "{} refused EHLO and HELO: {}",
                self.relay,
                reply.text()
            )));
        }
        self.ext = Extensions::default();
        Ok(())
    }

    async fn starttls(&mut self, hop: &Hop, transport: &Transport) -> Result<(), HopError> {
        let reply = self
            .command("STARTTLS\r\n", COMMAND)
            .await
            .map_err(self.hop_error())?;
        if reply.code != 220 {
            if transport.policy == TlsPolicy::Opportunistic {
                log::info!(
                    "delivery: {} refused STARTTLS ({}); going on without TLS",
                    self.relay,
                    reply.text()
                );
                return Ok(());
            }
            return Err(HopError::new(format!(
                "{} refused STARTTLS: {}",
                self.relay,
                reply.text()
            )));
        }
        // RFC 3207 §4.2: anything the server sent after 220 came before TLS
        // and must not be believed inside it.
        self.buf.clear();
        let io = std::mem::replace(&mut self.io, Io::Gone);
        self.io = handshake(io, hop, &transport.tls).await?;
        self.tls = true;
        // §4.2: forget what was learned before TLS and ask again.
        self.ehlo(&transport.helo).await
    }

    async fn auth(&mut self, user: &str, password: &Secret) -> Result<(), HopError> {
        use crate::auth::sasl;
        let failed = |reply: &Reply, relay: &str| {
            HopError::new(format!(
                "authentication as {user} at {relay} failed: {}",
                reply.text()
            ))
        };
        let reply = if self.ext.auth_plain {
            let token = sasl::plain_response(user, &password.0);
            self.command(&format!("AUTH PLAIN {token}\r\n"), COMMAND)
                .await
                .map_err(self.hop_error())?
        } else if self.ext.auth_login {
            let mut reply = self
                .command("AUTH LOGIN\r\n", COMMAND)
                .await
                .map_err(self.hop_error())?;
            for response in sasl::login_responses(user, &password.0) {
                if reply.code != 334 {
                    break;
                }
                reply = self
                    .command(&format!("{response}\r\n"), COMMAND)
                    .await
                    .map_err(self.hop_error())?;
            }
            reply
        } else {
            return Err(HopError::new(format!(
                "{} offers neither AUTH PLAIN nor AUTH LOGIN{}",
                self.relay,
                if self.tls { "" } else { " (before TLS?)" }
            )));
        };
        if reply.code != 235 {
            return Err(failed(&reply, &self.relay));
        }
        Ok(())
    }

    /// Reads one reply within `limit`.
    async fn reply(&mut self, limit: Duration) -> Result<Reply, Broken> {
        let work = async {
            loop {
                match reply::parse(&self.buf) {
                    Ok(Some((reply, used))) => {
                        self.buf.drain(..used);
                        return Ok(reply);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(Broken(format!("bad reply: {}", e.0))),
                }
                let mut chunk = [0u8; 2048];
                let n = self
                    .io
                    .read(&mut chunk)
                    .await
                    .map_err(|e| Broken(format!("read: {e}")))?;
                if n == 0 {
                    return Err(Broken("lost connection".into()));
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
        };
        timed(
            limit,
            || Broken(format!("no reply in {}s", limit.as_secs())),
            work,
        )
        .await
    }

    async fn send_out(&mut self, limit: Duration) -> Result<(), Broken> {
        let out = std::mem::take(&mut self.out);
        let result = timed(
            limit,
            || std::io::Error::from(std::io::ErrorKind::TimedOut),
            self.io.write_all(&out),
        )
        .await
        .map_err(|e| Broken(format!("write: {e}")));
        self.out = out;
        self.out.clear();
        result
    }

    async fn command(&mut self, line: &str, limit: Duration) -> Result<Reply, Broken> {
        self.out.clear();
        self.out.extend_from_slice(line.as_bytes());
        self.send_out(limit).await?;
        self.reply(limit).await
    }

    /// Sends one message. Checks that it fits the server first (SIZE,
    /// 8BITMIME, SMTPUTF8): a message that does not fit is failed without a
    /// word sent, with the reason in the DSN. `Err` means the session is
    /// unusable; the caller defers the recipients and drops it.
    pub async fn send(
        &mut self,
        envelope: &Envelope<'_>,
        store: &Store,
    ) -> Result<Vec<Verdict>, Broken> {
        let n = envelope.recipients.len();
        if let Some(refusal) = self.refusal(envelope) {
            return Ok(vec![refusal; n]);
        }
        if self.dirty {
            let reply = self.command("RSET\r\n", COMMAND).await?;
            if !reply.is_positive() {
                return Err(Broken(format!("RSET refused: {}", reply.text())));
            }
            self.dirty = false;
        }
        self.dirty = true;
        let mail = self.mail_line(envelope);
        let rcpts: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| self.rcpt_line(r))
            .collect();
        let mut verdicts: Vec<Option<Verdict>> = vec![None; n];
        let mut accepted = Vec::with_capacity(n);
        let data_reply;
        if self.ext.pipelining {
            // RFC 2920 §3.1: MAIL, RCPTs and DATA in one go; replies in order.
            self.out.clear();
            self.out.extend_from_slice(mail.as_bytes());
            for line in &rcpts {
                self.out.extend_from_slice(line.as_bytes());
            }
            self.out.extend_from_slice(b"DATA\r\n");
            self.send_out(COMMAND).await?;
            let mail_reply = self.reply(COMMAND).await?;
            for (i, _) in rcpts.iter().enumerate() {
                let reply = self.reply(COMMAND).await?;
                if !mail_reply.is_positive() {
                    verdicts[i] = Some(self.verdict(&mail_reply));
                } else if reply.is_positive() {
                    accepted.push(i);
                } else {
                    verdicts[i] = Some(self.verdict(&reply));
                }
            }
            data_reply = self.reply(DATA_INIT).await?;
        } else {
            let mail_reply = self.command(&mail, COMMAND).await?;
            if !mail_reply.is_positive() {
                return Ok(vec![self.verdict(&mail_reply); n]);
            }
            for (i, line) in rcpts.iter().enumerate() {
                let reply = self.command(line, COMMAND).await?;
                if reply.is_positive() {
                    accepted.push(i);
                } else {
                    verdicts[i] = Some(self.verdict(&reply));
                }
            }
            if accepted.is_empty() {
                return Ok(verdicts.into_iter().flatten().collect());
            }
            data_reply = self.command("DATA\r\n", DATA_INIT).await?;
        }
        if data_reply.code != 354 {
            for &i in &accepted {
                verdicts[i] = Some(self.verdict(&data_reply));
            }
            return Ok(fill(verdicts));
        }
        if accepted.is_empty() {
            // A pipelining server that said 354 with no recipient: give it
            // an empty message and move on (RFC 2920 §3.1).
            self.out.clear();
            self.out.extend_from_slice(b".\r\n");
            self.send_out(DATA_BLOCK).await?;
            self.reply(DATA_END).await?;
            return Ok(fill(verdicts));
        }
        self.content(envelope, store).await?;
        let end = self.reply(DATA_END).await?;
        self.dirty = !end.is_positive();
        for &i in &accepted {
            verdicts[i] = Some(self.verdict(&end));
        }
        Ok(fill(verdicts))
    }

    /// What the server's extensions rule out for this message.
    fn refusal(&self, envelope: &Envelope) -> Option<Verdict> {
        let shape = &envelope.shape;
        let local = |status: &str, text: String| Verdict {
            kind: Kind::Failed,
            status: status.into(),
            diagnostic: text,
            remote: false,
            mta: self.mta.clone(),
            peer_dsn: self.ext.dsn,
        };
        if let Some(limit) = self.ext.size
            && limit > 0
            && shape.size as u64 > limit
        {
            return Some(local(
                "5.3.4",
                format!(
                    "message size {} exceeds the limit of {} bytes of {}",
                    shape.size, limit, self.relay
                ),
            ));
        }
        if envelope.needs_smtputf8() && !self.ext.smtputf8 {
            return Some(local(
                "5.6.7",
                format!(
                    "the message has non-ASCII addresses or headers, and {} does not support SMTPUTF8",
                    self.relay
                ),
            ));
        }
        if shape.eight_bit && !self.ext.eight_bit_mime {
            return Some(local(
                "5.6.3",
                format!(
                    "the message has 8-bit content, and {} does not support 8BITMIME",
                    self.relay
                ),
            ));
        }
        None
    }

    fn mail_line(&self, e: &Envelope) -> String {
        let mut line = format!("MAIL FROM:<{}>", e.sender);
        if self.ext.size.is_some() {
            line.push_str(&format!(" SIZE={}", e.shape.size));
        }
        if e.shape.eight_bit {
            line.push_str(" BODY=8BITMIME");
        }
        if e.needs_smtputf8() {
            line.push_str(" SMTPUTF8");
        }
        if self.ext.dsn {
            match e.ret {
                DsnRet::Full => line.push_str(" RET=FULL"),
                DsnRet::Headers => line.push_str(" RET=HDRS"),
                DsnRet::Unspecified => {}
            }
            if let Some(envid) = e.envid {
                line.push_str(&format!(" ENVID={}", xtext(envid)));
            }
        }
        line.push_str("\r\n");
        line
    }

    fn rcpt_line(&self, r: &RcptSpec) -> String {
        let mut line = format!("RCPT TO:<{}>", r.address);
        if self.ext.dsn {
            use crate::store::queue::notify;
            if r.notify != 0 {
                let mut words = Vec::new();
                if r.notify & notify::NEVER != 0 {
                    words.push("NEVER");
                } else {
                    for (bit, word) in [
                        (notify::SUCCESS, "SUCCESS"),
                        (notify::FAILURE, "FAILURE"),
                        (notify::DELAY, "DELAY"),
                    ] {
                        if r.notify & bit != 0 {
                            words.push(word);
                        }
                    }
                }
                line.push_str(&format!(" NOTIFY={}", words.join(",")));
            }
            if let Some((kind, address)) = r.orcpt.and_then(|o| o.split_once(';')) {
                line.push_str(&format!(" ORCPT={kind};{}", xtext(address)));
            }
        }
        line.push_str("\r\n");
        line
    }

    fn verdict(&self, reply: &Reply) -> Verdict {
        let kind = if reply.is_positive() {
            Kind::Sent
        } else if reply.is_permanent() {
            Kind::Failed
        } else {
            Kind::Deferred
        };
        Verdict {
            kind,
            status: reply.status(),
            diagnostic: reply.text(),
            remote: true,
            mta: self.mta.clone(),
            peer_dsn: self.ext.dsn,
        }
    }

    /// Streams the message, dot-stuffed, ending with `.` CRLF.
    async fn content(&mut self, envelope: &Envelope<'_>, store: &Store) -> Result<(), Broken> {
        let mut stuffer = DotStuffer::new();
        let mut offset = envelope.shape.start;
        loop {
            self.out.clear();
            let done = {
                let reader = store.read().map_err(|e| Broken(format!("store: {e}")))?;
                let blob = reader
                    .blob(envelope.blob_id)
                    .map_err(|e| Broken(format!("store: {e}")))?
                    .ok_or_else(|| Broken("the message was deleted from the queue".into()))?;
                let end = (offset + CHUNK).min(blob.len());
                stuffer.push(&blob[offset.min(end)..end], &mut self.out);
                offset = end;
                end >= blob.len()
            };
            if done {
                std::mem::take(&mut stuffer).finish(&mut self.out);
            }
            self.send_out(DATA_BLOCK).await?;
            if done {
                return Ok(());
            }
        }
    }

    /// Ends the session politely (RFC 5321 §4.1.1.10).
    pub async fn quit(mut self) {
        let _ = self.command("QUIT\r\n", Duration::from_secs(10)).await;
        self.io.close().await;
    }
}

fn fill(verdicts: Vec<Option<Verdict>>) -> Vec<Verdict> {
    verdicts
        .into_iter()
        .map(|v| {
            v.unwrap_or_else(|| Verdict {
                kind: Kind::Deferred,
                status: "4.0.0".into(),
                diagnostic: "no result".into(),
                remote: false,
                mta: String::new(),
                peer_dsn: false,
            })
        })
        .collect()
}

/// One recipient as the queue holds it.
#[derive(Debug, Clone, Copy)]
pub struct RcptSpec<'a> {
    pub address: &'a str,
    pub notify: u8,
    pub orcpt: Option<&'a str>,
}

/// One message to send.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub sender: &'a str,
    pub recipients: Vec<RcptSpec<'a>>,
    pub ret: DsnRet,
    pub envid: Option<&'a str>,
    pub blob_id: u64,
    pub shape: Shape,
}

impl Envelope<'_> {
    /// RFC 6531 §3.4: non-ASCII in an address or in the headers.
    pub fn needs_smtputf8(&self) -> bool {
        self.shape.utf8_headers
            || !self.sender.is_ascii()
            || self.recipients.iter().any(|r| !r.address.is_ascii())
    }
}
