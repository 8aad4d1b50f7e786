//! `smolmail export maildir|mbox USER DIR`: a user's mail written out so
//! that another server or a mail reader takes it with its flags.
//!
//! The whole export reads one LMDB read transaction: one consistent
//! snapshot of every folder, whatever clients do meanwhile (the server
//! goes on serving; LMDB keeps the pages of the snapshot until the export
//! ends, so the map may grow by what changes during a long export).
//! Messages are written one at a time, straight from the map.
//!
//! Maildir (what Dovecot reads with `mail_location = maildir:DIR`):
//! INBOX in the root, folder `A/B` in `.A.B` (levels in modified UTF-7,
//! RFC 3501 §5.1.3; a `.` inside a level, which Maildir++ cannot hold,
//! becomes `_`), every message in `cur/` named
//! `INTERNALDATE.MuidVuidvalidity.smolmail:2,FLAGS` with the file's mtime
//! set to its INTERNALDATE, keywords as letters listed in
//! `dovecot-keywords` (26 per folder, Dovecot's own limit), the UIDs and
//! UIDVALIDITY in `dovecot-uidlist` so that clients' caches stay valid,
//! and the subscribed folders in `subscriptions`.
//!
//! mbox: one file per folder in DIR (`A/B` is `A.B`, INBOX is `INBOX`), in
//! the form `mbox.rs` describes.
//!
//! Two folders that map to one name on disk (`A.B` and `A_B` in Maildir,
//! `A/B` and `A.B` in mbox) keep apart by a `-2`, `-3`... suffix on the
//! later one; a name of dots only (`..`) becomes underscores, so no path
//! component is `.` or `..`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::mbox::write_message;
use super::progress::Progress;
use crate::store::{Account, Flags, Mailbox, Reader, Store};

fn fail(e: crate::store::StoreError) -> String {
    e.to_string()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// The account and its folders in one snapshot.
fn snapshot(store: &Store, user: &str) -> Result<(Reader, Account, Vec<Mailbox>), String> {
    let reader = store.read().map_err(fail)?;
    let account = reader
        .account(user)
        .map_err(fail)?
        .ok_or_else(|| format!("no user {user}"))?;
    let mut mailboxes = reader.mailboxes(account.id).map_err(fail)?;
    // INBOX first, then by name: the order a reader expects.
    mailboxes.sort_by_key(|m| (m.name != "INBOX", m.name.clone()));
    Ok((reader, account, mailboxes))
}

/// Refuses a DIR that holds anything: an export never mixes with, or
/// overwrites, other mail.
fn empty_target(dir: &Path) -> Result<(), String> {
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(format!(
            "{} is not empty; give a new directory",
            dir.display()
        ));
    }
    super::private_dir(dir)?;
    // An existing directory keeps its mode through create: make it 0700
    // like a new one, so the mail is not listable by others.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

/// Never `.` or `..` or empty as a path component: dots only become `_`.
fn no_dots(name: String) -> String {
    if name.bytes().all(|b| b == b'.') {
        "_".repeat(name.len().max(1))
    } else {
        name
    }
}

/// The on-disk names of `mailboxes` (in order) by `plain`, a collision
/// (maildir `A.B` and `A_B`, mbox `A/B` and `A.B`) getting `-2`, `-3`...
/// rather than failing the export or mixing two folders.
fn disk_names(mailboxes: &[Mailbox], plain: impl Fn(&str) -> String) -> Vec<String> {
    names_on_disk(mailboxes.iter().map(|m| m.name.as_str()), plain)
}

fn names_on_disk<'a>(
    names: impl Iterator<Item = &'a str>,
    plain: impl Fn(&str) -> String,
) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    names
        .map(|name| {
            let base = no_dots(plain(name));
            let mut name = base.clone();
            let mut n = 1;
            while !used.insert(name.clone()) {
                n += 1;
                name = format!("{base}-{n}");
            }
            name
        })
        .collect()
}

/// The Maildir++ directory name of a folder (without the leading dot).
pub fn maildir_name(name: &str) -> String {
    name.split('/')
        .map(|level| crate::wire::imap::mutf7::encode(&level.replace('.', "_")))
        .collect::<Vec<_>>()
        .join(".")
}

