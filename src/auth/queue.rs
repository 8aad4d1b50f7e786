//! The verifier's slots and its waiting line: bounded, and fair between
//! client addresses.
//!
//! Password hashing is the one place a client without an account can make
//! the server spend tens of milliseconds of CPU and ~19 MiB per request, so
//! the number of hashes running at once is fixed (a slot each), and:
//!
//! - a client group ([`ClientAddr::group`]: an IPv4 address, an IPv6 /64)
//!   holds at most one slot, so one address sending slow hashes can never
//!   keep another address's login waiting for more than one hash per slot;
//! - groups waiting for a slot are served round robin, one request per turn,
//!   so an address with many requests queued does not go before an address
//!   with one;
//! - the line is bounded, per group and in all ([`MAX_WAITING_PER_GROUP`],
//!   [`MAX_WAITING`]); past that a request is refused at once ([`Busy`]) and
//!   the protocol answers with its temporary error, instead of making every
//!   later login wait behind the flood;
//! - a request whose caller went away (its future dropped) leaves the line
//!   at once. A hash already running cannot be stopped, so its [`Slot`]
//!   travels into the blocking task and is freed when the hash ends.
//!
//! The state sits behind a `Mutex` rather than a `RefCell` because slots are
//! freed on the blocking threads that ran the hash.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::net::ClientAddr;

/// Requests that may wait for a slot, all groups together. Each is a
/// connection already open and a password of at most 1 KiB, so the bound is
/// about time, not memory: 64 waiting requests at ~0.3 s of argon2 on a
/// Raspberry Pi 3 over 2 slots is ~10 s, about the most a client should be
/// kept waiting before it is told to come back later.
pub const MAX_WAITING: usize = 64;
/// Requests one group may have waiting (besides the one running): a mail
/// client opening its usual 4–5 connections at once fits, and so does a
/// webmail on this host logging several users in at once through one
/// address (their repeat logins come from the cache, without waiting).
/// Below `limiter::MAX_FAILURES`, the world's lockout of one user at one
/// address, which counts every attempt while it runs: a client's parallel
/// logins as one user can all wait without locking that user out.
pub const MAX_WAITING_PER_GROUP: usize = 8;
const _: () = assert!(MAX_WAITING_PER_GROUP < super::limiter::MAX_FAILURES as usize);

/// The line is full; try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Slots and the waiting line (see the module documentation). Clones share
/// one line.
#[derive(Debug, Clone)]
pub struct Queue {
    shared: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    slots: usize,
    running: usize,
    /// Groups with a hash running.
    busy: HashSet<IpAddr>,
    /// Waiting tickets per group, oldest first.
    waiting: HashMap<IpAddr, VecDeque<u64>>,
    /// Groups with waiting tickets, in the order they get their next turn.
    turns: VecDeque<IpAddr>,
    waiting_total: usize,
    /// Tickets given a slot that their futures have not collected yet.
    granted: HashSet<u64>,
    wakers: HashMap<u64, Waker>,
    next_ticket: u64,
}

/// A running hash's claim: frees its slot (and its group) when dropped.
#[derive(Debug)]
pub struct Slot {
    shared: Arc<Mutex<State>>,
    group: IpAddr,
}

/// Waiting for a slot; dropping it leaves the line.
#[derive(Debug)]
pub struct Wait {
    shared: Arc<Mutex<State>>,
    group: IpAddr,
    ticket: u64,
    done: bool,
}

fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    // Nothing panics while holding the lock; if something did, the counts
    // are still whole (each change is a single step), so carry on.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Queue {
    /// A line in front of `slots` concurrent hashes (at least one).
    #[must_use]
    pub fn new(slots: usize) -> Queue {
        Queue {
            shared: Arc::new(Mutex::new(State {
                slots: slots.max(1),
                running: 0,
                busy: HashSet::new(),
                waiting: HashMap::new(),
                turns: VecDeque::new(),
                waiting_total: 0,
                granted: HashSet::new(),
                wakers: HashMap::new(),
                next_ticket: 0,
            })),
        }
    }

    /// A slot for a client of `ip`: at once if one is free and its group
    /// has none, else after waiting its turn; [`Busy`] if the line is full.
    pub async fn acquire(&self, ip: impl Into<ClientAddr>) -> Result<Slot, Busy> {
        self.enter(ip.into().group())?.await.map_err(|()| Busy)
    }

    /// Joins the line (or takes a free slot) without waiting yet.
    fn enter(&self, group: IpAddr) -> Result<Wait, Busy> {
        let mut state = lock(&self.shared);
        let ticket = state.next_ticket;
        if state.running < state.slots && !state.busy.contains(&group) {
            // Nobody eligible is waiting (the line is served whenever a
            // slot frees), so taking the slot jumps no one.
            state.running += 1;
            state.busy.insert(group);
            state.granted.insert(ticket);
        } else {
            let queued = state.waiting.get(&group).map_or(0, VecDeque::len);
            if state.waiting_total >= MAX_WAITING || queued >= MAX_WAITING_PER_GROUP {
                return Err(Busy);
            }
            if queued == 0 {
                state.turns.push_back(group);
            }
            state.waiting.entry(group).or_default().push_back(ticket);
            state.waiting_total += 1;
        }
        state.next_ticket += 1;
        // Made only once the lock is no longer needed for a refusal: its
        // Drop takes the lock.
        Ok(Wait {
            shared: Arc::clone(&self.shared),
            group,
            ticket,
            done: false,
        })
    }

    /// Hashes running now, and requests waiting (for tests and logs).
    #[must_use]
    pub fn load(&self) -> (usize, usize) {
        let state = lock(&self.shared);
        (state.running, state.waiting_total)
    }
}

