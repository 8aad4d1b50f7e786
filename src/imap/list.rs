//! LIST and LSUB (RFC 3501 §6.3.8-9) with LIST-EXTENDED (RFC 5258),
//! CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).
//!
//! Names are matched in their wire form (modified UTF-7), so a pattern and
//! a name compare byte for byte; `/` is the hierarchy delimiter. A name
//! that exists only as the parent of others is listed as \NonExistent (or
//! \Noselect for plain LIST), as RFC 3501 and RFC 5258 ask.

use std::cmp::Ordering;
use std::collections::HashSet;

use super::parse::{ListArgs, StatusItem};
use crate::store::Mailbox;
use crate::wire::imap::mutf7;

/// Whether `name` matches `pattern` (`*` any run, `%` any run without
/// `/`). Dynamic programming over both strings: no backtracking blow-up.
/// A run of wildcards is one wildcard (`*` if any is), and a pattern with
/// more literal bytes than the name cannot match, so the work is at most
/// about 2·len(name)² however long the pattern, with two buffers reused
/// for every pattern byte.
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let literals = pattern.iter().filter(|&&b| b != b'*' && b != b'%').count();
    if literals > name.len() {
        return false;
    }
    // reach[j]: the pattern so far can match name[..j].
    let mut reach = vec![false; name.len() + 1];
    let mut next = vec![false; name.len() + 1];
    reach[0] = true;
    let mut at = 0;
    while at < pattern.len() {
        let p = pattern[at];
        at += 1;
        if p == b'*' || p == b'%' {
            let mut any = p == b'*';
            while let Some(&q @ (b'*' | b'%')) = pattern.get(at) {
                any |= q == b'*';
                at += 1;
            }
            next[0] = reach[0];
            for j in 1..=name.len() {
                next[j] = reach[j] || (next[j - 1] && (any || name[j - 1] != b'/'));
            }
        } else {
            next[0] = false;
            for j in 1..=name.len() {
                next[j] = reach[j - 1] && name[j - 1] == p;
            }
        }
        std::mem::swap(&mut reach, &mut next);
    }
    reach[name.len()]
}

/// The full pattern: reference and pattern joined (RFC 3501 §6.3.8), with
/// a leading `INBOX` in any case made canonical.
fn full_pattern(reference: &[u8], pattern: &[u8]) -> Vec<u8> {
    let mut full = reference.to_vec();
    if !full.is_empty()
        && !full.ends_with(b"/")
        && !pattern.is_empty()
        && !pattern.starts_with(b"/")
    {
        // A reference names a level; Dovecot and Cyrus join with the
        // delimiter when the client left it out.
        full.push(b'/');
    }
    full.extend_from_slice(pattern);
    if full.len() >= 5
        && full[..5].eq_ignore_ascii_case(b"INBOX")
        && (full.len() == 5 || full[5] == b'/')
    {
        full[..5].copy_from_slice(b"INBOX");
    }
    full
}

/// One name to list: an existing mailbox or an implied parent.
struct Entry<'m> {
    wire: String,
    mailbox: Option<&'m Mailbox>,
    has_children: bool,
    subscribed_child: bool,
    /// Where the names below this one are in the sorted list.
    below: std::ops::Range<usize>,
}

/// The names of the levels above `name` (`a`, `a/b` for `a/b/c`).
fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('/').map(move |(i, _)| &name[..i])
}

