//! The sending side of the queue runner: an attempt split by destination
//! into jobs, workers that each hold one connection and carry message after
//! message, and the verdicts filed back to the attempt. (The parent module
//! scans the queue and writes each attempt's outcome.)

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use super::{Attempt, Job, Msg, Runner};
use crate::delivery::client::{
    self, Envelope, Hop, HopError, RcptSpec, Session, TlsPolicy, Transport,
};
use crate::delivery::route::{self, Dest, RouteError};
use crate::delivery::secure;
use crate::delivery::{Kind, Verdict};
use crate::store::QueueEntry;
use crate::wire::mta_sts::{Mode, Policy};

impl Runner {
    /// Starts one attempt of one entry.
    pub(super) fn begin(self: &Rc<Self>, entry: QueueEntry) {
        self.in_flight.borrow_mut().insert(entry.entry_id);
        let n = entry.outbound.recipients.len();
        let attempt = Rc::new(Attempt {
            shape: Cell::new(None),
            entry,
            started: Instant::now(),
            verdicts: RefCell::new(vec![None; n]),
            outstanding: Cell::new(0),
        });
        let mut groups: Vec<(Dest, Vec<usize>)> = Vec::new();
        for (i, r) in attempt.entry.outbound.recipients.iter().enumerate() {
            if r.state != crate::store::queue::RecipientState::Pending {
                continue;
            }
            match route::destination(&self.env.settings, &r.address) {
                Ok(dest) => match groups.iter_mut().find(|(d, _)| *d == dest) {
                    Some((_, rcpts)) => rcpts.push(i),
                    None => groups.push((dest, vec![i])),
                },
                Err(e) => {
                    self.log(&attempt, i, &route_verdict(&e), "none");
                    attempt.verdicts.borrow_mut()[i] = Some(route_verdict(&e));
                }
            }
        }
        attempt.outstanding.set(groups.len());
        if groups.is_empty() {
            self.ex.spawn(self.clone().finish(attempt)).detach();
            return;
        }
        for (dest, rcpts) in groups {
            let msg = Msg {
                attempt: attempt.clone(),
                rcpts,
            };
            let job = self
                .jobs
                .borrow_mut()
                .entry(dest.clone())
                .or_insert_with(|| {
                    Rc::new(Job {
                        dest,
                        line: RefCell::new(VecDeque::new()),
                        workers: Cell::new(0),
                        connected: Cell::new(0),
                    })
                })
                .clone();
            job.line.borrow_mut().push_back(msg);
            self.staff(&job);
        }
    }

    /// Adds workers to a job, one per waiting message, up to the limit.
    fn staff(self: &Rc<Self>, job: &Rc<Job>) {
        let limit = self.env.settings.max_outbound_per_destination as usize;
        while job.workers.get() < limit && job.workers.get() < job.line.borrow().len() {
            job.workers.set(job.workers.get() + 1);
            self.ex.spawn(self.clone().work(job.clone())).detach();
        }
    }

    async fn plan_and_serve(self: &Rc<Self>, job: &Rc<Job>, policy: Option<&Policy>) {
        // RFC 8461 §4.1: an enforce policy's MX filter goes in before the
        // addresses are looked up, so unnamed hosts use none of the budget.
        let allows = policy
            .filter(|p| p.mode == Mode::Enforce)
            .map(|p| move |host: &str| p.allows(host));
        let filter: route::MxFilter = allows.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
        let hops = route::hops(
            &job.dest,
            &self.env.settings,
            &self.resolver,
            &self.env.hostname,
            filter,
        )
        .await;
        let planned = match (hops, &job.dest) {
            (Ok(hops), Dest::Mx(domain)) => {
                secure::plan(
                    domain,
                    hops,
                    &self.mx,
                    &self.security,
                    policy,
                    &self.resolver,
                )
                .await
            }
            (Ok(hops), dest) => {
                let transports = vec![self.transport(dest).clone(); hops.len()];
                Ok((hops, transports))
            }
            (Err(e), _) => Err(e),
        };
        match planned {
            Err(e) => self.drain(job, &route_verdict(&e), "none"),
            Ok((hops, transports)) => self.serve(job, &hops, &transports).await,
        }
    }

    fn transport(&self, dest: &Dest) -> &Transport {
        match (dest, &self.relay) {
            (Dest::Relay, Some(relay)) => relay,
            _ => &self.mx,
        }
    }

