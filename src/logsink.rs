//! The log's way out: a bounded in-memory buffer that a dedicated thread
//! drains to stderr, so that a slow reader of the log (a pipe nobody reads,
//! a syslog that stalls, a 115200-baud console) can never block the
//! executor thread that serves every connection (DESIGN.md "Budgets": the
//! log never blocks the executor).
//!
//! `env_logger` still formats each record; its target is a [`Sink`] whose
//! `write` copies the bytes into the buffer under a short lock and returns.
//! When the buffer holds [`CAPACITY`] bytes the line is dropped and
//! counted; once the reader catches up, one line says how many were lost.
//!
//! [`Limiter`] is the other half: a per-client budget for lines that an
//! attacker can make the server repeat (refused connections, failed
//! logins), so that one client cannot fill the log or push out other lines.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Most bytes waiting for the drain thread: a few thousand lines, a
/// fixed cost whatever the reader does.
pub const CAPACITY: usize = 256 * 1024;

/// How long [`flush`] waits for the reader at exit.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

struct State {
    /// Bytes accepted, not yet written.
    pending: Vec<u8>,
    /// Lines dropped since the last report.
    dropped: u64,
    /// The drain thread is writing a batch (for [`flush`]).
    writing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signals the drain thread: there is something to write.
    ready: Condvar,
    /// Signals [`flush`]: the buffer was emptied.
    drained: Condvar,
}

static SINK: OnceLock<Arc<Shared>> = OnceLock::new();

/// The `env_logger` target: copies each record into the shared buffer.
pub struct Sink {
    shared: Arc<Shared>,
}

impl Sink {
    fn new(shared: Arc<Shared>) -> Sink {
        Sink { shared }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = lock(&self.shared.state);
        if state.pending.len() + buf.len() > CAPACITY {
            // env_logger writes one whole record per call: count lines.
            state.dropped += 1;
            crate::metrics::LOG_DROPPED.inc();
            self.shared.ready.notify_one();
        } else {
            let was_empty = state.pending.is_empty();
            state.pending.extend_from_slice(buf);
            if was_empty {
                self.shared.ready.notify_one();
            }
        }
        // Always "written": a dropped line is the sink's business, and an
        // error here would make the logger complain on stderr, blocking.
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs the logger at `level`, writing through the buffer to stderr.
///
/// When stderr is a regular file, records are written to it directly
/// instead: a write to a file never waits for a reader, and the log then
/// holds each line before the reply that follows it is sent, which the
/// tests (and anyone reading a log file beside a session) rely on.
pub fn init(level: log::LevelFilter) {
    if stderr_is_a_file() {
        builder(level).init();
        return;
    }
    init_with(level, Box::new(io::stderr()));
}

fn stderr_is_a_file() -> bool {
    use std::os::fd::AsFd;
    io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.file_type().is_file())
}

/// As [`init`], draining to `out` (tests use a pipe).
pub fn init_with(level: log::LevelFilter, out: Box<dyn Write + Send>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            pending: Vec::with_capacity(16 * 1024),
            dropped: 0,
            writing: false,
        }),
        ready: Condvar::new(),
        drained: Condvar::new(),
    });
    let drain = shared.clone();
    let started = std::thread::Builder::new()
        .name("log".into())
        .spawn(move || drain_loop(&drain, out));
    if started.is_err() {
        // No thread, no sink: log straight to stderr rather than not at all.
        builder(level).init();
        return;
    }
    let _ = SINK.set(shared.clone());
    builder(level)
        .target(env_logger::Target::Pipe(Box::new(Sink::new(shared))))
        .init();
}

fn builder(level: log::LevelFilter) -> env_logger::Builder {
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(level)
        .format_timestamp_millis()
        .format_target(false)
        .format(|buf, record| {
            let stamp = buf.timestamp_millis();
            if record.level() <= log::Level::Warn {
                remember(format!("{stamp} {} {}", record.level(), record.args()));
            }
            // env_logger's own layout, unstyled: `[TIME LEVEL] message`.
            writeln!(buf, "[{stamp} {:<5}] {}", record.level(), record.args())
        });
    builder
}

