//! The "delivered" notice for local recipients that asked NOTIFY=SUCCESS
//! (RFC 3461 §4.1; RFC 3464 `Action: delivered`): the queue runner sends
//! the "relayed" notice for remote ones, and a message stored here never
//! reaches it, so the SMTP session writes this one once the message is
//! durable.
//!
//! It is a second store write after the message's own commit: a crash
//! between the two loses the notice, never the message (a notice is
//! advisory; RFC 3461 §4.1 lets a server that cannot send one say nothing).
//! Never for the null sender (RFC 5321 §4.5.5: a notice is not answered).

use super::command::ReversePath;
use super::session::{Session, Transaction};
use crate::delivery::notice::{self, Stored};
use crate::store::Summarized;

impl Session {
    /// Composes and stores the notice for `tx`'s NOTIFY=SUCCESS local
    /// recipients; `headers` is the stored message's header section.
    pub(super) async fn delivered_notice(&self, tx: &Transaction, headers: &[u8], now: i64) {
        let ReversePath::Mailbox(_) = &tx.sender else {
            return;
        };
        if tx.notify_delivered.is_empty() {
            return;
        }
        let (id, name, qid) = (self.id, self.name(), &tx.queue_id);
        let sender = tx.sender.address();
        let message = notice::delivered(&Stored {
            hostname: self.hostname(),
            queue_id: qid,
            sender: &sender,
            envid: tx.params.envid.as_deref(),
            now,
            recipients: &tx.notify_delivered,
            headers,
        });
        let addressed = self
            .ctx
            .store
            .read()
            .and_then(|reader| notice::addressed(&reader, &sender, message, now));
        let (delivery, queued) = match addressed {
            Ok(Some(found)) => found,
            Ok(None) => {
                log::warn!(
                    "[{id}] {name}: {qid}: nobody takes the delivery notification for <{sender}>"
                );
                return;
            }
            Err(e) => {
                log::error!("[{id}] {name}: {qid}: cannot address the delivery notification: {e}");
                return;
            }
        };
        match self.ctx.store.deliver(Summarized::new(delivery)).await {
            Ok(_) => {
                if queued {
                    self.ctx.queue_kick.notify(1);
                }
                log::info!(
                    "[{id}] {name}: {qid}: sender delivery status notification to <{sender}> ({}, {} recipient(s))",
                    if queued { "queued" } else { "local" },
                    tx.notify_delivered.len()
                );
            }
            Err(e) => {
                log::error!("[{id}] {name}: {qid}: cannot store the delivery notification: {e}")
            }
        }
    }
}
