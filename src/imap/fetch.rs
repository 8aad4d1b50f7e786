//! FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8) with CONDSTORE's
//! CHANGEDSINCE and MODSEQ and QRESYNC's VANISHED (RFC 7162 §3.1.4,
//! §3.2.6), in three steps:
//!
//! 1. the [`Plan`]: the items, with UID and MODSEQ added where the RFCs
//!    imply them, what the store must provide for them, and whether
//!    \Seen is set;
//! 2. \Seen set on the messages that lack it, in one write before anything
//!    is sent, so the FLAGS sent are the new ones;
//! 3. each message rendered ([`Session::fetch_one`]) from a read
//!    transaction that lives for one bounded chunk of messages and is
//!    dropped before output is sent or other sessions run: no LMDB read
//!    transaction lives across a socket write (DESIGN.md "Budgets"), so a
//!    client that stops reading pins no pages. Message bytes are copied
//!    into the output for that reason, and the output stays small: a
//!    chunk ends once it holds [`SEND_AT`] bytes, and so does a message,
//!    between two items or after announcing a literal larger than that;
//!    its [`Rest`] (the next piece of the literal, then the next items)
//!    comes from a new transaction once the output is sent. Only a large
//!    literal built here rather than cut from the stored message (HEADER.
//!    FIELDS of a huge header) takes the memory budget; without it the
//!    item is NIL and the FETCH ends `NO [UNAVAILABLE]`.

use super::parse::{FetchArgs, FetchItem, Partial, Section, SectionText, Window};
use super::render;
use super::section;
use super::session::Session;
use crate::mime::Summary;
use crate::net::{Reservation, Stream};
use crate::store::{FlagChange, FlagOp, Flags, MessageView, Reader, StoreError};
use crate::wire::imap::datetime::write_date_time;
use crate::wire::imap::quote;

use super::binary;

/// Most messages rendered under one read transaction. After each chunk
/// the other sessions get to run: one executor thread serves them all,
/// and under emulation FETCH 1:* FLAGS on 50 000 messages held every
/// other client for half a second.
const CHUNK: usize = 64;
/// Output waiting after which a chunk ends and is sent, so a large
/// response is not built whole in memory first.
const SEND_AT: usize = 64 * 1024;

/// What to send for each message, and what that needs.
struct Plan<'a> {
    items: Vec<FetchItem<'a>>,
    /// Only messages changed after this MODSEQ (CHANGEDSINCE).
    changed_since: Option<u64>,
    /// The message bytes are read (a body section or an RFC822 form).
    blob: bool,
    /// The stored summary is read (ENVELOPE, BODYSTRUCTURE, parts).
    summary: bool,
    /// MODSEQ is sent, which turns CONDSTORE on (RFC 7162 §3.1).
    modseq: bool,
    /// A body is read without PEEK in a writable mailbox, which sets
    /// \Seen (RFC 3501 §6.4.5).
    sets_seen: bool,
    /// FLAGS is asked for.
    flags: bool,
    /// Stands in for the summary when no item needs one.
    no_summary: Summary,
}

impl<'a> Plan<'a> {
    fn new(
        uid: bool,
        mut items: Vec<FetchItem<'a>>,
        changed_since: Option<u64>,
        read_only: bool,
    ) -> Plan<'a> {
        // RFC 3501 §6.4.8: UID FETCH answers with the UID, asked or not.
        if uid && !items.iter().any(|i| matches!(i, FetchItem::Uid)) {
            items.insert(0, FetchItem::Uid);
        }
        // RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ.
        if changed_since.is_some() && !items.iter().any(|i| matches!(i, FetchItem::ModSeq)) {
            items.push(FetchItem::ModSeq);
        }
        Plan {
            changed_since,
            blob: items.iter().any(needs_blob),
            summary: items.iter().any(needs_summary),
            modseq: items.iter().any(|i| matches!(i, FetchItem::ModSeq)),
            sets_seen: !read_only && items.iter().any(sets_seen),
            flags: items.iter().any(|i| matches!(i, FetchItem::Flags)),
            no_summary: Summary::compute(b""),
            items,
        }
    }
}

