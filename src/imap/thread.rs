//! THREAD and UID THREAD (RFC 5256 §4, §5): the matched messages' stored
//! keys (`mime::SortKeys`, read in chunks like SORT's) handed to the
//! algorithms of `thread_algo`, answered as `* THREAD (...)`.

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
        let msgs = self
            .keys_of(tag, &matched, |m, k| Msg {
                n: if uid { m.uid } else { m.seq },
                seq: m.seq,
                sent: k.sent_or(m.internal_date),
                subject: k.subject,
                reply: k.reply,
                message_id: k.message_id,
                references: k.references,
            })
            .await;
        let Some(msgs) = msgs else { return };
        smol::future::yield_now().await;
        let threads = match algorithm {
            ThreadAlgorithm::OrderedSubject => thread_algo::ordered_subject(&msgs),
            ThreadAlgorithm::References => thread_algo::references(&msgs, false),
            ThreadAlgorithm::Refs => thread_algo::references(&msgs, true),
        };
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
    }
}
