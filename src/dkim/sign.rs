//! Making DKIM-Signature fields (RFC 6376 §5): relaxed/relaxed (§3.4.2 and
//! §3.4.4 survive the re-folding and trailing white space that relays
//! cause), the usual header set, From oversigned, `t=` and no `l=` or `x=`
//! (§8.2: `l=` lets anyone append to the body). Fields are folded under 78
//! characters a line (RFC 5322 §2.1.1), `b=` included.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::canon::{self, Canon};
use super::fields;
use super::keys::SigningKey;
use super::verify::signed_fields;

/// The fields signed when present (RFC 6376 §5.4.1's list, less the trace
/// and resent fields that relays add or change). Every instance of each is
/// signed.
/// Fields signed once more than they occur (§8.15): what a reader takes
/// as who sent the mail, to whom, about what and when, and how to read it.
const OVERSIGNED: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "mime-version",
    "content-type",
];

pub const SIGNED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "to",
    "cc",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-id",
    "content-description",
    "in-reply-to",
    "references",
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
];

/// One domain and selector signing with one key.
pub struct Signer<'a> {
    pub domain: &'a str,
    pub selector: &'a str,
    pub key: &'a SigningKey,
}

/// Folds `tokens` into field text: a token moves to a new line (CRLF TAB)
/// when it would pass 76 columns.
fn fold(line_len: &mut usize, out: &mut String, token: &str, space: bool) {
    if *line_len + token.len() + usize::from(space) > 76 && *line_len > 1 {
        out.push_str("\r\n\t");
        *line_len = 1;
    } else if space {
        out.push(' ');
        *line_len += 1;
    }
    out.push_str(token);
    *line_len += token.len();
}

/// The DKIM-Signature fields for `message` (the message as it will be
/// sent, without them), one per signer, to put on top of it, each ending
/// in CRLF. `Err` if the message has too many header fields to sign
/// (`super::MAX_FIELDS`) or no From field (§5.4: From MUST be signed).
pub fn sign(message: &[u8], signers: &[Signer<'_>], now: u64) -> Result<String, String> {
    let split = fields::split(message).map_err(|_| "too many header fields to sign")?;
    let count = |name: &str| {
        split
            .fields
            .iter()
            .filter(|f| {
                f.name
                    .trim_ascii_end()
                    .eq_ignore_ascii_case(name.as_bytes())
            })
            .count()
    };
    // Each present name as often as it occurs, and the fields a reader
    // trusts once more, so that one added later (a second From, a Reply-To
    // or Subject the sender left out) breaks the signature (§8.15,
    // "oversigning").
    let mut names: Vec<&str> = Vec::new();
    for &name in SIGNED_HEADERS {
        let n = count(name) + usize::from(OVERSIGNED.contains(&name));
        if name == "from" && n == 1 {
            return Err("no From field".into());
        }
        names.extend(std::iter::repeat_n(name, n));
    }
    let (bh, _) = canon::body_hash(Canon::Relaxed, split.body, None);
    let bh = STANDARD.encode(bh);
    let name_bytes: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    let mut signed = Vec::with_capacity(1024);
    signed_fields(&split.fields, &name_bytes, Canon::Relaxed, &mut signed);
    let mut out = String::new();
    for s in signers {
        let mut field = String::from("DKIM-Signature:");
        let mut col = field.len();
        let tags = [
            "v=1;".to_string(),
            format!("a={};", s.key.algorithm().name()),
            "c=relaxed/relaxed;".to_string(),
            format!("d={};", s.domain),
            format!("s={};", s.selector),
            format!("t={now};"),
        ];
        for t in &tags {
            fold(&mut col, &mut field, t, true);
        }
        for (i, n) in names.iter().enumerate() {
            let token = match (i, i + 1 == names.len()) {
                (0, true) => format!("h={n};"),
                (0, false) => format!("h={n}:"),
                (_, true) => format!("{n};"),
                (_, false) => format!("{n}:"),
            };
            fold(&mut col, &mut field, &token, i == 0);
        }
        fold(&mut col, &mut field, &format!("bh={bh};"), true);
        fold(&mut col, &mut field, "b=", true);
        // §3.7: the field as it will be, with an empty b=, signed last.
        let mut data = signed.clone();
        canon::header(Canon::Relaxed, field.as_bytes(), false, &mut data);
        let b = STANDARD.encode(s.key.sign(&data)?);
        let mut rest = b.as_str();
        while !rest.is_empty() {
            let room = 76usize.saturating_sub(col).max(1);
            if room < 8 {
                field.push_str("\r\n\t");
                col = 1;
                continue;
            }
            let take = room.min(rest.len());
            field.push_str(&rest[..take]);
            col += take;
            rest = &rest[take..];
        }
        field.push_str("\r\n");
        out.push_str(&field);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::{Algorithm, fields, keys, record, verify};

    const MESSAGE: &[u8] = b"From: Joe <joe@example.org>\r\nTo: a@example.net,\r\n  b@example.net\r\nSubject:  hello   there \r\nX-Other: not signed\r\n\r\nbody  \r\n\r\n";

    #[test]
    fn signatures_made_here_verify_here_and_are_folded() {
        let ed = keys::SigningKey::from_pkcs8(
            Algorithm::Ed25519Sha256,
            &keys::generate(Algorithm::Ed25519Sha256).unwrap(),
        )
        .unwrap();
        let signer = Signer {
            domain: "example.org",
            selector: "sel-ed25519",
            key: &ed,
        };
        let fields_text = sign(MESSAGE, &[signer], 1_700_000_000).unwrap();
        for line in fields_text.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
        let mut signed = fields_text.into_bytes();
        signed.extend_from_slice(MESSAGE);
        let split = fields::split(&signed).unwrap();
        let sigs = verify::signatures(&split);
        let (i, sig) = &sigs[0];
        let sig = sig.as_ref().unwrap();
        // Present fields as often as they occur, the oversigned ones once
        // more: absent ones (Sender, Reply-To, Date, Cc ...) once, so that
        // adding one later breaks the signature (§8.15).
        let names: Vec<&[u8]> = [
            "from",
            "from",
            "sender",
            "reply-to",
            "subject",
            "subject",
            "date",
            "to",
            "to",
            "cc",
            "mime-version",
            "content-type",
        ]
        .map(str::as_bytes)
        .to_vec();
        assert_eq!(sig.signed, names);
        let key = record::parse(ed.record().as_bytes()).unwrap();
        assert_eq!(verify::verify(&split, *i, sig, &key, 1_700_000_000), Ok(()));
        // Relaxed: re-folding and trailing white space do not break it.
        let refolded = String::from_utf8(signed.clone())
            .unwrap()
            .replace("hello   there", "hello\r\n there");
        let split = fields::split(refolded.as_bytes()).unwrap();
        let (i, sig) = &verify::signatures(&split)[0];
        assert_eq!(
            verify::verify(&split, *i, sig.as_ref().unwrap(), &key, 0),
            Ok(())
        );
    }

    #[test]
    fn rfc6376_5_4_no_from_no_signature() {
        let ed = keys::SigningKey::from_pkcs8(
            Algorithm::Ed25519Sha256,
            &keys::generate(Algorithm::Ed25519Sha256).unwrap(),
        )
        .unwrap();
        let s = Signer {
            domain: "example.org",
            selector: "s",
            key: &ed,
        };
        assert!(sign(b"Subject: x\r\n\r\nbody\r\n", &[s], 0).is_err());
    }
}