/// RFC 9394 §3.3: of the messages the set names that pass CHANGEDSINCE
/// (filtered first, §3.4), those at the window's positions, in the order
/// they would be sent. The MODSEQs are the session's view's (`modseqs`,
/// by sequence number), so choosing the window reads no record: the
/// FETCH then reads only the window's.
fn partial_window(
    modseqs: &[u64],
    targets: Vec<(u32, u32)>,
    changed_since: Option<u64>,
    w: Window,
) -> Vec<(u32, u32)> {
    let kept: Vec<(u32, u32)> = match changed_since {
        None => targets,
        Some(since) => targets
            .into_iter()
            .filter(|&(seq, _)| {
                (seq as usize)
                    .checked_sub(1)
                    .and_then(|i| modseqs.get(i))
                    .is_some_and(|&modseq| modseq > since)
            })
            .collect(),
    };
    super::esearch::window(&kept, w).to_vec()
}

fn needs_blob(item: &FetchItem<'_>) -> bool {
    use FetchItem as F;
    matches!(
        item,
        F::Rfc822
            | F::Rfc822Header
            | F::Rfc822Text
            | F::BodySection { .. }
            | F::Binary { .. }
            | F::BinarySize(_)
            | F::Preview
    )
}

fn needs_summary(item: &FetchItem<'_>) -> bool {
    use FetchItem as F;
    match item {
        F::Envelope | F::Body | F::BodyStructure | F::Rfc822Header | F::Rfc822Text => true,
        // The whole message is the one section that needs no offsets.
        F::BodySection { section, .. } => !(section.part.is_empty() && section.text.is_none()),
        F::Binary { part, .. } | F::BinarySize(part) => !part.is_empty(),
        _ => false,
    }
}

fn sets_seen(item: &FetchItem<'_>) -> bool {
    use FetchItem as F;
    matches!(
        item,
        F::Rfc822
            | F::Rfc822Text
            | F::BodySection { peek: false, .. }
            | F::Binary { peek: false, .. }
    )
}

/// One message as the renderer sees it.
struct Message<'m> {
    view: MessageView<'m>,
    recent: bool,
    raw: &'m [u8],
    summary: &'m Summary,
}

