//! Message transfer on an SMTP session: DATA (RFC 5321 §4.1.1.4) and BDAT
//! (RFC 3030), the trace headers added above the message, the Date and
//! Message-ID a submission lacks (RFC 6409 §8), and the delivery into the
//! store that a `250` waits for, with the "delivered" notices it owes
//! (RFC 3461 §4.1).

use std::time::Instant;

use super::data::{self, DataDecoder, Progress, Verdict};
use super::session::{BULK, Chunks, Flow, IDLE, Session, Transaction};
use super::submission_headers;
use crate::net::{Reservation, Stream};

/// Bytes kept free in a message's buffer for the fields added as it is
/// stored: an Authentication-Results field (at most five DKIM verdicts)
/// and two DKIM-Signature fields, each well under a kilobyte.
const ADDED_FIELDS_ROOM: usize = 4096;
use crate::store::{Delivery, Outbound, StoreError};

impl Session {
    /// The trace headers this server adds above the message: Return-Path
    /// (RFC 5321 §4.4, added at final delivery; the outbound client drops
    /// it again before relaying) and Received with the TLS and AUTH facts
    /// (the user's name only with --received-auth).
    fn trace_headers(&self, tx: &Transaction) -> Vec<u8> {
        let helo = sanitize(self.helo.as_deref().unwrap_or("unknown"));
        let mut protocol = String::new();
        if tx.params.smtputf8 {
            protocol.push_str("UTF8");
        }
        protocol.push_str(if self.esmtp { "ESMTP" } else { "SMTP" });
        if self.tls.is_some() {
            protocol.push('S');
        }
        if self.account.is_some() {
            protocol.push('A');
        }
        let mut h = format!(
            "Return-Path: <{}>\r\nReceived: from {helo} ({})\r\n\tby {} (smolmail) with {protocol} id {}",
            tx.sender.address(),
            crate::net::ClientAddr::from(self.peer).literal(),
            self.hostname(),
            tx.queue_id
        );
        if let Some(tls) = &self.tls {
            h.push_str(&format!("\r\n\t(using {})", sanitize(tls)));
        }
        // Postfix's smtpd_sasl_authenticated_header: the login name only
        // when asked for, since this header leaves with relayed mail.
        if let Some(account) = self
            .account
            .as_ref()
            .filter(|_| self.ctx.config.received_auth)
        {
            h.push_str(&format!(
                "\r\n\t(authenticated sender: {})",
                account.address
            ));
        }
        if let [only] = &tx.recipients[..] {
            h.push_str(&format!("\r\n\tfor <{only}>"));
        }
        h.push_str(&format!(
            ";\r\n\t{}\r\n",
            crate::time::rfc5322(crate::time::now())
        ));
        h.into_bytes()
    }

    /// RFC 6409 §8.2, §8.3: adds the Date and Message-ID a message from
    /// an authenticated or trusted-network client lacks (Postfix's
    /// local_header_rewrite_clients); mail from outside is left as sent.
    /// The few added bytes are reserved from the memory budget like the
    /// rest of the message; false when it cannot give them.
    fn complete_headers(
        &self,
        tx: &Transaction,
        message: &mut Vec<u8>,
        base: usize,
        reservation: &mut Reservation,
    ) -> bool {
        if self.account.is_none() && !self.ctx.config.is_trusted(self.peer.ip()) {
            return true;
        }
        let content = &message[base..];
        let missing = submission_headers::missing(&content[..crate::mime::header_len(content)]);
        if !missing.any() {
            return true;
        }
        let fields = submission_headers::fields(
            missing,
            crate::time::now(),
            &tx.queue_id,
            self.hostname(),
            random(),
        );
        let want = message.len() + fields.len();
        if !reservation.make_room(message, fields.len(), want) {
            return false;
        }
        submission_headers::insert(message, base, &fields);
        log::info!(
            "[{}] {}: {}: added{}{} (submission from [{}])",
            self.id,
            self.name(),
            tx.queue_id,
            if missing.date { " Date" } else { "" },
            if missing.message_id {
                " Message-ID"
            } else {
                ""
            },
            self.peer.ip().to_canonical()
        );
        true
    }

    /// Checks that a transaction is ready for content; replies if not.
    fn content_ready(&mut self) -> bool {
        match &self.tx {
            None => {
                self.refuse("503 5.5.1 Error: need MAIL command\r\n");
                false
            }
            Some(tx) if tx.recipients.is_empty() => {
                let reply = match tx.rejected {
                    0 => "503 5.5.1 Error: need RCPT command\r\n",
                    _ => "554 5.5.1 Error: no valid recipients\r\n",
                };
                self.refuse(reply);
                false
            }
            Some(_) => true,
        }
    }

