//! MTA-STS (RFC 8461) for outbound direct delivery: a recipient domain's
//! policy, found through its `_mta-sts` TXT record (§3.1), fetched from
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (§3.3) and cached in
//! the store for its max_age (§5.1), refetched when the record's id
//! changes or the cached copy expires. What the policy then demands of
//! each MX host is `secure.rs`'s business.
//!
//! The work is bounded: one fetch per domain at a time (later workers
//! wait for it and read its result), and a failed fetch is not repeated
//! for [`FAILURE_HOLD`], so a domain whose policy host is down costs one
//! HTTPS attempt per few minutes, not one per message.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use rustls::ClientConfig;

use crate::net::dns::{Answer, Qtype, Record, Resolver};
use crate::net::https_get::{self, Get};
use crate::store::Store;
use crate::wire::mta_sts::{self, Policy};

/// How long a failed fetch is remembered before trying again.
pub const FAILURE_HOLD: i64 = 300;
/// Domains with a remembered failure, at most (a bound on memory).
const MAX_FAILED: usize = 1024;
/// §3.3: the well-known path.
const PATH: &str = "/.well-known/mta-sts.txt";

/// A cached policy: the TXT id it came with, when it expires (Unix
/// seconds) and the parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cached {
    id: String,
    expires: i64,
    policy: Policy,
}

/// The store's value: `ID\n`, then the parsed policy written back as a
/// minimal policy file (mode, max_age, mx patterns; no comments, no
/// unknown keys), which is all that is kept of the fetched body: at
/// most 64 patterns, whatever the body's size.
fn encode(id: &str, policy: &Policy) -> Vec<u8> {
    let mut v = format!(
        "{id}\nversion: STSv1\nmode: {}\nmax_age: {}\n",
        policy.mode.as_str(),
        policy.max_age
    );
    for mx in &policy.mx {
        v.push_str(&format!("mx: {mx}\n"));
    }
    v.into_bytes()
}

fn decode(expires: i64, value: &[u8]) -> Option<Cached> {
    let nl = value.iter().position(|&b| b == b'\n')?;
    let id = std::str::from_utf8(&value[..nl]).ok()?;
    Some(Cached {
        id: id.to_string(),
        expires,
        policy: mta_sts::parse_policy(&value[nl + 1..]).ok()?,
    })
}

/// Policy lookups for the queue runner.
pub struct Sts {
    /// Verifies policy hosts (Mozilla's roots plus `--mta-sts-test-ca`).
    tls: Arc<ClientConfig>,
    port: u16,
    /// Domains being looked at now: the second asker waits for the first.
    busy: RefCell<HashMap<String, Rc<smol::lock::Mutex<()>>>>,
    /// Domains whose fetch failed, until when.
    failed: RefCell<HashMap<String, i64>>,
}

impl Sts {
    pub fn new(tls: Arc<ClientConfig>, port: u16) -> Sts {
        Sts {
            tls,
            port,
            busy: RefCell::new(HashMap::new()),
            failed: RefCell::new(HashMap::new()),
        }
    }

    /// The policy that applies to mail for `domain` now, if any.
    pub async fn policy(&self, domain: &str, resolver: &Resolver, store: &Store) -> Option<Policy> {
        let lock = self
            .busy
            .borrow_mut()
            .entry(domain.to_string())
            .or_default()
            .clone();
        let guard = lock.lock().await;
        let policy = self.look(domain, resolver, store).await;
        drop(guard);
        // The last one out removes the entry: the map holds only domains
        // being worked on.
        if Rc::strong_count(&lock) == 2 {
            self.busy.borrow_mut().remove(domain);
        }
        policy
    }

    async fn look(&self, domain: &str, resolver: &Resolver, store: &Store) -> Option<Policy> {
        let now = crate::time::now();
        let cached = match store.read().and_then(|r| r.mta_sts(domain)) {
            Ok(value) => value
                .and_then(|(expires, v)| decode(expires, &v))
                .filter(|c| c.expires > now),
            Err(e) => {
                log::warn!("delivery: MTA-STS cache of {domain}: {e}");
                None
            }
        };
        let record = match resolver
            .lookup(&format!("_mta-sts.{domain}"), Qtype::Txt)
            .await
        {
            Ok(Answer::Records(records)) => {
                mta_sts::pick_record(records.iter().filter_map(|r| match r {
                    Record::Txt(t) => Some(t.as_bytes()),
                    _ => None,
                }))
            }
            Ok(_) => None,
            Err(e) => {
                log::info!("delivery: MTA-STS record of {domain}: {e}");
                None
            }
        };
        let Some(record) = record else {
            // §5.1: a policy still cached stays in force when the record
            // disappears (an attacker may have removed it).
            return cached.map(|c| c.policy);
        };
        if let Some(c) = cached.as_ref().filter(|c| c.id == record.id) {
            return Some(c.policy.clone());
        }
        if self
            .failed
            .borrow()
            .get(domain)
            .is_some_and(|&until| until > now)
        {
            return cached.map(|c| c.policy);
        }
        match self.fetch(domain, resolver).await {
            Ok(policy) => {
                self.failed.borrow_mut().remove(domain);
                let expires = now + policy.max_age as i64;
                log::info!(
                    "delivery: MTA-STS policy of {domain} (id {}): mode {}, {} mx pattern(s), max_age {}",
                    record.id,
                    policy.mode.as_str(),
                    policy.mx.len(),
                    policy.max_age
                );
                if let Err(e) = store
                    .set_mta_sts(domain, expires, encode(&record.id, &policy))
                    .await
                {
                    log::warn!("delivery: MTA-STS cache of {domain} not kept: {e}");
                }
                Some(policy)
            }
            Err(e) => {
                // §5.1: with a record but no fetchable policy, a valid
                // cached policy still applies; otherwise there is none.
                log::warn!(
                    "delivery: MTA-STS policy of {domain} could not be fetched: {e}; {}",
                    if cached.is_some() {
                        "keeping the cached policy"
                    } else {
                        "delivering without one"
                    }
                );
                let mut failed = self.failed.borrow_mut();
                if failed.len() >= MAX_FAILED {
                    failed.retain(|_, until| *until > now);
                }
                if failed.len() < MAX_FAILED {
                    failed.insert(domain.to_string(), now + FAILURE_HOLD);
                }
                cached.map(|c| c.policy)
            }
        }
    }

    async fn fetch(&self, domain: &str, resolver: &Resolver) -> Result<Policy, String> {
        let host = format!("mta-sts.{domain}");
        let target = Get {
            host: &host,
            port: self.port,
            path: PATH,
        };
        let body = https_get::get(&target, &self.tls, resolver)
            .await
            .map_err(|e| e.0)?;
        mta_sts::parse_policy(&body).map_err(|e| format!("bad policy: {}", e.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_values_round_trip() {
        let body = b"version: STSv1\r\nmode: enforce\r\nmx: *.example.org\r\nmx: mx.example.net\r\nfuture: ext\r\nmax_age: 86400\r\n";
        let policy = mta_sts::parse_policy(body).unwrap();
        let c = decode(1_800_000_000, &encode("20260101", &policy)).unwrap();
        assert_eq!((c.id.as_str(), c.expires), ("20260101", 1_800_000_000));
        assert_eq!(c.policy, policy);
        assert!(c.policy.allows("mx1.example.org"));
        assert_eq!(decode(0, b"no newline"), None);
    }
}
