//! `smolmail import imap USER --host … --user … --password-file …`: a
//! one-shot copy of a whole IMAP account (the imapsync job) into a local
//! user, with each message's flags, keywords and INTERNALDATE.
//!
//! It reuses the fetcher's session (`fetch::client`), so it is read-only
//! on the source the same way: folders are opened with EXAMINE (RFC 3501
//! §6.3.2) and bodies fetched with BODY.PEEK[] (§6.4.5), so not even
//! \Seen or \Recent change there. The walk:
//!
//! 1. LIST (with RFC 6154 special-use attributes) names the folders;
//!    `\Noselect` ones hold no mail, and the virtual `\All` and `\Flagged`
//!    views (Gmail's "All Mail") would copy mail twice, so those are left
//!    out unless named with `--folder`. A folder marked `\Sent`,
//!    `\Drafts`, `\Trash`, `\Junk` or `\Archive` goes to the local folder
//!    of that use; the others keep their names, with the server's
//!    hierarchy delimiter turned into smolmail's `/`.
//! 2. Per folder, `UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS
//!    (...)])` lists the messages with the fetcher's identity
//!    (`fetch::identity`: Message-ID, or Date/From/Subject) and size.
//!    Those imported before (an interrupted run) and those over
//!    `--max-message-size` are not fetched. A folder answering with more
//!    messages than EXAMINE's EXISTS plus slack (at most [`MAX_LISTED`])
//!    is left out with a warning, so a hostile server cannot fill memory.
//! 3. The rest come in UID sets of [`CHUNK`] with `UID FETCH set (UID
//!    RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])`, read one message at a
//!    time, and each is handed to the store before the next is read: one
//!    message in memory. The store records the identity in the same
//!    transaction as the message, so a run stopped anywhere (even by
//!    `kill -9`) and started again stores nothing twice.

use std::collections::HashMap;
use std::path::PathBuf;

use argh::FromArgs;

use crate::fetch::client::{Folder, Session, Target};
use crate::fetch::identity;
use crate::fetch::response::Untagged;
use crate::net::dns::Resolver;
use crate::store::{Flags, SpecialUse};

/// Messages per UID FETCH of bodies: a few round trips per thousand
/// messages, and a short sequence set.
pub const CHUNK: usize = 500;

#[derive(FromArgs, Debug, Clone, Default)]
#[argh(subcommand, name = "imap")]
/// copy a whole IMAP account (every folder, or those named) with flags, keywords and dates; read-only on the server, a re-run resumes
pub struct Options {
    /// the local user who gets the mail
    #[argh(positional)]
    pub local_user: String,
    /// IMAP server name or address
    #[argh(option)]
    pub host: String,
    /// IMAP server port [default 993, or 143 with --starttls]
    #[argh(option)]
    pub port: Option<u16>,
    /// STARTTLS on a plain port instead of TLS from the first byte
    #[argh(switch)]
    pub starttls: bool,
    /// user name at the IMAP server
    #[argh(option)]
    pub user: String,
    /// file whose first line is the password at the IMAP server
    #[argh(option)]
    pub password_file: PathBuf,
    /// remote folder to copy, repeatable [default: every folder]
    #[argh(option)]
    pub folder: Vec<String>,
    /// PEM file of CA certificates also trusted for this server (a private CA)
    #[argh(option)]
    pub ca: Option<PathBuf>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    pub data: Option<String>,
}

/// What the IMAP side of a run left out, for the summary line (the sink
/// counts what it stored).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Found imported by an earlier run, so not fetched again.
    pub already: u64,
    /// Over `--max-message-size`, left out.
    pub too_large: u64,
    /// Folders whose listing passed [`MAX_LISTED`]'s bound, left out.
    pub refused_folders: u64,
}

/// One remote folder and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub remote: String,
    pub local: String,
    pub special_use: SpecialUse,
}

/// The RFC 6154 use of a listed folder, as the store knows uses.
pub fn special_use(folder: &Folder) -> SpecialUse {
    [
        ("\\Sent", SpecialUse::Sent),
        ("\\Drafts", SpecialUse::Drafts),
        ("\\Trash", SpecialUse::Trash),
        ("\\Junk", SpecialUse::Junk),
        ("\\Archive", SpecialUse::Archive),
    ]
    .into_iter()
    .find(|(attribute, _)| folder.has(attribute))
    .map_or(SpecialUse::None, |(_, use_)| use_)
}

