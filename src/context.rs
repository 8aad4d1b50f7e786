//! What the server hands each protocol room: the shared [`Context`] and
//! one accepted connection, [`Conn`].
//!
//! It lives apart from `server` so that the rooms (smtp, imap, pop3)
//! never import the top floor that dispatches to them, and apart from
//! `net` because it holds the store, the users' credentials and the
//! configuration, which the ground floor must not know. The outbound
//! rooms (delivery, fetch) do not get a `Context` at all: they get their
//! own small `Env` of the store and the settings they use, built by
//! `server` from this one, and share only the [`Shutdown`] signal and the
//! queue kick.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use event_listener::{Event, EventListener};

use crate::auth::sasl::Credentials;
use crate::auth::{FailureLimiter, LoginResult, Verifier};
use crate::config::{Config, Service};
use crate::logsink::{Limiter, Verdict};
use crate::net::{Budget, Stream};
use crate::store::Store;
use crate::tls::Tls;

/// Shutdown, as the sessions and background tasks see it: a flag to look
/// at and an event to wait on. Listen first, then look, so that a
/// shutdown between the two is not missed.
#[derive(Default)]
pub struct Shutdown {
    begun: Cell<bool>,
    event: Event,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    pub fn is_begun(&self) -> bool {
        self.begun.get()
    }

    pub fn listen(&self) -> EventListener {
        self.event.listen()
    }

    /// Sets the flag and wakes every listener (SIGTERM/SIGINT).
    pub fn begin(&self) {
        self.begun.set(true);
        self.event.notify(usize::MAX);
    }
}

/// What every session can reach: shared, read-only after start-up.
pub struct Context {
    pub config: Config,
    pub store: Store,
    pub tls: Tls,
    pub verifier: Verifier,
    /// Failed logins per client address and per (address, user), shared
    /// by every protocol.
    pub limiter: FailureLimiter,
    /// Sessions may listen and say goodbye.
    pub shutdown: Rc<Shutdown>,
    /// Fired when SMTP queues mail for outbound delivery: wakes the runner.
    pub queue_kick: Rc<Event>,
    /// Message bytes in flight, all sessions (DESIGN.md "Budgets").
    pub budget: Budget,
    /// Logged-in sessions of the web admin pages (`http::admin`).
    pub admin_sessions: crate::http::admin::Sessions,
    next_session: Cell<u64>,
    /// Budget of lines a client can make the server repeat (refused
    /// logins while it is blocked): DESIGN.md "Budgets", the log.
    repeated: RefCell<Limiter>,
}

impl Context {
    pub fn new(config: Config, store: Store, tls: Tls) -> Context {
        let budget = Budget::new(usize::try_from(config.memory_budget).unwrap_or(usize::MAX));
        Context {
            budget,
            verifier: Verifier::new(2, config.auth_cache_ttl),
            config,
            store,
            tls,
            limiter: FailureLimiter::new(),
            shutdown: Rc::new(Shutdown::new()),
            queue_kick: Rc::new(Event::new()),
            admin_sessions: crate::http::admin::Sessions::new(),
            next_session: Cell::new(1),
            repeated: RefCell::new(Limiter::new(3, std::time::Duration::from_secs(60))),
        }
    }

    /// Whether to log a line that `ip` can make the server repeat at will
    /// (at most 3 a minute per client group): `Some` with a note of the
    /// lines held back before it, to append to the line; `None` to skip it.
    pub fn repeated_line(&self, ip: IpAddr) -> Option<String> {
        let group = crate::net::ClientAddr::new(ip).group();
        let verdict = self
            .repeated
            .borrow_mut()
            .allow(group, std::time::Instant::now());
        match verdict {
            Verdict::Log { suppressed: 0 } => Some(String::new()),
            Verdict::Log { suppressed } => {
                Some(format!(" ({suppressed} similar lines not logged)"))
            }
            Verdict::Quiet => None,
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_begun()
    }

    /// A new session id, for the log lines of one connection.
    pub fn next_session_id(&self) -> u64 {
        let id = self.next_session.get();
        self.next_session.set(id + 1);
        id
    }

    /// Checks a user's password for a session from `ip` (limiter included,
    /// with the trusted networks' allowance when `ip` is in them).
    pub async fn login(&self, ip: IpAddr, username: &str, password: String) -> LoginResult {
        crate::auth::login(
            &self.store,
            &self.verifier,
            &self.limiter,
            ip,
            self.config.is_trusted(ip),
            username,
            password,
        )
        .await
    }

    /// Checks what a SASL exchange presented (a proxy authorization
    /// identity is refused as a failed login): [`crate::auth::login_sasl`].
    pub async fn login_sasl(&self, ip: IpAddr, credentials: Credentials) -> LoginResult {
        crate::auth::login_sasl(
            &self.store,
            &self.verifier,
            &self.limiter,
            ip,
            self.config.is_trusted(ip),
            credentials,
        )
        .await
    }

    /// The queue has reached `--max-queue`: SMTP refuses remote recipients
    /// (452 4.3.1) until it drains, rather than fill the disk.
    pub fn queue_full(&self) -> bool {
        self.store
            .read()
            .and_then(|r| r.queue_len())
            .is_ok_and(|n| n >= u64::from(self.config.delivery.max_queue))
    }
}

/// One accepted connection, handed to its protocol's session.
pub struct Conn {
    /// Session id, in every log line of the session.
    pub id: u64,
    pub service: Service,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub stream: Stream,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_wakes_who_listened_first() {
        let shutdown = Shutdown::new();
        let listener = shutdown.listen();
        assert!(!shutdown.is_begun());
        shutdown.begin();
        assert!(shutdown.is_begun());
        smol::block_on(listener);
    }
}