impl State {
    /// Gives free slots to waiting groups that have none, in turn order.
    fn serve(&mut self) {
        let mut looked = 0;
        while self.running < self.slots && looked < self.turns.len() {
            let Some(group) = self.turns.pop_front() else {
                break;
            };
            if self.busy.contains(&group) {
                // Its hash is still running: it keeps its place in turn.
                self.turns.push_back(group);
                looked += 1;
                continue;
            }
            let queue = self.waiting.get_mut(&group);
            let Some(ticket) = queue.and_then(VecDeque::pop_front) else {
                self.waiting.remove(&group);
                continue;
            };
            self.waiting_total -= 1;
            if self.waiting.get(&group).is_some_and(|q| !q.is_empty()) {
                // Back of the line for its next request.
                self.turns.push_back(group);
            } else {
                self.waiting.remove(&group);
            }
            self.running += 1;
            self.busy.insert(group);
            self.granted.insert(ticket);
            if let Some(waker) = self.wakers.remove(&ticket) {
                waker.wake();
            }
            looked = 0;
        }
    }

    fn release(&mut self, group: IpAddr) {
        self.running -= 1;
        self.busy.remove(&group);
        self.serve();
    }
}

impl Future for Wait {
    type Output = Result<Slot, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.done {
            return Poll::Ready(Err(()));
        }
        let mut state = lock(&self.shared);
        if state.granted.remove(&self.ticket) {
            drop(state);
            self.done = true;
            return Poll::Ready(Ok(Slot {
                shared: Arc::clone(&self.shared),
                group: self.group,
            }));
        }
        state.wakers.insert(self.ticket, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = lock(&self.shared);
        state.wakers.remove(&self.ticket);
        if state.granted.remove(&self.ticket) {
            // Given a slot its caller will never use: pass it on.
            state.release(self.group);
            return;
        }
        if let Some(queue) = state.waiting.get_mut(&self.group)
            && let Some(at) = queue.iter().position(|t| *t == self.ticket)
        {
            queue.remove(at);
            let empty = queue.is_empty();
            state.waiting_total -= 1;
            if empty {
                state.waiting.remove(&self.group);
                state.turns.retain(|g| *g != self.group);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.shared).release(self.group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Polls once: the slot if granted.
    fn poll(wait: &mut Wait) -> Option<Slot> {
        let waker = Waker::from(Arc::new(Flag(false.into())));
        match Pin::new(wait).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(r) => Some(r.unwrap()),
            Poll::Pending => None,
        }
    }

    #[test]
    fn one_slot_per_group_and_round_robin() {
        let q = Queue::new(2);
        let (a, b, c) = (ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3"));
        let a1 = poll(&mut q.enter(a).unwrap()).expect("free slot");
        // A second request from A waits although a slot is free.
        let mut a2 = q.enter(a).unwrap();
        let mut a3 = q.enter(a).unwrap();
        assert!(poll(&mut a2).is_none());
        // B takes the free slot; C waits behind A's line.
        let b1 = poll(&mut q.enter(b).unwrap()).expect("free slot");
        let mut c1 = q.enter(c).unwrap();
        assert!(poll(&mut c1).is_none());
        assert_eq!(q.load(), (2, 3));
        // B's hash ends: C gets the slot, not A (still running one).
        drop(b1);
        let c1 = poll(&mut c1).expect("C's turn");
        // A's hash ends: A's next request runs.
        drop(a1);
        let a2 = poll(&mut a2).expect("A's turn");
        assert!(poll(&mut a3).is_none());
        drop((a2, c1));
        assert!(poll(&mut a3).is_some());
    }

    #[test]
    fn line_is_bounded_per_group_and_in_all() {
        let q = Queue::new(1);
        let first = poll(&mut q.enter(ip("192.0.2.1")).unwrap()).unwrap();
        let mine: Vec<Wait> = (0..MAX_WAITING_PER_GROUP)
            .map(|_| q.enter(ip("192.0.2.1")).unwrap())
            .collect();
        assert_eq!(q.enter(ip("192.0.2.1")).unwrap_err(), Busy);
        let others: Vec<Wait> = (0..MAX_WAITING - MAX_WAITING_PER_GROUP)
            .map(|i| q.enter(IpAddr::from([198, 51, 100, i as u8])).unwrap())
            .collect();
        assert_eq!(q.enter(ip("203.0.113.1")).unwrap_err(), Busy);
        // Leaving the line makes room at once.
        drop(others);
        assert!(q.enter(ip("203.0.113.1")).is_ok());
        drop((mine, first));
        assert_eq!(q.load(), (0, 0));
    }

    #[test]
    fn a_dropped_waiter_leaves_and_a_dropped_grant_passes_on() {
        let q = Queue::new(1);
        let first = poll(&mut q.enter(ip("192.0.2.1")).unwrap()).unwrap();
        let gone = q.enter(ip("192.0.2.2")).unwrap();
        let granted_unused = q.enter(ip("192.0.2.3")).unwrap();
        let mut last = q.enter(ip("192.0.2.4")).unwrap();
        drop(gone);
        assert_eq!(q.load(), (1, 2));
        drop(first);
        // .3 was given the slot but its caller left before collecting it.
        drop(granted_unused);
        assert!(poll(&mut last).is_some());
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_slot() {
        let q = Queue::new(2);
        let _one = poll(
            &mut q
                .enter(ClientAddr::from(ip("2001:db8::1")).group())
                .unwrap(),
        );
        let mut two = q
            .enter(ClientAddr::from(ip("2001:db8::2")).group())
            .unwrap();
        assert!(poll(&mut two).is_none());
    }
}
