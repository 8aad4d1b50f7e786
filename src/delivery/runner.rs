//! The queue runner: one task on the executor that finds due queue
//! entries, sends their recipients on, and writes back what happened.
//!
//! An attempt of an entry splits its pending recipients by destination
//! (`route::destination`). Each destination has a job: a line of messages
//! served by up to `--max-outbound-per-destination` workers, each holding
//! one connection that carries message after message (one connection per
//! destination carries all its recipients of a message, and many messages).
//! A global semaphore bounds all connections (`--max-outbound`). Workers
//! are plain tasks that wait on sockets, so sessions are never starved; the
//! runner's own scans read keys first and decode only what they take.
//!
//! When every destination of an entry has answered, the entry's result is
//! written in one store write: recipient states, the next due time with
//! exponential backoff (base doubling up to 4 h, never past the lifetime),
//! or removal with the body's reference released, and any notices (bounce,
//! delay, relayed) in the same commit. A crash between a server's `250`
//! and that commit sends the message again at restart: at-least-once, as
//! RFC 5321 §6.1 expects; nothing is lost.
//!
//! This file scans the queue and writes outcomes; the sending side (jobs,
//! workers, connections to the hops) is `runner/jobs.rs`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::{LocalExecutor, Timer};

use super::body::{self, Shape};
use super::bounce::{self, Action, Report, ReportRcpt};
use super::client::{TlsPolicy, Transport};
use super::mta_sts::Sts;
use super::notice;
use super::route::Dest;
use super::secure::Security;
use super::{Env, Kind, Verdict};
use crate::config::MAX_RETRY;
use crate::dsn::{self, notify};
use crate::net::dns::Resolver;
use crate::net::tls;
use crate::store::{Outbound, QueueEntry, QueueUpdate, StoreError, Summarized};

mod jobs;

/// Entries in flight at once: bounds the runner's memory.
const MAX_IN_FLIGHT: usize = 2000;
/// The longest the runner sleeps without looking at the store: how soon
/// `smolmail queue flush` from another process takes effect.
const POLL: Duration = Duration::from_secs(5);

/// Builds the runner and spawns it on `ex`. Fails (before serving) on a
/// TLS setup error such as an unreadable `--relay-ca`.
pub fn start(ex: &Rc<LocalExecutor<'static>>, env: Env) -> Result<(), String> {
    let config = &env.settings;
    let mx = Transport {
        helo: env.hostname.clone(),
        tls: tls::opportunistic()?,
        policy: TlsPolicy::Opportunistic,
        auth: None,
        required_by: None,
    };
    let relay = match &config.relay {
        Some(r) => Some(Transport {
            helo: env.hostname.clone(),
            tls: tls::verified(r.ca_file.as_deref())?,
            policy: TlsPolicy::Required {
                implicit: r.implicit_tls,
            },
            auth: r.auth.clone(),
            required_by: None,
        }),
        None => None,
    };
    let resolver = Resolver::new(&config.dns_servers);
    if config.mta_sts_test_ca.is_some() || config.mta_sts_test_port != 443 {
        log::warn!(
            "delivery: MTA-STS test settings in force (--mta-sts-test-ca / --mta-sts-test-port or their SMOLMAIL_ variables): policy hosts are trusted or reached other than RFC 8461 §3.3 says; for tests only"
        );
    }
    let verified = tls::verified_for(config.mta_sts_test_ca.as_deref(), "--mta-sts-test-ca")?;
    let security = Security {
        sts: Sts::new(verified.clone(), config.mta_sts_test_port),
        verified,
    };
    let runner = Rc::new(Runner {
        security,
        ex: ex.clone(),
        resolver,
        mx,
        relay,
        connections: smol::lock::Semaphore::new(config.max_outbound as usize),
        in_flight: RefCell::new(HashSet::new()),
        held: RefCell::new(HashMap::new()),
        jobs: RefCell::new(HashMap::new()),
        wake: event_listener::Event::new(),
        more: Cell::new(false),
        env,
    });
    match &runner.env.settings.relay {
        Some(r) => log::info!(
            "delivery: outbound mail goes through {}:{} ({}{})",
            r.host,
            r.port,
            if r.implicit_tls {
                "implicit TLS"
            } else {
                "STARTTLS"
            },
            r.auth
                .as_ref()
                .map(|(u, _)| format!(", AUTH as {u}"))
                .unwrap_or_default()
        ),
        None => log::info!(
            "delivery: outbound mail goes to each domain's MX (port {})",
            runner.env.settings.smtp_port_out
        ),
    }
    ex.spawn(runner.run()).detach();
    Ok(())
}

