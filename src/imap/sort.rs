//! SORT and UID SORT (RFC 5256 §3) with SORT=DISPLAY's DISPLAYFROM and
//! DISPLAYTO (RFC 5957) and ESORT's RETURN options (RFC 5267 §3).
//!
//! The messages the search criteria match are ordered by keys stored at
//! delivery (`mime::SortKeys`), so no message is read. Keys are read in
//! chunks of [`CHUNK`] messages, each under its own short read
//! transaction with a yield between chunks, so a SORT of 50 000 messages
//! does not hold the one executor thread away from other sessions.

use std::cmp::Ordering;

use super::esearch;
use super::messages::Matched;
use super::parse::{SearchKey, SearchReturn, SortCriterion, SortKey};
use super::session::Session;
use crate::mime::SortKeys;
use crate::store::StoreError;

/// Messages whose keys are read between two yields.
pub const CHUNK: usize = 2000;

/// One compared value of a sort key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Number(i64),
    Text(Box<str>),
}

/// A matched message with the values its sort keys compare by.
struct Row {
    seq: u32,
    uid: u32,
    values: Vec<Value>,
}

/// The value of `key` for one message (RFC 5256 §3; empty text for an
/// absent field, which sorts first; DATE falls back to INTERNALDATE).
fn value(key: SortKey, m: &Matched, keys: Option<&SortKeys>) -> Value {
    let text = |f: fn(&SortKeys) -> &str| Value::Text(keys.map_or("", f).into());
    match key {
        SortKey::Arrival => Value::Number(m.internal_date),
        SortKey::Size => Value::Number(m.size.into()),
        SortKey::Date => {
            Value::Number(keys.map_or(m.internal_date, |k| k.sent_or(m.internal_date)))
        }
        SortKey::Subject => text(|k| &k.subject),
        SortKey::From => text(|k| &k.from),
        SortKey::To => text(|k| &k.to),
        SortKey::Cc => text(|k| &k.cc),
        SortKey::DisplayFrom => text(|k| &k.display_from),
        SortKey::DisplayTo => text(|k| &k.display_to),
    }
}

/// Orders rows by the criteria; REVERSE flips one key, and messages equal
/// on every key stay in sequence order whatever REVERSE says (§3).
fn compare(criteria: &[SortCriterion], a: &Row, b: &Row) -> Ordering {
    for (i, c) in criteria.iter().enumerate() {
        let o = a.values[i].cmp(&b.values[i]);
        let o = if c.reverse { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.seq.cmp(&b.seq)
}

impl Session {
    /// The stored keys of `matched`, projected by `project`, read a chunk
    /// at a time with a yield in between; `None` once a store failure was
    /// answered.
    pub(super) async fn keys_of<T>(
        &mut self,
        tag: &[u8],
        matched: &[Matched],
        project: impl Fn(&Matched, SortKeys) -> T,
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
        project: impl Fn(&Matched, SortKeys) -> T,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::with_capacity(matched.len());
        for chunk in matched.chunks(CHUNK) {
            smol::future::yield_now().await;
            let reader = self.store().read()?;
            for m in chunk {
                // A damaged record sorts as a message without headers.
                let keys = reader.sort_keys(m.blob_id).unwrap_or_default();
                out.push(project(m, keys));
            }
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
        let mut rows = self
            .try_keys_of(matched, |m, k| Row {
                seq: m.seq,
                uid: m.uid,
                values: criteria.iter().map(|c| value(c.key, m, Some(&k))).collect(),
            })
            .await?;
        smol::future::yield_now().await;
        rows.sort_unstable_by(|a, b| compare(criteria, a, b));
        Ok(rows.iter().map(|r| r.uid).collect())
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
        let row = |m: &Matched, keys: Option<&SortKeys>| Row {
            seq: m.seq,
            uid: m.uid,
            values: criteria.iter().map(|c| value(c.key, m, keys)).collect(),
        };
        let mut rows = match needs_keys {
            true => {
                let Some(rows) = self.keys_of(tag, &matched, |m, k| row(m, Some(&k))).await else {
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
            false => matched.iter().map(|m| row(m, None)).collect(),
        };
        smol::future::yield_now().await;
        rows.sort_unstable_by(|a, b| compare(criteria, a, b));
        let numbers: Vec<u32> = rows
            .iter()
            .map(|r| if uid { r.uid } else { r.seq })
            .collect();
        let modseq = super::search::uses_modseq(key).then(|| {
            self.use_condstore();
            highest
        });
        if let (Some(r), Some(sel)) = (&ret, self.selected_mut())
            && r.save
        {
            // RFC 5182 §2.1 with ESORT (RFC 5267 §3.2): MIN and MAX are the
            // first and last in sort order.
            let uids: Vec<u32> = rows.iter().map(|r| r.uid).collect();
            sel.save(r, &uids);
        }
        let line = match ret {
            Some(ret) if !super::searchres::answers(&ret) => String::new(),
            Some(ret) => esearch::response(tag, uid, ret, &numbers, modseq),
            None => {
                let mut line = String::with_capacity(8 + numbers.len() * 7);
                line.push_str("* SORT");
                for n in &numbers {
                    line.push(' ');
                    line.push_str(&n.to_string());
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
        };
        self.put(&line);
        if let Some(ret) = ret
            && ret.update
        {
            let uids = rows.iter().map(|r| r.uid).collect();
            self.open_context(tag, uid, true, uids, &ret, key);
        }
        let done = match uid {
            true => "UID SORT completed",
            false => "SORT completed",
        };
        self.tagged(tag, "OK", done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u32, values: Vec<Value>) -> Row {
        Row {
            seq,
            uid: seq,
            values,
        }
    }

    #[test]
    fn rfc5256_3_ties_keep_sequence_order_even_reversed() {
        let criteria = [SortCriterion {
            reverse: true,
            key: SortKey::Size,
        }];
        let mut rows = [
            row(1, vec![Value::Number(5)]),
            row(2, vec![Value::Number(9)]),
            row(3, vec![Value::Number(5)]),
        ];
        rows.sort_unstable_by(|a, b| compare(&criteria, a, b));
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 1, 3]);
    }

    #[test]
    fn rfc5256_3_date_falls_back_to_internaldate() {
        let m = Matched {
            seq: 1,
            uid: 1,
            blob_id: 1,
            size: 10,
            internal_date: 77,
            modseq: 1,
        };
        let none = SortKeys::default();
        assert_eq!(value(SortKey::Date, &m, Some(&none)), Value::Number(77));
        let dated = SortKeys {
            sent: Some(5),
            ..SortKeys::default()
        };
        assert_eq!(value(SortKey::Date, &m, Some(&dated)), Value::Number(5));
        assert_eq!(
            value(SortKey::From, &m, Some(&none)),
            Value::Text("".into())
        );
    }
}
