//! `smolmail fetch add | list | del | run`: the operator's side of the
//! fetcher. Like the other administrative commands these open the store
//! from their own process; a running server notices added and deleted
//! accounts within seconds. `run` pulls once, now, in this process, with
//! progress on a terminal; it may overlap a server's run of the same
//! account without harm (each batch skips UIDs already stored).
//!
//! The remote password goes from a file into the store and nowhere else:
//! it is never printed, and adding an account makes the data directory
//! and the store's files owner-only if they were not.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::sync::{self, Env, Event};
use crate::config::Secret;
use crate::net::dns::Resolver;
use crate::store::{FetchAccount, FetchFolder, SpecialUse};

/// Defaults of `fetch add`.
pub const DEFAULT_EVERY: u32 = 300;
pub const DEFAULT_MAX_PER_RUN: u32 = 1000;

/// `fetch add` as typed.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    pub local_user: String,
    pub host: String,
    pub port: Option<u16>,
    pub starttls: bool,
    pub user: String,
    pub password_file: PathBuf,
    /// `REMOTE` or `REMOTE=LOCAL`; empty means INBOX.
    pub folders: Vec<String>,
    /// The local mailbox of folders without `=LOCAL`.
    pub into: Option<String>,
    pub every: Option<String>,
    pub idle: bool,
    pub ca: Option<PathBuf>,
    pub max_per_run: Option<u32>,
}

/// INBOX is case-insensitive (RFC 3501 §5.1); other names are kept.
fn mailbox_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".into()
    } else {
        name.to_string()
    }
}

/// `REMOTE` or `REMOTE=LOCAL` folder arguments into pairs.
pub fn parse_folders(args: &[String], into: Option<&str>) -> Result<Vec<FetchFolder>, String> {
    let default_local = mailbox_name(into.unwrap_or("INBOX").trim());
    if default_local.is_empty() {
        return Err("--into needs a mailbox name".into());
    }
    let mut out: Vec<FetchFolder> = Vec::new();
    let given = if args.is_empty() {
        vec!["INBOX".to_string()]
    } else {
        args.to_vec()
    };
    for arg in given {
        let (remote, local) = match arg.split_once('=') {
            Some((r, l)) => (r.trim(), mailbox_name(l.trim())),
            None => (arg.trim(), default_local.clone()),
        };
        if remote.is_empty() || local.is_empty() {
            return Err(format!(
                "--folder {arg:?}: expected REMOTE or REMOTE=LOCAL-MAILBOX"
            ));
        }
        let remote = mailbox_name(remote);
        if out.iter().any(|f| f.remote == remote) {
            return Err(format!("--folder {remote} is given twice"));
        }
        out.push(FetchFolder { remote, local });
    }
    Ok(out)
}

/// Reads the password: the file's first line, without its line end.
pub fn read_password(path: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--password-file {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(format!(
            "--password-file {}: the first line is empty",
            path.display()
        ));
    }
    Ok(Secret(line.to_string()))
}

/// Makes the data directory 0700 and the store's files 0600 when they are
/// open to others; returns what it changed or could not change.
pub fn secure_data_dir(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut notes = Vec::new();
    let items = [
        (dir.to_path_buf(), 0o700),
        (dir.join("data.mdb"), 0o600),
        (dir.join("lock.mdb"), 0o600),
    ];
    for (path, mode) in items {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let current = meta.permissions().mode() & 0o7777;
        if current & 0o077 == 0 {
            continue;
        }
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)) {
            Ok(()) => notes.push(format!(
                "{} was mode {current:04o}; made it {mode:04o} (the store holds remote passwords)",
                path.display()
            )),
            Err(e) => notes.push(format!(
                "{} is mode {current:04o} and cannot be made owner-only: {e}",
                path.display()
            )),
        }
    }
    notes
}

/// `--host` as typed: a domain name or an IP address, lower-cased.
pub fn parse_host(typed: &str) -> Result<String, String> {
    let host = typed.trim().trim_matches(['[', ']']).to_ascii_lowercase();
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
        return Err(format!("--host {typed:?} is not a host name or address"));
    }
    if host.parse::<IpAddr>().is_err() {
        crate::address::normalize_domain(&host).map_err(|e| format!("--host {host}: {e}"))?;
    }
    Ok(host)
}

