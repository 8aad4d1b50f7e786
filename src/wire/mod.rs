//! Wire pieces that more than one room speaks, kept here because a
//! protocol room never imports another (DESIGN.md):
//!
//! - [`imap`]: what the IMAP server (`imap/`) and the fetcher's IMAP
//!   client (`fetch/`) both write and read;
//! - [`dot`]: dot-stuffing, for the SMTP client's DATA and POP3's RETR/TOP.

pub mod dot;
pub mod imap;