/// The start of either export: an empty `dir`, a snapshot of `user`'s
/// mail, and the progress report sized to it.
fn begin(
    store: &Store,
    user: &str,
    dir: &Path,
) -> Result<(Reader, Account, Vec<Mailbox>, Progress), String> {
    empty_target(dir)?;
    let (reader, account, mailboxes) = snapshot(store, user)?;
    let mut progress = Progress::new("exporting");
    for m in &mailboxes {
        progress.expect(u64::from(m.messages), m.bytes);
    }
    Ok((reader, account, mailboxes, progress))
}

/// The closing line of either export.
fn summary(
    progress: &mut Progress,
    mailboxes: &[Mailbox],
    account: &Account,
    dir: &Path,
) -> String {
    let rate = progress.finish();
    format!(
        "exported {} messages ({}) in {} folder(s) of {} to {} {rate}",
        progress.messages(),
        crate::admin::show_size(progress.bytes()),
        mailboxes.len(),
        account.address,
        dir.display()
    )
}

/// The letters of a message's info (`2,` then D F P R S T, then keyword
/// letters in order), assigning letters to new keywords in `names`.
fn info(flags: Flags, keywords: &[&str], names: &mut Vec<String>, dropped: &mut u64) -> String {
    let mut s = String::from("2,");
    let forwarded = keywords
        .iter()
        .any(|k| k.eq_ignore_ascii_case("$Forwarded"));
    for (c, on) in [
        ('D', flags.contains(Flags::DRAFT)),
        ('F', flags.contains(Flags::FLAGGED)),
        ('P', forwarded),
        ('R', flags.contains(Flags::ANSWERED)),
        ('S', flags.contains(Flags::SEEN)),
        ('T', flags.contains(Flags::DELETED)),
    ] {
        if on {
            s.push(c);
        }
    }
    let mut letters = Vec::new();
    // $Forwarded is a keyword letter too: Dovecot shows only those as
    // keywords (P is for the other Maildir readers, mutt and Courier).
    for k in keywords {
        let at = match names.iter().position(|n| n.eq_ignore_ascii_case(k)) {
            Some(at) => at,
            None if names.len() < 26 => {
                names.push(k.to_string());
                names.len() - 1
            }
            None => {
                *dropped += 1;
                continue;
            }
        };
        letters.push((b'a' + at as u8) as char);
    }
    letters.sort_unstable();
    letters.dedup();
    s.extend(letters);
    s
}

pub fn maildir(store: &Store, user: &str, dir: &Path) -> Result<String, String> {
    let (reader, account, mailboxes, mut progress) = begin(store, user, dir)?;
    let mut scratch = Vec::new();
    let mut subscribed = Vec::new();
    let subscriptions = reader.subscriptions(account.id).map_err(fail)?;
    let mut dropped = 0u64;
    let disk = disk_names(&mailboxes, |name| {
        if name == "INBOX" {
            "INBOX".into()
        } else {
            maildir_name(name)
        }
    });
    for (mailbox, disk) in mailboxes.iter().zip(&disk) {
        let folder: PathBuf = if mailbox.name == "INBOX" {
            dir.to_path_buf()
        } else {
            dir.join(format!(".{disk}"))
        };
        for sub in ["cur", "new", "tmp"] {
            super::private_dir(&folder.join(sub))?;
        }
        if subscriptions.contains(&mailbox.name) {
            subscribed.push(disk.clone());
        }
        let mut names: Vec<String> = Vec::new();
        let mut uidlist = format!("3 V{} N{}\n", mailbox.uidvalidity, mailbox.uidnext);
        for view in reader.messages(mailbox.id).map_err(fail)? {
            let view = view.map_err(fail)?;
            let Some(bytes) = reader.blob(view.blob_id).map_err(fail)? else {
                continue;
            };
            let keywords: Vec<&str> = view.keywords().collect();
            let unique = format!(
                "{}.M{}V{}.smolmail",
                view.internal_date, view.uid, mailbox.uidvalidity
            );
            let name = format!(
                "{unique}:{}",
                info(view.flags, &keywords, &mut names, &mut dropped)
            );
            let path = folder.join("cur").join(&name);
            super::to_lf(bytes, &mut scratch);
            let file = create(&path)?;
            let mut w = BufWriter::new(file);
            w.write_all(&scratch).map_err(io(&path))?;
            let file = w
                .into_inner()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let when = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(view.internal_date.max(0) as u64);
            file.set_modified(when).map_err(io(&path))?;
            uidlist.push_str(&format!("{} :{unique}\n", view.uid));
            progress.add(bytes.len() as u64);
        }
        let mut keyword_file = String::new();
        for (i, n) in names.iter().enumerate() {
            keyword_file.push_str(&format!("{i} {n}\n"));
        }
        write_file(&folder.join("dovecot-keywords"), keyword_file.as_bytes())?;
        write_file(&folder.join("dovecot-uidlist"), uidlist.as_bytes())?;
    }
    let mut subs = subscribed.join("\n");
    subs.push('\n');
    write_file(&dir.join("subscriptions"), subs.as_bytes())?;
    drop(reader);
    let mut text = summary(&mut progress, &mailboxes, &account, dir);
    if dropped > 0 {
        text.push_str(&format!(
            "\n{dropped} keywords left out: Maildir holds 26 per folder"
        ));
    }
    Ok(text)
}

