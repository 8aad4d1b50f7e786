//! Message commands (RFC 3501 §6.4) on the selected mailbox other than
//! FETCH (in `fetch`): STORE, SEARCH, COPY, MOVE (RFC 6851), EXPUNGE and
//! UID EXPUNGE (RFC 4315), with CONDSTORE's UNCHANGEDSINCE and MODSEQ
//! (RFC 7162).

use super::esearch;
use super::parse::{Mailbox, SearchKey, SearchReturn, SequenceSet, StoreArgs, StoreMode};
use super::render;
use super::search::{self, Candidate, Query};
use super::searchres;
use super::selected::split_flags;
use super::session::Session;
use crate::store::{FlagChange, FlagOp, FlagsResult, StoreError, keyword_limits};
use crate::wire::imap::sequence::sequence_set;

/// One message a search matched, with what SORT orders by without keys.
#[derive(Debug, Clone, Copy)]
pub struct Matched {
    pub seq: u32,
    pub uid: u32,
    pub blob_id: u64,
    pub size: u32,
    pub internal_date: i64,
    pub modseq: u64,
}

/// Messages whose records one read transaction serves between two yields
/// while searching: a yield and a transaction per message cost more than
/// deciding ALL or a flag for it, and this many take well under a
/// millisecond natively.
const MATCH_BATCH: usize = 512;

impl Session {
    /// The UIDs a set names in the selected view, in sequence order; BAD
    /// for sequence numbers past the end.
    pub(super) fn resolve(
        &mut self,
        tag: &[u8],
        uid: bool,
        set: &SequenceSet,
    ) -> Option<Vec<(u32, u32)>> {
        let sel = self.selected()?;
        let count = sel.uids.len() as u32;
        // A sequence number names a message the client was told of: in an
        // empty mailbox none does, not even `*` (RFC 3501 §9 seq-number;
        // Dovecot answers BAD "Invalid messageset" too). UIDs need not
        // exist (§6.4.8).
        // An empty set is an empty `$` (RFC 5182 §2.1): nothing, not BAD.
        if !uid && !set.0.is_empty() && (count == 0 || set.highest(count) > count) {
            self.bad(
                tag,
                "Invalid messageset: no message has that sequence number",
            );
            return None;
        }
        // Sorted, merged ranges walked against the view in step: O(messages
        // + ranges log ranges), where testing each message against each
        // range was their product (10⁵ ranges × 10⁵ messages = 10¹⁰).
        let picked = if uid {
            let ranges = set.resolve(sel.max_uid());
            ranges
                .pick(&sel.uids)
                .map(|(i, u)| (i as u32 + 1, u))
                .collect()
        } else {
            set.normalized(count)
                .into_iter()
                .flat_map(|(lo, hi)| lo..=hi)
                .map(|seq| (seq, sel.uids[seq as usize - 1]))
                .collect()
        };
        Some(picked)
    }

