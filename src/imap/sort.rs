//! SORT and UID SORT (RFC 5256 §3) with SORT=DISPLAY's DISPLAYFROM and
//! DISPLAYTO (RFC 5957) and ESORT's RETURN options (RFC 5267 §3).
//!
//! The messages the search criteria match are ordered by keys stored at
//! delivery (`mime::SortKeys`), so no message is read. Keys are read in
//! chunks of [`CHUNK`] messages, each under its own short read
//! transaction with a yield between chunks, and the rows are sorted on a
//! blocking thread, so a SORT of 50 000 messages does not hold the one
//! executor thread away from other sessions. A row costs no allocation:
//! texts are copied from the read transaction into one string, and the
//! first criterion is packed into an integer that decides most compares.

use std::cmp::Ordering;

use super::esearch;
use super::messages::Matched;
use super::parse::{SearchKey, SearchReturn, SortCriterion, SortKey};
use super::session::Session;
use crate::mime::{SortKeys, SortKeysRef};
use crate::store::StoreError;

/// Messages whose keys are read between two yields.
pub const CHUNK: usize = 2000;

/// One compared value of a sort key: a number, or a text kept in the
/// table's one string (start, end), so a row costs no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Number(i64),
    Text(u32, u32),
}

/// A matched message as sorted: the first criterion's order packed into
/// `key` (so nearly every comparison is an integer compare: a number whole,
/// a text by its first 32 bytes and its length), and where its values
/// start in the table.
#[derive(Clone, Copy, Debug)]
struct Row {
    key: Packed,
    /// Whether `key` holds the first criterion's value whole (a number,
    /// or a text of at most 32 bytes), so rows equal in it are equal in
    /// that criterion.
    exact: bool,
    seq: u32,
    uid: u32,
    at: u32,
}

/// A value packed into integers ordered as the value is. A number is
/// `high` alone (sign bit flipped). A text is its first 32 bytes, zero
/// padded, in `high` and `low`, and its length capped at [`LONG`]: for
/// two texts of at most 32 bytes the packed order is the bytewise order
/// exactly (where one text begins the other, the zero padding ties and
/// the shorter length decides), so only two texts both longer than 32
/// bytes and equal in their first 32 are ever compared as bytes. Under
/// emulation on the board that matters: musl's `memcmp` walks a byte at
/// a time, and a mailbox's subjects share long beginnings ("Re: [list]
/// …", a newsletter's name), which made most compares of SORT (SUBJECT)
/// byte walks when only 16 bytes were packed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Packed {
    high: u128,
    low: u128,
    len: u8,
}

/// The packed length of a text longer than the 32 packed bytes.
const LONG: u8 = 33;

impl Packed {
    /// The order reversed, for REVERSE: every part flipped.
    fn reversed(self) -> Packed {
        Packed {
            high: !self.high,
            low: !self.low,
            len: LONG - self.len,
        }
    }
}

/// Every row's values, criteria.len() per row, and the texts they name.
struct Table {
    criteria: Vec<SortCriterion>,
    values: Vec<Value>,
    /// The texts (folded UTF-8, compared bytewise as `str` would be).
    text: Vec<u8>,
}

impl Table {
    fn new(criteria: &[SortCriterion], rows: usize) -> Table {
        Table {
            criteria: criteria.to_vec(),
            values: Vec::with_capacity(rows * criteria.len()),
            text: Vec::new(),
        }
    }

    /// Adds a message's values (RFC 5256 §3; empty text for an absent
    /// field, which sorts first; DATE falls back to INTERNALDATE).
    fn row(&mut self, m: &Matched, keys: Option<&SortKeysRef<'_>>) -> Row {
        let at = self.values.len() as u32;
        for i in 0..self.criteria.len() {
            let c = self.criteria[i];
            let value = match c.key {
                SortKey::Arrival => Value::Number(m.internal_date),
                SortKey::Size => Value::Number(m.size.into()),
                SortKey::Date => {
                    Value::Number(keys.map_or(m.internal_date, |k| k.sent_or(m.internal_date)))
                }
                SortKey::Subject => self.text(keys.map_or(b"", |k| k.subject)),
                SortKey::From => self.text(keys.map_or(b"", |k| k.from)),
                SortKey::To => self.text(keys.map_or(b"", |k| k.to)),
                SortKey::Cc => self.text(keys.map_or(b"", |k| k.cc)),
                SortKey::DisplayFrom => self.text(keys.map_or(b"", |k| k.display_from)),
                SortKey::DisplayTo => self.text(keys.map_or(b"", |k| k.display_to)),
            };
            self.values.push(value);
        }
        let (key, exact) = match self.criteria.first() {
            Some(c) => {
                let p = self.pack(self.values[at as usize]);
                let exact = p.len < LONG;
                (if c.reverse { p.reversed() } else { p }, exact)
            }
            None => (Packed::default(), true),
        };
        Row {
            key,
            exact,
            seq: m.seq,
            uid: m.uid,
            at,
        }
    }