/// The local name of a remote folder: INBOX as INBOX (any case, §5.1),
/// the server's delimiter as `/`; a `/` inside a level (possible where
/// the server's delimiter is another character) becomes `_`, so that it
/// does not make a level of its own.
pub fn local_name(folder: &Folder) -> String {
    if folder.name.eq_ignore_ascii_case("INBOX") {
        return "INBOX".into();
    }
    match folder.delimiter {
        Some(b'/') | None => folder.name.clone(),
        Some(d) => folder
            .name
            .split(char::from(d))
            .map(|level| level.replace('/', "_"))
            .collect::<Vec<_>>()
            .join("/"),
    }
}

/// The folders to copy, in LIST order with INBOX first: `wanted` (remote
/// names, INBOX in any case) or, when empty, every selectable folder but
/// the virtual `\All` and `\Flagged` views.
pub fn plan(listed: &[Folder], wanted: &[String]) -> Result<Vec<Planned>, String> {
    let mut out: Vec<Planned> = Vec::new();
    let same = |a: &str, b: &str| {
        a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
    };
    let chosen: Vec<&Folder> = if wanted.is_empty() {
        listed
            .iter()
            .filter(|f| !f.has("\\Noselect") && !f.has("\\NonExistent"))
            .filter(|f| !f.has("\\All") && !f.has("\\Flagged"))
            .collect()
    } else {
        let mut chosen = Vec::new();
        for name in wanted {
            let found = listed
                .iter()
                .find(|f| same(&f.name, name.trim()))
                .ok_or_else(|| format!("--folder {name}: the server lists no such folder"))?;
            if found.has("\\Noselect") || found.has("\\NonExistent") {
                return Err(format!(
                    "--folder {name}: the folder holds no mail (\\Noselect)"
                ));
            }
            chosen.push(found);
        }
        chosen
    };
    for f in chosen {
        let planned = Planned {
            remote: f.name.clone(),
            local: local_name(f),
            special_use: special_use(f),
        };
        if !out.iter().any(|p| same(&p.remote, &planned.remote)) {
            out.push(planned);
        }
    }
    out.sort_by_key(|p| !p.remote.eq_ignore_ascii_case("INBOX"));
    Ok(out)
}

/// FLAGS as the store keeps them: system flags as bits, keywords by name.
/// \Recent belongs to the session that sees it first (§2.3.2) and is not
/// copied; other `\` names are not flags of RFC 3501 and are dropped.
pub fn split_flags(flags: &[String]) -> (Flags, Vec<String>) {
    let mut bits = Flags::default();
    let mut keywords: Vec<String> = Vec::new();
    for flag in flags {
        let bit = match flag.to_ascii_lowercase().as_str() {
            "\\seen" => Flags::SEEN,
            "\\answered" => Flags::ANSWERED,
            "\\flagged" => Flags::FLAGGED,
            "\\deleted" => Flags::DELETED,
            "\\draft" => Flags::DRAFT,
            _ if flag.starts_with('\\') => continue,
            _ => {
                if !keywords.iter().any(|k| k.eq_ignore_ascii_case(flag)) {
                    keywords.push(flag.clone());
                }
                continue;
            }
        };
        bits = bits.union(bit);
    }
    (bits, keywords)
}

/// What the store records for a message of `folder` of the remote user
/// `source`: the fetcher's identity of the message and its size, tied to
/// its source folder (not to the host or port, so a re-run by another
/// name or port of the same server resumes too) (the same message in INBOX and an archive is two messages, as
/// on the server), and which of the folder's messages of that identity
/// and size it is in UID order (`nth`), so that true duplicates are all
/// copied, and found again by a re-run even after a UIDVALIDITY change.
pub fn identity_of(source: &str, folder: &str, l: &Listed) -> Vec<u8> {
    format!(
        "imap\n{source}\n{folder}\n{:016x}\n{}\n{}",
        l.identity, l.size, l.nth
    )
    .into_bytes()
}

/// One listed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub uid: u32,
    pub size: u32,
    pub identity: u64,
    /// Earlier messages (lower UIDs) of the folder with the same identity
    /// and size.
    pub nth: u32,
}

