//! AUTH on the SMTP services (RFC 4954): when it is offered, the SASL
//! exchange over 334 challenges, and the login with its verdicts. Its own
//! file because it is the one part of the session that reads further lines
//! inside a command and talks to the login limiter.

use super::{Flow, IDLE, MAX_LINE, Session};
use crate::auth::LoginResult;
use crate::auth::sasl::{self, Exchange, SaslError, Step};
use crate::config::Service;
use crate::net::{ClientAddr, Stream};

impl Session {
    /// AUTH is offered on submission, and on port 25 with --smtp-auth;
    /// only inside TLS unless the client is on this host (RFC 4954 §4,
    /// DESIGN.md).
    fn auth_enabled(&self) -> bool {
        self.service != Service::Smtp || self.ctx.config.smtp_auth
    }

    pub(super) fn auth_offered(&self) -> bool {
        self.auth_enabled()
            && (self.tls.is_some() || ClientAddr::from(self.peer).may_login_without_tls())
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
                Step::Failed(SaslError::Malformed) => {
                    "501 5.5.2 Error: cannot decode the authentication response\r\n"
                }
            };
            return Some(Err(refusal));
        }
    }

    pub(super) async fn auth(
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
        // A PLAIN authorization identity naming another user comes back
        // as a failed login (535 5.7.8, RFC 4954 §6): proxy authorization
        // is not offered, and the attempt counts against this user.
        let username = credentials.username.clone();
        // Flush what is queued so the limiter's delay is not also spent
        // holding earlier replies back.
        if !self.flush(stream).await {
            return Flow::Close;
        }
        let result = self.ctx.login_sasl(self.peer.ip(), credentials).await;
        match crate::metrics::login(self.service, result) {
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
                if let Some(more) = self.ctx.repeated_line(self.peer.ip()) {
                    log::warn!(
                        "[{}] {}: AUTH refused for {username:?} from {}: too many failures {} (retry in {}s){more}",
                        self.id,
                        self.name(),
                        self.peer,
                        b.scope,
                        b.retry_after.as_secs()
                    );
                }
                self.refuse("454 4.7.0 Temporary authentication failure: too many failures, try again later\r\n");
            }
            LoginResult::Busy => {
                // RFC 4954 §6: 454 4.7.0, a temporary authentication failure.
                self.reply(
                    "454 4.7.0 Temporary authentication failure: too many logins at once\r\n",
                );
            }
            LoginResult::Unavailable(e) => {
                log::error!("[{}] {}: AUTH lookup failed: {e}", self.id, self.name());
                self.reply("454 4.7.0 Temporary authentication failure\r\n");
            }
        }
        Flow::Continue
    }
}
