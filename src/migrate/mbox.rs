//! `smolmail import mbox USER FILE [--folder NAME]`, and the mbox format
//! the export writes: messages behind `From ` lines (RFC 4155), in the
//! mboxrd quoting (a body line `>*From ` gains one `>` when written and
//! loses one when read, which also reads mboxo's `>From `).
//!
//! Flags travel in header fields, as mutt, Dovecot and Thunderbird write
//! them: `Status:` (R seen, O no longer new), `X-Status:` (A answered,
//! F flagged, T draft, D deleted), `X-Keywords:` (keywords, separated by
//! spaces or commas), and Thunderbird's `X-Mozilla-Status:` (hex bits:
//! 1 read, 2 replied, 4 flagged, 8 deleted, 0x1000 forwarded) with
//! `X-Mozilla-Keys:`. These fields (and `Content-Length:`, `X-UID:`,
//! `X-IMAP:`, `X-IMAPbase:`) are the mbox's bookkeeping, not the message's:
//! they are taken out on import, as Dovecot hides them from IMAP.
//!
//! INTERNALDATE comes from the `From ` line's date (asctime; the export
//! writes UTC), else the file's mtime. A message's identity is its folder,
//! a hash of its bytes, and how many identical messages came before it in
//! the file: a re-run skips what it stored, and true duplicates in one
//! mbox stay duplicates.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use super::progress::Progress;
use super::sink::{ImportedMessage, MAX_MESSAGE, Sink};
use crate::store::{Flags, Store};
use crate::time::{MONTHS, days_from_civil};

/// Header fields that are mbox bookkeeping (lower case).
const BOOKKEEPING: [&str; 10] = [
    "status",
    "x-status",
    "x-keywords",
    "x-uid",
    "x-imap",
    "x-imapbase",
    "x-mozilla-status",
    "x-mozilla-status2",
    "x-mozilla-keys",
    "content-length",
];

/// The Unix time of a `From ` line's asctime date (`Mon Jan  2 15:04:05
/// 2006`, a zone or not), read as UTC.
pub fn from_line_date(line: &str) -> Option<i64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let m = words.iter().position(|w| MONTHS.contains(w))?;
    let month = MONTHS.iter().position(|x| *x == words[m])? as u32 + 1;
    let day: u32 = words.get(m + 1)?.parse().ok()?;
    let mut hms = words.get(m + 2)?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min) = (hms.next()??, hms.next()??);
    let s = hms.next().flatten().unwrap_or(0);
    let year: i64 = words[m + 3..]
        .iter()
        .find_map(|w| (w.len() == 4).then(|| w.parse().ok()).flatten())?;
    if !(1..=31).contains(&day) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + min * 60 + s)
}

/// asctime in UTC, for a `From ` line.
pub fn asctime(unix: i64) -> String {
    let rfc = crate::time::rfc5322(unix); // "Mon, 2 Jan 2006 15:04:05 +0000"
    let w: Vec<&str> = rfc.split_whitespace().collect();
    format!("{} {} {:>2} {} {}", &w[0][..3], w[2], w[1], w[4], w[3])
}

/// The flags and keywords in one bookkeeping field.
fn read_flag_field(name: &str, value: &str, flags: &mut Flags, keywords: &mut Vec<String>) {
    match name {
        "status" if value.contains('R') => *flags = flags.union(Flags::SEEN),
        "x-status" => {
            for (c, f) in [
                ('A', Flags::ANSWERED),
                ('F', Flags::FLAGGED),
                ('T', Flags::DRAFT),
                ('D', Flags::DELETED),
            ] {
                if value.contains(c) {
                    *flags = flags.union(f);
                }
            }
        }
        "x-keywords" | "x-mozilla-keys" => keywords.extend(
            value
                .split([' ', ',', '\t'])
                .filter(|k| !k.is_empty())
                .map(str::to_string),
        ),
        "x-mozilla-status" => {
            let bits = u32::from_str_radix(value.trim(), 16).unwrap_or(0);
            for (bit, f) in [
                (1, Flags::SEEN),
                (2, Flags::ANSWERED),
                (4, Flags::FLAGGED),
                (8, Flags::DELETED),
            ] {
                if bits & bit != 0 {
                    *flags = flags.union(f);
                }
            }
            if bits & 0x1000 != 0 {
                keywords.push("$Forwarded".into());
            }
        }
        _ => {}
    }
}

