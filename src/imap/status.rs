//! STATUS data items (RFC 3501 §6.3.10) for STATUS and LIST-STATUS
//! (RFC 5819), with those of the extensions: HIGHESTMODSEQ (RFC 7162
//! §3.1.6), APPENDLIMIT (RFC 7889 §4), SIZE (RFC 8438 §3) and QUOTA's
//! DELETED and DELETED-STORAGE (RFC 9208 §4.3), MAILBOXID (RFC 8474 §4).
//!
//! Most items come from the mailbox record's counters. DELETED and
//! DELETED-STORAGE have no counter of their own, so they walk the
//! mailbox's message records (never a message body), and only when asked.

use super::parse::StatusItem;
use super::render;
use crate::store::{Flags, Mailbox, Reader, StoreError};

/// What a STATUS line needs beyond the mailbox record.
pub(super) struct StatusSource<'r> {
    /// For DELETED and DELETED-STORAGE.
    pub reader: &'r Reader,
    /// The largest message APPEND takes (the server's message size limit;
    /// the same for every mailbox).
    pub append_limit: u64,
    /// Names in UTF-8 (RFC 6855 §3).
    pub utf8: bool,
}

/// Messages with \Deleted in `mailbox_id`, and their octets.
fn deleted(reader: &Reader, mailbox_id: u64) -> Result<(u32, u64), StoreError> {
    let (mut count, mut bytes) = (0u32, 0u64);
    for m in reader.messages(mailbox_id)? {
        let m = m?;
        if m.flags.contains(Flags::DELETED) {
            count += 1;
            bytes = bytes.saturating_add(u64::from(m.size));
        }
    }
    Ok((count, bytes))
}

/// Writes `* STATUS name (item value ...)`.
pub(super) fn status_line(
    out: &mut Vec<u8>,
    m: &Mailbox,
    items: &[StatusItem],
    source: &StatusSource<'_>,
) {
    let wants_deleted = items
        .iter()
        .any(|i| matches!(i, StatusItem::Deleted | StatusItem::DeletedStorage));
    let (deleted_count, deleted_bytes) = if wants_deleted {
        deleted(source.reader, m.id).unwrap_or_else(|e| {
            // A store failure is the server's fault: logged, and the
            // counts shown as none rather than failing LIST as a whole.
            log::error!("imap: STATUS DELETED of {}: {e}", m.name);
            (0, 0)
        })
    } else {
        (0, 0)
    };
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
