//! STATUS data items (RFC 3501 §6.3.10) for STATUS and LIST-STATUS
//! (RFC 5819), with those of the extensions: HIGHESTMODSEQ (RFC 7162
//! §3.1.6), APPENDLIMIT (RFC 7889 §4), SIZE (RFC 8438 §3) and QUOTA's
//! DELETED and DELETED-STORAGE (RFC 9208 §4.3), MAILBOXID (RFC 8474 §4).
//!
//! Most items come from the mailbox record's counters. DELETED and
//! DELETED-STORAGE have no counter of their own, so they walk the
//! mailbox's message records (never a message body), and only when asked:
//! [`CHUNK`] records per read transaction with a yield in between, so a
//! mailbox of 10⁶ messages does not hold the executor (DESIGN.md
//! "Budgets").

use std::collections::HashMap;

use super::parse::StatusItem;
use super::render;
use crate::store::{Flags, Mailbox, Store, StoreError};

/// Message records read between two yields.
pub const CHUNK: usize = 4096;

/// DELETED and DELETED-STORAGE by mailbox id, counted before the lines
/// are written.
pub(super) type DeletedCounts = HashMap<u64, (u32, u64)>;

/// What a STATUS line needs beyond the mailbox record.
pub(super) struct StatusSource<'r> {
    /// DELETED and DELETED-STORAGE, for the mailboxes whose line asks.
    pub deleted: &'r DeletedCounts,
    /// The largest message APPEND takes (the server's message size limit;
    /// the same for every mailbox).
    pub append_limit: u64,
    /// Names in UTF-8 (RFC 6855 §3).
    pub utf8: bool,
}

/// Whether `items` asks for DELETED or DELETED-STORAGE.
pub(super) fn wants_deleted(items: &[StatusItem]) -> bool {
    items
        .iter()
        .any(|i| matches!(i, StatusItem::Deleted | StatusItem::DeletedStorage))
}

/// Messages with \Deleted in `mailbox_id`, and their octets: [`CHUNK`]
/// records per read transaction, yielding between chunks.
pub(super) async fn deleted(store: &Store, mailbox_id: u64) -> Result<(u32, u64), StoreError> {
    let (mut count, mut bytes, mut after) = (0u32, 0u64, 0u32);
    loop {
        let mut seen = 0;
        {
            let reader = store.read()?;
            for m in reader.messages_after(mailbox_id, after)?.take(CHUNK) {
                let m = m?;
                (after, seen) = (m.uid, seen + 1);
                if m.flags.contains(Flags::DELETED) {
                    count += 1;
                    bytes = bytes.saturating_add(u64::from(m.size));
                }
            }
        }
        if seen < CHUNK {
            return Ok((count, bytes));
        }
        smol::future::yield_now().await;
    }
}

/// [`deleted`] for each of `ids`; a store failure is the server's fault:
/// logged, and the counts shown as none rather than failing LIST.
pub(super) async fn deleted_counts(store: &Store, ids: &[u64]) -> DeletedCounts {
    let mut counts = DeletedCounts::new();
    for &id in ids {
        let c = deleted(store, id).await.unwrap_or_else(|e| {
            log::error!("imap: STATUS DELETED of mailbox {id}: {e}");
            (0, 0)
        });
        counts.insert(id, c);
    }
    counts
}

/// Writes `* STATUS name (item value ...)`.
pub(super) fn status_line(
    out: &mut Vec<u8>,
    m: &Mailbox,
    items: &[StatusItem],
    source: &StatusSource<'_>,
) {
    let (deleted_count, deleted_bytes) = source.deleted.get(&m.id).copied().unwrap_or((0, 0));
    out.extend_from_slice(b"* STATUS ");
    if source.utf8 {
        render::mailbox_utf8(out, &m.name);
    } else {
        render::mailbox(out, &m.name);
    }
    out.extend_from_slice(b" (");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let text = match item {
            StatusItem::Messages => format!("MESSAGES {}", m.messages),
            StatusItem::Recent => format!("RECENT {}", m.recent),
            StatusItem::UidNext => format!("UIDNEXT {}", m.uidnext),
            StatusItem::UidValidity => format!("UIDVALIDITY {}", m.uidvalidity),
            StatusItem::Unseen => format!("UNSEEN {}", m.unseen),
            StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", m.highest_modseq),
            StatusItem::AppendLimit => format!("APPENDLIMIT {}", source.append_limit),
            StatusItem::Size => format!("SIZE {}", m.bytes),
            StatusItem::Deleted => format!("DELETED {deleted_count}"),
            StatusItem::DeletedStorage => format!("DELETED-STORAGE {deleted_bytes}"),
            StatusItem::MailboxId => format!("MAILBOXID ({})", super::objectid::mailbox_id(m.id)),
        };
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::store::{Delivery, Options, Summarized};

    /// A mailbox of 2·CHUNK + 1 messages, every other one \Deleted: the
    /// count is right, and the walk gives the executor back between
    /// chunks (one poll does not finish it) instead of reading every
    /// record in one go.
    #[test]
    fn status_deleted_walks_in_chunks_and_yields() {
        let dir = std::env::temp_dir().join(format!("smolmail-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(
            &dir,
            &Options {
                map_size: 256 << 20,
            },
        )
        .unwrap();
        let account = smol::block_on(store.add_account("me@home.arpa", "x")).unwrap();
        let inbox = store
            .read()
            .unwrap()
            .mailbox(account, "INBOX")
            .unwrap()
            .unwrap();
        let n = 2 * CHUNK + 1;
        let all: Vec<Summarized> = (0..n)
            .map(|i| {
                Summarized::new(Delivery {
                    message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
                    internal_date: 1_600_000_000,
                    flags: if i % 2 == 0 {
                        Flags::DELETED
                    } else {
                        Flags::default()
                    },
                    keywords: Vec::new(),
                    mailboxes: vec![inbox.id],
                    outbound: None,
                })
            })
            .collect();
        smol::block_on(store.deliver_all(all)).unwrap();
        let mut walk = pin!(deleted(&store, inbox.id));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(walk.as_mut().poll(&mut cx).is_pending());
        let counted = loop {
            if let Poll::Ready(r) = walk.as_mut().poll(&mut cx) {
                break r.unwrap();
            }
        };
        let deleted_count = (n as u32).div_ceil(2);
        assert_eq!(counted, (deleted_count, 20 * u64::from(deleted_count)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
