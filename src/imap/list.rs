//! LIST and LSUB (RFC 3501 §6.3.8-9) with LIST-EXTENDED (RFC 5258),
//! CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).
//!
//! Names are matched in their wire form (modified UTF-7), so a pattern and
//! a name compare byte for byte; `/` is the hierarchy delimiter. A name
//! that exists only as the parent of others is listed as \NonExistent (or
//! \Noselect for plain LIST), as RFC 3501 and RFC 5258 ask. Subscribed
//! names are the store's list of names, not a property of mailboxes: LSUB
//! and LIST (SUBSCRIBED) show them whether the mailbox still exists or not
//! (\NonExistent then), plain LIST only what exists.

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

/// The full pattern: the reference and the pattern concatenated, as RFC
/// 3501 §6.3.8 has it and Dovecot does (`LIST "INB" "OX"` finds INBOX,
/// `LIST "Work" "*"` finds Work and everything below it), with a leading
/// `INBOX` in any case made canonical.
fn full_pattern(reference: &[u8], pattern: &[u8]) -> Vec<u8> {
    let mut full = reference.to_vec();
    full.extend_from_slice(pattern);
    if full.len() >= 5
        && full[..5].eq_ignore_ascii_case(b"INBOX")
        && (full.len() == 5 || full[5] == b'/')
    {
        full[..5].copy_from_slice(b"INBOX");
    }
    full
}

/// Why a name is a candidate, in order of precedence: a name that is
/// both a mailbox and subscribed is a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Exists,
    /// The parent of a mailbox, with no mailbox of its own.
    Implied,
    /// Subscribed, but no mailbox has the name (any more).
    Subscribed,
    /// The parent of a subscribed name, for LSUB's `%` (RFC 3501 §6.3.9).
    SubscribedParent,
}

/// A candidate name, what it is, and its mailbox if it exists.
type Named<'m> = (&'m str, Kind, Option<&'m Mailbox>);

/// One name to list.
struct Entry<'m> {
    wire: String,
    mailbox: Option<&'m Mailbox>,
    /// A mailbox or the parent of one: what plain LIST shows.
    real: bool,
    subscribed: bool,
    /// Has a child that is a mailbox or the parent of one.
    has_children: bool,
    subscribed_child: bool,
    /// Where the names below this one are in the sorted list.
    below: std::ops::Range<usize>,
}

/// The names of the levels above `name` (`a`, `a/b` for `a/b/c`).
fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('/').map(move |(i, _)| &name[..i])
}

/// Every candidate name, mailboxes, their parents and subscribed names
/// (`subscriptions`, sorted), in order, each with what LIST says about
/// its children. O(n log n) in the names (times their depth, which the
/// store's 1024-byte name limit bounds): one sort, then a binary search
/// for each name's children, which sort right after `name/`.
fn entries<'m>(
    mailboxes: &'m [Mailbox],
    subscriptions: &'m [String],
) -> (Vec<Named<'m>>, Vec<Entry<'m>>) {
    let mut names: Vec<Named<'m>> = Vec::new();
    for m in mailboxes {
        names.push((m.name.as_str(), Kind::Exists, Some(m)));
        names.extend(parents(&m.name).map(|p| (p, Kind::Implied, None)));
    }
    for s in subscriptions {
        names.push((s.as_str(), Kind::Subscribed, None));
        names.extend(parents(s).map(|p| (p, Kind::SubscribedParent, None)));
    }
    names.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    names.dedup_by(|later, first| later.0 == first.0);
    let with_subscribed_child: HashSet<&str> =
        subscriptions.iter().flat_map(|s| parents(s)).collect();
    let entries = names
        .iter()
        .map(|&(name, kind, mailbox)| {
            let below = below_range(&names, name);
            Entry {
                wire: mutf7::encode(name),
                mailbox,
                real: kind <= Kind::Implied,
                subscribed: is_subscribed(subscriptions, name),
                has_children: names[below.clone()].iter().any(|n| n.1 <= Kind::Implied),
                subscribed_child: with_subscribed_child.contains(name),
                below,
            }
        })
        .collect();
    (names, entries)
}

fn is_subscribed(subscriptions: &[String], name: &str) -> bool {
    subscriptions
        .binary_search_by(|s| s.as_str().cmp(name))
        .is_ok()
}