/// A message as read from the mbox (LF or CRLF lines, unquoted) made the
/// stored form: bookkeeping fields out (their flags read), CRLF lines.
fn finish_message(raw: &[u8], internal_date: i64) -> ImportedMessage {
    let mut flags = Flags::default();
    let mut keywords = Vec::new();
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut in_header = true;
    let mut dropping = false;
    // Lines with their LF (the last one perhaps without).
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if in_header {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.is_empty() {
                in_header = false;
            } else if matches!(text[0], b' ' | b'\t') {
                if dropping {
                    continue;
                }
            } else {
                dropping = false;
                if let Some(colon) = text.iter().position(|&b| b == b':') {
                    let name = String::from_utf8_lossy(&text[..colon])
                        .trim()
                        .to_ascii_lowercase();
                    if BOOKKEEPING.contains(&name.as_str()) {
                        let value = String::from_utf8_lossy(&text[colon + 1..]);
                        read_flag_field(&name, value.trim(), &mut flags, &mut keywords);
                        dropping = true;
                        continue;
                    }
                }
            }
        }
        out.extend_from_slice(line);
    }
    ImportedMessage {
        bytes: super::to_crlf(out),
        internal_date,
        flags,
        keywords,
    }
}

/// The folder an mbox file goes to without `--folder`: its name, INBOX
/// for `inbox` and `mbox` (any case).
fn default_folder(file: &Path) -> String {
    let name = file
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("INBOX")
        .to_string();
    if name.eq_ignore_ascii_case("inbox") || name.eq_ignore_ascii_case("mbox") {
        "INBOX".into()
    } else {
        name
    }
}

/// Reads one line (through `\n`) keeping at most `keep` bytes of it: a
/// file without newlines must not grow memory without end. Returns the
/// bytes consumed and whether the line was cut.
fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    keep: usize,
) -> std::io::Result<(usize, bool)> {
    let (mut total, mut cut) = (0, false);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((total, cut));
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = keep.saturating_sub(line.len()).min(take);
        line.extend_from_slice(&buf[..room]);
        cut |= room < take;
        reader.consume(take);
        total += take;
        if done {
            return Ok((total, cut));
        }
    }
}

