//! `smolmail import maildir USER DIR`: a Maildir++ tree as Dovecot and
//! Courier keep it (<https://cr.yp.to/proto/maildir.html>, Courier's
//! Maildir++ folders, Dovecot's `dovecot-keywords`, `dovecot-uidlist` and
//! `subscriptions`).
//!
//! - INBOX is the root's `cur`/`new`; folder `.Work.2024` is `Work/2024`
//!   (Maildir++ separates levels with `.`; names are modified UTF-7 on
//!   disk, RFC 3501 §5.1.3, as Dovecot writes them).
//! - A file name is `unique[:2,INFO]`; INFO's letters are the flags
//!   (S seen, R replied, F flagged, T trashed = \Deleted, D draft, P passed
//!   = the `$Forwarded` keyword) and a..z Dovecot keywords, by their index
//!   in the folder's `dovecot-keywords` (`0 $Label1` is `a`).
//! - INTERNALDATE is the file's mtime (Dovecot keeps the received date
//!   there); files are read in `dovecot-uidlist` order when it exists, so
//!   the UIDs here keep the source's order, else by file name (which
//!   starts with the delivery time).
//! - The identity of a message is its folder and its unique name, which
//!   does not change when flags do: a second run skips it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::progress::Progress;
use super::sink::{ImportedMessage, MAX_MESSAGE, Sink};
use crate::store::{Flags, Store};

/// One Maildir++ folder of the source.
pub struct Folder {
    /// The name on disk without the leading dot ("" for INBOX).
    pub raw: String,
    /// The IMAP name ('/'-separated, UTF-8).
    pub name: String,
    pub dir: PathBuf,
}

/// A message file: its unique part (before `:`) and its path.
struct Entry {
    unique: String,
    path: PathBuf,
    size: u64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// The caps on Dovecot's index files: a real `dovecot-uidlist` of a
/// million messages is ~60 MiB at most with extensions, a keywords or
/// subscriptions file a few KiB; a bigger one (or `/dev/zero`) is ignored.
const MAX_UIDLIST: u64 = 16 << 20;
const MAX_SMALL_INDEX: u64 = 64 << 10;

/// A real directory, not a symlink to one: the importer often runs as
/// root, and a `cur -> /var/lib/smolmail` would import files the mailbox
/// owner cannot read.
fn real_dir(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_dir())
}

fn is_maildir(dir: &Path) -> bool {
    for sub in ["cur", "new"] {
        let path = dir.join(sub);
        if real_dir(&path) {
            return true;
        }
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            eprintln!("skipped {}: a symlink", path.display());
        }
    }
    false
}

/// Opens a file without following a final symlink (O_NOFOLLOW) and
/// requires a regular file, so a name swapped for a symlink after the
/// listing is refused rather than followed.
fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok((file, meta))
}

/// Reads at most `cap` bytes of a regular file; `None` (with a log line
/// unless it is simply missing) when absent, not regular or larger.
fn read_capped(path: &Path, cap: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let (file, _) = match open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            eprintln!("ignored {}: {e}", path.display());
            return None;
        }
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.take(cap + 1).read_to_end(&mut bytes) {
        eprintln!("ignored {}: {e}", path.display());
        return None;
    }
    if bytes.len() as u64 > cap {
        eprintln!("ignored {}: larger than {cap} bytes", path.display());
        return None;
    }
    Some(bytes)
}

