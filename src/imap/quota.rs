//! The account's quota on the commands that add messages: APPEND, COPY
//! (RFC 3501 §6.3.11, §6.4.7). Past it they answer `NO [OVERQUOTA]`
//! (RFC 5530 §3), which clients show as "mailbox full" rather than as a
//! server error. MOVE within the account only relabels bytes the account
//! holds already, so it is never refused; expunging frees the space.
//!
//! The QUOTA extension (RFC 9208) shows the same figures: one quota root,
//! named "", holds every mailbox of the account, with the one resource
//! smolmail enforces, STORAGE (§5.1, in units of 1024 octets). Messages
//! are not counted against a limit, so QUOTA=RES-MESSAGE is not offered.
//! An account without a limit has no quota root (§4.3: GETQUOTAROOT then
//! names none). SETQUOTA is refused: limits are the administrator's
//! (`smolmail user quota`).
//!
//! An APPEND's literal is checked before its `+` continuation is sent
//! ([`Session::append_literal_refused`]): its size is known then, and a
//! refusal saves the client sending megabytes that would be thrown away.
//!
//! Usage and limit are read fresh for each command (`store::Quota`): a
//! quota changed with `smolmail user quota` counts at once, even for a
//! session that logged in before.

use super::parse::Mailbox as Name;
use super::render;
use super::session::Session;
use crate::store::Quota;
use crate::wire::imap::quote::string;

/// The one quota root (RFC 9208 §3.2), holding the whole account.
const ROOT: &str = "";

impl Session {
    /// Answers `NO [OVERQUOTA]` and returns true when `size` more bytes
    /// would take the logged-in account past its quota.
    pub fn over_quota(&mut self, tag: &[u8], size: u64) -> bool {
        let quota = self
            .store()
            .read()
            .and_then(|r| r.quota(self.account_address()));
        let quota = match quota {
            Ok(Some(q)) => q,
            // The account went away under the session: nothing to check.
            Ok(None) => return false,
            Err(e) => {
                self.store_failed(tag, &e);
                return true;
            }
        };
        if quota.fits(size) {
            return false;
        }
        log::info!(
            "[{}] imap: quota: {} holds {} of {} bytes; refused {size} more",
            self.id(),
            self.account_address(),
            quota.used,
            quota.limit
        );
        self.tagged(tag, "NO", "[OVERQUOTA] Mailbox quota exceeded");
        true
    }

    /// The same for copying `uids` out of mailbox `from`.
    pub fn copy_over_quota(&mut self, tag: &[u8], from: u64, uids: &[u32]) -> bool {
        match self.store().read().and_then(|r| r.size_of(from, uids)) {
            Ok(size) => self.over_quota(tag, size),
            Err(e) => {
                self.store_failed(tag, &e);
                true
            }
        }
    }

    /// The account's quota; `None` (after answering NO) when the store
    /// fails, `Some(None)` when the account has gone.
    fn read_quota(&mut self, tag: &[u8]) -> Option<Option<Quota>> {
        let quota = self
            .store()
            .read()
            .and_then(|r| r.quota(self.account_address()));
        match quota {
            Ok(q) => Some(q),
            Err(e) => {
                self.store_failed(tag, &e);
                None
            }
        }
    }

    /// `* QUOTA "" (STORAGE used limit)` (RFC 9208 §5.1, §7): KiB, usage
    /// rounded up so a client never thinks there is room that is not.
    fn quota_response(&mut self, quota: &Quota) {
        let mut line = b"* QUOTA ".to_vec();
        string(&mut line, ROOT.as_bytes());
        line.extend_from_slice(
            format!(
                " (STORAGE {} {})\r\n",
                quota.used.div_ceil(1024),
                quota.limit / 1024
            )
            .as_bytes(),
        );
        self.out().extend_from_slice(&line);
    }

    /// RFC 9208 §4.2 GETQUOTA: the one root "" exists only when the
    /// account has a limit.
    pub fn getquota(&mut self, tag: &[u8], root: &[u8]) {
        let Some(quota) = self.read_quota(tag) else {
            return;
        };
        match quota {
            Some(q) if !q.unlimited() && root == ROOT.as_bytes() => {
                self.quota_response(&q);
                self.tagged(tag, "OK", "GETQUOTA completed");
            }
            _ => self.tagged(tag, "NO", "[NONEXISTENT] No such quota root"),
        }
    }

    /// RFC 9208 §4.3 GETQUOTAROOT: the roots of an existing mailbox, and
    /// each root's QUOTA.
    pub fn getquotaroot(&mut self, tag: &[u8], name: &Name<'_>) {
        let Some(mailbox) = self.find_mailbox(tag, name, "[NONEXISTENT] No such mailbox") else {
            return;
        };
        let Some(quota) = self.read_quota(tag) else {
            return;
        };
        let quota = quota.filter(|q| !q.unlimited());
        let mut line = b"* QUOTAROOT ".to_vec();
        if self.utf8() {
            render::mailbox_utf8(&mut line, &mailbox.name);
        } else {
            render::mailbox(&mut line, &mailbox.name);
        }
        if quota.is_some() {
            line.push(b' ');
            string(&mut line, ROOT.as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        self.out().extend_from_slice(&line);
        if let Some(q) = quota {
            self.quota_response(&q);
        }
        self.tagged(tag, "OK", "GETQUOTAROOT completed");
    }

    /// RFC 9208 §4.1: a server may refuse SETQUOTA; limits are set with
    /// `smolmail user quota`.
    pub fn setquota(&mut self, tag: &[u8]) {
        log::info!(
            "[{}] imap: {}: SETQUOTA refused: quotas are set by the administrator",
            self.id(),
            self.account_address()
        );
        self.tagged(
            tag,
            "NO",
            "[NOPERM] Quotas are set by the administrator (smolmail user quota)",
        );
    }

    /// Before the `+` for a literal of `size` octets in `command` (read so
    /// far): an APPEND whose message cannot fit the quota is answered
    /// `NO [OVERQUOTA]` now (RFC 9208 §4.4 OVERQUOTA; RFC 3501 §7.5 lets
    /// the server answer instead of continuing), and true is returned.
    pub fn append_literal_refused(&mut self, command: &[u8], size: u64) -> bool {
        let Some(tag) = super::parse::peek_tag(command) else {
            return false;
        };
        if !super::parse::is_append(command) {
            return false;
        }
        let tag = tag.to_vec();
        self.over_quota(&tag, size)
    }
}
