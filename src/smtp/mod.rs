//! The SMTP server: the MTA on port 25 (RFC 5321) and mail submission on
//! 587 with STARTTLS (RFC 6409, RFC 3207) and 465 with implicit TLS
//! (RFC 8314), with the extensions PIPELINING (RFC 2920), SIZE (RFC 1870),
//! 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034,
//! codes from RFC 3463), CHUNKING (RFC 3030), DSN (RFC 3461) and AUTH
//! (RFC 4954).
//!
//! - [`command`]: command lines and parameters, pure functions over bytes;
//! - [`data`]: the DATA stream decoder (the SMTP smuggling defence);
//! - [`policy`]: recipient routing, relay control, sender ownership;
//! - [`submission_headers`]: the Date and Message-ID a submission gets;
//! - `delivered`: the NOTIFY=SUCCESS notice for local recipients;
//! - `session`: the conversation and its commands; `transfer`: DATA and
//!   BDAT, trace headers, delivery into the store.

pub mod command;
pub mod data;
mod delivered;
pub mod policy;
mod session;
pub mod submission_headers;
mod transfer;

pub use session::session;
