//! The store-writer thread: it owns every LMDB write transaction.
//!
//! Group commit: the thread waits for one request, takes every other request
//! already waiting (up to [`MAX_BATCH`]), applies each in a nested
//! transaction, and commits the batch once — one fsync for all of them.
//! A request that fails (a bad argument, or the map filling up) is rolled
//! back alone by aborting its nested transaction; the others still commit.
//! Each caller hears back only after the commit that holds its change has
//! returned, so an acknowledgement means "on disk".

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use heed::{Env, WithoutTls};
use smol::channel::{Receiver, Sender};

use super::notify::Notifier;
use super::schema::Dbs;
use super::{Flags, SpecialUse, Stats, StoreError, ops};

/// Most requests applied in one transaction: bounds the time a caller waits
/// behind others and the memory a batch holds.
pub const MAX_BATCH: usize = 256;

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
    SetSubscribed {
        mailbox_id: u64,
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
        Summarized { delivery, summary }
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

struct Job {
    op: WriteOp,
    reply: Sender<Result<Outcome, StoreError>>,
}

/// The sending side, held by [`super::Store`].
pub struct Handle {
    jobs: Sender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Handle {
    pub async fn submit(&self, op: WriteOp) -> Result<Outcome, StoreError> {
        let (reply, answer) = smol::channel::bounded(1);
        self.jobs
            .send(Job { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.recv().await.map_err(|_| StoreError::Closed)?
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
    // recv_blocking returns the remaining jobs after close, then Err.
    while let Ok(first) = queue.recv_blocking() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        touched.clear();
        let committed = apply_batch(&env, &dbs, &batch, &mut results, &mut touched);
        match committed {
            Ok(()) => {
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
                log::error!("store: commit of {} writes failed: {e}", batch.len());
                results.clear();
                for job in batch.drain(..) {
                    let _ = job.reply.try_send(Err(e.clone()));
                }
            }
        }
    }
}

fn apply_batch(
    env: &Env<WithoutTls>,
    dbs: &Dbs,
    batch: &[Job],
    results: &mut Vec<Result<Outcome, StoreError>>,
    touched: &mut Vec<u64>,
) -> Result<(), StoreError> {
    results.clear();
    let mut txn = env.write_txn()?;
    for job in batch {
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
