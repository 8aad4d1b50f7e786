//! Where a delivery status notification goes, and the "delivered" notice.
//!
//! A notice is addressed to the original envelope sender: into the
//! sender's INBOX when the address is local, else into the outbound queue
//! with the null reverse-path (RFC 5321 §4.5.5, RFC 3461 §6: a notice is
//! never answered by another notice). Shared by the queue runner (bounce,
//! delay, relayed) and the SMTP server, which writes the "delivered" notice
//! (RFC 3461 §4.1 NOTIFY=SUCCESS, RFC 3464 `Action: delivered`) once it has
//! stored a message for local recipients who asked for one.

use super::bounce::{self, Action, Report, ReportRcpt};
use crate::dsn;
use crate::store::{Delivery, Outbound, OutboundRecipient, Reader, Recipient, StoreError};

/// A composed notice addressed to `sender`; `None` when the address
/// reaches nobody (an alias to nowhere). The bool is true when it goes to
/// the queue (someone remote takes it).
pub fn addressed(
    reader: &Reader,
    sender: &str,
    message: Vec<u8>,
    now: i64,
) -> Result<Option<(Delivery, bool)>, StoreError> {
    let mut mailboxes = Vec::new();
    let mut remote = Vec::new();
    for target in reader.resolve(sender)? {
        match target {
            Recipient::Local { account_id, .. } => {
                if let Some(inbox) = reader.mailbox(account_id, "INBOX")? {
                    mailboxes.push(inbox.id);
                }
            }
            Recipient::Remote(address) => remote.push(OutboundRecipient {
                address,
                ..Default::default()
            }),
        }
    }
    if mailboxes.is_empty() && remote.is_empty() {
        return Ok(None);
    }
    let queued = !remote.is_empty();
    let outbound = queued.then(|| Outbound {
        queue_id: crate::store::new_queue_id(),
        sender: String::new(),
        recipients: remote,
        ret: dsn::Ret::Headers,
        envid: None,
        arrival: now,
        attempts: 0,
    });
    Ok(Some((
        Delivery::new(message, now, mailboxes, outbound),
        queued,
    )))
}

/// The header section a success notice returns, from the message as
/// stored minus its first line (the Return-Path the store adds, which the
/// runner's notices leave out too). Bounded by
/// [`bounce::FULL_RETURN_LIMIT`] at a line end: a message that is all
/// header (no blank line) must not be copied whole beside the stored one.
pub fn returned_headers(stored: &[u8]) -> Vec<u8> {
    let content = stored
        .iter()
        .position(|&b| b == b'\n')
        .map_or(stored, |i| &stored[i + 1..]);
    let headers = bounce::header_section(content);
    if headers.len() <= bounce::FULL_RETURN_LIMIT {
        return headers.to_vec();
    }
    let cut = &headers[..bounce::FULL_RETURN_LIMIT];
    let end = cut.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    cut[..end].to_vec()
}

/// What the SMTP server knows of a message it has just stored.
pub struct Stored<'a> {
    pub hostname: &'a str,
    pub queue_id: &'a str,
    /// The envelope sender, who gets the notice (never the null sender).
    pub sender: &'a str,
    pub envid: Option<&'a str>,
    pub now: i64,
    /// Recipients as given in RCPT, with their ORCPT as stored.
    pub recipients: &'a [(String, Option<String>)],
    /// The message's header section (RFC 3461 §4.3: a success notice
    /// returns the headers only, whatever RET asked).
    pub headers: &'a [u8],
}

/// The "delivered" notice: RFC 3464 `Action: delivered`, status 2.0.0
/// (RFC 3463: success, undefined detail), one report per recipient.
pub fn delivered(s: &Stored) -> Vec<u8> {
    let recipients = s
        .recipients
        .iter()
        .map(|(address, orcpt)| ReportRcpt {
            address,
            orcpt: orcpt.as_deref(),
            status: "2.0.0",
            diagnostic: "delivered to mailbox",
            remote: false,
            mta: "",
        })
        .collect();
    let boundary = format!("{}/{}", crate::store::new_queue_id(), s.hostname);
    bounce::compose(&Report {
        action: Action::Delivered,
        hostname: s.hostname,
        queue_id: s.queue_id,
        to: s.sender,
        envid: s.envid,
        arrival: s.now,
        now: s.now,
        retry_until: None,
        recipients,
        original: s.headers,
        full: false,
        boundary: &boundary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_headers_skip_return_path_and_are_bounded() {
        let m = b"Return-Path: <a@b>\r\nReceived: x\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(returned_headers(m), b"Received: x\r\nSubject: s\r\n\r\n");
        let mut huge = b"Return-Path: <a@b>\r\n".to_vec();
        while huge.len() < 3 * bounce::FULL_RETURN_LIMIT {
            huge.extend_from_slice(b"X-Fill: 0123456789\r\n");
        }
        let got = returned_headers(&huge);
        assert!(got.len() <= bounce::FULL_RETURN_LIMIT && got.ends_with(b"\r\n"));
        assert!(got.starts_with(b"X-Fill: "));
    }
}
