//! Prometheus metrics: the counters, gauges and histograms the rest of the
//! server bumps, and what `GET /metrics` on `--metrics` answers with.
//!
//! Why it looks like this: the process is one executor thread plus the
//! store-writer thread and the blocking pool (DESIGN.md "Shape of the
//! process"), and a counter sits on hot paths (every accepted connection,
//! every commit), so each one is a `static` relaxed atomic: no lock, no
//! allocation, no registration step, a few nanoseconds per bump from any
//! thread. Label values are fixed enums indexing an array of atomics
//! ([`Svc`], [`LoginOutcome`]...), never strings built per event. The
//! order between counters does not matter to a scrape, hence `Relaxed`.
//!
//! Everything read at scrape time instead of counted (queue length and
//! age, store size and free space, RSS) is gathered by [`collect`] through
//! `store`'s own read functions; [`render`] turns the gathered families
//! into the text exposition format 0.0.4 as a pure function.
//! [`listener`] serves it.

pub mod collect;
pub mod listener;
pub mod render;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::auth::LoginResult;
use crate::config::Service;

/// A count that only goes up (`_total`).
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

impl Default for Counter {
    fn default() -> Counter {
        Counter::new()
    }
}

/// A value that goes up and down.
pub struct Gauge(AtomicI64);