    pub(super) async fn data(&mut self, stream: &mut Stream) -> Flow {
        if !self.content_ready() {
            return Flow::Continue;
        }
        if self.tx.as_ref().is_some_and(|tx| tx.chunks.is_some()) {
            self.refuse("503 5.5.1 Error: DATA after BDAT\r\n");
            return Flow::Continue;
        }
        let Some(tx) = self.tx.take() else {
            return Flow::Continue;
        };
        self.reply("354 End data with <CR><LF>.<CR><LF>\r\n");
        if !self.flush(stream).await {
            return Flow::Close;
        }
        let mut message = self.trace_headers(&tx);
        let base = message.len();
        let limit = usize::try_from(self.ctx.config.max_message_size).unwrap_or(usize::MAX);
        let cap = base.saturating_add(limit);
        let mut decoder = DataDecoder::new(limit);
        // The message grows inside the memory budget, reserved before each
        // chunk is appended; once it is spent the rest of the stream is
        // read and dropped (RFC 5321 §4.1.1.4: the reply comes after the
        // final dot) and the answer is 452 4.3.1 (§4.5.3.1.10).
        let mut reservation = self.ctx.budget.empty();
        let mut over_budget = false;
        self.input.reserve(BULK);
        let started = Instant::now();
        loop {
            let chunk = self.input.buffered();
            if !over_budget {
                let extra = DataDecoder::max_growth(chunk.len()).min(cap - message.len().min(cap));
                if !reservation.make_room(&mut message, extra, cap) {
                    over_budget = true;
                    decoder.stop_keeping();
                    message = Vec::new();
                    reservation.shrink_to(0);
                }
            }
            match decoder.feed(chunk, &mut message, base) {
                Progress::Done(n) => {
                    self.input.consume(n);
                    break;
                }
                Progress::More => {
                    let n = chunk.len();
                    self.input.consume(n);
                }
            }
            match self.input.fill(stream, BULK, IDLE).await {
                Ok(_) => {}
                Err(e) => {
                    log::info!(
                        "[{}] {}: {}: connection lost during DATA: {e:?}",
                        self.id,
                        self.name(),
                        tx.queue_id
                    );
                    return Flow::Close;
                }
            }
        }
        self.input.shrink();
        match decoder.verdict() {
            Verdict::TooBig => self.refuse("552 5.3.4 Message size exceeds fixed limit\r\n"),
            Verdict::BareLineEnding => {
                log::warn!(
                    "[{}] {}: {}: refused: bare CR or LF in DATA from {} (possible SMTP smuggling)",
                    self.id,
                    self.name(),
                    tx.queue_id,
                    self.peer
                );
                self.refuse("550 5.6.0 Message refused: bare CR or LF in DATA; lines must end with CRLF (RFC 5321 2.3.8)\r\n");
            }
            Verdict::Ok if over_budget => self.over_budget(&tx.queue_id),
            Verdict::Ok if !self.complete_headers(&tx, &mut message, base, &mut reservation) => {
                self.over_budget(&tx.queue_id)
            }
            Verdict::Ok => {
                let size = message.len() - base;
                self.deliver(tx, message, size, started, &mut reservation)
                    .await
            }
        }
        // Held until the message is stored: the writer has it till then.
        drop(reservation);
        Flow::Continue
    }