/// A new file, 0600: it holds someone's mail.
fn create(path: &Path) -> Result<File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    create(path)?.write_all(bytes).map_err(io(path))
}

/// The mbox file name of a folder.
fn mbox_name(name: &str) -> String {
    name.replace('/', ".")
}

pub fn mbox(store: &Store, user: &str, dir: &Path) -> Result<String, String> {
    let (reader, account, mailboxes, mut progress) = begin(store, user, dir)?;
    let mut scratch = Vec::new();
    let disk = disk_names(&mailboxes, mbox_name);
    for (mailbox, disk) in mailboxes.iter().zip(&disk) {
        let path = dir.join(disk);
        let file = create(&path)?;
        let mut w = BufWriter::with_capacity(1 << 16, file);
        for view in reader.messages(mailbox.id).map_err(fail)? {
            let view = view.map_err(fail)?;
            let Some(bytes) = reader.blob(view.blob_id).map_err(fail)? else {
                continue;
            };
            let keywords: Vec<&str> = view.keywords().collect();
            write_message(
                &mut w,
                bytes,
                view.internal_date,
                view.flags,
                &keywords,
                &mut scratch,
            )
            .map_err(io(&path))?;
            progress.add(bytes.len() as u64);
        }
        w.flush().map_err(io(&path))?;
    }
    drop(reader);
    Ok(summary(&mut progress, &mailboxes, &account, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_letters() {
        let mut names = vec!["$Label1".to_string()];
        let mut dropped = 0;
        let flags = Flags::SEEN.union(Flags::ANSWERED).union(Flags::RECENT);
        assert_eq!(
            info(
                flags,
                &["NonJunk", "$label1", "$Forwarded"],
                &mut names,
                &mut dropped
            ),
            "2,PRSabc"
        );
        assert_eq!(names, ["$Label1", "NonJunk", "$Forwarded"]);
        assert_eq!(maildir_name("Work/v1.2/Entwürfe"), "Work.v1_2.Entw&APw-rfe");
    }

    /// Folders whose on-disk names collide get a suffix; none is `.`/`..`.
    #[test]
    fn export_names_never_collide_or_climb() {
        let boxes = ["INBOX", "..", ".", "A.B", "A/B", "A_B"];
        assert_eq!(
            names_on_disk(boxes.into_iter(), mbox_name),
            ["INBOX", "__", "_", "A.B", "A.B-2", "A_B"]
        );
        assert_eq!(
            names_on_disk(boxes.into_iter(), maildir_name),
            ["INBOX", "__", "_", "A_B", "A.B", "A_B-2"]
        );
    }

    /// An existing empty target is made 0700 like a new one.
    #[test]
    fn an_existing_empty_target_becomes_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("smolmail-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        empty_target(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
