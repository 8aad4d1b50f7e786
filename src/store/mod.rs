//! The mail store: one LMDB environment (through heed) in the data directory.
//!
//! Every read goes through a [`Reader`]: a short read transaction on the
//! caller's thread that borrows bytes straight from the map. Every write
//! goes to one writer thread (`writer.rs`) that applies all waiting requests
//! in one transaction and commits once (group commit); a write's future
//! resolves only after that commit is durable, which is what lets SMTP say
//! `250`. The writer does LMDB work only: a message arrives [`Summarized`]
//! by its caller. Protocol modules call the functions here and never see a
//! key or a record: the layout is in `keys.rs`, the value encodings in
//! `records.rs` (and `queue.rs`, `fetch.rs` for theirs).
//!
//! Files: `schema.rs` (databases, version, upgrades), `read.rs` (every
//! query), `writer.rs` (the thread and the write requests), `ops.rs`
//! (accounts, domains, aliases, mailbox creation), `message_ops.rs`
//! (delivery, flags, expunge, body refcounts), `mailbox_ops.rs` (IMAP
//! mailbox writes), `quota.rs` (account usage against its quota),
//! `queue_ops.rs` and `fetch_ops.rs` (their writes), `acme_ops.rs` and
//! `dkim_ops.rs` (keys kept in `meta`).

mod acme_ops;
mod admin_ops;
mod dkim_ops;
mod fetch;
mod fetch_ops;
mod gauges;
mod health;
mod import_ops;
mod keys;
pub mod keyword_limits;
mod mailbox_ops;
mod message_ops;
mod mta_sts_ops;
mod notify;
mod ops;
mod postmaster;
pub mod queue;
mod queue_ops;
mod quota;
mod read;
mod records;
mod schema;
mod subscriptions;
mod trim;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use heed::{Env, EnvOpenOptions, WithoutTls};

pub use dkim_ops::{DkimKey, DkimOp, MAX_KEYS_PER_DOMAIN};
pub use fetch::{
    AccountState, FetchAccount, FetchBatch, FetchFolder, FetchStatus, Fetched, FolderState,
};
pub use fetch_ops::FetchOp;
pub use gauges::Space;
pub use import_ops::{Imported, identity_hash};
pub use postmaster::{PostmasterRoute, is_postmaster};
pub use queue::{Outbound, OutboundRecipient, QueueEntry, new_queue_id};
pub use queue_ops::{QueueOp, QueueUpdate};
pub use quota::Quota;
pub use read::{DueScan, MessageView, Reader, Recipient};
pub use records::keywords;
pub use writer::{
    Copied, Delivered, Delivery, FlagChange, FlagOp, FlagsResult, Outcome, Pending, Summarized,
    WriteOp,
};

use notify::Notifier;
use schema::Dbs;

/// Why a store operation failed. [`StoreError::is_temporary`] tells the
/// protocols whether to answer with a temporary failure (SMTP 452/451,
/// IMAP NO) so the peer retries later.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// The LMDB map or the disk is full: temporary, nothing was written.
    Full,
    /// An I/O error from the file system: temporary.
    Io(String),
    /// The store is shutting down and takes no more writes: temporary.
    Closed,
    /// The write was not started within its deadline (another process
    /// holds the write lock, or the writer is stuck): temporary.
    Timeout,
    /// LMDB says the environment is broken (MDB_PANIC, a corrupted or
    /// missing page, an unusable transaction): the writer exits the
    /// process; callers answer with a temporary error.
    Fatal(String),
    /// A record does not decode: the data directory is damaged.
    Corrupt(String),
    /// The named thing does not exist.
    NotFound(String),
    /// The named thing exists already.
    Exists(String),
    /// The request makes no sense for the data (e.g. deleting a domain that
    /// still has users).
    Invalid(String),
    /// The request would pass a fixed bound (keywords per message or per
    /// mailbox); nothing was written.
    Limit(String),
}

