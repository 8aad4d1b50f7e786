//! Pulling one remote folder into its local mailbox.
//!
//! 1. EXAMINE the folder and compare its UIDVALIDITY with the stored
//!    state (RFC 3501 §2.3.1.1). Same: only UIDs above the last one taken
//!    are new, and when UIDNEXT says there are none the run stops here.
//!    Changed: every UID is new again, so this is a re-sync, and messages
//!    are first checked against the identities taken before.
//! 2. List the new UIDs with their sizes (`UID FETCH n:* (UID
//!    RFC822.SIZE)`, plus the identifying header fields in a re-sync).
//!    Messages over `--max-message-size` are skipped and logged, those
//!    seen before are skipped silently; the per-run cap ends the list,
//!    and so does the first message that would take the local account
//!    past its quota (logged once per run): it and those after it stay
//!    untaken, for a later run once mail is expunged.
//! 3. Fetch the rest in batches (at most [`BATCH_MESSAGES`] messages and
//!    [`BATCH_BYTES`] bytes, or one larger message) with `BODY.PEEK[]`,
//!    and store each batch with the folder's new last UID in one write:
//!    the batch is on disk with its progress or not at all.

use std::collections::HashSet;
use std::time::Duration;

use super::client::{Error, Selected, Session, Target};
use super::identity;
use super::response::{Limits, Untagged};
use crate::net::dns::Resolver;
use crate::net::{Budget, Reservation};
use crate::store::{Delivery, FetchAccount, FetchBatch, Fetched, Store, Summarized};
use crate::wire::imap::sequence::sequence_set;

/// Most messages in one batch (one UID FETCH, one store write).
pub const BATCH_MESSAGES: usize = 64;
/// Most bytes in one batch, unless a single message is larger.
pub const BATCH_BYTES: u64 = 4 << 20;
/// Bytes of a response outside literals (a FETCH line, CAPABILITY).
const MAX_LINE: usize = 1 << 20;
/// Literals may exceed RFC822.SIZE a little (servers count differently);
/// anything more is refused before it is buffered.
const LITERAL_SLACK: u64 = 1 << 20;

/// What a run needs besides the account.
pub struct Env<'a> {
    pub store: &'a Store,
    pub resolver: &'a Resolver,
    /// `--max-message-size`: larger messages stay on the server.
    pub max_message_size: u64,
    /// The server's memory budget: each batch is reserved before it is
    /// fetched.
    pub budget: &'a Budget,
    /// The server's name, as Authentication-Results fields give it.
    pub hostname: &'a str,
}

/// Progress for a terminal (`smolmail fetch run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A folder's new messages are listed: `todo` will be fetched.
    Folder { name: &'a str, todo: usize },
    /// A batch is stored: messages and bytes so far in this folder.
    Stored { done: usize, bytes: u64 },
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Messages stored (duplicates found in a re-sync not counted).
    pub messages: u64,
    pub bytes: u64,
    /// Messages left on the server for being over the size limit.
    pub too_large: u64,
    /// The per-run cap stopped the run with messages still waiting.
    pub capped: bool,
    /// The local account's quota stopped the run with messages waiting.
    pub over_quota: bool,
}

/// How to reach the account's server: its TLS settings (Mozilla's roots
/// plus the account's own CA) and the reading bounds.
pub fn target(account: &FetchAccount, max_message_size: u64) -> Result<Target, Error> {
    let tls =
        crate::net::tls::verified_pem(&account.ca_pem, "the account's --ca").map_err(Error)?;
    Ok(Target {
        host: account.host.clone(),
        port: account.port,
        starttls: account.starttls,
        tls,
        limits: limits(max_message_size),
    })
}

/// What a server may send when messages may be `max_message_size` bytes.
pub fn limits(max_message_size: u64) -> Limits {
    Limits {
        max_line: MAX_LINE,
        max_literal: max_message_size.saturating_add(LITERAL_SLACK),
    }
}

/// Connects and logs in.
pub async fn connect(
    account: &FetchAccount,
    target: &Target,
    resolver: &Resolver,
) -> Result<Session, Error> {
    Session::open(target, resolver, &account.user, &account.password.0).await
}

