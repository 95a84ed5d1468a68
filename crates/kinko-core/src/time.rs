//! Japan time, the one zone of every day, hour and date a person sees or
//! types (JST, UTC+9, no daylight saving). Times are stored in UTC as RFC
//! 3339 with microseconds and a `Z` ([`now`]), so bounds made here
//! compare as strings with stored times.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, Utc};

use crate::error::{Error, Result};

/// The current time in UTC, to the microsecond (A1, A6).
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Japan Standard Time.
pub fn japan() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// The UTC instant at which Japan day `day` begins, in the stored format.
/// Today, as a day in Japan.
pub fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&japan()).date_naive()
}

/// The UTC instant at which Japan day `day` begins, in the stored format.
pub fn day_start(day: NaiveDate) -> String {
    stored(start_of(day))
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN)
        .and_local_timezone(japan())
        .single()
        .expect("Japan has no daylight saving")
        .with_timezone(&Utc)
}

/// A UTC time in the stored format.
fn stored(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The UTC bounds `[start, end)` of the Japan days `from` to `to`.
pub fn day_bounds(from: NaiveDate, to: NaiveDate) -> (String, String) {
    (day_start(from), day_start(to + Duration::days(1)))
}

/// The Japan day of a stored time (the epoch's day if it is not one).
pub fn japan_day(at: &str) -> NaiveDate {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&japan()).date_naive())
        .unwrap_or_default()
}

/// The lower bound of a period typed by a person: a date (YYYY-MM-DD) is
/// the start of that Japan day; a full RFC 3339 time is taken as it is.
/// `what` names the field in the error.
pub fn since(what: &str, text: &str) -> Result<String> {
    bound(what, text, day_start)
}

/// The upper bound (inclusive) of a period typed by a person: a date is
/// the last microsecond of that Japan day.
pub fn until(what: &str, text: &str) -> Result<String> {
    bound(what, text, |day| {
        stored(start_of(day + Duration::days(1)) - Duration::microseconds(1))
    })
}

fn bound(what: &str, text: &str, of_day: impl Fn(NaiveDate) -> String) -> Result<String> {
    let t = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(of_day(day));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|at| stored(at.with_timezone(&Utc)))
        .map_err(|_| {
            Error::invalid(format!(
                "{what} must be a date like 2026-11-25 (a Japan day) or a time like 2026-11-25T09:00:00+09:00"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_days_start_at_15_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(day_start(d), "2026-11-24T15:00:00.000000Z");
        assert_eq!(
            since("since", "2026-11-25").unwrap(),
            "2026-11-24T15:00:00.000000Z"
        );
        assert_eq!(
            until("until", "2026-11-25").unwrap(),
            "2026-11-25T14:59:59.999999Z"
        );
        assert_eq!(
            since("since", "2026-11-25T09:00:00+09:00").unwrap(),
            "2026-11-25T00:00:00.000000Z"
        );
        assert_eq!(japan_day("2026-11-24T15:00:00.000000Z"), d);
        assert_eq!(
            japan_day("2026-11-24T14:59:59.999999Z"),
            d.pred_opt().unwrap()
        );
        let e = since("--since", "25/11/2026").unwrap_err().to_string();
        assert!(e.contains("--since"), "{e}");
    }
}