    /// One worker: one connection at a time, messages off the job's line.
    async fn work(self: Rc<Self>, job: Rc<Job>) {
        if !job.line.borrow().is_empty() {
            // The MTA-STS policy before the connection permit: a fetch
            // may take up to 30 s and must not hold a connection slot.
            let policy = match &job.dest {
                Dest::Mx(domain) => {
                    self.security
                        .sts
                        .policy(domain, &self.resolver, &self.env.store)
                        .await
                }
                _ => None,
            };
            let permit = self.connections.acquire().await;
            // Another worker may have taken every message meanwhile.
            if !job.line.borrow().is_empty() {
                self.plan_and_serve(&job, policy.as_ref()).await;
            }
            drop(permit);
        }
        job.workers.set(job.workers.get() - 1);
        if job.workers.get() == 0 {
            if job.line.borrow().is_empty() {
                let mut jobs = self.jobs.borrow_mut();
                if jobs.get(&job.dest).is_some_and(|j| Rc::ptr_eq(j, &job)) {
                    jobs.remove(&job.dest);
                }
            } else {
                self.staff(&job);
            }
        }
    }

    async fn serve(self: &Rc<Self>, job: &Rc<Job>, hops: &[Hop], transports: &[Transport]) {
        let mut session: Option<Session> = None;
        loop {
            let Some(msg) = job.line.borrow_mut().pop_front() else {
                break;
            };
            if session.is_none() {
                match connect(hops, transports).await {
                    Ok(s) => {
                        job.connected.set(job.connected.get() + 1);
                        session = Some(s);
                    }
                    Err(e) => {
                        if job.connected.get() > 0 {
                            // Others reach this destination: leave the
                            // message to them (fewer parallel connections,
                            // as the peer apparently wants).
                            job.line.borrow_mut().push_front(msg);
                        } else {
                            let verdict = Verdict::local(Kind::Deferred, "4.4.1", e.text);
                            self.record(msg, vec![verdict.clone()], "none");
                            self.drain(job, &verdict, "none");
                        }
                        break;
                    }
                }
            }
            let Some(s) = session.as_mut() else { break };
            // Let sessions run before the (possibly long) body scan.
            smol::future::yield_now().await;
            let shape = match msg.attempt.shape(&self.env.store) {
                Ok(Some(shape)) => shape,
                Ok(None) => {
                    let lost = "the message body is missing from the store";
                    let n = msg.rcpts.len();
                    self.record(
                        msg,
                        vec![Verdict::local(Kind::Failed, "5.3.0", lost); n],
                        "none",
                    );
                    continue;
                }
                Err(e) => {
                    let v = Verdict::local(Kind::Deferred, "4.3.0", format!("store: {e}"));
                    let n = msg.rcpts.len();
                    self.record(msg, vec![v; n], "none");
                    continue;
                }
            };
            let attempt = &msg.attempt;
            let out = &attempt.entry.outbound;
            let envelope = Envelope {
                sender: &out.sender,
                recipients: msg
                    .rcpts
                    .iter()
                    .map(|&i| {
                        let r = &out.recipients[i];
                        RcptSpec {
                            address: &r.address,
                            notify: r.notify,
                            orcpt: r.orcpt.as_deref(),
                        }
                    })
                    .collect(),
                ret: out.ret,
                envid: out.envid.as_deref(),
                blob_id: attempt.entry.blob_id,
                shape,
            };
            let result = s.send(&envelope, &self.env.store).await;
            let relay = s.relay.clone();
            match result {
                Ok(verdicts) => self.record(msg, verdicts, &relay),
                Err(broken) => {
                    let mut verdict = Verdict::local(
                        Kind::Deferred,
                        "4.4.2",
                        format!("conversation with {relay} failed: {}", broken.0),
                    );
                    verdict.mta = s.mta.clone();
                    let n = msg.rcpts.len();
                    self.record(msg, vec![verdict; n], &relay);
                    session = None;
                    job.connected.set(job.connected.get() - 1);
                }
            }
        }
        if let Some(s) = session {
            job.connected.set(job.connected.get() - 1);
            s.quit().await;
        }
    }

    /// Gives every message still waiting for `job` the same verdict.
    fn drain(self: &Rc<Self>, job: &Job, verdict: &Verdict, relay: &str) {
        let waiting: Vec<Msg> = job.line.borrow_mut().drain(..).collect();
        for msg in waiting {
            let n = msg.rcpts.len();
            self.record(msg, vec![verdict.clone(); n], relay);
        }
    }