struct Runner {
    env: Env,
    ex: Rc<LocalExecutor<'static>>,
    resolver: Resolver,
    /// To MX hosts and `--route` hosts.
    mx: Transport,
    relay: Option<Transport>,
    /// DANE and MTA-STS for MX hosts.
    security: Security,
    connections: smol::lock::Semaphore,
    /// Entry ids being attempted: the scan leaves them alone.
    in_flight: RefCell<HashSet<u64>>,
    /// Entries whose result could not be stored (disk full?), with when
    /// to try again: without this their old due time would have them sent
    /// again at once, over and over.
    held: RefCell<HashMap<u64, i64>>,
    jobs: RefCell<HashMap<Dest, Rc<Job>>>,
    /// Wakes the main loop from inside (an attempt finished).
    wake: event_listener::Event,
    /// The last scan stopped at MAX_IN_FLIGHT with more due.
    more: Cell<bool>,
}

/// One attempt of one queue entry, shared by its destinations' jobs.
struct Attempt {
    entry: QueueEntry,
    /// What the body needs, found when first needed: scanning a large
    /// message is work, done by the worker about to send it rather than
    /// by the scan for every due entry at once.
    shape: Cell<Option<Shape>>,
    started: Instant,
    verdicts: RefCell<Vec<Option<Verdict>>>,
    /// Destinations that have not answered yet.
    outstanding: Cell<usize>,
}

impl Attempt {
    /// `Ok(None)`: the body is missing (a damaged store).
    fn shape(&self, store: &crate::store::Store) -> Result<Option<Shape>, StoreError> {
        if let Some(shape) = self.shape.get() {
            return Ok(Some(shape));
        }
        let shape = store.read()?.blob(self.entry.blob_id)?.map(body::inspect);
        self.shape.set(shape);
        Ok(shape)
    }
}

/// Some recipients of one attempt, for one destination.
struct Msg {
    attempt: Rc<Attempt>,
    rcpts: Vec<usize>,
}

/// The messages waiting for one destination and the workers serving it.
struct Job {
    dest: Dest,
    line: RefCell<VecDeque<Msg>>,
    workers: Cell<usize>,
    /// Workers holding a live session.
    connected: Cell<usize>,
}

impl Runner {
    async fn run(self: Rc<Self>) {
        loop {
            if self.env.shutdown.is_begun() {
                return;
            }
            // Listen before looking, so a kick during the scan is not lost.
            let kicked = self.env.kick.listen();
            let woken = self.wake.listen();
            let shutdown = self.env.shutdown.listen();
            let pause = match self.scan() {
                Ok(pause) => pause,
                Err(e) => {
                    log::error!("delivery: cannot read the queue: {e}");
                    POLL
                }
            };
            smol::future::or(
                smol::future::or(kicked, woken),
                smol::future::or(shutdown, async {
                    Timer::after(pause).await;
                }),
            )
            .await;
        }
    }

    /// Starts every due entry; returns how long to sleep.
    fn scan(self: &Rc<Self>) -> Result<Duration, StoreError> {
        let now = crate::time::now();
        let room = MAX_IN_FLIGHT.saturating_sub(self.in_flight.borrow().len());
        self.held.borrow_mut().retain(|_, until| *until > now);
        let scan = {
            let (in_flight, held) = (self.in_flight.borrow(), self.held.borrow());
            self.env.store.read()?.queue_due(
                now,
                |id| in_flight.contains(&id) || held.contains_key(&id),
                room,
            )?
        };
        self.more.set(scan.more);
        for entry in scan.due {
            self.begin(entry);
        }
        let pause = match scan.next_due {
            Some(due) => {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                Duration::from_millis((due * 1000 - now_ms).max(0) as u64)
            }
            None => POLL,
        };
        Ok(pause.min(POLL))
    }