    pub(super) async fn bdat(&mut self, size: u64, last: bool, stream: &mut Stream) -> Flow {
        // RFC 3030 §2: the chunk is read even when the command is refused,
        // or its bytes would be taken for commands.
        let ready =
            self.tx.is_some() && self.tx.as_ref().is_some_and(|tx| !tx.recipients.is_empty());
        let limit = self.ctx.config.max_message_size;
        let mut refused = false;
        if ready && let Some(mut tx) = self.tx.take() {
            let content = tx.chunks.as_ref().map_or(0, |c| c.message.len() - c.base);
            if (content as u64).saturating_add(size) > limit {
                // RFC 1870 §6.2: a chunk that cannot fit is refused before
                // it is read (a client declaring 4 GiB hears it at once);
                // the transaction is over (RFC 3030 §2: later chunks are
                // refused and discarded) and this chunk is still read below.
                refused = true;
                self.refuse("552 5.3.4 Message size exceeds fixed limit\r\n");
            } else {
                if tx.chunks.is_none() {
                    let message = self.trace_headers(&tx);
                    let base = message.len();
                    tx.chunks = Some(Chunks {
                        reservation: self.ctx.budget.empty(),
                        message,
                        base,
                        last_cr: false,
                        bare_line_ending: false,
                    });
                }
                // The declared chunk is reserved before a byte of it is
                // read; the Vec grows to exactly what was declared. Past
                // the budget the chunk is read and dropped, the
                // transaction ends (as for 552 above) and the client hears
                // 452 4.3.1 (RFC 3030 §2, RFC 5321 §4.5.3.1.10).
                let room = tx.chunks.as_mut().is_some_and(|c| {
                    let want = usize::try_from(size).unwrap_or(usize::MAX);
                    let cap = c.message.len().saturating_add(want);
                    c.reservation.make_room(&mut c.message, want, cap)
                });
                if room {
                    self.tx = Some(tx);
                } else {
                    refused = true;
                    self.over_budget(&tx.queue_id);
                }
            }
        }
        if refused && !self.flush(stream).await {
            return Flow::Close;
        }
        let mut remaining = size;
        self.input.reserve(BULK);
        while remaining > 0 {
            if self.input.buffered().is_empty()
                && let Err(e) = self.input.fill(stream, BULK, IDLE).await
            {
                log::info!(
                    "[{}] {}: connection lost during BDAT: {e:?}",
                    self.id,
                    self.name()
                );
                return Flow::Close;
            }
            let take = chunk_take(remaining, self.input.buffered().len());
            if let Some(chunks) = self.tx.as_mut().and_then(|tx| tx.chunks.as_mut()) {
                let bytes = &self.input.buffered()[..take];
                chunks.last_cr = data::scan_bare_line_endings(
                    bytes,
                    chunks.last_cr,
                    &mut chunks.bare_line_ending,
                );
                if !chunks.bare_line_ending {
                    chunks.message.extend_from_slice(bytes);
                }
            }
            self.input.consume(take);
            remaining -= take as u64;
        }
        self.input.shrink();
        if refused {
            return Flow::Continue;
        }
        if !ready {
            self.content_ready();
            return Flow::Continue;
        }
        if !last {
            self.reply(&format!("250 2.0.0 Ok: {size} octets received\r\n"));
            return Flow::Continue;
        }
        let Some(mut tx) = self.tx.take() else {
            return Flow::Continue;
        };
        let Some(mut chunks) = tx.chunks.take() else {
            return Flow::Continue;
        };
        if chunks.bare_line_ending || chunks.last_cr {
            log::warn!(
                "[{}] {}: {}: refused: bare CR or LF in BDAT from {}",
                self.id,
                self.name(),
                tx.queue_id,
                self.peer
            );
            self.refuse(
                "550 5.6.0 Message refused: bare CR or LF in message; lines must end with CRLF\r\n",
            );
        } else if !self.complete_headers(
            &tx,
            &mut chunks.message,
            chunks.base,
            &mut chunks.reservation,
        ) {
            self.over_budget(&tx.queue_id);
        } else {
            let size = chunks.message.len() - chunks.base;
            // Held until the message is stored.
            let mut reservation = chunks.reservation;
            let now = Instant::now();
            self.deliver(tx, chunks.message, size, now, &mut reservation)
                .await;
        }
        Flow::Continue
    }

    /// The memory budget could not hold the message: a temporary answer,
    /// so the sender tries again later.
    fn over_budget(&mut self, queue_id: &str) {
        log::warn!(
            "[{}] {}: {queue_id}: refused: memory budget for messages in flight is spent ({} of {} bytes in use)",
            self.id,
            self.name(),
            self.ctx.budget.in_use(),
            self.ctx.budget.limit()
        );
        // Not the client's fault: not counted as an error.
        self.reply("452 4.3.1 Insufficient system resources, try again later\r\n");
    }

    /// The Junk mailbox of each account (INBOX for an account that has
    /// deleted its Junk: the mail is still delivered, and marked).
    fn junk_mailboxes(&self, accounts: &[u64]) -> Result<Vec<u64>, StoreError> {
        let reader = self.ctx.store.read()?;
        let mut ids = Vec::with_capacity(accounts.len());
        for &account in accounts {
            let junk = match reader.mailbox(account, "Junk")? {
                Some(m) => Some(m),
                None => reader.mailbox(account, "INBOX")?,
            };
            match junk {
                Some(m) => ids.push(m.id),
                None => return Err(StoreError::NotFound(format!("INBOX of account {account}"))),
            }
        }
        Ok(ids)
    }

