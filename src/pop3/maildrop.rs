//! The maildrop of one POP3 session (RFC 1939 §4–§6): the INBOX as it was
//! at login, numbered 1..n, with the session's deletion marks, and the lock
//! that keeps a second POP3 session out of it (RFC 2449 §8.1.1, IN-USE).
//!
//! The numbering is a snapshot taken at login: RFC 1939 §5 wants message
//! numbers fixed for the session, so mail delivered later and messages
//! removed by IMAP meanwhile do not shift it. Deletion is only a mark until
//! QUIT; the session's UPDATE state (§6) turns the marks into one expunge.

use std::cell::RefCell;
use std::collections::HashSet;

/// One message as the session numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub uid: u32,
    pub blob_id: u64,
    /// Octets as sent, without byte-stuffing (RFC 1939 §11).
    pub size: u32,
    pub deleted: bool,
}

/// Why a message number names nothing the client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMessage {
    /// Zero, or past the last message (RFC 1939 §5 "no such message").
    NoSuch,
    /// Marked deleted in this session; RFC 1939 §5 forbids referring to it.
    Deleted,
}

impl NoMessage {
    pub fn text(self) -> &'static str {
        match self {
            NoMessage::NoSuch => "No such message",
            NoMessage::Deleted => "Message is deleted",
        }
    }
}

/// The INBOX snapshot of a session.
#[derive(Debug)]
pub struct Maildrop {
    pub mailbox_id: u64,
    uidvalidity: u32,
    messages: Vec<Entry>,
}

impl Maildrop {
    /// A snapshot from the mailbox's messages in UID order.
    pub fn new(
        mailbox_id: u64,
        uidvalidity: u32,
        messages: impl IntoIterator<Item = (u32, u64, u32)>,
    ) -> Maildrop {
        Maildrop {
            mailbox_id,
            uidvalidity,
            messages: messages
                .into_iter()
                .map(|(uid, blob_id, size)| Entry {
                    uid,
                    blob_id,
                    size,
                    deleted: false,
                })
                .collect(),
        }
    }

    /// Message `n` (1-based), unless it does not exist or is deleted.
    pub fn get(&self, n: u32) -> Result<&Entry, NoMessage> {
        let i = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .ok_or(NoMessage::NoSuch)?;
        match self.messages.get(i) {
            None => Err(NoMessage::NoSuch),
            Some(e) if e.deleted => Err(NoMessage::Deleted),
            Some(e) => Ok(e),
        }
    }

    /// Marks message `n` for deletion at QUIT.
    pub fn delete(&mut self, n: u32) -> Result<(), NoMessage> {
        self.get(n)?;
        self.messages[n as usize - 1].deleted = true;
        Ok(())
    }

    /// Clears every deletion mark (RSET); returns how many there were.
    pub fn undelete_all(&mut self) -> usize {
        let mut n = 0;
        for e in &mut self.messages {
            n += usize::from(e.deleted);
            e.deleted = false;
        }
        n
    }

    /// Messages not marked deleted, and their octets (STAT, RFC 1939 §5).
    pub fn stat(&self) -> (usize, u64) {
        self.live().fold((0, 0), |(n, octets), (_, e)| {
            (n + 1, octets + u64::from(e.size))
        })
    }

    /// Messages not marked deleted, with their numbers, in order.
    pub fn live(&self) -> impl Iterator<Item = (u32, &Entry)> {
        (1u32..).zip(&self.messages).filter(|(_, e)| !e.deleted)
    }

    /// UIDs of the messages marked deleted, for the UPDATE state.
    pub fn deleted_uids(&self) -> Vec<u32> {
        self.messages
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.uid)
            .collect()
    }

    /// The unique-id listing of a message (RFC 1939 §7, UIDL).
    pub fn unique_id(&self, entry: &Entry) -> UniqueId {
        UniqueId::new(self.uidvalidity, entry.uid)
    }
}

