//! Wire pieces that more than one room speaks, kept here because a
//! protocol room never imports another (DESIGN.md):
//!
//! - [`imap`]: what the IMAP server (`imap/`) and the fetcher's IMAP
//!   client (`fetch/`) both write and read.

pub mod imap;
