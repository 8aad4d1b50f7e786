//! Change notification per mailbox: the writer thread announces each commit
//! to the sessions (IMAP IDLE/NOOP) that watch the mailboxes it touched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use event_listener::{Event, EventListener};

/// One [`Event`] per watched mailbox. Entries stay once created: there is
/// one per mailbox ever watched, a few dozen bytes each, which is cheaper
/// than the bookkeeping to drop them.
#[derive(Default)]
pub struct Notifier {
    events: Mutex<HashMap<u64, Arc<Event>>>,
}

impl Notifier {
    pub fn listen(&self, mailbox_id: u64) -> EventListener {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events
            .entry(mailbox_id)
            .or_insert_with(|| Arc::new(Event::new()))
            .listen()
    }

    /// Wakes every listener of the given mailboxes.
    pub fn notify(&self, mailbox_ids: &[u64]) {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        for id in mailbox_ids {
            if let Some(event) = events.get(id) {
                event.notify(usize::MAX);
            }
        }
    }
}