pub fn add(data: &Path, o: &AddOptions) -> Result<String, String> {
    let password = read_password(&o.password_file)?;
    let ca_pem = match &o.ca {
        None => Vec::new(),
        Some(path) => std::fs::read(path).map_err(|e| format!("--ca {}: {e}", path.display()))?,
    };
    let ca_origin =
        o.ca.as_ref()
            .map(|p| format!("--ca {}", p.display()))
            .unwrap_or_default();
    let fetch = account(o, password, ca_pem, &ca_origin)?;
    let store = crate::admin::open(data)?;
    let (fetch, created) = smol::block_on(add_account(&store, fetch))?;
    let mut out = String::new();
    for note in secure_data_dir(data) {
        let _ = writeln!(out, "note: {note}");
    }
    out.push_str(&added_text(&fetch, &created));
    Ok(out)
}

/// What `fetch add` and the fetch page say about an added account.
pub fn added_text(fetch: &FetchAccount, created: &[String]) -> String {
    let mut out = String::new();
    for name in created {
        let _ = writeln!(out, "created the mailbox {name} of {}", fetch.local_user);
    }
    let _ = write!(
        out,
        "added fetch account {}: {}; a running server starts it within 5 seconds, `smolmail fetch run {}` runs it now",
        fetch.id,
        summary(fetch),
        fetch.id
    );
    out
}

/// The account `o` describes, checked (id 0 until stored), with the
/// password and CA given as values: the web form has no files.
pub fn account(
    o: &AddOptions,
    password: Secret,
    ca_pem: Vec<u8>,
    ca_origin: &str,
) -> Result<FetchAccount, String> {
    let host = parse_host(&o.host)?;
    let port = o.port.unwrap_or(if o.starttls { 143 } else { 993 });
    if port == 0 {
        return Err("--port must be 1 to 65535".into());
    }
    if o.user.trim().is_empty() {
        return Err("--user must not be empty".into());
    }
    if password.0.is_empty() {
        return Err("the password is empty".into());
    }
    let folders = parse_folders(&o.folders, o.into.as_deref())?;
    let every = match &o.every {
        None => DEFAULT_EVERY,
        Some(text) => crate::config::parse_duration(text)
            .and_then(|d| u32::try_from(d.as_secs()).ok())
            .filter(|s| *s >= 1)
            .ok_or_else(|| format!("--every {text:?}: expected a time such as 90s, 5m or 1h"))?,
    };
    if !ca_pem.is_empty() {
        crate::net::tls::verified_pem(&ca_pem, ca_origin)?;
    }
    let max_per_run = match o.max_per_run {
        None => DEFAULT_MAX_PER_RUN,
        Some(0) => return Err("--max-per-run must be at least 1".into()),
        Some(n) => n,
    };
    Ok(FetchAccount {
        id: 0,
        local_user: crate::address::normalize(&o.local_user)?,
        host,
        port,
        starttls: o.starttls,
        user: o.user.trim().to_string(),
        password,
        folders,
        every,
        idle: o.idle,
        ca_pem,
        max_per_run,
        created: crate::time::now(),
    })
}

/// Stores `fetch` (from [`account`]) for an existing local user, making
/// its local mailboxes: gives it with its id, and the mailboxes made.
pub async fn add_account(
    store: &crate::store::Store,
    fetch: FetchAccount,
) -> Result<(FetchAccount, Vec<String>), String> {
    let local_user = &fetch.local_user;
    let account = store
        .read()
        .and_then(|r| r.account(local_user))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no local user {local_user}; add it with `smolmail user add`"))?;
    let existing = store
        .read()
        .and_then(|r| r.fetch_accounts())
        .map_err(|e| e.to_string())?;
    if let Some(same) = existing.iter().find(|a| {
        a.local_user == fetch.local_user
            && a.host == fetch.host
            && a.port == fetch.port
            && a.user == fetch.user
    }) {
        return Err(format!(
            "{} exists already; delete it first with `smolmail fetch del {}`",
            super::describe(same),
            same.id
        ));
    }
    let mut created = Vec::new();
    for f in &fetch.folders {
        let exists = store
            .read()
            .and_then(|r| r.mailbox(account.id, &f.local))
            .map_err(|e| e.to_string())?
            .is_some();
        if !exists && !created.contains(&f.local) {
            store
                .create_mailbox(account.id, &f.local, SpecialUse::None)
                .await
                .map_err(|e| format!("cannot create the mailbox {}: {e}", f.local))?;
            // Made by the server, not a client's CREATE: subscribed, so a
            // client that shows subscribed folders only shows it.
            store
                .set_subscribed(account.id, &f.local, true)
                .await
                .map_err(|e| format!("cannot subscribe to {}: {e}", f.local))?;
            created.push(f.local.clone());
        }
    }
    let id = store
        .fetch_add(fetch.clone())
        .await
        .map_err(|e| e.to_string())?;
    Ok((FetchAccount { id, ..fetch }, created))
}