/// Every name to list, existing and implied, in order, each with what
/// LIST says about its children. O(n log n) in the names (times their
/// depth, which the store's 1024-byte name limit bounds): one sort, then
/// a binary search for each name's children, which sort right after
/// `name/`, and a set of the names that have a subscribed child.
fn entries(mailboxes: &[Mailbox]) -> (Vec<(&str, Option<&Mailbox>)>, Vec<Entry<'_>>) {
    let mut names: Vec<(&str, Option<&Mailbox>)> = mailboxes
        .iter()
        .map(|m| (m.name.as_str(), Some(m)))
        .collect();
    // Implied parents of nested names.
    for m in mailboxes {
        names.extend(parents(&m.name).map(|p| (p, None)));
    }
    // An existing mailbox sorts before the same name implied; dedup keeps it.
    names.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.is_none().cmp(&b.1.is_none())));
    names.dedup_by(|later, first| later.0 == first.0);
    let with_subscribed_child: HashSet<&str> = mailboxes
        .iter()
        .filter(|m| m.subscribed)
        .flat_map(|m| parents(&m.name))
        .collect();
    let entries = names
        .iter()
        .map(|&(name, mailbox)| {
            let below = below_range(&names, name);
            Entry {
                wire: mutf7::encode(name),
                mailbox,
                has_children: !below.is_empty(),
                subscribed_child: with_subscribed_child.contains(name),
                below,
            }
        })
        .collect();
    (names, entries)
}

/// The names (in `sorted`) below `name`: those starting with `name/`,
/// which form one run in sorted order, found by two binary searches.
fn below_range(sorted: &[(&str, Option<&Mailbox>)], name: &str) -> std::ops::Range<usize> {
    let prefix = || name.bytes().chain(std::iter::once(b'/'));
    let start = sorted.partition_point(|n| n.0.bytes().cmp(prefix()) == Ordering::Less);
    let len = sorted[start..].partition_point(|n| {
        n.0.len() > name.len() && n.0.starts_with(name) && n.0.as_bytes()[name.len()] == b'/'
    });
    start..start + len
}

/// Writes the `* STATUS` line of a mailbox (LIST-STATUS).
pub type StatusRenderer = dyn Fn(&mut Vec<u8>, &Mailbox, &[StatusItem]);

