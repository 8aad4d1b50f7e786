//! The AUTHORIZATION state (RFC 1939 §4): STLS, USER/PASS, AUTH with its
//! SASL continuations (RFC 5034), the login, and opening the maildrop into
//! the TRANSACTION state. Its own file because everything before a login
//! (what may be sent in the clear, the limiter's verdicts, the lock) is
//! decided here and nowhere else.

use super::{Flow, Session, Transaction};
use crate::auth::sasl::{self, Exchange, SaslError, Step};
use crate::auth::{LoginResult, Scope};
use crate::net::ClientAddr;
use crate::pop3::command::Command;
use crate::pop3::maildrop::{Lock, Maildrop};
use crate::store::Account;

impl Session {
    // --- AUTHORIZATION (RFC 1939 §4) ----------------------------------------

    /// Credentials may only cross an encrypted connection, or loopback
    /// (DESIGN.md; RFC 2595 §2.2 leaves the policy to the server).
    pub(super) fn login_allowed(&self) -> bool {
        self.tls || ClientAddr::from(self.peer).may_login_without_tls()
    }

    pub(super) async fn authorization(&mut self, cmd: Command<'_>) -> Flow {
        let plaintext_refused = "[AUTH] Plaintext authentication is not allowed on an unencrypted connection; use STLS or port 995";
        match cmd {
            Command::Stls if self.tls => self.bad("TLS is already active"),
            Command::Stls if !self.plain_port => self.bad("STLS is not offered here"),
            Command::Stls => {
                self.user = None;
                self.ok(format_args!("Begin TLS negotiation"));
                Flow::StartTls
            }
            Command::User(_) | Command::Pass(_) | Command::Auth { .. } if !self.login_allowed() => {
                self.bad(plaintext_refused)
            }
            Command::User(name) => {
                // Any name is accepted here: whether it exists is only told
                // after PASS, together with the password's verdict.
                self.user = Some(name.to_string());
                self.ok(format_args!("Send the password"));
                Flow::Continue
            }
            Command::Pass(password) => match self.user.take() {
                Some(username) => {
                    let password = String::from_utf8_lossy(password).into_owned();
                    self.login(sasl::Credentials {
                        username,
                        password,
                        authzid: None,
                    })
                    .await
                }
                None => self.bad("Send USER first"),
            },
            Command::Auth {
                mechanism: None, ..
            } => {
                // The RFC 1734 listing form (Outlook and others still ask).
                self.ok(format_args!("Mechanisms follow"));
                for mechanism in sasl::MECHANISMS {
                    self.out.line(&[mechanism]);
                }
                self.out.push(b".\r\n");
                Flow::Continue
            }
            Command::Auth {
                mechanism: Some(mechanism),
                initial,
            } => {
                self.user = None;
                // RFC 5034 §4: an initial response is handled as if it
                // had answered the first challenge.
                self.sasl_step(Exchange::start(mechanism, initial)).await
            }
            _ => self.bad("Log in first"),
        }
    }

    /// Answers a step of the SASL exchange: a `+ ` continuation
    /// (RFC 5034 §4), the login, or the refusal.
    pub(super) async fn sasl_step(&mut self, step: Step) -> Flow {
        match step {
            Step::Challenge(exchange, challenge) => {
                self.out.line(&["+ ", challenge]);
                self.sasl = Some(exchange);
                Flow::Continue
            }
            // A PLAIN authorization identity naming another user is a
            // failed login ([AUTH], RFC 3206 §4) in `ctx.login_sasl`.
            Step::Done(c) => self.login(c).await,
            // RFC 5034 §4: "*" cancels; the answer is -ERR.
            Step::Failed(SaslError::Cancelled) => {
                self.err(format_args!("Authentication cancelled"));
                Flow::Continue
            }
            Step::Failed(SaslError::Unsupported) => {
                self.bad("Unsupported authentication mechanism")
            }
            Step::Failed(SaslError::Malformed) => self.bad("Malformed SASL response"),
        }
    }