pub fn import(
    store: &Store,
    user: &str,
    file: &Path,
    folder: Option<&str>,
) -> Result<String, String> {
    let io = |e: std::io::Error| format!("{}: {e}", file.display());
    let handle = std::fs::File::open(file).map_err(io)?;
    let meta = handle.metadata().map_err(io)?;
    let fallback_date = super::mtime(&meta);
    let mut reader = BufReader::with_capacity(1 << 16, handle);
    let folder = folder.map_or_else(|| default_folder(file), str::to_string);
    let mut sink = Sink::open(store, user)?;
    let mut progress = Progress::new("importing");
    progress.expect(0, meta.len());
    let result = smol::block_on(async {
        let id = sink.folder(&folder, None).await?;
        let mut occurrences: HashMap<[u8; 16], u32> = HashMap::new();
        let mut line = Vec::with_capacity(1024);
        let mut message: Vec<u8> = Vec::new();
        let mut date = fallback_date;
        let mut started = false;
        let mut too_large = false;
        let mut previous_blank = true;
        loop {
            line.clear();
            // Keep no more of a line than could still fit the message (a
            // skipped message's lines only need their start: `From `, blank).
            let keep = if too_large {
                1024
            } else {
                (MAX_MESSAGE as usize + 1 - message.len()).max(1024)
            };
            let (n, cut) = read_line(&mut reader, &mut line, keep).map_err(io)?;
            let separator = n == 0 || (previous_blank && line.starts_with(b"From "));
            if separator {
                if started {
                    // The blank line that ends each message is the mbox's.
                    strip_last_blank(&mut message);
                    progress.add(message.len() as u64);
                    if too_large {
                        eprintln!(
                            "skipped a message larger than the import limit in {}",
                            file.display()
                        );
                    } else {
                        let m = finish_message(&message, date);
                        let digest = crate::store::identity_hash(&m.bytes);
                        let nth = occurrences.entry(digest).or_insert(0);
                        *nth += 1;
                        let mut identity = format!("mbox\0{folder}\0").into_bytes();
                        identity.extend_from_slice(&digest);
                        identity.extend_from_slice(&nth.to_be_bytes());
                        sink.put(id, m, &identity).await?;
                    }
                }
                if n == 0 {
                    break;
                }
                started = true;
                too_large = false;
                message.clear();
                date = from_line_date(&String::from_utf8_lossy(&line)).unwrap_or(fallback_date);
                previous_blank = false;
                continue;
            }
            if !started {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Err(format!(
                    "{} is not an mbox (it does not begin with a From line)",
                    file.display()
                ));
            }
            previous_blank = line == b"\n" || line == b"\r\n";
            if too_large {
                continue;
            }
            if cut || message.len() + line.len() > MAX_MESSAGE as usize {
                too_large = true;
                message.clear();
                continue;
            }
            // mboxrd: `>From ` after one or more `>` loses one.
            let quoted = line.iter().position(|&b| b != b'>').unwrap_or(0);
            if quoted > 0 && line[quoted..].starts_with(b"From ") {
                message.extend_from_slice(&line[1..]);
            } else {
                message.extend_from_slice(&line);
            }
        }
        sink.finish().await
    });
    let rate = progress.finish();
    Ok(format!("imported {} {rate}", result?))
}

fn strip_last_blank(message: &mut Vec<u8>) {
    if message.ends_with(b"\r\n\r\n") || message == b"\r\n" {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") || message == b"\n" {
        message.truncate(message.len() - 1);
    }
}

