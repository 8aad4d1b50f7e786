//! SEARCHRES (RFC 5182), part of IMAP4rev2 (RFC 9051 §6.4.4.1): `SEARCH
//! RETURN (SAVE)` keeps its result, and `$` names it in the sequence sets
//! of later commands (FETCH, STORE, COPY, MOVE, UID EXPUNGE, and SEARCH,
//! SORT and THREAD keys).
//!
//! The result is kept as UIDs in the selected view (`Selected::saved`), so
//! that it follows renumbering; §2.1's rules fall out of that:
//! - a new SELECT or EXAMINE makes a new view, whose result is empty;
//! - expunged messages leave the result with the view (`selected`);
//! - a SEARCH with SAVE that fails empties it (the session calls
//!   [`Selected::forget_saved`]);
//! - `$` in a command is replaced before the command runs, so a SEARCH
//!   that uses `$` and saves reads the previous result.

use super::parse::{CommandKind, SearchKey, SearchReturn, SeqBound, SequenceSet};
use super::selected::Selected;

impl Selected {
    /// Saves a SEARCH or SORT result (`found`: UIDs in result order) as
    /// RFC 5182 §2.1 says: only the MIN and/or MAX message when those are
    /// all that was asked, otherwise every message (PARTIAL, whose window
    /// §2.1 does not know, counts as every message).
    pub fn save(&mut self, ret: &SearchReturn, found: &[u32]) {
        let only_ends = (ret.min || ret.max) && !ret.all && !ret.count && ret.partial.is_none();
        let mut saved: Vec<u32> = match only_ends {
            true => [
                ret.min.then(|| found.first()).flatten(),
                ret.max.then(|| found.last()).flatten(),
            ]
            .into_iter()
            .flatten()
            .copied()
            .collect(),
            false => found.to_vec(),
        };
        saved.sort_unstable();
        saved.dedup();
        self.saved = saved;
    }

    /// A SEARCH with SAVE failed: `$` names no message (RFC 5182 §2.1).
    pub fn forget_saved(&mut self) {
        self.saved.clear();
    }

    /// `$` as a set: the saved UIDs, or their sequence numbers now.
    fn saved_set(&self, uid: bool) -> SequenceSet {
        let numbers: Vec<u32> = self
            .saved
            .iter()
            .filter_map(|&u| match uid {
                true => self.seq_of(u).map(|_| u),
                false => self.seq_of(u),
            })
            .collect();
        // Runs of consecutive numbers as ranges, so a big result stays small.
        let mut ranges: Vec<(SeqBound, SeqBound)> = Vec::new();
        for n in numbers {
            match ranges.last_mut() {
                Some((_, SeqBound::Num(hi))) if hi.checked_add(1) == Some(n) => *hi = n,
                _ => ranges.push((SeqBound::Num(n), SeqBound::Num(n))),
            }
        }
        SequenceSet(ranges)
    }

    /// Replaces every `$` in `kind` by the saved result (RFC 5182 §2.1).
    pub fn expand_saved(&self, kind: &mut CommandKind<'_>) {
        use CommandKind as K;
        let expand = |set: &mut SequenceSet, uid: bool| {
            if set.is_saved() {
                *set = self.saved_set(uid);
            }
        };
        match kind {
            K::Fetch(args) => expand(&mut args.set, args.uid),
            K::Store(args) => expand(&mut args.set, args.uid),
            K::Copy { uid, set, .. } | K::Move { uid, set, .. } => expand(set, *uid),
            K::UidExpunge(set) => expand(set, true),
            K::Search { key, .. } | K::Sort { key, .. } | K::Thread { key, .. } => {
                self.expand_key(key)
            }
            _ => {}
        }
    }

