//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): a SEARCH or SORT with
//! `RETURN (UPDATE)` leaves a search context behind, and the session keeps
//! the client's copy of the result true with unsolicited
//! `* ESEARCH (TAG "t") [UID] ADDTO (...)` / `REMOVEFROM (...)` (§4.3) as
//! the mailbox changes, until CANCELUPDATE (§4.2) or the mailbox is left.
//!
//! How it is kept cheap:
//! - the command's bytes are kept and parsed again for each update (the
//!   parsed criteria borrow from the command line); a message's
//!   membership is decided again only when its MODSEQ moved past what the
//!   context last saw (flags changed, or it is new), so an update costs
//!   the changed messages, not the mailbox;
//! - expunged messages leave a result by REMOVEFROM sent just before
//!   their EXPUNGE/VANISHED, while their sequence numbers still hold;
//! - a session has at most [`MAX_CONTEXTS`] contexts, each from a command
//!   of at most [`MAX_COMMAND`] bytes; past that the search is answered
//!   but the update refused with `NO [NOUPDATE "tag"]` (§4.2).
//!
//! Positions (§4.3): an unsorted SEARCH result is a set, so its ADDTO and
//! REMOVEFROM carry position 0. A sorted result is a list: each
//! REMOVEFROM names a run of consecutive messages at its 1-based position
//! in the list as it stands when that line is read, and each ADDTO a run
//! to insert, in sort order, at its position in the updated list; lines
//! come in ascending position so each lands where the final list has it.
//! Sort keys never change after delivery, so a message never moves.

use super::esearch::ordered_set;
use super::messages::Matched;
use super::parse::{self, Command, CommandKind, SearchKey, SearchReturn, SortCriterion};
use super::selected::Selected;
use super::session::Session;
use crate::store::StoreError;

/// Live search contexts one session may hold: each costs its result's
/// UIDs and a re-decision of every changed message.
pub const MAX_CONTEXTS: usize = 4;
/// Longest command kept for a context (the criteria with their literals).
pub const MAX_COMMAND: usize = 64 * 1024;

/// Results this long or longer gain a few messages by binary insertion
/// rather than a sort of the whole result.
const INSERT_FROM: usize = 64;
/// At most this many arrivals are placed one by one: each probe is a read
/// transaction and each insertion shifts the result, so past a handful a
/// sort of the whole result is cheaper.
const INSERT_MOST: usize = 16;

/// One live search result (RFC 5267 §4.1).
pub struct Context {
    /// The tag of the command that made it, echoed in `(TAG "...")`.
    tag: Vec<u8>,
    uid: bool,
    sorted: bool,
    /// The SEARCH or SORT command as received, parsed again per update.
    command: Vec<u8>,
    /// The result as the client has it, by UID: ascending for SEARCH, in
    /// sort order for SORT.
    result: Vec<u32>,
    /// Messages at or below this MODSEQ were decided already.
    modseq: u64,
}

/// Whether `command` asks for a search context (RFC 5267 §4.2 UPDATE).
pub fn wants_update(command: &Command<'_>) -> bool {
    match &command.kind {
        CommandKind::Search { ret: Some(r), .. } | CommandKind::Sort { ret: Some(r), .. } => {
            r.update
        }
        _ => false,
    }
}

/// `* ESEARCH (TAG "t") [UID] <what> (<position> <set>)`.
fn line(out: &mut Vec<u8>, c: &Context, what: &str, position: usize, set: &[u32]) {
    let uid = if c.uid { " UID" } else { "" };
    out.extend_from_slice(
        format!(
            "* ESEARCH (TAG \"{}\"){uid} {what} ({position} {})\r\n",
            String::from_utf8_lossy(&c.tag),
            ordered_set(set)
        )
        .as_bytes(),
    );
}

/// The numbers the client knows `uids` by: UIDs, or sequence numbers in
/// the view as it stands.
fn numbers(sel: &Selected, uid: bool, uids: &[u32]) -> Vec<u32> {
    match uid {
        true => uids.to_vec(),
        false => uids.iter().filter_map(|&u| sel.seq_of(u)).collect(),
    }
}

