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
use crate::store::{Flags, MessageView, StoreError, keyword_limits};
use crate::wire::imap::sequence::sequence_set;

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
    /// Keywords this session was told of by FLAGS, sorted ignoring case
    /// (RFC 3501 §7.2.6: a keyword is announced before a FETCH uses it).
    pub keywords: Vec<String>,
    /// The session enabled IMAP4rev2 before selecting: no \Recent is
    /// claimed or shown, and no RECENT is sent (RFC 9051 Appendix E).
    pub rev2: bool,
    /// The saved search result `$` (RFC 5182), as UIDs (sorted).
    pub saved: Vec<u32>,
    /// Live search results (RFC 5267 §4, `context_update`).
    pub contexts: Vec<super::context_update::Context>,
}

/// Most keywords a view remembers as announced: the store caps those in
/// use per mailbox, but a long session may see many come and go.
const MAX_ANNOUNCED: usize = 8 * keyword_limits::MAX_PER_MAILBOX;

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

    /// Adds `keywords` to the announced set; if any was new, writes the
    /// untagged FLAGS and PERMANENTFLAGS that announce it. Called before a
    /// `FETCH (FLAGS …)` goes out, in this session and in every other one
    /// that sees the change (RFC 3501 §7.2.6, §7.1 PERMANENTFLAGS).
    pub fn announce_keywords<'k>(
        &mut self,
        out: &mut Vec<u8>,
        keywords: impl Iterator<Item = &'k str>,
    ) {
        let mut new = false;
        for k in keywords {
            if k.is_empty() || self.keywords.len() >= MAX_ANNOUNCED {
                continue;
            }
            if let Err(at) = self
                .keywords
                .binary_search_by(|w| keyword_limits::cmp(w, k))
            {
                self.keywords.insert(at, k.to_string());
                new = true;
            }
        }
        if new {
            self.write_flags(out);
        }
    }

    /// `* FLAGS (…)` and `* OK [PERMANENTFLAGS (…)]` for the system flags
    /// and the announced keywords (RFC 3501 §7.2.6, §7.1).
    pub fn write_flags(&self, out: &mut Vec<u8>) {
        let mut flags = SYSTEM_FLAGS.to_string();
        for k in &self.keywords {
            flags.push(' ');
            flags.push_str(k);
        }
        // RFC 3501 §7.1 PERMANENTFLAGS: `\*` only while new keywords can
        // still be stored, which the store refuses past its cap.
        let permanent = match self.read_only {
            true => String::new(),
            false if self.keywords.len() >= keyword_limits::MAX_PER_MAILBOX => flags.clone(),
            false => format!("{flags} \\*"),
        };
        out.extend_from_slice(
            format!("* FLAGS ({flags})\r\n* OK [PERMANENTFLAGS ({permanent})] Flags permitted\r\n")
                .as_bytes(),
        );
    }

    /// Records that the session reported `uid` at `modseq` itself.
    pub fn reported(&mut self, uid: u32, modseq: u64) {
        if let Ok(i) = self.uids.binary_search(&uid) {
            self.modseqs[i] = modseq;
        }
    }

    /// The messages gone from the store (view indexes, ascending) and
    /// those whose MODSEQ moved since last reported (UIDs), given the
    /// store's (UID, MODSEQ) in UID order.
    fn compare(&self, current: &[(u32, u64)]) -> (Vec<usize>, Vec<u32>) {
        let (mut gone, mut changed) = (Vec::new(), Vec::new());
        let mut j = 0;
        for (i, &uid) in self.uids.iter().enumerate() {
            while j < current.len() && current[j].0 < uid {
                j += 1;
            }
            match current.get(j) {
                Some(&(u, modseq)) if u == uid => {
                    if modseq != self.modseqs[i] {
                        changed.push(uid);
                    }
                }
                _ => gone.push(i),
            }
        }
        (gone, changed)
    }

    /// Reports the messages at `gone` (view indexes, ascending) expunged,
    /// as VANISHED with QRESYNC (RFC 7162 §3.2.10) or EXPUNGE, and drops
    /// them from the view.
    fn expunge(&mut self, out: &mut Vec<u8>, gone: &[usize], qresync: bool) {
        // RFC 5267 §4.3: results lose them while their numbers still hold.
        super::context_update::expunging(self, out, gone);
        if qresync {
            let uids: Vec<u32> = gone.iter().map(|&i| self.uids[i]).collect();
            out.extend_from_slice(format!("* VANISHED {}\r\n", sequence_set(&uids)).as_bytes());
        } else {
            // Highest first, so every number is valid when sent (§7.4.1).
            for &i in gone.iter().rev() {
                out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
            }
        }
        // One pass over the view: removing each index in turn would move
        // the tail once per expunged message (quadratic for a big EXPUNGE).
        drop_indexes(&mut self.uids, gone);
        drop_indexes(&mut self.modseqs, gone);
        let uids = &self.uids;
        self.recent.retain(|u| uids.binary_search(u).is_ok());
        // RFC 5182 §2.1: expunged messages leave the saved result.
        self.saved.retain(|u| uids.binary_search(u).is_ok());
    }

    /// The store's messages that are new to the view: UIDs above the last
    /// one it has seen, or was told of by UIDNEXT.
    fn fresh(&self, current: &[(u32, u64)]) -> Vec<(u32, u64)> {
        let last = self.max_uid().max(self.uidnext.saturating_sub(1));
        current
            .iter()
            .copied()
            .filter(|(uid, _)| *uid > last)
            .collect()
    }

    /// Adds new messages (and the \Recent this session claimed) and
    /// reports EXISTS, then RECENT (RFC 3501 §7.3.1, §7.3.2). A claimed UID
    /// the view does not hold (expunged meanwhile) is not counted, so
    /// RECENT never exceeds the EXISTS sent.
    fn append(&mut self, out: &mut Vec<u8>, fresh: &[(u32, u64)], claimed: Vec<u32>) {
        for &(uid, modseq) in fresh {
            self.uids.push(uid);
            self.modseqs.push(modseq);
        }
        let uids = &self.uids;
        self.recent.extend(
            claimed
                .into_iter()
                .filter(|u| uids.binary_search(u).is_ok()),
        );
        self.recent.sort_unstable();
        self.recent.dedup();
        if !fresh.is_empty() {
            out.extend_from_slice(format!("* {} EXISTS\r\n", self.uids.len()).as_bytes());
        }
        if !self.rev2 {
            out.extend_from_slice(format!("* {} RECENT\r\n", self.recent.len()).as_bytes());
        }
    }
}

