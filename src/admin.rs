//! The administrative commands: users, domains, aliases, backup.
//!
//! They open the store directly (LMDB lets a second process write while the
//! server runs; its writer serialises with ours through LMDB's lock) and
//! print one line per result. Errors come back as one-line strings for
//! `main` to print.

use std::io::{BufRead, Read};
use std::path::Path;

use crate::auth::password;
use crate::store::{self, PostmasterRoute, Store, StoreError};

/// Opens the store in `data` for a command.
pub fn open(data: &Path) -> Result<Store, String> {
    let map_size = std::env::var("SMOLMAIL_MAP_SIZE")
        .ok()
        .and_then(|v| crate::config::parse_size(&v))
        .unwrap_or_else(|| store::Options::default().map_size);
    Store::open(data, &store::Options { map_size })
        .map_err(|e| format!("store in {}: {e}", data.display()))
}

fn fail(e: StoreError) -> String {
    e.to_string()
}

/// Reads a password: one line from stdin with `--password-stdin`, else a
/// prompt on the terminal (twice, without echo).
pub fn read_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the passwords differ; nothing changed".into());
        }
        first
    };
    if password.is_empty() {
        return Err("the password is empty; nothing changed".into());
    }
    if password.len() > crate::auth::MAX_PASSWORD {
        return Err(format!(
            "the password is longer than {} bytes, which no login accepts; nothing changed",
            crate::auth::MAX_PASSWORD
        ));
    }
    Ok(password)
}

/// A quota as given on the command line: `500M`, `2G`, `10240`; 0 is
/// unlimited. The same units as `--max-message-size` (K, M, G are 2^10,
/// 2^20, 2^30).
pub fn parse_quota(text: &str) -> Result<u64, String> {
    crate::config::parse_size(text).ok_or_else(|| {
        format!("{text:?} is not a size (give bytes, or a number with K, M or G; 0 = unlimited)")
    })
}

pub fn user_add(
    data: &Path,
    address: &str,
    password: &str,
    quota: Option<u64>,
) -> Result<String, String> {
    let store = open(data)?;
    smol::block_on(add_user(&store, address, &password::hash(password), quota))
}

/// Adds a user with an already computed hash (hashing is the caller's:
/// the web pages run it on the blocking pool) and an optional quota.
/// The one operation behind `user add` and the users page.
pub async fn add_user(
    store: &Store,
    address: &str,
    hash: &str,
    quota: Option<u64>,
) -> Result<String, String> {
    let address = crate::address::normalize(address)?;
    store.add_account(&address, hash).await.map_err(fail)?;
    if let Some(q) = quota.filter(|q| *q > 0) {
        store.set_quota(&address, q).await.map_err(fail)?;
    }
    Ok(match quota {
        Some(q) if q > 0 => format!("added user {address} with a quota of {}", show_size(q)),
        _ => format!("added user {address}"),
    })
}

pub fn user_quota(data: &Path, address: &str, quota: u64) -> Result<String, String> {
    let store = open(data)?;
    smol::block_on(set_quota(&store, address, quota))
}

pub async fn set_quota(store: &Store, address: &str, quota: u64) -> Result<String, String> {
    let address = crate::address::normalize(address)?;
    store.set_quota(&address, quota).await.map_err(fail)?;
    Ok(match quota {
        0 => format!("{address} has no quota now"),
        q => format!("{address} may hold {} now", show_size(q)),
    })
}

/// A byte count in the units sizes are given in: `512`, `9.8K`, `10M`.
pub fn show_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (unit, name) in UNITS {
        if n >= unit {
            return if n.is_multiple_of(unit) {
                format!("{}{name}", n / unit)
            } else {
                format!("{:.1}{name}", n as f64 / unit as f64)
            };
        }
    }
    n.to_string()
}

pub fn user_del(data: &Path, address: &str) -> Result<String, String> {
    smol::block_on(del_user(&open(data)?, address))
}

pub async fn del_user(store: &Store, address: &str) -> Result<String, String> {
    store.del_account(address).await.map_err(fail)?;
    Ok(format!("deleted user {address} and their mail"))
}

pub fn user_passwd(data: &Path, address: &str, password: &str) -> Result<String, String> {
    smol::block_on(set_password(
        &open(data)?,
        address,
        &password::hash(password),
    ))
}

/// Sets a user's password from its hash (see [`add_user`]).
pub async fn set_password(store: &Store, address: &str, hash: &str) -> Result<String, String> {
    store.set_password(address, hash).await.map_err(fail)?;
    Ok(format!("changed the password of {address}"))
}

