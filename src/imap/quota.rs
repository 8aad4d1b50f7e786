//! The account's quota on the commands that add messages: APPEND, COPY
//! (RFC 3501 §6.3.11, §6.4.7). Past it they answer `NO [OVERQUOTA]`
//! (RFC 5530 §3), which clients show as "mailbox full" rather than as a
//! server error. MOVE within the account only relabels bytes the account
//! holds already, so it is never refused; expunging frees the space.
//!
//! Usage and limit are read fresh for each command (`store::Quota`): a
//! quota changed with `smolmail user quota` counts at once, even for a
//! session that logged in before.

use super::session::Session;

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
}
