//! Japanese era dates (和暦) for the printed forms: 令和7年4月1日.
//! Eras from 大正 on cover every date a form can carry (birth dates of
//! living people, receipt and approval dates).

use chrono::{Datelike, NaiveDate};

/// (era name, first day) from the newest back.
const ERAS: [(&str, (i32, u32, u32)); 4] = [
    ("令和", (2019, 5, 1)),
    ("平成", (1989, 1, 8)),
    ("昭和", (1926, 12, 25)),
    ("大正", (1912, 7, 30)),
];

/// `date` in the Japanese era form, e.g. 令和7年11月25日 (元年 for year 1).
/// Dates before 大正 are written in the Western calendar.
pub fn format(date: NaiveDate) -> String {
    for (name, (y, m, d)) in ERAS {
        let start = NaiveDate::from_ymd_opt(y, m, d).expect("era start dates are valid");
        if date >= start {
            let year = date.year() - y + 1;
            let year = if year == 1 {
                "元".to_string()
            } else {
                year.to_string()
            };
            return format!("{name}{year}年{}月{}日", date.month(), date.day());
        }
    }
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

/// The blank date of a form to be filled in by hand: 令和　　年　　月　　日.
pub const BLANK: &str = "令和　　年　　月　　日";

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn era_boundaries() {
        assert_eq!(format(d(2019, 4, 30)), "平成31年4月30日");
        assert_eq!(format(d(2019, 5, 1)), "令和元年5月1日");
        assert_eq!(format(d(2020, 1, 1)), "令和2年1月1日");
        assert_eq!(format(d(2026, 11, 25)), "令和8年11月25日");
        assert_eq!(format(d(1989, 1, 7)), "昭和64年1月7日");
        assert_eq!(format(d(1989, 1, 8)), "平成元年1月8日");
        assert_eq!(format(d(1975, 6, 15)), "昭和50年6月15日");
        assert_eq!(format(d(1926, 12, 24)), "大正15年12月24日");
        assert_eq!(format(d(1900, 1, 1)), "1900年1月1日");
    }
}