/// Writes the REMOVEFROM lines that take `gone` (sorted UIDs) out of the
/// context's result, and takes them out.
fn remove(sel: &Selected, c: &mut Context, out: &mut Vec<u8>, gone: &[u32]) {
    if gone.is_empty() {
        return;
    }
    let is_gone = |u: &u32| gone.binary_search(u).is_ok();
    if !c.sorted {
        let taken: Vec<u32> = c.result.iter().copied().filter(is_gone).collect();
        if !taken.is_empty() {
            line(out, c, "REMOVEFROM", 0, &numbers(sel, c.uid, &taken));
        }
    } else {
        // Runs of consecutive removed messages, each at its position once
        // the runs before it are out.
        let (mut removed, mut run, mut at) = (0, Vec::new(), 0);
        let mut lines = Vec::new();
        for (i, u) in c.result.iter().enumerate() {
            if is_gone(u) {
                if run.is_empty() {
                    at = i - removed + 1;
                }
                run.push(*u);
            } else if !run.is_empty() {
                removed += run.len();
                lines.push((at, std::mem::take(&mut run)));
            }
        }
        if !run.is_empty() {
            lines.push((at, run));
        }
        for (at, run) in lines {
            line(out, c, "REMOVEFROM", at, &numbers(sel, c.uid, &run));
        }
    }
    c.result.retain(|u| !is_gone(u));
}

/// Before the view drops expunged messages: REMOVEFROM for those in a
/// result, while their sequence numbers are still the client's.
pub(super) fn expunging(sel: &mut Selected, out: &mut Vec<u8>, gone: &[usize]) {
    if sel.contexts.is_empty() {
        return;
    }
    let mut uids: Vec<u32> = gone.iter().map(|&i| sel.uids[i]).collect();
    uids.sort_unstable();
    let mut contexts = std::mem::take(&mut sel.contexts);
    for c in &mut contexts {
        remove(sel, c, out, &uids);
    }
    sel.contexts = contexts;
}

/// Where the messages of `added` go in `order` (the updated sorted list):
/// runs of consecutive added messages with the 1-based position of each.
fn insertions(order: &[u32], added: &[u32]) -> Vec<(usize, Vec<u32>)> {
    let mut runs: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut previous_added = false;
    for (i, u) in order.iter().enumerate() {
        let is_added = added.binary_search(u).is_ok();
        match (is_added, previous_added) {
            (true, true) => runs.last_mut().expect("a run is open").1.push(*u),
            (true, false) => runs.push((i + 1, vec![*u])),
            _ => {}
        }
        previous_added = is_added;
    }
    runs
}

/// `kept` (the old sorted result less what left it) with `found` (the
/// members whose records were read, sorted): a member expunged from the
/// store but still in the view keeps its place after the member it
/// followed, until its EXPUNGE takes it out.
fn merge_missing(kept: &[u32], found: Vec<u32>) -> Vec<u32> {
    let mut present: Vec<u32> = found.clone();
    present.sort_unstable();
    if kept.iter().all(|u| present.binary_search(u).is_ok()) {
        return found;
    }
    let mut after: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    let mut previous = 0;
    for &u in kept {
        match present.binary_search(&u).is_ok() {
            true => previous = u,
            false => after.entry(previous).or_default().push(u),
        }
    }
    let mut merged = after.remove(&0).unwrap_or_default();
    for u in found {
        merged.push(u);
        if let Some(tail) = after.remove(&u) {
            merged.extend(tail);
        }
    }
    merged
}

impl Session {
    /// After a SEARCH/SORT with `RETURN (UPDATE)` answered: keeps its
    /// result (UIDs in result order) as a context, or refuses with
    /// `NO [NOUPDATE "tag"]` past the limits (RFC 5267 §4.2).
    pub(super) fn open_context(
        &mut self,
        tag: &[u8],
        uid: bool,
        sorted: bool,
        result: Vec<u32>,
        ret: &SearchReturn,
        key: &SearchKey<'_>,
    ) {
        let command = self.take_update_command();
        let id = self.id();
        let Some((sel, out)) = self.selected_and_out() else {
            return;
        };
        // A tag used again replaces its context (§4.2 asks for unique tags).
        sel.contexts.retain(|c| c.tag != tag);
        let refusal = match command {
            // ADDTO/REMOVEFROM change a whole result the client holds
            // (§4.3): not a window, a count, a minimum or a maximum.
            _ if !ret.all || ret.partial.is_some() => {
                Some("Only RETURN (ALL) results are kept up to date")
            }
            // \Recent changes move no MODSEQ, which is what re-checks a
            // context; `$` is replaced per command and not kept with it.
            _ if super::rev2::uses_recent(key) => Some("\\Recent is not followed"),
            Some(ref c) if c.contains(&b'$') => Some("A result built on $ is not kept"),
            None => Some("The command is too long to keep"),
            Some(ref c) if c.len() > MAX_COMMAND => Some("The command is too long to keep"),
            _ if sel.contexts.len() >= MAX_CONTEXTS => Some("Too many search contexts"),
            _ => None,
        };
        if let Some(why) = refusal {
            log::info!(
                "[{id}] imap: search context {:?} refused: {why} (at most {MAX_CONTEXTS})",
                String::from_utf8_lossy(tag)
            );
            out.extend_from_slice(
                format!(
                    "* NO [NOUPDATE \"{}\"] {why}\r\n",
                    String::from_utf8_lossy(tag)
                )
                .as_bytes(),
            );
            return;
        }
        let modseq = sel.modseqs.iter().copied().max().unwrap_or(0);
        sel.contexts.push(Context {
            tag: tag.to_vec(),
            uid,
            sorted,
            command: command.unwrap_or_default(),
            result,
            modseq,
        });
    }

