//! One message over an established session: MAIL, RCPT and DATA, in one
//! write when the server pipelines (RFC 2920), with SIZE (RFC 1870),
//! BODY=8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531) and the DSN parameters
//! (RFC 3461) passed on; the content streamed from the store and
//! dot-stuffed; one verdict per recipient. (The session itself — connect,
//! EHLO, TLS, AUTH, replies — is the parent module.)

use super::{Broken, CHUNK, COMMAND, DATA_BLOCK, DATA_END, DATA_INIT, Session};
use crate::delivery::body::Shape;
use crate::delivery::reply::Reply;
use crate::delivery::{Kind, Verdict};
use crate::dsn;
use crate::store::Store;
use crate::wire::dot::DotStuffer;

impl Session {
    /// Sends one message. Checks that it fits the server first (SIZE,
    /// 8BITMIME, SMTPUTF8): a message that does not fit is failed without a
    /// word sent, with the reason in the DSN. `Err` means the session is
    /// unusable; the caller defers the recipients and drops it.
    pub async fn send(
        &mut self,
        envelope: &Envelope<'_>,
        store: &Store,
    ) -> Result<Vec<Verdict>, Broken> {
        let n = envelope.recipients.len();
        if let Some(refusal) = self.refusal(envelope) {
            return Ok(vec![refusal; n]);
        }
        if self.dirty {
            let reply = self.command("RSET\r\n", COMMAND).await?;
            if !reply.is_positive() {
                return Err(Broken(format!("RSET refused: {}", reply.text())));
            }
            self.dirty = false;
        }
        self.dirty = true;
        let mail = self.mail_line(envelope);
        let rcpts: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| self.rcpt_line(r))
            .collect();
        let mut verdicts: Vec<Option<Verdict>> = vec![None; n];
        let mut accepted = Vec::with_capacity(n);
        let data_reply;
        if self.ext.pipelining {
            // RFC 2920 §3.1: MAIL, RCPTs and DATA in one go; replies in order.
            self.out.clear();
            self.out.extend_from_slice(mail.as_bytes());
            for line in &rcpts {
                self.out.extend_from_slice(line.as_bytes());
            }
            self.out.extend_from_slice(b"DATA\r\n");
            self.send_out(COMMAND).await?;
            let mail_reply = self.reply(COMMAND).await?;
            for (i, _) in rcpts.iter().enumerate() {
                let reply = self.reply(COMMAND).await?;
                if !mail_reply.is_positive() {
                    verdicts[i] = Some(self.verdict(&mail_reply));
                } else if reply.is_positive() {
                    accepted.push(i);
                } else {
                    verdicts[i] = Some(self.verdict(&reply));
                }
            }
            data_reply = self.reply(DATA_INIT).await?;
        } else {
            let mail_reply = self.command(&mail, COMMAND).await?;
            if !mail_reply.is_positive() {
                return Ok(vec![self.verdict(&mail_reply); n]);
            }
            for (i, line) in rcpts.iter().enumerate() {
                let reply = self.command(line, COMMAND).await?;
                if reply.is_positive() {
                    accepted.push(i);
                } else {
                    verdicts[i] = Some(self.verdict(&reply));
                }
            }
            if accepted.is_empty() {
                return Ok(verdicts.into_iter().flatten().collect());
            }
            data_reply = self.command("DATA\r\n", DATA_INIT).await?;
        }
        if data_reply.code != 354 {
            for &i in &accepted {
                verdicts[i] = Some(self.verdict(&data_reply));
            }
            return Ok(fill(verdicts));
        }
        if accepted.is_empty() {
            // A pipelining server that said 354 with no recipient: give it
            // an empty message and move on (RFC 2920 §3.1).
            self.out.clear();
            self.out.extend_from_slice(b".\r\n");
            self.send_out(DATA_BLOCK).await?;
            self.reply(DATA_END).await?;
            return Ok(fill(verdicts));
        }
        self.content(envelope, store).await?;
        let end = self.reply(DATA_END).await?;
        self.dirty = !end.is_positive();
        for &i in &accepted {
            verdicts[i] = Some(self.verdict(&end));
        }
        Ok(fill(verdicts))
    }

    /// What the server's extensions rule out for this message.
    pub(super) fn refusal(&self, envelope: &Envelope) -> Option<Verdict> {
        let shape = &envelope.shape;
        let local = |status: &str, text: String| Verdict {
            kind: Kind::Failed,
            status: status.into(),
            diagnostic: text,
            remote: false,
            mta: self.mta.clone(),
            peer_dsn: self.ext.dsn,
        };
        if let Some(limit) = self.ext.size
            && limit > 0
            && shape.size as u64 > limit
        {
            return Some(local(
                "5.3.4",
                format!(
                    "message size {} exceeds the limit of {} bytes of {}",
                    shape.size, limit, self.relay
                ),
            ));
        }
        if envelope.needs_smtputf8() && !self.ext.smtputf8 {
            return Some(local(
                "5.6.7",
                format!(
                    "the message has non-ASCII addresses or headers, and {} does not support SMTPUTF8",
                    self.relay
                ),
            ));
        }
        if shape.eight_bit && !self.ext.eight_bit_mime {
            return Some(local(
                "5.6.3",
                format!(
                    "the message has 8-bit content, and {} does not support 8BITMIME",
                    self.relay
                ),
            ));
        }
        None
    }

    pub(super) fn mail_line(&self, e: &Envelope) -> String {
        let mut line = format!("MAIL FROM:<{}>", e.sender);
        if self.ext.size.is_some() {
            line.push_str(&format!(" SIZE={}", e.shape.size));
        }
        if e.shape.eight_bit {
            line.push_str(" BODY=8BITMIME");
        }
        if e.needs_smtputf8() {
            line.push_str(" SMTPUTF8");
        }
        if self.ext.dsn {
            if let Some(ret) = e.ret.keyword() {
                line.push_str(&format!(" RET={ret}"));
            }
            if let Some(envid) = e.envid {
                line.push_str(&format!(" ENVID={}", dsn::encode_xtext(envid)));
            }
        }
        line.push_str("\r\n");
        line
    }

    pub(super) fn rcpt_line(&self, r: &RcptSpec) -> String {
        let mut line = format!("RCPT TO:<{}>", r.address);
        if self.ext.dsn {
            if let Some(notify) = dsn::notify::render(r.notify) {
                line.push_str(&format!(" NOTIFY={notify}"));
            }
            if let Some(orcpt) = r.orcpt.and_then(dsn::encode_orcpt) {
                line.push_str(&format!(" ORCPT={orcpt}"));
            }
        }
        line.push_str("\r\n");
        line
    }

    pub(super) fn verdict(&self, reply: &Reply) -> Verdict {
        let kind = if reply.is_positive() {
            Kind::Sent
        } else if reply.is_permanent() {
            Kind::Failed
        } else {
            Kind::Deferred
        };
        Verdict {
            kind,
            status: reply.status(),
            diagnostic: reply.text(),
            remote: true,
            mta: self.mta.clone(),
            peer_dsn: self.ext.dsn,
        }
    }

    /// Streams the message, dot-stuffed, ending with `.` CRLF.
    pub(super) async fn content(
        &mut self,
        envelope: &Envelope<'_>,
        store: &Store,
    ) -> Result<(), Broken> {
        let mut stuffer = DotStuffer::new();
        let mut offset = envelope.shape.start;
        loop {
            self.out.clear();
            let done = {
                let reader = store.read().map_err(|e| Broken(format!("store: {e}")))?;
                let blob = reader
                    .blob(envelope.blob_id)
                    .map_err(|e| Broken(format!("store: {e}")))?
                    .ok_or_else(|| Broken("the message was deleted from the queue".into()))?;
                let end = (offset + CHUNK).min(blob.len());
                stuffer.push(&blob[offset.min(end)..end], &mut self.out);
                offset = end;
                end >= blob.len()
            };
            if done {
                std::mem::take(&mut stuffer).finish(&mut self.out);
            }
            self.send_out(DATA_BLOCK).await?;
            if done {
                return Ok(());
            }
        }
    }
}

fn fill(verdicts: Vec<Option<Verdict>>) -> Vec<Verdict> {
    verdicts
        .into_iter()
        .map(|v| {
            v.unwrap_or_else(|| Verdict {
                kind: Kind::Deferred,
                status: "4.0.0".into(),
                diagnostic: "no result".into(),
                remote: false,
                mta: String::new(),
                peer_dsn: false,
            })
        })
        .collect()
}

/// One recipient as the queue holds it.
#[derive(Debug, Clone, Copy)]
pub struct RcptSpec<'a> {
    pub address: &'a str,
    pub notify: u8,
    pub orcpt: Option<&'a str>,
}

/// One message to send.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub sender: &'a str,
    pub recipients: Vec<RcptSpec<'a>>,
    pub ret: dsn::Ret,
    pub envid: Option<&'a str>,
    pub blob_id: u64,
    pub shape: Shape,
}

impl Envelope<'_> {
    /// RFC 6531 §3.4: non-ASCII in an address or in the headers.
    pub fn needs_smtputf8(&self) -> bool {
        self.shape.utf8_headers
            || !self.sender.is_ascii()
            || self.recipients.iter().any(|r| !r.address.is_ascii())
    }
}