/// Removes the elements at `gone` (indexes, ascending) in O(len).
fn drop_indexes<T>(v: &mut Vec<T>, gone: &[usize]) {
    let mut index = 0;
    let mut next = gone.iter().peekable();
    v.retain(|_| {
        let drop = next.next_if_eq(&&index).is_some();
        index += 1;
        !drop
    });
}

/// The flags the selected mailbox permits (RFC 3501 §7.2.6); keywords
/// come on top.
pub const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// `* VANISHED (EARLIER) uids` (RFC 7162 §3.2.5.2, §3.2.6), if any.
pub fn vanished_earlier(out: &mut Vec<u8>, uids: &[u32]) {
    if !uids.is_empty() {
        out.extend_from_slice(
            format!("* VANISHED (EARLIER) {}\r\n", sequence_set(uids)).as_bytes(),
        );
    }
}

/// `* n FETCH (UID u FLAGS (...) [MODSEQ (m)])` for a message whose flags
/// changed or that a client asked about, after FLAGS if it carries a
/// keyword new to the view (RFC 3501 §7.2.6).
pub fn flags_update(
    sel: &mut Selected,
    out: &mut Vec<u8>,
    seq: u32,
    m: &MessageView<'_>,
    modseq: bool,
) {
    sel.announce_keywords(out, m.keywords());
    let recent = sel.is_recent(m.uid);
    out.extend_from_slice(format!("* {seq} FETCH (UID {} FLAGS ", m.uid).as_bytes());
    render::flags(out, m.flags, recent, m.keywords());
    if modseq {
        out.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

impl Session {
    /// Brings the selected view up to date, writing untagged responses.
    /// `expunges`: whether EXPUNGE/VANISHED may be sent now (not during
    /// FETCH, STORE, SEARCH or COPY by sequence number, RFC 3501 §7.4.1).
    pub async fn sync(&mut self, expunges: bool) {
        if let Err(e) = self.try_sync(expunges).await {
            log::error!(
                "[{}] imap: cannot read the selected mailbox: {e}",
                self.id()
            );
        }
        // After EXISTS and the flag FETCHes: what the results gained or
        // lost (RFC 5267 §4.3).
        self.update_contexts().await;
    }

    async fn try_sync(&mut self, expunges: bool) -> Result<(), StoreError> {
        let Some((id, read_only, rev2)) = self.selected().map(|s| (s.id, s.read_only, s.rev2))
        else {
            return Ok(());
        };
        let (condstore, qresync) = (self.condstore(), self.qresync());
        let mut reader = self.store().read()?;
        let Some(mut mailbox) = reader.mailbox_by_id(id)? else {
            // Deleted or renamed away under us: nothing sensible remains.
            drop(reader);
            self.put("* BYE The selected mailbox was deleted\r\n");
            self.set_selected(None);
            return Ok(());
        };
        if let Some(sel) = self.selected()
            && mailbox.highest_modseq == sel.highest_modseq
            && mailbox.uidnext == sel.uidnext
        {
            return Ok(());
        }
        // \Recent is claimed before the messages are read, so that every
        // claimed UID is one the view will hold: claimed after, it could
        // name a message delivered in between, and RECENT would count
        // more than EXISTS told (RFC 3501 §7.3.2).
        let mut claimed = Vec::new();
        // A rev2 view has no \Recent (RFC 9051 Appendix E): it leaves them
        // to the rev1 sessions.
        if !read_only && !rev2 && mailbox.recent > 0 {
            drop(reader);
            claimed = self.store().claim_recent(id).await.unwrap_or_default();
            reader = self.store().read()?;
            match reader.mailbox_by_id(id)? {
                Some(m) => mailbox = m,
                None => return Ok(()),
            }
        }
        let Some((sel, out)) = self.selected_and_out() else {
            return Ok(());
        };
        let mut current: Vec<(u32, u64)> = Vec::with_capacity(mailbox.messages as usize);
        for m in reader.messages(id)? {
            let m = m?;
            // EXAMINE takes no \Recent, but tells which new ones have it.
            if read_only && !rev2 && m.flags.contains(Flags::RECENT) && m.uid > sel.max_uid() {
                claimed.push(m.uid);
            }
            current.push((m.uid, m.modseq));
        }
        let (gone, changed) = sel.compare(&current);
        if expunges && !gone.is_empty() {
            sel.expunge(out, &gone, qresync);
        }
        // Flag changes made by others.
        for uid in changed {
            let (Some(seq), Some(m)) = (sel.seq_of(uid), reader.message(id, uid)?) else {
                continue;
            };
            flags_update(sel, out, seq, &m, condstore);
            sel.reported(uid, m.modseq);
        }
        let fresh = sel.fresh(&current);
        if !fresh.is_empty() || !claimed.is_empty() {
            sel.append(out, &fresh, claimed);
        }
        sel.uidnext = mailbox.uidnext;
        // Only when every change is reported may the view claim the
        // store's HIGHESTMODSEQ; held-back expunges keep it behind.
        if expunges || gone.is_empty() {
            sel.highest_modseq = mailbox.highest_modseq;
        }
        Ok(())
    }
}

/// The system flags a parsed flag list sets, and its keywords (each once).
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
    // Sorted, not pairwise: a list of 10 000 keywords must stay cheap.
    crate::store::keyword_limits::dedup(&mut keywords);
    (flags, keywords)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(uids: &[u32], modseqs: &[u64]) -> Selected {
        Selected {
            id: 1,
            read_only: false,
            uidvalidity: 7,
            uids: uids.to_vec(),
            modseqs: modseqs.to_vec(),
            recent: vec![4],
            highest_modseq: 10,
            uidnext: 5,
            keywords: Vec::new(),
            rev2: false,
            saved: Vec::new(),
            contexts: Vec::new(),
        }
    }

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn compare_finds_gone_and_changed() {
        let sel = view(&[1, 2, 3, 4], &[5, 6, 7, 8]);
        let (gone, changed) = sel.compare(&[(2, 6), (3, 9), (6, 11)]);
        assert_eq!(gone, [0, 3]);
        assert_eq!(changed, [3]);
        assert_eq!(sel.fresh(&[(2, 6), (3, 9), (6, 11)]), [(6, 11)]);
    }

    #[test]
    fn expunges_highest_first_or_vanished() {
        let mut sel = view(&[1, 2, 3, 4], &[5, 6, 7, 8]);
        let mut out = Vec::new();
        sel.expunge(&mut out, &[0, 3], false);
        assert_eq!(text(out), "* 4 EXPUNGE\r\n* 1 EXPUNGE\r\n");
        assert_eq!(
            (sel.uids.as_slice(), sel.modseqs.as_slice()),
            (&[2, 3][..], &[6, 7][..])
        );
        assert!(sel.recent.is_empty());

        let mut sel = view(&[1, 2, 3, 4], &[5, 6, 7, 8]);
        let mut out = Vec::new();
        sel.expunge(&mut out, &[0, 1, 3], true);
        assert_eq!(text(out), "* VANISHED 1:2,4\r\n");
        assert_eq!(sel.uids, [3]);
    }

    #[test]
    fn expunging_most_of_a_big_mailbox_is_linear() {
        // 400 000 messages, every other one expunged: removing them one
        // by one would move about 4·10¹⁰ elements.
        let n = 400_000u32;
        let uids: Vec<u32> = (1..=n).collect();
        let modseqs: Vec<u64> = (1..=u64::from(n)).collect();
        let mut sel = view(&uids, &modseqs);
        let gone: Vec<usize> = (0..n as usize).step_by(2).collect();
        let mut out = Vec::new();
        sel.expunge(&mut out, &gone, true);
        assert_eq!(sel.uids.len(), n as usize / 2);
        assert!(sel.uids.iter().all(|u| u % 2 == 0));
        assert!(sel.modseqs.iter().all(|m| m % 2 == 0));
        assert_eq!(sel.recent, [4]);
    }

    #[test]
    fn new_messages_are_counted() {
        let mut sel = view(&[1, 2], &[5, 6]);
        let mut out = Vec::new();
        sel.append(&mut out, &[(7, 12), (8, 13)], vec![8, 7]);
        assert_eq!(text(out), "* 4 EXISTS\r\n* 3 RECENT\r\n");
        assert_eq!(sel.uids, [1, 2, 7, 8]);
        assert_eq!(sel.recent, [4, 7, 8]);
        assert_eq!(sel.seq_of(7), Some(3));
    }

    #[test]
    fn rfc3501_7_3_2_recent_never_counts_past_exists() {
        // UID 9 was claimed but is not in the view (expunged meanwhile):
        // RECENT must not count it, and comes after EXISTS.
        let mut sel = view(&[1, 2], &[5, 6]);
        let mut out = Vec::new();
        sel.append(&mut out, &[(7, 12)], vec![7, 9]);
        assert_eq!(text(out), "* 3 EXISTS\r\n* 2 RECENT\r\n");
        assert_eq!(sel.recent, [4, 7]);
    }

    #[test]
    fn rfc3501_7_2_6_keywords_announced_once() {
        let mut sel = view(&[1], &[5]);
        let mut out = Vec::new();
        sel.announce_keywords(&mut out, ["$Work", "Later"].into_iter());
        let t = text(std::mem::take(&mut out));
        assert!(t.starts_with("* FLAGS (\\Answered"), "{t}");
        assert!(t.contains(" $Work Later)\r\n* OK [PERMANENTFLAGS ("), "{t}");
        assert!(t.contains("Later \\*)]"), "{t}");
        sel.announce_keywords(&mut out, ["later", "$work"].into_iter());
        assert!(out.is_empty());
    }

    #[test]
    fn rfc9051_e_a_rev2_view_sends_no_recent() {
        let mut sel = view(&[1, 2], &[5, 6]);
        sel.rev2 = true;
        let mut out = Vec::new();
        sel.append(&mut out, &[(7, 12)], Vec::new());
        assert_eq!(text(out), "* 3 EXISTS\r\n");
    }

    #[test]
    fn rfc5182_2_1_expunged_messages_leave_the_saved_result() {
        let mut sel = view(&[1, 2, 3, 4], &[5, 6, 7, 8]);
        sel.saved = vec![2, 3, 4];
        sel.expunge(&mut Vec::new(), &[1, 3], false);
        assert_eq!(sel.saved, [3]);
    }

    #[test]
    fn vanished_earlier_only_when_some() {
        let mut out = Vec::new();
        vanished_earlier(&mut out, &[]);
        assert!(out.is_empty());
        vanished_earlier(&mut out, &[9, 3, 4]);
        assert_eq!(text(out), "* VANISHED (EARLIER) 3:4,9\r\n");
    }
}
