//! The ESEARCH response (RFC 4731 §3.2) to `SEARCH RETURN (...)` and, in
//! sort order, to `SORT RETURN (...)` (ESORT, RFC 5267 §3.2):
//! `* ESEARCH (TAG "a1") UID MIN 2 MAX 9 COUNT 3 ALL 2,4,9`.
//!
//! For SEARCH the numbers are ascending. For SORT the ALL set keeps the
//! sort order (runs are merged only when they ascend by one), and MIN and
//! MAX are the first and last message in that order. PARTIAL (RFC 9394
//! §3.1) returns one window of that order by position.

use super::parse::{SearchReturn, Window};

/// The untagged ESEARCH line for `numbers` (in result order). Nothing
/// matched: only COUNT 0, when asked (§3.1: MIN, MAX and ALL are left out).
pub fn response(
    tag: &[u8],
    uid: bool,
    ret: SearchReturn,
    numbers: &[u32],
    modseq: Option<u64>,
) -> String {
    let mut line = format!("* ESEARCH (TAG \"{}\")", String::from_utf8_lossy(tag));
    if uid {
        line.push_str(" UID");
    }
    if let (Some(first), Some(last)) = (numbers.first(), numbers.last()) {
        if ret.min {
            line.push_str(&format!(" MIN {first}"));
        }
        if ret.max {
            line.push_str(&format!(" MAX {last}"));
        }
    }
    // Dovecot's order (RFC 4731 leaves it open): ALL before COUNT.
    if ret.all && !numbers.is_empty() {
        line.push_str(" ALL ");
        line.push_str(&ordered_set(numbers));
    }
    if let Some(w) = ret.partial {
        let picked = window(numbers, w);
        let range = match w.from_end {
            true => format!("-{}:-{}", w.first, w.last),
            false => format!("{}:{}", w.first, w.last),
        };
        let set = match picked.is_empty() {
            true => "NIL".to_string(),
            false => ordered_set(picked),
        };
        line.push_str(&format!(" PARTIAL ({range} {set})"));
    }
    if ret.count {
        line.push_str(&format!(" COUNT {}", numbers.len()));
    }
    // RFC 7162 §3.1.5: the highest MODSEQ of what matched.
    if let Some(highest) = modseq
        && !numbers.is_empty()
    {
        line.push_str(&format!(" MODSEQ {highest}"));
    }
    line.push_str("\r\n");
    line
}

/// The results at the window's positions, in result order.
/// The results at the window's positions (RFC 9394 §3.1); also the
/// messages a PARTIAL FETCH modifier keeps (§3.3).
pub(super) fn window<T>(numbers: &[T], w: Window) -> &[T] {
    let len = numbers.len();
    let (first, last) = (w.first as usize, w.last as usize);
    let (start, end) = match w.from_end {
        false => (first - 1, last.min(len)),
        true => (len.saturating_sub(last), len.saturating_sub(first - 1)),
    };
    numbers.get(start..end.max(start)).unwrap_or_default()
}

/// `numbers` as a sequence-set in the order given: `a:b` only for runs
/// that ascend by one, so a sorted result keeps its order.
pub fn ordered_set(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && end.checked_add(1) == Some(numbers[i + 1]) {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        match start == end {
            true => out.push_str(&start.to_string()),
            false => out.push_str(&format!("{start}:{end}")),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4731_3_2_esearch_answers_the_options_asked() {
        let all = SearchReturn {
            min: true,
            max: true,
            count: true,
            all: true,
            ..SearchReturn::default()
        };
        assert_eq!(
            response(b"A282", false, all, &[2, 10, 11, 12, 14], None),
            "* ESEARCH (TAG \"A282\") MIN 2 MAX 14 ALL 2,10:12,14 COUNT 5\r\n"
        );
        let count = SearchReturn {
            count: true,
            ..SearchReturn::default()
        };
        assert_eq!(
            response(b"t", true, all, &[], None),
            "* ESEARCH (TAG \"t\") UID COUNT 0\r\n"
        );
        assert_eq!(
            response(b"t", true, count, &[5], Some(9)),
            "* ESEARCH (TAG \"t\") UID COUNT 1 MODSEQ 9\r\n"
        );
    }

    #[test]
    fn rfc9394_3_1_partial_returns_a_window_by_position() {
        let partial = |from_end, first, last| SearchReturn {
            partial: Some(Window {
                from_end,
                first,
                last,
            }),
            ..SearchReturn::default()
        };
        let found = [3, 4, 5, 9, 10, 20];
        assert_eq!(
            response(b"t", true, partial(false, 2, 4), &found, None),
            "* ESEARCH (TAG \"t\") UID PARTIAL (2:4 4:5,9)\r\n"
        );
        assert_eq!(
            response(b"t", false, partial(true, 1, 2), &found, None),
            "* ESEARCH (TAG \"t\") PARTIAL (-1:-2 10,20)\r\n"
        );
        assert_eq!(
            response(b"t", false, partial(false, 7, 100), &found, None),
            "* ESEARCH (TAG \"t\") PARTIAL (7:100 NIL)\r\n"
        );
        assert_eq!(
            response(b"t", false, partial(true, 5, 100), &found, None),
            "* ESEARCH (TAG \"t\") PARTIAL (-5:-100 3:4)\r\n"
        );
    }

    #[test]
    fn rfc5267_3_2_sorted_sets_keep_their_order() {
        assert_eq!(ordered_set(&[5, 6, 7, 1, 2, 9, 3]), "5:7,1:2,9,3");
        assert_eq!(ordered_set(&[3, 2, 1]), "3,2,1");
        assert_eq!(ordered_set(&[u32::MAX, 1]), "4294967295,1");
    }
}
