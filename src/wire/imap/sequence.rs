//! Numbers written as an RFC 3501 §9 sequence-set: runs of consecutive
//! numbers as `a:b`, the rest one by one (`1:3,7,9:10`). The server sends
//! sets in VANISHED and response codes (RFC 7162, RFC 4315); the fetcher
//! sends them in UID FETCH. Reading a set is the server parser's business
//! (`imap::parse`), since only the server reads them.

/// `numbers` as a sequence-set, in ascending order with duplicates
/// dropped; empty for no numbers (which no command accepts: callers send
/// a set only when they have one).
pub fn sequence_set(numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut rest = sorted.as_slice();
    while let Some(&start) = rest.first() {
        // The run: as long as each number is one more than the last.
        let run = rest
            .windows(2)
            .take_while(|w| w[0].checked_add(1) == Some(w[1]))
            .count();
        let end = rest[run];
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        rest = &rest[run + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_singles() {
        assert_eq!(sequence_set(&[]), "");
        assert_eq!(sequence_set(&[5]), "5");
        assert_eq!(sequence_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    }

    #[test]
    fn unsorted_and_repeated_input() {
        assert_eq!(sequence_set(&[10, 9, 1, 3, 2, 3, 7, 1]), "1:3,7,9:10");
    }

    #[test]
    fn the_top_of_the_range() {
        assert_eq!(
            sequence_set(&[u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
        assert_eq!(sequence_set(&[1, u32::MAX]), format!("1,{}", u32::MAX));
    }
}