/// Pulls the folders `which` (indexes into the account's list) over one
/// session, under one per-run cap; stops at the first error, returning
/// what was done until then beside it.
pub async fn folders(
    session: &mut Session,
    env: &Env<'_>,
    account: &FetchAccount,
    which: &[usize],
    progress: &mut dyn FnMut(Event<'_>),
) -> (Totals, Result<(), Error>) {
    let mut totals = Totals::default();
    let mut budget = account.max_per_run.max(1);
    for &index in which {
        let result = folder(
            session,
            env,
            account,
            index,
            &mut budget,
            &mut totals,
            progress,
        )
        .await;
        if let Err(e) = result {
            return (totals, Err(e));
        }
    }
    (totals, Ok(()))
}

/// One listed message.
#[derive(Debug, Clone, Copy)]
struct Listed {
    uid: u32,
    size: u32,
    identity: Option<u64>,
}

/// One folder being pulled: where from, where to, and what was taken
/// from it before.
struct Pull<'a> {
    account_id: u64,
    /// The folder's index in the account's list.
    index: usize,
    remote: &'a str,
    mailbox_id: u64,
    /// Bytes the local account may still take (its quota less its usage,
    /// when this folder starts); `u64::MAX` without a quota.
    room: u64,
    selected: Selected,
    /// The last UID taken before this run.
    last: u32,
    /// UIDs below which a message may have been taken before (a re-sync
    /// checks them against the identities taken); 0 when none.
    resync_below: u32,
    /// The stored UIDVALIDITY is stale.
    changed: bool,
}

/// Batches to fetch and store: the UIDs, and the last UID each accounts
/// for (skipped messages included).
/// Each batch: its UIDs, the last UID it covers, and the most bytes it
/// holds in memory (its messages, and the largest once more while it is
/// read off the connection), reserved from the memory budget first.
type Batches = Vec<(Vec<u32>, u32, u64)>;

/// Pulls folder `index` of `account`. `budget` is what is left of the
/// run's message cap; the folder takes from it.
pub async fn folder(
    session: &mut Session,
    env: &Env<'_>,
    account: &FetchAccount,
    index: usize,
    budget: &mut u32,
    totals: &mut Totals,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    let Some(folder) = account.folders.get(index) else {
        return Ok(());
    };
    let (mailbox_id, room) = local_target(env.store, &account.local_user, &folder.local)?;
    let selected = session.examine(&folder.remote).await?;
    let stored = env
        .store
        .read()
        .and_then(|r| r.fetch_folder_state(account.id, index as u32))
        .map_err(store_error)?;
    let (last, resync_below, changed) = match stored {
        None => (0, 0, false),
        Some(s) if s.uidvalidity == selected.uidvalidity => (s.last_uid, s.resync_below, false),
        Some(s) => {
            log::warn!(
                "fetch: #{} {}: UIDVALIDITY of {} changed from {} to {}; re-syncing without duplicates",
                account.id,
                session.label,
                folder.remote,
                s.uidvalidity,
                selected.uidvalidity
            );
            // Messages below UIDNEXT may be ones taken under the old
            // UIDs. An empty folder, or no UIDNEXT, says nothing about
            // what comes back later: then every message is checked.
            let below = match selected.uidnext {
                Some(next) if selected.exists > 0 => next,
                _ => u32::MAX,
            };
            (0, below, true)
        }
    };
    let pull = Pull {
        account_id: account.id,
        index,
        remote: &folder.remote,
        mailbox_id,
        room,
        selected,
        last,
        resync_below,
        changed,
    };
    if nothing_new(&pull.selected, last) {
        if changed {
            store_batch(env, &pull, Vec::new(), 0).await?;
        }
        progress(Event::Folder {
            name: pull.remote,
            todo: 0,
        });
        return Ok(());
    }
    let listed = list(session, last, resync_below > 0).await?;
    let seen = seen_before(env.store, account.id, index, &listed, resync_below)?;
    let max_size = env.max_message_size;
    let (batches, todo) = plan(
        &pull,
        &session.label,
        &listed,
        &seen,
        max_size,
        budget,
        totals,
    );
    progress(Event::Folder {
        name: pull.remote,
        todo,
    });
    pull_batches(session, env, &pull, batches, totals, progress).await
}

