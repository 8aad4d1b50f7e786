//! Fuzzes the store encoding of message summaries (`mime::Summary::decode`)
//! on arbitrary bytes, as a corrupt or foreign record would be: the decoder
//! trusts none of them, and FETCH must not panic on whatever it returns.
//!
//! Checks:
//! - decoding never panics and returns no summary deeper than the MIME
//!   depth limit;
//! - a decoded summary encodes to bytes that decode to it again;
//! - its ENVELOPE and BODYSTRUCTURE render, and every section of its parts
//!   can be cut (empty or not) from a message the offsets do not describe.
//!
//! Input: the record bytes (they double as the message for the sections).

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolmail::mime::{self, Part, Summary};
use smolmail_fuzz::render_check;

fuzz_target!(|data: &[u8]| {
    let Some(summary) = Summary::decode(data) else {
        return;
    };
    assert!(
        depth(&summary.root) <= mime::MAX_DEPTH + 1,
        "decoded too deep"
    );
    let mut encoded = Vec::new();
    summary.encode(&mut encoded);
    assert_eq!(Summary::decode(&encoded).as_ref(), Some(&summary));
    render_check::render_any(&summary);
    render_check::check_sections(data, &summary, false, 1000);
});

fn depth(p: &Part) -> usize {
    let children = p.children.iter().map(depth).max().unwrap_or(0);
    let message = p.message.as_ref().map_or(0, |m| depth(&m.1));
    1 + children.max(message)
}