/// How many recent WARN and ERROR lines are kept for the admin status
/// page, and how long each may be: a bounded ring, the oldest dropped.
const RECENT: usize = 20;
const RECENT_LINE: usize = 300;

static WARNINGS: Mutex<std::collections::VecDeque<String>> =
    Mutex::new(std::collections::VecDeque::new());

fn remember(mut line: String) {
    if line.len() > RECENT_LINE {
        let mut end = RECENT_LINE;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    let mut ring = WARNINGS.lock().unwrap_or_else(|e| e.into_inner());
    if ring.len() == RECENT {
        ring.pop_front();
    }
    ring.push_back(line);
}

/// The last WARN and ERROR lines logged (at most 20), oldest first.
pub fn recent_warnings() -> Vec<String> {
    let ring = WARNINGS.lock().unwrap_or_else(|e| e.into_inner());
    ring.iter().cloned().collect()
}

/// The drain thread: takes everything pending in one swap and writes it
/// with the lock released, so a blocked write holds up only this thread.
fn drain_loop(shared: &Shared, mut out: Box<dyn Write + Send>) {
    let mut batch: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let dropped = {
            let mut state = lock(&shared.state);
            state.writing = false;
            shared.drained.notify_all();
            while state.pending.is_empty() && state.dropped == 0 {
                state = shared.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            std::mem::swap(&mut batch, &mut state.pending);
            state.writing = true;
            std::mem::take(&mut state.dropped)
        };
        let _ = out.write_all(&batch);
        if dropped > 0 {
            // Reported only once the reader took the lines before it: the
            // count lands where the gap is.
            let _ = writeln!(
                out,
                "[{} WARN ] log: dropped {dropped} log lines (the log's reader was too slow)",
                timestamp()
            );
        }
        let _ = out.flush();
        batch.clear();
        if batch.capacity() > CAPACITY {
            batch.shrink_to(16 * 1024);
        }
    }
}

/// Now as env_logger writes it (`2026-01-31T12:00:00.000Z`), for the
/// sink's own line.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = crate::time::civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        t / 3600,
        t / 60 % 60,
        t % 60,
        now.subsec_millis()
    )
}

