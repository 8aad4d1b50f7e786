//! The fetcher inside `serve`: a task that looks at the store's fetch
//! accounts every few seconds (so `smolmail fetch add` and `del` from
//! another process take effect while the server runs) and one task per
//! account that pulls its folders.
//!
//! An account either polls — a run every `--every` — or, with `--idle`,
//! keeps its session and waits in IDLE (RFC 2177) on INBOX: a new message
//! there is pulled as soon as the server announces it, and every folder is
//! still pulled every `--every`. The IDLE is renewed before 29 minutes
//! (RFC 2177 §3). After an error the account waits 30 s, doubling up to
//! an hour, and starts over with a new connection.
//!
//! Everything here waits on sockets and timers; the store's writes go to
//! its writer thread, so the executor is never held up.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::{LocalExecutor, Timer};

use super::Env;
use super::client::{Error, Session, Target, Woken};
use super::sync;
use crate::net::dns::Resolver;
use crate::store::{FetchAccount, FetchStatus};

/// How often the account list is read.
const SCAN: Duration = Duration::from_secs(5);
/// The first wait after an error, doubling up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_secs(30);
const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// RFC 2177 §3: re-issue IDLE at least every 29 minutes.
const IDLE_MAX: Duration = Duration::from_secs(29 * 60);
/// The pause before the next run when the per-run cap stopped one.
const CAPPED_PAUSE: Duration = Duration::from_secs(1);

struct Fetcher {
    env: Env,
    resolver: Resolver,
    /// Accounts with a task.
    running: RefCell<HashSet<u64>>,
}

impl Fetcher {
    /// What one run needs.
    fn run_env(&self) -> sync::Env<'_> {
        sync::Env {
            store: &self.env.store,
            resolver: &self.resolver,
            max_message_size: self.env.max_message_size,
            budget: &self.env.budget,
            hostname: &self.env.hostname,
        }
    }
}

/// Spawns the fetcher on the executor.
pub fn start(ex: &Rc<LocalExecutor<'static>>, env: Env) {
    let fetcher = Rc::new(Fetcher {
        resolver: Resolver::new(&env.dns_servers),
        env,
        running: RefCell::new(HashSet::new()),
    });
    ex.spawn(supervise(ex.clone(), fetcher)).detach();
}

async fn supervise(ex: Rc<LocalExecutor<'static>>, fetcher: Rc<Fetcher>) {
    let mut secured = false;
    loop {
        match fetcher.env.store.read().and_then(|r| r.fetch_accounts()) {
            Ok(accounts) => {
                if !accounts.is_empty() && !secured {
                    // The store now holds remote passwords.
                    for note in super::admin::secure_data_dir(fetcher.env.store.dir()) {
                        log::warn!("fetch: {note}");
                    }
                    secured = true;
                }
                for account in accounts {
                    if fetcher.running.borrow_mut().insert(account.id) {
                        log::info!(
                            "fetch: {}: {} every {}",
                            super::describe(&account),
                            if account.idle {
                                "IDLE on INBOX, all folders"
                            } else {
                                "polling"
                            },
                            super::duration_text(account.every)
                        );
                        ex.spawn(account_loop(fetcher.clone(), account.id)).detach();
                    }
                }
            }
            Err(e) => log::error!("fetch: cannot read the fetch accounts: {e}"),
        }
        Timer::after(SCAN).await;
    }
}

/// What to do after a run.
enum Next {
    /// Run again right away (the cap stopped the run, or IDLE ended).
    Soon,
    /// Wait `--every`.
    Later,
}

async fn account_loop(fetcher: Rc<Fetcher>, id: u64) {
    let mut backoff: Option<Duration> = None;
    loop {
        let account = match fetcher.env.store.read().and_then(|r| r.fetch_account(id)) {
            Ok(Some(a)) => a,
            Ok(None) => {
                log::info!("fetch: #{id} was deleted; stopped");
                break;
            }
            Err(e) => {
                log::error!("fetch: #{id}: cannot read the account: {e}");
                Timer::after(BACKOFF_FIRST).await;
                continue;
            }
        };
        let result = match sync::target(&account, fetcher.env.max_message_size) {
            Ok(target) if account.idle => idle(&fetcher, &account, &target).await,
            Ok(target) => poll(&fetcher, &account, &target).await,
            Err(e) => Err(e),
        };
        let wait = match result {
            Ok(next) => {
                backoff = None;
                match next {
                    Next::Soon => CAPPED_PAUSE,
                    Next::Later => Duration::from_secs(account.every.max(1).into()),
                }
            }
            Err(e) => {
                let wait = backoff.map_or(BACKOFF_FIRST, |b| (b * 2).min(BACKOFF_MAX));
                backoff = Some(wait);
                log::error!(
                    "fetch: {}: {e}; trying again in {} s",
                    super::describe(&account),
                    wait.as_secs()
                );
                record(&fetcher, id, false, e.0).await;
                wait
            }
        };
        Timer::after(wait).await;
    }
    fetcher.running.borrow_mut().remove(&id);
}

