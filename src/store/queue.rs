//! The outbound queue's records: a message waiting to leave, with its
//! envelope, its recipients' states and the DSN parameters (RFC 3461) that
//! decide what a later bounce or delay notice contains.
//!
//! An entry is written in the same commit as the message it sends, and it
//! holds one reference on the message body, so the body outlives every
//! local copy for as long as the queue still needs it.

use std::sync::atomic::{AtomicU32, Ordering};

use super::records::{Reader, Writer};
use super::{StoreError, keys};
use crate::dsn::Ret;

/// NOTIFY bits as the records hold them (`crate::dsn` is their home).
pub use crate::dsn::notify;

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum RecipientState {
    #[default]
    Pending = 0,
    Delivered = 1,
    Failed = 2,
}

impl RecipientState {
    pub(super) fn from_u8(v: u8) -> RecipientState {
        match v {
            1 => RecipientState::Delivered,
            2 => RecipientState::Failed,
            _ => RecipientState::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutboundRecipient {
    pub address: String,
    pub notify: u8,
    /// RFC 3461 §4.2 ORCPT as given (`rfc822;user@example.org`).
    pub orcpt: Option<String>,
    pub state: RecipientState,
    /// The last reply or error for this recipient.
    pub last_error: String,
    /// The host that gave `last_error` (RFC 3464 §2.3.5 Remote-MTA);
    /// empty when no server answered (DNS, connection).
    pub remote_mta: String,
    /// A delay notice (RFC 3464 Action: delayed) has gone to the sender.
    pub delay_notified: bool,
}

/// A queued message's envelope.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outbound {
    /// The id in log lines (Postfix style).
    pub queue_id: String,
    /// Envelope sender; empty for the null sender `<>`.
    pub sender: String,
    pub recipients: Vec<OutboundRecipient>,
    pub ret: Ret,
    pub envid: Option<String>,
    /// Unix seconds the message was accepted.
    pub arrival: i64,
    pub attempts: u32,
}

/// One entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    /// Unix seconds of the next attempt (part of the key).
    pub due: i64,
    pub entry_id: u64,
    pub blob_id: u64,
    pub outbound: Outbound,
}

/// Record layout (the first byte of every record). Formats 1 and 2 wrote
/// text with a u16 length, cut at 64 KiB; schema 2 rewrote them as 3
/// (`schema.rs`), so format 3 is the only one read here.
pub(super) const FORMAT: u8 = 3;

/// `queue` value: format ‖ blob id ‖ arrival ‖ attempts ‖ RET ‖ queue id ‖
/// sender ‖ ENVID ‖ recipient count ‖ per recipient: address ‖ NOTIFY ‖
/// state ‖ ORCPT ‖ last error ‖ Remote-MTA ‖ delay notified.
pub(super) fn encode(blob_id: u64, o: &Outbound) -> Result<Vec<u8>, StoreError> {
    let mut w = Writer::with_capacity(64 + o.recipients.len() * 32);
    let count = u32::try_from(o.recipients.len())
        .map_err(|_| StoreError::Invalid("too many recipients".into()))?;
    w.u8(FORMAT)
        .u64(blob_id)
        .i64(o.arrival)
        .u32(o.attempts)
        .u8(o.ret as u8)
        .text(&o.queue_id)?
        .text(&o.sender)?
        .opt_text(o.envid.as_deref())?
        .u32(count);
    for r in &o.recipients {
        w.text(&r.address)?
            .u8(r.notify)
            .u8(r.state as u8)
            .opt_text(r.orcpt.as_deref())?
            .text(&r.last_error)?
            .text(&r.remote_mta)?
            .u8(r.delay_notified as u8);
    }
    Ok(w.0)
}

pub(super) fn decode(key: &[u8], value: &[u8]) -> Result<QueueEntry, StoreError> {
    let (due, entry_id) =
        keys::queue_parts(key).ok_or_else(|| StoreError::Corrupt("queue key".into()))?;
    let mut r = Reader(value);
    if r.u8()? != FORMAT {
        return Err(StoreError::Corrupt("unknown queue record format".into()));
    }
    let blob_id = r.u64()?;
    let arrival = r.i64()?;
    let attempts = r.u32()?;
    let ret = Ret::from_u8(r.u8()?);
    let queue_id = r.text()?;
    let sender = r.text()?;
    let envid = r.opt_text()?;
    let count = r.u32()? as usize;
    let mut recipients = Vec::with_capacity(count.min(1000));
    for _ in 0..count {
        recipients.push(OutboundRecipient {
            address: r.text()?,
            notify: r.u8()?,
            state: RecipientState::from_u8(r.u8()?),
            orcpt: r.opt_text()?,
            last_error: r.text()?,
            remote_mta: r.text()?,
            delay_notified: r.u8()? != 0,
        });
    }
    let outbound = Outbound {
        queue_id,
        sender,
        recipients,
        ret,
        envid,
        arrival,
        attempts,
    };
    Ok(QueueEntry {
        due,
        entry_id,
        blob_id,
        outbound,
    })
}

/// The sequence behind [`new_queue_id`], shared by every thread so that
/// ids made in the same microsecond differ.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A Postfix-style queue id for the log: 14 hex digits, the time in
/// microseconds and a sequence number, unique within the process and
/// ordered in time. Every queued message takes its id from here: those the
/// SMTP server accepts and the notices the delivery runner writes.
pub fn new_queue_id() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{:011X}{:03X}", micros & 0xFFF_FFFF_FFFF, seq & 0xFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let o = Outbound {
            queue_id: "4F2A1B".into(),
            sender: "a@home.arpa".into(),
            recipients: vec![
                OutboundRecipient {
                    address: "x@example.org".into(),
                    notify: notify::FAILURE | notify::DELAY,
                    orcpt: Some("rfc822;X@example.org".into()),
                    remote_mta: "mx.example.org".into(),
                    delay_notified: true,
                    ..Default::default()
                },
                OutboundRecipient {
                    address: "y@example.net".into(),
                    ..Default::default()
                },
            ],
            ret: Ret::Headers,
            envid: Some("QQ314159".into()),
            arrival: 1_700_000_000,
            attempts: 0,
        };
        let bytes = encode(42, &o).unwrap();
        let e = decode(&keys::queue(1_700_000_300, 7), &bytes).unwrap();
        assert_eq!((e.due, e.entry_id, e.blob_id), (1_700_000_300, 7, 42));
        assert_eq!(e.outbound, o);
        assert!(decode(&keys::queue(0, 0), &bytes[..bytes.len() - 3]).is_err());
        // Text is never cut: a last error of any length comes back whole.
        let mut long = o.clone();
        long.recipients[0].last_error = "x".repeat(70_000);
        let bytes = encode(1, &long).unwrap();
        assert_eq!(decode(&keys::queue(0, 0), &bytes).unwrap().outbound, long);
    }

    #[test]
    fn queue_ids_are_unique_and_hex() {
        let ids: Vec<String> = (0..100).map(|_| new_queue_id()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 100);
        assert!(
            ids.iter()
                .all(|i| i.len() == 14 && i.chars().all(|c| c.is_ascii_hexdigit()))
        );
    }
}