/// Writes one message in mbox form: the `From ` line, the header with the
/// bookkeeping fields for its flags (old ones left out), the body quoted
/// (mboxrd), LF line ends, and the blank line that ends it.
pub fn write_message(
    out: &mut impl Write,
    stored: &[u8],
    internal_date: i64,
    flags: Flags,
    keywords: &[&str],
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    super::to_lf(stored, scratch);
    writeln!(out, "From MAILER-DAEMON {}", asctime(internal_date))?;
    let mut in_header = true;
    let mut dropping = false;
    // Lines with their LF (the last one perhaps without).
    for line in scratch.split_inclusive(|&b| b == b'\n') {
        if in_header {
            if line == b"\n" {
                in_header = false;
                write_flags(out, flags, keywords)?;
            } else if matches!(line[0], b' ' | b'\t') {
                if dropping {
                    continue;
                }
            } else {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
                dropping = line.contains(&b':') && BOOKKEEPING.contains(&name.as_str());
                if dropping {
                    continue;
                }
            }
        }
        let quoted = line.iter().position(|&b| b != b'>').unwrap_or(0);
        if line[quoted..].starts_with(b"From ") {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    if in_header {
        // A message that is all header: the fields, then the blank line.
        if !scratch.is_empty() && !scratch.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
        write_flags(out, flags, keywords)?;
        out.write_all(b"\n")?;
    } else if !scratch.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

fn write_flags(out: &mut impl Write, flags: Flags, keywords: &[&str]) -> std::io::Result<()> {
    let status = if flags.contains(Flags::SEEN) {
        "RO"
    } else {
        "O"
    };
    writeln!(out, "Status: {status}")?;
    let mut x = String::new();
    for (c, f) in [
        ('A', Flags::ANSWERED),
        ('F', Flags::FLAGGED),
        ('T', Flags::DRAFT),
        ('D', Flags::DELETED),
    ] {
        if flags.contains(f) {
            x.push(c);
        }
    }
    if !x.is_empty() {
        writeln!(out, "X-Status: {x}")?;
    }
    if !keywords.is_empty() {
        writeln!(out, "X-Keywords: {}", keywords.join(" "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_line_dates() {
        let t = from_line_date("From a@b Mon Jan  2 15:04:05 2006").unwrap();
        assert_eq!(crate::time::rfc5322(t), "Mon, 2 Jan 2006 15:04:05 +0000");
        assert_eq!(from_line_date(&format!("From x {}", asctime(t))), Some(t));
        assert!(from_line_date("From a@b Thu Feb 29 10:00 +0100 2024").is_some());
        assert_eq!(from_line_date("From nobody"), None);
    }

    #[test]
    fn a_message_written_and_read_back_keeps_bytes_and_flags() {
        let stored = b"Subject: x\r\nStatus: RO\r\n\r\nFrom here\r\n>From there\r\nend\r\n";
        let flags = Flags::SEEN.union(Flags::ANSWERED).union(Flags::FLAGGED);
        let mut out = Vec::new();
        write_message(
            &mut out,
            stored,
            1_136_214_245,
            flags,
            &["$Label1", "NonJunk"],
            &mut Vec::new(),
        )
        .unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("\n>From here\n>>From there\n"), "{text}");
        assert!(text.contains("Status: RO\nX-Status: AF\nX-Keywords: $Label1 NonJunk\n\n"));
        // Read back: the body unquoted, the fields gone, flags back.
        let body_start = text.find('\n').unwrap() + 1;
        let mut raw = Vec::new();
        for line in text[body_start..].split_inclusive('\n') {
            let q = line.bytes().position(|b| b != b'>').unwrap_or(0);
            raw.extend_from_slice(if q > 0 && line[q..].starts_with("From ") {
                &line.as_bytes()[1..]
            } else {
                line.as_bytes()
            });
        }
        strip_last_blank(&mut raw);
        let m = finish_message(&raw, 7);
        assert_eq!(
            m.bytes,
            b"Subject: x\r\n\r\nFrom here\r\n>From there\r\nend\r\n"
        );
        assert_eq!(m.flags, flags);
        assert_eq!(m.keywords, ["$Label1", "NonJunk"]);
    }

    #[test]
    fn thunderbird_status() {
        let m = finish_message(
            b"X-Mozilla-Status: 1005\nX-Mozilla-Keys: $label1\nSubject: y\n\nb\n",
            0,
        );
        assert_eq!(m.flags, Flags::SEEN.union(Flags::FLAGGED));
        assert_eq!(m.keywords, ["$Forwarded", "$label1"]);
        assert_eq!(m.bytes, b"Subject: y\r\n\r\nb\r\n");
    }

    /// A line without a newline is kept only up to the cap, the rest is
    /// consumed and dropped, and the next line reads normally.
    #[test]
    fn a_long_line_is_cut_not_kept() {
        let mut data = vec![b'x'; 100_000];
        data.extend_from_slice(b"\nnext\n");
        let mut reader = std::io::BufReader::with_capacity(4096, &data[..]);
        let mut line = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut line, 1000).unwrap(),
            (100_001, true)
        );
        assert_eq!(line.len(), 1000);
        line.clear();
        assert_eq!(read_line(&mut reader, &mut line, 1000).unwrap(), (5, false));
        assert_eq!(line, b"next\n");
        line.clear();
        assert_eq!(read_line(&mut reader, &mut line, 1000).unwrap(), (0, false));
    }
}
