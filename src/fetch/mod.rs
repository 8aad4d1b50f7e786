//! Pulling mail from outside IMAP accounts into local mailboxes (the job
//! of fetchmail or mbsync in a homelab), leaving the provider's copy
//! exactly as it was.
//!
//! - [`runner`]: inside `serve`, one task per fetch account: poll every
//!   `--every`, or wait in IDLE on INBOX; back off after errors;
//! - [`sync`]: one folder's pull: EXAMINE, list new UIDs, fetch in
//!   batches, store each batch with its progress in one commit, re-sync
//!   without duplicates after a UIDVALIDITY change;
//! - [`client`]: the IMAP client session (TLS, login, EXAMINE, UID FETCH,
//!   IDLE), read-only by construction;
//! - [`response`], [`command`], [`identity`]: pure functions over bytes
//!   for what goes over the wire and what identifies a message;
//! - [`admin`]: `smolmail fetch add | list | del | run`.
//!
//! Settings, the remote password and the progress live in the store
//! (`store/fetch_ops.rs`), whose files are readable by their owner only.
//! The server starts the fetcher with an [`Env`]: the store and the two
//! settings it uses. Sockets, DNS and TLS are `crate::net`'s.

pub mod admin;
pub mod client;
pub mod command;
pub mod identity;
pub mod response;
mod runner;
pub mod sync;

pub use runner::start;

use std::net::SocketAddr;
use std::time::Duration;

use crate::store::{FetchAccount, Store};

/// What the fetcher needs from the server, and no more.
pub struct Env {
    pub store: Store,
    /// `--dns-server`; empty means /etc/resolv.conf.
    pub dns_servers: Vec<SocketAddr>,
    /// `--max-message-size`: larger messages stay on the server.
    pub max_message_size: u64,
    /// The server's memory budget for message bytes in flight.
    pub budget: crate::net::Budget,
    /// The server's name: Authentication-Results fields claiming it are
    /// removed from fetched mail (RFC 8601 §5).
    pub hostname: String,
}

/// `#3 bob@example.com at imap.example.com:993 for you@home.arpa`: how
/// log lines and `fetch list` name an account (never with its password).
pub fn describe(account: &FetchAccount) -> String {
    format!(
        "#{} {} at {}:{} for {}",
        account.id, account.user, account.host, account.port, account.local_user
    )
}

/// The one line a run leaves in the log.
pub fn run_line(account: &FetchAccount, totals: &sync::Totals, took: Duration) -> String {
    format!(
        "fetch: {}: {}",
        describe(account),
        run_summary(account, totals, took)
    )
}

/// What a run did, as `fetch list` shows it.
pub fn run_summary(account: &FetchAccount, totals: &sync::Totals, took: Duration) -> String {
    let mut line = format!(
        "{} new message{}, {} bytes in {:.2} s",
        totals.messages,
        if totals.messages == 1 { "" } else { "s" },
        totals.bytes,
        took.as_secs_f64()
    );
    if totals.too_large > 0 {
        line.push_str(&format!(
            "; {} over --max-message-size left on the server",
            totals.too_large
        ));
    }
    if totals.over_quota {
        line.push_str(&format!(
            "; stopped at the quota of {}, more once there is room",
            account.local_user
        ));
    }
    if totals.capped {
        line.push_str(&format!(
            "; stopped at --max-per-run {}, more next run",
            account.max_per_run
        ));
    }
    line
}

/// Text for an `every` in seconds: `90s`, `5m`, `2h`.
pub fn duration_text(secs: u32) -> String {
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn lines_name_the_account_but_not_the_password() {
        let account = FetchAccount {
            id: 3,
            local_user: "you@home.arpa".into(),
            host: "imap.example.com".into(),
            port: 993,
            starttls: false,
            user: "bob@example.com".into(),
            password: Secret("hunter2".into()),
            folders: Vec::new(),
            every: 300,
            idle: false,
            ca_pem: Vec::new(),
            max_per_run: 1000,
            created: 0,
        };
        let totals = sync::Totals {
            messages: 500,
            bytes: 1234,
            too_large: 1,
            capped: true,
            over_quota: false,
        };
        let line = run_line(&account, &totals, Duration::from_millis(1500));
        assert_eq!(
            line,
            "fetch: #3 bob@example.com at imap.example.com:993 for you@home.arpa: 500 new messages, 1234 bytes in 1.50 s; 1 over --max-message-size left on the server; stopped at --max-per-run 1000, more next run"
        );
        assert!(!format!("{account:?}").contains("hunter2"));
        assert_eq!(duration_text(300), "5m");
        assert_eq!(duration_text(7200), "2h");
        assert_eq!(duration_text(90), "90s");
    }
}