/// The names (in `sorted`) below `name`: those starting with `name/`,
/// which form one run in sorted order, found by two binary searches.
fn below_range(sorted: &[Named<'_>], name: &str) -> std::ops::Range<usize> {
    let prefix = || name.bytes().chain(std::iter::once(b'/'));
    let start = sorted.partition_point(|n| n.0.bytes().cmp(prefix()) == Ordering::Less);
    let len = sorted[start..].partition_point(|n| {
        n.0.len() > name.len() && n.0.starts_with(name) && n.0.as_bytes()[name.len()] == b'/'
    });
    start..start + len
}

/// Writes the `* STATUS` line of a mailbox (LIST-STATUS).
pub type StatusRenderer = dyn Fn(&mut Vec<u8>, &Mailbox, &[StatusItem]);

/// Renders the LIST (or LSUB) response for `args` over the account's
/// mailboxes and its subscribed names (sorted); `status` renders the
/// STATUS line of a mailbox for LIST-STATUS.
pub fn list(
    out: &mut Vec<u8>,
    mailboxes: &[Mailbox],
    subscriptions: &[String],
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
    let (names, entries) = entries(mailboxes, subscriptions);
    for entry in entries {
        if !patterns.iter().any(|p| matches(p, entry.wire.as_bytes())) {
            continue;
        }
        let subscribed = entry.subscribed;
        // RFC 3501 §6.3.9 (LSUB) and RFC 5258 §3.5 (RECURSIVEMATCH): an
        // unsubscribed parent is listed for a subscribed descendant that
        // the patterns do not return themselves (LSUB's `%` case).
        // Looked for only when it decides (the children are walked then).
        let hidden_child = || {
            names[entry.below.clone()]
                .iter()
                .filter(|n| is_subscribed(subscriptions, n.0))
                .any(|n| {
                    let wire = mutf7::encode(n.0);
                    !patterns.iter().any(|p| matches(p, wire.as_bytes()))
                })
        };
        let recursive = args.selection.recursive_match && entry.subscribed_child;
        let listed = if lsub {
            subscribed || hidden_child()
        } else if args.selection.subscribed {
            // RFC 5258 §3: subscribed names, existing or not.
            subscribed || (recursive && hidden_child())
        } else {
            entry.real
        };
        // CHILDINFO goes with every listed name that has a subscribed
        // child, subscribed itself or not (RFC 5258 example 9; Dovecot
        // answers so).
        let childinfo = recursive;
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
        if lsub {
            // LSUB's \Noselect means "not subscribed itself" (§6.3.9).
            if !subscribed {
                attrs.push("\\Noselect");
            }
        } else {
            match entry.mailbox {
                None if args.extended || !entry.real => attrs.push("\\NonExistent"),
                None => attrs.push("\\Noselect"),
                Some(_) => {}
            }
            if entry.real {
                attrs.push(if entry.has_children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
            }
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

    fn mailbox(name: &str) -> Mailbox {
        Mailbox {
            id: 1,
            account_id: 1,
            name: name.to_string(),
            uidvalidity: 1,
            uidnext: 1,
            highest_modseq: 1,
            special_use: crate::store::SpecialUse::None,
            messages: 0,
            unseen: 0,
            recent: 0,
            bytes: 0,
        }
    }

    #[test]
    fn children_implied_parents_and_subscribed_names() {
        let boxes = [
            mailbox("a/b/c"),
            mailbox("a"),
            mailbox("a-z"),
            mailbox("x/y"),
            mailbox("a/b2"),
        ];
        // "gone/z" no longer exists; "x/y" and "a/b2" do.
        let subs = ["a/b2", "gone/z", "x/y"].map(String::from);
        let (names, entries) = entries(&boxes, &subs);
        let listed: Vec<(&str, bool, bool, bool, bool, bool)> = entries
            .iter()
            .map(|e| {
                (
                    e.wire.as_str(),
                    e.mailbox.is_some(),
                    e.real,
                    e.subscribed,
                    e.has_children,
                    e.subscribed_child,
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("a", true, true, false, true, true),
                ("a-z", true, true, false, false, false),
                ("a/b", false, true, false, true, false),
                ("a/b/c", true, true, false, false, false),
                ("a/b2", true, true, true, false, false),
                ("gone", false, false, false, false, true),
                ("gone/z", false, false, true, false, false),
                ("x", false, true, false, true, true),
                ("x/y", true, true, true, false, false),
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
            .map(|i| mailbox(&format!("p{}/m{i}", i % 100)))
            .collect();
        let mut subs: Vec<String> = (0..20_000)
            .step_by(7)
            .map(|i| format!("p{}/m{i}", i % 100))
            .collect();
        subs.sort();
        let (_, entries) = entries(&boxes, &subs);
        assert_eq!(entries.len(), 20_100);
        assert_eq!(entries.iter().filter(|e| e.has_children).count(), 100);
    }

    #[test]
    fn rfc3501_6_3_8_reference_and_pattern_concatenate() {
        assert_eq!(full_pattern(b"", b"inbox"), b"INBOX");
        assert_eq!(full_pattern(b"INB", b"OX"), b"INBOX");
        assert_eq!(full_pattern(b"Work", b"*"), b"Work*");
        assert_eq!(full_pattern(b"Work/", b"%"), b"Work/%");
        assert_eq!(full_pattern(b"", b"Inbox/sub"), b"INBOX/sub");
    }
}
