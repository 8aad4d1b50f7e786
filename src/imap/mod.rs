//! The IMAP server (RFC 3501 IMAP4rev1) with the extensions mail clients
//! rely on: IDLE (RFC 2177), UIDPLUS (RFC 4315), MOVE (RFC 6851), LITERAL+
//! (RFC 7888), NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE (RFC 5161),
//! UNSELECT (RFC 3691), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154),
//! LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), CONDSTORE and QRESYNC
//! (RFC 7162), SASL-IR (RFC 4959).
//!
//! - [`parse`]: commands as pure functions over bytes (the wire pieces
//!   shared with the fetcher are in `imap_wire`);
//! - `session`: states, literals, login, IDLE; `mailboxes` and `messages`:
//!   the commands; `selected`: untagged updates of the selected mailbox;
//! - `render`, `section`, `search`, `list`: response syntax, BODY[section],
//!   SEARCH and LIST evaluation.

mod list;
mod mailboxes;
mod messages;
pub mod parse;
mod render;
mod search;
mod section;
mod selected;
mod session;

pub use session::session;