    fn text(&mut self, t: &[u8]) -> Value {
        let start = self.text.len() as u32;
        self.text.extend_from_slice(t);
        Value::Text(start, self.text.len() as u32)
    }

    fn str(&self, start: u32, end: u32) -> &[u8] {
        &self.text[start as usize..end as usize]
    }

    /// `v` packed (see [`Packed`]).
    fn pack(&self, v: Value) -> Packed {
        match v {
            Value::Number(n) => Packed {
                high: u128::from((n as u64) ^ (1 << 63)),
                ..Packed::default()
            },
            Value::Text(start, end) => {
                let mut b = [0u8; 32];
                let t = self.str(start, end);
                let n = t.len().min(32);
                b[..n].copy_from_slice(&t[..n]);
                let (high, low) = b.split_at(16);
                Packed {
                    high: u128::from_be_bytes(high.try_into().expect("16 bytes")),
                    low: u128::from_be_bytes(low.try_into().expect("16 bytes")),
                    len: t.len().min(usize::from(LONG)) as u8,
                }
            }
        }
    }

    fn value_cmp(&self, a: Value, b: Value) -> Ordering {
        match (a, b) {
            (Value::Number(a), Value::Number(b)) => a.cmp(&b),
            (Value::Text(a0, a1), Value::Text(b0, b1)) => self.str(a0, a1).cmp(self.str(b0, b1)),
            // One criterion gives every row the same kind.
            (Value::Number(_), Value::Text(..)) => Ordering::Less,
            (Value::Text(..), Value::Number(_)) => Ordering::Greater,
        }
    }

    /// `rows` in order, sorted away from the executor thread: 50 000
    /// rows take tens of milliseconds under emulation, which other
    /// sessions should not wait for (DESIGN.md "Budgets").
    async fn sort(self, mut rows: Vec<Row>) -> Vec<Row> {
        smol::unblock(move || {
            self.order(&mut rows);
            rows
        })
        .await
    }

    fn order(&self, rows: &mut [Row]) {
        // One number decides wholly: ties go by sequence number.
        let whole = matches!(
            self.criteria.as_slice(),
            [c] if matches!(c.key, SortKey::Arrival | SortKey::Size | SortKey::Date)
        );
        match whole {
            true => rows.sort_unstable_by_key(|r| (r.key.high, r.seq)),
            false => rows.sort_unstable_by(|a, b| self.compare(a, b)),
        }
    }