/// Stores the result of a run for `fetch list` (a failure to do so is
/// only logged: the run itself is done).
async fn record(fetcher: &Fetcher, id: u64, ok: bool, text: String) {
    crate::metrics::fetch_run(ok);
    let status = FetchStatus {
        at: crate::time::now(),
        ok,
        text,
    };
    if let Err(e) = fetcher.env.store.fetch_status(id, status).await
        && !matches!(e, crate::store::StoreError::NotFound(_))
    {
        log::warn!("fetch: #{id}: cannot record the run: {e}");
    }
}

/// Pulls `which` folders over `session` and logs the run's line.
async fn pull(
    fetcher: &Fetcher,
    session: &mut Session,
    account: &FetchAccount,
    which: &[usize],
) -> Result<sync::Totals, Error> {
    let started = Instant::now();
    let (totals, result) =
        sync::folders(session, &fetcher.run_env(), account, which, &mut |_| {}).await;
    match result {
        Ok(()) => {
            let took = started.elapsed();
            log::info!("{}", super::run_line(account, &totals, took));
            crate::metrics::FETCH_MESSAGES.add(totals.messages);
            let summary = super::run_summary(account, &totals, took);
            record(fetcher, account.id, true, summary).await;
            Ok(totals)
        }
        Err(e) if totals.messages > 0 => Err(Error(format!(
            "{e} (after {} new messages, {} bytes, stored)",
            totals.messages, totals.bytes
        ))),
        Err(e) => Err(e),
    }
}

fn all_folders(account: &FetchAccount) -> Vec<usize> {
    (0..account.folders.len()).collect()
}

/// One run over a fresh connection.
async fn poll(fetcher: &Fetcher, account: &FetchAccount, target: &Target) -> Result<Next, Error> {
    let mut session = sync::connect(account, target, &fetcher.resolver).await?;
    let totals = pull(fetcher, &mut session, account, &all_folders(account)).await?;
    session.logout().await;
    Ok(if totals.capped {
        Next::Soon
    } else {
        Next::Later
    })
}

/// A full run, then IDLE on INBOX between runs for as long as the
/// session lasts.
async fn idle(fetcher: &Fetcher, account: &FetchAccount, target: &Target) -> Result<Next, Error> {
    let mut session = sync::connect(account, target, &fetcher.resolver).await?;
    let every = Duration::from_secs(account.every.max(1).into());
    let all = all_folders(account);
    pull(fetcher, &mut session, account, &all).await?;
    let mut next_full = Instant::now() + every;
    let Some(inbox) = account
        .folders
        .iter()
        .position(|f| f.remote.eq_ignore_ascii_case("INBOX"))
    else {
        log::warn!(
            "fetch: {}: --idle watches INBOX, which is not among the folders; polling instead",
            super::describe(account)
        );
        session.logout().await;
        return Ok(Next::Later);
    };
    if !session.has("IDLE") {
        log::warn!(
            "fetch: {}: the server does not offer IDLE; polling instead",
            super::describe(account)
        );
        session.logout().await;
        return Ok(Next::Later);
    }
    loop {
        // Deleted or replaced meanwhile: the account loop decides.
        match fetcher
            .env
            .store
            .read()
            .and_then(|r| r.fetch_account(account.id))
        {
            Ok(Some(current)) if current == *account => {}
            _ => {
                session.logout().await;
                return Ok(Next::Soon);
            }
        }
        let selected = session.examine("INBOX").await?;
        let state = fetcher
            .env
            .store
            .read()
            .and_then(|r| r.fetch_folder_state(account.id, inbox as u32))
            .map_err(|e| Error(format!("store: {e}")))?;
        // Mail that came between the last run and this EXAMINE would
        // not wake IDLE: UIDNEXT shows it.
        let pending = match state {
            Some(s) if s.uidvalidity == selected.uidvalidity => selected
                .uidnext
                .is_some_and(|next| next > s.last_uid.saturating_add(1)),
            Some(_) => true,
            None => selected.exists > 0 && selected.uidnext.is_some_and(|next| next > 1),
        };
        let woken = if pending {
            Woken::NewMail
        } else {
            let left = next_full
                .saturating_duration_since(Instant::now())
                .min(IDLE_MAX);
            if left.is_zero() {
                Woken::Timeout
            } else {
                session.idle(left).await?
            }
        };
        let full = Instant::now() >= next_full;
        if full {
            pull(fetcher, &mut session, account, &all).await?;
            next_full = Instant::now() + every;
        } else if woken == Woken::NewMail {
            pull(fetcher, &mut session, account, &[inbox]).await?;
        }
    }
}