fn read_index(path: &Path, cap: u64) -> Option<String> {
    read_capped(path, cap).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The IMAP name of a Maildir++ folder directory name (without its dot).
pub fn folder_name(raw: &str) -> String {
    raw.split('.')
        .map(|level| {
            crate::wire::imap::mutf7::decode(level.as_bytes()).unwrap_or_else(|_| level.to_string())
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The folders of a Maildir++ tree, INBOX first, then by name.
pub fn folders(root: &Path) -> Result<Vec<Folder>, String> {
    let mut out = Vec::new();
    if is_maildir(root) {
        out.push(Folder {
            raw: String::new(),
            name: "INBOX".into(),
            dir: root.to_path_buf(),
        });
    }
    let mut subs = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io(root))? {
        let entry = entry.map_err(io(root))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            eprintln!("skipped {}: not UTF-8", entry.path().display());
            continue;
        };
        let Some(raw) = name.strip_prefix('.') else {
            continue;
        };
        if raw.is_empty() || raw == "." {
            continue;
        }
        // DirEntry::file_type does not follow symlinks.
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            eprintln!("skipped {}: a symlink", entry.path().display());
            continue;
        }
        if !entry.file_type().is_ok_and(|t| t.is_dir()) || !is_maildir(&entry.path()) {
            continue;
        }
        subs.push(Folder {
            raw: raw.to_string(),
            name: folder_name(raw),
            dir: entry.path(),
        });
    }
    subs.sort_by(|a, b| a.raw.cmp(&b.raw));
    out.extend(subs);
    if out.is_empty() {
        return Err(format!(
            "{} is not a Maildir (no cur/ or new/, no .Folder directories)",
            root.display()
        ));
    }
    Ok(out)
}

/// `dovecot-keywords`: `N name` per line; letter `a` + N in the info.
fn keywords(dir: &Path) -> [Option<String>; 26] {
    let mut out: [Option<String>; 26] = Default::default();
    let Some(text) = read_index(&dir.join("dovecot-keywords"), MAX_SMALL_INDEX) else {
        return out;
    };
    for line in text.lines() {
        let mut parts = line.splitn(2, ' ');
        if let (Some(n), Some(name)) = (parts.next(), parts.next())
            && let Ok(n) = n.parse::<usize>()
            && n < 26
        {
            out[n] = Some(name.trim().to_string());
        }
    }
    out
}

/// `dovecot-uidlist`: unique name → UID. Version 3 lines are
/// `UID [ext...] :name`, version 1 lines `UID name`; the header (first
/// line) is skipped.
fn uidlist(dir: &Path) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    let Some(text) = read_index(&dir.join("dovecot-uidlist"), MAX_UIDLIST) else {
        return out;
    };
    for line in text.lines().skip(1) {
        let Some((uid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(uid) = uid.parse::<u32>() else {
            continue;
        };
        let name = match rest.find(':') {
            Some(colon) if colon == 0 || rest.as_bytes()[colon - 1] == b' ' => &rest[colon + 1..],
            _ => rest.split(' ').next().unwrap_or_default(),
        };
        let unique = name.split(':').next().unwrap_or_default();
        out.insert(unique.to_string(), uid);
    }
    out
}

/// The flags and keywords of an info part (`2,FRS` → \Flagged ...).
fn flags_of(info: &str, names: &[Option<String>; 26]) -> (Flags, Vec<String>) {
    let mut flags = Flags::default();
    let mut words = Vec::new();
    let Some(letters) = info.strip_prefix("2,") else {
        return (flags, words);
    };
    for c in letters.chars() {
        match c {
            'S' => flags = flags.union(Flags::SEEN),
            'R' => flags = flags.union(Flags::ANSWERED),
            'F' => flags = flags.union(Flags::FLAGGED),
            'T' => flags = flags.union(Flags::DELETED),
            'D' => flags = flags.union(Flags::DRAFT),
            'P' => words.push("$Forwarded".to_string()),
            'a'..='z' => {
                if let Some(name) = &names[(c as u8 - b'a') as usize] {
                    words.push(name.clone());
                }
            }
            _ => {}
        }
    }
    (flags, words)
}

/// A folder's message files in the order their UIDs will be given.
fn entries(folder: &Folder) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let dir = folder.dir.join(sub);
        if !real_dir(&dir) {
            continue;
        }
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                eprintln!("skipped {}: the name is not UTF-8", entry.path().display());
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata().map_err(io(&entry.path()))?;
            if !meta.is_file() {
                continue;
            }
            out.push(Entry {
                unique: name.split(':').next().unwrap_or(name).to_string(),
                path: entry.path(),
                size: meta.len(),
            });
        }
    }
    let uids = uidlist(&folder.dir);
    out.sort_by(|a, b| {
        let (ua, ub) = (uids.get(&a.unique), uids.get(&b.unique));
        match (ua, ub) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.unique.cmp(&b.unique),
        }
    });
    Ok(out)
}

