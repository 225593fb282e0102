//! Calendar dates without a time zone, for the expiry of declared differences.
//!
//! Owns [`CivilDate`]. Invariant: a `CivilDate` built by this module is a real date of the
//! proleptic Gregorian calendar (the fields are public, so one built by hand may not be; every
//! function here still returns without panicking). Day arithmetic uses Howard Hinnant's
//! `days_from_civil` algorithms.

use std::fmt;
use std::str::FromStr;

/// A date such as `2027-06-30`, ordered chronologically.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct CivilDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// Text that is not a date of the form `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date of the form `YYYY-MM-DD`")]
pub struct DateParseError(pub String);

impl CivilDate {
    /// The date, if `month` and `day` name a real day of `year`.
    pub fn new(year: i32, month: u8, day: u8) -> Option<CivilDate> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(CivilDate { year, month, day })
    }

    /// The date `days` days after 1970-01-01 (negative for earlier dates); how a caller turns
    /// the system clock into today's date. Saturates far outside the range of `i32` years.
    pub fn from_days_since_unix_epoch(days: i64) -> CivilDate {
        // Keeps every intermediate value and the resulting year within range.
        let z = days.clamp(-700_000_000_000, 700_000_000_000) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        CivilDate {
            year: i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX }),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    /// Days from 1970-01-01 to this date (negative before it).
    pub fn days_since_unix_epoch(self) -> i64 {
        let month = i64::from(self.month);
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5
            + i64::from(self.day)
            - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days later (earlier when negative).
    pub fn plus_days(self, days: i64) -> CivilDate {
        CivilDate::from_days_since_unix_epoch(self.days_since_unix_epoch().saturating_add(days))
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: CivilDate) -> i64 {
        later.days_since_unix_epoch() - self.days_since_unix_epoch()
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for CivilDate {
    type Err = DateParseError;

    /// Parses `YYYY-MM-DD` (four-digit year, two-digit month and day).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || DateParseError(text.to_string());
        let mut parts = text.split('-');
        let (Some(year), Some(month), Some(day), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
            return Err(bad());
        }
        let year = year.parse().map_err(|_| bad())?;
        let month = month.parse().map_err(|_| bad())?;
        let day = day.parse().map_err(|_| bad())?;
        CivilDate::new(year, month, day).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_days_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 365, 11_016, 20_000, 2_932_896] {
            let date = CivilDate::from_days_since_unix_epoch(days);
            assert_eq!(date.days_since_unix_epoch(), days, "{date}");
        }
        assert_eq!(
            CivilDate::from_days_since_unix_epoch(0).to_string(),
            "1970-01-01"
        );
        assert_eq!(
            CivilDate::from_days_since_unix_epoch(11_016).to_string(),
            "2000-02-29"
        );
    }

    #[test]
    fn parses_and_displays_iso_dates() {
        let date: CivilDate = "2027-06-30".parse().expect("valid");
        assert_eq!(date, CivilDate::new(2027, 6, 30).expect("valid"));
        assert_eq!(date.to_string(), "2027-06-30");
        for bad in [
            "2027-02-29",
            "2027-6-30",
            "27-06-30",
            "2027-13-01",
            "",
            "2027-06-30-1",
        ] {
            assert!(bad.parse::<CivilDate>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn orders_chronologically_and_counts_days() {
        let a = CivilDate::new(2026, 12, 31).expect("valid");
        let b = CivilDate::new(2027, 1, 1).expect("valid");
        assert!(a < b);
        assert_eq!(a.days_until(b), 1);
        assert_eq!(a.plus_days(1), b);
    }

    #[test]
    fn extreme_day_counts_saturate_instead_of_panicking() {
        let _ = CivilDate::from_days_since_unix_epoch(i64::MAX);
        let _ = CivilDate::from_days_since_unix_epoch(i64::MIN);
    }
}
