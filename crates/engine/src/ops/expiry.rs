//! Declared differences judged against a date: active, expiring soon, or expired.
//!
//! Owns [`ExpiryStatus`], [`DeclaredDifference`] and [`declared_differences`]. Invariants: the
//! date is always passed in (the engine reads no clock; the CLI reads `ENVCTL_TODAY` or the
//! system's); a difference is expired from the day after its `expires` date, and expiring
//! from [`EXPIRY_WARNING_DAYS`] days before it.

use envctl_spec::{CivilDate, Difference};

/// Days before expiry from which a declared difference is flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Where a declared difference stands against a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryStatus {
    /// More than [`EXPIRY_WARNING_DAYS`] days left.
    Active { days_left: i64 },
    /// [`EXPIRY_WARNING_DAYS`] days or fewer left (0 on the day it expires).
    Expiring { days_left: i64 },
    /// Past its date: read-only commands report it, changing commands refuse to rely on it.
    Expired { days_ago: i64 },
}

impl ExpiryStatus {
    /// The status on `today` of a difference that expires on `expires`.
    pub fn of(expires: CivilDate, today: CivilDate) -> ExpiryStatus {
        let days_left = today.days_until(expires);
        if days_left < 0 {
            ExpiryStatus::Expired {
                days_ago: -days_left,
            }
        } else if days_left <= EXPIRY_WARNING_DAYS {
            ExpiryStatus::Expiring { days_left }
        } else {
            ExpiryStatus::Active { days_left }
        }
    }

    /// Days until expiry; negative once expired.
    pub fn days_left(self) -> i64 {
        match self {
            ExpiryStatus::Active { days_left } | ExpiryStatus::Expiring { days_left } => days_left,
            ExpiryStatus::Expired { days_ago } => -days_ago,
        }
    }

    /// True once the date has passed.
    pub fn is_expired(self) -> bool {
        matches!(self, ExpiryStatus::Expired { .. })
    }

    /// True when the difference needs someone's attention (expiring or expired).
    pub fn needs_attention(self) -> bool {
        !matches!(self, ExpiryStatus::Active { .. })
    }
}

/// A declared difference of the spec with where it stands against a date.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredDifference {
    pub difference: Difference,
    pub status: ExpiryStatus,
}

impl DeclaredDifference {
    /// Whether `environment` is one of those the difference sets a value for (and so relies
    /// on it).
    pub fn concerns(&self, environment: &str) -> bool {
        self.difference.values.contains_key(environment)
    }
}

/// Every declared difference, in source order, judged against `today`.
pub fn declared_differences(
    differences: &[Difference],
    today: CivilDate,
) -> Vec<DeclaredDifference> {
    differences
        .iter()
        .map(|d| DeclaredDifference {
            difference: d.clone(),
            status: ExpiryStatus::of(d.expires, today),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> CivilDate {
        text.parse().unwrap_or(CivilDate {
            year: 1970,
            month: 1,
            day: 1,
        })
    }

    #[test]
    fn a_difference_expires_the_day_after_its_date_and_warns_thirty_days_before() {
        let expires = date("2027-06-30");
        assert_eq!(
            ExpiryStatus::of(expires, date("2027-05-30")),
            ExpiryStatus::Active { days_left: 31 }
        );
        assert_eq!(
            ExpiryStatus::of(expires, date("2027-05-31")),
            ExpiryStatus::Expiring { days_left: 30 }
        );
        assert_eq!(
            ExpiryStatus::of(expires, date("2027-06-30")),
            ExpiryStatus::Expiring { days_left: 0 }
        );
        let expired = ExpiryStatus::of(expires, date("2027-07-03"));
        assert_eq!(expired, ExpiryStatus::Expired { days_ago: 3 });
        assert_eq!(expired.days_left(), -3);
        assert!(expired.is_expired() && expired.needs_attention());
    }
}
