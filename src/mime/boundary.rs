//! Finding the delimiter lines of multiparts (RFC 2046 §5.1.1), the way
//! Dovecot and UW c-client do: a line is a delimiter when it *starts* with
//! `--boundary` of any multipart still open, the innermost tried first.
//!
//! Trying the innermost boundary first is what keeps a nested multipart
//! whose boundary extends (or repeats) its parent's from losing parts; and
//! since an outer delimiter also ends every part inside it, a nested
//! multipart that never closes cannot swallow the rest of its parent.

/// What a delimiter line does to the part before it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// `--boundary`: another body part follows.
    Next,
    /// `--boundary--`: the multipart's last part has ended.
    Close,
}

/// A delimiter line found by a scan.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hit {
    /// Which open multipart it belongs to: an index into the stack, 0 the
    /// outermost.
    pub level: usize,
    pub kind: Kind,
    /// Where the line starts.
    pub line: usize,
    /// Just after the line's LF (or the end of the message).
    pub next: usize,
}

/// Classifies `line` (without its LF) against the open boundaries,
/// innermost (last) first.
fn classify(line: &[u8], open: &[Vec<u8>]) -> Option<(usize, Kind)> {
    let after_dashes = line.strip_prefix(b"--")?;
    open.iter().enumerate().rev().find_map(|(level, boundary)| {
        let rest = after_dashes.strip_prefix(boundary.as_slice())?;
        let kind = if rest.starts_with(b"--") {
            Kind::Close
        } else {
            Kind::Next
        };
        Some((level, kind))
    })
}

/// The first delimiter line of any `open` boundary at or after `from`
/// (which must be a line start), searching up to the end of `raw`.
/// Linear in the bytes scanned times the number of open boundaries.
pub(super) fn find(raw: &[u8], from: usize, open: &[Vec<u8>]) -> Option<Hit> {
    if open.is_empty() {
        return None;
    }
    let mut line = from;
    while line < raw.len() {
        let rest = raw.get(line..).unwrap_or_default();
        let (text, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (rest.get(..lf).unwrap_or_default(), line + lf + 1),
            None => (rest, raw.len()),
        };
        if let Some((level, kind)) = classify(text, open) {
            return Some(Hit {
                level,
                kind,
                line,
                next,
            });
        }
        line = next;
    }
    None
}

/// Where the header block starting at `start` ends: after the first empty
/// line (RFC 5322 §2.1; CRLF or a bare LF), or at a delimiter line of an
/// open multipart, which ends the part even inside its header. Returns the
/// header's end (= body start) and the delimiter, if one cut it short.
pub(super) fn header_end(raw: &[u8], start: usize, open: &[Vec<u8>]) -> (usize, Option<Hit>) {
    let mut line = start;
    while line < raw.len() {
        let rest = raw.get(line..).unwrap_or_default();
        let (text, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (rest.get(..lf).unwrap_or_default(), line + lf + 1),
            None => (rest, raw.len()),
        };
        if text.is_empty() || text == b"\r" {
            return (next, None);
        }
        if let Some((level, kind)) = classify(text, open) {
            return (
                line,
                Some(Hit {
                    level,
                    kind,
                    line,
                    next,
                }),
            );
        }
        line = next;
    }
    (raw.len(), None)
}

/// `at` moved back over the CRLF or LF just before it, not below `floor`:
/// the line break before a delimiter belongs to the delimiter.
pub(super) fn strip_line_break(raw: &[u8], floor: usize, mut at: usize) -> usize {
    if at > floor && raw.get(at - 1) == Some(&b'\n') {
        at -= 1;
        if at > floor && raw.get(at - 1) == Some(&b'\r') {
            at -= 1;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2046_5_1_1_innermost_boundary_first_and_prefix_match() {
        let raw = b"x\r\n--bcd\r\n--b\r\n--bc--\r\n";
        let open = [b"b".to_vec(), b"bc".to_vec()];
        let hit = find(raw, 0, &open).unwrap();
        assert_eq!((hit.level, hit.kind, hit.line), (1, Kind::Next, 3));
        let hit = find(raw, hit.next, &open).unwrap();
        assert_eq!((hit.level, hit.kind), (0, Kind::Next));
        let hit = find(raw, hit.next, &open).unwrap();
        assert_eq!((hit.level, hit.kind), (1, Kind::Close));
        assert!(find(raw, 0, &[]).is_none());
    }

    #[test]
    fn header_ends_at_blank_line_or_delimiter() {
        let open = [b"b".to_vec()];
        assert_eq!(header_end(b"A: 1\r\n\r\nbody", 0, &open).0, 8);
        let (end, hit) = header_end(b"A: 1\r\n--b\r\nB: 2\r\n\r\n", 0, &open);
        assert_eq!((end, hit.unwrap().next), (6, 11));
        let (end, hit) = header_end(b"A: 1", 0, &open);
        assert!(end == 4 && hit.is_none());
    }
}
