//! The store-writer thread: it owns every LMDB write transaction.
//!
//! Group commit: the thread waits for one request, takes every other request
//! already waiting (up to [`MAX_BATCH`] requests and [`MAX_BATCH_BYTES`] of
//! message bodies), applies each in a nested transaction, and commits the
//! batch once — one fsync for all of them. A request that fails (a bad
//! argument, or the map filling up) is rolled back alone by aborting its
//! nested transaction; the others still commit. Each caller hears back
//! only after the commit that holds its change has returned, so an
//! acknowledgement means "on disk".
//!
//! What can go wrong beyond one request (DESIGN.md "Budgets"):
//! - another process holds LMDB's write lock: a request not started
//!   within its deadline ([`DEFAULT_DEADLINE`]) is refused with the
//!   temporary [`StoreError::Timeout`], and its caller stops waiting;
//! - the disk or the map is full: requests fail with the temporary
//!   [`StoreError::Full`] (SMTP `452 4.3.1`), logged once when it starts
//!   and once when writes succeed again, not once per message;
//! - LMDB reports the environment broken (MDB_PANIC, a corrupted page):
//!   the process logs why and exits non-zero, so the supervisor restarts
//!   it on a freshly opened map instead of failing every write forever.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use heed::{Env, WithoutTls};
use smol::channel::{Receiver, Sender};

use super::health::{Health, disk_full_or};
use super::notify::Notifier;
use super::schema::Dbs;
use super::{Flags, SpecialUse, Stats, StoreError, ops};

/// Most requests applied in one transaction: bounds the time a caller waits
/// behind others and the memory a batch holds.
pub const MAX_BATCH: usize = 256;

/// Most message bytes applied in one transaction: 256 messages of 25 MB
/// would make one commit of 6 GB of dirty pages. A single larger request
/// still goes alone.
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// How long a request may wait to be started before it is refused with
/// [`StoreError::Timeout`]; its caller waits twice this at most (the
/// second half for a commit already under way).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// Requests waiting for the writer; senders wait when it is full, which
/// slows producers instead of growing memory.
const QUEUE_DEPTH: usize = 1024;

/// One change to the store.
#[derive(Debug)]
pub enum WriteOp {
    AddDomain(String),
    DelDomain(String),
    AddAccount {
        address: String,
        password_hash: String,
    },
    DelAccount(String),
    SetPassword {
        address: String,
        password_hash: String,
        /// Only if the stored hash is still this one (a login's rehash
        /// must not undo a `user passwd` that ran meanwhile).
        only_if: Option<String>,
    },
    /// An account's quota in bytes; 0 is unlimited.
    SetQuota {
        address: String,
        quota: u64,
    },
    AddAlias {
        source: String,
        targets: Vec<String>,
    },
    DelAlias(String),
    CreateMailbox {
        account_id: u64,
        name: String,
        special_use: SpecialUse,
    },
    Deliver(Summarized),
    SetFlags(FlagChange),
    /// Removes a mailbox and its messages (not INBOX: the session checks).
    DeleteMailbox {
        mailbox_id: u64,
    },
    /// Renames a mailbox and everything below it in the hierarchy; INBOX
    /// moves its messages into the new mailbox instead (RFC 3501 §6.3.5).
    RenameMailbox {
        mailbox_id: u64,
        new_name: String,
    },
    /// Subscribes or unsubscribes a name, existing or not.
    SetSubscribed {
        account_id: u64,
        name: String,
        subscribed: bool,
    },
    /// Copies messages (sharing their bodies) and, for MOVE, removes the
    /// originals in the same commit (RFC 6851).
    Copy {
        from: u64,
        uids: Vec<u32>,
        to: u64,
        remove: bool,
    },
    /// Takes over the \Recent flags of a mailbox for the session that
    /// selects it (RFC 3501 §2.3.2).
    ClaimRecent {
        mailbox_id: u64,
    },
    Expunge {
        mailbox_id: u64,
        uids: Vec<u32>,
    },
    /// Outbound queue changes (delivery results, flush, delete).
    Queue(super::QueueOp),
    /// Fetch accounts, and batches of fetched messages with their progress.
    Fetch(super::FetchOp),
    /// One imported message, skipped if its identity was imported before.
    Import(super::Imported),
    /// Several messages stored all or none, in one commit: IMAP
    /// MULTIAPPEND (RFC 3502 §6.3.11).
    DeliverAll(Vec<Summarized>),
    /// The ACME account key or certificate (`acme_ops`).
    SetAcme {
        name: String,
        value: Vec<u8>,
    },
    /// DKIM signing keys (`dkim_ops`).
    Dkim(super::DkimOp),
    /// The web admin password (`admin_ops`).
    SetAdminPassword {
        hash: String,
        only_if_unset: bool,
    },
    /// Another domain's cached MTA-STS policy (`mta_sts_ops`).
    SetMtaSts {
        domain: String,
        expires: i64,
        value: Vec<u8>,
    },
}

