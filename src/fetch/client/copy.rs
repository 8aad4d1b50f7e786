//! The commands `smolmail import imap` adds to the fetcher's read-only
//! session: LIST (RFC 3501 §6.3.8, with RFC 6154 §5.1's `RETURN
//! (SPECIAL-USE)` when offered) and LSUB (§6.3.9) to walk the account's
//! folders, and UID FETCH read one message at a time (§6.4.8), so that
//! the caller can store each message before the next leaves the socket:
//! one message in memory, whatever the size of the folder.
//!
//! Like the rest of the session these only read; bodies come with
//! BODY.PEEK[] (§6.4.5), which leaves \Seen as it was.

use std::borrow::Cow;

use super::{Body, Error, Session};
use crate::fetch::response::{Kind, Response, Untagged};
use crate::wire::imap::mutf7;

/// Most folders a LIST may return; an account with more is refused
/// rather than held in memory without bound.
pub const MAX_FOLDERS: usize = 10_000;

/// The items of a message copy: identity, size, date, flags and bytes.
const ITEMS: &str = "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])";

/// One folder as LIST named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The name in UTF-8 (modified UTF-7 decoded, §5.1.3).
    pub name: String,
    pub delimiter: Option<u8>,
    /// Attributes as sent (`\Noselect`, `\Sent`, ...).
    pub attributes: Vec<String>,
}

impl Folder {
    /// Whether attribute `name` (with its `\`) is set, in any case.
    pub fn has(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// A UID FETCH under way (see [`Session::fetch_start`]).
pub struct Fetching {
    tag: String,
    bye: Option<String>,
    done: bool,
}

impl Session {
    /// Every folder of the account: `LIST "" "*"`, with the special-use
    /// attributes asked for (RFC 6154 §5.1, a LIST-EXTENDED return
    /// option, RFC 5258) when the server has both; servers send them in a
    /// plain LIST anyway, Dovecot and Gmail among them. Names that are not
    /// valid modified UTF-7 are skipped with a warning: they could not be
    /// opened again by name.
    pub async fn list_folders(&mut self) -> Result<Vec<Folder>, Error> {
        let args = if self.has("SPECIAL-USE") && self.has("LIST-EXTENDED") {
            "\"\" \"*\" RETURN (SPECIAL-USE)"
        } else {
            "\"\" \"*\""
        };
        self.listing("LIST", args).await
    }

    /// The subscribed folders (`LSUB "" "*"`, §6.3.9).
    pub async fn subscribed(&mut self) -> Result<Vec<Folder>, Error> {
        self.listing("LSUB", "\"\" \"*\"").await
    }

    async fn listing(&mut self, verb: &str, args: &str) -> Result<Vec<Folder>, Error> {
        let mut folders: Vec<Folder> = Vec::new();
        let mut too_many = false;
        let label = self.label.clone();
        let args = [crate::fetch::command::Arg::Inline(args.to_string())];
        self.run(verb, verb, &args, |u| {
            let Untagged::List(l) = u else {
                return Ok(());
            };
            if folders.len() >= MAX_FOLDERS {
                too_many = true;
                return Ok(());
            }
            match decode_name(&l.name) {
                Some(name) => folders.push(Folder {
                    name,
                    delimiter: l.delimiter,
                    attributes: l.attributes.iter().map(|a| a.to_string()).collect(),
                }),
                None => log::warn!(
                    "import: {label}: {verb} gave the name {:?}, which is not modified UTF-7; skipped",
                    String::from_utf8_lossy(&l.name)
                ),
            }
            Ok(())
        })
        .await?;
        if too_many {
            return Err(self.error(format_args!("{verb} gave more than {MAX_FOLDERS} folders")));
        }
        Ok(folders)
    }

    /// Sends `UID FETCH set (UID RFC822.SIZE INTERNALDATE FLAGS
    /// BODY.PEEK[])`; [`Session::fetch_next`] then reads the messages.
    pub async fn fetch_start(&mut self, set: &str) -> Result<Fetching, Error> {
        let tag = self.next_tag();
        self.send(format!("{tag} UID FETCH {set} {ITEMS}\r\n").as_bytes())
            .await?;
        Ok(Fetching {
            tag,
            bye: None,
            done: false,
        })
    }

    /// The next message of a [`Session::fetch_start`], or `None` after the
    /// command's OK. A large message is moved out of the read buffer, not
    /// copied; nothing past it is read until it is asked for.
    pub async fn fetch_next(&mut self, f: &mut Fetching) -> Result<Option<Body>, Error> {
        if f.done {
            return Ok(None);
        }
        loop {
            self.next_answer(f.bye.as_deref()).await?;
            let base = self.buf.as_ptr() as usize;
            let found = match self.response()? {
                Response::Tagged { tag, status } if tag == f.tag => {
                    f.done = true;
                    return match status.kind {
                        Kind::Ok => Ok(None),
                        _ => Err(self.error(format_args!("UID FETCH refused: {}", status.text))),
                    };
                }
                Response::Untagged(Untagged::Status(s)) if s.kind == Kind::Bye => {
                    f.bye = Some(s.text.to_string());
                    None
                }
                // Unsolicited FETCH responses (flag changes) carry no body.
                Response::Untagged(Untagged::Fetch(_, d)) => match (d.uid, d.body) {
                    (Some(uid), Some(body)) => {
                        let place = match body {
                            // Where the literal lies in the buffer.
                            Cow::Borrowed(b) => Ok((b.as_ptr() as usize - base, b.len())),
                            Cow::Owned(v) => Err(v),
                        };
                        let flags: Vec<String> = d
                            .flags
                            .unwrap_or_default()
                            .iter()
                            .map(|f| f.to_string())
                            .collect();
                        Some((uid, d.size, d.internal_date, flags, place))
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some((uid, size, internal_date, flags, place)) = found {
                let bytes = match place {
                    Ok((start, len)) => self.take(start, len),
                    Err(owned) => owned,
                };
                return Ok(Some(Body {
                    uid,
                    size,
                    internal_date,
                    flags,
                    bytes,
                }));
            }
        }
    }
}

/// A wire name in UTF-8 when it is canonical modified UTF-7, so that
/// encoding it again (as EXAMINE does) gives back the same bytes.
fn decode_name(wire: &[u8]) -> Option<String> {
    if wire.eq_ignore_ascii_case(b"INBOX") {
        return Some("INBOX".into());
    }
    let name = mutf7::decode(wire).ok()?;
    (mutf7::encode(&name).as_bytes() == wire).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::decode_name;

    #[test]
    fn names_decode_only_when_they_encode_back() {
        assert_eq!(decode_name(b"inbox").as_deref(), Some("INBOX"));
        assert_eq!(decode_name(b"Entw&APw-rfe").as_deref(), Some("Entwürfe"));
        assert_eq!(decode_name(b"A &- B").as_deref(), Some("A & B"));
        assert_eq!(decode_name("Entwürfe".as_bytes()), None);
        assert_eq!(decode_name(b"bad &"), None);
    }
}
