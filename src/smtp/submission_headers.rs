//! The header fields a message submission agent completes: `Date:`
//! (RFC 6409 §8.2) and `Message-ID:` (§8.3), which RFC 5322 §3.6 requires
//! (Date) or strongly expects (Message-ID, without which large providers
//! refuse mail) and which simple senders (scripts, alerting tools, devices)
//! leave out.
//!
//! As Postfix does for `local_header_rewrite_clients` (permit_mynetworks,
//! permit_sasl_authenticated), the session adds them only for an
//! authenticated or trusted-network client; mail from outside on port 25
//! is never touched. The missing fields are appended at the end of the
//! message's own header section (as Postfix appends them), so the
//! Received trace block above stays contiguous (RFC 5322 §3.6.7).
//!
//! Pure functions over bytes; the session does the memory accounting.

/// Which of the two fields a header section lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Missing {
    pub date: bool,
    pub message_id: bool,
}

impl Missing {
    pub fn any(self) -> bool {
        self.date || self.message_id
    }
}

/// Looks through a header section for `Date:` and `Message-ID:` fields
/// (names case-insensitive, RFC 5322 §1.2.2; obs-syntax whitespace before
/// the colon allowed, §4.5). Continuation lines are not field starts.
pub fn missing(header: &[u8]) -> Missing {
    let (mut date, mut message_id) = (false, false);
    for line in header.split(|&b| b == b'\n') {
        if line.first().is_none_or(|b| *b == b' ' || *b == b'\t') {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii_end();
        date |= name.eq_ignore_ascii_case(b"Date");
        message_id |= name.eq_ignore_ascii_case(b"Message-ID");
    }
    Missing {
        date: !date,
        message_id: !message_id,
    }
}

/// Where the fields go in `content` (the message as the client sent it):
/// before the blank line ending its header section, or at its end when it
/// has no body. A message whose last line has no line ending (BDAT lets a
/// client send that) gets them first, so they cannot run into its text.
pub fn insertion_point(content: &[u8]) -> usize {
    let len = crate::mime::header_len(content);
    let header = &content[..len];
    if header.ends_with(b"\r\n\r\n") || header == b"\r\n" {
        len - 2
    } else if header.ends_with(b"\n\n") || header == b"\n" {
        len - 1
    } else if header.is_empty() || header.ends_with(b"\n") {
        len
    } else {
        0
    }
}

/// The fields to add: `Date:` in RFC 5322 §3.3 form (in UTC, `+0000`,
/// as every stamp smolmail writes: the server carries no time zone
/// database) and `Message-ID:` as `<yyyymmddhhmmss.QUEUEID.RANDOM@host>`:
/// the queue id is unique within the process and ordered in time, and
/// 32 random bits keep two processes (or a restart within the queue
/// id's wrap) apart.
pub fn fields(missing: Missing, now: i64, queue_id: &str, hostname: &str, random: u32) -> Vec<u8> {
    let mut out = String::new();
    if missing.date {
        out.push_str(&format!("Date: {}\r\n", crate::time::rfc5322(now)));
    }
    if missing.message_id {
        let days = now.div_euclid(86_400);
        let secs = now.rem_euclid(86_400);
        let (y, m, d) = crate::time::civil_from_days(days);
        out.push_str(&format!(
            "Message-ID: <{y:04}{m:02}{d:02}{:02}{:02}{:02}.{queue_id}.{random:08X}@{hostname}>\r\n",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ));
    }
    out.into_bytes()
}

/// Inserts `fields` into `message` at `base + insertion_point(content)`.
/// The caller has made room (the capacity is covered by its reservation).
pub fn insert(message: &mut Vec<u8>, base: usize, fields: &[u8]) {
    let at = base + insertion_point(&message[base..]);
    message.splice(at..at, fields.iter().copied());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fields_case_insensitively() {
        let m = missing(b"From: a@b\r\nDATE: x\r\nmessage-id : <1@b>\r\n\r\n");
        assert!(!m.any());
        let m = missing(b"From: a@b\r\nSubject: Date: no\r\n\tMessage-ID: folded\r\n\r\n");
        assert!(m.date && m.message_id);
        let m = missing(b"Resent-Date: x\r\nResent-Message-ID: <y@z>\r\n\r\n");
        assert!(m.date && m.message_id, "resent fields are other fields");
    }

    #[test]
    fn inserts_at_end_of_header_section() {
        assert_eq!(insertion_point(b"A: 1\r\nB: 2\r\n\r\nbody\r\n"), 12);
        assert_eq!(insertion_point(b"A: 1\nB: 2\n\nbody\n"), 10);
        assert_eq!(insertion_point(b"A: 1\r\nB: 2\r\n"), 12);
        assert_eq!(insertion_point(b"\r\nbody"), 0);
        assert_eq!(insertion_point(b""), 0);
        assert_eq!(insertion_point(b"A: 1\r\nB: 2"), 0, "no line ending");
        let mut m = b"Received: x\r\nFrom: a\r\n\r\nbody\r\n".to_vec();
        insert(&mut m, 13, b"Date: d\r\n");
        assert_eq!(m, b"Received: x\r\nFrom: a\r\nDate: d\r\n\r\nbody\r\n");
    }

    #[test]
    fn field_forms() {
        let both = Missing {
            date: true,
            message_id: true,
        };
        let f = fields(both, 1_700_000_000, "18BCD0123456789", "mx.home.arpa", 0xAB);
        assert_eq!(
            String::from_utf8(f).unwrap(),
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
             Message-ID: <20231114221320.18BCD0123456789.000000AB@mx.home.arpa>\r\n"
        );
        let only_id = Missing {
            date: false,
            message_id: true,
        };
        assert!(
            !String::from_utf8(fields(only_id, 0, "Q", "h", 1))
                .unwrap()
                .contains("Date")
        );
    }
}
