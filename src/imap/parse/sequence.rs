//! Message sets: RFC 3501 §9 sequence-set (with §6.4.8 on UID ranges),
//! used for both message sequence numbers and UIDs.
//!
//! A set is kept as written, with `*` unresolved, because its meaning
//! depends on the mailbox at the moment the command runs: `*` is the
//! highest sequence number or UID then.
//!
//! `$` (RFC 5182 §2.1, RFC 9051 §9 seq-last-command) stands for the last
//! saved search result; it is parsed into [`SequenceSet::saved`], which
//! the session replaces with the saved messages before the command runs
//! (`imap::searchres`).

use super::MAX_SEQUENCE_RANGES;
use super::lexer::{Lexer, PResult};

/// One end of a range: a number (never 0) or `*`, "the largest number in
/// use".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqBound {
    Num(u32),
    Star,
}

impl SeqBound {
    /// The number this bound stands for when `*` means `star`.
    pub fn resolve(self, star: u32) -> u32 {
        match self {
            SeqBound::Num(n) => n,
            SeqBound::Star => star,
        }
    }
}

/// A sequence set as written: each element a range `(a, b)`, a single
/// number being `(n, n)`. A range may be written in either order
/// (`4:2` is `2:4`, RFC 3501 §9 seq-range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<(SeqBound, SeqBound)>);

impl SequenceSet {
    /// The `$` marker: one range 0:0, which no parsed set can hold (0 is
    /// never a sequence number or UID), so an unreplaced marker names no
    /// message.
    pub fn saved() -> SequenceSet {
        SequenceSet(vec![(SeqBound::Num(0), SeqBound::Num(0))])
    }

    /// Whether this is the `$` marker of [`SequenceSet::saved`].
    pub fn is_saved(&self) -> bool {
        self.0 == [(SeqBound::Num(0), SeqBound::Num(0))]
    }

    /// The ranges with `*` replaced by `star`, each as `(low, high)`.
    ///
    /// For UIDs `star` is the highest UID in the mailbox, and RFC 3501
    /// §6.4.8 wants `559:*` to include it even when it is below 559; the
    /// ordering done here gives exactly that.
    pub fn ranges(&self, star: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.0.iter().map(move |&(a, b)| {
            let (a, b) = (a.resolve(star), b.resolve(star));
            (a.min(b), a.max(b))
        })
    }

    /// Whether `n` is in the set, `*` meaning `star`.
    pub fn contains(&self, n: u32, star: u32) -> bool {
        self.ranges(star).any(|(lo, hi)| lo <= n && n <= hi)
    }

    /// The highest number the set names, `*` meaning `star`; sessions use
    /// it to answer a sequence number beyond the mailbox with BAD
    /// (RFC 3501 §9, seq-number).
    pub fn highest(&self, star: u32) -> u32 {
        self.ranges(star).map(|(_, hi)| hi).max().unwrap_or(0)
    }

    /// The set resolved against `star` (the value of `*`), sorted, with
    /// overlapping and adjacent ranges merged: made once per command in
    /// O(r log r), it then answers [`Ranges::contains`] in O(log r), so
    /// checking a whole mailbox against a set of many ranges costs
    /// messages × log(ranges), not messages × ranges.
    pub fn resolve(&self, star: u32) -> Ranges {
        let mut v: Vec<(u32, u32)> = self.ranges(star).collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Ranges(out)
    }

    /// The set resolved against `max` (the value of `*`) and clipped to
    /// `1..=max`: sorted, with overlapping and adjacent ranges merged, so
    /// that each number appears once.
    pub fn normalized(&self, max: u32) -> Vec<(u32, u32)> {
        self.resolve(max)
            .0
            .into_iter()
            .filter_map(|(lo, hi)| {
                let (lo, hi) = (lo.max(1), hi.min(max));
                (lo <= hi).then_some((lo, hi))
            })
            .collect()
    }

    /// Every number of the set within `1..=max`, ascending, each once
    /// (`*` meaning `max`).
    pub fn iter(&self, max: u32) -> impl Iterator<Item = u32> {
        self.normalized(max)
            .into_iter()
            .flat_map(|(lo, hi)| lo..=hi)
    }
}

/// A sequence set resolved against one value of `*`
/// ([`SequenceSet::resolve`]): sorted, disjoint, non-adjacent ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    /// Whether `n` is in the set (what [`SequenceSet::contains`] says for
    /// the same `*`), by binary search.
    pub fn contains(&self, n: u32) -> bool {
        let after = self.0.partition_point(|&(lo, _)| lo <= n);
        after > 0 && self.0[after - 1].1 >= n
    }

    /// The numbers of `sorted` (ascending) that are in the set, with
    /// their indexes, in one merge-like walk: O(numbers + ranges).
    pub fn pick<'s>(&'s self, sorted: &'s [u32]) -> impl Iterator<Item = (usize, u32)> + 's {
        let mut range = 0;
        sorted.iter().copied().enumerate().filter(move |&(_, n)| {
            while self.0.get(range).is_some_and(|&(_, hi)| hi < n) {
                range += 1;
            }
            self.0.get(range).is_some_and(|&(lo, _)| lo <= n)
        })
    }
}

