//! Dates in commands: SEARCH's `date`, bare or quoted, and APPEND's
//! `date-time`, always quoted (RFC 3501 §9). The lexer takes them off the
//! command; the text itself is read by `wire::imap::datetime`, which the
//! fetcher shares.

use super::lexer::{Lexer, PResult};
use crate::wire::imap::datetime;
pub use crate::wire::imap::datetime::{Date, DateTime};

/// RFC 3501 §9 date (SEARCH): date-text, optionally in double quotes.
pub(super) fn parse_date(lex: &mut Lexer<'_>) -> PResult<Date> {
    let text = if lex.peek() == Some(b'"') {
        lex.quoted()?
    } else {
        std::borrow::Cow::Borrowed(lex.keyword())
    };
    datetime::parse_date(&text).ok_or("bad date")
}

/// RFC 3501 §9 date-time: `"dd-Mon-yyyy hh:mm:ss +zzzz"`, always quoted.
pub(super) fn parse_date_time(lex: &mut Lexer<'_>) -> PResult<DateTime> {
    let text = lex.quoted()?;
    datetime::parse_date_time(&text).ok_or("bad date-time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_dates() {
        let feb1 = Ok(Date {
            year: 1994,
            month: 2,
            day: 1,
        });
        assert_eq!(parse_date(&mut Lexer::new(b"1-Feb-1994")), feb1);
        assert_eq!(parse_date(&mut Lexer::new(b"\"01-FEB-1994\"")), feb1);
        for bad in ["1-Feb-94", "Feb-1-1994", "\"1-Feb-1994", "32-Jan-2000", ""] {
            assert!(
                parse_date(&mut Lexer::new(bad.as_bytes())).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn append_date_times() {
        let t = parse_date_time(&mut Lexer::new(b"\"17-Jul-1996 02:44:25 -0700\"")).unwrap();
        assert_eq!((t.unix, t.offset_minutes), (837_596_665, -420));
        // Unquoted is not a date-time.
        assert!(parse_date_time(&mut Lexer::new(b"17-Jul-1996")).is_err());
    }
}