/// Connects and logs in to `account`'s server, then logs out: the fetch
/// page's "test connection" before an account is kept.
pub async fn test_connection(
    account: &FetchAccount,
    resolver: &Resolver,
    max_message_size: u64,
) -> Result<String, String> {
    let target = sync::target(account, max_message_size).map_err(|e| e.0)?;
    let session = sync::connect(account, &target, resolver)
        .await
        .map_err(|e| e.0)?;
    session.logout().await;
    Ok(format!(
        "connected to {} and logged in as {}",
        target.label(),
        account.user
    ))
}

/// Settings in one line, without the password.
fn summary(a: &FetchAccount) -> String {
    let folders: Vec<String> = a
        .folders
        .iter()
        .map(|f| format!("{} -> {}", f.remote, f.local))
        .collect();
    format!(
        "{} ({}{}), {}, every {}{}",
        super::describe(a),
        if a.starttls { "STARTTLS" } else { "TLS" },
        if a.ca_pem.is_empty() { "" } else { ", own CA" },
        folders.join(", "),
        super::duration_text(a.every),
        if a.idle { ", IDLE on INBOX" } else { "" }
    )
}

pub fn list(data: &Path) -> Result<String, String> {
    list_text(&crate::admin::open(data)?)
}

/// `fetch list`'s text: settings, per-folder state and the last run.
pub fn list_text(store: &crate::store::Store) -> Result<String, String> {
    let accounts = store
        .read()
        .and_then(|r| r.fetch_accounts())
        .map_err(|e| e.to_string())?;
    if accounts.is_empty() {
        return Ok("no fetch accounts; add one with `smolmail fetch add`".into());
    }
    let mut out = String::new();
    for a in &accounts {
        let crate::store::AccountState { status, folders } = store
            .read()
            .and_then(|r| r.fetch_state(a.id))
            .map_err(|e| e.to_string())?;
        let _ = writeln!(out, "{}", summary(a));
        let _ = writeln!(
            out,
            "    user {}, password stored, at most {} messages per run",
            a.user, a.max_per_run
        );
        for (i, f) in a.folders.iter().enumerate() {
            let state = folders.iter().find(|(n, _)| *n as usize == i).map(|s| s.1);
            match state {
                Some(s) => {
                    let _ = writeln!(
                        out,
                        "    {} -> {}: UIDVALIDITY {}, last UID {}, {} messages ({} bytes) fetched{}",
                        f.remote,
                        f.local,
                        s.uidvalidity,
                        s.last_uid,
                        s.messages,
                        s.bytes,
                        if s.resync_below > 0 {
                            ", re-syncing"
                        } else {
                            ""
                        }
                    );
                }
                None => {
                    let _ = writeln!(out, "    {} -> {}: not fetched yet", f.remote, f.local);
                }
            }
        }
        match status {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "    last run {}: {}",
                    crate::time::rfc5322(s.at),
                    if s.ok {
                        s.text
                    } else {
                        format!("FAILED: {}", s.text)
                    }
                );
            }
            None => {
                let _ = writeln!(out, "    no run yet");
            }
        }
    }
    Ok(out.trim_end().to_string())
}

pub fn del(data: &Path, id: &str) -> Result<String, String> {
    let id: u64 = id
        .trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| format!("{id:?} is not a fetch account id (see `smolmail fetch list`)"))?;
    let store = crate::admin::open(data)?;
    smol::block_on(delete(&store, id))
}

pub async fn delete(store: &crate::store::Store, id: u64) -> Result<String, String> {
    store.fetch_del(id).await.map_err(|e| e.to_string())?;
    Ok(format!(
        "deleted fetch account {id} and its state; the mail already fetched stays"
    ))
}

/// `SMOLMAIL_DNS_SERVER` as `serve` reads it: IP or IP:PORT, commas.
pub fn dns_servers() -> Vec<SocketAddr> {
    std::env::var("SMOLMAIL_DNS_SERVER")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter_map(|s| {
            s.parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
                .or_else(|_| s.parse::<SocketAddr>())
                .ok()
        })
        .collect()
}

/// Pulls one account (or all) once, now; prints each run's line.
pub fn run(data: &Path, id: Option<&str>) -> Result<String, String> {
    let store = crate::admin::open(data)?;
    let max_message_size = max_message_size();
    // This process's own budget, as the server would size it by default.
    let budget = crate::net::Budget::new(
        usize::try_from((64u64 << 20).max(max_message_size.saturating_mul(2)))
            .unwrap_or(usize::MAX),
    );
    let resolver = Resolver::new(&dns_servers());
    let hostname = crate::config::hostname_from_env();
    let env = Env {
        store: &store,
        resolver: &resolver,
        max_message_size,
        budget: &budget,
        hostname: &hostname,
    };
    smol::block_on(run_now(&env, id, std::io::stderr().is_terminal()))
}

