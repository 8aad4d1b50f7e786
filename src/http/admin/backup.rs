//! `/admin/backup`: a consistent copy of the store (LMDB's compacting
//! copy, `crate::admin::backup_store`, as `smolmail backup` makes) as a
//! file download. The copy is made on the blocking pool into a temporary
//! file in the data directory (no read transaction is held across a
//! socket write), then streamed by the HTTP session and deleted; one at a
//! time, since each is a whole copy of the store on the data partition.

use super::{Cx, html};
use crate::http::Response;

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

pub async fn download(cx: &Cx<'_>) -> Response {
    let sessions = &cx.ctx.admin_sessions;
    if sessions.backup_busy.replace(true) {
        return super::refusal(
            503,
            "A backup is being made already; try again when it is done.",
        );
    }
    let answer = copy(cx).await;
    sessions.backup_busy.set(false);
    let (ip, who) = (cx.ip(), cx.session.role.name());
    match answer {
        Ok(answer) => {
            log::info!(
                "admin: {ip} {who}: backup of {} bytes sent",
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

/// Copies left behind by a download the server did not live to finish
/// (a copy is deleted once sent; none takes an hour to send on a LAN).
fn remove_stale(dir: &std::path::Path) {
    let hour = std::time::Duration::from_secs(3600);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > hour));
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn copy(cx: &Cx<'_>) -> Result<Response, String> {
    let dir = cx.ctx.config.data_dir.join("admin-backup.tmp");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    remove_stale(&dir);
    // Unique per download: an earlier one may still be streaming its file.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let file = dir.join(format!("data-{nanos}.mdb"));
    let store = cx.ctx.store.clone();
    let dest = file.clone();
    smol::unblock(move || crate::admin::backup_store(&store, &dest)).await?;
    let (y, m, d) = crate::time::civil_from_days(crate::time::now().div_euclid(86400));
    let name = format!("smolmail-backup-{y:04}{m:02}{d:02}.mdb");
    let answer = Response::file("application/octet-stream", file)
        .map_err(|e| e.to_string())?
        .with_header(
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .with_header("Cache-Control", "no-store");
    Ok(answer)
}
