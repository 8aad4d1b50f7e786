//! IMAP dates (RFC 3501 §9 `date`, for SEARCH) and date-times (`date-time`,
//! for APPEND and INTERNALDATE), read and written. The server reads them
//! in commands and writes INTERNALDATE; the fetcher reads INTERNALDATE in
//! a remote server's FETCH responses. The calendar arithmetic is
//! `crate::time`'s.

use crate::time::{MONTHS, civil_from_days, days_from_civil};

/// A calendar date as in SEARCH BEFORE/ON/SINCE (RFC 3501 §6.4.4), which
/// compares dates "disregarding time and timezone".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    /// 1 ..= 12.
    pub month: u8,
    /// 1 ..= the length of the month.
    pub day: u8,
}

impl Date {
    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        )
    }
}

/// A date-time: the instant, and the zone it was written in (kept so an
/// APPEND's INTERNALDATE could be shown as given, RFC 3501 §6.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// The zone's offset east of UTC, in minutes (`-0500` is -300).
    pub offset_minutes: i16,
}

fn is_leap(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A run of exactly `n` digits as a number.
fn digits(s: &[u8], n: usize) -> Option<u16> {
    let d = s.get(..n)?;
    d.iter().try_fold(0u16, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u16::from(b - b'0'))
    })
}

/// `d-Mon-yyyy` at the start of `s` (1 or 2 day digits, a leading space
/// allowed for date-time's fixed-width day; the month in any case): the
/// date and the bytes after it.
fn date_prefix(s: &[u8]) -> Option<(Date, &[u8])> {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    let day_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let day = digits(s, day_len)?;
    let s = s[day_len..].strip_prefix(b"-")?;
    let month_name = s.get(..3)?;
    let month = MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(month_name))?
        + 1;
    let s = s[3..].strip_prefix(b"-")?;
    let year = digits(s, 4)?;
    let month = month as u8; // 1 ..= 12
    if day == 0 || day > u16::from(days_in_month(year, month)) {
        return None;
    }
    let day = day as u8;
    Some((Date { year, month, day }, &s[4..]))
}

/// RFC 3501 §9 date-text (`1-Feb-1994`), the whole of `s`.
pub fn parse_date(s: &[u8]) -> Option<Date> {
    match date_prefix(s)? {
        (date, []) => Some(date),
        _ => None,
    }
}

/// RFC 3501 §9 date-time without its double quotes:
/// `dd-Mon-yyyy hh:mm:ss +zzzz`, the day one digit or space-padded
/// (date-day-fixed) or two digits. A leap second (:60) is accepted and
/// counted as :59; Unix time has no room for it.
pub fn parse_date_time(s: &[u8]) -> Option<DateTime> {
    let (date, s) = date_prefix(s)?;
    let s = s.strip_prefix(b" ")?;
    // time = 2DIGIT ":" 2DIGIT ":" 2DIGIT
    let (hour, minute, second) = (
        digits(s, 2)?,
        digits(s.get(3..)?, 2)?,
        digits(s.get(6..)?, 2)?,
    );
    if s.get(2) != Some(&b':') || s.get(5) != Some(&b':') {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let s = s.get(8..)?.strip_prefix(b" ")?;
    // zone = ("+" / "-") 4DIGIT
    let sign: i16 = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if s.len() != 5 {
        return None;
    }
    let (zh, zm) = (digits(&s[1..], 2)?, digits(&s[3..], 2)?);
    if zh > 23 || zm > 59 {
        return None;
    }
    let offset_minutes = sign * (zh * 60 + zm) as i16;
    let local = date.days_since_epoch() * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second.min(59));
    Some(DateTime {
        unix: local - i64::from(offset_minutes) * 60,
        offset_minutes,
    })
}

/// Writes `unix` as a date-time in UTC, quotes included:
/// `"14-Nov-2023 22:13:20 +0000"`.
pub fn write_date_time(out: &mut Vec<u8>, unix: i64) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let month = MONTHS[(m - 1) as usize];
    let text = format!(
        "\"{d:02}-{month}-{y:04} {:02}:{:02}:{:02} +0000\"",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Option<DateTime> {
        parse_date_time(s.as_bytes())
    }

    #[test]
    fn date_times() {
        // RFC 3501 §6.3.11 style.
        let t = dt("17-Jul-1996 02:44:25 -0700").unwrap();
        assert_eq!(t.unix, 837_596_665);
        assert_eq!(t.offset_minutes, -420);
        assert_eq!(dt(" 7-Feb-1994 21:52:25 +0000").unwrap().unix, 760_657_945);
        assert_eq!(
            dt("7-Feb-1994 21:52:25 +0100").unwrap().unix,
            760_657_945 - 3600
        );
        assert_eq!(dt("07-feb-1994 21:52:25 +0000").unwrap().unix, 760_657_945);
        assert_eq!(
            dt("29-Feb-2024 00:00:00 +0000").unwrap().unix,
            1_709_164_800
        );
        assert_eq!(dt("31-Dec-1999 23:59:60 +0000").unwrap().unix, 946_684_799);
        // Around the epoch, in zones on both sides.
        assert_eq!(dt(" 1-Jan-1970 00:00:00 +0000").unwrap().unix, 0);
        assert_eq!(dt("01-Jan-1970 01:00:00 +0100").unwrap().unix, 0);
        assert_eq!(dt("31-Dec-1969 23:00:00 -0100").unwrap().unix, 0);
        assert_eq!(
            dt("14-Nov-2023 22:13:20 +0000").unwrap().unix,
            1_700_000_000
        );
    }

    #[test]
    fn bad_date_times() {
        for bad in [
            "29-Feb-2023 00:00:00 +0000",
            "31-Apr-2024 00:00:00 +0000",
            "0-Jan-2024 00:00:00 +0000",
            "01-Foo-2024 00:00:00 +0000",
            "01-Jan-24 00:00:00 +0000",
            "01-Jan-2024 24:00:00 +0000",
            "01-Jan-2024 00:60:00 +0000",
            "01-Jan-2024 00:00:00 0000",
            "01-Jan-2024 00:00:00 +00000",
            "01-Jan-2024 00:00:00 +0060",
            "01-Jan-2024 00:00 +0000",
            "01-Jan-2024  00:00:00 +0000",
            "001-Jan-2024 00:00:00 +0000",
            "14-Nov-2023 22:13:20",
            "",
        ] {
            assert_eq!(dt(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dates() {
        let feb1 = Date {
            year: 1994,
            month: 2,
            day: 1,
        };
        assert_eq!(parse_date(b"1-Feb-1994"), Some(feb1));
        assert_eq!(parse_date(b"01-FEB-1994"), Some(feb1));
        assert_eq!(feb1.days_since_epoch(), 8797);
        for bad in ["1-Feb-94", "Feb-1-1994", "32-Jan-2000", "1-Feb-1994 ", ""] {
            assert_eq!(parse_date(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn written_and_read_back() {
        let mut out = Vec::new();
        write_date_time(&mut out, 1_700_000_000);
        assert_eq!(out, b"\"14-Nov-2023 22:13:20 +0000\"");
        for unix in [0, 951_782_400, 1_700_000_000, -86_400] {
            let mut out = Vec::new();
            write_date_time(&mut out, unix);
            let inner = &out[1..out.len() - 1];
            assert_eq!(parse_date_time(inner).map(|t| t.unix), Some(unix));
        }
    }
}
