//! One run of `smolmail import imap` (the walk is described in
//! `imap.rs`): the session on one side, the [`Sink`] on the other,
//! progress on a terminal and one summary line at the end. A run that
//! fails half-way commits what it had read and says how to resume.

use std::path::Path;

use super::imap::{self, CHUNK, Listed, Options, Planned, Source, Totals};
use super::progress::Progress;
use super::sink::{Counts, ImportedMessage, Sink};
use crate::fetch::client::Session;
use crate::store::{Store, identity_hash};
use crate::wire::imap::sequence::sequence_set;

/// `smolmail import imap`, with the data directory resolved.
pub fn run(data: &Path, o: &Options) -> Result<String, String> {
    let max_message_size = crate::fetch::admin::max_message_size();
    let source = imap::source(o, max_message_size)?;
    let store = crate::admin::open(data)?;
    let user = crate::address::normalize(&o.local_user)?;
    let mut sink = Sink::open(&store, &user)?;
    smol::block_on(async {
        let mut progress = Progress::new("importing");
        let mut totals = Totals::default();
        let copied = copy(
            &source,
            &store,
            &mut sink,
            o,
            max_message_size,
            &mut progress,
            &mut totals,
        )
        .await;
        // What is in flight is committed either way: a re-run skips it.
        let stored = sink.finish().await;
        let took = progress.finish();
        let stored = stored?;
        // The sink's first line counts only what reached it; messages
        // found imported before were not even fetched, so the line is
        // made here from its counts, and its warnings follow.
        let warnings = stored.split_once('\n').map_or("", |(_, w)| w);
        let mut line = summary(
            &source.label,
            &user,
            sink.counts(),
            &totals,
            max_message_size,
        );
        line.push(' ');
        line.push_str(&took);
        if !warnings.is_empty() {
            line.push('\n');
            line.push_str(warnings);
        }
        match copied {
            Ok(()) => Ok(line),
            Err(e) => Err(format!(
                "{e}\n{line}\nthe import stopped; run it again to copy the rest (nothing is copied twice)"
            )),
        }
    })
}

/// "imported 5 messages (1.2M) into 3 folders of you@home.arpa from bob
/// at imap.example.com:993, 7 there already".
fn summary(label: &str, user: &str, c: &Counts, totals: &Totals, max_message_size: u64) -> String {
    let mut line = format!(
        "imported {} message{} ({}) into {} folder{} of {user} from {label}",
        c.stored,
        if c.stored == 1 { "" } else { "s" },
        crate::admin::show_size(c.stored_bytes),
        c.folders,
        if c.folders == 1 { "" } else { "s" },
    );
    let already = c.already_there + totals.already;
    if already > 0 {
        line.push_str(&format!(", {already} there already (an earlier run)"));
    }
    if c.failed > 0 {
        line.push_str(&format!(", {} not imported (see above)", c.failed));
    }
    if totals.refused_folders > 0 {
        line.push_str(&format!(
            ", {} folder(s) left out: the server listed more messages than they hold (see above)",
            totals.refused_folders
        ));
    }
    if totals.too_large > 0 {
        line.push_str(&format!(
            ", {} over --max-message-size {max_message_size} left on the server",
            totals.too_large
        ));
    }
    line
}

async fn copy(
    source: &Source,
    store: &Store,
    sink: &mut Sink,
    o: &Options,
    max_message_size: u64,
    progress: &mut Progress,
    totals: &mut Totals,
) -> Result<(), String> {
    let mut session = imap::connect(source).await?;
    let listed = session.list_folders().await.map_err(|e| e.0)?;
    let planned = imap::plan(&listed, &o.folder)?;
    for p in &planned {
        let mut job = Job {
            session: &mut session,
            source,
            store,
            sink: &mut *sink,
            max_message_size,
        };
        job.folder(p, progress, totals).await?;
    }
    // Subscriptions (§6.3.9) of the folders copied.
    let subscribed = session.subscribed().await.map_err(|e| e.0)?;
    for p in &planned {
        if subscribed.iter().any(|s| s.name == p.remote) {
            sink.subscribe(&p.local).await?;
        }
    }
    session.logout().await;
    Ok(())
}

