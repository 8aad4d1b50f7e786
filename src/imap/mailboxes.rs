//! Mailbox commands (RFC 3501 §6.3): SELECT/EXAMINE (with CONDSTORE and
//! QRESYNC, RFC 7162), CREATE (with SPECIAL-USE, RFC 6154), DELETE,
//! RENAME, SUBSCRIBE/UNSUBSCRIBE, LIST/LSUB, STATUS, APPEND (with UIDPLUS,
//! RFC 4315), CLOSE and UNSELECT (RFC 3691).

use std::borrow::Cow;

use super::list;
use super::parse::{
    ListArgs, ListReturn, ListSelection, Mailbox as Name, QresyncParams, SelectArgs,
    SpecialUse as Use, StatusItem,
};
use super::selected::{Selected, flags_update, split_flags, vanished_earlier};
use super::session::Session;
use super::status::{
    self, DeletedCounts, StatusSource, deleted_counts, status_line, wants_deleted,
};
use crate::store::{Delivery, Flags, Mailbox, Reader, SpecialUse, StoreError, keyword_limits};

/// Why a mailbox name is unusable.
const BAD_NAME: &str = "Invalid mailbox name";

impl Session {
    /// The stored (UTF-8) name of a mailbox argument; `None` if invalid.
    pub fn mailbox_name(&self, name: &Name) -> Option<String> {
        if name.is_inbox() {
            return Some("INBOX".into());
        }
        // RFC 6855 §3: after ENABLE UTF8=ACCEPT names come as UTF-8.
        let decoded = if self.utf8() {
            String::from_utf8(name.as_bytes().to_vec()).ok()?
        } else {
            crate::wire::imap::mutf7::decode(name.as_bytes()).ok()?
        };
        let decoded = decoded.strip_suffix('/').unwrap_or(&decoded).to_string();
        let valid = !decoded.is_empty()
            && decoded.len() <= 1024
            && !decoded.starts_with('/')
            && !decoded.contains("//")
            && !decoded
                .chars()
                .any(|c| c.is_control() || c == '*' || c == '%');
        valid.then_some(decoded)
    }

    /// Looks a mailbox up by name; answers NO and returns `None` if it
    /// does not exist or the store fails.
    pub fn find_mailbox(&mut self, tag: &[u8], name: &Name, missing: &str) -> Option<Mailbox> {
        let Some(name) = self.mailbox_name(name) else {
            self.tagged(tag, "NO", BAD_NAME);
            return None;
        };
        match self
            .store()
            .read()
            .and_then(|r| r.mailbox(self.account_id(), &name))
        {
            Ok(Some(m)) => Some(m),
            Ok(None) => {
                self.tagged(tag, "NO", missing);
                None
            }
            Err(e) => {
                self.store_failed(tag, &e);
                None
            }
        }
    }

    pub fn store_failed(&mut self, tag: &[u8], e: &StoreError) {
        if let StoreError::Limit(why) = e {
            // RFC 5530 §3: the client's request passed a fixed bound; not
            // the store's fault, so no ERROR line.
            log::info!("[{}] imap: refused: {why}", self.id());
            return self.tagged(tag, "NO", &format!("[LIMIT] {why}"));
        }
        match e {
            // The client's mistake, answered NO; nothing is wrong here.
            StoreError::Exists(_) | StoreError::NotFound(_) | StoreError::Invalid(_) => {
                log::info!("[{}] imap: refused: {e}", self.id())
            }
            e => log::log!(e.log_level(), "[{}] imap: store error: {e}", self.id()),
        }
        match e {
            StoreError::Full => self.tagged(tag, "NO", "[OVERQUOTA] The mail store is full"),
            e if e.is_temporary() => {
                self.tagged(tag, "NO", "[UNAVAILABLE] Temporary failure; try again")
            }
            StoreError::Exists(_) => self.tagged(tag, "NO", "[ALREADYEXISTS] Mailbox exists"),
            StoreError::NotFound(_) => self.tagged(tag, "NO", "[NONEXISTENT] No such mailbox"),
            other => self.tagged(tag, "NO", &format!("[SERVERBUG] {other}")),
        }
    }

