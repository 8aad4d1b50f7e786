//! LIST and LSUB (RFC 3501 §6.3.8-9) with LIST-EXTENDED (RFC 5258),
//! CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).
//!
//! Names are matched in their wire form (modified UTF-7), so a pattern and
//! a name compare byte for byte; `/` is the hierarchy delimiter. A name
//! that exists only as the parent of others is listed as \NonExistent (or
//! \Noselect for plain LIST), as RFC 3501 and RFC 5258 ask.

use super::parse::{ListArgs, StatusItem};
use crate::store::Mailbox;
use crate::wire::imap::mutf7;

/// Whether `name` matches `pattern` (`*` any run, `%` any run without
/// `/`). Dynamic programming over both strings: no backtracking blow-up.
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    // reach[j]: pattern[..i] can match name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            b'*' | b'%' => {
                for j in 0..=name.len() {
                    next[j] =
                        reach[j] || (j > 0 && next[j - 1] && (p == b'*' || name[j - 1] != b'/'));
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
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
    /// Wire names of the subscribed mailboxes below this one.
    subscribed_below: Vec<String>,
}

fn entries(mailboxes: &[Mailbox]) -> Vec<Entry<'_>> {
    let mut names: Vec<(String, Option<&Mailbox>)> = mailboxes
        .iter()
        .map(|m| (m.name.clone(), Some(m)))
        .collect();
    // Implied parents of nested names.
    for m in mailboxes {
        let mut end = 0;
        while let Some(i) = m.name[end..].find('/') {
            let parent = &m.name[..end + i];
            if !names.iter().any(|(n, _)| n == parent) {
                names.push((parent.to_string(), None));
            }
            end += i + 1;
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    names
        .iter()
        .map(|(name, mailbox)| {
            let prefix = format!("{name}/");
            let below = mailboxes.iter().filter(|m| m.name.starts_with(&prefix));
            let (mut has_children, mut subscribed_below) = (false, Vec::new());
            for m in below {
                has_children = true;
                if m.subscribed {
                    subscribed_below.push(mutf7::encode(&m.name));
                }
            }
            let subscribed_child = !subscribed_below.is_empty();
            Entry {
                wire: mutf7::encode(name),
                mailbox: *mailbox,
                has_children,
                subscribed_child,
                subscribed_below,
            }
        })
        .collect()
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
    for entry in entries(mailboxes) {
        if !patterns.iter().any(|p| matches(p, entry.wire.as_bytes())) {
            continue;
        }
        let subscribed = entry.mailbox.is_some_and(|m| m.subscribed);
        // RECURSIVEMATCH: a parent whose child is subscribed is listed
        // with CHILDINFO (RFC 5258 §3.5).
        let childinfo = args.selection.recursive_match && entry.subscribed_child;
        // RFC 3501 §6.3.9: LSUB lists an unsubscribed parent (as
        // \Noselect) only when a subscribed child is hidden by `%`.
        let hidden_child = lsub
            && entry
                .subscribed_below
                .iter()
                .any(|c| !patterns.iter().any(|p| matches(p, c.as_bytes())));
        if subscribed_only && !subscribed && !childinfo && !hidden_child {
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
    fn references_join() {
        assert_eq!(full_pattern(b"", b"inbox"), b"INBOX");
        assert_eq!(full_pattern(b"Work", b"%"), b"Work/%");
        assert_eq!(full_pattern(b"Work/", b"%"), b"Work/%");
        assert_eq!(full_pattern(b"", b"Inbox/sub"), b"INBOX/sub");
    }
}
