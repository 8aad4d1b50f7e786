//! A small cache of DNS answers for the checks of incoming mail (SPF,
//! DKIM keys, DMARC): a sender's domain sends many messages, and each
//! would otherwise cost the same dozen queries again. Answers are kept
//! for their TTL (RFC 1035 §3.2.1), never longer than [`MAX_TTL`];
//! negative answers (NXDOMAIN, no data; RFC 2308) at most
//! [`NEGATIVE_TTL`]; errors never.
//!
//! Bound: [`MAX_ENTRIES`] answers of at most [`MAX_ENTRY_BYTES`] each
//! (bigger ones are not kept), so the cache never holds much more than
//! 1 MiB. When full, expired entries go first, then the one that would
//! expire soonest. One cache per thread: the executor's, unlocked.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Answer, DnsError, Qtype, Record, Resolver};

pub const MAX_ENTRIES: usize = 512;
pub const MAX_ENTRY_BYTES: usize = 2048;
/// A record with a week's TTL still gets asked again within the hour.
pub const MAX_TTL: u32 = 3600;
/// A name that does not exist yet may be published any minute.
pub const NEGATIVE_TTL: u32 = 60;

/// The answers, keyed by lower-case name and question type.
#[derive(Default)]
pub struct Cache {
    map: HashMap<(String, &'static str), (Answer, Instant)>,
}

fn size(answer: &Answer) -> usize {
    match answer {
        Answer::Records(rs) => rs
            .iter()
            .map(|r| match r {
                Record::Txt(t) | Record::Ptr(t) => t.len() + 32,
                Record::Mx { exchange, .. } => exchange.len() + 32,
                _ => 32,
            })
            .sum(),
        _ => 0,
    }
}

impl Cache {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The answer for `name`/`qtype` if it has not expired at `now`.
    pub fn get(&mut self, name: &str, qtype: Qtype, now: Instant) -> Option<Answer> {
        let key = (name.to_string(), qtype.name());
        match self.map.get(&key) {
            Some((answer, until)) if *until > now => Some(answer.clone()),
            Some(_) => {
                self.map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Keeps `answer` for `ttl` seconds (capped as the module says).
    pub fn put(&mut self, name: &str, qtype: Qtype, answer: Answer, ttl: u32, now: Instant) {
        let cap = match answer {
            Answer::Records(_) => MAX_TTL,
            _ => NEGATIVE_TTL,
        };
        let ttl = ttl.min(cap);
        if ttl == 0 || size(&answer) > MAX_ENTRY_BYTES {
            return;
        }
        let key = (name.to_string(), qtype.name());
        if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(&key) {
            self.map.retain(|_, (_, until)| *until > now);
            if self.map.len() >= MAX_ENTRIES {
                let soonest = self
                    .map
                    .iter()
                    .min_by_key(|(_, (_, u))| *u)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    self.map.remove(&k);
                }
            }
        }
        let until = now + Duration::from_secs(u64::from(ttl));
        self.map.insert(key, (answer, until));
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The resolver with the cache in front.
pub struct Cached<'a>(pub &'a Resolver);

impl Cached<'_> {
    pub async fn lookup(&self, name: &str, qtype: Qtype) -> Result<Answer, DnsError> {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        let now = Instant::now();
        if let Some(hit) = CACHE.with(|c| c.borrow_mut().get(&key, qtype, now)) {
            return Ok(hit);
        }
        let (answer, ttl) = self.0.lookup_ttl(name, qtype).await?;
        let now = Instant::now();
        CACHE.with(|c| c.borrow_mut().put(&key, qtype, answer.clone(), ttl, now));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(t: &str) -> Answer {
        Answer::Records(vec![Record::Txt(t.into())])
    }

    #[test]
    fn rfc1035_answers_kept_for_their_ttl_capped() {
        let mut c = Cache::default();
        let t0 = Instant::now();
        c.put("a.example", Qtype::Txt, txt("v=spf1 -all"), 30, t0);
        assert_eq!(c.get("a.example", Qtype::Txt, t0), Some(txt("v=spf1 -all")));
        assert_eq!(c.get("a.example", Qtype::Mx, t0), None);
        assert_eq!(
            c.get("a.example", Qtype::Txt, t0 + Duration::from_secs(31)),
            None
        );
        assert!(c.is_empty(), "an expired entry is dropped when seen");
        c.put("b.example", Qtype::Txt, txt("x"), 86400 * 7, t0);
        let hour = Duration::from_secs(u64::from(MAX_TTL));
        assert!(
            c.get("b.example", Qtype::Txt, t0 + hour - Duration::from_secs(1))
                .is_some()
        );
        assert!(c.get("b.example", Qtype::Txt, t0 + hour).is_none());
        // TTL 0: not kept.
        c.put("c.example", Qtype::Txt, txt("x"), 0, t0);
        assert!(c.get("c.example", Qtype::Txt, t0).is_none());
    }

    #[test]
    fn rfc2308_negative_answers_kept_briefly() {
        let mut c = Cache::default();
        let t0 = Instant::now();
        c.put("gone.example", Qtype::A, Answer::NxDomain, 86400, t0);
        let minute = Duration::from_secs(u64::from(NEGATIVE_TTL));
        assert_eq!(c.get("gone.example", Qtype::A, t0), Some(Answer::NxDomain));
        assert_eq!(c.get("gone.example", Qtype::A, t0 + minute), None);
    }

    #[test]
    fn bounded_entries_and_sizes() {
        let mut c = Cache::default();
        let t0 = Instant::now();
        c.put(
            "big.example",
            Qtype::Txt,
            txt(&"x".repeat(MAX_ENTRY_BYTES)),
            60,
            t0,
        );
        assert!(c.is_empty());
        for n in 0..MAX_ENTRIES + 10 {
            c.put(
                &format!("n{n}.example"),
                Qtype::A,
                Answer::NoData,
                10 + n as u32,
                t0,
            );
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        // The soonest to expire were the ones let go.
        assert!(c.get("n0.example", Qtype::A, t0).is_none());
        assert!(
            c.get(&format!("n{}.example", MAX_ENTRIES + 9), Qtype::A, t0)
                .is_some()
        );
    }
}