/// A message's UIDL: the mailbox's UIDVALIDITY and the message's UID, in
/// hex. Both are fixed for the life of a message in the store, so the id is
/// the same in every session and across restarts, and never names another
/// message: UIDs are not reused, and a new UIDVALIDITY changes every id.
/// 16 characters from 0x21..0x7E, within RFC 1939 §7's 1 to 70.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueId {
    text: [u8; 16],
}

impl UniqueId {
    pub fn new(uidvalidity: u32, uid: u32) -> UniqueId {
        let mut text = [0u8; 16];
        let both = (u64::from(uidvalidity) << 32) | u64::from(uid);
        for (i, c) in text.iter_mut().enumerate() {
            *c = b"0123456789abcdef"[((both >> (60 - 4 * i)) & 0xf) as usize];
        }
        UniqueId { text }
    }

    pub fn as_str(&self) -> &str {
        // Hex digits only, so always valid UTF-8.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

thread_local! {
    /// Mailbox ids held by a POP3 session. Every session runs on the one
    /// executor thread, so a thread-local set is the whole process's view.
    static LOCKED: RefCell<HashSet<u64>> = RefCell::new(HashSet::new());
}

/// A POP3 session's exclusive hold on a mailbox (RFC 1939 §8 asks for an
/// exclusive-access lock on the maildrop). Released on drop, so a session
/// that ends any way at all frees its mailbox.
#[derive(Debug)]
pub struct Lock {
    mailbox_id: u64,
}

impl Lock {
    /// Takes the mailbox, or `None` when another session holds it.
    pub fn acquire(mailbox_id: u64) -> Option<Lock> {
        LOCKED
            .with_borrow_mut(|set| set.insert(mailbox_id))
            .then_some(Lock { mailbox_id })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        LOCKED.with_borrow_mut(|set| set.remove(&self.mailbox_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop3() -> Maildrop {
        Maildrop::new(7, 0x5f00_0001, [(3, 30, 100), (5, 50, 200), (9, 90, 300)])
    }

    #[test]
    fn numbering_and_marks() {
        let mut m = drop3();
        assert_eq!(m.stat(), (3, 600));
        assert_eq!(m.get(1).unwrap().uid, 3);
        assert_eq!(m.get(3).unwrap().uid, 9);
        assert_eq!(m.get(0), Err(NoMessage::NoSuch));
        assert_eq!(m.get(4), Err(NoMessage::NoSuch));
        assert_eq!(m.get(u32::MAX), Err(NoMessage::NoSuch));
        m.delete(2).unwrap();
        assert_eq!(m.delete(2), Err(NoMessage::Deleted));
        assert_eq!(m.get(2), Err(NoMessage::Deleted));
        assert_eq!(m.stat(), (2, 400));
        // Numbers do not shift after a deletion.
        assert_eq!(m.get(3).unwrap().uid, 9);
        let live: Vec<u32> = m.live().map(|(n, _)| n).collect();
        assert_eq!(live, [1, 3]);
        m.delete(3).unwrap();
        assert_eq!(m.deleted_uids(), [5, 9]);
        assert_eq!(m.undelete_all(), 2);
        assert_eq!(m.stat(), (3, 600));
        assert!(m.deleted_uids().is_empty());
    }

    #[test]
    fn unique_ids() {
        let m = drop3();
        let id = m.unique_id(m.get(1).unwrap());
        assert_eq!(id.as_str(), "5f00000100000003");
        assert_eq!(UniqueId::new(u32::MAX, 1).as_str(), "ffffffff00000001");
        assert_eq!(UniqueId::new(0, 0).as_str(), "0000000000000000");
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let a = Lock::acquire(42).expect("free");
        assert!(Lock::acquire(42).is_none());
        let b = Lock::acquire(43).expect("other mailbox");
        drop(a);
        let again = Lock::acquire(42).expect("released");
        drop((b, again));
    }
}