    /// CANCELUPDATE (RFC 5267 §4.2): ends the contexts named; BAD when a
    /// tag names none, as for any argument that refers to nothing.
    pub(super) fn cancel_update(&mut self, tag: &[u8], tags: &[std::borrow::Cow<'_, [u8]>]) {
        let Some(sel) = self.selected_mut() else {
            return;
        };
        let unknown = tags
            .iter()
            .find(|t| !sel.contexts.iter().any(|c| c.tag == t.as_ref()));
        if let Some(t) = unknown {
            let text = format!(
                "CANCELUPDATE: no search context has tag \"{}\"",
                String::from_utf8_lossy(t)
            );
            return self.bad(tag, &text);
        }
        sel.contexts
            .retain(|c| !tags.iter().any(|t| t.as_ref() == c.tag.as_slice()));
        self.tagged(tag, "OK", "CANCELUPDATE completed");
    }

    /// After the view caught up (EXISTS and flag FETCHes written): decides
    /// again each message whose MODSEQ passed a context's, and writes the
    /// ADDTO/REMOVEFROM that follow (RFC 5267 §4.3).
    pub(super) async fn update_contexts(&mut self) {
        let Some(sel) = self.selected_mut() else {
            return;
        };
        if sel.contexts.is_empty() {
            return;
        }
        let mut contexts = std::mem::take(&mut sel.contexts);
        for c in &mut contexts {
            if let Err(e) = self.update_context(c).await {
                log::error!(
                    "[{}] imap: search context {:?} not updated: {e}",
                    self.id(),
                    String::from_utf8_lossy(&c.tag)
                );
            }
        }
        if let Some(sel) = self.selected_mut() {
            sel.contexts = contexts;
        }
    }

    async fn update_context(&mut self, c: &mut Context) -> Result<(), StoreError> {
        let Some(sel) = self.selected() else {
            return Ok(());
        };
        // The messages that changed since the context last looked.
        let touched: Vec<(u32, u32)> = sel
            .uids
            .iter()
            .zip(&sel.modseqs)
            .enumerate()
            .filter(|(_, (_, m))| **m > c.modseq)
            .map(|(i, (&u, _))| (i as u32 + 1, u))
            .collect();
        if touched.is_empty() {
            return Ok(());
        }
        let seen = sel.modseqs.iter().copied().max().unwrap_or(c.modseq);
        let command = c.command.clone();
        let (key, criteria) = match parse::parse_command(&command) {
            Ok(Command {
                kind: CommandKind::Search { key, .. },
                ..
            }) => (key, Vec::new()),
            Ok(Command {
                kind: CommandKind::Sort { key, criteria, .. },
                ..
            }) => (key, criteria),
            // It parsed when it was answered: nothing else can come back.
            _ => return Ok(()),
        };
        let Some((matched, _)) = self.matching_in(&key, &touched).await? else {
            return Ok(());
        };
        let mut now_in: Vec<u32> = matched.iter().map(|m| m.uid).collect();
        now_in.sort_unstable();
        let mut members = c.result.clone();
        members.sort_unstable();
        let left: Vec<u32> = touched
            .iter()
            .map(|t| t.1)
            .filter(|u| members.binary_search(u).is_ok() && now_in.binary_search(u).is_err())
            .collect();
        let added: Vec<u32> = now_in
            .iter()
            .copied()
            .filter(|u| members.binary_search(u).is_err())
            .collect();
        c.modseq = c.modseq.max(seen);
        if let Some((sel, out)) = self.selected_and_out() {
            remove(sel, c, out, &left);
        }
        if added.is_empty() {
            return Ok(());
        }
        match c.sorted {
            false => self.add_unsorted(c, &added),
            true => self.add_sorted(c, &criteria, &added).await?,
        }
        Ok(())
    }

    /// ADDTO (0 set) for a SEARCH context.
    fn add_unsorted(&mut self, c: &mut Context, added: &[u32]) {
        if let Some((sel, out)) = self.selected_and_out() {
            line(out, c, "ADDTO", 0, &numbers(sel, c.uid, added));
        }
        c.result.extend_from_slice(added);
        c.result.sort_unstable();
    }

    /// ADDTO (position run)... for a SORT context (keys are read from
    /// the stored summaries, no body).
    async fn add_sorted(
        &mut self,
        c: &mut Context,
        criteria: &[SortCriterion],
        added: &[u32],
    ) -> Result<(), StoreError> {
        // A few messages joining a large result are placed by binary
        // search (reading about log2(n) members' keys each); many, or a
        // small result, are sorted with the rest.
        let n = c.result.len();
        let depth = (usize::BITS - n.leading_zeros()) as usize;
        let few = added.len() <= INSERT_MOST && added.len() * depth * 4 < n;
        let inserted = match n >= INSERT_FROM && few {
            true => self.insert_sorted(criteria, &c.result, added).await?,
            false => None,
        };
        let order = match inserted {
            Some(order) => order,
            None => match self.sorted_again(c, criteria, added).await? {
                Some(order) => order,
                None => return Ok(()),
            },
        };
        if let Some((sel, out)) = self.selected_and_out() {
            for (at, run) in insertions(&order, added) {
                line(out, c, "ADDTO", at, &numbers(sel, c.uid, &run));
            }
        }
        c.result = order;
        Ok(())
    }

    /// The members of `c` and `added`, all sorted again.
    async fn sorted_again(
        &mut self,
        c: &Context,
        criteria: &[SortCriterion],
        added: &[u32],
    ) -> Result<Option<Vec<u32>>, StoreError> {
        let Some(sel) = self.selected() else {
            return Ok(None);
        };
        let mut members: Vec<u32> = c.result.iter().chain(added).copied().collect();
        members.sort_unstable();
        let picks: Vec<(u32, u32)> = members
            .iter()
            .filter_map(|&u| sel.seq_of(u).map(|s| (s, u)))
            .collect();
        let Some((matched, _)) = self.matching_in(&SearchKey::All, &picks).await? else {
            return Ok(None);
        };
        let matched: Vec<Matched> = matched;
        let found = self.sorted_uids(criteria, &matched).await?;
        Ok(Some(merge_missing(&c.result, found)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(sorted: bool, result: &[u32]) -> Context {
        Context {
            tag: b"B01".to_vec(),
            uid: true,
            sorted,
            command: Vec::new(),
            result: result.to_vec(),
            modseq: 1,
        }
    }

    fn view(uids: &[u32]) -> Selected {
        Selected {
            id: 1,
            read_only: false,
            uidvalidity: 1,
            uids: uids.to_vec(),
            modseqs: vec![1; uids.len()],
            recent: Vec::new(),
            highest_modseq: 1,
            uidnext: 100,
            keywords: Vec::new(),
            rev2: false,
            saved: Vec::new(),
            contexts: Vec::new(),
        }
    }

    #[test]
    fn rfc5267_4_3_search_removals_carry_position_zero() {
        let sel = view(&[1, 2, 3, 4, 5]);
        let mut c = context(false, &[1, 3, 4, 5]);
        let mut out = Vec::new();
        remove(&sel, &mut c, &mut out, &[3, 4]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 3:4)\r\n"
        );
        assert_eq!(c.result, [1, 5]);
    }

    #[test]
    fn rfc5267_4_3_sort_removals_name_positions_as_the_list_shrinks() {
        let sel = view(&[1, 2, 3, 4, 5, 6]);
        // Sorted result 6,2,5,1,4: remove 2 (position 2) and 1,4 (then
        // at positions 3 and 4 of the list without 2 -> 3).
        let mut c = context(true, &[6, 2, 5, 1, 4]);
        let mut out = Vec::new();
        remove(&sel, &mut c, &mut out, &[1, 2, 4]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "* ESEARCH (TAG \"B01\") UID REMOVEFROM (2 2)\r\n\
             * ESEARCH (TAG \"B01\") UID REMOVEFROM (3 1,4)\r\n"
        );
        assert_eq!(c.result, [6, 5]);
    }

    #[test]
    fn rfc5267_4_3_sort_additions_land_at_their_final_positions() {
        // Old list 6,5; 9 sorts first, 7 and 8 between 6 and 5.
        let order = [9, 6, 7, 8, 5];
        assert_eq!(
            insertions(&order, &[7, 8, 9]),
            vec![(1, vec![9]), (3, vec![7, 8])]
        );
        // Applying them in order to 6,5 gives the final list.
        let mut list = vec![6, 5];
        for (at, run) in insertions(&order, &[7, 8, 9]) {
            for (k, u) in run.into_iter().enumerate() {
                list.insert(at - 1 + k, u);
            }
        }
        assert_eq!(list, order);
    }

    #[test]
    fn members_expunged_unreported_keep_their_place() {
        assert_eq!(merge_missing(&[6, 2, 5], vec![9, 6, 5]), [9, 6, 2, 5]);
        assert_eq!(merge_missing(&[2, 6], vec![6, 7]), [2, 6, 7]);
        assert_eq!(merge_missing(&[6], vec![6, 7]), [6, 7]);
    }
}
