//! Arguments of SORT and THREAD (RFC 5256 §3, §4, §5; SORT=DISPLAY's
//! DISPLAYFROM and DISPLAYTO, RFC 5957 §3) and of the ESEARCH result
//! options that SEARCH and SORT may carry (RFC 4731 §3.1, RFC 5267 §3.1
//! for SORT's `RETURN`; PARTIAL, RFC 9394 §3).

use std::borrow::Cow;

use super::lexer::{Lexer, PResult, Upper};
use super::search::{self, SearchKey};

/// Most sort criteria in one command: there are only nine keys.
const MAX_CRITERIA: usize = 16;

/// One sort key of RFC 5256 §3 / RFC 5957 §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// A sort key, possibly REVERSEd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// The THREAD algorithms offered (RFC 5256 §4, and Dovecot's REFS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
    Refs,
}

/// RFC 4731 §3.1 `RETURN (...)` options. An empty list means ALL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub count: bool,
    pub all: bool,
    /// RFC 9394 PARTIAL: a window of the results by position.
    pub partial: Option<Window>,
    /// RFC 5182 §2.1 SAVE: keep the result for `$`.
    pub save: bool,
    /// RFC 5267 §4.2 UPDATE: keep the result up to date (ADDTO/REMOVEFROM).
    pub update: bool,
    /// RFC 5267 §4.2 CONTEXT: a hint that the result will be asked again;
    /// accepted, nothing to do.
    pub context: bool,
}

/// RFC 9394 §3.1 `partial-range`: results `first..=last` (1-based,
/// `first <= last`), counted from the end when `from_end` (`-1` is the
/// last result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_end: bool,
    pub first: u32,
    pub last: u32,
}

/// `[SP "RETURN" SP "(" [option *(SP option)] ")"]`, after which a space
/// follows. Returns `None` without consuming when there is no RETURN.
pub(super) fn search_return(lex: &mut Lexer<'_>) -> PResult<Option<SearchReturn>> {
    let mark = lex.mark();
    if !lex.keyword().eq_ignore_ascii_case(b"RETURN") {
        lex.reset(mark);
        return Ok(None);
    }
    lex.sp()?;
    let mut ret = SearchReturn::default();
    lex.paren_list(true, MAX_CRITERIA, |lex| {
        match Upper::new(lex.keyword()).as_bytes() {
            b"MIN" => ret.min = true,
            b"MAX" => ret.max = true,
            b"COUNT" => ret.count = true,
            b"ALL" => ret.all = true,
            b"SAVE" => ret.save = true,
            b"UPDATE" => ret.update = true,
            b"CONTEXT" => ret.context = true,
            b"PARTIAL" => {
                lex.sp()?;
                ret.partial = Some(window(lex)?);
            }
            _ => return Err("unknown RETURN option"),
        }
        Ok(())
    })?;
    // RFC 4731 §3.1: no result option means ALL; so does a list of only
    // RFC 5267's UPDATE and CONTEXT, whose client needs the result itself.
    // SAVE alone asks for no answer at all (RFC 5182 §2.1); with UPDATE
    // the client needs the result its updates will change.
    if ret.update && !(ret.min || ret.max || ret.count || ret.all || ret.partial.is_some())
        || !(ret.min || ret.max || ret.count || ret.all || ret.partial.is_some() || ret.save)
    {
        ret.all = true;
    }
    // RFC 9394 §3.1: a window and the whole set make no sense together.
    if ret.all && ret.partial.is_some() {
        return Err("RETURN PARTIAL and ALL together");
    }
    lex.sp()?;
    Ok(Some(ret))
}

/// `partial-range-first = nz-number ":" nz-number` or
/// `partial-range-last = "-" nz-number ":" "-" nz-number` (RFC 9394 §3.1).
pub(super) fn window(lex: &mut Lexer<'_>) -> PResult<Window> {
    let from_end = lex.eat(b'-');
    let a = lex.nz_number()?;
    lex.expect(b':', "a PARTIAL range is first:last")?;
    if from_end && !lex.eat(b'-') {
        return Err("a PARTIAL range from the end is -first:-last");
    }
    let b = lex.nz_number()?;
    Ok(Window {
        from_end,
        first: a.min(b),
        last: a.max(b),
    })
}

/// RFC 5256 §5 `sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"`.
fn criteria(lex: &mut Lexer<'_>) -> PResult<Vec<SortCriterion>> {
    lex.paren_list(false, MAX_CRITERIA, |lex| {
        let mut word = Upper::new(lex.keyword());
        let reverse = word.as_bytes() == b"REVERSE";
        if reverse {
            lex.sp()?;
            word = Upper::new(lex.keyword());
        }
        let key = match word.as_bytes() {
            b"ARRIVAL" => SortKey::Arrival,
            b"CC" => SortKey::Cc,
            b"DATE" => SortKey::Date,
            b"FROM" => SortKey::From,
            b"SIZE" => SortKey::Size,
            b"SUBJECT" => SortKey::Subject,
            b"TO" => SortKey::To,
            b"DISPLAYFROM" => SortKey::DisplayFrom,
            b"DISPLAYTO" => SortKey::DisplayTo,
            _ => return Err("unknown sort key"),
        };
        Ok(SortCriterion { reverse, key })
    })
}

/// RETURN options, criteria, charset and search keys of a SORT.
type SortArgs<'a> = (
    Option<SearchReturn>,
    Vec<SortCriterion>,
    Cow<'a, [u8]>,
    SearchKey<'a>,
);

/// The parsed arguments of SORT: `SP [RETURN (...) SP] sort-criteria SP
/// charset 1*(SP search-key)`.
pub(super) fn sort<'a>(lex: &mut Lexer<'a>) -> PResult<SortArgs<'a>> {
    lex.sp()?;
    let ret = search_return(lex)?;
    let criteria = criteria(lex)?;
    lex.sp()?;
    let charset = lex.astring()?;
    lex.sp()?;
    Ok((ret, criteria, charset, search::parse_keys(lex)?))
}

/// The parsed arguments of THREAD: `SP thread-alg SP charset 1*(SP
/// search-key)`.
pub(super) fn thread<'a>(
    lex: &mut Lexer<'a>,
) -> PResult<(ThreadAlgorithm, Cow<'a, [u8]>, SearchKey<'a>)> {
    lex.sp()?;
    let algorithm = match Upper::new(lex.keyword()).as_bytes() {
        b"ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        b"REFERENCES" => ThreadAlgorithm::References,
        b"REFS" => ThreadAlgorithm::Refs,
        _ => return Err("unknown threading algorithm"),
    };
    lex.sp()?;
    let charset = lex.astring()?;
    lex.sp()?;
    Ok((algorithm, charset, search::parse_keys(lex)?))
}