impl StoreError {
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            StoreError::Full
                | StoreError::Io(_)
                | StoreError::Closed
                | StoreError::Timeout
                | StoreError::Fatal(_)
        )
    }

    /// The level a session logs this error at: a full store or a busy
    /// writer is logged once by the writer, so each message refused for it
    /// is only an info line; a name that exists already or does not exist,
    /// or a request that makes no sense, is the client's mistake (CREATE
    /// of an existing mailbox, SELECT of a missing one), not the server's,
    /// so an info line too.
    pub fn log_level(&self) -> log::Level {
        match self {
            StoreError::Full
            | StoreError::Timeout
            | StoreError::Limit(_)
            | StoreError::NotFound(_)
            | StoreError::Exists(_)
            | StoreError::Invalid(_) => log::Level::Info,
            _ => log::Level::Error,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Full => {
                f.write_str("the store is full (map size or disk); nothing was written")
            }
            StoreError::Io(e) => write!(f, "store I/O error: {e}"),
            StoreError::Closed => f.write_str("the store is shutting down"),
            StoreError::Timeout => f.write_str("the store did not take the write in time"),
            StoreError::Fatal(e) => write!(f, "the store failed beyond repair: {e}"),
            StoreError::Corrupt(e) => write!(f, "the store is damaged: {e}"),
            StoreError::NotFound(e)
            | StoreError::Exists(e)
            | StoreError::Invalid(e)
            | StoreError::Limit(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<heed::Error> for StoreError {
    fn from(e: heed::Error) -> StoreError {
        match e {
            heed::Error::Mdb(heed::MdbError::MapFull) => StoreError::Full,
            heed::Error::Io(io)
                if matches!(io.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) =>
            {
                StoreError::Full
            }
            heed::Error::Mdb(
                e @ (heed::MdbError::Panic
                | heed::MdbError::Corrupted
                | heed::MdbError::PageNotFound
                | heed::MdbError::BadTxn
                | heed::MdbError::Problem),
            ) => StoreError::Fatal(format!("LMDB: {e}")),
            heed::Error::Io(io) => StoreError::Io(io.to_string()),
            other => StoreError::Io(other.to_string()),
        }
    }
}

/// A mail account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: u64,
    pub address: String,
    pub password_hash: String,
    /// Bytes allowed; 0 is unlimited.
    pub quota: u64,
    pub flags: u32,
}

/// RFC 6154 special-use attribute of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SpecialUse {
    None = 0,
    Drafts = 1,
    Sent = 2,
    Trash = 3,
    Junk = 4,
    Archive = 5,
}

impl SpecialUse {
    fn from_u8(v: u8) -> SpecialUse {
        match v {
            1 => SpecialUse::Drafts,
            2 => SpecialUse::Sent,
            3 => SpecialUse::Trash,
            4 => SpecialUse::Junk,
            5 => SpecialUse::Archive,
            _ => SpecialUse::None,
        }
    }

    /// The RFC 6154 attribute, e.g. `\Sent`.
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            SpecialUse::None => None,
            SpecialUse::Drafts => Some("\\Drafts"),
            SpecialUse::Sent => Some("\\Sent"),
            SpecialUse::Trash => Some("\\Trash"),
            SpecialUse::Junk => Some("\\Junk"),
            SpecialUse::Archive => Some("\\Archive"),
        }
    }
}

/// The mailboxes every new account gets (the IMAP SPECIAL-USE set).
pub const DEFAULT_MAILBOXES: [(&str, SpecialUse); 6] = [
    ("INBOX", SpecialUse::None),
    ("Drafts", SpecialUse::Drafts),
    ("Sent", SpecialUse::Sent),
    ("Trash", SpecialUse::Trash),
    ("Junk", SpecialUse::Junk),
    ("Archive", SpecialUse::Archive),
];

/// A mailbox and its counters, kept current by every write so that
/// STATUS and SELECT need no scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Mailbox {
    pub id: u64,
    pub account_id: u64,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub special_use: SpecialUse,
    pub messages: u32,
    pub unseen: u32,
    pub recent: u32,
    pub bytes: u64,
}

/// The system flags of a message as bits (RFC 3501 §2.3.2); keywords are
/// stored beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const SEEN: Flags = Flags(1);
    pub const ANSWERED: Flags = Flags(2);
    pub const FLAGGED: Flags = Flags(4);
    pub const DELETED: Flags = Flags(8);
    pub const DRAFT: Flags = Flags(16);
    /// \Recent: set at delivery; the IMAP session that first selects the
    /// mailbox takes it over (RFC 3501 §2.3.2).
    pub const RECENT: Flags = Flags(32);

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
}

/// Counters for tests and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Write transactions committed (each is one fsync).
    pub commits: AtomicU64,
    /// Write requests applied.
    pub writes: AtomicU64,
}

/// Settings for opening the store.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest the LMDB map may grow to, in bytes.
    pub map_size: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            map_size: if cfg!(target_pointer_width = "64") {
                16 << 30
            } else {
                1 << 30
            },
        }
    }
}