/// One message for one or more mailboxes: stored once, referenced by each.
#[derive(Debug)]
pub struct Delivery {
    /// The RFC 5322 bytes as they will be served (Received:/Return-Path:
    /// already prepended by the caller).
    pub message: Vec<u8>,
    /// Unix seconds: the IMAP INTERNALDATE.
    pub internal_date: i64,
    /// Flags each copy starts with (\Recent is added by the store).
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// Target mailbox ids; duplicates are delivered once.
    pub mailboxes: Vec<u64>,
    /// Recipients outside the local domains, queued for sending in the
    /// same commit.
    pub outbound: Option<super::Outbound>,
}

impl Delivery {
    /// A message arriving by mail (SMTP, a fetch, a notice) for
    /// `mailboxes` and, if any, the outbound queue: no flags, no keywords.
    pub fn new(
        message: Vec<u8>,
        internal_date: i64,
        mailboxes: Vec<u64>,
        outbound: Option<super::Outbound>,
    ) -> Delivery {
        Delivery {
            message,
            internal_date,
            flags: Flags::default(),
            keywords: Vec::new(),
            mailboxes,
            outbound,
        }
    }
}

/// A [`Delivery`] with its `mime::Summary` (ENVELOPE, BODYSTRUCTURE, ...)
/// computed and encoded: the only form in which the writer takes a
/// message. The caller computes the summary, so the writer thread, which
/// every other write waits for, never parses a message.
#[derive(Debug)]
pub struct Summarized {
    pub(super) delivery: Delivery,
    pub(super) summary: Vec<u8>,
    /// The encoded `mime::SortKeys` (SORT and THREAD read no message).
    pub(super) sort_keys: Vec<u8>,
}

/// Largest message [`Summarized::compute`] parses on the caller's thread;
/// a larger one goes to the blocking pool, so that parsing it holds up
/// neither the writer nor the executor's other connections.
const INLINE_SUMMARY: usize = 256 << 10;

impl Summarized {
    /// Computes the summary on this thread: for messages known to be small
    /// (notices: a DSN returns at most `delivery::bounce::FULL_RETURN_LIMIT`
    /// bytes of the original) and for tests.
    pub fn new(delivery: Delivery) -> Summarized {
        let mut summary = Vec::new();
        crate::mime::Summary::compute(&delivery.message).encode(&mut summary);
        let mut sort_keys = Vec::new();
        crate::mime::SortKeys::compute(&delivery.message).encode(&mut sort_keys);
        Summarized {
            delivery,
            summary,
            sort_keys,
        }
    }

    /// Computes the summary, on the blocking pool for a large message.
    pub async fn compute(delivery: Delivery) -> Summarized {
        if delivery.message.len() <= INLINE_SUMMARY {
            return Summarized::new(delivery);
        }
        smol::unblock(move || Summarized::new(delivery)).await
    }
}

/// Reads as the delivery it wraps.
impl std::ops::Deref for Summarized {
    type Target = Delivery;
    fn deref(&self) -> &Delivery {
        &self.delivery
    }
}

/// Summarizes on the caller's thread (see [`Summarized::new`]).
impl From<Delivery> for Summarized {
    fn from(delivery: Delivery) -> Summarized {
        Summarized::new(delivery)
    }
}

/// Where a delivery landed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub blob_id: u64,
    /// The queue entry holding the outbound recipients, if any.
    pub queued: Option<u64>,
    /// (mailbox id, UID) per distinct target mailbox, in request order.
    pub placed: Vec<(u64, u32)>,
}

/// How [`FlagChange`] combines with the flags a message has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

/// A STORE of flags on some messages of one mailbox.
#[derive(Debug)]
pub struct FlagChange {
    pub mailbox_id: u64,
    pub uids: Vec<u32>,
    pub op: FlagOp,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// RFC 7162 UNCHANGEDSINCE: skip messages changed after this MODSEQ.
    pub unchanged_since: Option<u64>,
}