impl Gauge {
    pub const fn new() -> Gauge {
        Gauge(AtomicI64::new(0))
    }
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

impl Default for Gauge {
    fn default() -> Gauge {
        Gauge::new()
    }
}

/// A histogram over fixed upper bounds, kept in integer units (`scale`
/// of them make one base unit: 1e9 for seconds kept as nanoseconds, 1 for
/// a plain count). Buckets are stored per bucket, not cumulative, so an
/// observation is one search and two or three atomic adds; the renderer
/// accumulates.
pub struct Histogram<const N: usize> {
    bounds: [u64; N],
    scale: u64,
    /// `buckets[i]` counts observations `<= bounds[i]` and `> bounds[i-1]`;
    /// the last one those above every bound (`+Inf`).
    buckets: [AtomicU64; N],
    over: AtomicU64,
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    pub const fn new(bounds: [u64; N], scale: u64) -> Histogram<N> {
        Histogram {
            bounds,
            scale,
            buckets: [const { AtomicU64::new(0) }; N],
            over: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one observation of `value` units.
    pub fn observe(&self, value: u64) {
        let slot = self.bounds.partition_point(|&b| b < value);
        match self.buckets.get(slot) {
            Some(bucket) => bucket.fetch_add(1, Relaxed),
            None => self.over.fetch_add(1, Relaxed),
        };
        self.sum.fetch_add(value, Relaxed);
    }

    /// Records a duration (for a histogram in nanoseconds).
    pub fn observe_duration(&self, took: Duration) {
        self.observe(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Runs `f` and records how long it took.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.observe_duration(start.elapsed());
        out
    }

    /// The current state, in base units, for the renderer.
    pub fn snapshot(&self) -> render::HistogramValue {
        let scale = self.scale as f64;
        let mut counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        counts.push(self.over.load(Relaxed));
        render::HistogramValue {
            bounds: self.bounds.iter().map(|&b| b as f64 / scale).collect(),
            counts,
            sum: self.sum.load(Relaxed) as f64 / scale,
        }
    }
}

/// Defines a label enum whose variants index an array of counters, with
/// the label values in the order of the variants.
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const COUNT: usize = [$($text),+].len();
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

label_enum! {
    /// The `service` label: every listener.
    Svc {
        Smtp = "smtp",
        Submission = "submission",
        Submissions = "submissions",
        Imap = "imap",
        Imaps = "imaps",
        Pop3 = "pop3",
        Pop3s = "pop3s",
        Http = "http",
        Https = "https",
        Metrics = "metrics",
    }
}

impl Svc {
    /// The services where users log in (not the web ones).
    pub const LOGIN: &'static [Svc] = &[
        Svc::Smtp,
        Svc::Submission,
        Svc::Submissions,
        Svc::Imap,
        Svc::Imaps,
        Svc::Pop3,
        Svc::Pop3s,
    ];
    /// The services that receive messages.
    pub const SMTP: &'static [Svc] = &[Svc::Smtp, Svc::Submission, Svc::Submissions];
}

impl From<Service> for Svc {
    fn from(service: Service) -> Svc {
        match service {
            Service::Smtp => Svc::Smtp,
            Service::Submission => Svc::Submission,
            Service::Submissions => Svc::Submissions,
            Service::Imap => Svc::Imap,
            Service::Imaps => Svc::Imaps,
            Service::Pop3 => Svc::Pop3,
            Service::Pop3s => Svc::Pop3s,
            Service::Http => Svc::Http,
            Service::Https => Svc::Https,
        }
    }
}

label_enum! {
    /// The `result` label of logins.
    LoginOutcome {
        Ok = "ok",
        Failed = "failed",
        Blocked = "blocked",
        Busy = "busy",
        Unavailable = "unavailable",
    }
}

label_enum! {
    /// The `result` label of outbound delivery, per recipient and attempt.
    Outcome {
        Delivered = "delivered",
        Deferred = "deferred",
        Bounced = "bounced",
    }
}

label_enum! {
    /// The `type` label of DNS lookups.
    DnsType {
        Mx = "MX",
        A = "A",
        Aaaa = "AAAA",
        Txt = "TXT",
        Tlsa = "TLSA",
        Ptr = "PTR",
    }
}

label_enum! {
    /// The `result` label of DNS lookups.
    DnsResult {
        Records = "records",
        NoData = "nodata",
        NxDomain = "nxdomain",
        Error = "error",
    }
}

label_enum! {
    /// The `result` label of fetch runs.
    RunResult {
        Ok = "ok",
        Error = "error",
    }
}

/// Counters and gauges per [`Svc`].
pub struct PerService<T>([T; Svc::COUNT]);
impl<T> PerService<T> {
    pub fn get(&self, s: impl Into<Svc>) -> &T {
        &self.0[s.into() as usize]
    }
}

pub static CONNECTIONS_OPEN: PerService<Gauge> = PerService([const { Gauge::new() }; Svc::COUNT]);
pub static CONNECTIONS_ACCEPTED: PerService<Counter> =
    PerService([const { Counter::new() }; Svc::COUNT]);
pub static CONNECTIONS_REFUSED: PerService<Counter> =
    PerService([const { Counter::new() }; Svc::COUNT]);
pub static LOGINS: [PerService<Counter>; LoginOutcome::COUNT] =
    [const { PerService([const { Counter::new() }; Svc::COUNT]) }; LoginOutcome::COUNT];
pub static MESSAGES_RECEIVED: PerService<Counter> =
    PerService([const { Counter::new() }; Svc::COUNT]);
/// Copies placed in local mailboxes by SMTP.
pub static LOCAL_DELIVERIES: Counter = Counter::new();
pub static OUTBOUND: [Counter; Outcome::COUNT] = [const { Counter::new() }; Outcome::COUNT];
pub static DNS_LOOKUPS: [[Counter; DnsResult::COUNT]; DnsType::COUNT] =
    [const { [const { Counter::new() }; DnsResult::COUNT] }; DnsType::COUNT];
pub static FETCH_RUNS: [Counter; RunResult::COUNT] = [const { Counter::new() }; RunResult::COUNT];
pub static FETCH_MESSAGES: Counter = Counter::new();
pub static LOG_DROPPED: Counter = Counter::new();
pub static METRICS_SCRAPES: Counter = Counter::new();

/// Milliseconds to seconds for the latency histograms (kept in ns).
const MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

/// Group-commit latency: an fsync on an SD card ranges from a millisecond
/// to a second.
pub static COMMIT_SECONDS: Histogram<12> = Histogram::new(
    [
        MS / 2,
        MS,
        MS * 5 / 2,
        5 * MS,
        10 * MS,
        25 * MS,
        50 * MS,
        100 * MS,
        250 * MS,
        500 * MS,
        1000 * MS,
        2500 * MS,
    ],
    NS_PER_S,
);
/// Writes per group commit: 1 to `store::writer::MAX_BATCH` (256).
pub static COMMIT_BATCH: Histogram<9> = Histogram::new([1, 2, 4, 8, 16, 32, 64, 128, 256], 1);
/// One password hash verification (argon2id ~50 ms on a Pi 4).
pub static AUTH_VERIFY_SECONDS: Histogram<10> = Histogram::new(
    [
        5 * MS,
        10 * MS,
        25 * MS,
        50 * MS,
        100 * MS,
        250 * MS,
        500 * MS,
        1000 * MS,
        2500 * MS,
        5000 * MS,
    ],
    NS_PER_S,
);

/// Holds one place in [`CONNECTIONS_OPEN`] for as long as it lives; the
/// accept also counts in [`CONNECTIONS_ACCEPTED`].
pub struct Open(Svc);

impl Open {
    pub fn new(service: impl Into<Svc>) -> Open {
        let s = service.into();
        CONNECTIONS_ACCEPTED.get(s).inc();
        CONNECTIONS_OPEN.get(s).inc();
        Open(s)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        CONNECTIONS_OPEN.get(self.0).dec();
    }
}

/// Counts a login's result for `service` and hands the result on, so a
/// session wraps its call in one line.
pub fn login(service: impl Into<Svc>, result: LoginResult) -> LoginResult {
    let outcome = match &result {
        LoginResult::Ok(_) => LoginOutcome::Ok,
        LoginResult::Failed => LoginOutcome::Failed,
        LoginResult::Blocked(_) => LoginOutcome::Blocked,
        LoginResult::Busy => LoginOutcome::Busy,
        LoginResult::Unavailable(_) => LoginOutcome::Unavailable,
    };
    LOGINS[outcome as usize].get(service).inc();
    result
}

/// One message accepted by SMTP on `service`, `local` copies of it placed
/// in mailboxes.
pub fn received(service: impl Into<Svc>, local: usize) {
    MESSAGES_RECEIVED.get(service).inc();
    LOCAL_DELIVERIES.add(local as u64);
    RECEIVED_TODAY.count(crate::time::now());
}

/// Messages received on the current UTC day (the admin status page's
/// "messages today"): the day and its count in one word, so a message
/// counted at midnight lands on one day or the other, never both.
pub struct DayCounter(AtomicU64);

impl DayCounter {
    const fn new() -> DayCounter {
        DayCounter(AtomicU64::new(0))
    }

    /// One more at `now` (Unix seconds); a new day starts again at 1.
    pub fn count(&self, now: i64) {
        let day = now.div_euclid(86400) as u64 & 0xff_ffff;
        let _ = self.0.fetch_update(Relaxed, Relaxed, |v| {
            Some(if v >> 40 == day {
                v + 1
            } else {
                (day << 40) | 1
            })
        });
    }

    /// The count of the day of `now`.
    pub fn on(&self, now: i64) -> u64 {
        let day = now.div_euclid(86400) as u64 & 0xff_ffff;
        let v = self.0.load(Relaxed);
        if v >> 40 == day {
            v & ((1 << 40) - 1)
        } else {
            0
        }
    }
}

pub static RECEIVED_TODAY: DayCounter = DayCounter::new();

/// One group commit of `writes` requests that took `took` (store writer).
pub fn committed(writes: usize, took: Duration) {
    COMMIT_BATCH.observe(writes as u64);
    COMMIT_SECONDS.observe_duration(took);
}

/// One outbound recipient's verdict.
pub fn outbound(outcome: Outcome) {
    OUTBOUND[outcome as usize].inc();
}

/// One DNS lookup's result (after every server and retry).
pub fn dns(qtype: DnsType, result: DnsResult) {
    DNS_LOOKUPS[qtype as usize][result as usize].inc();
}

/// One fetch run's end.
pub fn fetch_run(ok: bool) {
    FETCH_RUNS[if ok { RunResult::Ok } else { RunResult::Error } as usize].inc();
}

/// When the process started, Unix seconds; set by [`started`].
static START_TIME_MS: AtomicU64 = AtomicU64::new(0);

/// Notes the process start time (`process_start_time_seconds`).
pub fn started() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    START_TIME_MS.store(now.as_millis() as u64, Relaxed);
}

pub fn start_time() -> f64 {
    START_TIME_MS.load(Relaxed) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counter_starts_again_each_utc_day() {
        let c = DayCounter::new();
        let noon = 20_000 * 86400 + 43_200;
        assert_eq!(c.on(noon), 0);
        c.count(noon);
        c.count(noon + 1);
        assert_eq!(c.on(noon + 2), 2);
        assert_eq!(c.on(noon + 86_400), 0, "the next day has none yet");
        c.count(noon + 86_400);
        assert_eq!(c.on(noon + 86_400), 1);
        assert_eq!(c.on(noon), 0, "yesterday's count is gone");
    }

    #[test]
    fn histogram_buckets_are_upper_inclusive() {
        let h: Histogram<3> = Histogram::new([1, 10, 100], 1);
        for v in [0, 1, 2, 10, 11, 100, 101, 5000] {
            h.observe(v);
        }
        let snap = h.snapshot();
        // <=1: 0,1; <=10: 2,10; <=100: 11,100; over: 101,5000.
        assert_eq!(snap.counts, vec![2, 2, 2, 2]);
        assert_eq!(snap.sum, 5225.0);
        assert_eq!(snap.bounds, vec![1.0, 10.0, 100.0]);
    }

    #[test]
    fn durations_become_seconds() {
        let h: Histogram<2> = Histogram::new([MS, 1000 * MS], NS_PER_S);
        h.observe_duration(Duration::from_millis(500));
        let snap = h.snapshot();
        assert_eq!(snap.bounds, vec![0.001, 1.0]);
        assert_eq!(snap.counts, vec![0, 1, 0]);
        assert!((snap.sum - 0.5).abs() < 1e-9);
    }

    #[test]
    fn open_connection_gauge_follows_the_guard() {
        let before = CONNECTIONS_OPEN.get(Svc::Metrics).get();
        let accepted = CONNECTIONS_ACCEPTED.get(Svc::Metrics).get();
        let guard = Open::new(Svc::Metrics);
        assert_eq!(CONNECTIONS_OPEN.get(Svc::Metrics).get(), before + 1);
        drop(guard);
        assert_eq!(CONNECTIONS_OPEN.get(Svc::Metrics).get(), before);
        assert!(CONNECTIONS_ACCEPTED.get(Svc::Metrics).get() > accepted);
    }

    #[test]
    fn label_enums_index_in_order() {
        for (i, s) in Svc::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        assert_eq!(Svc::COUNT, Svc::ALL.len());
        assert_eq!(Outcome::Bounced.label(), "bounced");
    }
}