    /// Orders rows by the criteria; REVERSE flips one key, and messages
    /// equal on every key stay in sequence order whatever REVERSE says
    /// (§3).
    fn compare(&self, a: &Row, b: &Row) -> Ordering {
        a.key.cmp(&b.key).then_with(|| {
            let n = self.criteria.len();
            let (va, vb) = (a.at as usize, b.at as usize);
            // Equal keys that hold the first criterion whole leave it
            // decided; long texts equal in their first 32 bytes do not.
            let first = usize::from(a.exact);
            for (i, c) in self.criteria.iter().enumerate().skip(first) {
                let o = self.value_cmp(self.values[va + i], self.values[vb + i]);
                let o = if c.reverse { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            debug_assert!(va + n <= self.values.len());
            a.seq.cmp(&b.seq)
        })
    }
}

impl Session {
    /// The stored keys of `matched`, projected by `project`, read a chunk
    /// at a time with a yield in between; `None` once a store failure was
    /// answered.
    pub(super) async fn keys_of<T>(
        &mut self,
        tag: &[u8],
        matched: &[Matched],
        project: impl FnMut(&Matched, SortKeysRef<'_>) -> T,
    ) -> Option<Vec<T>> {
        match self.try_keys_of(matched, project).await {
            Ok(out) => Some(out),
            Err(e) => {
                self.store_failed(tag, &e);
                None
            }
        }
    }

    /// [`Session::keys_of`] with the store failure returned.
    pub(super) async fn try_keys_of<T>(
        &mut self,
        matched: &[Matched],
        mut project: impl FnMut(&Matched, SortKeysRef<'_>) -> T,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::with_capacity(matched.len());
        let none = SortKeys::default();
        for chunk in matched.chunks(CHUNK) {
            smol::future::yield_now().await;
            let reader = self.store().read()?;
            let mut bodies: Vec<(u64, usize)> = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| (m.blob_id, i))
                .collect();
            let mut got: Vec<Option<T>> = chunk.iter().map(|_| None).collect();
            reader.each_sort_keys(&mut bodies, |i, keys| {
                // A damaged record sorts as a message without headers.
                got[i] = Some(project(&chunk[i], keys.unwrap_or(none.as_ref())));
            });
            out.extend(got.into_iter().flatten());
        }
        Ok(out)
    }

    /// `matched` in the order `criteria` give (RFC 5256 §3), as UIDs: a
    /// sorted search context places the messages it gains by this.
    pub(super) async fn sorted_uids(
        &mut self,
        criteria: &[SortCriterion],
        matched: &[Matched],
    ) -> Result<Vec<u32>, StoreError> {
        let mut table = Table::new(criteria, matched.len());
        let rows = self
            .try_keys_of(matched, |m, k| table.row(m, Some(&k)))
            .await?;
        let rows = table.sort(rows).await;
        Ok(rows.iter().map(|r| r.uid).collect())
    }

    /// `order` (UIDs in the order `criteria` give) with `added` placed
    /// among them by binary search: a sorted search context that gains a
    /// few messages reads the keys of those and of about log2(n) members
    /// each, not of all n (RFC 5267 §4.3 ADDTO). `None` when a member
    /// probed has no record any more (expunged from the store, still in
    /// the view): the caller sorts the whole result then.
    pub(super) async fn insert_sorted(
        &mut self,
        criteria: &[SortCriterion],
        order: &[u32],
        added: &[u32],
    ) -> Result<Option<Vec<u32>>, StoreError> {
        let mut table = Table::new(criteria, added.len() * 20);
        let Some(mut new) = self.rows_of(&mut table, added).await? else {
            return Ok(None);
        };
        // In their own order, each lands at or after the one before.
        table.order(&mut new);
        let mut out = order.to_vec();
        let mut from = 0;
        for row in new {
            let (mut lo, mut hi) = (from, out.len());
            while lo < hi {
                let mid = (lo + hi) / 2;
                let Some(probe) = self.rows_of(&mut table, &out[mid..=mid]).await? else {
                    return Ok(None);
                };
                match table.compare(&probe[0], &row) {
                    Ordering::Greater => hi = mid,
                    _ => lo = mid + 1,
                }
            }
            out.insert(lo, row.uid);
            from = lo + 1;
        }
        Ok(Some(out))
    }

    /// The rows of `uids` (in the selected view) added to `table`; `None`
    /// when one of them has no record.
    async fn rows_of(
        &mut self,
        table: &mut Table,
        uids: &[u32],
    ) -> Result<Option<Vec<Row>>, StoreError> {
        let Some(sel) = self.selected() else {
            return Ok(None);
        };
        let picks: Vec<(u32, u32)> = uids
            .iter()
            .filter_map(|&u| sel.seq_of(u).map(|s| (s, u)))
            .collect();
        let Some((matched, _)) = self.matching_in(&SearchKey::All, &picks).await? else {
            return Ok(None);
        };
        if matched.len() != uids.len() {
            return Ok(None);
        }
        let rows = self
            .try_keys_of(&matched, |m, k| table.row(m, Some(&k)))
            .await?;
        Ok(Some(rows))
    }

    /// SORT / UID SORT (RFC 5256 §3), `* SORT n...`, or with RETURN the
    /// ESEARCH response of ESORT (RFC 5267 §3.2).
    pub(super) async fn sort(
        &mut self,
        tag: &[u8],
        uid: bool,
        ret: Option<SearchReturn>,
        criteria: &[SortCriterion],
        charset: &[u8],
        key: &SearchKey<'_>,
    ) {
        let found = match self.charset_supported(tag, Some(charset)) {
            true => self.matching(tag, key).await,
            false => None,
        };
        let Some((matched, highest)) = found else {
            if ret.is_some_and(|r| r.save)
                && let Some(sel) = self.selected_mut()
            {
                // RFC 5182 §2.1: a failed SORT with SAVE empties `$`.
                sel.forget_saved();
            }
            return;
        };
        let needs_keys = criteria
            .iter()
            .any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size));
        let mut table = Table::new(criteria, matched.len());
        let mut rows = match needs_keys {
            true => {
                let rows = self.keys_of(tag, &matched, |m, k| table.row(m, Some(&k)));
                let Some(rows) = rows.await else {
                    if ret.is_some_and(|r| r.save)
                        && let Some(sel) = self.selected_mut()
                    {
                        // RFC 5182 §2.1: a failed SORT with SAVE empties `$`.
                        sel.forget_saved();
                    }
                    return;
                };
                rows
            }
            false => matched.iter().map(|m| table.row(m, None)).collect(),
        };
        let modseq = super::search::uses_modseq(key).then(|| {
            self.use_condstore();
            highest
        });
        // Sorted and written out away from the executor thread: the
        // answer of 50 000 numbers takes as long to render under
        // emulation as the sort itself.
        let answer_tag = tag.to_vec();
        let (uids, line) = smol::unblock(move || {
            table.order(&mut rows);
            let numbers: Vec<u32> = rows
                .iter()
                .map(|r| if uid { r.uid } else { r.seq })
                .collect();
            let uids: Vec<u32> = rows.iter().map(|r| r.uid).collect();
            (uids, render(&answer_tag, uid, ret, &numbers, modseq))
        })
        .await;
        if let (Some(r), Some(sel)) = (&ret, self.selected_mut())
            && r.save
        {
            // RFC 5182 §2.1 with ESORT (RFC 5267 §3.2): MIN and MAX are the
            // first and last in sort order.
            sel.save(r, &uids);
        }
        self.put(&line);
        if let Some(ret) = ret
            && ret.update
        {
            self.open_context(tag, uid, true, uids, &ret, key);
        }
        let done = match uid {
            true => "UID SORT completed",
            false => "SORT completed",
        };
        self.tagged(tag, "OK", done);
    }
}

/// The answer to SORT: `* SORT n...` (RFC 5256 §4), or with RETURN the
/// ESEARCH response of ESORT (RFC 5267 §3.2); empty when a RETURN asks
/// only to SAVE.
fn render(
    tag: &[u8],
    uid: bool,
    ret: Option<SearchReturn>,
    numbers: &[u32],
    modseq: Option<u64>,
) -> String {
    match ret {
        Some(ret) if !super::searchres::answers(&ret) => String::new(),
        Some(ret) => esearch::response(tag, uid, ret, numbers, modseq),
        None => {
            let mut line = String::with_capacity(8 + numbers.len() * 7);
            line.push_str("* SORT");
            for &n in numbers {
                line.push(' ');
                super::render::push_number(&mut line, n);
            }
            // RFC 7162 §3.1.5: SORT with MODSEQ criteria reports it too.
            if let Some(highest) = modseq
                && !numbers.is_empty()
            {
                line.push_str(&format!(" (MODSEQ {highest})"));
            }
            line.push_str("\r\n");
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(seq: u32, size: u32, internal_date: i64) -> Matched {
        Matched {
            seq,
            uid: seq,
            blob_id: 1,
            size,
            internal_date,
            modseq: 1,
        }
    }

    fn sorted(criteria: &[SortCriterion], rows: &[(Matched, SortKeys)]) -> Vec<u32> {
        let mut table = Table::new(criteria, rows.len());
        let mut out: Vec<Row> = rows
            .iter()
            .map(|(m, k)| table.row(m, Some(&k.as_ref())))
            .collect();
        table.order(&mut out);
        out.iter().map(|r| r.seq).collect()
    }

    fn by(key: SortKey, reverse: bool) -> SortCriterion {
        SortCriterion { reverse, key }
    }

    #[test]
    fn rfc5256_3_ties_keep_sequence_order_even_reversed() {
        let none = SortKeys::default;
        let rows = [
            (matched(1, 5, 0), none()),
            (matched(2, 9, 0), none()),
            (matched(3, 5, 0), none()),
        ];
        assert_eq!(sorted(&[by(SortKey::Size, true)], &rows), [2, 1, 3]);
    }

    #[test]
    fn rfc5256_3_date_falls_back_to_internaldate() {
        let dated = SortKeys {
            sent: Some(5),
            ..SortKeys::default()
        };
        let rows = [
            (matched(1, 0, 77), SortKeys::default()),
            (matched(2, 0, 99), dated),
            (matched(3, 0, -3), SortKeys::default()),
        ];
        assert_eq!(sorted(&[by(SortKey::Date, false)], &rows), [3, 2, 1]);
    }

    #[test]
    fn rfc5256_3_texts_compare_whole_past_the_packed_prefix() {
        let subject = |s: &str| SortKeys {
            subject: s.into(),
            ..SortKeys::default()
        };
        // Equal first 16 bytes: the rest decides; a shorter text (and an
        // absent one) sorts first; REVERSE flips it, ties stay in order.
        let rows = [
            (matched(1, 1, 0), subject("ABCDEFGHIJKLMNOPZ")),
            (matched(2, 1, 0), subject("ABCDEFGHIJKLMNOPA")),
            (matched(3, 1, 0), subject("ABCDEFGHIJKLMNOP")),
            (matched(4, 1, 0), subject("")),
            (matched(5, 1, 0), subject("ABCDEFGHIJKLMNOPA")),
        ];
        assert_eq!(
            sorted(&[by(SortKey::Subject, false)], &rows),
            [4, 3, 2, 5, 1]
        );
        assert_eq!(
            sorted(&[by(SortKey::Subject, true)], &rows),
            [1, 2, 5, 3, 4]
        );
        // A second criterion breaks the first one's ties.
        let mut rows = rows;
        rows[4].0.size = 0;
        assert_eq!(
            sorted(
                &[by(SortKey::Subject, false), by(SortKey::Size, false)],
                &rows
            ),
            [4, 3, 5, 2, 1]
        );
    }

    /// The packed order against plain bytewise comparison, on texts made
    /// to tie in the packing: a small alphabet with NUL (the padding's
    /// byte), lengths around the 32 packed bytes, each criterion reversed
    /// or not, with a number second.
    #[test]
    fn rfc5256_3_packed_text_order_is_bytewise_order() {
        let mut state = 0x5256u32;
        let mut next = |n: u32| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 8) % n
        };
        let rows: Vec<(Matched, SortKeys)> = (1..=400)
            .map(|seq| {
                // A shared beginning, so that texts tie in the packed 32
                // bytes, and a short tail that decides.
                let mut text = vec![b'a'; 28 + next(3) as usize];
                text.extend((0..next(10)).map(|_| b"\0ab"[next(3) as usize]));
                let keys = SortKeys {
                    subject: String::from_utf8(text).unwrap(),
                    ..SortKeys::default()
                };
                (matched(seq, next(3), 0), keys)
            })
            .collect();
        for reverse in [false, true] {
            for second in [None, Some(by(SortKey::Size, true))] {
                let mut criteria = vec![by(SortKey::Subject, reverse)];
                criteria.extend(second);
                let mut want: Vec<&(Matched, SortKeys)> = rows.iter().collect();
                want.sort_by(|(a, ka), (b, kb)| {
                    let o = ka.subject.as_bytes().cmp(kb.subject.as_bytes());
                    let o = if reverse { o.reverse() } else { o };
                    let size = match second {
                        Some(_) => b.size.cmp(&a.size),
                        None => Ordering::Equal,
                    };
                    o.then(size).then(a.seq.cmp(&b.seq))
                });
                let want: Vec<u32> = want.iter().map(|(m, _)| m.seq).collect();
                assert_eq!(sorted(&criteria, &rows), want, "{criteria:?}");
            }
        }
    }

    #[test]
    fn rfc5256_3_negative_and_positive_numbers_keep_their_order() {
        let none = SortKeys::default;
        let rows = [
            (matched(1, 0, 10), none()),
            (matched(2, 0, -10), none()),
            (matched(3, 0, i64::MIN), none()),
            (matched(4, 0, i64::MAX), none()),
        ];
        assert_eq!(sorted(&[by(SortKey::Arrival, false)], &rows), [3, 2, 1, 4]);
        assert_eq!(sorted(&[by(SortKey::Arrival, true)], &rows), [4, 1, 2, 3]);
    }
}