/// A handle on the open store; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    env: Env<WithoutTls>,
    dbs: Dbs,
    writer: writer::Handle,
    notifier: Arc<Notifier>,
    stats: Arc<Stats>,
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, upgrading an older
    /// schema, and starts the writer thread.
    pub fn open(dir: &Path, options: &Options) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let map_size = usize::try_from(options.map_size)
            .map_err(|_| StoreError::Invalid("map size too large for this machine".into()))?;
        let mut open = EnvOpenOptions::new().read_txn_without_tls();
        open.map_size(map_size)
            .max_dbs(schema::MAX_DBS)
            .max_readers(1024);
        // MDB_NORDAHEAD: message reads are random; kernel read-ahead and
        // fault-around would map neighbouring pages into the process for
        // nothing, inflating RSS on a small board.
        // SAFETY: a plain LMDB open flag; it changes no memory layout.
        unsafe { open.flags(heed::EnvFlags::NO_READ_AHEAD) };
        // SAFETY: heed requires that the same environment is not opened
        // twice in one process with different options and that the files are
        // not truncated under us; smolmail opens each data directory once.
        let env = unsafe { open.open(dir) }.map_err(|e| match e {
            heed::Error::Io(io) => {
                StoreError::Io(format!("cannot open the store in {}: {io}", dir.display()))
            }
            other => StoreError::from(other),
        })?;
        let dbs = schema::open(&env)?;
        let notifier = Arc::new(Notifier::default());
        let stats = Arc::new(Stats::default());
        let writer = writer::spawn(env.clone(), dbs, notifier.clone(), stats.clone())?;
        Ok(Store {
            shared: Arc::new(Shared {
                env,
                dbs,
                writer,
                notifier,
                stats,
                dir: dir.to_path_buf(),
            }),
        })
    }

    /// The directory holding the store.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// A short read transaction. Keep it only as long as the data borrowed
    /// from it is used: an open reader pins old pages.
    pub fn read(&self) -> Result<Reader, StoreError> {
        let txn = self.shared.env.clone().static_read_txn()?;
        Ok(Reader::new(txn, self.shared.dbs))
    }

    /// Sends a write to the writer thread; resolves after its commit is
    /// durable (or with the reason it was not applied).
    pub async fn write(&self, op: WriteOp) -> Result<writer::Outcome, StoreError> {
        self.shared.writer.submit(op).await
    }

    /// Sends a write to the writer thread without waiting for it: the
    /// returned [`Pending`] resolves after its commit. A caller with many
    /// independent writes (an import) keeps several in flight so that the
    /// writer commits them together, one fsync for many.
    pub async fn enqueue(&self, op: WriteOp) -> Result<Pending, StoreError> {
        self.shared.writer.enqueue(op).await
    }

    /// How long a write may wait to be started (another process holding
    /// LMDB's write lock) before it fails with [`StoreError::Timeout`];
    /// [`writer::DEFAULT_DEADLINE`] unless set.
    pub fn set_write_deadline(&self, deadline: std::time::Duration) {
        self.shared.writer.set_deadline(deadline);
    }

    /// Resolves when `mailbox_id` changes (delivery, flags, expunge). Create
    /// the listener before reading the state it guards, then await it.
    pub fn watch(&self, mailbox_id: u64) -> event_listener::EventListener {
        self.shared.notifier.listen(mailbox_id)
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Writes a consistent copy of the store to `dest` (a new file) while
    /// readers and the writer go on (LMDB's mdb_env_copy, compacting).
    /// The file is created 0600: it holds every message and password hash.
    pub fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", dest.display()));
        let mut file = std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .map_err(io)?;
        let copied = self
            .shared
            .env
            .copy_to_file(&mut file, heed::CompactionOption::Enabled)
            .map_err(StoreError::from)
            .and_then(|()| file.sync_all().map_err(io));
        if copied.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        copied
    }

    /// Stops taking writes, lets every queued write commit, and joins the
    /// writer thread. Later writes fail with [`StoreError::Closed`].
    pub fn shutdown(&self) {
        self.shared.writer.shutdown();
    }
}

/// Counts toward the `writes` stat: used by the writer.
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

