//! Moving a whole account in and out (`smolmail import ...`,
//! `smolmail export ...`): Maildir++ trees as Dovecot and Courier keep
//! them, mbox files as mutt and Thunderbird write them, whole IMAP
//! accounts (`imap.rs`, over the fetcher's read-only session), and the
//! Postfix `virtual` alias map.
//!
//! Every importer reads its source one message at a time and hands it to a
//! [`sink::Sink`], which finds or creates the folders, keeps flags,
//! keywords and INTERNALDATE, skips what an earlier run imported, and
//! keeps the store writer busy with many messages per commit. Exports read
//! one LMDB snapshot (one read transaction: what a client changes during
//! the export is not half in it).
//!
//! The commands open the store the way the other administrative commands
//! do (`crate::admin::open`): LMDB lets them write while `smolmail serve`
//! runs, serialised by LMDB's own lock. The server's IMAP sessions see the
//! imported mail at their next command; an IDLE session is only woken by
//! its own process's writes, so it sees it when the client next talks.

pub mod export;
pub mod imap;
mod imap_run;
pub mod maildir;
pub mod mbox;
pub mod postfix;
pub mod progress;
pub mod sink;

use std::path::{Path, PathBuf};

use argh::FromArgs;

#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
/// copy mail into a user's account from a Maildir, an mbox file or an IMAP account (a re-run resumes)
pub struct ImportCmd {
    #[argh(subcommand)]
    pub source: ImportSource,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub enum ImportSource {
    Maildir(ImportMaildir),
    Mbox(ImportMbox),
    Imap(imap::Options),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "maildir")]
/// import a Maildir++ tree (Dovecot, Courier): folders, flags, keywords, dates, subscriptions
pub struct ImportMaildir {
    #[argh(positional)]
    pub user: String,
    #[argh(positional)]
    pub dir: PathBuf,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    pub data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "mbox")]
/// import an mbox file (mboxrd/mboxo; Status/X-Status/X-Keywords flags) into one folder
pub struct ImportMbox {
    #[argh(positional)]
    pub user: String,
    #[argh(positional)]
    pub file: PathBuf,
    /// local folder to import into [default: the file's name, INBOX for "inbox"/"mbox"]
    #[argh(option)]
    pub folder: Option<String>,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    pub data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "export")]
/// copy a user's mail out as a Maildir++ tree or mbox files (also while serving)
pub struct ExportCmd {
    #[argh(subcommand)]
    pub format: ExportFormat,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub enum ExportFormat {
    Maildir(ExportMaildir),
    Mbox(ExportMbox),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "maildir")]
/// write a Maildir++ tree Dovecot reads (mail_location = maildir:DIR), with flags and keywords
pub struct ExportMaildir {
    #[argh(positional)]
    pub user: String,
    #[argh(positional)]
    pub dir: PathBuf,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    pub data: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "mbox")]
/// write one mboxrd file per folder into DIR, flags in Status/X-Status/X-Keywords
pub struct ExportMbox {
    #[argh(positional)]
    pub user: String,
    #[argh(positional)]
    pub dir: PathBuf,
    /// data directory [env SMOLMAIL_DATA]
    #[argh(option)]
    pub data: Option<String>,
}

/// Runs an import; `data_dir` turns a `--data` flag into the directory.
pub fn import(
    cmd: ImportCmd,
    data_dir: &dyn Fn(&Option<String>) -> PathBuf,
) -> Result<String, String> {
    match cmd.source {
        ImportSource::Maildir(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            maildir::import(&store, &a.user, &a.dir)
        }
        ImportSource::Imap(a) => imap_run::run(&data_dir(&a.data), &a),
        ImportSource::Mbox(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            mbox::import(&store, &a.user, &a.file, a.folder.as_deref())
        }
    }
}

/// Runs an export.
pub fn export(
    cmd: ExportCmd,
    data_dir: &dyn Fn(&Option<String>) -> PathBuf,
) -> Result<String, String> {
    match cmd.format {
        ExportFormat::Maildir(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            export::maildir(&store, &a.user, &a.dir)
        }
        ExportFormat::Mbox(a) => {
            let store = crate::admin::open(&data_dir(&a.data))?;
            export::mbox(&store, &a.user, &a.dir)
        }
    }
}

/// Lines ended by a bare LF (as Maildir and mbox files on Unix keep them)
/// ended by CRLF, as IMAP serves them (RFC 3501 §2.2: CRLF) and as mail
/// arriving by SMTP is stored. A CR already before the LF is kept alone.
pub fn to_crlf(bytes: Vec<u8>) -> Vec<u8> {
    let bare = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
        .count();
    if bare == 0 {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + bare);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// CRLF line ends as bare LF, the Unix convention of Maildir and mbox
/// files (Dovecot and mutt write them so).
pub fn to_lf(bytes: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
}

/// A file's modification time in Unix seconds (0 if the system has none).
pub fn mtime(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Creates a directory (and its parents) 0700: it will hold someone's mail.
pub fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b"\n".to_vec()), b"\r\n");
        let mut out = Vec::new();
        to_lf(b"a\r\nb\rc\r\n", &mut out);
        assert_eq!(out, b"a\nb\rc\n");
    }
}
