//! MULTIAPPEND (RFC 3502): one APPEND with several messages, stored all
//! or none. The messages are summarized one by one, then handed to the
//! store as one write op, applied in one nested transaction: a failure
//! of any (a full disk, a store limit) leaves the mailbox as it was
//! (§6.3.11 "the server MUST NOT append any of the messages").
//!
//! The whole command, every literal together, is bounded like a single
//! APPEND: `--max-message-size` (`session::read`), and its memory is
//! reserved from the budget as it is read. The quota counts all of them.

use super::parse::{AppendMessage, Mailbox as Name};
use super::selected::split_flags;
use super::session::Session;
use crate::store::{Delivery, Summarized, keyword_limits};

impl Session {
    /// RFC 3502 §6.3.11 APPEND with more than one message.
    pub async fn multiappend(
        &mut self,
        tag: &[u8],
        name: &Name<'_>,
        messages: Vec<AppendMessage<'_>>,
    ) {
        let Some(mailbox) = self.find_mailbox(tag, name, "[TRYCREATE] No such mailbox") else {
            return;
        };
        if messages.iter().any(|m| m.message.is_empty()) {
            return self.tagged(tag, "NO", "Empty message");
        }
        let total: u64 = messages.iter().map(|m| m.message.len() as u64).sum();
        if self.over_quota(tag, total) {
            return;
        }
        let mut summarized = Vec::with_capacity(messages.len());
        for m in &messages {
            let (flags, keywords) = split_flags(&m.flags);
            if keywords.len() > keyword_limits::MAX_PER_MESSAGE {
                return self.keyword_limit(tag, keywords.len());
            }
            let delivery = Delivery {
                message: m.message.to_vec(),
                internal_date: m.date.as_ref().map_or_else(crate::time::now, |d| d.unix),
                flags,
                keywords,
                mailboxes: vec![mailbox.id],
                outbound: None,
            };
            summarized.push(Summarized::compute(delivery).await);
            // Up to the batch limit of messages are summarized in a row:
            // let the executor's other connections run between them.
            smol::future::yield_now().await;
        }
        match self.store().deliver_all(summarized).await {
            Ok(done) => {
                let uids: Vec<u32> = done
                    .iter()
                    .filter_map(|d| d.placed.first().map(|p| p.1))
                    .collect();
                // RFC 4315 §3: APPENDUID with the UIDs in message order.
                self.tagged(
                    tag,
                    "OK",
                    &format!(
                        "[APPENDUID {} {}] APPEND completed",
                        mailbox.uidvalidity,
                        uid_set(&uids)
                    ),
                );
            }
            Err(e) => self.store_failed(tag, &e),
        }
    }
}

/// UIDs in order as an RFC 4315 uid-set: runs of consecutive ones as
/// `a:b`, others comma separated.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn uid_sets_join_runs() {
        assert_eq!(super::uid_set(&[4, 5, 6]), "4:6");
        assert_eq!(super::uid_set(&[4, 6, 7, 9]), "4,6:7,9");
        assert_eq!(super::uid_set(&[1]), "1");
    }
}
