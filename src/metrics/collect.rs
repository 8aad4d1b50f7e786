//! Gathers every metric into [`Family`] values for the renderer: the
//! statics of `super`, and what is read at scrape time rather than
//! counted: the outbound queue (length, oldest age) and the store's space
//! through `store`'s read functions, and the process's memory from
//! /proc/self/statm.
//!
//! A store that cannot be read leaves its families out (and the scrape
//! says so in `smolmail_store_up`) rather than failing the whole scrape:
//! the counters are still worth having when the store is in trouble.

use super::render::{Family, Kind};
use super::*;
use crate::store::Store;

/// Every family, in a fixed order.
pub fn collect(store: &Store) -> Vec<Family> {
    METRICS_SCRAPES.inc();
    let mut out = Vec::with_capacity(32);
    connections(&mut out);
    mail(&mut out);
    store_families(&mut out, store, crate::time::now());
    process(&mut out);
    out
}

/// A counter family with one series per service.
fn per_service(
    name: &'static str,
    help: &'static str,
    counters: &PerService<Counter>,
    services: &[Svc],
) -> Family {
    let mut family = Family::new(name, Kind::Counter, help);
    for &s in services {
        family = family.with(&[("service", s.label())], counters.get(s).get() as f64);
    }
    family
}

fn connections(out: &mut Vec<Family>) {
    let mut open = Family::new(
        "smolmail_connections_open",
        Kind::Gauge,
        "Connections open now, per listening service.",
    );
    for &s in Svc::ALL {
        open = open.with(
            &[("service", s.label())],
            CONNECTIONS_OPEN.get(s).get() as f64,
        );
    }
    out.push(open);
    out.push(per_service(
        "smolmail_connections_accepted_total",
        "Connections accepted (within the connection limits), per service.",
        &CONNECTIONS_ACCEPTED,
        Svc::ALL,
    ));
    out.push(per_service(
        "smolmail_connections_refused_total",
        "Connections turned away by the connection limits, per service.",
        &CONNECTIONS_REFUSED,
        Svc::ALL,
    ));
    let mut logins = Family::new(
        "smolmail_logins_total",
        Kind::Counter,
        "Login attempts per service and result (ok, failed, blocked by the failure limiter, busy verifier, store unavailable).",
    );
    for &r in LoginOutcome::ALL {
        for &s in Svc::LOGIN {
            let n = LOGINS[r as usize].get(s).get() as f64;
            logins = logins.with(&[("service", s.label()), ("result", r.label())], n);
        }
    }
    out.push(logins);
    out.push(Family::new(
        "smolmail_auth_verify_seconds",
        Kind::Histogram,
        "Time one password hash verification took on the blocking pool (cache hits not included).",
    )
    .histogram(AUTH_VERIFY_SECONDS.snapshot()));
}

fn mail(out: &mut Vec<Family>) {
    out.push(per_service(
        "smolmail_messages_received_total",
        "Messages accepted by SMTP (answered 250 after the commit), per service.",
        &MESSAGES_RECEIVED,
        Svc::SMTP,
    ));
    out.push(
        Family::new(
            "smolmail_local_deliveries_total",
            Kind::Counter,
            "Copies of received messages placed in local mailboxes.",
        )
        .with(&[], LOCAL_DELIVERIES.get() as f64),
    );
    let mut outbound = Family::new(
        "smolmail_outbound_recipients_total",
        Kind::Counter,
        "Outbound recipient verdicts per delivery attempt: delivered, deferred (retried later) or bounced (refused for good, or out of queue lifetime).",
    );
    for &o in Outcome::ALL {
        outbound = outbound.with(&[("result", o.label())], OUTBOUND[o as usize].get() as f64);
    }
    out.push(outbound);
    let mut dns = Family::new(
        "smolmail_dns_lookups_total",
        Kind::Counter,
        "DNS lookups by question type and result (records, nodata, nxdomain, error after every server and retry).",
    );
    for &t in DnsType::ALL {
        for &r in DnsResult::ALL {
            let n = DNS_LOOKUPS[t as usize][r as usize].get() as f64;
            dns = dns.with(&[("type", t.label()), ("result", r.label())], n);
        }
    }
    out.push(dns);
    let mut runs = Family::new(
        "smolmail_fetch_runs_total",
        Kind::Counter,
        "Runs of the fetcher over outside accounts, by result.",
    );
    for &r in RunResult::ALL {
        runs = runs.with(
            &[("result", r.label())],
            FETCH_RUNS[r as usize].get() as f64,
        );
    }
    out.push(runs);
    out.push(
        Family::new(
            "smolmail_fetch_messages_total",
            Kind::Counter,
            "Messages pulled in from outside accounts.",
        )
        .with(&[], FETCH_MESSAGES.get() as f64),
    );
    out.push(
        Family::new(
            "smolmail_log_lines_dropped_total",
            Kind::Counter,
            "Log lines dropped because the log's reader was too slow.",
        )
        .with(&[], LOG_DROPPED.get() as f64),
    );
    out.push(
        Family::new(
            "smolmail_metrics_scrapes_total",
            Kind::Counter,
            "Scrapes of this endpoint, this one included.",
        )
        .with(&[], METRICS_SCRAPES.get() as f64),
    );
}

