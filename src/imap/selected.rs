//! The selected mailbox as this session knows it, and the untagged updates
//! that bring that view up to date with the store (RFC 3501 §7: EXISTS,
//! RECENT, EXPUNGE, FETCH FLAGS; RFC 7162: MODSEQ and VANISHED).
//!
//! The view is the UID of each message sequence number plus the MODSEQ the
//! session last reported for it. Comparing it with the store tells what
//! changed; the mailbox's HIGHESTMODSEQ and UIDNEXT make the common "nothing
//! changed" case one record read.

use super::render;
use super::session::Session;
use crate::imap_wire::sequence::sequence_set;
use crate::store::{Flags, StoreError};

pub(super) struct Selected {
    pub id: u64,
    pub read_only: bool,
    pub uidvalidity: u32,
    /// UID of each message, by sequence number - 1.
    pub uids: Vec<u32>,
    /// MODSEQ last reported for each message.
    pub modseqs: Vec<u64>,
    /// UIDs this session holds \Recent for (sorted).
    pub recent: Vec<u32>,
    pub highest_modseq: u64,
    pub uidnext: u32,
}

impl Selected {
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.binary_search(&uid).is_ok()
    }

    pub fn max_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }

    /// Records that the session reported `uid` at `modseq` itself.
    pub fn reported(&mut self, uid: u32, modseq: u64) {
        if let Ok(i) = self.uids.binary_search(&uid) {
            self.modseqs[i] = modseq;
        }
    }
}

impl Session {
    /// Brings the selected view up to date, writing untagged responses.
    /// `expunges`: whether EXPUNGE/VANISHED may be sent now (not during
    /// FETCH, STORE, SEARCH or COPY by sequence number, RFC 3501 §7.4.1).
    pub async fn sync(&mut self, expunges: bool) {
        if let Err(e) = self.try_sync(expunges).await {
            log::error!("[{}] imap: cannot read the selected mailbox: {e}", self.id);
        }
    }

    async fn try_sync(&mut self, expunges: bool) -> Result<(), StoreError> {
        let Some(sel) = &self.selected else {
            return Ok(());
        };
        let id = sel.id;
        let reader = self.ctx.store.read()?;
        let Some(mailbox) = reader.mailbox_by_id(id)? else {
            // Deleted or renamed away under us: nothing sensible remains.
            drop(reader);
            self.put("* BYE The selected mailbox was deleted\r\n");
            self.selected = None;
            return Ok(());
        };
        let Some(sel) = &mut self.selected else {
            return Ok(());
        };
        if mailbox.highest_modseq == sel.highest_modseq && mailbox.uidnext == sel.uidnext {
            return Ok(());
        }
        let mut current: Vec<(u32, u64)> = Vec::with_capacity(mailbox.messages as usize);
        for m in reader.messages(id)? {
            let m = m?;
            current.push((m.uid, m.modseq));
        }
        // Expunged: in the view, not in the store.
        let mut gone: Vec<usize> = Vec::new();
        let mut changed: Vec<u32> = Vec::new();
        let mut j = 0;
        for (i, &uid) in sel.uids.iter().enumerate() {
            while j < current.len() && current[j].0 < uid {
                j += 1;
            }
            if j < current.len() && current[j].0 == uid {
                if current[j].1 != sel.modseqs[i] {
                    changed.push(uid);
                }
            } else {
                gone.push(i);
            }
        }
        let mut out = std::mem::take(&mut self.out);
        if expunges && !gone.is_empty() {
            if self.qresync {
                let uids: Vec<u32> = gone.iter().map(|&i| sel.uids[i]).collect();
                out.extend_from_slice(format!("* VANISHED {}\r\n", sequence_set(&uids)).as_bytes());
            } else {
                // Highest first, so every number is valid when sent.
                for &i in gone.iter().rev() {
                    out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
                }
            }
            for &i in gone.iter().rev() {
                sel.uids.remove(i);
                sel.modseqs.remove(i);
            }
            let uids = &sel.uids;
            sel.recent.retain(|u| uids.binary_search(u).is_ok());
        }
        // Flag changes made by others.
        for uid in changed {
            let (Some(seq), Some(m)) = (sel.seq_of(uid), reader.message(id, uid)?) else {
                continue;
            };
            out.extend_from_slice(format!("* {seq} FETCH (UID {uid} FLAGS ").as_bytes());
            render::flags(&mut out, m.flags, sel.is_recent(uid), m.keywords());
            if self.condstore {
                out.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
            }
            out.extend_from_slice(b")\r\n");
            sel.reported(uid, m.modseq);
        }
        // New messages: UIDs above the last one the view has.
        let last = sel
            .uids
            .last()
            .copied()
            .unwrap_or(0)
            .max(sel.uidnext.saturating_sub(1));
        let fresh: Vec<(u32, u64)> = current
            .iter()
            .copied()
            .filter(|(uid, _)| *uid > last)
            .collect();
        let read_only = sel.read_only;
        drop(reader);
        if !fresh.is_empty() {
            let claimed = match read_only {
                true => Vec::new(),
                false => self.ctx.store.claim_recent(id).await.unwrap_or_default(),
            };
            let Some(sel) = &mut self.selected else {
                return Ok(());
            };
            for (uid, modseq) in &fresh {
                sel.uids.push(*uid);
                sel.modseqs.push(*modseq);
            }
            sel.recent.extend(claimed);
            sel.recent.sort_unstable();
            sel.recent.dedup();
            out.extend_from_slice(
                format!(
                    "* {} EXISTS\r\n* {} RECENT\r\n",
                    sel.uids.len(),
                    sel.recent.len()
                )
                .as_bytes(),
            );
        }
        if let Some(sel) = &mut self.selected {
            sel.uidnext = mailbox.uidnext;
            // Only when every change is reported may the view claim the
            // store's HIGHESTMODSEQ; held-back expunges keep it behind.
            if expunges || gone.is_empty() {
                sel.highest_modseq = mailbox.highest_modseq;
            }
        }
        self.out = out;
        Ok(())
    }

    /// The flags and keywords permitted in the selected mailbox.
    pub fn flag_list(&self) -> &'static str {
        "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
    }
}

/// The system flags a parsed flag list sets, and its keywords.
pub fn split_flags(list: &[super::parse::Flag]) -> (Flags, Vec<String>) {
    use super::parse::Flag;
    let mut flags = Flags::default();
    let mut keywords = Vec::new();
    for f in list {
        match f {
            Flag::Seen => flags = flags.union(Flags::SEEN),
            Flag::Answered => flags = flags.union(Flags::ANSWERED),
            Flag::Flagged => flags = flags.union(Flags::FLAGGED),
            Flag::Deleted => flags = flags.union(Flags::DELETED),
            Flag::Draft => flags = flags.union(Flags::DRAFT),
            Flag::Keyword(k) => keywords.push(String::from_utf8_lossy(k).into_owned()),
        }
    }
    (flags, keywords)
}