/// `smolmail admin passwd`: the web admin pages' operator password.
pub fn admin_passwd(data: &Path, password: &str) -> Result<String, String> {
    let store = open(data)?;
    smol::block_on(store.set_admin_password(&password::hash(password), false)).map_err(fail)?;
    Ok("changed the admin password (https://HOST/admin)".into())
}

/// `--admin-password` at start: kept (as its hash) only when no admin
/// password is set yet, so a password changed later stays. Runs before the
/// executor starts, so hashing here holds up nothing.
pub fn admin_password_at_start(
    store: &Store,
    password: &crate::secret::Secret,
) -> Result<(), String> {
    if store
        .read()
        .and_then(|r| r.admin_password())
        .map_err(fail)?
        .is_some()
    {
        return Ok(());
    }
    smol::block_on(store.set_admin_password(&password::hash(&password.0), true)).map_err(fail)?;
    log::info!(
        "admin: the admin password from the settings is set; change it at https://HOST/admin/me"
    );
    Ok(())
}

/// One user as the users page and `user list` show it.
pub struct UserRow {
    pub address: String,
    pub used: u64,
    pub quota: u64,
}

/// Every user with the bytes their mail takes and their quota.
pub fn users(store: &Store) -> Result<Vec<UserRow>, String> {
    let reader = store.read().map_err(fail)?;
    let accounts = reader.accounts().map_err(fail)?;
    let mut rows = Vec::with_capacity(accounts.len());
    for a in accounts {
        let used = reader.usage(a.id).map_err(fail)?;
        rows.push(UserRow {
            address: a.address,
            used,
            quota: a.quota,
        });
    }
    Ok(rows)
}

/// One line per user: the address, the bytes their mail takes and their
/// quota (`a@home.arpa  used 9.8K of 10K (98%)`).
pub fn user_list(data: &Path) -> Result<String, String> {
    let store = open(data)?;
    let rows = users(&store)?;
    let mut lines = Vec::with_capacity(rows.len());
    for a in &rows {
        let used = a.used;
        lines.push(match a.quota {
            0 => format!("{}  used {}, no quota", a.address, show_size(used)),
            q => format!(
                "{}  used {} of {} ({}%)",
                a.address,
                show_size(used),
                show_size(q),
                used.saturating_mul(100) / q
            ),
        });
    }
    Ok(lines.join("\n"))
}