fn store_families(out: &mut Vec<Family>, store: &Store, now: i64) {
    let (commits, writes) = store.commit_counts();
    out.push(
        Family::new(
            "smolmail_store_commits_total",
            Kind::Counter,
            "Write transactions committed by the store writer (one fsync each).",
        )
        .with(&[], commits as f64),
    );
    out.push(
        Family::new(
            "smolmail_store_writes_total",
            Kind::Counter,
            "Write requests applied by the store writer.",
        )
        .with(&[], writes as f64),
    );
    out.push(
        Family::new(
            "smolmail_store_commit_seconds",
            Kind::Histogram,
            "Time from the start of a group commit's write transaction to its durable commit.",
        )
        .histogram(COMMIT_SECONDS.snapshot()),
    );
    out.push(
        Family::new(
            "smolmail_store_commit_batch_size",
            Kind::Histogram,
            "Write requests applied per group commit.",
        )
        .histogram(COMMIT_BATCH.snapshot()),
    );
    // The read transaction ends here, before anything is written out.
    let queue = store
        .read()
        .and_then(|r| Ok((r.queue_len()?, r.queue_oldest_arrival()?)));
    let space = store.space();
    out.push(
        Family::new(
            "smolmail_store_up",
            Kind::Gauge,
            "1 when the store could be read for this scrape, else 0 (the queue and space figures are then left out).",
        )
        .with(&[], f64::from(u8::from(queue.is_ok() && space.is_ok()))),
    );
    if let Ok((len, oldest)) = queue {
        out.push(
            Family::new(
                "smolmail_queue_messages",
                Kind::Gauge,
                "Messages waiting in the outbound queue.",
            )
            .with(&[], len as f64),
        );
        out.push(
            Family::new(
                "smolmail_queue_oldest_age_seconds",
                Kind::Gauge,
                "Age of the oldest message in the outbound queue; 0 when it is empty.",
            )
            .with(&[], oldest.map_or(0, |t| (now - t).max(0)) as f64),
        );
    }
    if let Ok(space) = space {
        out.push(
            Family::new(
                "smolmail_store_map_size_bytes",
                Kind::Gauge,
                "Largest the LMDB map may grow to (--map-size).",
            )
            .with(&[], space.map_size as f64),
        );
        out.push(
            Family::new(
                "smolmail_store_map_used_bytes",
                Kind::Gauge,
                "Bytes of the LMDB map in use (its high-water mark).",
            )
            .with(&[], space.map_used as f64),
        );
        out.push(
            Family::new(
                "smolmail_store_map_free_bytes",
                Kind::Gauge,
                "Bytes the LMDB map may still grow by before writes fail as full.",
            )
            .with(&[], space.map_size.saturating_sub(space.map_used) as f64),
        );
        if let Some(free) = space.disk_free {
            out.push(
                Family::new(
                    "smolmail_store_disk_free_bytes",
                    Kind::Gauge,
                    "Free bytes on the file system holding the store.",
                )
                .with(&[], free as f64),
            );
        }
    }
}

fn process(out: &mut Vec<Family>) {
    if let Some((virt, rss)) = statm() {
        out.push(
            Family::new(
                "process_resident_memory_bytes",
                Kind::Gauge,
                "Resident memory size in bytes.",
            )
            .with(&[], rss as f64),
        );
        out.push(
            Family::new(
                "process_virtual_memory_bytes",
                Kind::Gauge,
                "Virtual memory size in bytes (the LMDB map included).",
            )
            .with(&[], virt as f64),
        );
    }
    out.push(
        Family::new(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the process since the Unix epoch in seconds.",
        )
        .with(&[], start_time()),
    );
    out.push(
        Family::new(
            "smolmail_build_info",
            Kind::Gauge,
            "Always 1; the version label says which smolmail runs.",
        )
        .with(&[("version", env!("CARGO_PKG_VERSION"))], 1.0),
    );
}

/// Virtual and resident size in bytes from /proc/self/statm (its first
/// two fields, in pages).
fn statm() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    parse_statm(&text, page_size())
}

fn parse_statm(text: &str, page: u64) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace();
    let virt: u64 = fields.next()?.parse().ok()?;
    let rss: u64 = fields.next()?.parse().ok()?;
    Some((virt.saturating_mul(page), rss.saturating_mul(page)))
}

fn page_size() -> u64 {
    // SAFETY: sysconf reads a constant of the system; no memory involved.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_fields_are_pages() {
        assert_eq!(
            parse_statm("1000 250 30 1 0 400 0\n", 4096),
            Some((4096 * 1000, 4096 * 250))
        );
        assert_eq!(parse_statm("", 4096), None);
    }

    /// Prometheus naming: counters end in `_total`; durations are
    /// `_seconds`, sizes `_bytes`; every name is `smolmail_` or the
    /// standard `process_` ones; HELP says something.
    #[test]
    fn families_follow_prometheus_naming() {
        let dir = std::env::temp_dir().join(format!("smolmail-metrics-{}", std::process::id()));
        let store = Store::open(&dir, &crate::store::Options { map_size: 8 << 20 }).unwrap();
        let families = collect(&store);
        store.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
        let mut names = std::collections::HashSet::new();
        for f in &families {
            assert!(names.insert(f.name), "{} twice", f.name);
            assert!(
                f.name.starts_with("smolmail_") || f.name.starts_with("process_"),
                "{}",
                f.name
            );
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}",
                f.name
            );
            assert!(
                !f.name.contains("millis") && !f.name.contains("_kb"),
                "{}",
                f.name
            );
            assert!(!f.help.is_empty() && !f.series.is_empty(), "{}", f.name);
        }
        for needed in [
            "smolmail_queue_messages",
            "smolmail_store_map_used_bytes",
            "process_resident_memory_bytes",
            "smolmail_store_commit_seconds",
        ] {
            assert!(names.contains(needed), "{needed} missing");
        }
    }
}
