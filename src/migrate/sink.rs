//! The target of every import: one local account, its folders, and the
//! messages put into them, resumable and fast.
//!
//! - Folders: a source folder is found or created by its IMAP name
//!   ('/'-separated, UTF-8). One that is special-use (it says so, or its
//!   top-level name is a usual one: Sent, Sent Items, Drafts, Trash,
//!   Deleted Items, Junk, Spam, Archive) lands in the local folder of that
//!   use, whatever it is called here, so sent mail ends up where the
//!   clients look for it.
//! - Resume: each message comes with an identity (what names it in its
//!   source, folder included); the store records it with the message in
//!   one commit (`store::Imported`), and a message whose identity was
//!   imported before is skipped. An interrupted import run again stores
//!   what is missing and nothing twice.
//! - Speed: messages are handed to the store writer without waiting for
//!   each commit (at most [`MAX_IN_FLIGHT`] messages and
//!   [`MAX_IN_FLIGHT_BYTES`] at a time), so the writer commits many in
//!   one transaction, one fsync for hundreds. Memory stays bounded by that
//!   window plus the message being read.
//! - Quota: an import is the operator moving the user's existing mail, so
//!   it is not refused by the user's quota (as Dovecot's `doveadm import`);
//!   the summary says when the account is now over it.
//! - Keywords: a keyword that is not an IMAP atom (RFC 3501 §9) is dropped,
//!   and so are those past the store's caps (`store::keyword_limits`: 64
//!   per message, 128 per folder), counted in the summary: a tag is not
//!   worth losing the message for.

use std::collections::{HashMap, VecDeque};

use crate::store::{
    self, Account, Delivery, Flags, Imported, Pending, SpecialUse, Store, StoreError, Summarized,
    keyword_limits,
};

/// Most messages handed to the writer and not yet committed: the writer's
/// own batch size, so a commit can take all of them.
pub const MAX_IN_FLIGHT: usize = 256;
/// Most bytes of messages in flight.
pub const MAX_IN_FLIGHT_BYTES: usize = 16 << 20;
/// Largest message an importer reads into memory; a larger one is
/// reported and skipped. Far above what mail servers pass (Dovecot has no
/// limit of its own, so old mailboxes can hold big ones).
pub const MAX_MESSAGE: u64 = 256 << 20;
/// Longest keyword kept.
const MAX_KEYWORD: usize = 128;

/// One message as a source has it.
#[derive(Debug, Clone, Default)]
pub struct ImportedMessage {
    /// The RFC 5322 bytes, stored as they are.
    pub bytes: Vec<u8>,
    /// Unix seconds: the IMAP INTERNALDATE.
    pub internal_date: i64,
    /// System flags (\Recent is the store's own and ignored).
    pub flags: Flags,
    pub keywords: Vec<String>,
}

/// What [`Sink::put`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Handed to the writer; [`Sink::finish`] waits for every commit.
    Stored,
    /// Its identity was imported before: skipped.
    AlreadyThere,
}

/// What an import did, for its summary line.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub stored: u64,
    pub stored_bytes: u64,
    pub already_there: u64,
    /// Messages not stored (too large, refused by the store), reported.
    pub failed: u64,
    pub keywords_dropped: u64,
    pub folders: u64,
}

/// A folder the import has used.
struct Folder {
    id: u64,
    /// Keywords its messages carry (lower case), up to the store's cap.
    keywords: Vec<String>,
}

pub struct Sink {
    store: Store,
    account: Account,
    /// Source name → local folder id.
    names: HashMap<String, u64>,
    folders: HashMap<u64, Folder>,
    in_flight: VecDeque<(Pending, usize)>,
    in_flight_bytes: usize,
    counts: Counts,
}

/// The special use a source folder's top-level name suggests.
fn use_by_name(name: &str) -> SpecialUse {
    if name.contains('/') {
        return SpecialUse::None;
    }
    match name.to_ascii_lowercase().as_str() {
        "sent" | "sent items" | "sent messages" | "sent mail" => SpecialUse::Sent,
        "drafts" | "draft" => SpecialUse::Drafts,
        "trash" | "deleted items" | "deleted messages" | "bin" => SpecialUse::Trash,
        "junk" | "spam" | "junk e-mail" | "junk email" | "bulk mail" => SpecialUse::Junk,
        "archive" | "archives" => SpecialUse::Archive,
        _ => SpecialUse::None,
    }
}

