//! Helpers the fuzz targets share. Several targets check that a parser fed
//! its input in pieces gives what it gives for the whole input; [`chunks`]
//! turns a few leading bytes of the fuzz input into those piece sizes, so
//! libFuzzer explores the split points as it explores the bytes, and
//! [`reader`] hands the pieces to smolmail's session input buffer as an
//! async stream would. [`imap_value`] reads back the IMAP syntax smolmail
//! renders, to check it is well-formed and says what was meant.

pub mod chunks;
pub mod imap_value;
pub mod reader;
pub mod render_check;
