//! What the metrics scrape reads from the store, answered here so that
//! `metrics` never sees LMDB or the key layout: the age of the oldest
//! queued message, and the map's size, how much of it is used, and the
//! free space of the file system under it.

use std::sync::atomic::Ordering;

use super::queue::FORMAT;
use super::records::Reader as Fields;
use super::{Reader, Store, StoreError, health};

/// How full the store is, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// `--map-size`: the most the map may grow to.
    pub map_size: u64,
    /// Pages in use up to the highest one written (LMDB's high-water
    /// mark, which is what the data file occupies; freed pages inside it
    /// are reused before the map grows).
    pub map_used: u64,
    /// Free bytes an unprivileged writer may use on the store's file
    /// system; `None` when statvfs fails.
    pub disk_free: Option<u64>,
}

impl Store {
    /// The map and disk figures: no read transaction needed.
    pub fn space(&self) -> Result<Space, StoreError> {
        let env = &self.shared.env;
        let info = env.info();
        let page = u64::from(env.stat().page_size);
        Ok(Space {
            map_size: info.map_size as u64,
            map_used: (info.last_page_number as u64 + 1).saturating_mul(page),
            disk_free: health::free_bytes(&self.shared.dir),
        })
    }

    /// Write transactions committed and write requests applied since start.
    pub fn commit_counts(&self) -> (u64, u64) {
        let stats = self.stats();
        (
            stats.commits.load(Ordering::Relaxed),
            stats.writes.load(Ordering::Relaxed),
        )
    }
}

impl Reader {
    /// The arrival time (Unix seconds) of the oldest message in the
    /// outbound queue, `None` when it is empty. The queue is keyed by due
    /// time, not arrival, so this walks it, reading one field per entry;
    /// a home server's queue is short, and the scrape is every 15 s or so.
    pub fn queue_oldest_arrival(&self) -> Result<Option<i64>, StoreError> {
        let mut oldest: Option<i64> = None;
        for entry in self.dbs.queue.iter(&self.txn)? {
            let (_, value) = entry?;
            let mut fields = Fields(value);
            if fields.u8()? != FORMAT {
                return Err(StoreError::Corrupt("unknown queue record format".into()));
            }
            let _blob = fields.u64()?;
            let arrival = fields.i64()?;
            oldest = Some(oldest.map_or(arrival, |o| o.min(arrival)));
        }
        Ok(oldest)
    }
}