/// Waits (a little) until every line accepted so far is written: called
/// before the process exits so that its last words are not lost.
pub fn flush() {
    let Some(shared) = SINK.get() else { return };
    let deadline = Instant::now() + FLUSH_WAIT;
    let mut state = lock(&shared.state);
    while !state.pending.is_empty() || state.writing {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        state = shared
            .drained
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// A budget of log lines per client and per kind of line: [`Limiter::allow`]
/// says whether to log now; what is held back is counted and reported
/// with the next line that gets through.
pub struct Limiter {
    per_window: u32,
    window: Duration,
    clients: HashMap<IpAddr, Window>,
}

struct Window {
    start: Instant,
    logged: u32,
    suppressed: u32,
}

/// Clients remembered at most; past it the table is swept of windows that
/// ended, so a flood of addresses costs bounded memory.
const MAX_CLIENTS: usize = 4096;

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` lines from this client were held back before.
    Log { suppressed: u32 },
    /// Hold it back (it is counted).
    Quiet,
}

impl Limiter {
    /// At most `per_window` lines per client in each `window`.
    pub fn new(per_window: u32, window: Duration) -> Limiter {
        Limiter {
            per_window,
            window,
            clients: HashMap::new(),
        }
    }

    /// Whether a line about `client` (a [`crate::net::ClientAddr::group`])
    /// is logged now.
    pub fn allow(&mut self, client: IpAddr, now: Instant) -> Verdict {
        if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&client) {
            let window = self.window;
            self.clients
                .retain(|_, w| now.duration_since(w.start) < window);
            if self.clients.len() >= MAX_CLIENTS {
                // Still full of live windows: a flood from many addresses.
                // Their lines share the budget of the unspecified address.
                return self.allow_entry(IpAddr::from([0u8; 4]), now);
            }
        }
        self.allow_entry(client, now)
    }

    fn allow_entry(&mut self, client: IpAddr, now: Instant) -> Verdict {
        let window = self.window;
        let entry = self.clients.entry(client).or_insert(Window {
            start: now,
            logged: 0,
            suppressed: 0,
        });
        if now.duration_since(entry.start) >= window {
            entry.start = now;
            entry.logged = 0;
        }
        if entry.logged < self.per_window {
            entry.logged += 1;
            Verdict::Log {
                suppressed: std::mem::take(&mut entry.suppressed),
            }
        } else {
            entry.suppressed = entry.suppressed.saturating_add(1);
            Verdict::Quiet
        }
    }

    /// Lines held back whose window has ended, taken for a summary line
    /// ("refused N connections from ... in the last minute").
    pub fn take_ended(&mut self, now: Instant) -> Vec<(IpAddr, u32)> {
        let window = self.window;
        let mut ended = Vec::new();
        self.clients.retain(|ip, w| {
            if now.duration_since(w.start) < window {
                return true;
            }
            if w.suppressed > 0 {
                ended.push((*ip, w.suppressed));
            }
            false
        });
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_drops_and_counts_when_full() {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: Vec::new(),
                dropped: 0,
                writing: false,
            }),
            ready: Condvar::new(),
            drained: Condvar::new(),
        });
        let mut sink = Sink::new(shared.clone());
        let counted = crate::metrics::LOG_DROPPED.get();
        let line = [b'x'; 1000];
        // Nobody drains: the buffer fills and then drops, never blocks.
        for _ in 0..1000 {
            assert_eq!(sink.write(&line).unwrap(), line.len());
        }
        let state = lock(&shared.state);
        assert!(state.pending.len() <= CAPACITY);
        assert_eq!(state.dropped, 1000 - (CAPACITY / 1000) as u64);
        // smolmail_log_lines_dropped_total (other tests may drop too).
        assert!(crate::metrics::LOG_DROPPED.get() - counted >= state.dropped);
    }

    #[test]
    fn drain_reports_what_it_dropped() {
        #[derive(Clone)]
        struct Shared2(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared2 {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: b"first\n".to_vec(),
                dropped: 7,
                writing: false,
            }),
            ready: Condvar::new(),
            drained: Condvar::new(),
        });
        let out = Shared2(Arc::new(Mutex::new(Vec::new())));
        let (drain, writer) = (shared.clone(), out.clone());
        std::thread::spawn(move || drain_loop(&drain, Box::new(writer)));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            if text.contains("dropped 7 log lines") {
                assert!(text.starts_with("first\n"), "{text}");
                break;
            }
            assert!(Instant::now() < deadline, "{text}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn limiter_counts_per_client_and_reports() {
        let mut limiter = Limiter::new(2, Duration::from_secs(60));
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t0 = Instant::now();
        assert_eq!(limiter.allow(a, t0), Verdict::Log { suppressed: 0 });
        assert_eq!(limiter.allow(a, t0), Verdict::Log { suppressed: 0 });
        for _ in 0..5 {
            assert_eq!(limiter.allow(a, t0), Verdict::Quiet);
        }
        // Another client has its own budget.
        assert_eq!(limiter.allow(b, t0), Verdict::Log { suppressed: 0 });
        let later = t0 + Duration::from_secs(61);
        assert_eq!(limiter.take_ended(later), vec![(a, 5)]);
        assert_eq!(limiter.allow(a, later), Verdict::Log { suppressed: 0 });
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let mut limiter = Limiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 100) {
            limiter.allow(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(limiter.clients.len() <= MAX_CLIENTS + 1);
    }
}
