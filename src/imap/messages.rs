//! Message commands (RFC 3501 §6.4) on the selected mailbox: FETCH, STORE,
//! SEARCH, COPY, MOVE (RFC 6851), EXPUNGE and UID EXPUNGE (RFC 4315), with
//! CONDSTORE/QRESYNC modifiers (RFC 7162), and the command dispatch for
//! everything that needs a login.

use super::parse::{CommandKind, FetchItem, SearchKey, SequenceSet, StoreMode};
use super::render;
use super::search::{self, Candidate, Parsed};
use super::section;
use super::selected::split_flags;
use super::session::{Flow, Session};
use crate::imap_wire::datetime::write_date_time;
use crate::imap_wire::quote;
use crate::imap_wire::sequence::sequence_set;
use crate::server::Stream;
use crate::store::{FlagChange, FlagOp, Flags};

/// Takes the last line (the tagged reply) off the output, so untagged
/// updates can go before it. Our tagged lines never contain a newline.
fn split_last_line(out: &mut Vec<u8>) -> Vec<u8> {
    let body = &out[..out.len().saturating_sub(2)];
    let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    out.split_off(start)
}

/// Literals larger than this are written straight from the store's map
/// instead of being copied into the output buffer.
const DIRECT_WRITE: usize = 64 * 1024;

/// A FETCH or SEARCH over many messages lets the other sessions run after
/// every this many messages (one executor thread serves them all: under
/// emulation, FETCH 1:* FLAGS on 50 000 messages held every other client
/// for half a second, a SEARCH SUBJECT for 1.7 s)...
const YIELD_EVERY: usize = 64;
/// ...and FETCH sends what it has once this much is waiting, so a large
/// response is not built whole in memory first.
const SEND_AT: usize = 64 * 1024;

