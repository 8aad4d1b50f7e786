//! Who may send what to whom: recipient routing and relay control
//! (RFC 5321 §3.6, RFC 6409 §4-§6), and sender ownership for
//! authenticated submission.
//!
//! The rule that matters: mail for a domain that is not ours is accepted
//! only from an authenticated user or a trusted network. Addresses are
//! looked up literally, so `%`, quoted `@` and source routes can never turn
//! a local-looking address into a relay.

use super::command::Path;
use crate::address;
use crate::store::{Account, Reader, Recipient, StoreError, is_postmaster};

/// Where an accepted recipient's copies go.
#[derive(Debug, Default, PartialEq)]
pub struct Route {
    /// Local accounts (their INBOX).
    pub local: Vec<u64>,
    /// The same accounts' addresses (their quota).
    pub accounts: Vec<String>,
    /// Addresses for the outbound queue.
    pub remote: Vec<String>,
}

/// A refusal: the whole reply line.
pub type Refusal = String;

/// Whether the client may send to domains that are not ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Authenticated, or trusted and sending as one of our domains.
    Allowed,
    /// Neither authenticated nor trusted (or a trusted client with a
    /// foreign sender).
    Denied,
    /// A trusted but unauthenticated client with the null sender: `<>`
    /// is no address of a local domain, and only the bounces this server
    /// makes itself may leave with it (RFC 5321 §4.5.5 bounces from
    /// outside still reach local recipients).
    NullSender,
}

/// Routes a RCPT path.
pub fn route(
    reader: &Reader,
    path: &Path,
    hostname: &str,
    relay: Relay,
) -> Result<Result<Route, Refusal>, StoreError> {
    let shown = path.address();
    let domain = match path.domain.is_empty() {
        // RFC 5321 §4.5.1: <Postmaster> without a domain must be accepted.
        true => postmaster_domain(reader, hostname)?,
        false => path.domain.clone(),
    };
    let address = format!("{}@{domain}", path.canonical_local());
    let local_domain = !path.is_literal() && reader.is_local_domain(&domain)?;
    if local_domain || path.domain.is_empty() {
        let targets = match local_domain {
            true => reader.resolve(&address)?,
            // <Postmaster> on a server without a single local domain.
            false => Vec::new(),
        };
        if targets.is_empty() && is_postmaster(&path.canonical_local()) {
            // RFC 5321 §4.5.1 forbids a permanent refusal of postmaster;
            // with no account yet (or an alias to nobody) the server is
            // not set up to take it: temporary, so the sender retries
            // (RFC 3463 X.3.5, system incorrectly configured).
            log::warn!(
                "smtp: mail for <{shown}> deferred: postmaster goes nowhere (add a user, or an alias for {address})"
            );
            return Ok(Err(format!(
                "451 4.3.5 <{shown}>: Recipient address rejected: no postmaster yet, try again later\r\n"
            )));
        }
        if targets.is_empty() {
            return Ok(Err(format!(
                "550 5.1.1 <{shown}>: Recipient address rejected: User unknown in local domain\r\n"
            )));
        }
        let mut route = Route::default();
        for target in targets {
            match target {
                Recipient::Local {
                    account_id,
                    address,
                } => {
                    route.local.push(account_id);
                    route.accounts.push(address);
                }
                Recipient::Remote(a) => route.remote.push(a),
            }
        }
        return Ok(Ok(route));
    }
    match relay {
        Relay::Allowed => {}
        // Postfix's relay_domains_reject_code.
        Relay::Denied => return Ok(Err(format!("554 5.7.1 <{shown}>: Relay access denied\r\n"))),
        // RFC 5321 §4.3.2 lists 550 (not 553: the recipient's name is
        // fine) for a RCPT refused by policy; RFC 3463 X.7.1.
        Relay::NullSender => {
            return Ok(Err(format!(
                "550 5.7.1 <{shown}>: Relay access denied: the null sender <> may reach local recipients only\r\n"
            )));
        }
    }
    Ok(Ok(Route {
        remote: vec![shown],
        ..Route::default()
    }))
}

/// The domain `<Postmaster>` means: the host name if it is local, else the
/// first local domain.
fn postmaster_domain(reader: &Reader, hostname: &str) -> Result<String, StoreError> {
    if reader.is_local_domain(hostname)? {
        return Ok(hostname.to_string());
    }
    Ok(reader
        .domains()?
        .into_iter()
        .next()
        .unwrap_or_else(|| hostname.to_string()))
}

/// Whether an authenticated `account` may use `sender`: its own address
/// (with or without a `+tag`) or an address that delivers to it (an alias
/// or catch-all of theirs), as Postfix's reject_sender_login_mismatch.
pub fn sender_owned(reader: &Reader, account: &Account, sender: &Path) -> Result<bool, StoreError> {
    let canonical = sender.canonical();
    let Ok(sender) = address::normalize(&canonical) else {
        return Ok(false);
    };
    if sender == account.address
        || address::without_tag(&sender).as_deref() == Some(account.address.as_str())
    {
        return Ok(true);
    }
    let targets = reader.resolve(&sender)?;
    Ok(!targets.is_empty()
        && targets
            .iter()
            .any(|t| matches!(t, Recipient::Local { account_id, .. } if *account_id == account.id)))
}

/// Whether `sender` is in one of our domains (what a trusted but
/// unauthenticated client may use).
pub fn sender_is_local(reader: &Reader, sender: &Path) -> Result<bool, StoreError> {
    reader.is_local_domain(&sender.domain)
}