/// Plans the batches of at most [`BATCH_MESSAGES`] messages and
/// [`BATCH_BYTES`] bytes (or one larger message); how many messages they
/// fetch. Messages seen before are skipped silently, those over
/// `--max-message-size` with a warning; the budget ends the list.
fn plan(
    pull: &Pull<'_>,
    label: &str,
    listed: &[Listed],
    seen: &HashSet<u32>,
    max_message_size: u64,
    budget: &mut u32,
    totals: &mut Totals,
) -> (Batches, usize) {
    let mut batches: Batches = Vec::new();
    let (mut uids, mut bytes, mut through) = (Vec::new(), 0u64, pull.last);
    let mut largest = 0u64;
    let mut todo = 0usize;
    let (mut room, mut over_quota) = (pull.room, false);
    for l in listed {
        if seen.contains(&l.uid) {
            through = l.uid;
            continue;
        }
        if u64::from(l.size) > max_message_size {
            log::warn!(
                "fetch: #{} {label}: {} UID {} is {} bytes, over --max-message-size {max_message_size}; left on the server",
                pull.account_id,
                pull.remote,
                l.uid,
                l.size,
            );
            totals.too_large += 1;
            through = l.uid;
            continue;
        }
        if *budget == 0 {
            totals.capped = true;
            break;
        }
        if u64::from(l.size) > room {
            // Not taken, so not marked: a later run finds it again.
            if !totals.over_quota {
                log::warn!(
                    "fetch: #{} {label}: {} UID {} ({} bytes) would take the local account past its quota; it and later messages stay on the server",
                    pull.account_id,
                    pull.remote,
                    l.uid,
                    l.size,
                );
            }
            totals.over_quota = true;
            over_quota = true;
            break;
        }
        room -= u64::from(l.size);
        if !uids.is_empty()
            && (uids.len() >= BATCH_MESSAGES || bytes + u64::from(l.size) > BATCH_BYTES)
        {
            batches.push((std::mem::take(&mut uids), through, bytes + largest));
            bytes = 0;
            largest = 0;
        }
        uids.push(l.uid);
        bytes += u64::from(l.size);
        largest = largest.max(u64::from(l.size));
        through = l.uid;
        *budget -= 1;
        todo += 1;
    }
    // Listed in full: every UID below UIDNEXT that still exists was seen,
    // and UIDs are never reused (§2.3.1.1), so the gaps are done too.
    if !totals.capped
        && !over_quota
        && let Some(next) = pull.selected.uidnext
    {
        through = through.max(next.saturating_sub(1));
    }
    if !uids.is_empty() || through > pull.last || pull.changed {
        batches.push((uids, through, bytes + largest));
    }
    (batches, todo)
}

/// Fetches and stores each batch, reporting progress.
async fn pull_batches(
    session: &mut Session,
    env: &Env<'_>,
    pull: &Pull<'_>,
    batches: Batches,
    totals: &mut Totals,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    let (mut done, mut done_bytes) = (0usize, 0u64);
    for (uids, through, held) in batches {
        // Held until the batch is stored.
        let _held = reserve(env, pull, held).await?;
        let fetched = if uids.is_empty() {
            Vec::new()
        } else {
            bodies(session, env, pull, &uids).await?
        };
        let batch_bytes: u64 = fetched
            .iter()
            .map(|f| f.delivery.message.len() as u64)
            .sum();
        let count = fetched.len();
        let stored = store_batch(env, pull, fetched, through).await?;
        // Duplicates a re-sync found at the last moment are not "new".
        totals.messages += stored;
        totals.bytes += if stored as usize == count {
            batch_bytes
        } else {
            batch_bytes * stored / count.max(1) as u64
        };
        done += uids.len();
        done_bytes += batch_bytes;
        progress(Event::Stored {
            done,
            bytes: done_bytes,
        });
    }
    Ok(())
}

/// Takes `bytes` of the memory budget for one batch, waiting up to a
/// minute for the server's sessions to give some back; when they do not,
/// the run ends and the batch waits for the next one (nothing is lost:
/// the folder's last UID moves only with a stored batch).
async fn reserve(env: &Env<'_>, pull: &Pull<'_>, bytes: u64) -> Result<Reservation, Error> {
    let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    for _ in 0..BUDGET_WAITS {
        if let Some(held) = env.budget.reserve(bytes) {
            return Ok(held);
        }
        smol::Timer::after(Duration::from_secs(1)).await;
    }
    Err(Error(format!(
        "#{}: {}: memory budget for messages in flight is spent ({} of {} bytes in use, {bytes} needed); the rest waits for the next run",
        pull.account_id,
        pull.remote,
        env.budget.in_use(),
        env.budget.limit()
    )))
}

/// Seconds a batch waits for the memory budget.
const BUDGET_WAITS: u32 = 60;

/// UIDNEXT says no UID above `last` exists (§7.3.1 and §2.3.1.1).
fn nothing_new(selected: &Selected, last: u32) -> bool {
    selected.exists == 0
        || selected
            .uidnext
            .is_some_and(|next| next <= last.saturating_add(1))
}

/// The local mailbox id for `name` of `user`, and the bytes the account
/// may still take.
fn local_target(store: &Store, user: &str, name: &str) -> Result<(u64, u64), Error> {
    let reader = store.read().map_err(store_error)?;
    let account = reader
        .account(user)
        .map_err(store_error)?
        .ok_or_else(|| Error(format!("the local user {user} does not exist")))?;
    let mailbox = reader
        .mailbox(account.id, name)
        .map_err(store_error)?
        .ok_or_else(|| Error(format!("the local mailbox {name} of {user} does not exist")))?;
    let room = match account.quota {
        0 => u64::MAX,
        limit => limit.saturating_sub(reader.usage(account.id).map_err(store_error)?),
    };
    Ok((mailbox.id, room))
}

fn store_error(e: crate::store::StoreError) -> Error {
    Error(format!("store: {e}"))
}