    /// SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2) with CONDSTORE and
    /// QRESYNC (RFC 7162 §3.1.8, §3.2.5).
    pub async fn select(&mut self, tag: &[u8], args: SelectArgs<'_>, read_only: bool) {
        if self.set_selected(None).is_some() && (self.qresync() || self.rev2()) {
            // RFC 7162 §3.2.11, RFC 9051 §7.1: the previous mailbox is closed.
            self.put("* OK [CLOSED] Previous mailbox closed\r\n");
        }
        if args.qresync.is_some() && !self.qresync() {
            self.bad(tag, "QRESYNC must be enabled first");
            return;
        }
        let Some(mailbox) = self.find_mailbox(tag, &args.mailbox, "[NONEXISTENT] No such mailbox")
        else {
            return;
        };
        if args.condstore || args.qresync.is_some() {
            self.use_condstore();
        }
        let rev2 = self.rev2();
        let recent = match read_only {
            // EXAMINE claims nothing; rev2 knows no \Recent (RFC 9051 E).
            true => None,
            false if rev2 => Some(Vec::new()),
            false => match self.store().claim_recent(mailbox.id).await {
                Ok(r) => Some(r),
                Err(e) => return self.store_failed(tag, &e),
            },
        };
        let reader = match self.store().read() {
            Ok(r) => r,
            Err(e) => return self.store_failed(tag, &e),
        };
        let Ok(Some(mailbox)) = reader.mailbox_by_id(mailbox.id) else {
            return self.tagged(tag, "NO", "[NONEXISTENT] No such mailbox");
        };
        let Ok(mut opened) = Opened::read(&reader, &mailbox, read_only, recent, rev2) else {
            return self.tagged(tag, "NO", "[UNAVAILABLE] Cannot read the mailbox");
        };
        let out = self.out();
        opened.announce(out);
        // QRESYNC (RFC 7162 §3.2.5): what changed since the client's cache.
        if let Some(q) = &args.qresync
            && q.uid_validity == opened.sel.uidvalidity
        {
            qresync_changes(out, &reader, &mut opened.sel, q);
        }
        drop(reader);
        self.set_selected(Some(opened.sel));
        if rev2 {
            self.select_list(&mailbox.name);
        }
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        self.tagged(tag, "OK", &format!("[{code}] {verb} completed"));
    }