/// Parses RFC 3501 §9 sequence-set. `allow_star` is false where the
/// grammar forbids `*`, as in RFC 7162 §3.2.5's known-uids and
/// seq-match-data.
///
/// Where `*` is allowed, so is `$` on its own (RFC 5182 §2.1: it is a
/// whole sequence-set, never one element of a list).
pub(super) fn parse(lex: &mut Lexer<'_>, allow_star: bool) -> PResult<SequenceSet> {
    if allow_star && lex.eat(b'$') {
        return Ok(SequenceSet::saved());
    }
    let mut ranges = Vec::new();
    loop {
        if ranges.len() >= MAX_SEQUENCE_RANGES {
            return Err("sequence set too long");
        }
        let a = bound(lex, allow_star)?;
        let b = if lex.eat(b':') {
            bound(lex, allow_star)?
        } else {
            a
        };
        ranges.push((a, b));
        if !lex.eat(b',') {
            return Ok(SequenceSet(ranges));
        }
    }
}

/// RFC 3501 §9 seq-number: nz-number or `*`.
fn bound(lex: &mut Lexer<'_>, allow_star: bool) -> PResult<SeqBound> {
    if lex.eat(b'*') {
        return if allow_star {
            Ok(SeqBound::Star)
        } else {
            Err("'*' is not allowed here")
        };
    }
    match lex.number() {
        Ok(0) => Err("0 is not a valid sequence number"),
        Ok(n) => Ok(SeqBound::Num(n)),
        Err(_) => Err("bad sequence set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> PResult<SequenceSet> {
        let mut lex = Lexer::new(s.as_bytes());
        let r = parse(&mut lex, true)?;
        if lex.at_end() { Ok(r) } else { Err("trailing") }
    }

    use SeqBound::{Num, Star};

    #[test]
    fn parses_forms() {
        assert_eq!(set("1").unwrap().0, vec![(Num(1), Num(1))]);
        assert_eq!(set("*").unwrap().0, vec![(Star, Star)]);
        assert_eq!(
            set("2:4,7,9:*").unwrap().0,
            vec![(Num(2), Num(4)), (Num(7), Num(7)), (Num(9), Star)]
        );
        assert_eq!(set("4:2").unwrap().0, vec![(Num(4), Num(2))]);
        assert_eq!(set("*:4").unwrap().0, vec![(Star, Num(4))]);
        assert_eq!(
            set("4294967295").unwrap().0,
            vec![(Num(u32::MAX), Num(u32::MAX))]
        );
    }

    #[test]
    fn rejects_bad_sets() {
        for bad in [
            "",
            "0",
            "1:0",
            "0:*",
            ",",
            "1,",
            "1:",
            ":1",
            "1::2",
            "a",
            "4294967296",
            "1 2",
        ] {
            assert!(set(bad).is_err(), "{bad:?}");
        }
        let mut lex = Lexer::new(b"1:*");
        assert!(parse(&mut lex, false).is_err());
        for bad in ["$,1", "1,$", "$:2"] {
            assert!(set(bad).is_err(), "{bad:?}");
        }
        let mut lex = Lexer::new(b"$");
        assert!(parse(&mut lex, false).is_err());
    }

    #[test]
    fn rfc5182_2_1_dollar_is_the_saved_marker() {
        let s = set("$").unwrap();
        assert!(s.is_saved());
        assert!(!set("1").unwrap().is_saved());
        // Left unreplaced, it names nothing.
        assert_eq!(s.iter(10).count(), 0);
        assert!(!s.contains(1, 10));
    }

    #[test]
    fn contains_and_star() {
        let s = set("2:4,9:*").unwrap();
        assert!(!s.contains(1, 20));
        assert!(s.contains(3, 20));
        assert!(!s.contains(5, 20));
        assert!(s.contains(20, 20));
        assert!(!s.contains(21, 20));
        // RFC 3501 §6.4.8: 559:* includes the last UID even when lower.
        let s = set("559:*").unwrap();
        assert!(s.contains(500, 500));
        assert!(!s.contains(499, 500));
        assert_eq!(s.highest(500), 559);
    }

    #[test]
    fn many_ranges_against_many_numbers_in_linear_time() {
        // 100 000 ranges against 200 000 numbers: checking each number
        // against each range would be 2·10¹⁰ steps.
        let n = 100_000u32;
        let text: Vec<String> = (1..=n).rev().map(|i| (i * 2).to_string()).collect();
        let s = set(&text.join(",")).unwrap();
        let ranges = s.resolve(2 * n);
        let all: Vec<u32> = (1..=2 * n).collect();
        assert_eq!(ranges.pick(&all).count(), n as usize);
        assert_eq!(
            all.iter().filter(|&&u| ranges.contains(u)).count(),
            n as usize
        );
    }

    #[test]
    fn normalizes() {
        let s = set("7,1:3,2,4,10:*,*").unwrap();
        assert_eq!(s.normalized(12), vec![(1, 4), (7, 7), (10, 12)]);
        assert_eq!(
            s.iter(12).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 7, 10, 11, 12]
        );
        // Clipped to the mailbox; an empty mailbox yields nothing.
        assert_eq!(set("5:100").unwrap().normalized(8), vec![(5, 8)]);
        assert_eq!(set("1:*").unwrap().iter(0).count(), 0);
        let ranges = s.resolve(12);
        for n in 0..=13 {
            assert_eq!(ranges.contains(n), s.contains(n, 12), "{n}");
        }
        let all: Vec<u32> = (0..=13).collect();
        let picked: Vec<u32> = ranges.pick(&all).map(|p| p.1).collect();
        assert_eq!(picked, [1, 2, 3, 4, 7, 10, 11, 12]);
        assert_eq!(
            set("4294967295,1:4294967295").unwrap().normalized(u32::MAX),
            vec![(1, u32::MAX)]
        );
    }
}