// Typed helpers over `write`, so callers need not match on Outcome.
impl Store {
    pub async fn add_domain(&self, domain: &str) -> Result<(), StoreError> {
        self.write(WriteOp::AddDomain(domain.to_string()))
            .await
            .map(drop)
    }
    pub async fn del_domain(&self, domain: &str) -> Result<(), StoreError> {
        self.write(WriteOp::DelDomain(domain.to_string()))
            .await
            .map(drop)
    }
    /// Creates the account (and its domain, and the default mailboxes).
    pub async fn add_account(&self, address: &str, password_hash: &str) -> Result<u64, StoreError> {
        let op = WriteOp::AddAccount {
            address: address.to_string(),
            password_hash: password_hash.to_string(),
        };
        self.write(op).await?.id()
    }
    /// Sets an account's quota in bytes (0: unlimited).
    pub async fn set_quota(&self, address: &str, quota: u64) -> Result<(), StoreError> {
        let op = WriteOp::SetQuota {
            address: address.to_string(),
            quota,
        };
        self.write(op).await.map(drop)
    }
    pub async fn del_account(&self, address: &str) -> Result<(), StoreError> {
        self.write(WriteOp::DelAccount(address.to_string()))
            .await
            .map(drop)
    }
    pub async fn set_password(&self, address: &str, password_hash: &str) -> Result<(), StoreError> {
        let op = WriteOp::SetPassword {
            address: address.to_string(),
            password_hash: password_hash.to_string(),
            only_if: None,
        };
        self.write(op).await.map(drop)
    }
    /// Replaces the stored hash `old` by `new` (a login upgrading an
    /// imported hash); `Invalid` if the password was changed meanwhile.
    pub async fn replace_password(
        &self,
        address: &str,
        old: &str,
        new: &str,
    ) -> Result<(), StoreError> {
        let op = WriteOp::SetPassword {
            address: address.to_string(),
            password_hash: new.to_string(),
            only_if: Some(old.to_string()),
        };
        self.write(op).await.map(drop)
    }
    pub async fn add_alias(&self, source: &str, targets: &[String]) -> Result<(), StoreError> {
        let op = WriteOp::AddAlias {
            source: source.to_string(),
            targets: targets.to_vec(),
        };
        self.write(op).await.map(drop)
    }
    pub async fn del_alias(&self, source: &str) -> Result<(), StoreError> {
        self.write(WriteOp::DelAlias(source.to_string()))
            .await
            .map(drop)
    }
    pub async fn create_mailbox(
        &self,
        account_id: u64,
        name: &str,
        special_use: SpecialUse,
    ) -> Result<u64, StoreError> {
        let op = WriteOp::CreateMailbox {
            account_id,
            name: name.to_string(),
            special_use,
        };
        self.write(op).await?.id()
    }
    /// Stores one message into every listed mailbox (and queues it for its
    /// remote recipients) in one commit. The caller brings the summary
    /// ([`Summarized::compute`]); a plain [`Delivery`] is summarized on the
    /// caller's thread.
    pub async fn deliver(&self, delivery: impl Into<Summarized>) -> Result<Delivered, StoreError> {
        match self.write(WriteOp::Deliver(delivery.into())).await? {
            writer::Outcome::Delivered(d) => Ok(d),
            other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }
    /// Stores several messages all or none, in one commit (IMAP
    /// MULTIAPPEND, RFC 3502); what each became, in order.
    pub async fn deliver_all(&self, all: Vec<Summarized>) -> Result<Vec<Delivered>, StoreError> {
        match self.write(WriteOp::DeliverAll(all)).await? {
            writer::Outcome::DeliveredAll(d) => Ok(d),
            other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }
    pub async fn set_flags(&self, change: FlagChange) -> Result<FlagsResult, StoreError> {
        match self.write(WriteOp::SetFlags(change)).await? {
            writer::Outcome::FlagsSet(v) => Ok(v),
            other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }
    pub async fn delete_mailbox(&self, mailbox_id: u64) -> Result<(), StoreError> {
        self.write(WriteOp::DeleteMailbox { mailbox_id })
            .await
            .map(drop)
    }
    pub async fn rename_mailbox(&self, mailbox_id: u64, new_name: &str) -> Result<(), StoreError> {
        self.write(WriteOp::RenameMailbox {
            mailbox_id,
            new_name: new_name.to_string(),
        })
        .await
        .map(drop)
    }
    /// SUBSCRIBE / UNSUBSCRIBE of a name (`subscriptions.rs`).
    pub async fn set_subscribed(
        &self,
        account_id: u64,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        self.write(WriteOp::SetSubscribed {
            account_id,
            name: name.to_string(),
            subscribed,
        })
        .await
        .map(drop)
    }
    /// COPY (`remove` false) or MOVE (`remove` true) of messages by UID.
    pub async fn copy(
        &self,
        from: u64,
        uids: Vec<u32>,
        to: u64,
        remove: bool,
    ) -> Result<Copied, StoreError> {
        match self
            .write(WriteOp::Copy {
                from,
                uids,
                to,
                remove,
            })
            .await?
        {
            writer::Outcome::Copied(c) => Ok(c),
            other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }
    /// Clears \Recent in a mailbox; returns the UIDs that had it.
    pub async fn claim_recent(&self, mailbox_id: u64) -> Result<Vec<u32>, StoreError> {
        match self.write(WriteOp::ClaimRecent { mailbox_id }).await? {
            writer::Outcome::Claimed(v) => Ok(v),
            other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }
    /// Removes messages; a body goes when its last copy does.
    pub async fn expunge(&self, mailbox_id: u64, uids: Vec<u32>) -> Result<Vec<u32>, StoreError> {
        match self.write(WriteOp::Expunge { mailbox_id, uids }).await? {
            writer::Outcome::Expunged(v) => Ok(v),
            other => Err(StoreError::Corrupt(format!("unexpected outcome {other:?}"))),
        }
    }
}
