//! `/admin/backup`: a consistent copy of the store (LMDB's compacting
//! copy, `crate::admin::backup_store`, as `smolmail backup` makes) as a
//! file download. The copy is made on the blocking pool into a temporary
//! file in the data directory (no read transaction is held across a
//! socket write), then streamed by the HTTP session and deleted when the
//! answer is done with (`http::TempFile`). One at a time, from the start
//! of the copy until its file is deleted, since each is a whole copy of
//! the store on the data partition; and none when the partition has not
//! room for one (507, RFC 4918 §11.5).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Cx, html};
use crate::http::{Response, TempFile};
use crate::store::Space;

pub fn page(cx: &Cx<'_>) -> Response {
    let space = cx.ctx.store.space().ok();
    cx.page("Backup", |out| {
        out.push_str("<p>Downloads a consistent copy of the store (every user, message, setting, DKIM and ACME key) as <code>data.mdb</code>, taken while the server runs. Keep it safe: it holds every password hash and message. To restore, put it in an empty data directory and start <code>smolmail serve --data</code> there.</p>");
        if let Some(s) = space {
            out.push_str("<p>Store size: ");
            html::esc(out, &crate::admin::show_size(s.map_used));
            out.push_str(" (the copy is compacted, so it is at most this).</p>");
        }
        html::button(out, "/admin/backup", cx.csrf(), "download", &[], "Download backup");
        out.push_str("<p>The same as <code>smolmail backup DEST</code>.</p>");
    })
}

/// Free space a copy leaves on the data partition beyond its own size:
/// the store goes on receiving mail while the copy is streamed.
const MARGIN: u64 = 64 << 20;

/// Holds the one-at-a-time flag ([`super::Sessions::backup_busy`]) until
/// the copy is deleted (see `http::TempFile`).
struct Busy(Arc<AtomicBool>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Why a copy would not fit on the data partition, if it would not: the
/// copy is at most the store's used size (it is compacted).
fn no_room(space: &Space) -> Option<String> {
    let free = space.disk_free?;
    let need = space.map_used.saturating_add(MARGIN);
    (free < need).then(|| {
        format!(
            "The data partition has {} free; a copy of the store needs {} and {} to spare. Use smolmail backup DEST to write it elsewhere.",
            crate::admin::show_size(free),
            crate::admin::show_size(space.map_used),
            crate::admin::show_size(MARGIN)
        )
    })
}

pub async fn download(cx: &Cx<'_>) -> Response {
    let (ip, who) = (cx.ip(), cx.session.role.name());
    let flag = &cx.ctx.admin_sessions.backup_busy;
    if flag.swap(true, Ordering::AcqRel) {
        log::info!("admin: {ip} {who}: backup refused: another is being made or sent");
        return super::refusal(
            503,
            "A backup is being made or downloaded already; try again when it is done.",
        );
    }
    let busy = Busy(flag.clone());
    match cx.ctx.store.space().map(|space| no_room(&space)) {
        Ok(None) => {}
        Ok(Some(why)) => {
            log::warn!("admin: {ip} {who}: backup refused: {why}");
            return super::refusal(507, &why);
        }
        Err(e) => {
            log::error!("admin: {ip} {who}: backup failed: {e}");
            return super::refusal(500, &format!("The backup failed: {e}"));
        }
    }
    match copy(cx, busy).await {
        Ok(answer) => {
            log::info!(
                "admin: {ip} {who}: backup of {} bytes made; sending it",
                answer.body_len()
            );
            answer
        }
        Err(e) => {
            log::error!("admin: {ip} {who}: backup failed: {e}");
            super::refusal(500, &format!("The backup failed: {e}"))
        }
    }
}

/// Copies left behind by a server that did not live to delete them: only
/// one copy exists at a time, and this runs before the next is made.
fn remove_leftovers(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
}

async fn copy(cx: &Cx<'_>, busy: Busy) -> Result<Response, String> {
    let dir = cx.ctx.config.data_dir.join("admin-backup.tmp");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("data-{nanos}.mdb"));
    // Owned from here on: deleted however this ends, busy until then.
    let mut file = TempFile::new(path.clone(), Box::new(busy));
    let store = cx.ctx.store.clone();
    let len = smol::unblock(move || {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        remove_leftovers(&dir);
        crate::admin::backup_store(&store, &path)?;
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", path.display()))
    })
    .await?;
    file.set_len(len);
    let (y, m, d) = crate::time::civil_from_days(crate::time::now().div_euclid(86400));
    let name = format!("smolmail-backup-{y:04}{m:02}{d:02}.mdb");
    Ok(Response::file("application/octet-stream", file)
        .with_header(
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .with_header("Cache-Control", "no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_that_would_fill_the_data_partition_is_refused() {
        let space = |used: u64, free: Option<u64>| Space {
            map_size: 1 << 30,
            map_used: used,
            disk_free: free,
        };
        assert!(no_room(&space(10 << 20, Some(1 << 30))).is_none());
        assert!(no_room(&space(10 << 20, Some(70 << 20))).is_some());
        assert!(no_room(&space(10 << 20, Some(10 << 20))).is_some());
        // statvfs failed: the copy is tried (its own error says why).
        assert!(no_room(&space(10 << 20, None)).is_none());
    }
}
