//! Keyword bounds and set operations for the writer (RFC 3501 §2.3.2:
//! keywords are case-insensitive atoms).
//!
//! A client chooses how many keywords it sends and how many messages a
//! STORE touches, and all of it runs on the one writer thread: so each
//! list is deduplicated by sorting, O(k log k), instead of comparing every
//! keyword with every other, and there are caps per message and per
//! mailbox. Past a cap the write is refused ([`StoreError::Limit`]; IMAP
//! answers `NO [LIMIT]`, RFC 5530 §3). The caps follow Cyrus IMAP, whose
//! index holds 128 user flags per mailbox; real clients use a handful
//! ($Forwarded, $Junk, $MDNSent, Thunderbird's $label1..5, a few tags).

use std::cmp::Ordering;

use heed::RwTxn;

use super::read::MessageView;
use super::schema::Dbs;
use super::{StoreError, keys};

/// Most keywords one message may carry.
pub const MAX_PER_MESSAGE: usize = 64;
/// Most distinct keywords the messages of one mailbox may carry; once a
/// mailbox has them, PERMANENTFLAGS stops offering `\*`.
pub const MAX_PER_MAILBOX: usize = 128;

/// Compares keywords as IMAP does, ignoring ASCII case, without
/// allocating.
pub fn cmp(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Drops repeated keywords (ignoring case), keeping each one's first
/// spelling and the list's order: O(k log k).
pub fn dedup<S: AsRef<str>>(keywords: &mut Vec<S>) {
    let mut order: Vec<usize> = (0..keywords.len()).collect();
    // Stable: among equal keywords the first written comes first.
    order.sort_by(|&a, &b| cmp(keywords[a].as_ref(), keywords[b].as_ref()));
    let mut keep = vec![true; keywords.len()];
    for pair in order.windows(2) {
        if cmp(keywords[pair[0]].as_ref(), keywords[pair[1]].as_ref()) == Ordering::Equal {
            keep[pair[1]] = false;
        }
    }
    let mut index = 0;
    keywords.retain(|_| {
        index += 1;
        keep[index - 1]
    });
}

/// A deduplicated list of keywords sorted for lookups.
pub struct Lookup<'k>(Vec<&'k str>);

impl<'k> Lookup<'k> {
    pub fn new(keywords: impl IntoIterator<Item = &'k str>) -> Lookup<'k> {
        let mut v: Vec<&str> = keywords.into_iter().collect();
        v.sort_by(|a, b| cmp(a, b));
        v.dedup_by(|a, b| cmp(a, b) == Ordering::Equal);
        Lookup(v)
    }

    /// The keyword's place in the list, if it is there: O(log k).
    pub fn find(&self, keyword: &str) -> Option<usize> {
        self.0.binary_search_by(|k| cmp(k, keyword)).ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Refuses a message with more than [`MAX_PER_MESSAGE`] keywords.
pub fn check_message(count: usize) -> Result<(), StoreError> {
    if count > MAX_PER_MESSAGE {
        return Err(StoreError::Limit(format!(
            "a message may have at most {MAX_PER_MESSAGE} keywords"
        )));
    }
    Ok(())
}

/// Refuses `adding` to mailbox `mailbox_id` when the keywords new to the
/// mailbox would take it past [`MAX_PER_MAILBOX`]. Keywords it has already
/// are always fine. One pass over the mailbox's messages (the store keeps
/// no keyword list per mailbox; SELECT derives FLAGS the same way), made
/// only for writes that add keywords.
pub fn check_mailbox(
    txn: &RwTxn,
    dbs: &Dbs,
    mailbox_id: u64,
    adding: &Lookup<'_>,
) -> Result<(), StoreError> {
    if adding.is_empty() {
        return Ok(());
    }
    let mut present = vec![false; adding.len()];
    let mut found = 0;
    // Distinct keywords seen, counted up to the cap (more cannot matter).
    let mut seen: Vec<String> = Vec::new();
    for entry in dbs
        .messages
        .prefix_iter(txn, &keys::messages_of(mailbox_id))?
    {
        let (k, v) = entry?;
        let uid = keys::message_uid(k).ok_or_else(|| StoreError::Corrupt("message key".into()))?;
        for word in MessageView::decode(uid, v)?.keywords() {
            if let Some(i) = adding.find(word)
                && !present[i]
            {
                present[i] = true;
                found += 1;
            }
            if seen.len() <= MAX_PER_MAILBOX
                && let Err(at) = seen.binary_search_by(|s| cmp(s, word))
            {
                seen.insert(at, word.to_string());
            }
        }
        // Every keyword is in the mailbox already: nothing new, so no cap
        // can be passed. This stops the scan early for the common case of
        // the usual few keywords ($Forwarded, $Junk), which keeps an import
        // of a large mailbox linear instead of scanning it per message.
        if found == adding.len() {
            return Ok(());
        }
    }
    let new = present.iter().filter(|p| !**p).count();
    if new > 0 && seen.len() + new > MAX_PER_MAILBOX {
        return Err(StoreError::Limit(format!(
            "a mailbox may have at most {MAX_PER_MAILBOX} keywords"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_first_spelling_and_order() {
        let mut k = vec!["$b", "x", "$B", "a", "X", "$b"];
        dedup(&mut k);
        assert_eq!(k, ["$b", "x", "a"]);
    }

    #[test]
    fn many_keywords_dedup_in_k_log_k() {
        // 200 000 keywords, half of them repeats: comparing each with every
        // kept one (the old way) is about 10¹⁰ comparisons.
        let mut k: Vec<String> = (0..200_000).map(|i| format!("k{}", i % 100_000)).collect();
        dedup(&mut k);
        assert_eq!(k.len(), 100_000);
        assert_eq!(k[99_999], "k99999");
        let lookup = Lookup::new(k.iter().map(String::as_str));
        assert_eq!(lookup.len(), 100_000);
        assert!(lookup.find("K5").is_some() && lookup.find("k100000").is_none());
    }

    #[test]
    fn message_cap() {
        assert!(check_message(MAX_PER_MESSAGE).is_ok());
        assert!(matches!(
            check_message(MAX_PER_MESSAGE + 1),
            Err(StoreError::Limit(_))
        ));
    }
}