impl Session {
    /// FETCH / UID FETCH; false when the client is gone.
    pub(super) async fn fetch(
        &mut self,
        tag: &[u8],
        args: FetchArgs<'_>,
        stream: &mut Stream,
    ) -> bool {
        let FetchArgs {
            uid,
            set,
            items,
            changed_since,
            vanished,
            partial,
        } = args;
        let Some(targets) = self.resolve(tag, uid, &set) else {
            return true;
        };
        let Some(sel) = self.selected() else {
            return true;
        };
        let (mailbox_id, max_uid) = (sel.id, sel.max_uid());
        let targets = match partial {
            None => targets,
            Some(w) => partial_window(&sel.modseqs, targets, changed_since, w),
        };
        let plan = Plan::new(uid, items, changed_since, sel.read_only);
        if plan.modseq {
            self.use_condstore();
        }
        // RFC 7162 §3.2.6: UID FETCH ... (CHANGEDSINCE m VANISHED).
        if vanished && let Some(since) = changed_since {
            let gone = self
                .store()
                .read()
                .and_then(|r| r.expunged_since(mailbox_id, since))
                .unwrap_or_default();
            let ranges = set.resolve(max_uid);
            let gone: Vec<u32> = gone.into_iter().filter(|&u| ranges.contains(u)).collect();
            super::selected::vanished_earlier(self.out(), &gone);
        }
        // RFC 3516 §4.2: an encoding BINARY cannot remove fails the
        // command before anything is sent or marked \Seen.
        let unknown_cte = match super::binary::unknown_in(
            self.store(),
            mailbox_id,
            &targets,
            &plan.items,
        )
        .await
        {
            Ok(unknown) => unknown,
            Err(e) => {
                self.store_failed(tag, &e);
                return true;
            }
        };
        if unknown_cte {
            self.tagged(tag, "NO", "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
            return true;
        }
        let seen_now = match plan.sets_seen {
            true => match self.mark_seen(mailbox_id, &targets).await {
                Ok(seen_now) => seen_now,
                Err(e) => {
                    self.store_failed(tag, &e);
                    return true;
                }
            },
            false => Vec::new(),
        };
        // Covers a large literal built here (HEADER.FIELDS of a huge
        // header) until the output holding it is sent (DESIGN.md "Budgets").
        let mut held = self.budget().empty();
        // An item that could not be reserved went out as NIL.
        let mut unavailable = false;
        let mut rest: Option<Box<Rest>> = None;
        let mut next = 0;
        while next < targets.len() || rest.is_some() {
            if next > 0 {
                if self.out().len() >= SEND_AT && !self.flush(stream).await {
                    return false;
                }
                smol::future::yield_now().await;
            }
            if self.out().len() < SEND_AT {
                held.shrink_to(0);
            }
            let reader = match self.store().read() {
                Ok(r) => r,
                Err(e) => {
                    self.store_failed(tag, &e);
                    return true;
                }
            };
            if let Some(r) = rest.take() {
                let step = self.fetch_rest(&reader, &plan, r, &mut held, &mut unavailable);
                match step {
                    Ok(r) => rest = r,
                    Err(uid) => {
                        log::warn!(
                            "[{}] imap: UID {uid} became unreadable while it was sent; closing",
                            self.id()
                        );
                        return false;
                    }
                }
                if rest.is_some() || self.out().len() >= SEND_AT {
                    continue;
                }
            }
            let end = (next + CHUNK).min(targets.len());
            for &(seq, uid) in &targets[next..end] {
                next += 1;
                let seen = seen_now.binary_search(&uid).is_ok();
                let target = (seq, uid, seen);
                rest = self.fetch_one(
                    &reader,
                    &plan,
                    mailbox_id,
                    target,
                    &mut held,
                    &mut unavailable,
                );
                if rest.is_some() || self.out().len() >= SEND_AT {
                    break;
                }
            }
        }
        if unavailable {
            // RFC 5530: a temporary failure; what was sent stands.
            self.budget_spent(
                tag,
                "FETCH sent NIL for a large item",
                "Server busy with other messages, some items sent as NIL; try again later",
            );
            return true;
        }
        let done = match uid {
            true => "UID FETCH completed",
            false => "FETCH completed",
        };
        self.tagged(tag, "OK", done);
        true
    }

    /// Sets \Seen on those of `targets` (sequence number, UID) that lack
    /// it; the UIDs it changed, sorted.
    async fn mark_seen(
        &mut self,
        mailbox_id: u64,
        targets: &[(u32, u32)],
    ) -> Result<Vec<u32>, StoreError> {
        let unseen: Vec<u32> = {
            let reader = self.store().read()?;
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
        if unseen.is_empty() {
            return Ok(unseen);
        }
        let change = FlagChange {
            mailbox_id,
            uids: unseen,
            op: FlagOp::Add,
            flags: Flags::SEEN,
            keywords: Vec::new(),
            unchanged_since: None,
        };
        let result = self.store().set_flags(change).await?;
        let mut changed: Vec<u32> = result.changed.iter().map(|c| c.0).collect();
        changed.sort_unstable();
        Ok(changed)
    }

    /// Renders one message (`target`: sequence number, UID, and whether
    /// this FETCH set its \Seen, so its FLAGS are sent) into the output,
    /// if it still exists and CHANGEDSINCE does not leave it out. Once the
    /// output holds [`SEND_AT`] bytes, or a large literal is due, the rest
    /// of it waits, as a [`Rest`], for the output to be sent and a new read
    /// transaction.
    fn fetch_one(
        &mut self,
        reader: &Reader,
        plan: &Plan<'_>,
        mailbox_id: u64,
        (seq, uid, seen_now): (u32, u32, bool),
        held: &mut Reservation,
        unavailable: &mut bool,
    ) -> Option<Box<Rest>> {
        let view = reader.message(mailbox_id, uid).ok().flatten()?;
        if plan.changed_since.is_some_and(|since| view.modseq <= since) {
            return None;
        }
        let raw: &[u8] = match plan.blob {
            true => reader.blob(view.blob_id).ok().flatten().unwrap_or(&[]),
            false => &[],
        };
        let stored = match plan.summary {
            true => Some(
                reader
                    .summary(view.blob_id)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| {
                        // An unreadable record is recomputed from the
                        // message, which the plan may not have loaded.
                        let whole = match plan.blob {
                            true => raw,
                            false => reader.blob(view.blob_id).ok().flatten().unwrap_or(&[]),
                        };
                        Summary::compute(whole)
                    }),
            ),
            false => None,
        };
        let recent = self.selected().is_some_and(|s| s.is_recent(uid));
        let message = Message {
            view,
            recent,
            raw,
            summary: stored.as_ref().unwrap_or(&plan.no_summary),
        };
        if (plan.flags || seen_now)
            && let Some((sel, out)) = self.selected_and_out()
        {
            sel.announce_keywords(out, message.view.keywords());
        }
        let out = self.out();
        out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
        let mut sent_flags = false;
        let mut render = Render {
            out,
            held,
            unavailable,
        };
        let (next, literal) = render.items(&plan.items, &message, 0, &mut sent_flags);
        if next < plan.items.len() || literal.is_some() {
            let mut keywords = Vec::new();
            let view = view.detach(&mut keywords);
            return Some(Box::new(Rest {
                view,
                keywords,
                recent,
                summary: stored,
                next,
                literal,
                sent_flags,
                seen_now,
            }));
        }
        self.end_message(plan, &message, seen_now, sent_flags);
        None
    }

    /// Goes on with a message under a new read transaction: the next piece
    /// of a large literal, then its other items; the rest again if the
    /// output filled up once more. A message expunged by another session
    /// meanwhile, its last copy gone, gives its remaining sections empty
    /// (RFC 2180 §4.1.3 allows that much), except in the middle of a
    /// literal whose length was announced: then the UID is the error, and
    /// the connection ends.
    fn fetch_rest(
        &mut self,
        reader: &Reader,
        plan: &Plan<'_>,
        mut r: Box<Rest>,
        held: &mut Reservation,
        unavailable: &mut bool,
    ) -> Result<Option<Box<Rest>>, u32> {
        let raw: &[u8] = match plan.blob {
            true => reader.blob(r.view.blob_id).ok().flatten().unwrap_or(&[]),
            false => &[],
        };
        let out = self.out();
        if let Some(literal) = r.literal.as_mut() {
            while literal.at < literal.end && out.len() < SEND_AT {
                let to = literal.end.min(literal.at + SEND_AT);
                let piece = raw.get(literal.at..to).ok_or(r.view.uid)?;
                out.extend_from_slice(piece);
                literal.at = to;
            }
            if literal.at < literal.end {
                return Ok(Some(r));
            }
            r.literal = None;
        }
        let message = Message {
            view: r.view.attach(&r.keywords),
            recent: r.recent,
            raw,
            summary: r.summary.as_ref().unwrap_or(&plan.no_summary),
        };
        let mut render = Render {
            out,
            held,
            unavailable,
        };
        (r.next, r.literal) = render.items(&plan.items, &message, r.next, &mut r.sent_flags);
        if r.next < plan.items.len() || r.literal.is_some() {
            return Ok(Some(r));
        }
        self.end_message(plan, &message, r.seen_now, r.sent_flags);
        Ok(None)
    }

    /// Closes a message's `* n FETCH (...)` line (RFC 3501 §7.4.2). A
    /// message whose \Seen this FETCH set gets its FLAGS even unasked
    /// (§6.4.5: the client learns of the change), and, once CONDSTORE is
    /// on, its UID and new MODSEQ with them (RFC 7162 §3.2.4: every FETCH
    /// response that a change causes carries both).
    fn end_message(&mut self, plan: &Plan<'_>, m: &Message<'_>, seen_now: bool, sent_flags: bool) {
        let condstore = self.condstore();
        let out = self.out();
        if seen_now && !sent_flags {
            if !plan.items.is_empty() {
                out.push(b' ');
            }
            flags(out, m);
        }
        if seen_now && condstore {
            if !plan.items.iter().any(|i| matches!(i, FetchItem::Uid)) {
                out.extend_from_slice(format!(" UID {}", m.view.uid).as_bytes());
            }
            if !plan.modseq {
                out.extend_from_slice(format!(" MODSEQ ({})", m.view.modseq).as_bytes());
            }
        }
        out.extend_from_slice(b")\r\n");
        if (sent_flags || seen_now)
            && let Some(sel) = self.selected_mut()
        {
            sel.reported(m.view.uid, m.view.modseq);
        }
    }
}

/// A message whose response was cut: what rendering the rest of it needs
/// once the read transaction is gone.
struct Rest {
    view: MessageView<'static>,
    /// The view's keywords, as stored.
    keywords: Vec<u8>,
    recent: bool,
    summary: Option<Summary>,
    /// The next item to render.
    next: usize,
    /// A large literal announced and not all sent.
    literal: Option<Literal>,
    sent_flags: bool,
    seen_now: bool,
}

/// A large literal's bytes, `raw[at..end]` of the stored message, sent a
/// piece at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Literal {
    at: usize,
    end: usize,
}