/// Imports a Dovecot passwd-file (`user:{SCHEME}hash:uid:gid:gecos:home:shell:extra`).
/// Lines are imported one by one; a line that cannot be (unknown scheme,
/// bad address, user exists) is reported and skipped, and the command
/// fails at the end so a script notices.
pub fn user_import_passwd(
    data: &Path,
    file: &Path,
    default_domain: Option<&str>,
) -> Result<String, String> {
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let store = open(data)?;
    let (mut imported, mut problems) = (0, Vec::new());
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let where_ = format!("{}:{}", file.display(), n + 1);
        match import_line(&store, line, default_domain) {
            Ok(address) => {
                imported += 1;
                println!("imported {address}");
            }
            Err(why) => problems.push(format!("{where_}: {why}")),
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    if problems.is_empty() {
        Ok(format!("imported {imported} users"))
    } else {
        Err(format!(
            "imported {imported} users; {} lines skipped (listed above)",
            problems.len()
        ))
    }
}

fn import_line(store: &Store, line: &str, default_domain: Option<&str>) -> Result<String, String> {
    let mut fields = line.splitn(3, ':');
    let user = fields.next().unwrap_or_default();
    let stored = fields.next().unwrap_or_default();
    let address = if user.contains('@') {
        user.to_string()
    } else {
        match default_domain {
            Some(domain) => format!("{user}@{domain}"),
            None => return Err(format!("user {user:?} has no domain; give --domain")),
        }
    };
    let address = crate::address::normalize(&address)?;
    if stored.is_empty() {
        return Err(format!("{address} has no password field"));
    }
    if !password::is_supported(stored) {
        let scheme = password::scheme_of(stored).unwrap_or("(none)");
        return Err(format!(
            "{address}: password scheme {scheme} is not supported; set a new password after import"
        ));
    }
    // A cleartext password in the file is stored hashed, never as given.
    let hash = match password::cleartext(stored) {
        Some(plain) => password::hash(&plain),
        None => stored.to_string(),
    };
    smol::block_on(store.add_account(&address, &hash)).map_err(fail)?;
    Ok(address)
}

pub fn domain_add(data: &Path, domain: &str) -> Result<String, String> {
    smol::block_on(add_domain(&open(data)?, domain))
}

pub async fn add_domain(store: &Store, domain: &str) -> Result<String, String> {
    store.add_domain(domain).await.map_err(fail)?;
    Ok(format!("added domain {}", domain.to_lowercase()))
}

pub fn domain_del(data: &Path, domain: &str) -> Result<String, String> {
    smol::block_on(del_domain(&open(data)?, domain))
}

pub async fn del_domain(store: &Store, domain: &str) -> Result<String, String> {
    store.del_domain(domain).await.map_err(fail)?;
    Ok(format!("deleted domain {}", domain.to_lowercase()))
}

pub fn domain_list(data: &Path) -> Result<String, String> {
    let store = open(data)?;
    Ok(store
        .read()
        .and_then(|r| r.domains())
        .map_err(fail)?
        .join("\n"))
}

pub fn alias_add(data: &Path, source: &str, targets: &[String]) -> Result<String, String> {
    smol::block_on(add_alias(&open(data)?, source, targets))
}

/// An alias, or a catch-all when `source` is `@domain`.
pub async fn add_alias(store: &Store, source: &str, targets: &[String]) -> Result<String, String> {
    store.add_alias(source, targets).await.map_err(fail)?;
    Ok(format!("{source} -> {}", targets.join(", ")))
}

pub fn alias_del(data: &Path, source: &str) -> Result<String, String> {
    smol::block_on(del_alias(&open(data)?, source))
}

pub async fn del_alias(store: &Store, source: &str) -> Result<String, String> {
    store.del_alias(source).await.map_err(fail)?;
    Ok(format!("deleted alias {source}"))
}

/// The aliases, then each local domain's postmaster where nothing names it
/// (RFC 5321 §4.5.1; `store::PostmasterRoute`), so the operator sees where
/// that mail lands and that an alias would change it.
pub fn alias_list(data: &Path) -> Result<String, String> {
    Ok(alias_lines(&open(data)?)?.join("\n"))
}

/// The lines of `alias list`, also shown on the domains page.
pub fn alias_lines(store: &Store) -> Result<Vec<String>, String> {
    let reader = store.read().map_err(fail)?;
    let mut lines: Vec<String> = reader
        .aliases()
        .map_err(fail)?
        .iter()
        .map(|(s, t)| format!("{s} -> {}", t.join(", ")))
        .collect();
    for domain in reader.domains().map_err(fail)? {
        let line = match reader.postmaster_route(&domain).map_err(fail)? {
            PostmasterRoute::Explicit => continue,
            PostmasterRoute::Implicit(account) => format!(
                "postmaster@{domain} -> {} (implicit: no alias set; the first user)",
                account.address
            ),
            PostmasterRoute::Nobody => format!(
                "postmaster@{domain} -> nobody (implicit: no alias and no user yet; its mail is deferred with 451)"
            ),
        };
        lines.push(line);
    }
    Ok(lines)
}

/// Copies the store (consistent, while the server runs) and the TLS files
/// into `dest`, a new or empty directory; `--data DEST` serves the copy.
pub fn backup(data: &Path, dest: &Path) -> Result<String, String> {
    if dest.join("data.mdb").exists() {
        return Err(format!(
            "{} already holds a store; give a new directory",
            dest.display()
        ));
    }
    private_dir(dest)?;
    let store = open(data)?;
    backup_store(&store, &dest.join("data.mdb"))?;
    let tls = data.join("tls");
    if tls.is_dir() {
        copy_dir(&tls, &dest.join("tls"))?;
    }
    Ok(format!(
        "backed up {} to {}",
        data.display(),
        dest.display()
    ))
}

/// The consistent copy of the store behind `backup` and the web backup
/// download: LMDB's compacting copy into the new file `dest` (blocking:
/// the web pages run it on the blocking pool).
pub fn backup_store(store: &Store, dest: &Path) -> Result<(), String> {
    store.backup(dest).map_err(fail)
}

/// Creates `dir` (and missing parents) 0700: a backup holds every message,
/// password hash and the TLS key. A directory that already exists keeps
/// its mode (the operator chose it).
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    private_dir(to)?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target)
            .and_then(|_| std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)))
            .map_err(|e| format!("cannot copy to {}: {e}", target.display()))?;
    }
    Ok(())
}