/// The most messages one folder's listing keeps: what EXAMINE counted
/// plus [`LIST_SLACK`] for mail arriving meanwhile, and never more than
/// [`MAX_LISTED`] (ten million, 240 MB of listing) whatever EXISTS says.
/// A server answering `UID FETCH 1:*` with more is refused for the folder
/// rather than filling memory.
pub const MAX_LISTED: u32 = 10_000_000;
pub const LIST_SLACK: u32 = 10_000;

/// The listing of one folder, bounded (see [`MAX_LISTED`]).
struct Listing {
    listed: Vec<Listed>,
    cap: usize,
    over: bool,
}

impl Listing {
    fn new(exists: u32) -> Listing {
        Listing {
            listed: Vec::new(),
            cap: exists.saturating_add(LIST_SLACK).min(MAX_LISTED) as usize,
            over: false,
        }
    }

    /// Keeps one FETCH reply, or notes that the cap was passed (the rest
    /// of the answer is still read, so the session stays in step).
    fn add(&mut self, uid: u32, size: u32, header: &[u8]) {
        if self.listed.len() >= self.cap {
            self.over = true;
            return;
        }
        self.listed.push(Listed {
            uid,
            size,
            identity: identity::identity(header),
            nth: 0,
        });
    }

    fn finish(self, exists: u32) -> Result<Vec<Listed>, String> {
        if self.over {
            return Err(format!(
                "the server listed more than {} messages though the folder holds {exists}",
                self.cap
            ));
        }
        let mut listed = self.listed;
        number(&mut listed);
        Ok(listed)
    }
}

/// Every message of the examined folder (of `exists` messages) with its
/// size and identity, in UID order (the header fields come with PEEK too:
/// §6.4.5). The outer error ends the session; the inner one refuses only
/// this folder (the session is still in step).
pub async fn list(
    session: &mut Session,
    exists: u32,
) -> Result<Result<Vec<Listed>, String>, String> {
    let items = format!(
        "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({})])",
        identity::FIELDS
    );
    let mut listing = Listing::new(exists);
    session
        .uid_fetch("1:*", &items, |u| {
            if let Untagged::Fetch(_, d) = u
                && let (Some(uid), Some(size)) = (d.uid, d.size)
            {
                listing.add(uid, size, d.header_fields.as_deref().unwrap_or_default());
            }
            Ok(())
        })
        .await
        .map_err(|e| e.0)?;
    Ok(listing.finish(exists))
}

/// Sorts by UID, drops repeated UIDs and numbers equal messages.
fn number(listed: &mut Vec<Listed>) {
    listed.sort_by_key(|l| l.uid);
    listed.dedup_by_key(|l| l.uid);
    let mut seen: HashMap<(u64, u32), u32> = HashMap::new();
    for l in listed.iter_mut() {
        let n = seen.entry((l.identity, l.size)).or_insert(0);
        l.nth = *n;
        *n += 1;
    }
}

/// Where to connect and with what, checked before anything is opened.
pub struct Source {
    pub target: Target,
    pub user: String,
    pub password: crate::config::Secret,
    /// `user at host:port`, for messages.
    pub label: String,
}

/// Checks the options and reads the password file.
pub fn source(o: &Options, max_message_size: u64) -> Result<Source, String> {
    let host = crate::fetch::admin::parse_host(&o.host)?;
    let port = o.port.unwrap_or(if o.starttls { 143 } else { 993 });
    if port == 0 {
        return Err("--port must be 1 to 65535".into());
    }
    let user = o.user.trim().to_string();
    if user.is_empty() {
        return Err("--user must not be empty".into());
    }
    let password = crate::fetch::admin::read_password(&o.password_file)?;
    let ca_pem = match &o.ca {
        None => Vec::new(),
        Some(path) => std::fs::read(path).map_err(|e| format!("--ca {}: {e}", path.display()))?,
    };
    let what = match &o.ca {
        Some(path) => format!("--ca {}", path.display()),
        None => String::new(),
    };
    let tls = crate::net::tls::verified_pem(&ca_pem, &what)?;
    Ok(Source {
        label: format!("{user} at {host}:{port}"),
        target: Target {
            host,
            port,
            starttls: o.starttls,
            tls,
            limits: crate::fetch::sync::limits(max_message_size),
        },
        user,
        password,
    })
}

