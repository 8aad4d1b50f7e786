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
use super::thread_algo::{self, Msgs};

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
        let mut msgs = Msgs::with_capacity(matched.len());
        let mut references = 0;
        for chunk in matched.chunks(super::sort::CHUNK) {
            let before = msgs.len();
            let read = self
                .keys_of(tag, chunk, |m, k| {
                    msgs.push(
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
            if read.is_none() {
                return;
            }
            references += (before..msgs.len())
                .map(|i| msgs.reference_count(i))
                .sum::<usize>();
            if !held.grow_to(cost(&msgs, references)) {
                let what = format!("THREAD of {} messages refused", matched.len());
                return self.budget_spent(
                    tag,
                    &what,
                    "Server busy, not enough memory to thread now; try again later",
                );
            }
        }
        msgs.sort_by_seq();
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

/// Bytes threading holds once `msgs` (with `references` ids in all) are
/// read: the keys as held, a container per message and per reference in
/// the forest, and each number in the answer.
fn cost(msgs: &Msgs, references: usize) -> usize {
    const NODE: usize = 64;
    msgs.held() + msgs.len() * (NODE + 12) + references * NODE
}