/// Renders the LIST (or LSUB) response for `args`; `status` renders the
/// STATUS line of a mailbox for LIST-STATUS.
pub fn list(
    out: &mut Vec<u8>,
    mailboxes: &[Mailbox],
    args: &ListArgs,
    lsub: bool,
    status: &StatusRenderer,
) {
    let verb = if lsub { "LSUB" } else { "LIST" };
    if args.patterns.len() == 1 && args.patterns[0].is_empty() && !lsub {
        // RFC 3501: an empty pattern asks for the delimiter and root.
        out.extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
        return;
    }
    let patterns: Vec<Vec<u8>> = args
        .patterns
        .iter()
        .map(|p| full_pattern(&args.reference, p))
        .collect();
    let subscribed_only = lsub || args.selection.subscribed;
    let (names, entries) = entries(mailboxes);
    for entry in entries {
        if !patterns.iter().any(|p| matches(p, entry.wire.as_bytes())) {
            continue;
        }
        let subscribed = entry.mailbox.is_some_and(|m| m.subscribed);
        // RECURSIVEMATCH: a parent whose child is subscribed is listed
        // with CHILDINFO (RFC 5258 §3.5).
        let childinfo = args.selection.recursive_match && entry.subscribed_child;
        // RFC 3501 §6.3.9: LSUB lists an unsubscribed parent (as
        // \Noselect) only when a subscribed child is hidden by `%`.
        // Looked for only when it decides (the children are walked then).
        let hidden_child = || {
            names[entry.below.clone()]
                .iter()
                .filter_map(|&(_, m)| m.filter(|m| m.subscribed))
                .any(|m| {
                    let wire = mutf7::encode(&m.name);
                    !patterns.iter().any(|p| matches(p, wire.as_bytes()))
                })
        };
        let listed = !subscribed_only || subscribed || childinfo || (lsub && hidden_child());
        if !listed {
            continue;
        }
        if args.selection.special_use
            && entry
                .mailbox
                .is_none_or(|m| m.special_use.attribute().is_none())
        {
            continue;
        }
        let mut attrs: Vec<&str> = Vec::new();
        match entry.mailbox {
            None if args.extended => attrs.push("\\NonExistent"),
            None => attrs.push("\\Noselect"),
            Some(_) if lsub && !subscribed => attrs.push("\\Noselect"),
            Some(_) => {}
        }
        if !lsub {
            attrs.push(if entry.has_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            });
        }
        if let Some(special) = entry.mailbox.and_then(|m| m.special_use.attribute()) {
            attrs.push(special);
        }
        if subscribed && !lsub && (args.returns.subscribed || args.selection.subscribed) {
            attrs.push("\\Subscribed");
        }
        out.extend_from_slice(format!("* {verb} ({}) \"/\" ", attrs.join(" ")).as_bytes());
        crate::wire::imap::quote::string(out, entry.wire.as_bytes());
        if childinfo && args.extended {
            out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        }
        out.extend_from_slice(b"\r\n");
        if let (Some(items), Some(m)) = (&args.returns.status, entry.mailbox) {
            status(out, m, items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches(b"*", b"a/b/c"));
        assert!(matches(b"%", b"INBOX"));
        assert!(!matches(b"%", b"a/b"));
        assert!(matches(b"a/%", b"a/b"));
        assert!(!matches(b"a/%", b"a/b/c"));
        assert!(matches(b"a*c", b"a/b/c"));
        assert!(matches(b"INBOX", b"INBOX"));
        assert!(!matches(b"INBOX", b"INBOX2"));
        assert!(matches(&[b'*'; 200], b"x"));
    }

    #[test]
    fn long_patterns_cost_at_most_the_name_squared() {
        // 64 KiB of `%a` against a short name: rejected by counting; a
        // wildcard run is one wildcard.
        let pattern = b"%a".repeat(32 * 1024);
        assert!(!matches(&pattern, b"aaaa"));
        let mut stars = vec![b'%'; 64 * 1024];
        stars.extend_from_slice(b"*x");
        assert!(matches(&stars, b"a/b/x"));
        assert!(!matches(&vec![b'%'; 64 * 1024], b"a/b"));
    }

    fn mailbox(name: &str, subscribed: bool) -> Mailbox {
        Mailbox {
            id: 1,
            account_id: 1,
            name: name.to_string(),
            uidvalidity: 1,
            uidnext: 1,
            highest_modseq: 1,
            special_use: crate::store::SpecialUse::None,
            subscribed,
            messages: 0,
            unseen: 0,
            recent: 0,
            bytes: 0,
        }
    }

    #[test]
    fn children_and_implied_parents() {
        let boxes = [
            mailbox("a/b/c", false),
            mailbox("a", false),
            mailbox("a-z", false),
            mailbox("x/y", true),
            mailbox("a/b2", true),
        ];
        let (names, entries) = entries(&boxes);
        let listed: Vec<(&str, bool, bool, bool)> = entries
            .iter()
            .map(|e| {
                (
                    e.wire.as_str(),
                    e.mailbox.is_some(),
                    e.has_children,
                    e.subscribed_child,
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("a", true, true, true),
                ("a-z", true, false, false),
                ("a/b", false, true, false),
                ("a/b/c", true, false, false),
                ("a/b2", true, false, false),
                ("x", false, true, true),
                ("x/y", true, false, false),
            ]
        );
        let below: Vec<&str> = names[entries[0].below.clone()]
            .iter()
            .map(|n| n.0)
            .collect();
        assert_eq!(below, ["a/b", "a/b/c", "a/b2"]);
    }

    #[test]
    fn many_mailboxes_list_in_n_log_n() {
        // 20 000 mailboxes under 100 parents: comparing every name with
        // every other (the old way) is 4·10⁸ prefix tests, and the
        // implied-parent check as many again.
        let boxes: Vec<Mailbox> = (0..20_000)
            .map(|i| mailbox(&format!("p{}/m{i}", i % 100), i % 7 == 0))
            .collect();
        let (_, entries) = entries(&boxes);
        assert_eq!(entries.len(), 20_100);
        assert_eq!(entries.iter().filter(|e| e.has_children).count(), 100);
    }

    #[test]
    fn references_join() {
        assert_eq!(full_pattern(b"", b"inbox"), b"INBOX");
        assert_eq!(full_pattern(b"Work", b"%"), b"Work/%");
        assert_eq!(full_pattern(b"Work/", b"%"), b"Work/%");
        assert_eq!(full_pattern(b"", b"Inbox/sub"), b"INBOX/sub");
    }
}