    /// STORE / UID STORE (RFC 3501 §6.4.6) with UNCHANGEDSINCE (RFC 7162
    /// §3.1.3).
    pub(super) async fn store_flags(&mut self, tag: &[u8], args: &StoreArgs<'_>) {
        let StoreArgs {
            uid,
            ref set,
            mode,
            silent,
            ref flags,
            unchanged_since,
        } = *args;
        let Some(targets) = self.resolve(tag, uid, set) else {
            return;
        };
        let Some(sel) = self.selected() else { return };
        if sel.read_only {
            return self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
        }
        let mailbox_id = sel.id;
        if unchanged_since.is_some() {
            self.use_condstore();
        }
        let (flag_bits, keywords) = split_flags(flags);
        if mode != StoreMode::Remove && keywords.len() > keyword_limits::MAX_PER_MESSAGE {
            // Refused here already: the writer would refuse it too.
            return self.keyword_limit(tag, keywords.len());
        }
        let op = match mode {
            StoreMode::Add => FlagOp::Add,
            StoreMode::Remove => FlagOp::Remove,
            StoreMode::Replace => FlagOp::Replace,
        };
        let change = FlagChange {
            mailbox_id,
            uids: targets.iter().map(|t| t.1).collect(),
            op,
            flags: flag_bits,
            keywords,
            unchanged_since,
        };
        let result = match self.store().set_flags(change).await {
            Ok(r) => r,
            Err(e) => return self.store_failed(tag, &e),
        };
        let reader = match self.store().read() {
            Ok(r) => r,
            Err(e) => return self.store_failed(tag, &e),
        };
        // Looked up once per target: sorted, not scanned for each.
        let mut modified = result.modified.clone();
        modified.sort_unstable();
        let mut changed: Vec<u32> = result.changed.iter().map(|c| c.0).collect();
        changed.sort_unstable();
        for &(seq, u) in &targets {
            if modified.binary_search(&u).is_ok() {
                continue;
            }
            let Ok(Some(m)) = reader.message(mailbox_id, u) else {
                continue;
            };
            // RFC 7162 §3.2.4: once CONDSTORE is on, the UID comes with
            // the MODSEQ of a changed message, UID STORE or not.
            let uid_item = if uid || self.condstore() {
                format!("UID {u} ")
            } else {
                String::new()
            };
            if !silent {
                let condstore = self.condstore();
                let Some((sel, out)) = self.selected_and_out() else {
                    return;
                };
                // RFC 3501 §7.2.6: a keyword new to the view is announced
                // before the FETCH that shows it.
                sel.announce_keywords(out, m.keywords());
                let recent = sel.is_recent(u);
                out.extend_from_slice(format!("* {seq} FETCH ({uid_item}FLAGS ").as_bytes());
                render::flags(out, m.flags, recent, m.keywords());
                if condstore {
                    out.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
                }
                out.extend_from_slice(b")\r\n");
            } else if unchanged_since.is_some() && changed.binary_search(&u).is_ok() {
                // RFC 7162 §3.1.3: even with .SILENT, MODSEQ is reported.
                self.put(&format!(
                    "* {seq} FETCH ({uid_item}MODSEQ ({}))\r\n",
                    m.modseq
                ));
            }
            if let Some(sel) = self.selected_mut() {
                sel.reported(u, m.modseq);
            }
        }
        drop(reader);
        self.store_done(tag, uid, &targets, &result);
    }

    /// `NO [LIMIT]` (RFC 5530 §3) for a STORE or APPEND of more keywords
    /// than a message may have.
    pub(super) fn keyword_limit(&mut self, tag: &[u8], count: usize) {
        log::info!(
            "[{}] imap: {} keywords for one message refused (limit {})",
            self.id(),
            count,
            keyword_limits::MAX_PER_MESSAGE
        );
        let text = format!(
            "[LIMIT] A message may have at most {} keywords",
            keyword_limits::MAX_PER_MESSAGE
        );
        self.tagged(tag, "NO", &text);
    }

    /// STORE's tagged OK, with MODIFIED for the messages UNCHANGEDSINCE
    /// kept unchanged (RFC 7162 §3.1.3).
    fn store_done(&mut self, tag: &[u8], uid: bool, targets: &[(u32, u32)], result: &FlagsResult) {
        if result.modified.is_empty() {
            let done = match uid {
                true => "UID STORE completed",
                false => "STORE completed",
            };
            return self.tagged(tag, "OK", done);
        }
        let failed: Vec<u32> = match uid {
            true => result.modified.clone(),
            false => {
                let mut modified = result.modified.clone();
                modified.sort_unstable();
                targets
                    .iter()
                    .filter(|t| modified.binary_search(&t.1).is_ok())
                    .map(|t| t.0)
                    .collect()
            }
        };
        self.tagged(
            tag,
            "OK",
            &format!(
                "[MODIFIED {}] Conditional STORE failed",
                sequence_set(&failed)
            ),
        );
    }