    /// Checks the credentials (the limiter shared with IMAP and SMTP is in
    /// `ctx.login`) and, when they are good, opens the maildrop.
    async fn login(&mut self, credentials: sasl::Credentials) -> Flow {
        let user = credentials.username.clone();
        let result = self.ctx.login_sasl(self.peer.ip(), credentials).await;
        use crate::metrics::Svc;
        let service = [Svc::Pop3s, Svc::Pop3][usize::from(self.plain_port)];
        match crate::metrics::login(service, result) {
            LoginResult::Ok(account) => self.open(account),
            LoginResult::Failed => {
                log::info!("[{}] {}: login failed for {user:?}", self.id, self.name);
                // RFC 3206 §4: [AUTH] says the credentials were wrong.
                self.err(format_args!("[AUTH] Authentication failed"));
            }
            LoginResult::Blocked(blocked) => {
                if let Some(more) = self.ctx.repeated_line(self.peer.ip()) {
                    log::info!(
                        "[{}] {}: login refused for {user:?} from {}: too many failures {}{more}",
                        self.id,
                        self.name,
                        self.peer.ip(),
                        blocked.scope
                    );
                }
                let minutes = blocked.retry_after.as_secs().div_ceil(60).max(1);
                let whom = match blocked.scope {
                    Scope::User => "for this user from your address",
                };
                self.err(format_args!(
                    "[SYS/TEMP] Too many failed logins {whom}; try again in {minutes} minutes"
                ));
            }
            LoginResult::Busy => {
                // RFC 3206 §4: SYS/TEMP, a temporary server-side problem.
                self.err(format_args!(
                    "[SYS/TEMP] Too many logins at once; try again later"
                ));
            }
            LoginResult::Unavailable(e) => {
                log::error!("[{}] {}: login: {e}", self.id, self.name);
                self.err(format_args!("[SYS/TEMP] Temporary server failure"));
            }
        }
        Flow::Continue
    }

    /// Locks the account's INBOX and takes the session's snapshot of it
    /// (RFC 1939 §4: "acquires an exclusive-access lock on the maildrop").
    fn open(&mut self, account: Account) {
        let reader = match self.ctx.store.read() {
            Ok(reader) => reader,
            Err(e) => return self.store_failure(&e),
        };
        let mailbox = match reader.mailbox(account.id, "INBOX") {
            Ok(Some(mailbox)) => mailbox,
            Ok(None) => {
                log::error!(
                    "[{}] {}: {} has no INBOX",
                    self.id,
                    self.name,
                    account.address
                );
                return self.err(format_args!("[SYS/PERM] The account has no INBOX"));
            }
            Err(e) => return self.store_failure(&e),
        };
        // No await from here to the end: the lock is taken and the snapshot
        // read without another session running in between, so a session
        // that released the lock has committed its UPDATE before this read
        // transaction could have started.
        let Some(lock) = Lock::acquire(mailbox.id) else {
            log::info!(
                "[{}] {}: {} is in use by another POP3 session",
                self.id,
                self.name,
                account.address
            );
            // RFC 2449 §8.1.1.
            return self.err(format_args!(
                "[IN-USE] The mailbox is in use by another POP3 session"
            ));
        };
        let snapshot: Result<Vec<_>, _> = match reader.messages(mailbox.id) {
            Ok(messages) => messages
                .map(|m| m.map(|m| (m.uid, m.blob_id, m.size)))
                .collect(),
            Err(e) => Err(e),
        };
        let snapshot = match snapshot {
            Ok(snapshot) => snapshot,
            Err(e) => return self.store_failure(&e),
        };
        let maildrop = Maildrop::new(mailbox.id, mailbox.uidvalidity, snapshot);
        let (count, octets) = maildrop.stat();
        log::info!(
            "[{}] {}: login {} ({count} messages, {octets} octets)",
            self.id,
            self.name,
            account.address
        );
        self.ok(format_args!(
            "Logged in; {count} messages ({octets} octets)"
        ));
        self.who = Some(account.address.clone());
        self.tx = Some(Transaction {
            user: account.address,
            maildrop,
            _lock: lock,
        });
    }
}