    /// Stores the message for every local recipient and queues the
    /// remote ones, in one commit; replies only after it is durable.
    async fn deliver(
        &mut self,
        tx: Transaction,
        mut message: Vec<u8>,
        size: usize,
        started: Instant,
        reservation: &mut Reservation,
    ) {
        // Quotas, now that the real size is known (see session/quota.rs).
        match self.quota_at_end(&tx.accounts, message.len() as u64) {
            Ok(None) => {}
            Ok(Some(reply)) => return self.reply(reply),
            Err(e) => return self.store_trouble(&e),
        }
        let mailboxes = {
            let reader = match self.ctx.store.read() {
                Ok(r) => r,
                Err(e) => return self.store_trouble(&e),
            };
            let mut ids = Vec::with_capacity(tx.local.len());
            for &account in &tx.local {
                match reader.mailbox(account, "INBOX") {
                    Ok(Some(inbox)) => ids.push(inbox.id),
                    Ok(None) => {
                        return self.store_trouble(&StoreError::NotFound(format!(
                            "INBOX of account {account}"
                        )));
                    }
                    Err(e) => return self.store_trouble(&e),
                }
            }
            ids
        };
        let now = crate::time::now();
        // The header section the delivered notice returns, copied
        // before the message goes to the store.
        let notice_headers = (!tx.notify_delivered.is_empty()
            && !matches!(tx.sender, super::command::ReversePath::Null))
        .then(|| crate::delivery::notice::returned_headers(&message));
        let outbound = (!tx.remote.is_empty()).then(|| Outbound {
            queue_id: tx.queue_id.clone(),
            sender: tx.sender.address(),
            recipients: tx.remote.clone(),
            ret: tx.params.ret,
            envid: tx.params.envid.clone(),
            arrival: now,
            attempts: 0,
        });
        let may_sign = self.account.is_some() || self.ctx.config.is_trusted(self.peer.ip());
        // Mail from outside for local mailboxes: SPF, DKIM and DMARC
        // judged, the verdicts in Authentication-Results (RFC 8601), and
        // the domain's DMARC policy applied as --dmarc-policy allows.
        let from_outside = self.service == crate::config::Service::Smtp && !may_sign;
        let prefix = format!("[{}] {}: {}", self.id, self.name(), tx.queue_id);
        let base = message.len() - size;
        // Room for the fields added below (an Authentication-Results
        // field, two DKIM-Signatures), taken from the budget like the
        // message, so inserting them never doubles a full buffer unpaid.
        let want = message.len() + ADDED_FIELDS_ROOM;
        if !reservation.make_room(&mut message, ADDED_FIELDS_ROOM, want) {
            return self.over_budget(&tx.queue_id);
        }
        let mut mailboxes = mailboxes;
        if from_outside && !mailboxes.is_empty() {
            let resolver = crate::net::dns::Resolver::new(&self.ctx.config.delivery.dns_servers);
            let id = self.hostname().to_string();
            let sender = tx.sender.address();
            let env = crate::dmarc::inbound::Envelope {
                ip: self.peer.ip(),
                helo: self.helo.as_deref().unwrap_or(""),
                sender: &sender,
            };
            let (annotated, dmarc) =
                crate::dmarc::inbound::annotate(&resolver, &id, message, base, &env, &prefix).await;
            message = annotated;
            match crate::dmarc::action(self.ctx.config.dmarc_policy, &dmarc) {
                crate::dmarc::Action::Deliver => {}
                crate::dmarc::Action::Refuse => {
                    log::info!(
                        "{prefix}: refused: DMARC policy of {} is reject and the message fails it ({})",
                        dmarc.from,
                        dmarc.reason
                    );
                    return self.reply(&format!(
                        "550 5.7.1 Message refused: it fails the DMARC policy (p=reject) of {}\r\n",
                        dmarc.from
                    ));
                }
                crate::dmarc::Action::Junk => {
                    log::info!(
                        "{prefix}: into Junk: fails the DMARC policy ({}) of {}",
                        dmarc.policy.name(),
                        dmarc.from
                    );
                    match self.junk_mailboxes(&tx.local) {
                        Ok(ids) => mailboxes = ids,
                        Err(e) => return self.store_trouble(&e),
                    }
                }
            }
        } else if !mailboxes.is_empty() {
            // Not judged, but no forged verdict of ours is stored either.
            let id = self.hostname();
            crate::dkim::inbound::strip_own_results(&mut message, base, id, &prefix);
        }
        // DKIM (RFC 6376): mail that leaves, from a client that may send
        // as our domains (AUTH or a trusted network; see dkim::outbound).
        let message = match outbound.is_some() && may_sign {
            true => {
                // The content starts where it did: removing fields inside
                // it moved nothing above.
                let reader = self.ctx.store.read().ok();
                let (account, envelope) = (self.account.as_ref(), &tx.sender);
                // Signed only as an address the client may send as: its
                // own (or an alias of it) after AUTH, as at MAIL FROM; from
                // a trusted network, an address in the envelope sender's
                // domain. Otherwise it goes unsigned, with a log line.
                let may_sign_as = |reader: &crate::store::Reader, local: &str, domain: &str| {
                    let from = super::command::Path {
                        local: local.to_string(),
                        domain: domain.to_string(),
                    };
                    let allowed = match (account, envelope) {
                        (Some(a), _) => {
                            super::policy::sender_owned(reader, a, &from).unwrap_or(false)
                        }
                        (None, super::command::ReversePath::Mailbox(p)) => p.domain == from.domain,
                        (None, super::command::ReversePath::Null) => false,
                    };
                    if !allowed {
                        log::info!(
                            "{prefix}: not DKIM-signed: From <{}> is not an address this client may send as",
                            from.address()
                        );
                    }
                    allowed
                };
                crate::dkim::outbound::sign_queued(reader, message, base, &prefix, may_sign_as)
                    .await
            }
            false => message,
        };
        let delivery = Delivery::new(message, now, mailboxes, outbound);
        let qid = &tx.queue_id;
        let (id, name) = (self.id, self.name());
        log::info!(
            "[{id}] {name}: {qid}: client=[{}]{}, from=<{}>, size={size}, nrcpt={}",
            self.peer.ip().to_canonical(),
            self.account
                .as_ref()
                .map(|a| format!(", sasl_username={}", a.address))
                .unwrap_or_default(),
            tx.sender.address(),
            tx.recipients.len()
        );
        let delivery = crate::store::Summarized::compute(delivery).await;
        match self.ctx.store.deliver(delivery).await {
            Ok(done) => {
                crate::metrics::received(self.service, done.placed.len());
                if done.queued.is_some() {
                    self.ctx.queue_kick.notify(1);
                }
                let delay = started.elapsed().as_secs_f64();
                for to in &tx.recipients {
                    log::info!(
                        "[{id}] {name}: {qid}: to=<{to}>, delay={delay:.3}, status=accepted"
                    );
                }
                if !done.placed.is_empty() {
                    log::info!(
                        "[{id}] {name}: {qid}: relay=local, status=sent (delivered to {} mailbox(es))",
                        done.placed.len()
                    );
                }
                for r in &tx.remote {
                    log::info!(
                        "[{id}] {name}: {qid}: to=<{}>, status=queued (outbound)",
                        r.address
                    );
                }
                self.reply(&format!("250 2.0.0 Ok: queued as {qid}\r\n"));
                if let Some(headers) = notice_headers {
                    self.delivered_notice(&tx, &headers, now).await;
                }
            }
            Err(e) => {
                log::log!(
                    e.log_level(),
                    "[{id}] {name}: {qid}: status=deferred (store: {e})"
                );
                match e {
                    StoreError::Full => self.reply("452 4.3.1 Insufficient system storage\r\n"),
                    _ => {
                        self.reply("451 4.3.0 Error: temporary local problem, try again later\r\n")
                    }
                }
            }
        }
    }
}

