//! The outbound queue's records: a message waiting to leave, with its
//! envelope, its recipients' states and the DSN parameters (RFC 3461) that
//! decide what a later bounce or delay notice contains.
//!
//! An entry is written in the same commit as the message it sends, and it
//! holds one reference on the message body, so the body outlives every
//! local copy for as long as the queue still needs it.

use std::sync::atomic::{AtomicU32, Ordering};

use super::StoreError;
use super::records::{Reader, Writer};

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

/// Record layout written now. Format 1 (the first) lacked the per-recipient
/// Remote-MTA and delay-notice fields; it is still read.
const FORMAT: u8 = 2;

fn string(w: &mut Writer, s: &str) {
    let s = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    w.0.extend_from_slice(&(s.len() as u16).to_be_bytes());
    w.bytes(s);
}

fn opt_string(w: &mut Writer, s: &Option<String>) {
    match s {
        Some(s) => {
            w.u8(1);
            string(w, s);
        }
        None => {
            w.u8(0);
        }
    }
}

fn read_string(r: &mut Reader) -> Result<String, StoreError> {
    let len = u16::from_be_bytes([r.u8()?, r.u8()?]) as usize;
    let rest = r.rest();
    if rest.len() < len {
        return Err(StoreError::Corrupt("queue record string".into()));
    }
    r.0 = &rest[len..];
    Ok(String::from_utf8_lossy(&rest[..len]).into_owned())
}

fn read_opt_string(r: &mut Reader) -> Result<Option<String>, StoreError> {
    match r.u8()? {
        0 => Ok(None),
        _ => read_string(r).map(Some),
    }
}

pub fn encode(blob_id: u64, o: &Outbound) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + o.recipients.len() * 32);
    w.u8(FORMAT)
        .u64(blob_id)
        .i64(o.arrival)
        .u32(o.attempts)
        .u8(o.ret as u8);
    string(&mut w, &o.queue_id);
    string(&mut w, &o.sender);
    opt_string(&mut w, &o.envid);
    w.u32(o.recipients.len() as u32);
    for r in &o.recipients {
        string(&mut w, &r.address);
        w.u8(r.notify).u8(r.state as u8);
        opt_string(&mut w, &r.orcpt);
        string(&mut w, &r.last_error);
        string(&mut w, &r.remote_mta);
        w.u8(r.delay_notified as u8);
    }
    w.0
}

pub fn decode(key: &[u8], value: &[u8]) -> Result<QueueEntry, StoreError> {
    let mut k = Reader(key);
    let (due, entry_id) = (k.i64()?, k.u64()?);
    let mut r = Reader(value);
    let format = r.u8()?;
    if format != 1 && format != FORMAT {
        return Err(StoreError::Corrupt("unknown queue record format".into()));
    }
    let blob_id = r.u64()?;
    let arrival = r.i64()?;
    let attempts = r.u32()?;
    let ret = Ret::from_u8(r.u8()?);
    let queue_id = read_string(&mut r)?;
    let sender = read_string(&mut r)?;
    let envid = read_opt_string(&mut r)?;
    let count = r.u32()? as usize;
    let mut recipients = Vec::with_capacity(count.min(1000));
    for _ in 0..count {
        let address = read_string(&mut r)?;
        let notify = r.u8()?;
        let state = match r.u8()? {
            1 => RecipientState::Delivered,
            2 => RecipientState::Failed,
            _ => RecipientState::Pending,
        };
        let orcpt = read_opt_string(&mut r)?;
        let last_error = read_string(&mut r)?;
        let (remote_mta, delay_notified) = match format {
            1 => (String::new(), false),
            _ => (read_string(&mut r)?, r.u8()? != 0),
        };
        recipients.push(OutboundRecipient {
            address,
            notify,
            orcpt,
            state,
            last_error,
            remote_mta,
            delay_notified,
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

/// `queue` key: due time ‖ entry id, so a scan walks entries by due time.
pub fn key(due: i64, entry_id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&due.to_be_bytes());
    k[8..].copy_from_slice(&entry_id.to_be_bytes());
    k
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
        let bytes = encode(42, &o);
        let e = decode(&key(1_700_000_300, 7), &bytes).unwrap();
        assert_eq!((e.due, e.entry_id, e.blob_id), (1_700_000_300, 7, 42));
        assert_eq!(e.outbound, o);
        assert!(decode(&key(0, 0), &bytes[..bytes.len() - 3]).is_err());
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

    #[test]
    fn format_one_is_still_read() {
        let o = Outbound {
            recipients: vec![OutboundRecipient {
                address: "x@example.org".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut bytes = encode(3, &o);
        // Format 1 ended each recipient after last_error: drop the empty
        // Remote-MTA (2 length bytes) and the delay flag.
        bytes[0] = 1;
        bytes.truncate(bytes.len() - 3);
        assert_eq!(decode(&key(1, 2), &bytes).unwrap().outbound, o);
    }
}
