//! Outbound delivery: mail for other domains leaves the store's queue
//! either directly, to each domain's MX hosts on port 25 with
//! opportunistic TLS, or through a relay host (a provider's submission
//! port, with verified TLS and AUTH), as Postfix does with and without
//! `relayhost`.
//!
//! - [`runner`]: the queue runner on the executor: due entries, grouped by
//!   destination, bounded connections, retries with backoff, bounces;
//! - [`route`]: the next hop of a recipient and the addresses to try
//!   (the DNS and the client TLS policies are `crate::net`'s);
//! - `secure`, `mta_sts`: which MX hosts, and how verified, by DANE
//!   (RFC 7672) and MTA-STS (RFC 8461);
//! - [`client`]: the SMTP client session;
//! - [`reply`], [`body`]: pure parsing and encoding of what goes over the
//!   wire;
//! - [`bounce`]: RFC 3464 delivery status notifications; [`notice`]:
//!   where they go, and the "delivered" notice the SMTP server writes;
//! - [`admin`]: `smolmail queue list | flush | delete`.
//!
//! The server starts the runner with an [`Env`]: the store, the settings,
//! and two signals. SMTP stores a message and its queue entry in one
//! commit and then fires the queue kick, which wakes the runner; the
//! runner also scans on a timer, which is how `smolmail queue flush` from
//! another process reaches a running server.

pub mod admin;
pub mod body;
pub mod bounce;
pub mod client;
mod mta_sts;
pub mod notice;
pub mod reply;
pub mod route;
mod runner;
mod secure;

pub use runner::start;

use std::rc::Rc;

use crate::config::DeliveryConfig;
use crate::context::Shutdown;
use crate::store::Store;

/// What the runner needs from the server, and no more.
pub struct Env {
    pub store: Store,
    /// Our name, for EHLO and in notifications (`--hostname`).
    pub hostname: String,
    pub settings: DeliveryConfig,
    /// Fired when mail is queued: look at the queue now.
    pub kick: Rc<event_listener::Event>,
    pub shutdown: Rc<Shutdown>,
}

/// What became of one recipient in one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sent,
    Deferred,
    Failed,
}

/// One recipient's result, with what the log and a DSN need.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: Kind,
    /// RFC 3463 status, e.g. `2.0.0`, `4.4.1`, `5.1.1`.
    pub status: String,
    /// The server's reply (`remote`) or our own reason.
    pub diagnostic: String,
    pub remote: bool,
    /// The server that answered, by name (DSN Remote-MTA); may be empty.
    pub mta: String,
    /// That server takes DSN parameters (RFC 3461), so it will report
    /// success itself when asked.
    pub peer_dsn: bool,
}

impl Verdict {
    /// A failure decided here, before or without any server's reply.
    pub fn local(kind: Kind, status: &str, text: impl Into<String>) -> Verdict {
        Verdict {
            kind,
            status: status.to_string(),
            diagnostic: text.into(),
            remote: false,
            mta: String::new(),
            peer_dsn: false,
        }
    }
}