    /// Writes the attempt's outcome (and notices) in one store write.
    async fn finish(self: Rc<Self>, attempt: Rc<Attempt>) {
        let now = crate::time::now();
        let config = &self.env.settings;
        let entry = &attempt.entry;
        let mut out = entry.outbound.clone();
        out.attempts += 1;
        let lifetime_end = out.arrival + config.queue_lifetime.as_secs() as i64;
        let verdicts = attempt.verdicts.borrow().clone();
        let mut statuses: HashMap<usize, (String, bool)> = HashMap::new();
        let (mut failed, mut relayed) = (Vec::new(), Vec::new());
        for (i, v) in verdicts.iter().enumerate() {
            let Some(v) = v else { continue };
            let r = &mut out.recipients[i];
            r.last_error.clone_from(&v.diagnostic);
            r.remote_mta.clone_from(&v.mta);
            statuses.insert(i, (v.status.clone(), v.remote));
            match v.kind {
                Kind::Sent => {
                    r.state = crate::store::queue::RecipientState::Delivered;
                    if r.notify & notify::SUCCESS != 0 && !v.peer_dsn {
                        relayed.push(i);
                    }
                }
                Kind::Failed => {
                    r.state = crate::store::queue::RecipientState::Failed;
                    failed.push(i);
                }
                Kind::Deferred => {}
            }
        }
        let pending = |o: &Outbound| -> Vec<usize> {
            o.recipients
                .iter()
                .enumerate()
                .filter(|(_, r)| r.state == crate::store::queue::RecipientState::Pending)
                .map(|(i, _)| i)
                .collect()
        };
        if now >= lifetime_end {
            for i in pending(&out) {
                let r = &mut out.recipients[i];
                r.state = crate::store::queue::RecipientState::Failed;
                r.last_error = format!(
                    "delivery time expired after {} attempts; last problem: {}",
                    out.attempts, r.last_error
                );
                statuses.insert(i, ("4.4.7".into(), false));
                log::info!(
                    "delivery: {}: to=<{}>, delay={}, dsn=4.4.7, status=bounced (message expired after {} attempts)",
                    out.queue_id,
                    r.address,
                    now - out.arrival,
                    out.attempts
                );
                crate::metrics::outbound(crate::metrics::Outcome::Bounced);
                failed.push(i);
            }
        }
        let mut delayed = Vec::new();
        if let Some(warning) = config.delay_warning
            && now - out.arrival >= warning.as_secs() as i64
        {
            for i in pending(&out) {
                let r = &mut out.recipients[i];
                if !r.delay_notified && notify::wants(r.notify, notify::DELAY) {
                    r.delay_notified = true;
                    delayed.push(i);
                }
            }
        }
        let owed = [
            (Action::Failed, failed),
            (Action::Delayed, delayed),
            (Action::Relayed, relayed),
        ];
        let notices = self.notices(&attempt, &out, owed, &statuses, now, lifetime_end);
        let queued_notice = notices.iter().any(|n: &Summarized| n.outbound.is_some());
        let next = if pending(&out).is_empty() {
            None
        } else {
            let due = (now + backoff(config.retry_base, out.attempts))
                .min(lifetime_end)
                .max(now + 1);
            Some((due, out))
        };
        let retry = next.is_some();
        let update = QueueUpdate {
            entry_id: entry.entry_id,
            due: entry.due,
            next,
            notices,
        };
        match self.env.store.queue_update(update).await {
            Ok(()) if !retry => log::info!("delivery: {}: removed", entry.outbound.queue_id),
            Ok(()) => {}
            Err(e) => {
                log::error!(
                    "delivery: {}: cannot store the result of the attempt: {e}; holding it for {}s",
                    entry.outbound.queue_id,
                    config.retry_base.as_secs()
                );
                let until = now + config.retry_base.as_secs() as i64;
                self.held.borrow_mut().insert(entry.entry_id, until);
            }
        }
        self.in_flight.borrow_mut().remove(&entry.entry_id);
        // The runner planned its sleep while this entry was in flight: a
        // retry, a queued notice or entries held back need a new look.
        if retry || queued_notice || self.more.get() {
            self.wake.notify(1);
        }
    }