    /// SEARCH / UID SEARCH (RFC 3501 §6.4.4) with MODSEQ (RFC 7162
    /// §3.1.5): one message at a time, each read under its own short
    /// transaction, yielding between messages (one executor thread serves
    /// every client: under emulation a SEARCH SUBJECT on 50 000 messages
    /// once held every other client for 1.7 s) and while searching text.
    pub(super) async fn search(
        &mut self,
        tag: &[u8],
        uid: bool,
        ret: Option<SearchReturn>,
        charset: Option<&[u8]>,
        key: &SearchKey<'_>,
    ) {
        let saving = ret.is_some_and(|r| r.save);
        let found = match self.charset_supported(tag, charset) {
            true => self.matching(tag, key).await,
            false => None,
        };
        let Some((found, highest)) = found else {
            if saving && let Some(sel) = self.selected_mut() {
                // RFC 5182 §2.1: a failed SEARCH with SAVE empties `$`.
                sel.forget_saved();
            }
            return;
        };
        if let (Some(r), Some(sel)) = (&ret, self.selected_mut())
            && r.save
        {
            let uids: Vec<u32> = found.iter().map(|m| m.uid).collect();
            sel.save(r, &uids);
        }
        let numbers: Vec<u32> = found
            .iter()
            .map(|m| if uid { m.uid } else { m.seq })
            .collect();
        let modseq = search::uses_modseq(key).then(|| {
            self.use_condstore();
            highest
        });
        match ret {
            // RFC 4731 §3.1: the results as an ESEARCH response instead.
            Some(ret) => {
                if searchres::answers(&ret) {
                    let line = esearch::response(tag, uid, ret, &numbers, modseq);
                    self.put(&line);
                }
                if ret.update {
                    let uids = found.iter().map(|m| m.uid).collect();
                    self.open_context(tag, uid, false, uids, &ret, key);
                }
            }
            None => {
                let mut line = String::from("* SEARCH");
                for n in &numbers {
                    line.push_str(&format!(" {n}"));
                }
                if let Some(highest) = modseq
                    && !numbers.is_empty()
                {
                    line.push_str(&format!(" (MODSEQ {highest})"));
                }
                line.push_str("\r\n");
                self.put(&line);
            }
        }
        let done = match uid {
            true => "UID SEARCH completed",
            false => "SEARCH completed",
        };
        self.tagged(tag, "OK", done);
    }

    /// Whether SEARCH, SORT or THREAD can take strings in `charset`; if
    /// not, the NO [BADCHARSET] of RFC 3501 §6.4.4 is sent.
    pub(super) fn charset_supported(&mut self, tag: &[u8], charset: Option<&[u8]>) -> bool {
        if let Some(cs) = charset
            && !cs.eq_ignore_ascii_case(b"UTF-8")
            && !cs.eq_ignore_ascii_case(b"US-ASCII")
        {
            log::info!(
                "imap: refused search charset {:?}",
                String::from_utf8_lossy(cs)
            );
            self.tagged(
                tag,
                "NO",
                "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset",
            );
            return false;
        }
        true
    }

    /// The messages of the selected view that `key` matches, as (sequence
    /// number, UID, blob id, size, internal date), and the highest MODSEQ
    /// among them; `None` once a store failure was answered.
    pub(super) async fn matching(
        &mut self,
        tag: &[u8],
        key: &SearchKey<'_>,
    ) -> Option<(Vec<Matched>, u64)> {
        let picks: Vec<(u32, u32)> = self
            .selected()?
            .uids
            .iter()
            .enumerate()
            .map(|(i, &u)| (i as u32 + 1, u))
            .collect();
        match self.matching_in(key, &picks).await {
            Ok(found) => found,
            Err(e) => {
                self.store_failed(tag, &e);
                None
            }
        }
    }

    /// The messages among `picks` (sequence number, UID; in the selected
    /// view) that `key` matches, as [`Session::matching`] gives them; a
    /// search context (RFC 5267 §4) re-decides only the messages that
    /// changed this way.
    pub(super) async fn matching_in(
        &mut self,
        key: &SearchKey<'_>,
        picks: &[(u32, u32)],
    ) -> Result<Option<(Vec<Matched>, u64)>, StoreError> {
        let Some(sel) = self.selected() else {
            return Ok(None);
        };
        let mailbox_id = sel.id;
        let (max_seq, max_uid) = (sel.uids.len() as u32, sel.max_uid());
        let query = Query::new(key, max_seq, max_uid);
        let (mut found, mut highest) = (Vec::new(), 0);
        let mut work = 0;
        let mut rest = picks;
        let every = matches!(key, SearchKey::All);
        while !rest.is_empty() {
            // Other sessions run between two batches, and (inside
            // `matches_yielding`) every YIELD_BYTES of text searched.
            smol::future::yield_now().await;
            // A batch of records (and their text) come out under one read
            // transaction that closes before the string keys are searched.
            // A message whose text had to be decoded ends the batch, so at
            // most one decoded text is held at a time.
            let mut batch = Vec::new();
            {
                let reader = self.store().read()?;
                // Most searches pick most of the mailbox: one walk of its
                // records in UID order beats a lookup per message.
                let mut walk = match rest.len().saturating_mul(4) >= max_seq as usize {
                    true => Some(reader.messages_after(mailbox_id, rest[0].1.saturating_sub(1))?),
                    false => None,
                };
                let mut taken = 0;
                while let Some((&(seq, u), tail)) = rest.split_first()
                    && taken < MATCH_BATCH
                {
                    rest = tail;
                    taken += 1;
                    let view = match &mut walk {
                        Some(walk) => loop {
                            match walk.next() {
                                Some(Ok(v)) if v.uid < u => continue,
                                Some(Ok(v)) if v.uid == u => break Some(v),
                                _ => break None,
                            }
                        },
                        None => reader.message(mailbox_id, u).ok().flatten(),
                    };
                    let Some(view) = view else {
                        // Expunged meanwhile (or a damaged record): the
                        // walk, past this UID now, goes on at the next.
                        walk = None;
                        continue;
                    };
                    let m = Matched {
                        seq,
                        uid: u,
                        blob_id: view.blob_id,
                        size: view.size,
                        internal_date: view.internal_date,
                        modseq: view.modseq,
                    };
                    if every {
                        // ALL (what SORT and THREAD mostly ask): nothing
                        // to evaluate.
                        highest = highest.max(m.modseq);
                        found.push(m);
                        continue;
                    }
                    let raw = match query.reads_message() {
                        true => reader.blob(view.blob_id).ok().flatten().unwrap_or(&[]),
                        false => &[],
                    };
                    let candidate = Candidate {
                        seq,
                        uid: u,
                        view,
                        recent: self.selected().is_some_and(|s| s.is_recent(u)),
                        raw,
                        max_seq,
                        max_uid,
                    };
                    let first = query.begin(&candidate);
                    let decided = first.decided();
                    if !decided {
                        // Parsing and decoding the message cost about this.
                        work += raw.len();
                    }
                    batch.push((first, m));
                    if !decided {
                        break;
                    }
                }
            }
            for (first, m) in batch {
                if query.matches_yielding(first, &mut work).await {
                    highest = highest.max(m.modseq);
                    found.push(m);
                }
            }
        }
        Ok(Some((found, highest)))
    }