/// 32 random bits for a Message-ID.
fn random() -> u32 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u32::from_ne_bytes(b)
}

/// Keeps what a client sent safe to put in a header: no CR/LF, no
/// comment or structure characters, bounded length.
fn sanitize(text: &str) -> String {
    text.chars()
        .take(255)
        .map(|c| {
            if c.is_alphanumeric() || ".-_:[]@ ".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// How much of a BDAT chunk with `remaining` octets still to come can be
/// taken from `buffered` octets at hand. Checked: on a 32-bit target
/// `remaining as usize` would truncate 4294967296 to 0 and spin.
fn chunk_take(remaining: u64, buffered: usize) -> usize {
    usize::try_from(remaining).map_or(buffered, |r| r.min(buffered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_take_is_checked() {
        assert_eq!(chunk_take(4_294_967_296, 4096), 4096);
        assert_eq!(chunk_take(u64::MAX, 10), 10);
        assert_eq!(chunk_take(3, 10), 3);
        assert_eq!(chunk_take(0, 10), 0);
    }

    #[test]
    fn header_values_are_sanitized() {
        assert_eq!(sanitize("evil\r\nBcc: x"), "evil??Bcc: x");
        assert_eq!(sanitize("[192.0.2.1]"), "[192.0.2.1]");
        assert_eq!(sanitize(&"a".repeat(1000)).len(), 255);
    }
}
