//! The one memory budget for message bytes in flight (DESIGN.md "Budgets").
//!
//! Every place that buffers a message, or a large part of one, on behalf of
//! a client (SMTP DATA and BDAT, IMAP APPEND literals, large FETCH items,
//! POP3 RETR, the fetcher's downloads) takes a [`Reservation`] from the
//! server's one [`Budget`] *before* the bytes are buffered, and gives it
//! back when the guard drops (stored, sent or thrown away). When the
//! budget is spent the caller answers its protocol's temporary error
//! (SMTP 452 4.3.1, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP]) instead of
//! letting the process grow: one board's RAM is the whole house's.
//!
//! The count is atomic because the fetcher and the blocking pool may hold
//! guards on other threads; it is a counter only, nothing waits on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The smallest step a growing buffer takes, so a message that arrives a
/// few bytes per read is not reallocated per read.
const MIN_STEP: usize = 64 * 1024;

/// The server-wide total of message bytes that may be buffered at once.
#[derive(Clone, Debug)]
pub struct Budget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            inner: Arc::new(Inner {
                limit,
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// Bytes reserved now, over every connection.
    pub fn in_use(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// A reservation of nothing yet, to grow as the bytes come.
    pub fn empty(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: 0,
        }
    }

    /// `n` bytes at once (a declared literal or BDAT chunk), or `None`
    /// when they do not fit in what is left.
    pub fn reserve(&self, n: usize) -> Option<Reservation> {
        let mut r = self.empty();
        r.grow_to(n).then_some(r)
    }

    fn take(&self, n: usize) -> bool {
        let limit = self.inner.limit;
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= limit)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.inner.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Bytes of the budget held by one buffer; given back on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: Budget,
    held: usize,
}

impl Reservation {
    /// Bytes held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Holds `total` bytes in all (never less than now); false, holding
    /// what it held, when the budget cannot give the difference.
    pub fn grow_to(&mut self, total: usize) -> bool {
        if total <= self.held {
            return true;
        }
        if !self.budget.take(total - self.held) {
            return false;
        }
        self.held = total;
        true
    }

    /// Gives back all but `total` bytes (a buffer that was shrunk).
    pub fn shrink_to(&mut self, total: usize) {
        if total < self.held {
            self.budget.give(self.held - total);
            self.held = total;
        }
    }

    /// Makes room in `buf` for `extra` more bytes, its capacity covered by
    /// this reservation and never past `cap` (the message's declared or
    /// largest size) unless the bytes themselves need it: the buffer grows
    /// by doubling for few reallocations, but a `Vec` of a 25 MB message
    /// does not become 32 MiB. False when the budget is spent; the buffer
    /// is then unchanged.
    pub fn make_room(&mut self, buf: &mut Vec<u8>, extra: usize, cap: usize) -> bool {
        let want = buf.len().saturating_add(extra);
        if want <= buf.capacity() {
            return self.grow_to(buf.capacity());
        }
        let target = buf
            .capacity()
            .saturating_mul(2)
            .max(MIN_STEP)
            .min(cap)
            .max(want);
        if !self.grow_to(target) && !self.grow_to(want) {
            return false;
        }
        let target = target.min(self.held);
        if target > buf.capacity() {
            buf.reserve_exact(target - buf.len());
        }
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held > 0 {
            self.budget.give(self.held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_add_up_and_come_back() {
        let budget = Budget::new(1000);
        let a = budget.reserve(600).unwrap();
        assert!(budget.reserve(500).is_none(), "over the limit");
        let mut b = budget.empty();
        assert!(b.grow_to(400));
        assert!(!b.grow_to(401));
        assert_eq!(b.held(), 400);
        assert_eq!(budget.in_use(), 1000);
        drop(a);
        assert_eq!(budget.in_use(), 400);
        b.shrink_to(100);
        assert_eq!(budget.in_use(), 100);
        drop(b);
        assert_eq!(budget.in_use(), 0);
        // Another thread's guard counts and returns as well.
        let c = budget.reserve(1000).unwrap();
        std::thread::spawn(move || drop(c)).join().unwrap();
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn buffers_grow_within_the_cap_and_the_budget() {
        let budget = Budget::new(10 << 20);
        let mut r = budget.empty();
        let mut buf = Vec::new();
        let cap = 3 << 20;
        let mut total = 0;
        while total < cap {
            assert!(r.make_room(&mut buf, 4096, cap));
            buf.extend_from_slice(&[0; 4096]);
            total += 4096;
            assert!(buf.capacity() <= cap, "doubled past the cap");
            assert!(buf.capacity() <= r.held() + 64, "capacity not covered");
        }
        assert_eq!(buf.len(), cap);
        // Past the budget: refused, and the buffer did not grow.
        let small = Budget::new(100_000);
        let mut r = small.empty();
        let mut buf = Vec::new();
        assert!(r.make_room(&mut buf, 90_000, 1 << 20));
        buf.resize(90_000, 0);
        let before = buf.capacity();
        assert!(!r.make_room(&mut buf, 20_000, 1 << 20));
        assert_eq!(buf.capacity(), before);
        drop(r);
        assert_eq!(small.in_use(), 0);
    }
}