    /// COPY and MOVE (RFC 3501 §6.4.7, RFC 6851) with COPYUID (RFC 4315).
    pub(super) async fn copy(
        &mut self,
        tag: &[u8],
        uid: bool,
        set: &SequenceSet,
        target: &Mailbox<'_>,
        remove: bool,
    ) {
        let Some(targets) = self.resolve(tag, uid, set) else {
            return;
        };
        let Some(sel) = self.selected() else { return };
        if remove && sel.read_only {
            return self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
        }
        let from = sel.id;
        let Some(to) = self.find_mailbox(tag, target, "[TRYCREATE] No such mailbox") else {
            return;
        };
        let uids: Vec<u32> = targets.iter().map(|t| t.1).collect();
        if !remove && self.copy_over_quota(tag, from, &uids) {
            return;
        }
        let copied = match self.store().copy(from, uids, to.id, remove).await {
            Ok(c) => c,
            Err(e) => return self.store_failed(tag, &e),
        };
        let verb = if remove { "MOVE" } else { "COPY" };
        if copied.uids.is_empty() {
            return self.tagged(tag, "OK", &format!("{verb} completed (nothing to do)"));
        }
        let src: Vec<u32> = copied.uids.iter().map(|c| c.0).collect();
        let dst: Vec<u32> = copied.uids.iter().map(|c| c.1).collect();
        // The sets must pair up in order: list them as written, not merged.
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let code = format!(
            "COPYUID {} {} {}",
            copied.uidvalidity,
            list(&src),
            list(&dst)
        );
        if remove {
            // RFC 6851 §4.3: COPYUID in an untagged OK, then the expunges.
            self.put(&format!("* OK [{code}] Moved\r\n"));
            self.sync(true).await;
            self.tagged(tag, "OK", "MOVE completed");
        } else {
            self.tagged(tag, "OK", &format!("[{code}] COPY completed"));
        }
    }

    /// EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).
    pub(super) async fn expunge(&mut self, tag: &[u8], set: Option<&SequenceSet>) {
        let Some(sel) = self.selected() else { return };
        if sel.read_only {
            return self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
        }
        let id = sel.id;
        // The view is in UID order, so the picked UIDs come out sorted.
        let only: Option<Vec<u32>> = set.map(|s| {
            let ranges = s.resolve(sel.max_uid());
            ranges.pick(&sel.uids).map(|(_, u)| u).collect()
        });
        let deleted = self.deleted_uids(id, only.as_deref());
        if !deleted.is_empty()
            && let Err(e) = self.store().expunge(id, deleted).await
        {
            return self.store_failed(tag, &e);
        }
        self.sync(true).await;
        self.tagged(tag, "OK", "EXPUNGE completed");
    }
}