/// A source folder name made a valid local one (the rules of IMAP CREATE
/// here: no empty level, no control characters, no `*` or `%`, which are
/// LIST wildcards): a character that cannot be kept becomes `_`.
pub fn local_name(name: &str) -> String {
    let levels: Vec<String> = name
        .split('/')
        .filter(|level| !level.is_empty())
        .map(|level| {
            level
                .chars()
                .map(|c| {
                    if c.is_control() || c == '*' || c == '%' {
                        '_'
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let joined = levels.join("/");
    if joined.is_empty() || joined.eq_ignore_ascii_case("INBOX") {
        "INBOX".into()
    } else {
        joined
    }
}

/// An IMAP flag-keyword: an atom (RFC 3501 §9), not a system flag.
fn is_keyword(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_KEYWORD
        && k.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

fn fail(e: StoreError) -> String {
    e.to_string()
}

impl Sink {
    /// The sink for `user`'s account (it must exist: `smolmail user add`).
    pub fn open(store: &Store, user: &str) -> Result<Sink, String> {
        let account = store
            .read()
            .and_then(|r| r.account(user))
            .map_err(fail)?
            .ok_or_else(|| format!("no user {user}; add it first with `smolmail user add`"))?;
        Ok(Sink {
            store: store.clone(),
            account,
            names: HashMap::new(),
            folders: HashMap::new(),
            in_flight: VecDeque::new(),
            in_flight_bytes: 0,
            counts: Counts::default(),
        })
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The local folder for source folder `name` (IMAP name, '/'-separated):
    /// found or created, with its superiors.
    pub async fn folder(
        &mut self,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<u64, String> {
        if let Some(id) = self.names.get(name) {
            return Ok(*id);
        }
        let local = local_name(name);
        let wanted = special_use
            .filter(|u| *u != SpecialUse::None)
            .unwrap_or_else(|| use_by_name(&local));
        let account = self.account.id;
        let mailboxes = self
            .store
            .read()
            .and_then(|r| r.mailboxes(account))
            .map_err(fail)?;
        let found = if local == "INBOX" {
            mailboxes.iter().find(|m| m.name == "INBOX")
        } else if wanted != SpecialUse::None {
            mailboxes
                .iter()
                .find(|m| m.special_use == wanted)
                .or_else(|| mailboxes.iter().find(|m| m.name == local))
        } else {
            mailboxes.iter().find(|m| m.name == local)
        };
        let id = match found {
            Some(m) => m.id,
            None => {
                // RFC 3501 §6.3.3: superiors are created as needed.
                let mut end = 0;
                while let Some(i) = local[end..].find('/') {
                    let parent = &local[..end + i];
                    if !mailboxes.iter().any(|m| m.name == parent) {
                        match self
                            .store
                            .create_mailbox(account, parent, SpecialUse::None)
                            .await
                        {
                            Ok(_) | Err(StoreError::Exists(_)) => {}
                            Err(e) => return Err(format!("cannot create folder {parent}: {e}")),
                        }
                    }
                    end += i + 1;
                }
                match self.store.create_mailbox(account, &local, wanted).await {
                    Ok(id) => id,
                    // Created meanwhile (a client, a parallel import).
                    Err(StoreError::Exists(_)) => self
                        .store
                        .read()
                        .and_then(|r| r.mailbox(account, &local))
                        .map_err(fail)?
                        .map(|m| m.id)
                        .ok_or_else(|| format!("folder {local} vanished while created"))?,
                    Err(e) => return Err(format!("cannot create folder {local}: {e}")),
                }
            }
        };
        if !self.folders.contains_key(&id) {
            let keywords = self.keywords_of(id)?;
            self.folders.insert(id, Folder { id, keywords });
            self.counts.folders += 1;
        }
        self.names.insert(name.to_string(), id);
        Ok(id)
    }

    /// The distinct keywords a folder's messages carry, up to the cap.
    fn keywords_of(&self, mailbox_id: u64) -> Result<Vec<String>, String> {
        let reader = self.store.read().map_err(fail)?;
        let mut out: Vec<String> = Vec::new();
        for m in reader.messages(mailbox_id).map_err(fail)? {
            for k in m.map_err(fail)?.keywords() {
                let k = k.to_ascii_lowercase();
                if out.len() < keyword_limits::MAX_PER_MAILBOX && !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        Ok(out)
    }

    /// Subscribes or unsubscribes the local folder of source folder `name`
    /// (one [`Sink::folder`] has returned); false if the import has not
    /// used such a folder.
    pub async fn set_subscribed(&mut self, name: &str, subscribed: bool) -> Result<bool, String> {
        let Some(&id) = self.names.get(name) else {
            return Ok(false);
        };
        self.store
            .set_subscribed(id, subscribed)
            .await
            .map_err(fail)?;
        Ok(true)
    }

    /// Subscribes the local folder of source folder `name`.
    pub async fn subscribe(&mut self, name: &str) -> Result<bool, String> {
        self.set_subscribed(name, true).await
    }

    /// Puts one message into `folder` (an id from [`Sink::folder`]) unless
    /// a message of the same `identity` was imported before. An error is
    /// one that stops the import (the store failing); a message the store
    /// refuses alone is reported on stderr and counted.
    pub async fn put(
        &mut self,
        folder: u64,
        message: ImportedMessage,
        identity: &[u8],
    ) -> Result<Put, String> {
        let hash = store::identity_hash(identity);
        let seen = self
            .store
            .read()
            .and_then(|r| r.import_seen(self.account.id, &hash))
            .map_err(fail)?;
        if seen {
            self.counts.already_there += 1;
            return Ok(Put::AlreadyThere);
        }
        let Some(known) = self.folders.get_mut(&folder) else {
            return Err(format!("folder {folder} was not opened by this import"));
        };
        let size = message.bytes.len();
        if size as u64 > MAX_MESSAGE {
            self.counts.failed += 1;
            eprintln!(
                "skipped a message of {} (larger than {}): {}",
                crate::admin::show_size(size as u64),
                crate::admin::show_size(MAX_MESSAGE),
                String::from_utf8_lossy(identity)
            );
            return Ok(Put::Stored);
        }
        let mut keywords: Vec<String> = Vec::with_capacity(message.keywords.len());
        for k in message.keywords {
            if !is_keyword(&k) || keywords.len() >= keyword_limits::MAX_PER_MESSAGE {
                self.counts.keywords_dropped += 1;
                continue;
            }
            let lower = k.to_ascii_lowercase();
            if !known.keywords.contains(&lower) {
                if known.keywords.len() >= keyword_limits::MAX_PER_MAILBOX {
                    self.counts.keywords_dropped += 1;
                    continue;
                }
                known.keywords.push(lower);
            }
            keywords.push(k);
        }
        keyword_limits::dedup(&mut keywords);
        let delivery = Delivery {
            message: message.bytes,
            internal_date: message.internal_date,
            flags: message.flags.without(Flags::RECENT),
            keywords,
            mailboxes: vec![known.id],
            outbound: None,
        };
        let imported = Imported {
            account_id: self.account.id,
            identity: hash,
            delivery: Summarized::compute(delivery).await,
        };
        while self.in_flight.len() >= MAX_IN_FLIGHT
            || (self.in_flight_bytes + size > MAX_IN_FLIGHT_BYTES && !self.in_flight.is_empty())
        {
            self.settle_one().await?;
        }
        let pending = self.store.import(imported).await.map_err(fail)?;
        self.in_flight.push_back((pending, size));
        self.in_flight_bytes += size;
        Ok(Put::Stored)
    }

    /// Waits for the oldest message in flight.
    async fn settle_one(&mut self) -> Result<(), String> {
        let Some((pending, size)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        self.in_flight_bytes -= size;
        match pending.wait().await {
            Ok(store::Outcome::Count(0)) => self.counts.already_there += 1,
            Ok(_) => {
                self.counts.stored += 1;
                self.counts.stored_bytes += size as u64;
            }
            Err(e @ (StoreError::Limit(_) | StoreError::Invalid(_))) => {
                self.counts.failed += 1;
                eprintln!("a message was not imported: {e}");
            }
            Err(e) => {
                return Err(format!(
                    "the store failed; run the import again to resume: {e}"
                ));
            }
        }
        Ok(())
    }

    /// Waits for every message in flight to be committed.
    pub async fn flush(&mut self) -> Result<(), String> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    /// Flushes, and returns the summary's words: "1234 messages (56M) into
    /// 7 folders of me@home.arpa, 12 already there", with warnings on
    /// further lines (keywords dropped, over quota).
    pub async fn finish(&mut self) -> Result<String, String> {
        self.flush().await?;
        let c = &self.counts;
        let mut text = format!(
            "{} messages ({}) into {} folder(s) of {}, {} already there",
            c.stored,
            crate::admin::show_size(c.stored_bytes),
            c.folders,
            self.account.address,
            c.already_there
        );
        if c.failed > 0 {
            text.push_str(&format!(", {} not imported (see above)", c.failed));
        }
        if c.keywords_dropped > 0 {
            text.push_str(&format!(
                "\n{} keywords dropped (not IMAP atoms, or past 64 per message / 128 per folder)",
                c.keywords_dropped
            ));
        }
        let quota = self.account.quota;
        if quota > 0 {
            let used = self
                .store
                .read()
                .and_then(|r| r.usage(self.account.id))
                .map_err(fail)?;
            if used > quota {
                text.push_str(&format!(
                    "\n{} now holds {}, over its quota of {}: new mail is refused until it is raised (`smolmail user quota`) or mail is deleted",
                    self.account.address,
                    crate::admin::show_size(used),
                    crate::admin::show_size(quota)
                ));
            }
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uses() {
        assert_eq!(local_name("inbox"), "INBOX");
        assert_eq!(local_name("/a//b/"), "a/b");
        assert_eq!(local_name("50%*off"), "50__off");
        assert_eq!(use_by_name("Sent Items"), SpecialUse::Sent);
        assert_eq!(use_by_name("spam"), SpecialUse::Junk);
        assert_eq!(use_by_name("Work/Sent"), SpecialUse::None);
        assert!(is_keyword("$Forwarded") && is_keyword("NonJunk"));
        assert!(
            !is_keyword("a b") && !is_keyword("\\Seen") && !is_keyword("x]") && !is_keyword("")
        );
    }
}