/// The raw names of `subscriptions` (Dovecot's version 2 file has a
/// `V\t2` header and levels separated by tabs; older files use the
/// Maildir++ separator).
fn subscriptions(root: &Path) -> Option<Vec<String>> {
    let text = read_index(&root.join("subscriptions"), MAX_SMALL_INDEX)?;
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    let tabbed = lines.peek().is_some_and(|l| l.starts_with("V\t"));
    if tabbed {
        lines.next();
    }
    for line in lines.filter(|l| !l.is_empty()) {
        out.push(if tabbed {
            line.replace('\t', ".")
        } else {
            line.replace('/', ".")
        });
    }
    Some(out)
}

pub fn import(store: &Store, user: &str, root: &Path) -> Result<String, String> {
    let folders = folders(root)?;
    let mut sink = Sink::open(store, user)?;
    let mut progress = Progress::new("importing");
    // Totals for the progress line; a folder's file list is made only when
    // its turn comes, so memory holds one folder's names at a time.
    for folder in &folders {
        let (count, bytes) = measure(folder);
        progress.expect(count, bytes);
    }
    let mut vanished = 0u64;
    let result = smol::block_on(async {
        for folder in &folders {
            let files = entries(folder)?;
            let id = sink.folder(&folder.name, None).await?;
            let names = keywords(&folder.dir);
            for entry in files {
                progress.add(entry.size);
                if entry.size > MAX_MESSAGE {
                    eprintln!(
                        "skipped {}: larger than the import limit",
                        entry.path.display()
                    );
                    continue;
                }
                let message = match read_message(&entry, &names)? {
                    Read::Message(m) => m,
                    // Moved meanwhile (a running Dovecot renames files
                    // from new/ to cur/ or as flags change).
                    Read::Vanished => {
                        vanished += 1;
                        continue;
                    }
                    Read::Skipped => continue,
                };
                let identity = format!("maildir\0{}\0{}", folder.raw, entry.unique);
                sink.put(id, message, identity.as_bytes()).await?;
            }
        }
        // Only subscribes: the target may hold the user's own folders (an
        // import merges into them), whose subscriptions are theirs.
        if let Some(subscribed) = subscriptions(root) {
            for folder in folders.iter().filter(|f| !f.raw.is_empty()) {
                if subscribed.contains(&folder.raw) {
                    sink.subscribe(&folder.name).await?;
                }
            }
        }
        sink.finish().await
    });
    let rate = progress.finish();
    let mut text = format!(
        "imported {}; {} files read {rate}",
        result?,
        progress.messages()
    );
    if vanished > 0 {
        text.push_str(&format!(
            "\n{vanished} files were renamed while being read (the source is in use): run the import again to take them"
        ));
    }
    Ok(text)
}

/// How many files a folder holds and their bytes.
fn measure(folder: &Folder) -> (u64, u64) {
    let (mut count, mut bytes) = (0, 0);
    for sub in ["new", "cur"] {
        let dir = folder.dir.join(sub);
        if !real_dir(&dir) {
            continue;
        }
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for meta in read.flatten().filter_map(|e| e.metadata().ok()) {
            if meta.is_file() {
                count += 1;
                bytes += meta.len();
            }
        }
    }
    (count, bytes)
}

/// What reading a listed message file gave.
enum Read {
    Message(ImportedMessage),
    Vanished,
    /// Refused with a log line: a symlink, not a regular file, too large.
    Skipped,
}

