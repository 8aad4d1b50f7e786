//! Delivery status notifications to the envelope sender: RFC 3464
//! `message/delivery-status` inside an RFC 6522 `multipart/report`, for
//! failed recipients (a bounce), recipients still being retried (a delay
//! notice), recipients relayed to a server without DSN support
//! (RFC 3461 §6.2.1, "relayed") and local recipients who asked
//! NOTIFY=SUCCESS (RFC 3461 §4.1, "delivered", written by the SMTP server
//! when it stores the message).
//!
//! Composition is a pure function of a [`Report`]; the runner decides who
//! gets one (never the null sender: a bounce is not bounced, RFC 5321
//! §4.5.5) and stores it in the same commit as the attempt's result.

use std::fmt::Write as _;

/// Largest original returned whole when the sender asked RET=FULL;
/// beyond it only the headers go back (Postfix's bounce_size_limit).
pub const FULL_RETURN_LIMIT: usize = 50_000;

/// Longest diagnostic text copied from a remote reply into header fields.
const MAX_DIAGNOSTIC: usize = 900;

/// RFC 3464 §2.3.3 Action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
    Relayed,
    /// Stored in a local mailbox (RFC 3464 §2.3.3: final delivery).
    Delivered,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Relayed => "relayed",
            Action::Delivered => "delivered",
        }
    }
}

/// One recipient's line in the report.
#[derive(Debug, Clone)]
pub struct ReportRcpt<'a> {
    pub address: &'a str,
    /// ORCPT as stored: `rfc822;user@example.org`.
    pub orcpt: Option<&'a str>,
    /// RFC 3463 status, e.g. `5.1.1`.
    pub status: &'a str,
    /// The remote reply or our own reason.
    pub diagnostic: &'a str,
    /// `diagnostic` is an SMTP reply (Diagnostic-Code type `smtp`).
    pub remote: bool,
    /// The server that answered (Remote-MTA), if any.
    pub mta: &'a str,
}

/// Everything a notification says.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub action: Action,
    /// Reporting-MTA, the From: domain and the Message-ID domain.
    pub hostname: &'a str,
    pub queue_id: &'a str,
    /// The original envelope sender: the notification's recipient.
    pub to: &'a str,
    pub envid: Option<&'a str>,
    pub arrival: i64,
    pub now: i64,
    /// Delay notices: when retrying stops.
    pub retry_until: Option<i64>,
    pub recipients: Vec<ReportRcpt<'a>>,
    /// The original message as sent (no Return-Path).
    pub original: &'a [u8],
    /// Return the whole original (RET=FULL and small enough), else its
    /// header section.
    pub full: bool,
    /// MIME boundary; must not occur in the original (make it random).
    pub boundary: &'a str,
}

/// Keeps text safe for one header line: no CR/LF, bounded.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DIAGNOSTIC)
        .collect()
}

/// The header section of a message, blank line included.
pub fn header_section(message: &[u8]) -> &[u8] {
    &message[..crate::mime::header_len(message)]
}

fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 2 * 86_400 {
        format!("{} days", secs / 86_400)
    } else if secs >= 2 * 3600 {
        format!("{} hours", secs / 3600)
    } else if secs >= 120 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

/// The notification as stored: starting with `Return-Path: <>`, CRLF lines.
pub fn compose(r: &Report) -> Vec<u8> {
    let mut m = String::with_capacity(2048);
    let subject = match r.action {
        Action::Failed => "Undelivered Mail Returned to Sender",
        Action::Delayed => "Delayed Mail (still being retried)",
        Action::Relayed | Action::Delivered => "Successful Mail Delivery Report",
    };
    let _ = write!(
        m,
        "Return-Path: <>\r\n\
         Date: {date}\r\n\
         From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{qid}.{now}.{action}@{host}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{b}\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\
         \r\n\
         --{b}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Description: Notification\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         This is the mail system at host {host}.\r\n\r\n",
        date = crate::time::rfc5322(r.now),
        host = r.hostname,
        to = one_line(r.to),
        qid = r.queue_id,
        now = r.now,
        action = r.action.word(),
        b = r.boundary,
    );
    let returned = if r.full {
        "It is attached below."
    } else {
        "Its headers are attached below."
    };
    match r.action {
        Action::Failed => {
            let _ = write!(
                m,
                "I'm sorry to have to inform you that your message could not\r\n\
                 be delivered to one or more recipients. {returned}\r\n\r\n"
            );
        }
        Action::Delayed => {
            let _ = write!(
                m,
                "THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE.\r\n\r\n\
                 Your message could not be delivered for {}.\r\n\
                 It will be retried until it is {} old.\r\n\r\n",
                human_duration(r.now - r.arrival),
                human_duration(r.retry_until.unwrap_or(r.now) - r.arrival),
            );
        }
        Action::Relayed => {
            m.push_str(
                "Your message was passed on to a server that does not send\r\n\
                 delivery notifications, so this is the last notice you will get\r\n\
                 about it from the mail system.\r\n\r\n",
            );
        }
        Action::Delivered => {
            m.push_str(
                "Your message was successfully delivered to the destination(s)\r\n\
                 listed below.\r\n\r\n",
            );
        }
    }
    for rcpt in &r.recipients {
        let _ = write!(
            m,
            "<{}>: {}\r\n",
            one_line(rcpt.address),
            one_line(rcpt.diagnostic)
        );
    }
    delivery_status(&mut m, r);
    let (kind, part) = if r.full {
        ("message/rfc822", r.original)
    } else {
        ("text/rfc822-headers", header_section(r.original))
    };
    let encoding = if part.is_ascii() { "7bit" } else { "8bit" };
    let _ = write!(
        m,
        "\r\n--{b}\r\n\
         Content-Type: {kind}\r\n\
         Content-Description: {undelivered}{what}\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\
         \r\n",
        b = r.boundary,
        what = if r.full { "Message" } else { "Message Headers" },
        undelivered = match r.action {
            Action::Failed | Action::Delayed => "Undelivered ",
            Action::Relayed | Action::Delivered => "",
        },
    );
    let mut out = m.into_bytes();
    out.extend_from_slice(part);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("\r\n--{}--\r\n", r.boundary).as_bytes());
    out
}

