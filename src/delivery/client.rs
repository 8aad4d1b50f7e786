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
//! wait. The session is here; one message over it is `client/message.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use smol::io::{AsyncReadExt, AsyncWriteExt};

use super::reply::{self, Extensions, Reply};
use crate::config::Secret;
use crate::net::{self, Stream, timed};

mod message;

pub use message::{Envelope, RcptSpec};

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
    /// What made TLS mandatory for an MX host (DANE, MTA-STS), named in
    /// the error when it cannot be had.
    pub required_by: Option<String>,
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

/// A TCP connection to `hop`, or, given `v4`, an IPv4 address of the same
/// host, to whichever answers first (happy eyeballs,
/// `net::connect_racing`): the stream and the hop it reached. On failure,
/// the error of each address tried.
pub async fn reach<'h>(
    hop: &'h Hop,
    v4: Option<&'h Hop>,
) -> Result<(Stream, &'h Hop), Vec<HopError>> {
    match v4 {
        None => match net::connect(&[hop.addr], CONNECT).await {
            Ok(io) => Ok((io, hop)),
            Err(e) => Err(vec![unreached(hop, &e.error)]),
        },
        Some(v4) => match net::connect_racing(hop.addr, v4.addr, net::HEAD_START, CONNECT).await {
            Ok((io, addr, lost)) => {
                if addr == v4.addr {
                    // Worth a line: IPv6 is broken somewhere on the way.
                    match lost {
                        Some(e) => log::info!(
                            "delivery: connect to {}: {}; trying IPv4",
                            hop.label(),
                            e.error
                        ),
                        None => log::info!(
                            "delivery: {} did not answer within {:?}; connected over IPv4",
                            hop.label(),
                            net::HEAD_START
                        ),
                    }
                    return Ok((io, v4));
                }
                Ok((io, hop))
            }
            Err([e6, e4]) => Err(vec![unreached(hop, &e6.error), unreached(v4, &e4.error)]),
        },
    }
}

/// No TCP connection to `hop`.
fn unreached(hop: &Hop, error: &std::io::Error) -> HopError {
    HopError {
        text: format!("connect to {}: {error}", hop.label()),
        tls_failed: false,
        reached: false,
    }
}

/// The session died mid-transaction (I/O error, timeout, bad reply).
#[derive(Debug, Clone)]
pub struct Broken(pub String);

/// The TLS handshake with `hop`, from the first byte (implicit TLS) or
/// after STARTTLS.
async fn handshake(io: &mut Stream, hop: &Hop, config: &Arc<ClientConfig>) -> Result<(), HopError> {
    let name = net::tls::server_name(&hop.name).map_err(HopError::new)?;
    io.connect_tls(config, name, HANDSHAKE)
        .await
        .map_err(|e| HopError {
            text: format!("TLS handshake with {} failed: {e}", hop.label()),
            tls_failed: true,
            reached: true,
        })
}

/// A session ready for MAIL.
pub struct Session {
    io: Stream,
    buf: Vec<u8>,
    /// Reads the reply at the start of `buf` as its bytes arrive.
    parser: reply::Parser,
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
        let io = net::connect(&[hop.addr], CONNECT)
            .await
            .map_err(|e| unreached(hop, &e.error))?;
        Session::over(io, hop, transport, plain_only).await
    }

    /// Greeting, EHLO, TLS and AUTH over a connected stream.
    pub async fn over(
        io: Stream,
        hop: &Hop,
        transport: &Transport,
        plain_only: bool,
    ) -> Result<Session, HopError> {
        let mut session = Session {
            io,
            buf: Vec::with_capacity(1024),
            parser: reply::Parser::default(),
            out: Vec::with_capacity(1024),
            ext: Extensions::default(),
            relay: hop.label(),
            mta: hop.name.clone(),
            tls: false,
            dirty: false,
        };
        if let TlsPolicy::Required { implicit: true } = transport.policy {
            handshake(&mut session.io, hop, &transport.tls).await?;
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
                            "{} does not offer STARTTLS, which is required here",
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
        self.parser.reset();
        handshake(&mut self.io, hop, &transport.tls).await?;
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
                match self.parser.parse(&self.buf) {
                    Ok(Some((reply, used))) => {
                        self.buf.drain(..used);
                        return Ok(reply);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.parser.reset();
                        return Err(Broken(format!("bad reply: {}", e.0)));
                    }
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
        let result = self
            .io
            .write_timed(&self.out, limit)
            .await
            .map_err(|e| Broken(format!("write: {e}")));
        self.out.clear();
        result
    }

    async fn command(&mut self, line: &str, limit: Duration) -> Result<Reply, Broken> {
        self.out.clear();
        self.out.extend_from_slice(line.as_bytes());
        self.send_out(limit).await?;
        self.reply(limit).await
    }

    /// Ends the session politely (RFC 5321 §4.1.1.10).
    pub async fn quit(mut self) {
        let _ = self.command("QUIT\r\n", Duration::from_secs(10)).await;
        let _ = self.io.close().await;
    }
}
