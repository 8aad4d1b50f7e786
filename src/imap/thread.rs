//! THREAD and UID THREAD (RFC 5256 §4, §5): the matched messages' stored
//! keys (`mime::SortKeys`, read in chunks like SORT's) handed to the
//! algorithms of `thread_algo`, answered as `* THREAD (...)`.
//!
//! The keys held for threading (subjects, Message-IDs, References) and the
//! forest built from them grow with the mailbox and with hostile headers,
//! so they are taken from the memory budget (DESIGN.md "Budgets") chunk by
//! chunk as they are read; when it is spent THREAD answers
//! `NO [UNAVAILABLE]`, the temporary error of RFC 5530.

use super::parse::{SearchKey, ThreadAlgorithm};
use super::session::Session;
use super::thread_algo::{self, Msg};

impl Session {
    pub(super) async fn thread(
        &mut self,
        tag: &[u8],
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: &[u8],
        key: &SearchKey<'_>,
    ) {
        if !self.charset_supported(tag, Some(charset)) {
            return;
        }
        let Some((matched, _)) = self.matching(tag, key).await else {
            return;
        };
        let mut held = self.budget().empty();
        let mut msgs = Vec::with_capacity(matched.len());
        for chunk in matched.chunks(super::sort::CHUNK) {
            let part = self
                .keys_of(tag, chunk, |m, k| {
                    Msg::new(
                        if uid { m.uid } else { m.seq },
                        m.seq,
                        k.sent_or(m.internal_date),
                        k.reply,
                        k.subject,
                        k.message_id,
                        k.references.iter(),
                    )
                })
                .await;
            let Some(part) = part else { return };
            let cost: usize = part.iter().map(cost).sum();
            if !held.grow_to(held.held().saturating_add(cost)) {
                log::warn!(
                    "[{}] imap: THREAD of {} messages refused: memory budget spent ({} of {} bytes in use)",
                    self.id(),
                    matched.len(),
                    self.budget().in_use(),
                    self.budget().limit()
                );
                return self.tagged(
                    tag,
                    "NO",
                    "[UNAVAILABLE] Server busy, not enough memory to thread now; try again later",
                );
            }
            msgs.extend(part);
        }
        // Linked away from the executor thread: 50 000 messages take a
        // good part of a second under emulation, which other sessions
        // should not wait for (DESIGN.md "Budgets").
        let threads = smol::unblock(move || match algorithm {
            ThreadAlgorithm::OrderedSubject => thread_algo::ordered_subject(&msgs),
            ThreadAlgorithm::References => thread_algo::references(&msgs, false),
            ThreadAlgorithm::Refs => thread_algo::references(&msgs, true),
        })
        .await;
        let line = match threads.is_empty() {
            true => "* THREAD\r\n".to_string(),
            false => format!("* THREAD {threads}\r\n"),
        };
        self.put(&line);
        let done = match uid {
            true => "UID THREAD completed",
            false => "THREAD completed",
        };
        self.tagged(tag, "OK", done);
        drop(held);
    }
}

/// Bytes one message costs while threading: its keys, a container per
/// message and per reference in the forest, and its number in the answer.
fn cost(m: &Msg) -> usize {
    const NODE: usize = 64;
    let refs = m.references().count() * NODE;
    std::mem::size_of::<Msg>() + NODE + 12 + m.held() + refs
}
