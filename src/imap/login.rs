//! LOGIN and AUTHENTICATE (RFC 3501 §6.2.2, §6.2.3), AUTHENTICATE with
//! SASL-IR (RFC 4959). The SASL exchange is `auth::sasl`'s, the same for
//! SMTP and POP3; what is IMAP's here is its framing (`+ ` continuations,
//! a `*` cancel answered BAD) and its answers. Only inside TLS or from
//! this host (DESIGN.md), which `Session::login_allowed` decides.

use super::session::{Flow, Session};
use crate::auth::LoginResult;
use crate::auth::sasl::{self, Exchange, SaslError, Step};
use crate::net::Stream;

impl Session {
    /// AUTHENTICATE (RFC 3501 §6.2.2) with SASL-IR (RFC 4959): the SASL
    /// exchange in `+ ` continuations, then the login.
    pub async fn authenticate(
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
                Step::Failed(SaslError::Malformed) => {
                    self.bad(tag, "Cannot decode the authentication response");
                    return Flow::Continue;
                }
            }
        };
        let how = format!("AUTHENTICATE {mechanism}");
        self.login(tag, credentials, &how, stream).await
    }

    /// LOGIN (RFC 3501 §6.2.3), and the end of AUTHENTICATE: checks the
    /// credentials (the limiter is `ctx.login_sasl`'s) and answers. A
    /// PLAIN authorization identity naming another user is a failed login
    /// (`NO [AUTHENTICATIONFAILED]`, RFC 5530 §3): proxy authorization is
    /// not offered.
    pub async fn login(
        &mut self,
        tag: &[u8],
        credentials: sasl::Credentials,
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
        let user = credentials.username.clone();
        match self.check_password(credentials).await {
            LoginResult::Ok(account) => {
                log::info!("[{}] imap: login {} ({how})", self.id(), account.address);
                self.logged_in(account);
                let caps = self.capabilities();
                self.tagged(tag, "OK", &format!("[CAPABILITY {caps}] Logged in"));
            }
            LoginResult::Failed => {
                log::warn!(
                    "[{}] imap: {how} failed for {user:?} from {}",
                    self.id(),
                    self.peer()
                );
                self.tagged(tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
                if self.login_failed() {
                    self.put("* BYE Too many failed logins\r\n");
                    return Flow::Close;
                }
            }
            LoginResult::Blocked(b) => {
                if let Some(more) = self.repeated_line() {
                    log::warn!(
                        "[{}] imap: login refused for {user:?} from {}: too many failures {} (retry in {}s){more}",
                        self.id(),
                        self.peer(),
                        b.scope,
                        b.retry_after.as_secs()
                    );
                }
                self.tagged(
                    tag,
                    "NO",
                    "[UNAVAILABLE] Too many failed logins; try again later",
                );
            }
            LoginResult::Busy => {
                // RFC 5530 §3: UNAVAILABLE, a temporary failure; the
                // reason is logged by auth.
                self.tagged(
                    tag,
                    "NO",
                    "[UNAVAILABLE] Too many logins at once; try again later",
                );
            }
            LoginResult::Unavailable(e) => {
                log::error!("[{}] imap: login lookup failed: {e}", self.id());
                self.tagged(
                    tag,
                    "NO",
                    "[UNAVAILABLE] Temporary failure; try again later",
                );
            }
        }
        Flow::Continue
    }
}