/// Connects and logs in.
pub async fn connect(source: &Source) -> Result<Session, String> {
    let resolver = Resolver::new(&crate::fetch::admin::dns_servers());
    Session::open(&source.target, &resolver, &source.user, &source.password.0)
        .await
        .map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, delimiter: u8, attributes: &[&str]) -> Folder {
        Folder {
            name: name.into(),
            delimiter: Some(delimiter),
            attributes: attributes.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn rfc_6154_uses_and_delimiters_map_to_local_folders() {
        let listed = [
            folder("Sent Items", b'.', &["\\HasNoChildren", "\\Sent"]),
            folder("Lists", b'.', &["\\Noselect", "\\HasChildren"]),
            folder("Lists.Rust", b'.', &[]),
            folder("a/b.c", b'.', &[]),
            folder("inbox", b'.', &[]),
            folder("[Gmail].All Mail", b'.', &["\\All"]),
            folder("Müll", b'.', &["\\trash"]),
        ];
        let p = plan(&listed, &[]).unwrap();
        let got: Vec<(&str, &str, SpecialUse)> = p
            .iter()
            .map(|p| (p.remote.as_str(), p.local.as_str(), p.special_use))
            .collect();
        assert_eq!(
            got,
            [
                ("inbox", "INBOX", SpecialUse::None),
                ("Sent Items", "Sent Items", SpecialUse::Sent),
                ("Lists.Rust", "Lists/Rust", SpecialUse::None),
                ("a/b.c", "a_b/c", SpecialUse::None),
                ("Müll", "Müll", SpecialUse::Trash),
            ]
        );
        let p = plan(&listed, &["INBOX".into(), "[Gmail].All Mail".into()]).unwrap();
        assert_eq!(p.len(), 2);
        assert!(plan(&listed, &["Nope".into()]).is_err());
        assert!(plan(&listed, &["Lists".into()]).is_err());
    }

    #[test]
    fn flags_become_bits_and_keywords() {
        let flags: Vec<String> = [
            "\\Seen",
            "\\RECENT",
            "\\flagged",
            "$Label1",
            "$label1",
            "\\X",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (bits, keywords) = split_flags(&flags);
        assert_eq!(bits, Flags::SEEN.union(Flags::FLAGGED));
        assert_eq!(keywords, ["$Label1"]);
    }

    #[test]
    fn identities_are_per_source_folder_and_copy() {
        let l = |uid, identity, size| Listed {
            uid,
            size,
            identity,
            nth: 0,
        };
        let mut listed = vec![l(9, 7, 100), l(3, 7, 100), l(5, 7, 101), l(3, 7, 100)];
        number(&mut listed);
        let nths: Vec<(u32, u32)> = listed.iter().map(|l| (l.uid, l.nth)).collect();
        assert_eq!(nths, [(3, 0), (5, 0), (9, 1)]);
        let a = identity_of("bob", "INBOX", &listed[0]);
        assert_ne!(a, identity_of("bob", "Archive", &listed[0]));
        assert_ne!(a, identity_of("eve", "INBOX", &listed[0]));
        assert_ne!(a, identity_of("bob", "INBOX", &listed[1]));
        assert_ne!(a, identity_of("bob", "INBOX", &listed[2]));
        // The same message under another UID (a UIDVALIDITY change).
        assert_eq!(a, identity_of("bob", "INBOX", &l(40, 7, 100)));
    }

    /// A server answering `UID FETCH 1:*` with more than EXISTS plus
    /// slack is refused for the folder; the listing stops growing.
    #[test]
    fn a_listing_past_exists_is_refused_not_kept() {
        let mut listing = Listing::new(3);
        for uid in 1..=3 + LIST_SLACK + 100 {
            listing.add(uid, 10, b"");
        }
        assert_eq!(listing.listed.len(), (3 + LIST_SLACK) as usize);
        assert!(listing.finish(3).is_err());
        let mut listing = Listing::new(u32::MAX);
        assert_eq!(listing.cap, MAX_LISTED as usize);
        listing.add(2, 10, b"");
        listing.add(1, 10, b"");
        let listed = listing.finish(2).unwrap();
        assert_eq!(
            listed.iter().map(|l| (l.uid, l.nth)).collect::<Vec<_>>(),
            [(1, 0), (2, 1)]
        );
    }
}
