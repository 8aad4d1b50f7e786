//! COMPRESS=DEFLATE (RFC 4978): the COMPRESS command. The deflate layer
//! itself is `net::Stream::Deflate`; here the session decides whether to
//! turn it on and pays for it.
//!
//! Compression costs each connection about 440 KiB for as long as it
//! lives (the compressor's window and tables), so the memory is taken
//! from the server's one budget (DESIGN.md "Budgets") before the OK: with
//! the budget spent the client is told NO and carries on uncompressed.

use super::session::{Flow, Session};
use crate::net::{DEFLATE_STATE_BYTES, Stream};

impl Session {
    /// COMPRESS (RFC 4978 §3). On OK, `run` flushes the OK uncompressed
    /// and then turns deflate on both ways.
    pub fn compress(&mut self, tag: &[u8], mechanism: &[u8], stream: &Stream) -> Flow {
        if !mechanism.eq_ignore_ascii_case(b"DEFLATE") {
            // §3: an unknown mechanism is an invalid argument.
            self.bad(tag, "Unknown compression mechanism");
            return Flow::Continue;
        }
        if stream.is_compressed() {
            // §3: a second COMPRESS is refused with this code.
            self.tagged(tag, "NO", "[COMPRESSIONACTIVE] DEFLATE active via COMPRESS");
            return Flow::Continue;
        }
        let Some(held) = self.budget().reserve(DEFLATE_STATE_BYTES) else {
            self.budget_spent(
                tag,
                "COMPRESS refused",
                "Not enough memory for compression now",
            );
            return Flow::Continue;
        };
        self.hold_compression(held);
        self.tagged(tag, "OK", "DEFLATE active");
        Flow::Compress
    }
}
