//! `smolmail queue list | flush | delete ID|ALL`: the operator's view of
//! the outbound queue, with Postfix's habits (`mailq`, `postqueue -f`,
//! `postsuper -d`).
//!
//! The commands open the store from their own process, as the other
//! administrative commands do. `flush` makes every entry due now in the
//! store; a running server's queue runner looks at the store at least
//! every 5 seconds and picks the entries up then. `delete` removes entries
//! and releases their bodies; an attempt already under way finishes its
//! conversation, and its result is then dropped.

use std::fmt::Write as _;
use std::path::Path;

use crate::store::Store;
use crate::store::queue::RecipientState;

/// The queue in mailq's layout: id, size, arrival, sender, then each
/// recipient still waiting with its last problem.
pub fn queue_list(data: &Path) -> Result<String, String> {
    queue_text(&crate::admin::open(data)?)
}

/// `queue list`'s text, also shown on the queue page.
pub fn queue_text(store: &Store) -> Result<String, String> {
    let reader = store.read().map_err(|e| e.to_string())?;
    let entries = reader.queue().map_err(|e| e.to_string())?;
    if entries.is_empty() {
        return Ok("Mail queue is empty".into());
    }
    let now = crate::time::now();
    let mut out =
        String::from("-Queue ID-      --Size-- ----Arrival Time----- -Sender/Recipient-------\n");
    let mut bytes = 0u64;
    for e in &entries {
        let o = &e.outbound;
        let size = reader
            .blob(e.blob_id)
            .map_err(|e| e.to_string())?
            .map_or(0, |b| b.len() as u64);
        bytes += size;
        let date = crate::time::rfc5322(o.arrival);
        // `*` marks an entry whose next attempt is due (Postfix marks the
        // active queue this way).
        let mark = if e.due <= now { "*" } else { " " };
        let _ = writeln!(
            out,
            "{:<15} {:>8} {:<22} {}",
            format!("{}{mark}", o.queue_id),
            size,
            date.get(..date.len().saturating_sub(6)).unwrap_or(&date),
            if o.sender.is_empty() {
                "MAILER-DAEMON"
            } else {
                &o.sender
            }
        );
        for r in o
            .recipients
            .iter()
            .filter(|r| r.state == RecipientState::Pending)
        {
            if !r.last_error.is_empty() {
                let _ = writeln!(out, "{:47}({})", "", r.last_error);
            }
            let _ = writeln!(out, "{:47}{}", "", r.address);
        }
        let _ = writeln!(
            out,
            "{:47}attempts: {}, next: {}",
            "",
            o.attempts,
            if e.due <= now {
                "now".to_string()
            } else {
                format!("in {}s", e.due - now)
            }
        );
        out.push('\n');
    }
    let _ = write!(
        out,
        "-- {} Kbytes in {} Request{}.",
        bytes.div_ceil(1024),
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    );
    Ok(out)
}

pub fn queue_flush(data: &Path) -> Result<String, String> {
    smol::block_on(flush(&crate::admin::open(data)?))
}

/// Makes every queued entry due now (the web page then kicks the runner
/// of its own process, which sends at once).
pub async fn flush(store: &Store) -> Result<String, String> {
    let n = store.queue_flush().await.map_err(|e| e.to_string())?;
    Ok(format!(
        "{n} queued message(s) made due now; a running server sends them within 5 seconds"
    ))
}

/// Deletes one entry by queue id, or every entry for `ALL`.
pub fn queue_delete(data: &Path, id: &str) -> Result<String, String> {
    smol::block_on(delete(&crate::admin::open(data)?, id))
}

pub async fn delete(store: &Store, id: &str) -> Result<String, String> {
    let which = (!id.eq_ignore_ascii_case("ALL")).then_some(id);
    let n = store.queue_delete(which).await.map_err(|e| e.to_string())?;
    Ok(format!("deleted {n} queued message(s)"))
}
