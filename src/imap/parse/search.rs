//! SEARCH criteria (RFC 3501 §6.4.4 and §9 search-key) plus RFC 7162
//! §3.1.5's MODSEQ key.
//!
//! Keys nest through NOT, OR and parentheses, so the parser recurses; the
//! recursion is bounded by [`MAX_NESTING`] and the total number of keys by
//! [`MAX_LIST_ITEMS`], so a hostile `((((...` costs neither stack nor
//! memory beyond those bounds.

use std::borrow::Cow;

use super::datetime::{self, Date};
use super::lexer::{Lexer, PResult, Upper};
use super::sequence::{self, SequenceSet};
use super::{MAX_LIST_ITEMS, MAX_NESTING};

/// One search criterion. String arguments are the bytes the client sent
/// (after quoting/literal decoding), in the command's CHARSET: decoding and
/// case-folding them is the search engine's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey<'a> {
    All,
    Answered,
    Bcc(Cow<'a, [u8]>),
    /// Internal date before this day (time and zone disregarded).
    Before(Date),
    Body(Cow<'a, [u8]>),
    Cc(Cow<'a, [u8]>),
    Deleted,
    Draft,
    Flagged,
    From(Cow<'a, [u8]>),
    /// Field name, then the string to find in its value (empty: the
    /// field merely exists).
    Header(Cow<'a, [u8]>, Cow<'a, [u8]>),
    Keyword(&'a [u8]),
    Larger(u32),
    New,
    Not(Box<SearchKey<'a>>),
    Old,
    On(Date),
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u32),
    Subject(Cow<'a, [u8]>),
    Text(Cow<'a, [u8]>),
    To(Cow<'a, [u8]>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(&'a [u8]),
    Unseen,
    /// RFC 7162 §3.1.5: messages whose mod-sequence is at least this. The
    /// optional per-flag entry name and type are parsed and dropped: the
    /// store keeps one mod-sequence per message, which the RFC allows.
    ModSeq(u64),
    /// RFC 8514 §4.2: save date before, on, or since this day; and
    /// SAVEDATESUPPORTED, true in a mailbox that keeps save dates.
    SavedBefore(Date),
    SavedOn(Date),
    SavedSince(Date),
    SaveDateSupported,
    /// RFC 8474 §6: `EMAILID objectid`, `THREADID objectid`.
    EmailId(&'a [u8]),
    ThreadId(&'a [u8]),
    /// Message sequence numbers.
    SequenceSet(SequenceSet),
    /// All of these: a parenthesised list, or the top level of a SEARCH
    /// with several keys.
    And(Vec<SearchKey<'a>>),
}

/// Parses `search-key *(SP search-key)` up to the end of the command; one
/// key comes back as itself, several as [`SearchKey::And`].
pub(super) fn parse_keys<'a>(lex: &mut Lexer<'a>) -> PResult<SearchKey<'a>> {
    let mut budget = MAX_LIST_ITEMS;
    let mut keys = vec![key(lex, 0, &mut budget)?];
    while lex.eat(b' ') {
        keys.push(key(lex, 0, &mut budget)?);
    }
    Ok(collapse(keys))
}

/// A list of one key is that key.
fn collapse(mut keys: Vec<SearchKey<'_>>) -> SearchKey<'_> {
    if keys.len() == 1 {
        keys.pop().unwrap_or(SearchKey::All)
    } else {
        SearchKey::And(keys)
    }
}

/// RFC 3501 §9 search-key at nesting `depth`, spending one unit of
/// `budget` per key.
fn key<'a>(lex: &mut Lexer<'a>, depth: usize, budget: &mut usize) -> PResult<SearchKey<'a>> {
    if depth > MAX_NESTING {
        return Err("search nested too deeply");
    }
    *budget = budget.checked_sub(1).ok_or("search too complex")?;
    match lex.peek() {
        Some(b'(') => {
            lex.eat(b'(');
            let mut keys = vec![key(lex, depth + 1, budget)?];
            while !lex.eat(b')') {
                lex.sp()?;
                keys.push(key(lex, depth + 1, budget)?);
            }
            return Ok(collapse(keys));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => {
            return sequence::parse(lex, true).map(SearchKey::SequenceSet);
        }
        _ => {}
    }
    let word = Upper::new(lex.keyword());
    use SearchKey as K;
    let word = word.as_bytes();
    // Keys without arguments.
    let k = match word {
        b"ALL" => K::All,
        b"ANSWERED" => K::Answered,
        b"DELETED" => K::Deleted,
        b"DRAFT" => K::Draft,
        b"FLAGGED" => K::Flagged,
        b"NEW" => K::New,
        b"OLD" => K::Old,
        b"RECENT" => K::Recent,
        b"SEEN" => K::Seen,
        b"UNANSWERED" => K::Unanswered,
        b"UNDELETED" => K::Undeleted,
        b"UNDRAFT" => K::Undraft,
        b"UNFLAGGED" => K::Unflagged,
        b"UNSEEN" => K::Unseen,
        b"SAVEDATESUPPORTED" => K::SaveDateSupported,
        _ => return key_with_argument(lex, word, depth, budget),
    };
    Ok(k)
}

/// A key built from one string argument.
type StringKey<'a> = fn(Cow<'a, [u8]>) -> SearchKey<'a>;

/// The keys that take arguments, `word` (upper-cased) already read.
fn key_with_argument<'a>(
    lex: &mut Lexer<'a>,
    word: &[u8],
    depth: usize,
    budget: &mut usize,
) -> PResult<SearchKey<'a>> {
    use SearchKey as K;
    let string: Option<StringKey<'a>> = match word {
        b"BCC" => Some(K::Bcc),
        b"BODY" => Some(K::Body),
        b"CC" => Some(K::Cc),
        b"FROM" => Some(K::From),
        b"SUBJECT" => Some(K::Subject),
        b"TEXT" => Some(K::Text),
        b"TO" => Some(K::To),
        _ => None,
    };
    let date: Option<fn(Date) -> SearchKey<'a>> = match word {
        b"BEFORE" => Some(K::Before),
        b"ON" => Some(K::On),
        b"SINCE" => Some(K::Since),
        b"SENTBEFORE" => Some(K::SentBefore),
        b"SENTON" => Some(K::SentOn),
        b"SENTSINCE" => Some(K::SentSince),
        b"SAVEDBEFORE" => Some(K::SavedBefore),
        b"SAVEDON" => Some(K::SavedOn),
        b"SAVEDSINCE" => Some(K::SavedSince),
        _ => None,
    };
    let known = string.is_some()
        || date.is_some()
        || matches!(
            word,
            b"HEADER"
                | b"KEYWORD"
                | b"UNKEYWORD"
                | b"LARGER"
                | b"SMALLER"
                | b"UID"
                | b"NOT"
                | b"OR"
                | b"MODSEQ"
                | b"EMAILID"
                | b"THREADID"
        );
    if !known {
        return Err(if word.is_empty() {
            "expected a search key"
        } else {
            "unknown search key"
        });
    }
    lex.sp()?;
    if let Some(make) = string {
        return Ok(make(lex.astring()?));
    }
    if let Some(make) = date {
        return Ok(make(datetime::parse_date(lex)?));
    }
    Ok(match word {
        b"HEADER" => {
            let field = lex.astring()?;
            lex.sp()?;
            K::Header(field, lex.astring()?)
        }
        b"KEYWORD" => K::Keyword(lex.atom()?),
        b"EMAILID" => K::EmailId(objectid(lex)?),
        b"THREADID" => K::ThreadId(objectid(lex)?),
        b"UNKEYWORD" => K::Unkeyword(lex.atom()?),
        b"LARGER" => K::Larger(lex.number()?),
        b"SMALLER" => K::Smaller(lex.number()?),
        b"UID" => K::Uid(sequence::parse(lex, true)?),
        b"NOT" => K::Not(Box::new(key(lex, depth + 1, budget)?)),
        b"OR" => {
            let a = key(lex, depth + 1, budget)?;
            lex.sp()?;
            K::Or(Box::new(a), Box::new(key(lex, depth + 1, budget)?))
        }
        _ => {
            // MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer
            if lex.peek() == Some(b'"') {
                lex.quoted()?;
                lex.sp()?;
                let entry_type = Upper::new(lex.keyword());
                if !matches!(entry_type.as_bytes(), b"PRIV" | b"SHARED" | b"ALL") {
                    return Err("bad MODSEQ entry type");
                }
                lex.sp()?;
            }
            K::ModSeq(lex.mod_seq()?)
        }
    })
}

/// RFC 8474 §7 `objectid = 1*255(ALPHA / DIGIT / "_" / "-")`.
fn objectid<'a>(lex: &mut Lexer<'a>) -> PResult<&'a [u8]> {
    let id = lex.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if id.is_empty() || id.len() > 255 {
        return Err("bad object id");
    }
    Ok(id)
}