    pub async fn create(&mut self, tag: &[u8], name: &Name<'_>, uses: &[Use<'_>]) {
        let Some(name) = self.mailbox_name(name) else {
            return self.tagged(tag, "NO", BAD_NAME);
        };
        if name == "INBOX" || name.eq_ignore_ascii_case("INBOX") {
            return self.tagged(tag, "NO", "[ALREADYEXISTS] INBOX always exists");
        }
        let special = match uses {
            [] => SpecialUse::None,
            [one] => match one {
                Use::Archive => SpecialUse::Archive,
                Use::Drafts => SpecialUse::Drafts,
                Use::Junk => SpecialUse::Junk,
                Use::Sent => SpecialUse::Sent,
                Use::Trash => SpecialUse::Trash,
                _ => {
                    return self.tagged(
                        tag,
                        "NO",
                        "[USEATTR] That special-use attribute is not supported",
                    );
                }
            },
            _ => return self.tagged(tag, "NO", "[USEATTR] One special-use attribute per mailbox"),
        };
        let account = self.account_id();
        // RFC 3501 §6.3.3: create the superior names that are needed.
        let mut parent_end = 0;
        while let Some(i) = name[parent_end..].find('/') {
            let parent = &name[..parent_end + i];
            if let Ok(None) = self.store().read().and_then(|r| r.mailbox(account, parent)) {
                let _ = self
                    .store()
                    .create_mailbox(account, parent, SpecialUse::None)
                    .await;
            }
            parent_end += i + 1;
        }
        match self.store().create_mailbox(account, &name, special).await {
            // RFC 8474 §4.1: CREATE says the new mailbox's MAILBOXID.
            Ok(id) => self.tagged(
                tag,
                "OK",
                &format!(
                    "[MAILBOXID ({})] CREATE completed",
                    super::objectid::mailbox_id(id)
                ),
            ),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    pub async fn delete(&mut self, tag: &[u8], name: &Name<'_>) {
        if name.is_inbox() {
            return self.tagged(tag, "NO", "INBOX cannot be deleted");
        }
        let Some(mailbox) = self.find_mailbox(tag, name, "[NONEXISTENT] No such mailbox") else {
            return;
        };
        if self.selected().is_some_and(|s| s.id == mailbox.id) {
            self.set_selected(None);
        }
        match self.store().delete_mailbox(mailbox.id).await {
            Ok(()) => self.tagged(tag, "OK", "DELETE completed"),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    pub async fn rename(&mut self, tag: &[u8], from: &Name<'_>, to: &Name<'_>) {
        let Some(source) = self.find_mailbox(tag, from, "[NONEXISTENT] No such mailbox") else {
            return;
        };
        let Some(target) = self.mailbox_name(to) else {
            return self.tagged(tag, "NO", BAD_NAME);
        };
        if target.eq_ignore_ascii_case("INBOX") {
            return self.tagged(tag, "NO", "[ALREADYEXISTS] INBOX always exists");
        }
        match self.store().rename_mailbox(source.id, &target).await {
            Ok(()) => self.tagged(tag, "OK", "RENAME completed"),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    /// SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6-7): names, kept when
    /// the mailbox goes. SUBSCRIBE wants an existing mailbox and
    /// UNSUBSCRIBE does not (so a deleted one's name can be dropped), as
    /// Dovecot answers.
    pub async fn subscribe(&mut self, tag: &[u8], name: &Name<'_>, subscribed: bool) {
        let stored = match subscribed {
            true => match self.find_mailbox(tag, name, "[NONEXISTENT] No such mailbox") {
                Some(mailbox) => mailbox.name,
                None => return,
            },
            false => match self.mailbox_name(name) {
                Some(n) => n,
                None => return self.tagged(tag, "NO", BAD_NAME),
            },
        };
        let account = self.account_id();
        match self
            .store()
            .set_subscribed(account, &stored, subscribed)
            .await
        {
            Ok(()) => self.tagged(
                tag,
                "OK",
                if subscribed {
                    "SUBSCRIBE completed"
                } else {
                    "UNSUBSCRIBE completed"
                },
            ),
            Err(e) => self.store_failed(tag, &e),
        }
    }

    pub async fn list(&mut self, tag: &[u8], args: &ListArgs<'_>, lsub: bool) {
        let account = self.account_id();
        let read = self.store().read().and_then(|r| {
            let subscriptions = r.subscriptions(account)?;
            Ok((r.mailboxes(account)?, subscriptions))
        });
        let (mailboxes, subscriptions) = match read {
            Ok(m) => m,
            Err(e) => return self.store_failed(tag, &e),
        };
        // LIST-STATUS DELETED walks message records: counted first, with
        // yields, for just the mailboxes whose STATUS line the answer will
        // carry (a dry run of the listing names them), not every mailbox
        // of the account.
        let deleted = match args.returns.status.as_deref().is_some_and(wants_deleted) {
            true => {
                let shown = std::cell::RefCell::new(Vec::new());
                list::list(
                    &mut Vec::new(),
                    &mailboxes,
                    &subscriptions,
                    args,
                    lsub,
                    &|_, m, _| shown.borrow_mut().push(m.id),
                );
                deleted_counts(self.store(), &shown.into_inner()).await
            }
            false => DeletedCounts::new(),
        };
        let source = StatusSource {
            deleted: &deleted,
            append_limit: self.append_limit(),
            utf8: self.utf8(),
        };
        list::list(
            self.out(),
            &mailboxes,
            &subscriptions,
            args,
            lsub,
            &|out, m, items| status_line(out, m, items, &source),
        );
        self.tagged(
            tag,
            "OK",
            if lsub {
                "LSUB completed"
            } else {
                "LIST completed"
            },
        );
    }

    pub async fn lsub(&mut self, tag: &[u8], reference: Cow<'_, [u8]>, pattern: Cow<'_, [u8]>) {
        let args = ListArgs {
            reference,
            patterns: vec![pattern],
            selection: ListSelection::default(),
            returns: ListReturn::default(),
            extended: false,
            utf8: self.utf8(),
        };
        self.list(tag, &args, true).await;
    }

    pub async fn status(&mut self, tag: &[u8], name: &Name<'_>, items: &[StatusItem]) {
        let Some(mailbox) = self.find_mailbox(tag, name, "[NONEXISTENT] No such mailbox") else {
            return;
        };
        if items.contains(&StatusItem::HighestModSeq) {
            self.use_condstore();
        }
        let deleted = match wants_deleted(items) {
            true => match status::deleted(self.store(), mailbox.id).await {
                Ok(c) => DeletedCounts::from([(mailbox.id, c)]),
                Err(e) => return self.store_failed(tag, &e),
            },
            false => DeletedCounts::new(),
        };
        let source = StatusSource {
            deleted: &deleted,
            append_limit: self.append_limit(),
            utf8: self.utf8(),
        };
        let mut line = Vec::new();
        status_line(&mut line, &mailbox, items, &source);
        self.out().extend_from_slice(&line);
        self.tagged(tag, "OK", "STATUS completed");
    }

    pub async fn append(
        &mut self,
        tag: &[u8],
        name: &Name<'_>,
        flags: &[super::parse::Flag<'_>],
        date: Option<i64>,
        message: &[u8],
    ) {
        let Some(mailbox) = self.find_mailbox(tag, name, "[TRYCREATE] No such mailbox") else {
            return;
        };
        if message.is_empty() {
            return self.tagged(tag, "NO", "Empty message");
        }
        if self.over_quota(tag, message.len() as u64) {
            return;
        }
        let (flags, keywords) = split_flags(flags);
        if keywords.len() > keyword_limits::MAX_PER_MESSAGE {
            return self.keyword_limit(tag, keywords.len());
        }
        let delivery = Delivery {
            message: message.to_vec(),
            internal_date: date.unwrap_or_else(crate::time::now),
            flags,
            keywords,
            mailboxes: vec![mailbox.id],
            outbound: None,
        };
        let delivery = crate::store::Summarized::compute(delivery).await;
        match self.store().deliver(delivery).await {
            Ok(done) => {
                let uid = done.placed.first().map_or(0, |p| p.1);
                self.tagged(
                    tag,
                    "OK",
                    &format!("[APPENDUID {} {uid}] APPEND completed", mailbox.uidvalidity),
                );
            }
            Err(e) => self.store_failed(tag, &e),
        }
    }

    /// CLOSE expunges silently (RFC 3501 §6.4.2); UNSELECT does not.
    pub async fn close(&mut self, tag: &[u8], expunge: bool) {
        if let Some(sel) = self.set_selected(None)
            && expunge
            && !sel.read_only
        {
            let deleted = self.deleted_uids(sel.id, None);
            if !deleted.is_empty()
                && let Err(e) = self.store().expunge(sel.id, deleted).await
            {
                return self.store_failed(tag, &e);
            }
        }
        self.tagged(
            tag,
            "OK",
            if expunge {
                "CLOSE completed"
            } else {
                "UNSELECT completed"
            },
        );
    }

    /// UIDs with \Deleted in a mailbox (within `only` if given).
    pub fn deleted_uids(&self, mailbox_id: u64, only: Option<&[u32]>) -> Vec<u32> {
        let Ok(reader) = self.store().read() else {
            return Vec::new();
        };
        let Ok(messages) = reader.messages(mailbox_id) else {
            return Vec::new();
        };
        messages
            .flatten()
            .filter(|m| m.flags.contains(Flags::DELETED))
            .map(|m| m.uid)
            .filter(|uid| only.is_none_or(|set| set.binary_search(uid).is_ok()))
            .collect()
    }
}

/// `* STATUS name (items)` from the mailbox's counters.
/// A mailbox as SELECT opens it: the view and what the untagged
/// responses tell of it.
struct Opened {
    sel: Selected,
    /// Sequence number of the first message without \Seen.
    first_unseen: Option<usize>,
}

impl Opened {
    /// Reads the mailbox's messages into a view; `claimed`: the \Recent
    /// this session took over, or `None` for EXAMINE, which takes none
    /// but still tells which messages are recent (RFC 3501 §6.3.2).
    fn read(
        reader: &Reader,
        mailbox: &Mailbox,
        read_only: bool,
        claimed: Option<Vec<u32>>,
        rev2: bool,
    ) -> Result<Opened, StoreError> {
        let mut opened = Opened {
            sel: Selected {
                id: mailbox.id,
                read_only,
                uidvalidity: mailbox.uidvalidity,
                uids: Vec::with_capacity(mailbox.messages as usize),
                modseqs: Vec::with_capacity(mailbox.messages as usize),
                recent: Vec::new(),
                highest_modseq: mailbox.highest_modseq,
                uidnext: mailbox.uidnext,
                keywords: Vec::new(),
                rev2,
                saved: Vec::new(),
                contexts: Vec::new(),
            },
            first_unseen: None,
        };
        let sel = &mut opened.sel;
        let mut keywords = Vec::new();
        for m in reader.messages(mailbox.id)?.flatten() {
            sel.uids.push(m.uid);
            sel.modseqs.push(m.modseq);
            if claimed.is_none() && !rev2 && m.flags.contains(Flags::RECENT) {
                sel.recent.push(m.uid);
            }
            if opened.first_unseen.is_none() && !m.flags.contains(Flags::SEEN) {
                opened.first_unseen = Some(sel.uids.len());
            }
            for k in m.keywords() {
                // A sorted list: log k per keyword, not a scan of the list.
                if keywords.len() <= keyword_limits::MAX_PER_MAILBOX
                    && let Err(at) =
                        keywords.binary_search_by(|w: &String| keyword_limits::cmp(w, k))
                {
                    keywords.insert(at, k.to_string());
                }
            }
        }
        sel.keywords = keywords;
        if let Some(mut claimed) = claimed {
            // Claimed before the messages were read, so every claimed UID
            // is in the view unless it was expunged meanwhile: RECENT never
            // counts a message EXISTS did not (RFC 3501 §7.3.2).
            claimed.sort_unstable();
            claimed.retain(|u| sel.uids.binary_search(u).is_ok());
            sel.recent = claimed;
        }
        Ok(opened)
    }

    /// The untagged responses of SELECT (RFC 3501 §6.3.1, RFC 7162
    /// §3.1.2.1 HIGHESTMODSEQ).
    fn announce(&self, out: &mut Vec<u8>) {
        let sel = &self.sel;
        sel.write_flags(out);
        let mut lines = vec![format!("* {} EXISTS", sel.uids.len())];
        // RFC 9051 §6.3.2: no RECENT in rev2.
        if !sel.rev2 {
            lines.push(format!("* {} RECENT", sel.recent.len()));
        }
        // RFC 9051 §6.3.2 lists no UNSEEN code among SELECT's responses
        // (a rev2 client asks SEARCH UNSEEN RETURN (MIN)).
        if let Some(seq) = self.first_unseen.filter(|_| !sel.rev2) {
            lines.push(format!("* OK [UNSEEN {seq}] First unseen"));
        }
        lines.push(format!("* OK [UIDVALIDITY {}] UIDs valid", sel.uidvalidity));
        lines.push(format!("* OK [UIDNEXT {}] Predicted next UID", sel.uidnext));
        lines.push(format!(
            "* OK [HIGHESTMODSEQ {}] Highest",
            sel.highest_modseq
        ));
        // RFC 8474 §4.1.
        lines.push(format!(
            "* OK [MAILBOXID ({})] Ok",
            super::objectid::mailbox_id(sel.id)
        ));
        for line in lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// QRESYNC's report on SELECT (RFC 7162 §3.2.5.2): what was expunged and
/// the flags of what changed since the client's MODSEQ, within its known
/// UIDs.
fn qresync_changes(out: &mut Vec<u8>, reader: &Reader, sel: &mut Selected, q: &QresyncParams) {
    // Resolved once, then a binary search per UID (not a scan of every
    // range for every message).
    let known_uids = q.known_uids.as_ref().map(|k| k.resolve(u32::MAX));
    let known = |uid: u32| known_uids.as_ref().is_none_or(|k| k.contains(uid));
    let mut vanished = reader.expunged_since(sel.id, q.mod_seq).unwrap_or_default();
    vanished.retain(|&u| known(u));
    vanished_earlier(out, &vanished);
    for i in 0..sel.uids.len() {
        let uid = sel.uids[i];
        if sel.modseqs[i] <= q.mod_seq || !known(uid) {
            continue;
        }
        if let Ok(Some(m)) = reader.message(sel.id, uid) {
            flags_update(sel, out, i as u32 + 1, &m, true);
        }
    }
}
