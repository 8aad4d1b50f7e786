//! IMAP wire pieces that both ends of the protocol need: the server in
//! `imap/` and the fetcher's client in `fetch/`. Neither room imports the
//! other (DESIGN.md), so what they share lives here, as pure functions:
//!
//! - [`mutf7`]: modified UTF-7 mailbox names (RFC 3501 §5.1.3);
//! - [`quote`]: quoted strings and literals written, quoted strings and
//!   literal markers read (§4.3, §9);
//! - [`sequence`]: numbers written as a sequence-set (`1:3,7`, §9);
//! - [`datetime`]: `date` and `date-time` read and written (§9).

pub mod datetime;
pub mod mutf7;
pub mod quote;
pub mod sequence;
