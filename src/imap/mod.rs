//! The IMAP server (RFC 3501 IMAP4rev1) with the extensions mail clients
//! rely on: IDLE (RFC 2177), UIDPLUS (RFC 4315), MOVE (RFC 6851), LITERAL+
//! (RFC 7888), NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE (RFC 5161),
//! UNSELECT (RFC 3691), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154),
//! LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), CONDSTORE and QRESYNC
//! (RFC 7162), SASL-IR (RFC 4959).
//!
//! - [`parse`]: commands as pure functions over bytes; [`mutf7`]: names;
//! - `session`: states, literals, login, IDLE; `mailboxes` and `messages`:
//!   the commands; `selected`: untagged updates of the selected mailbox;
//! - [`render`], [`section`], [`search`], `list`: response syntax,
//!   BODY[section], SEARCH and LIST evaluation (the first three public so
//!   that the fuzz targets reach them).

mod list;
mod mailboxes;
mod messages;
pub mod mutf7;
pub mod parse;
pub mod render;
pub mod search;
pub mod section;
mod selected;
mod session;

pub use session::session;
