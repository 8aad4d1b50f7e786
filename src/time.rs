//! Calendar arithmetic for the dates mail carries, without a date crate:
//! RFC 5322 §3.3 `Date:`/`Received:` stamps and IMAP's date-time.
//! Times are Unix seconds in UTC; smolmail stamps in UTC (`+0000`).

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, using
/// Howard Hinnant's civil-from-days algorithm (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// The calendar fields of a Unix time in UTC: weekday and month names,
/// year, day of month, hour, minute, second.
struct Fields {
    weekday: &'static str,
    month: &'static str,
    year: i64,
    day: u32,
    hms: (i64, i64, i64),
}

fn fields(unix: i64) -> Fields {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, m, day) = civil_from_days(days);
    Fields {
        weekday: WEEKDAYS[days.rem_euclid(7) as usize],
        month: MONTHS[(m - 1) as usize],
        year,
        day,
        hms: (secs / 3600, secs / 60 % 60, secs % 60),
    }
}

/// RFC 5322 §3.3 date-time in UTC, e.g. `Mon, 23 Nov 2026 05:02:21 +0000`.
pub fn rfc5322(unix: i64) -> String {
    let Fields {
        weekday,
        month,
        year,
        day,
        hms: (h, mi, s),
    } = fields(unix);
    format!("{weekday}, {day} {month} {year} {h:02}:{mi:02}:{s:02} +0000")
}

/// RFC 9110 §5.6.7 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`: the
/// HTTP `Date` field, which an origin server with a clock sends in every
/// answer (RFC 9110 §6.6.1).
pub fn imf_fixdate(unix: i64) -> String {
    let Fields {
        weekday,
        month,
        year,
        day,
        hms: (h, mi, s),
    } = fields(unix);
    format!("{weekday}, {day:02} {month} {year:04} {h:02}:{mi:02}:{s:02} GMT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9110_5_6_7_imf_fixdate() {
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn known_dates() {
        assert_eq!(rfc5322(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(rfc5322(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc5322(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
    }

    #[test]
    fn round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