/// Where items are rendered: the output, and the budget for large
/// literals built here.
struct Render<'r> {
    out: &'r mut Vec<u8>,
    held: &'r mut Reservation,
    /// Set when an item went out as NIL for want of budget.
    unavailable: &'r mut bool,
}

impl Render<'_> {
    /// Renders `items[from..]` of one message, each after a space but the
    /// first; stops early once the output holds [`SEND_AT`] bytes, so a
    /// FETCH of thousands of sections of one message is sent item by item
    /// rather than built whole, or after announcing a large literal. The
    /// index of the next item (`items.len()`: all done) and that literal.
    fn items(
        &mut self,
        items: &[FetchItem<'_>],
        m: &Message<'_>,
        from: usize,
        sent_flags: &mut bool,
    ) -> (usize, Option<Literal>) {
        for (i, item) in items.iter().enumerate().skip(from) {
            if i > 0 {
                self.out.push(b' ');
            }
            *sent_flags |= matches!(item, FetchItem::Flags);
            if let Some(literal) = self.item(item, m) {
                return (i + 1, Some(literal));
            }
            if self.out.len() >= SEND_AT && i + 1 < items.len() {
                return (i + 1, None);
            }
        }
        (items.len(), None)
    }

    /// Message bytes as a literal (RFC 3501 §4.3). A large one that lies
    /// in the stored message is only announced: its bytes follow a piece
    /// at a time, each from its own read transaction. A large one built
    /// here (HEADER.FIELDS of a huge header) is reserved from the memory
    /// budget, or sent as NIL (the values are nstrings, §9).
    fn literal(&mut self, raw: &[u8], bytes: &[u8]) -> Option<Literal> {
        self.literal_as(raw, bytes, false)
    }

    /// As [`Render::literal`]; with `eight`, a literal8 (`~{n}`, RFC 3516
    /// §4.3), which BINARY sends when the content holds a NUL.
    fn literal_as(&mut self, raw: &[u8], bytes: &[u8], eight: bool) -> Option<Literal> {
        if eight {
            self.out.push(b'~');
        }
        if bytes.len() <= SEND_AT {
            quote::literal(self.out, bytes);
            return None;
        }
        let at = (bytes.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
        if at <= raw.len() && bytes.len() <= raw.len() - at {
            self.out
                .extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
            return Some(Literal {
                at,
                end: at + bytes.len(),
            });
        }
        if self.held.grow_to(bytes.len()) {
            quote::literal(self.out, bytes);
        } else {
            if eight {
                self.out.pop();
            }
            self.out.extend_from_slice(b"NIL");
            *self.unavailable = true;
        }
        None
    }

    /// One item and its value; the large literal it announced, if any.
    fn item(&mut self, item: &FetchItem<'_>, m: &Message<'_>) -> Option<Literal> {
        let out = &mut *self.out;
        let put = |out: &mut Vec<u8>, text: &str| out.extend_from_slice(text.as_bytes());
        match item {
            FetchItem::Flags => flags(out, m),
            FetchItem::Uid => put(out, &format!("UID {}", m.view.uid)),
            FetchItem::ModSeq => put(out, &format!("MODSEQ ({})", m.view.modseq)),
            // RFC 8474 §5.
            FetchItem::EmailId => put(
                out,
                &format!("EMAILID ({})", super::objectid::email_id(m.view.blob_id)),
            ),
            FetchItem::ThreadId => put(out, "THREADID NIL"),
            FetchItem::Preview => {
                put(out, "PREVIEW ");
                crate::wire::imap::quote::string(out, super::preview::preview(m.raw).as_bytes());
            }
            FetchItem::InternalDate => {
                put(out, "INTERNALDATE ");
                write_date_time(out, m.view.internal_date);
            }
            // RFC 8514 §4.1: every mailbox keeps save dates, so never NIL.
            FetchItem::SaveDate => {
                put(out, "SAVEDATE ");
                write_date_time(out, m.view.save_date());
            }
            FetchItem::Rfc822Size => put(out, &format!("RFC822.SIZE {}", m.view.size)),
            FetchItem::Envelope => {
                put(out, "ENVELOPE ");
                render::envelope(out, &m.summary.envelope);
            }
            FetchItem::Body => {
                put(out, "BODY ");
                render::body_structure(out, &m.summary.root, false);
            }
            FetchItem::BodyStructure => {
                put(out, "BODYSTRUCTURE ");
                render::body_structure(out, &m.summary.root, true);
            }
            FetchItem::Rfc822 => {
                put(out, "RFC822 ");
                return self.literal(m.raw, m.raw);
            }
            FetchItem::Rfc822Header => {
                put(out, "RFC822.HEADER ");
                let body_start = m.summary.root.body_start as usize;
                return self.literal(m.raw, m.raw.get(..body_start).unwrap_or(m.raw));
            }
            FetchItem::Rfc822Text => {
                put(out, "RFC822.TEXT ");
                let body_start = m.summary.root.body_start as usize;
                return self.literal(m.raw, m.raw.get(body_start..).unwrap_or(&[]));
            }
            FetchItem::BodySection {
                section, partial, ..
            } => {
                let bytes = section::extract(m.raw, m.summary, section).unwrap_or_default();
                put(out, "BODY[");
                section_name(out, section);
                put(out, "]");
                let bytes = partial_bytes(out, &bytes, *partial);
                return self.literal(m.raw, bytes);
            }
            // RFC 3516 §4.3 (an unknown encoding was refused before).
            // The decoded copy is taken from the budget before it is made
            // (DESIGN.md "Budgets"): without it, NIL and NO [UNAVAILABLE].
            FetchItem::Binary { part, partial, .. } => {
                let before = self.held.held();
                let cost = binary::decode_cost(m.raw, m.summary, part);
                put(out, &binary::name("BINARY", part));
                if !self.held.grow_to(before.saturating_add(cost)) {
                    partial_bytes(out, &[], *partial);
                    out.extend_from_slice(b"NIL");
                    *self.unavailable = true;
                    return None;
                }
                let decoded = binary::content(m.raw, m.summary, part).unwrap_or_default();
                let bytes = partial_bytes(out, &decoded, *partial);
                let sent = bytes.len();
                let literal = self.literal_as(m.raw, bytes, bytes.contains(&0));
                drop(decoded);
                // What stays held covers the copy now in the output.
                self.held.shrink_to(before.max(sent));
                return literal;
            }
            FetchItem::BinarySize(part) => {
                let size = binary::size(m.raw, m.summary, part).unwrap_or(0);
                put(
                    out,
                    &format!("{} {size}", binary::name("BINARY.SIZE", part)),
                );
            }
        }
        None
    }
}

/// The FLAGS item and its value.
fn flags(out: &mut Vec<u8>, m: &Message<'_>) {
    out.extend_from_slice(b"FLAGS ");
    render::flags(out, m.view.flags, m.recent, m.view.keywords());
}

/// `<origin>` after the section name and the bytes it names (RFC 3501
/// §6.4.5: a partial beyond the end is empty, not an error).
fn partial_bytes<'b>(out: &mut Vec<u8>, bytes: &'b [u8], partial: Option<Partial>) -> &'b [u8] {
    let Some(p) = partial else {
        out.push(b' ');
        return bytes;
    };
    out.extend_from_slice(format!("<{}> ", p.origin).as_bytes());
    let start = (p.origin as usize).min(bytes.len());
    let end = start.saturating_add(p.count as usize).min(bytes.len());
    &bytes[start..end]
}

/// The section as the response names it (RFC 3501 §7.4.2 BODY[section]):
/// part numbers, then the text part with header names upper-cased.
fn section_name(out: &mut Vec<u8>, s: &Section<'_>) {
    let path: Vec<String> = s.part.iter().map(u32::to_string).collect();
    out.extend_from_slice(path.join(".").as_bytes());
    let Some(text) = &s.text else { return };
    if !s.part.is_empty() {
        out.push(b'.');
    }
    let names = |names: &[std::borrow::Cow<[u8]>]| {
        names
            .iter()
            .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = match text {
        SectionText::Header => "HEADER".to_string(),
        SectionText::Text => "TEXT".to_string(),
        SectionText::Mime => "MIME".to_string(),
        SectionText::HeaderFields(n) => format!("HEADER.FIELDS ({})", names(n)),
        SectionText::HeaderFieldsNot(n) => format!("HEADER.FIELDS.NOT ({})", names(n)),
    };
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