/// What copying a folder works with.
struct Job<'a> {
    session: &'a mut Session,
    source: &'a Source,
    store: &'a Store,
    sink: &'a mut Sink,
    max_message_size: u64,
}

impl Job<'_> {
    /// Copies one folder: lists it, leaves out what was imported before
    /// or is too large, and streams the rest in UID sets of [`CHUNK`].
    async fn folder(
        &mut self,
        p: &Planned,
        progress: &mut Progress,
        totals: &mut Totals,
    ) -> Result<(), String> {
        let selected = self.session.examine(&p.remote).await.map_err(|e| e.0)?;
        let folder = self.sink.folder(&p.local, Some(p.special_use)).await?;
        if selected.exists == 0 {
            return Ok(());
        }
        let listed = match imap::list(self.session, selected.exists).await? {
            Ok(listed) => listed,
            Err(e) => {
                log::warn!(
                    "import: {}: {}: {e}; the folder is left out",
                    self.source.label,
                    p.remote
                );
                totals.refused_folders += 1;
                return Ok(());
            }
        };
        let todo = self.todo(p, &listed, totals)?;
        progress.expect(
            todo.len() as u64,
            todo.iter().map(|l| u64::from(l.size)).sum(),
        );
        for chunk in todo.chunks(CHUNK) {
            let uids: Vec<u32> = chunk.iter().map(|l| l.uid).collect();
            let mut fetching = self
                .session
                .fetch_start(&sequence_set(&uids))
                .await
                .map_err(|e| e.0)?;
            while let Some(body) = self
                .session
                .fetch_next(&mut fetching)
                .await
                .map_err(|e| e.0)?
            {
                // Sorted by UID; a UID not asked for is not ours.
                let Ok(i) = chunk.binary_search_by_key(&body.uid, |l| l.uid) else {
                    continue;
                };
                let len = body.bytes.len() as u64;
                if len > self.max_message_size {
                    self.too_large(p, body.uid, len, totals);
                    continue;
                }
                let (flags, keywords) = imap::split_flags(&body.flags);
                let message = ImportedMessage {
                    bytes: body.bytes,
                    internal_date: body.internal_date.unwrap_or_else(crate::time::now),
                    flags,
                    keywords,
                };
                let identity = imap::identity_of(&self.source.user, &p.remote, &chunk[i]);
                self.sink.put(folder, message, &identity).await?;
                progress.add(len);
            }
        }
        Ok(())
    }

    /// The listed messages to fetch: not imported before, not too large.
    fn todo(
        &self,
        p: &Planned,
        listed: &[Listed],
        totals: &mut Totals,
    ) -> Result<Vec<Listed>, String> {
        let account = self.sink.account().id;
        let reader = self.store.read().map_err(|e| e.to_string())?;
        let mut todo = Vec::with_capacity(listed.len());
        for l in listed {
            if u64::from(l.size) > self.max_message_size {
                self.too_large(p, l.uid, u64::from(l.size), totals);
                continue;
            }
            let identity = imap::identity_of(&self.source.user, &p.remote, l);
            if reader
                .import_seen(account, &identity_hash(&identity))
                .map_err(|e| e.to_string())?
            {
                totals.already += 1;
                continue;
            }
            todo.push(*l);
        }
        Ok(todo)
    }

    fn too_large(&self, p: &Planned, uid: u32, size: u64, totals: &mut Totals) {
        log::warn!(
            "import: {}: {} UID {uid} is {size} bytes, over --max-message-size {}; left on the server",
            self.source.label,
            p.remote,
            self.max_message_size
        );
        totals.too_large += 1;
    }
}