    fn expand_key(&self, key: &mut SearchKey<'_>) {
        match key {
            SearchKey::SequenceSet(set) if set.is_saved() => *set = self.saved_set(false),
            SearchKey::Uid(set) if set.is_saved() => *set = self.saved_set(true),
            SearchKey::Not(k) => self.expand_key(k),
            SearchKey::Or(a, b) => {
                self.expand_key(a);
                self.expand_key(b);
            }
            SearchKey::And(keys) => keys.iter_mut().for_each(|k| self.expand_key(k)),
            _ => {}
        }
    }
}

/// Whether a SEARCH or SORT with these options sends an ESEARCH response:
/// not when SAVE is the only option (RFC 5182 §2.1).
pub fn answers(ret: &SearchReturn) -> bool {
    ret.min || ret.max || ret.count || ret.all || ret.partial.is_some() || !ret.save
}

/// Whether a command that failed to parse was a SEARCH (or SORT) asking
/// to SAVE: its failure must empty `$` too (RFC 5182 §2.1). A rough look
/// at the words is enough: at worst `$` is emptied after a BAD.
pub fn failed_save(line: &[u8]) -> bool {
    let upper = line.to_ascii_uppercase();
    let words: Vec<&[u8]> = upper.split(|&b| b == b' ').take(3).collect();
    let search = matches!(
        words.as_slice(),
        [_, b"SEARCH" | b"SORT", ..] | [_, b"UID", b"SEARCH" | b"SORT", ..]
    );
    search && upper.windows(4).any(|w| w == b"SAVE")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::{Command, parse_command};

    fn view(uids: &[u32]) -> Selected {
        Selected {
            id: 1,
            read_only: false,
            uidvalidity: 7,
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

    fn expanded(sel: &Selected, line: &str) -> String {
        let Command { mut kind, .. } = parse_command(line.as_bytes()).unwrap();
        sel.expand_saved(&mut kind);
        format!("{kind:?}")
    }

    #[test]
    fn rfc5182_2_1_min_max_save_only_the_ends() {
        let mut sel = view(&[3, 5, 8, 9]);
        let ret = |min, max, all| SearchReturn {
            min,
            max,
            all,
            save: true,
            ..SearchReturn::default()
        };
        sel.save(&ret(true, true, false), &[9, 3, 5]);
        // First and last in result order (a SORT's, RFC 5267 §3.2).
        assert_eq!(sel.saved, [5, 9]);
        sel.save(&ret(true, false, true), &[9, 3, 5]);
        assert_eq!(sel.saved, [3, 5, 9]);
        assert!(!answers(&ret(false, false, false)));
        assert!(answers(&ret(true, false, false)));
    }

    #[test]
    fn rfc5182_2_1_dollar_becomes_uids_or_sequence_numbers() {
        let mut sel = view(&[3, 5, 8, 9, 12]);
        sel.saved = vec![5, 8, 9, 40];
        let uid = expanded(&sel, "a UID FETCH $ FLAGS");
        assert!(
            uid.contains("[(Num(5), Num(5)), (Num(8), Num(9))]"),
            "{uid}"
        );
        let seq = expanded(&sel, "a STORE $ +FLAGS (\\Seen)");
        assert!(seq.contains("[(Num(2), Num(4))]"), "{seq}");
        let key = expanded(&sel, "a SEARCH OR $ UID $");
        assert!(key.contains("SequenceSet([(Num(2), Num(4))])"), "{key}");
        assert!(key.contains("Uid(SequenceSet([(Num(5), Num(5))"), "{key}");
        sel.forget_saved();
        assert!(expanded(&sel, "a COPY $ x").contains("SequenceSet([])"));
    }

    #[test]
    fn a_failed_search_with_save_is_recognised() {
        assert!(failed_save(b"a SEARCH RETURN (SAVE) FROZ"));
        assert!(failed_save(b"a uid search return (save) x"));
        assert!(!failed_save(b"a FETCH 1 BODY[HEADER.FIELDS (SAVE)]"));
        assert!(!failed_save(b"a SEARCH SUBJECT x"));
    }
}