    fn log(&self, attempt: &Attempt, i: usize, v: &Verdict, relay: &str) {
        let out = &attempt.entry.outbound;
        let delay = (crate::time::now() - out.arrival).max(0);
        use crate::metrics::Outcome;
        let (status, outcome) = match v.kind {
            Kind::Sent => ("sent", Outcome::Delivered),
            Kind::Deferred => ("deferred", Outcome::Deferred),
            Kind::Failed => ("bounced", Outcome::Bounced),
        };
        crate::metrics::outbound(outcome);
        log::info!(
            "delivery: {}: to=<{}>, relay={relay}, delay={delay}, took={:.2}, dsn={}, status={status} ({})",
            out.queue_id,
            out.recipients[i].address,
            attempt.started.elapsed().as_secs_f64(),
            v.status,
            v.diagnostic
        );
    }

    /// Files the verdicts for a message's recipients; the last destination
    /// of an attempt to answer ends the attempt.
    fn record(self: &Rc<Self>, msg: Msg, verdicts: Vec<Verdict>, relay: &str) {
        let attempt = msg.attempt;
        for (&i, v) in msg.rcpts.iter().zip(verdicts) {
            self.log(&attempt, i, &v, relay);
            attempt.verdicts.borrow_mut()[i] = Some(v);
        }
        let left = attempt.outstanding.get().saturating_sub(1);
        attempt.outstanding.set(left);
        if left == 0 {
            // Its own task, so the worker goes on sending meanwhile.
            self.ex.spawn(self.clone().finish(attempt)).detach();
        }
    }
}

fn route_verdict(e: &RouteError) -> Verdict {
    let kind = if e.permanent {
        Kind::Failed
    } else {
        Kind::Deferred
    };
    Verdict::local(kind, e.status, e.text.clone())
}

/// Tries each hop in order, each with its transport (`transports[i]` for
/// `hops[i]`); after a failed TLS handshake with an MX host the same host
/// is tried again without TLS (opportunistic, RFC 7435), unless DANE or
/// MTA-STS made TLS mandatory for it.
async fn connect(hops: &[Hop], transports: &[Transport]) -> Result<Session, HopError> {
    let mut last = HopError {
        text: "no address to try".into(),
        tls_failed: false,
        reached: false,
    };
    // The reported error: the last one, unless an earlier host was reached
    // and said more than a later refused connection does.
    let keep = |last: &mut HopError, e: HopError| {
        if e.reached || !last.reached {
            *last = e;
        }
    };
    let opened = |s: Session| {
        log::info!(
            "delivery: connected to {} ({})",
            s.relay,
            if s.tls { "TLS" } else { "no TLS" }
        );
        Ok(s)
    };
    let mut next = 0;
    while let Some(first) = hops.get(next) {
        // Both addresses of a race belong to one host: one transport.
        let Some(transport) = transports.get(next) else {
            break;
        };
        next += 1;
        // An IPv6 address followed by an IPv4 one of the same host: race
        // them (RFC 8305), so a dead IPv6 route costs a fraction of a second.
        let v4 = hops
            .get(next)
            .filter(|h| first.addr.is_ipv6() && h.addr.is_ipv4() && h.name == first.name);
        let (io, hop) = match client::reach(first, v4).await {
            Ok(reached) => reached,
            Err(errors) => {
                next += usize::from(v4.is_some());
                for e in errors {
                    log::info!("delivery: {}", e.text);
                    keep(&mut last, e);
                }
                continue;
            }
        };
        if v4.is_some_and(|v4| v4 == hop) {
            next += 1; // IPv4 won: the IPv6 attempt was given up with it
        }
        match Session::over(io, hop, transport, false).await {
            Ok(s) => return opened(s),
            Err(e) if e.tls_failed && transport.policy == TlsPolicy::Opportunistic => {
                log::info!(
                    "delivery: {}; trying {} again without TLS",
                    e.text,
                    hop.label()
                );
                match Session::connect(hop, transport, true).await {
                    Ok(s) => return opened(s),
                    Err(e) => keep(&mut last, e),
                }
            }
            Err(mut e) => match &transport.required_by {
                // A security failure, not a network one: worth a warning.
                Some(why) => {
                    e.text = format!("{}; TLS is required by {why}", e.text);
                    log::warn!("delivery: {}", e.text);
                    keep(&mut last, e);
                }
                None => {
                    log::info!("delivery: {}", e.text);
                    keep(&mut last, e);
                }
            },
        }
    }
    Err(last)
}
