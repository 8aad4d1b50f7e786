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

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
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
        if raw.is_empty() || raw == "." || !is_maildir(&entry.path()) {
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
    let Ok(text) = std::fs::read_to_string(dir.join("dovecot-keywords")) else {
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
    let Ok(text) = std::fs::read_to_string(dir.join("dovecot-uidlist")) else {
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
    let text = std::fs::read_to_string(root.join("subscriptions")).ok()?;
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
                let Some(message) = read_message(&entry, &names)? else {
                    // Moved meanwhile (a running Dovecot renames files
                    // from new/ to cur/ or as flags change).
                    vanished += 1;
                    continue;
                };
                let identity = format!("maildir\0{}\0{}", folder.raw, entry.unique);
                sink.put(id, message, identity.as_bytes()).await?;
            }
        }
        if let Some(subscribed) = subscriptions(root) {
            for folder in folders.iter().filter(|f| !f.raw.is_empty()) {
                sink.set_subscribed(&folder.name, subscribed.contains(&folder.raw))
                    .await?;
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
        let Ok(read) = std::fs::read_dir(folder.dir.join(sub)) else {
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

fn read_message(
    entry: &Entry,
    names: &[Option<String>; 26],
) -> Result<Option<ImportedMessage>, String> {
    let meta = match std::fs::metadata(&entry.path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", entry.path.display())),
    };
    let bytes = match std::fs::read(&entry.path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", entry.path.display())),
    };
    let name = entry
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let info = name.split_once(':').map_or("", |(_, info)| info);
    let (flags, keywords) = flags_of(info, names);
    Ok(Some(ImportedMessage {
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
}