/// What a STORE did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlagsResult {
    /// (UID, new flags, new MODSEQ) of each message that changed.
    pub changed: Vec<(u32, Flags, u64)>,
    /// UIDs refused by UNCHANGEDSINCE (the MODIFIED response code).
    pub modified: Vec<u32>,
}

/// What a COPY or MOVE did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Copied {
    /// (source UID, new UID) pairs, for COPYUID (RFC 4315).
    pub uids: Vec<(u32, u32)>,
    /// UIDVALIDITY of the target mailbox.
    pub uidvalidity: u32,
    /// Source UIDs removed (MOVE).
    pub removed: Vec<u32>,
}

/// What a write produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// The id of what was created (account, mailbox).
    Created(u64),
    Delivered(Delivered),
    /// One per message of a [`WriteOp::DeliverAll`], in order.
    DeliveredAll(Vec<Delivered>),
    FlagsSet(FlagsResult),
    Copied(Copied),
    /// UIDs whose \Recent flag the caller now holds.
    Claimed(Vec<u32>),
    /// UIDs actually removed.
    Expunged(Vec<u32>),
    /// How many entries a queue flush or delete changed.
    Count(u64),
}

impl Outcome {
    pub fn id(self) -> Result<u64, StoreError> {
        match self {
            Outcome::Created(id) => Ok(id),
            other => Err(StoreError::Corrupt(format!(
                "expected an id, got {other:?}"
            ))),
        }
    }
}

impl WriteOp {
    /// Message bytes the request writes (what [`MAX_BATCH_BYTES`] counts).
    fn bytes(&self) -> usize {
        match self {
            WriteOp::Deliver(s) => s.message.len(),
            WriteOp::Import(i) => i.delivery.message.len(),
            WriteOp::DeliverAll(all) => all.iter().map(|s| s.message.len()).sum(),
            WriteOp::Fetch(super::FetchOp::Batch(b)) => {
                b.messages.iter().map(|m| m.delivery.message.len()).sum()
            }
            _ => 0,
        }
    }
}

struct Job {
    op: WriteOp,
    reply: Sender<Result<Outcome, StoreError>>,
    /// Not started by then, the request is refused: its caller has gone.
    start_by: Instant,
}

/// The sending side, held by [`super::Store`].
pub struct Handle {
    jobs: Sender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// [`DEFAULT_DEADLINE`] unless changed, in milliseconds.
    deadline_ms: AtomicU64,
}

/// A write handed to the writer and not yet answered
/// ([`super::Store::enqueue`]).
pub struct Pending {
    answer: Receiver<Result<Outcome, StoreError>>,
    deadline: Duration,
}

impl Pending {
    /// The write's outcome, after its commit; [`StoreError::Timeout`] if
    /// none came within twice the deadline.
    pub async fn wait(self) -> Result<Outcome, StoreError> {
        let answer = async { self.answer.recv().await.map_err(|_| StoreError::Closed)? };
        let timed_out = async {
            smol::Timer::after(self.deadline.saturating_mul(2)).await;
            Err(StoreError::Timeout)
        };
        smol::future::or(answer, timed_out).await
    }
}

impl Handle {
    pub async fn enqueue(&self, op: WriteOp) -> Result<Pending, StoreError> {
        let deadline = self.deadline();
        let (reply, answer) = smol::channel::bounded(1);
        let job = Job {
            op,
            reply,
            start_by: Instant::now() + deadline,
        };
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        Ok(Pending { answer, deadline })
    }

