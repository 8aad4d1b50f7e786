//! The IMAP server (RFC 3501 IMAP4rev1) with the extensions mail clients
//! rely on: IDLE (RFC 2177), UIDPLUS (RFC 4315), MOVE (RFC 6851), LITERAL+
//! (RFC 7888), NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE (RFC 5161),
//! UNSELECT (RFC 3691), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154),
//! LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), CONDSTORE and QRESYNC
//! (RFC 7162), SASL-IR (RFC 4959), APPENDLIMIT (RFC 7889), QUOTA
//! (RFC 9208), STATUS=SIZE (RFC 8438), CREATE-SPECIAL-USE (RFC 6154 §3),
//! OBJECTID (RFC 8474), MULTIAPPEND (RFC 3502), PREVIEW (RFC 8970),
//! UTF8=ACCEPT (RFC 6855), COMPRESS=DEFLATE (RFC 4978, `compress`),
//! BINARY (RFC 3516, `binary`), SEARCHRES (RFC 5182, `searchres`), and
//! IMAP4rev2 (RFC 9051) for sessions that enable it (`rev2`).
//!
//! - [`parse`]: commands as pure functions over bytes (the wire pieces
//!   shared with the fetcher are in `wire::imap`);
//! - `session`: the connection, its state (private; handlers use its
//!   methods), literals, STARTTLS, ENABLE, IDLE; `login`: LOGIN and
//!   AUTHENTICATE;
//! - `dispatch`: which command is allowed in which state, and its handler;
//! - `mailboxes`, `fetch`, `messages`: the commands on mailboxes, FETCH,
//!   and the other message commands; `selected`: the selected mailbox and
//!   its untagged updates; `quota`: APPEND/COPY refused past the
//!   account's quota, and the QUOTA commands; `status`: STATUS items;
//! - `render`, `section`, `search`, `list`: response syntax, BODY[section],
//!   SEARCH and LIST evaluation (render, section and search are public so
//!   that the fuzz targets reach them).
//! - `sort`, `thread`, `thread_algo`, `esearch`: SORT and SORT=DISPLAY
//!   (RFC 5256, 5957), THREAD (RFC 5256), ESEARCH and ESORT (RFC 4731,
//!   5267) over keys stored at delivery; `context_update`: CONTEXT=SEARCH
//!   and CONTEXT=SORT (RFC 5267 §4), results kept live.

mod binary;
mod catenate;
mod compress;
mod context_update;
mod dispatch;
mod esearch;
mod fetch;
mod id_hash;
mod list;
mod login;
mod mailboxes;
mod messages;
mod multiappend;
mod objectid;
pub mod parse;
mod preview;
mod quota;
pub mod render;
mod rev2;
pub mod search;
mod search_text;
mod searchres;
pub mod section;
mod selected;
mod session;
mod sort;
mod status;
mod thread;
pub mod thread_algo;
#[cfg(test)]
mod thread_tests;

pub use session::session;
