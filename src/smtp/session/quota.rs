//! Account quotas in an SMTP transaction (RFC 3463 X.2.2 "mailbox full").
//!
//! At RCPT, each local account the address delivers to is checked with the
//! size MAIL FROM declared (RFC 1870 SIZE=, else 0): an account at or over
//! its quota answers `452 4.2.2` (temporary: expunging makes room, RFC 5321
//! §4.5.3.1.10 allows 452 for it), one whose quota is smaller than the
//! declared message answers `552 5.2.2` (it could never fit). An alias that
//! fans out is refused when any of its accounts is: one reply per RCPT
//! cannot say "some of them", and refusing loses nothing (the sender keeps
//! the message) where accepting would drop or overfill a copy.
//!
//! At the end of DATA/BDAT the real size is known. Plain SMTP has one reply
//! for all recipients (only LMTP has one each), so if any local account
//! cannot take the message the whole transaction gets the quota reply, and
//! the sender retries or bounces it for everyone; nothing is half-delivered.
//! Postfix in front of Dovecot accepts at DATA and bounces afterwards from
//! the LDA; refusing in the session instead keeps the bounce with the
//! sender, where it belongs, and costs us no backscatter.

use super::Session;
use crate::store::{Quota, StoreError};

/// Why an account cannot take a message, as the reply says it.
enum Refused {
    Full,
    NeverFits,
}

fn check(quota: &Quota, size: u64) -> Option<Refused> {
    if quota.never_fits(size) {
        Some(Refused::NeverFits)
    } else if quota.is_full() || !quota.fits(size) {
        Some(Refused::Full)
    } else {
        None
    }
}

impl Session {
    /// The quota refusal for a recipient whose local accounts are
    /// `accounts`, for a message of `size` bytes (declared, or 0). Logs it.
    pub(super) fn quota_refusal(
        &mut self,
        shown: &str,
        accounts: &[String],
        size: u64,
    ) -> Result<Option<String>, StoreError> {
        if accounts.is_empty() {
            return Ok(None);
        }
        let reader = self.ctx.store.read()?;
        for address in accounts {
            let Some(quota) = reader.quota(address)? else {
                continue;
            };
            let reply = match check(&quota, size) {
                None => continue,
                Some(Refused::NeverFits) => format!(
                    "552 5.2.2 <{shown}>: Recipient address rejected: message of {size} bytes exceeds the mailbox quota\r\n"
                ),
                Some(Refused::Full) => {
                    format!("452 4.2.2 <{shown}>: Recipient address rejected: Mailbox full\r\n")
                }
            };
            log::info!(
                "[{}] {}: quota: {address} holds {} of {} bytes; refused {size} more from {}",
                self.id,
                self.name(),
                quota.used,
                quota.limit,
                self.peer
            );
            return Ok(Some(reply));
        }
        Ok(None)
    }

    /// The reply at the end of DATA/BDAT when one of the transaction's
    /// local accounts cannot take the `size` bytes that arrived; `None`
    /// when all can.
    pub(in crate::smtp) fn quota_at_end(
        &mut self,
        accounts: &[String],
        size: u64,
    ) -> Result<Option<&'static str>, StoreError> {
        if accounts.is_empty() {
            return Ok(None);
        }
        let reader = self.ctx.store.read()?;
        for address in accounts {
            let Some(quota) = reader.quota(address)? else {
                continue;
            };
            let Some(why) = check(&quota, size) else {
                continue;
            };
            log::info!(
                "[{}] {}: quota: {address} holds {} of {} bytes; refused a message of {size} bytes from {}",
                self.id,
                self.name(),
                quota.used,
                quota.limit,
                self.peer
            );
            return Ok(Some(match why {
                Refused::NeverFits => "552 5.2.2 Message exceeds a recipient's mailbox quota\r\n",
                Refused::Full => "452 4.2.2 A recipient's mailbox is full; try again later\r\n",
            }));
        }
        Ok(None)
    }
}