/// Pulls one account (or all) once, now: `fetch run` and the fetch page's
/// "run now"; `progress` draws progress lines on stderr.
pub async fn run_now(env: &Env<'_>, id: Option<&str>, progress: bool) -> Result<String, String> {
    let store = env.store;
    let accounts = match id {
        Some(id) => {
            let n: u64 = id
                .trim()
                .trim_start_matches('#')
                .parse()
                .map_err(|_| format!("{id:?} is not a fetch account id"))?;
            vec![
                store
                    .read()
                    .and_then(|r| r.fetch_account(n))
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no fetch account {n}"))?,
            ]
        }
        None => store
            .read()
            .and_then(|r| r.fetch_accounts())
            .map_err(|e| e.to_string())?,
    };
    if accounts.is_empty() {
        return Ok("no fetch accounts".into());
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    for account in &accounts {
        match run_one(env, account, progress).await {
            Ok(line) => lines.push(line),
            Err(e) => {
                failed += 1;
                let text = format!("fetch: {}: {e}", super::describe(account));
                let status = crate::store::FetchStatus {
                    at: crate::time::now(),
                    ok: false,
                    text: e.clone(),
                };
                let _ = store.fetch_status(account.id, status).await;
                lines.push(text);
            }
        }
    }
    if failed > 0 {
        Err(lines.join("\n"))
    } else {
        Ok(lines.join("\n"))
    }
}

/// `SMOLMAIL_MAX_MESSAGE_SIZE` as `serve` reads it, for commands run
/// outside the server.
pub fn max_message_size() -> u64 {
    std::env::var("SMOLMAIL_MAX_MESSAGE_SIZE")
        .ok()
        .and_then(|v| crate::config::parse_size(&v))
        .unwrap_or(25 << 20)
}

async fn run_one(env: &Env<'_>, account: &FetchAccount, progress: bool) -> Result<String, String> {
    let started = Instant::now();
    let target = sync::target(account, env.max_message_size).map_err(|e| e.0)?;
    let mut session = sync::connect(account, &target, env.resolver)
        .await
        .map_err(|e| e.0)?;
    let terminal = progress;
    let mut folder = String::new();
    let mut todo = 0usize;
    let mut show = |event: Event<'_>| {
        if !terminal {
            return;
        }
        let mut err = std::io::stderr().lock();
        match event {
            Event::Folder { name, todo: n } => {
                folder = name.to_string();
                todo = n;
                let _ = writeln!(err, "{folder}: {n} new message(s)");
            }
            Event::Stored { done, bytes } => {
                let _ = write!(
                    err,
                    "\r{folder}: {done}/{todo} messages, {:.1} MB",
                    bytes as f64 / 1e6
                );
                if done >= todo {
                    let _ = writeln!(err);
                }
                let _ = err.flush();
            }
        }
    };
    let which: Vec<usize> = (0..account.folders.len()).collect();
    let (totals, result) = sync::folders(&mut session, env, account, &which, &mut show).await;
    session.logout().await;
    if let Err(e) = result {
        return Err(if totals.messages > 0 {
            format!(
                "{e} (after {} new messages, {} bytes, stored)",
                totals.messages, totals.bytes
            )
        } else {
            e.0
        });
    }
    let took = started.elapsed();
    let line = super::run_line(account, &totals, took);
    let status = crate::store::FetchStatus {
        at: crate::time::now(),
        ok: true,
        text: super::run_summary(account, &totals, took),
    };
    let _ = env.store.fetch_status(account.id, status).await;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_arguments() {
        let f = parse_folders(&[], None).unwrap();
        assert_eq!(
            f,
            vec![FetchFolder {
                remote: "INBOX".into(),
                local: "INBOX".into()
            }]
        );
        let f = parse_folders(
            &["inbox".into(), "Lists/Rust=Rust".into(), "Spam".into()],
            Some("Fetched"),
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = f
            .iter()
            .map(|f| (f.remote.as_str(), f.local.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("INBOX", "Fetched"),
                ("Lists/Rust", "Rust"),
                ("Spam", "Fetched")
            ]
        );
        assert!(parse_folders(&["=x".into()], None).is_err());
        assert!(parse_folders(&["INBOX".into(), "inbox".into()], None).is_err());
    }

    #[test]
    fn data_dir_is_made_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("smolmail-fetch-modes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("data.mdb"), b"").unwrap();
        std::fs::set_permissions(dir.join("data.mdb"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let notes = secure_data_dir(&dir);
        assert_eq!(notes.len(), 2, "{notes:?}");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("data.mdb")), 0o600);
        assert!(secure_data_dir(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
