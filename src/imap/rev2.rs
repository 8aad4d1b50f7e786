//! IMAP4rev2 (RFC 9051) beside IMAP4rev1: a session speaks rev1 until the
//! client sends `ENABLE IMAP4rev2` (RFC 9051 §6.3.1, RFC 5161), and from
//! then on the answers rev2 changed (RFC 9051 Appendix E) come its way.
//! Every switch between the two is here, so a rev1 session answers as it
//! always did.
//!
//! What rev2 changes for a server, and where smolmail does it:
//! - extensions folded into the base (NAMESPACE, UNSELECT, UIDPLUS,
//!   ESEARCH, ENABLE, IDLE, SASL-IR, LIST-EXTENDED, LIST-STATUS, MOVE,
//!   BINARY, SPECIAL-USE, STATUS=SIZE, CHILDREN's attributes, the RFC 5530
//!   response codes, `CLOSED`): all were already served to every session;
//!   SEARCHRES (RFC 5182) is in `searchres`;
//! - LITERAL-: non-synchronizing literals up to 4096 octets. LITERAL+ is
//!   advertised and takes them of any size, which covers it (RFC 7888 §4);
//! - SEARCH answers with ESEARCH, never `* SEARCH` (§6.4.4, §7.3.4):
//!   [`search_return`];
//! - \Recent, `* n RECENT`, STATUS RECENT and the NEW, OLD and RECENT
//!   search keys are gone (Appendix E): a rev2 view claims and shows no
//!   \Recent (`Selected::rev2`), and the items are refused ([`refused`]);
//! - mailbox names are UTF-8 on the wire, not modified UTF-7 (§5.1):
//!   `Session::utf8` is true for rev2;
//! - SELECT/EXAMINE send a LIST response for the mailbox (§6.3.2) and
//!   `OK [CLOSED]` when a mailbox was selected before (§7.1), and no
//!   `OK [UNSEEN]`, which §6.3.2 no longer lists: [`Session::select_list`]
//!   and `mailboxes`;
//! - LSUB and CHECK left the protocol (Appendix E: LIST (SUBSCRIBED) and
//!   NOOP replace them). Both are still answered in a rev2 session, as
//!   before: refusing them would only break a client that enabled rev2 by
//!   default and kept an old habit, and neither needs \Recent.

use std::borrow::Cow;

use super::list;
use super::parse::{
    CommandKind, ListArgs, ListReturn, ListSelection, SearchKey, SearchReturn, StatusItem,
};
use super::session::Session;
use super::status::{DeletedCounts, StatusSource, status_line};

/// The protocol revision a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rev {
    #[default]
    Rev1,
    /// After `ENABLE IMAP4rev2`.
    Rev2,
}

/// Why `kind` is not IMAP4rev2, for a session that enabled it; `None`
/// when it is (and always in rev1).
pub fn refused(kind: &CommandKind<'_>, rev: Rev) -> Option<&'static str> {
    if rev == Rev::Rev1 {
        return None;
    }
    use CommandKind as K;
    match kind {
        K::Status { items, .. } if items.contains(&StatusItem::Recent) => {
            Some("STATUS RECENT is not IMAP4rev2 (RFC 9051 E)")
        }
        K::List(ListArgs {
            returns:
                ListReturn {
                    status: Some(items),
                    ..
                },
            ..
        }) if items.contains(&StatusItem::Recent) => {
            Some("STATUS RECENT is not IMAP4rev2 (RFC 9051 E)")
        }
        K::Search { key, .. } | K::Sort { key, .. } | K::Thread { key, .. } if uses_recent(key) => {
            Some("NEW, OLD and RECENT are not IMAP4rev2 search keys (RFC 9051 E)")
        }
        _ => None,
    }
}

/// Whether a search key names \Recent (NEW, OLD, RECENT).
pub(super) fn uses_recent(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::New | SearchKey::Old | SearchKey::Recent => true,
        SearchKey::Not(k) => uses_recent(k),
        SearchKey::Or(a, b) => uses_recent(a) || uses_recent(b),
        SearchKey::And(keys) => keys.iter().any(uses_recent),
        _ => false,
    }
}

/// The result options a SEARCH answers with: in rev2 a SEARCH without
/// RETURN is `RETURN (ALL)`, answered by ESEARCH (RFC 9051 §6.4.4).
pub fn search_return(ret: Option<SearchReturn>, rev: Rev) -> Option<SearchReturn> {
    match (ret, rev) {
        (None, Rev::Rev2) => Some(SearchReturn {
            all: true,
            ..SearchReturn::default()
        }),
        (ret, _) => ret,
    }
}

impl Session {
    /// The `* LIST` of the mailbox being selected, which rev2's SELECT and
    /// EXAMINE send with its accurate attributes (RFC 9051 §6.3.2); the
    /// name (never holding `%` or `*`) is its own LIST pattern.
    pub fn select_list(&mut self, name: &str) {
        let account = self.account_id();
        let read = self.store().read().and_then(|r| {
            let subscriptions = r.subscriptions(account)?;
            Ok((r.mailboxes(account)?, subscriptions))
        });
        let (mailboxes, subscriptions) = match read {
            Ok(m) => m,
            Err(e) => {
                // The SELECT itself went through; only this line is lost.
                log::error!("[{}] imap: LIST for SELECT: {e}", self.id());
                return;
            }
        };
        let args = ListArgs {
            reference: Cow::Borrowed(b""),
            patterns: vec![Cow::Borrowed(name.as_bytes())],
            selection: ListSelection::default(),
            returns: ListReturn::default(),
            extended: false,
            utf8: true,
        };
        // No RETURN (STATUS ...): no DELETED counts are ever asked for.
        let deleted = DeletedCounts::new();
        let source = StatusSource {
            deleted: &deleted,
            append_limit: self.append_limit(),
            utf8: true,
        };
        list::list(
            self.out(),
            &mailboxes,
            &subscriptions,
            &args,
            false,
            &|out, m, items| status_line(out, m, items, &source),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::{Command, parse_command};

    fn kind(line: &str) -> CommandKind<'_> {
        let Command { kind, .. } = parse_command(line.as_bytes()).unwrap();
        kind
    }

    #[test]
    fn rfc9051_e_removed_items_refused_only_in_rev2() {
        for line in [
            "a STATUS INBOX (MESSAGES RECENT)",
            "a LIST \"\" * RETURN (STATUS (RECENT))",
            "a SEARCH NOT (OR NEW SEEN)",
            "a UID SEARCH OLD",
        ] {
            assert!(refused(&kind(line), Rev::Rev2).is_some(), "{line}");
            assert!(refused(&kind(line), Rev::Rev1).is_none(), "{line}");
        }
        for line in [
            "a LIST \"\" *",
            "a LSUB \"\" *",
            "a CHECK",
            "a STATUS INBOX (MESSAGES DELETED SIZE)",
            "a SEARCH SEEN",
        ] {
            assert!(refused(&kind(line), Rev::Rev2).is_none(), "{line}");
        }
    }

    #[test]
    fn rfc9051_6_4_4_plain_search_is_return_all_in_rev2() {
        assert_eq!(search_return(None, Rev::Rev1), None);
        let all = search_return(None, Rev::Rev2).unwrap();
        assert!(all.all && !all.min && !all.count && !all.save);
        let min = SearchReturn {
            min: true,
            ..SearchReturn::default()
        };
        assert_eq!(search_return(Some(min), Rev::Rev2), Some(min));
    }
}