/// The machine-readable part: RFC 3464 §2.2 per-message fields, then
/// §2.3 fields for each recipient.
fn delivery_status(m: &mut String, r: &Report) {
    let _ = write!(
        m,
        "\r\n--{b}\r\n\
         Content-Type: message/delivery-status\r\n\
         Content-Description: Delivery report\r\n\
         \r\n\
         Reporting-MTA: dns; {host}\r\n",
        b = r.boundary,
        host = r.hostname
    );
    if let Some(envid) = r.envid {
        let _ = write!(m, "Original-Envelope-Id: {}\r\n", one_line(envid));
    }
    let _ = write!(m, "Arrival-Date: {}\r\n", crate::time::rfc5322(r.arrival));
    for rcpt in &r.recipients {
        m.push_str("\r\n");
        if let Some(orcpt) = rcpt.orcpt {
            let _ = write!(m, "Original-Recipient: {}\r\n", one_line(orcpt));
        }
        let _ = write!(
            m,
            "Final-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {}\r\n",
            one_line(rcpt.address),
            r.action.word(),
            one_line(rcpt.status)
        );
        if !rcpt.mta.is_empty() {
            let _ = write!(m, "Remote-MTA: dns; {}\r\n", one_line(rcpt.mta));
        }
        let kind = if rcpt.remote { "smtp" } else { "X-smolmail" };
        let _ = write!(
            m,
            "Diagnostic-Code: {kind}; {}\r\nLast-Attempt-Date: {}\r\n",
            one_line(rcpt.diagnostic),
            crate::time::rfc5322(r.now)
        );
        if let Some(until) = r.retry_until {
            let _ = write!(m, "Will-Retry-Until: {}\r\n", crate::time::rfc5322(until));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report<'a>(action: Action, full: bool, original: &'a [u8]) -> Report<'a> {
        Report {
            action,
            hostname: "mail.home.arpa",
            queue_id: "ABC123",
            to: "alice@home.arpa",
            envid: Some("QQ314159"),
            arrival: 1_700_000_000,
            now: 1_700_014_400,
            retry_until: (action == Action::Delayed).then_some(1_700_432_000),
            recipients: vec![ReportRcpt {
                address: "bob@example.org",
                orcpt: Some("rfc822;Bob@example.org"),
                status: "5.1.1",
                diagnostic: "550 5.1.1 <bob@example.org>: no such user\r\nInjected: x",
                remote: true,
                mta: "mx.example.org",
            }],
            original,
            full,
            boundary: "b0undary",
        }
    }

    const ORIGINAL: &[u8] = b"From: alice@home.arpa\r\nSubject: hi\r\n\r\nsecret body\r\n";

    #[test]
    fn bounce_parses_as_multipart_report() {
        let bytes = compose(&report(Action::Failed, false, ORIGINAL));
        assert!(bytes.starts_with(b"Return-Path: <>\r\n"));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("\nInjected"), "diagnostic kept to one line");
        assert!(!text.contains("secret body"), "headers only by default");
        let parsed = mailparse::parse_mail(&bytes).unwrap();
        assert_eq!(parsed.ctype.mimetype, "multipart/report");
        assert_eq!(
            parsed.ctype.params.get("report-type").map(String::as_str),
            Some("delivery-status")
        );
        let kinds: Vec<&str> = parsed
            .subparts
            .iter()
            .map(|p| p.ctype.mimetype.as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "text/plain",
                "message/delivery-status",
                "text/rfc822-headers"
            ]
        );
        let status = String::from_utf8_lossy(parsed.subparts[1].get_body_raw().unwrap().as_slice())
            .into_owned();
        for field in [
            "Reporting-MTA: dns; mail.home.arpa",
            "Original-Envelope-Id: QQ314159",
            "Original-Recipient: rfc822;Bob@example.org",
            "Final-Recipient: rfc822; bob@example.org",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; mx.example.org",
            "Diagnostic-Code: smtp; 550 5.1.1",
        ] {
            assert!(status.contains(field), "{field} missing in {status}");
        }
        for line in bytes.split(|&b| b == b'\n') {
            assert!(line.len() < 1000);
        }
    }

    #[test]
    fn full_return_and_delay_notice() {
        let bytes = compose(&report(Action::Failed, true, ORIGINAL));
        let parsed = mailparse::parse_mail(&bytes).unwrap();
        assert_eq!(parsed.subparts[2].ctype.mimetype, "message/rfc822");
        assert!(String::from_utf8_lossy(&bytes).contains("secret body"));
        let bytes = compose(&report(Action::Delayed, false, ORIGINAL));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Action: delayed") && text.contains("Will-Retry-Until:"));
        assert!(
            text.contains("could not be delivered for 4 hours"),
            "{text}"
        );
        assert!(text.contains("retried until it is 5 days old"), "{text}");
        let bytes = compose(&report(Action::Relayed, false, b"Subject: x"));
        assert!(String::from_utf8_lossy(&bytes).contains("Action: relayed"));
        let bytes = compose(&report(Action::Delivered, false, b"Subject: x"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("Action: delivered") && text.contains("successfully delivered"));
        assert!(!text.contains("Undelivered"), "{text}");
    }
}