    pub async fn submit(&self, op: WriteOp) -> Result<Outcome, StoreError> {
        let deadline = self.deadline();
        let (reply, answer) = smol::channel::bounded(1);
        let job = Job {
            op,
            reply,
            start_by: Instant::now() + deadline,
        };
        let exchange = async {
            self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
            answer.recv().await.map_err(|_| StoreError::Closed)?
        };
        let timed_out = async {
            smol::Timer::after(deadline.saturating_mul(2)).await;
            Err(StoreError::Timeout)
        };
        smol::future::or(exchange, timed_out).await
    }

    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms.load(Ordering::Relaxed))
    }

    pub fn set_deadline(&self, deadline: Duration) {
        let ms = u64::try_from(deadline.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.deadline_ms.store(ms, Ordering::Relaxed);
    }

    pub fn shutdown(&self) {
        self.jobs.close();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub fn spawn(
    env: Env<WithoutTls>,
    dbs: Dbs,
    notifier: Arc<Notifier>,
    stats: Arc<Stats>,
) -> Result<Handle, StoreError> {
    let (jobs, queue) = smol::channel::bounded(QUEUE_DEPTH);
    let thread = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            let map = super::trim::MapRange::find(env.path());
            run(env, dbs, queue, &notifier, &stats, map)
        })
        .map_err(|e| StoreError::Io(format!("cannot start the store writer: {e}")))?;
    Ok(Handle {
        jobs,
        thread: Mutex::new(Some(thread)),
        deadline_ms: AtomicU64::new(DEFAULT_DEADLINE.as_millis() as u64),
    })
}

fn run(
    env: Env<WithoutTls>,
    dbs: Dbs,
    queue: Receiver<Job>,
    notifier: &Notifier,
    stats: &Stats,
    map: Option<super::trim::MapRange>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut results: Vec<Result<Outcome, StoreError>> = Vec::with_capacity(MAX_BATCH);
    let mut touched: Vec<u64> = Vec::new();
    let mut health = Health::default();
    // A job taken from the queue that did not fit the last batch's bytes.
    let mut next: Option<Job> = None;
    // recv_blocking returns the remaining jobs after close, then Err.
    while let Some(first) = next.take().or_else(|| queue.recv_blocking().ok()) {
        next = take_batch(first, &queue, &mut batch, MAX_BATCH_BYTES);
        touched.clear();
        let started = Instant::now();
        let committed = apply_batch(&env, &dbs, &batch, &mut results, &mut touched);
        let committed = committed.map_err(|e| disk_full_or(e, env.path()));
        health.after(&committed, &results);
        match committed {
            Ok(()) => {
                crate::metrics::committed(batch.len(), started.elapsed());
                let commits = stats.commits.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(map) = &map
                    && commits.is_multiple_of(super::trim::TRIM_EVERY)
                {
                    map.trim();
                }
                super::bump(&stats.writes, batch.len() as u64);
                touched.sort_unstable();
                touched.dedup();
                notifier.notify(&touched);
                for (job, result) in batch.drain(..).zip(results.drain(..)) {
                    let _ = job.reply.try_send(result);
                }
            }
            Err(e) => {
                // A full store is told once, by `health`, not per commit.
                log::log!(
                    e.log_level(),
                    "store: commit of {} writes failed: {e}",
                    batch.len()
                );
                results.clear();
                for job in batch.drain(..) {
                    let _ = job.reply.try_send(Err(e.clone()));
                }
            }
        }
    }
}

/// Fills `batch` with `first` and what else is waiting, up to
/// [`MAX_BATCH`] requests and `max_bytes` of messages; returns a request
/// taken that did not fit, which starts the next batch.
fn take_batch(
    first: Job,
    queue: &Receiver<Job>,
    batch: &mut Vec<Job>,
    max_bytes: usize,
) -> Option<Job> {
    let mut bytes = first.op.bytes();
    batch.push(first);
    while batch.len() < MAX_BATCH && bytes < max_bytes {
        let Ok(job) = queue.try_recv() else { break };
        let size = job.op.bytes();
        if bytes.saturating_add(size) > max_bytes {
            return Some(job);
        }
        bytes += size;
        batch.push(job);
    }
    None
}

fn apply_batch(
    env: &Env<WithoutTls>,
    dbs: &Dbs,
    batch: &[Job],
    results: &mut Vec<Result<Outcome, StoreError>>,
    touched: &mut Vec<u64>,
) -> Result<(), StoreError> {
    results.clear();
    // This waits while another process (an admin command, a backup) holds
    // LMDB's write lock; what waited too long is refused below, unapplied.
    let mut txn = env.write_txn()?;
    let now = Instant::now();
    for job in batch {
        if now > job.start_by {
            results.push(Err(StoreError::Timeout));
            continue;
        }
        let mut child = env.nested_write_txn(&mut txn)?;
        let mark = touched.len();
        match ops::apply(&mut child, dbs, &job.op, touched) {
            Ok(outcome) => {
                child.commit()?;
                results.push(Ok(outcome));
            }
            Err(e) => {
                child.abort();
                touched.truncate(mark);
                results.push(Err(e));
            }
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests;