fn read_message(entry: &Entry, names: &[Option<String>; 26]) -> Result<Read, String> {
    use std::io::Read as _;
    let (file, meta) = match open_regular(&entry.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Vanished),
        Err(e)
            if e.raw_os_error() == Some(libc::ELOOP) || e.kind() == std::io::ErrorKind::Other =>
        {
            eprintln!("skipped {}: {e}", entry.path.display());
            return Ok(Read::Skipped);
        }
        Err(e) => return Err(format!("{}: {e}", entry.path.display())),
    };
    // The file may have grown since it was listed: read one byte past the
    // limit to tell.
    let mut bytes = Vec::new();
    file.take(MAX_MESSAGE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", entry.path.display()))?;
    if bytes.len() as u64 > MAX_MESSAGE {
        eprintln!(
            "skipped {}: larger than the import limit",
            entry.path.display()
        );
        return Ok(Read::Skipped);
    }
    let name = entry
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let info = name.split_once(':').map_or("", |(_, info)| info);
    let (flags, keywords) = flags_of(info, names);
    Ok(Read::Message(ImportedMessage {
        bytes: super::to_crlf(bytes),
        internal_date: super::mtime(&meta),
        flags,
        keywords,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_letters_are_flags_and_keywords() {
        let mut names: [Option<String>; 26] = Default::default();
        names[0] = Some("$Label1".into());
        names[2] = Some("NonJunk".into());
        let (flags, words) = flags_of("2,FPRSTacz", &names);
        assert!(flags.contains(Flags::FLAGGED.union(Flags::ANSWERED).union(Flags::SEEN)));
        assert!(flags.contains(Flags::DELETED) && !flags.contains(Flags::DRAFT));
        assert_eq!(words, ["$Forwarded", "$Label1", "NonJunk"]);
        assert_eq!(flags_of("1,xyz", &names).0, Flags::default());
    }

    #[test]
    fn folder_names_are_decoded() {
        assert_eq!(folder_name("Work.2024"), "Work/2024");
        assert_eq!(folder_name("Entw&APw-rfe"), "Entwürfe");
    }

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("smolmail-maildir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A `cur -> elsewhere` or `.Folder -> elsewhere` would import files
    /// the (root) importer can read but the mailbox owner cannot.
    #[test]
    fn symlinked_cur_and_folders_are_not_followed() {
        let dir = temp("symlinks");
        let outside = dir.join("outside");
        std::fs::create_dir_all(outside.join("cur")).unwrap();
        std::fs::write(outside.join("cur/secret"), "key").unwrap();
        let root = dir.join("Maildir");
        std::fs::create_dir_all(root.join("new")).unwrap();
        std::os::unix::fs::symlink(outside.join("cur"), root.join("cur")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join(".Evil")).unwrap();
        let list = folders(&root).unwrap();
        assert_eq!(
            list.len(),
            1,
            "{:?}",
            list.iter().map(|f| &f.name).collect::<Vec<_>>()
        );
        assert!(entries(&list[0]).unwrap().is_empty());
        assert_eq!(measure(&list[0]), (0, 0));
    }

    /// A file swapped for a symlink after the listing is refused, not read.
    #[test]
    fn a_message_swapped_for_a_symlink_is_skipped() {
        let dir = temp("swap");
        std::fs::write(dir.join("secret"), "key").unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), dir.join("1.host:2,S")).unwrap();
        let entry = Entry {
            unique: "1.host".into(),
            path: dir.join("1.host:2,S"),
            size: 3,
        };
        assert!(matches!(
            read_message(&entry, &Default::default()),
            Ok(Read::Skipped)
        ));
    }

    /// Index files are read with a cap (`/dev/zero` would never end) and
    /// never through a symlink.
    #[test]
    fn index_files_are_capped_and_not_followed() {
        let dir = temp("index");
        let mut big = b"0 Big\n".to_vec();
        big.resize(MAX_SMALL_INDEX as usize + 10, b'x');
        std::fs::write(dir.join("dovecot-keywords"), &big).unwrap();
        assert_eq!(keywords(&dir)[0], None);
        std::fs::write(dir.join("dovecot-keywords"), "0 Small\n").unwrap();
        assert_eq!(keywords(&dir)[0].as_deref(), Some("Small"));
        std::os::unix::fs::symlink("/dev/zero", dir.join("dovecot-uidlist")).unwrap();
        assert!(uidlist(&dir).is_empty());
    }

    /// Import only subscribes: a local folder the import merges into keeps
    /// its subscription though the source's `subscriptions` omits it.
    #[test]
    fn import_never_unsubscribes_local_folders() {
        let dir = temp("subscribe");
        let store = Store::open(
            &dir.join("data"),
            &crate::store::Options { map_size: 64 << 20 },
        )
        .unwrap();
        let account = smol::block_on(async {
            let account = store.add_account("me@home.arpa", "x").await.unwrap();
            store.set_subscribed(account, "Work", true).await.unwrap();
            account
        });
        let root = dir.join("Maildir");
        for sub in ["new", "cur", ".Work/cur", ".Work/new", ".List/cur"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("subscriptions"), "List\n").unwrap();
        import(&store, "me@home.arpa", &root).unwrap();
        let subs = store.read().unwrap().subscriptions(account).unwrap();
        assert!(subs.contains(&"Work".to_string()), "{subs:?}");
        assert!(subs.contains(&"List".to_string()), "{subs:?}");
    }
}