    /// The notifications an attempt owes the sender, as the recipients'
    /// NOTIFY asks (`owed`: who failed, is delayed, was relayed); none
    /// for a null sender. A notice that cannot be made is logged.
    fn notices(
        &self,
        attempt: &Attempt,
        out: &Outbound,
        owed: [(Action, Vec<usize>); 3],
        statuses: &HashMap<usize, (String, bool)>,
        now: i64,
        lifetime_end: i64,
    ) -> Vec<Summarized> {
        let mut notices = Vec::new();
        if out.sender.is_empty() {
            if owed
                .iter()
                .any(|(a, who)| *a == Action::Failed && !who.is_empty())
            {
                log::info!(
                    "delivery: {}: no notification: the sender is null (a bounce is not bounced)",
                    out.queue_id
                );
            }
            return notices;
        }
        for (action, mut who) in owed {
            if action == Action::Failed {
                who.retain(|&i| notify::wants(out.recipients[i].notify, notify::FAILURE));
            }
            if who.is_empty() {
                continue;
            }
            let until = (action == Action::Delayed).then_some(lifetime_end);
            match self.notice(attempt, out, action, &who, statuses, now, until) {
                Ok(Some(notice)) => notices.push(notice),
                Ok(None) => {}
                Err(e) => log::error!(
                    "delivery: {}: cannot make the {action:?} notice: {e}",
                    out.queue_id
                ),
            }
        }
        notices
    }

    /// Builds a notification for `who` and finds where it goes: the
    /// sender's INBOX when local, else the queue.
    #[allow(clippy::too_many_arguments)]
    fn notice(
        &self,
        attempt: &Attempt,
        out: &Outbound,
        action: Action,
        who: &[usize],
        statuses: &HashMap<usize, (String, bool)>,
        now: i64,
        retry_until: Option<i64>,
    ) -> Result<Option<Summarized>, StoreError> {
        let shape = attempt.shape(&self.env.store)?.unwrap_or(Shape {
            start: 0,
            size: 0,
            eight_bit: false,
            utf8_headers: false,
        });
        let reader = self.env.store.read()?;
        let full = out.ret == dsn::Ret::Full
            && action == Action::Failed
            && shape.size <= bounce::FULL_RETURN_LIMIT;
        let original: Vec<u8> = match reader.blob(attempt.entry.blob_id)? {
            Some(blob) => {
                let content = &blob[shape.start.min(blob.len())..];
                if full {
                    content.to_vec()
                } else {
                    bounce::header_section(content).to_vec()
                }
            }
            None => Vec::new(),
        };
        let recipients: Vec<ReportRcpt> = who
            .iter()
            .map(|&i| {
                let r = &out.recipients[i];
                let (status, remote) = statuses
                    .get(&i)
                    .map(|(s, remote)| (s.as_str(), *remote))
                    .unwrap_or(("4.0.0", false));
                ReportRcpt {
                    address: &r.address,
                    orcpt: r.orcpt.as_deref(),
                    status,
                    diagnostic: &r.last_error,
                    remote,
                    mta: &r.remote_mta,
                }
            })
            .collect();
        let boundary = format!("{}/{}", crate::store::new_queue_id(), self.env.hostname);
        let message = bounce::compose(&Report {
            action,
            hostname: &self.env.hostname,
            queue_id: &out.queue_id,
            to: &out.sender,
            envid: out.envid.as_deref(),
            arrival: out.arrival,
            now,
            retry_until,
            recipients,
            original: &original,
            full,
            boundary: &boundary,
        });
        let Some((notice, queued)) = notice::addressed(&reader, &out.sender, message, now)? else {
            log::warn!(
                "delivery: {}: nobody takes the notification for <{}>",
                out.queue_id,
                out.sender
            );
            return Ok(None);
        };
        drop(reader);
        log::info!(
            "delivery: {}: sender {} notification: {} to <{}> ({})",
            out.queue_id,
            match action {
                Action::Failed => "non-delivery",
                Action::Delayed => "delay",
                Action::Relayed | Action::Delivered => "delivery status",
            },
            notice
                .outbound
                .as_ref()
                .map_or("-", |o| o.queue_id.as_str()),
            out.sender,
            if queued { "queued" } else { "local" }
        );
        Ok(Some(Summarized::new(notice)))
    }
}

/// Seconds until attempt `attempts + 1`: base, 2·base, 4·base … ≤ 4 h.
fn backoff(base: Duration, attempts: u32) -> i64 {
    let base = base.as_secs().max(1);
    let factor = 1u64 << attempts.saturating_sub(1).min(20);
    base.saturating_mul(factor)
        .min(MAX_RETRY.as_secs().max(base)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_four_hours() {
        let base = Duration::from_secs(300);
        let got: Vec<i64> = (1..=8).map(|n| backoff(base, n)).collect();
        assert_eq!(got, [300, 600, 1200, 2400, 4800, 9600, 14_400, 14_400]);
        assert_eq!(backoff(Duration::from_secs(1), 3), 4);
        assert_eq!(backoff(base, 0), 300);
        assert_eq!(backoff(base, u32::MAX), 14_400);
    }
}