/// The UIDs above `last` with their sizes, in UID order. `n:*` names
/// the highest message even when n is above it (§6.4.8), hence the
/// filter.
async fn list(session: &mut Session, last: u32, identities: bool) -> Result<Vec<Listed>, Error> {
    let items = if identities {
        format!(
            "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({})])",
            identity::FIELDS
        )
    } else {
        "(UID RFC822.SIZE)".to_string()
    };
    let mut listed = Vec::new();
    let from = last.saturating_add(1);
    session
        .uid_fetch(&format!("{from}:*"), &items, |u| {
            if let Untagged::Fetch(_, d) = u
                && let (Some(uid), Some(size)) = (d.uid, d.size)
                && uid > last
            {
                listed.push(Listed {
                    uid,
                    size,
                    identity: d.header_fields.as_deref().map(identity::identity),
                });
            }
            Ok(())
        })
        .await?;
    listed.sort_by_key(|l| l.uid);
    listed.dedup_by_key(|l| l.uid);
    Ok(listed)
}

/// UIDs of listed messages below `resync_below` that the folder gave
/// before (same identity and size).
fn seen_before(
    store: &Store,
    fetch_id: u64,
    index: usize,
    listed: &[Listed],
    resync_below: u32,
) -> Result<HashSet<u32>, Error> {
    let candidates: Vec<(u32, (u64, u32))> = listed
        .iter()
        .filter(|l| l.uid < resync_below)
        .filter_map(|l| Some((l.uid, (l.identity?, l.size))))
        .collect();
    if candidates.is_empty() {
        return Ok(HashSet::new());
    }
    let pairs: Vec<(u64, u32)> = candidates.iter().map(|c| c.1).collect();
    let found = store
        .read()
        .and_then(|r| r.fetch_seen(fetch_id, index as u32, &pairs))
        .map_err(store_error)?;
    Ok(candidates
        .iter()
        .zip(found)
        .filter(|(_, seen)| *seen)
        .map(|(c, _)| c.0)
        .collect())
}

/// Fetches the bodies of `uids` (BODY.PEEK[]: \Seen stays unset, §6.4.5).
async fn bodies(
    session: &mut Session,
    env: &Env<'_>,
    pull: &Pull<'_>,
    uids: &[u32],
) -> Result<Vec<Fetched>, Error> {
    let mut fetched: Vec<(u32, u64, u32, Delivery)> = Vec::with_capacity(uids.len());
    let mut too_large = Vec::new();
    let set = sequence_set(uids);
    session
        .fetch_bodies(&set, |body| {
            let uid = body.uid;
            if uids.binary_search(&uid).is_err() || fetched.iter().any(|f| f.0 == uid) {
                return;
            }
            if body.bytes.len() as u64 > env.max_message_size {
                too_large.push((uid, body.bytes.len()));
                return;
            }
            let size = body.size.unwrap_or(body.bytes.len() as u32);
            let identity = identity::identity(&body.bytes);
            let date = body.internal_date.unwrap_or_else(crate::time::now);
            // RFC 8601 §5: no verdict in our name from the provider's side.
            let mut bytes = body.bytes;
            let prefix = format!("fetch: #{} UID {uid}", pull.account_id);
            crate::dkim::inbound::strip_own_results(&mut bytes, 0, env.hostname, &prefix);
            let delivery = Delivery::new(bytes, date, vec![pull.mailbox_id], None);
            fetched.push((uid, identity, size, delivery));
        })
        .await?;
    for (uid, len) in too_large {
        log::warn!(
            "fetch: #{} {}: {} UID {uid} came as {len} bytes, over --max-message-size {}; left on the server",
            pull.account_id,
            session.label,
            pull.remote,
            env.max_message_size
        );
    }
    fetched.sort_by_key(|f| f.0);
    // Summarized here, off the store's writer thread.
    let mut summarized = Vec::with_capacity(fetched.len());
    for (uid, identity, size, delivery) in fetched {
        let delivery = Summarized::compute(delivery).await;
        summarized.push(Fetched {
            uid,
            identity,
            size,
            delivery,
        });
    }
    Ok(summarized)
}

/// Stores one batch with the folder's new state (last UID `through_uid`)
/// in one write: on disk with its progress or not at all.
async fn store_batch(
    env: &Env<'_>,
    pull: &Pull<'_>,
    messages: Vec<Fetched>,
    through_uid: u32,
) -> Result<u64, Error> {
    let batch = FetchBatch {
        fetch_id: pull.account_id,
        folder: pull.index as u32,
        uidvalidity: pull.selected.uidvalidity,
        resync: (pull.changed || pull.resync_below > 0).then_some(pull.resync_below),
        messages,
        through_uid,
    };
    env.store.fetch_batch(batch).await.map_err(store_error)
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
