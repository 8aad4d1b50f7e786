//! Wire pieces that more than one room speaks, kept here because a
//! protocol room never imports another (DESIGN.md):
//!
//! - [`imap`]: what the IMAP server (`imap/`) and the fetcher's IMAP
//!   client (`fetch/`) both write and read;
//! - [`dot`]: dot-stuffing, for the SMTP client's DATA and POP3's RETR/TOP;
//! - [`mta_sts`]: MTA-STS records and policies (RFC 8461), served by `http`
//!   and obeyed by `delivery`;
//! - [`tlsa`]: TLSA records for DANE (RFC 6698, RFC 7672).

pub mod dot;
pub mod imap;
pub mod mta_sts;
pub mod tlsa;