impl Session {
    pub(super) async fn dispatch(
        &mut self,
        tag: &[u8],
        kind: CommandKind<'_>,
        stream: &mut Stream,
    ) -> Flow {
        use CommandKind as K;
        // EXPUNGE responses may not interrupt FETCH, STORE, SEARCH or COPY
        // by sequence number (RFC 3501 §7.4.1); UID forms allow them.
        let mut expunges = true;
        match kind {
            K::Select(args) => self.select(tag, args, false).await,
            K::Examine(args) => self.select(tag, args, true).await,
            K::Create {
                mailbox,
                special_use,
            } => self.create(tag, &mailbox, &special_use).await,
            K::Delete(mailbox) => self.delete(tag, &mailbox).await,
            K::Rename { from, to } => self.rename(tag, &from, &to).await,
            K::Subscribe(mailbox) => self.subscribe(tag, &mailbox, true).await,
            K::Unsubscribe(mailbox) => self.subscribe(tag, &mailbox, false).await,
            K::List(args) => self.list(tag, &args, false),
            K::Lsub { reference, pattern } => self.lsub(tag, reference, pattern),
            K::Status { mailbox, items } => self.status(tag, &mailbox, &items),
            K::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                self.append(tag, &mailbox, &flags, date.map(|d| d.unix), message)
                    .await
            }
            K::Close => self.close(tag, true).await,
            K::Unselect => self.close(tag, false).await,
            K::Expunge => self.expunge(tag, None).await,
            K::UidExpunge(set) => self.expunge(tag, Some(&set)).await,
            K::Fetch {
                uid,
                set,
                items,
                changed_since,
                vanished,
            } => {
                expunges = uid;
                if !self
                    .fetch(tag, uid, &set, items, changed_since, vanished, stream)
                    .await
                {
                    return Flow::Close;
                }
            }
            K::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            } => {
                expunges = uid;
                self.store(tag, uid, &set, mode, silent, &flags, unchanged_since)
                    .await;
            }
            K::Search { uid, charset, key } => {
                expunges = uid;
                self.search(tag, uid, charset.as_deref(), &key).await;
            }
            K::Copy { uid, set, mailbox } => {
                expunges = uid;
                self.copy(tag, uid, &set, &mailbox, false).await;
            }
            K::Move { uid, set, mailbox } => self.copy(tag, uid, &set, &mailbox, true).await,
            other => self.bad(tag, &format!("{} is not supported", other.name())),
        }
        // Untagged updates go before the tagged reply (already queued):
        // move the tagged line after them.
        let tagged = split_last_line(&mut self.out);
        self.sync(expunges).await;
        self.out.extend_from_slice(&tagged);
        Flow::Continue
    }

    /// The UIDs a set names in the selected view, in sequence order; BAD
    /// for sequence numbers past the end.
    fn resolve(&mut self, tag: &[u8], uid: bool, set: &SequenceSet) -> Option<Vec<(u32, u32)>> {
        let sel = self.selected.as_ref()?;
        let count = sel.uids.len() as u32;
        if !uid && count > 0 && set.highest(count) > count {
            self.bad(tag, "Invalid message sequence number");
            return None;
        }
        let max_uid = sel.max_uid();
        let picked = sel
            .uids
            .iter()
            .enumerate()
            .map(|(i, &u)| (i as u32 + 1, u))
            .filter(|&(seq, u)| {
                if uid {
                    set.contains(u, max_uid)
                } else {
                    set.contains(seq, count)
                }
            })
            .collect();
        Some(picked)
    }

    #[allow(clippy::too_many_arguments)]
    async fn fetch(
        &mut self,
        tag: &[u8],
        uid: bool,
        set: &SequenceSet,
        mut items: Vec<FetchItem<'_>>,
        changed_since: Option<u64>,
        vanished: bool,
        stream: &mut Stream,
    ) -> bool {
        let Some(targets) = self.resolve(tag, uid, set) else {
            return true;
        };
        let Some(sel) = &self.selected else {
            return true;
        };
        let (mailbox_id, read_only) = (sel.id, sel.read_only);
        if uid && !items.iter().any(|i| matches!(i, FetchItem::Uid)) {
            items.insert(0, FetchItem::Uid);
        }
        if changed_since.is_some() {
            self.condstore = true;
            if !items.iter().any(|i| matches!(i, FetchItem::ModSeq)) {
                items.push(FetchItem::ModSeq);
            }
        }
        if items.iter().any(|i| matches!(i, FetchItem::ModSeq)) {
            self.condstore = true;
        }
        // RFC 7162 §3.2.6: UID FETCH ... (CHANGEDSINCE m VANISHED).
        if vanished && let Some(since) = changed_since {
            let max_uid = sel.max_uid();
            let gone = self
                .ctx
                .store
                .read()
                .and_then(|r| r.expunged_since(mailbox_id, since))
                .unwrap_or_default()
                .into_iter()
                .filter(|u| set.contains(*u, max_uid))
                .collect::<Vec<_>>();
            if !gone.is_empty() {
                self.put(&format!("* VANISHED (EARLIER) {}\r\n", sequence_set(&gone)));
            }
        }
        // Reading a body without PEEK sets \Seen (RFC 3501 §6.4.5), before
        // the data goes out so the FLAGS sent are the new ones.
        let sets_seen = !read_only
            && items.iter().any(|i| {
                matches!(
                    i,
                    FetchItem::Rfc822
                        | FetchItem::Rfc822Text
                        | FetchItem::BodySection { peek: false, .. }
                )
            });
        let mut seen_now: Vec<u32> = Vec::new();
        if sets_seen {
            let unseen: Vec<u32> = {
                let Ok(reader) = self.ctx.store.read() else {
                    return true;
                };
                targets
                    .iter()
                    .filter(|(_, u)| {
                        reader
                            .message(mailbox_id, *u)
                            .ok()
                            .flatten()
                            .is_some_and(|m| !m.flags.contains(Flags::SEEN))
                    })
                    .map(|(_, u)| *u)
                    .collect()
            };
            if !unseen.is_empty() {
                let change = FlagChange {
                    mailbox_id,
                    uids: unseen,
                    op: FlagOp::Add,
                    flags: Flags::SEEN,
                    keywords: Vec::new(),
                    unchanged_since: None,
                };
                match self.ctx.store.set_flags(change).await {
                    Ok(r) => seen_now = r.changed.iter().map(|c| c.0).collect(),
                    Err(e) => {
                        self.store_failed(tag, &e);
                        return true;
                    }
                }
            }
        }
        let reader = match self.ctx.store.read() {
            Ok(r) => r,
            Err(e) => {
                self.store_failed(tag, &e);
                return true;
            }
        };
        let needs_blob = items.iter().any(|i| {
            matches!(
                i,
                FetchItem::Rfc822
                    | FetchItem::Rfc822Header
                    | FetchItem::Rfc822Text
                    | FetchItem::BodySection { .. }
            )
        });
        let needs_summary = items.iter().any(|i| {
            matches!(i, FetchItem::Envelope | FetchItem::Body | FetchItem::BodyStructure | FetchItem::Rfc822Header | FetchItem::Rfc822Text)
                || matches!(i, FetchItem::BodySection { section, .. } if !(section.part.is_empty() && section.text.is_none()))
        });
        let no_summary = crate::mime::Summary::compute(b"");
        for (n, (seq, uid)) in targets.into_iter().enumerate() {
            if n % YIELD_EVERY == YIELD_EVERY - 1 {
                if self.out.len() >= SEND_AT && !self.flush(stream).await {
                    return false;
                }
                smol::future::yield_now().await;
            }
            let Ok(Some(m)) = reader.message(mailbox_id, uid) else {
                continue;
            };
            if changed_since.is_some_and(|since| m.modseq <= since) {
                continue;
            }
            let raw: &[u8] = if needs_blob {
                reader.blob(m.blob_id).ok().flatten().unwrap_or(&[])
            } else {
                &[]
            };
            let stored;
            let summary = match needs_summary {
                true => {
                    stored = reader
                        .summary(m.blob_id)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| crate::mime::Summary::compute(raw));
                    &stored
                }
                false => &no_summary,
            };
            let recent = self.selected.as_ref().is_some_and(|s| s.is_recent(uid));
            self.put(&format!("* {seq} FETCH ("));
            let mut first = true;
            let mut sent_flags = false;
            for item in &items {
                if !first {
                    self.out.push(b' ');
                }
                first = false;
                match item {
                    FetchItem::Flags => {
                        sent_flags = true;
                        self.put("FLAGS ");
                        render::flags(&mut self.out, m.flags, recent, m.keywords());
                    }
                    FetchItem::Uid => self.put(&format!("UID {uid}")),
                    FetchItem::ModSeq => self.put(&format!("MODSEQ ({})", m.modseq)),
                    FetchItem::InternalDate => {
                        self.put("INTERNALDATE ");
                        write_date_time(&mut self.out, m.internal_date);
                    }
                    FetchItem::Rfc822Size => self.put(&format!("RFC822.SIZE {}", m.size)),
                    FetchItem::Envelope => {
                        self.put("ENVELOPE ");
                        render::envelope(&mut self.out, &summary.envelope);
                    }
                    FetchItem::Body => {
                        self.put("BODY ");
                        render::body_structure(&mut self.out, &summary.root, false);
                    }
                    FetchItem::BodyStructure => {
                        self.put("BODYSTRUCTURE ");
                        render::body_structure(&mut self.out, &summary.root, true);
                    }
                    FetchItem::Rfc822 => {
                        self.put("RFC822 ");
                        if !self.literal(raw, stream).await {
                            return false;
                        }
                    }
                    FetchItem::Rfc822Header => {
                        self.put("RFC822.HEADER ");
                        let header = raw.get(..summary.root.body_start as usize).unwrap_or(raw);
                        quote::literal(&mut self.out, header);
                    }
                    FetchItem::Rfc822Text => {
                        self.put("RFC822.TEXT ");
                        let text = raw.get(summary.root.body_start as usize..).unwrap_or(&[]);
                        if !self.literal(text, stream).await {
                            return false;
                        }
                    }
                    FetchItem::BodySection {
                        section: s,
                        partial,
                        ..
                    } => {
                        let bytes = section::extract(raw, summary, s).unwrap_or_default();
                        self.put("BODY[");
                        self.section_name(s);
                        self.put("]");
                        let bytes: &[u8] = match partial {
                            Some(p) => {
                                self.put(&format!("<{}>", p.origin));
                                let start = (p.origin as usize).min(bytes.len());
                                let end = start.saturating_add(p.count as usize).min(bytes.len());
                                &bytes[start..end]
                            }
                            None => &bytes,
                        };
                        self.put(" ");
                        if !self.literal(bytes, stream).await {
                            return false;
                        }
                    }
                }
            }
            if seen_now.contains(&uid) && !sent_flags {
                self.put(" FLAGS ");
                render::flags(&mut self.out, m.flags, recent, m.keywords());
            }
            self.put(")\r\n");
            if let Some(sel) = &mut self.selected
                && (sent_flags || seen_now.contains(&uid))
            {
                sel.reported(uid, m.modseq);
            }
        }
        drop(reader);
        self.tagged(
            tag,
            "OK",
            if uid {
                "UID FETCH completed"
            } else {
                "FETCH completed"
            },
        );
        true
    }

    fn section_name(&mut self, s: &super::parse::Section) {
        use super::parse::SectionText as T;
        let path: Vec<String> = s.part.iter().map(u32::to_string).collect();
        self.put(&path.join("."));
        let Some(text) = &s.text else { return };
        if !s.part.is_empty() {
            self.put(".");
        }
        let names = |names: &[std::borrow::Cow<[u8]>]| {
            names
                .iter()
                .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(" ")
        };
        match text {
            T::Header => self.put("HEADER"),
            T::Text => self.put("TEXT"),
            T::Mime => self.put("MIME"),
            T::HeaderFields(n) => self.put(&format!("HEADER.FIELDS ({})", names(n))),
            T::HeaderFieldsNot(n) => self.put(&format!("HEADER.FIELDS.NOT ({})", names(n))),
        }
    }

    /// A literal; large ones go from the store's map straight to the
    /// socket after what is queued, without a copy.
    async fn literal(&mut self, bytes: &[u8], stream: &mut Stream) -> bool {
        if bytes.len() < DIRECT_WRITE {
            quote::literal(&mut self.out, bytes);
            return true;
        }
        self.put(&format!("{{{}}}\r\n", bytes.len()));
        if !self.flush(stream).await {
            return false;
        }
        stream
            .write_timed(bytes, super::session::AUTOLOGOUT)
            .await
            .is_ok()
    }

    #[allow(clippy::too_many_arguments)]
    async fn store(
        &mut self,
        tag: &[u8],
        uid: bool,
        set: &SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: &[super::parse::Flag<'_>],
        unchanged_since: Option<u64>,
    ) {
        let Some(targets) = self.resolve(tag, uid, set) else {
            return;
        };
        let Some(sel) = &self.selected else { return };
        if sel.read_only {
            return self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
        }
        let mailbox_id = sel.id;
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        let (flag_bits, keywords) = split_flags(flags);
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
        let result = match self.ctx.store.set_flags(change).await {
            Ok(r) => r,
            Err(e) => return self.store_failed(tag, &e),
        };
        let reader = match self.ctx.store.read() {
            Ok(r) => r,
            Err(e) => return self.store_failed(tag, &e),
        };
        for (seq, u) in &targets {
            if result.modified.contains(u) {
                continue;
            }
            let Ok(Some(m)) = reader.message(mailbox_id, *u) else {
                continue;
            };
            let recent = self.selected.as_ref().is_some_and(|s| s.is_recent(*u));
            if !silent {
                self.put(&format!("* {seq} FETCH ("));
                if uid {
                    self.put(&format!("UID {u} "));
                }
                self.put("FLAGS ");
                render::flags(&mut self.out, m.flags, recent, m.keywords());
                if self.condstore {
                    self.put(&format!(" MODSEQ ({})", m.modseq));
                }
                self.put(")\r\n");
            } else if unchanged_since.is_some() && result.changed.iter().any(|c| c.0 == *u) {
                // RFC 7162 §3.1.3: even with .SILENT, MODSEQ is reported.
                self.put(&format!(
                    "* {seq} FETCH ({}MODSEQ ({}))\r\n",
                    if uid {
                        format!("UID {u} ")
                    } else {
                        String::new()
                    },
                    m.modseq
                ));
            }
            if let Some(sel) = &mut self.selected {
                sel.reported(*u, m.modseq);
            }
        }
        drop(reader);
        if result.modified.is_empty() {
            self.tagged(
                tag,
                "OK",
                if uid {
                    "UID STORE completed"
                } else {
                    "STORE completed"
                },
            );
        } else {
            let failed: Vec<u32> = match uid {
                true => result.modified.clone(),
                false => targets
                    .iter()
                    .filter(|t| result.modified.contains(&t.1))
                    .map(|t| t.0)
                    .collect(),
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
    }

    async fn search(&mut self, tag: &[u8], uid: bool, charset: Option<&[u8]>, key: &SearchKey<'_>) {
        if let Some(cs) = charset
            && !cs.eq_ignore_ascii_case(b"UTF-8")
            && !cs.eq_ignore_ascii_case(b"US-ASCII")
        {
            return self.tagged(
                tag,
                "NO",
                "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset",
            );
        }
        let Some(sel) = &self.selected else { return };
        let reader = match self.ctx.store.read() {
            Ok(r) => r,
            Err(e) => return self.store_failed(tag, &e),
        };
        let (max_seq, max_uid) = (sel.uids.len() as u32, sel.max_uid());
        let mut found = Vec::new();
        let mut highest = 0;
        for (i, &u) in sel.uids.iter().enumerate() {
            if i % YIELD_EVERY == YIELD_EVERY - 1 {
                smol::future::yield_now().await;
            }
            let Ok(Some(view)) = reader.message(sel.id, u) else {
                continue;
            };
            let raw = reader.blob(view.blob_id).ok().flatten().unwrap_or(&[]);
            let candidate = Candidate {
                seq: i as u32 + 1,
                uid: u,
                view,
                recent: sel.is_recent(u),
                raw,
                max_seq,
                max_uid,
            };
            let mut parsed = Parsed::default();
            if search::matches(key, &candidate, &mut parsed) {
                found.push(if uid { u } else { i as u32 + 1 });
                highest = highest.max(view.modseq);
            }
        }
        drop(reader);
        let mut line = String::from("* SEARCH");
        for n in &found {
            line.push_str(&format!(" {n}"));
        }
        if search::uses_modseq(key) {
            self.condstore = true;
            if !found.is_empty() {
                line.push_str(&format!(" (MODSEQ {highest})"));
            }
        }
        line.push_str("\r\n");
        self.put(&line);
        self.tagged(
            tag,
            "OK",
            if uid {
                "UID SEARCH completed"
            } else {
                "SEARCH completed"
            },
        );
    }

    async fn copy(
        &mut self,
        tag: &[u8],
        uid: bool,
        set: &SequenceSet,
        target: &super::parse::Mailbox<'_>,
        remove: bool,
    ) {
        let Some(targets) = self.resolve(tag, uid, set) else {
            return;
        };
        let Some(sel) = &self.selected else { return };
        if remove && sel.read_only {
            return self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
        }
        let from = sel.id;
        let Some(to) = self.find_mailbox(tag, target, "[TRYCREATE] No such mailbox") else {
            return;
        };
        let uids: Vec<u32> = targets.iter().map(|t| t.1).collect();
        let copied = match self.ctx.store.copy(from, uids, to.id, remove).await {
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

    async fn expunge(&mut self, tag: &[u8], set: Option<&SequenceSet>) {
        let Some(sel) = &self.selected else { return };
        if sel.read_only {
            return self.tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only");
        }
        let id = sel.id;
        let only: Option<Vec<u32>> = set.map(|s| {
            let max = sel.max_uid();
            let mut v: Vec<u32> = sel
                .uids
                .iter()
                .copied()
                .filter(|u| s.contains(*u, max))
                .collect();
            v.sort_unstable();
            v
        });
        let deleted = self.deleted_uids(id, only.as_deref());
        if !deleted.is_empty()
            && let Err(e) = self.ctx.store.expunge(id, deleted).await
        {
            return self.store_failed(tag, &e);
        }
        self.sync(true).await;
        self.tagged(tag, "OK", "EXPUNGE completed");
    }
}
