//! The report window: date and time arguments, presets, and their validation.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use datafusion::common::{Result, plan_err};

/// A local-clock window `[start, end)` in the report's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First local instant in the report.
    pub start: NaiveDateTime,
    /// First local instant after the report (the inclusive end plus one minute or one second).
    pub end: NaiveDateTime,
}

/// An end time with the precision it was given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTime {
    /// The inclusive end time.
    pub time: NaiveTime,
    /// Whether it was written `HH:MM:SS` (the unit is one second) rather than `HH:MM` (one minute).
    pub has_seconds: bool,
}

impl EndTime {
    /// The default end time, `23:59`: the whole end day.
    pub const END_OF_DAY: EndTime = EndTime {
        time: NaiveTime::from_hms_opt(23, 59, 0).expect("valid time"),
        has_seconds: false,
    };
}

impl Window {
    /// The window from `start_date + start_time` through `end_date + end_time` inclusive.
    pub fn new(
        start_date: NaiveDate,
        end_date: NaiveDate,
        start_time: NaiveTime,
        end_time: EndTime,
    ) -> Result<Window> {
        let start = start_date.and_time(start_time);
        let last = end_date.and_time(end_time.time);
        if last < start {
            return plan_err!(
                "agent_refusal: the end {} is before the start {}",
                fmt_instant(last, end_time.has_seconds),
                fmt_instant(start, true)
            );
        }
        let unit = if end_time.has_seconds {
            TimeDelta::seconds(1)
        } else {
            TimeDelta::minutes(1)
        };
        Ok(Window {
            start,
            end: last + unit,
        })
    }
}

/// A date-range preset of CXone's report, relative to today in the report's zone.
///
/// `last 7 days` and `last 30 days` are the full days before today; weeks start on Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Today so far (the whole day).
    Today,
    /// The day before today.
    Yesterday,
    /// The 7 full days before today.
    Last7Days,
    /// The 30 full days before today.
    Last30Days,
    /// The previous Sunday-to-Saturday week.
    PreviousWeek,
    /// The previous calendar month.
    PreviousMonth,
    /// The first of this month through today.
    MonthToDate,
}

impl Preset {
    /// Every preset, in CXone's order.
    pub const ALL: [Preset; 7] = [
        Preset::Today,
        Preset::Yesterday,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::PreviousWeek,
        Preset::PreviousMonth,
        Preset::MonthToDate,
    ];

    /// The preset's name, as `agent_refusal(preset)` and `report --range` take it.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::Yesterday => "yesterday",
            Preset::Last7Days => "last 7 days",
            Preset::Last30Days => "last 30 days",
            Preset::PreviousWeek => "previous week",
            Preset::PreviousMonth => "previous month",
            Preset::MonthToDate => "month to date",
        }
    }

    /// Parses a preset name: case is ignored and spaces, `_` and `-` are interchangeable.
    pub fn parse(name: &str) -> Result<Preset> {
        let key = normalize_preset(name);
        if let Some(p) = Self::ALL.into_iter().find(|p| normalize_preset(p.name()) == key) {
            Ok(p)
        } else {
            plan_err!(
                "agent_refusal: unknown date range preset '{name}': use one of {}",
                Self::ALL.map(Preset::name).join(", ")
            )
        }
    }

    /// The preset's window, relative to `today` in the report's zone.
    pub fn window(self, today: NaiveDate) -> Result<Window> {
        let days = |n: u64| today.checked_sub_days(Days::new(n)).unwrap_or(today);
        let first_of_month = today.with_day(1).unwrap_or(today);
        let (from, to) = match self {
            Preset::Today => (today, today),
            Preset::Yesterday => (days(1), days(1)),
            Preset::Last7Days => (days(7), days(1)),
            Preset::Last30Days => (days(30), days(1)),
            Preset::PreviousWeek => {
                let this_sunday = days(u64::from(today.weekday().num_days_from_sunday()));
                let sunday = this_sunday - Days::new(7);
                (sunday, sunday + Days::new(6))
            }
            Preset::PreviousMonth => (first_of_month - Months::new(1), first_of_month - Days::new(1)),
            Preset::MonthToDate => (first_of_month, today),
        };
        Window::new(from, to, NaiveTime::MIN, EndTime::END_OF_DAY)
    }
}

impl std::str::FromStr for Preset {
    type Err = datafusion::error::DataFusionError;

    fn from_str(name: &str) -> Result<Preset> {
        Preset::parse(name)
    }
}

fn normalize_preset(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Parses a `YYYY-MM-DD` date, naming the value and the argument on error.
pub fn parse_date(text: &str, what: &str) -> Result<NaiveDate> {
    let t = text.trim();
    // exactly YYYY-MM-DD: chrono alone would also take a sign or a short year
    let ok = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        Ok(d) if ok => Ok(d),
        _ => plan_err!("agent_refusal: invalid {what} '{text}': expected a date YYYY-MM-DD"),
    }
}

/// Parses `HH:MM` or `HH:MM:SS` (24-hour clock), naming the value and the argument on error.
pub fn parse_time(text: &str, what: &str) -> Result<EndTime> {
    let t = text.trim();
    let parts: Vec<&str> = t.split(':').collect();
    let two_digits = |p: &&str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if (parts.len() == 2 || parts.len() == 3) && parts.iter().all(two_digits) {
        let n: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        if let Some(time) = NaiveTime::from_hms_opt(n[0], n[1], n.get(2).copied().unwrap_or(0)) {
            return Ok(EndTime {
                time,
                has_seconds: parts.len() == 3,
            });
        }
    }
    plan_err!("agent_refusal: invalid {what} '{text}': expected a time HH:MM or HH:MM:SS (00:00 to 23:59:59)")
}

fn fmt_instant(t: NaiveDateTime, seconds: bool) -> String {
    t.format(if seconds {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn d(s: &str) -> NaiveDate {
        parse_date(s, "date").unwrap()
    }

    #[test]
    fn parses_and_rejects() {
        assert!(
            parse_date("2026-02-30", "start date")
                .unwrap_err()
                .to_string()
                .contains("'2026-02-30'")
        );
        assert!(parse_date("2026-2-3", "start date").is_err());
        for odd in ["+999-01-01", "-001-01-01", "2026-03-0a", "2026/03/01"] {
            assert!(parse_date(odd, "start date").is_err(), "{odd}");
        }
        assert!(
            parse_time("25:00", "end time")
                .unwrap_err()
                .to_string()
                .contains("'25:00'")
        );
        assert!(parse_time("7:00", "end time").is_err());
        assert!(parse_time("07:59:59", "end time").unwrap().has_seconds);
        assert!(!parse_time("06:59", "end time").unwrap().has_seconds);
    }

    #[test]
    fn end_is_inclusive_by_unit() {
        let w = Window::new(
            d("2026-03-01"),
            d("2026-03-02"),
            NaiveTime::MIN,
            parse_time("06:59", "t").unwrap(),
        )
        .unwrap();
        assert_eq!(w.end, d("2026-03-02").and_hms_opt(7, 0, 0).unwrap());
        let w = Window::new(
            d("2026-03-01"),
            d("2026-03-02"),
            NaiveTime::MIN,
            parse_time("06:59:59", "t").unwrap(),
        )
        .unwrap();
        assert_eq!(w.end, d("2026-03-02").and_hms_opt(7, 0, 0).unwrap());
        let w = Window::new(
            d("2026-03-01"),
            d("2026-03-01"),
            NaiveTime::MIN,
            EndTime::END_OF_DAY,
        )
        .unwrap();
        assert_eq!(w.end, d("2026-03-02").and_hms_opt(0, 0, 0).unwrap());
        assert!(
            Window::new(
                d("2026-03-02"),
                d("2026-03-01"),
                NaiveTime::MIN,
                EndTime::END_OF_DAY
            )
            .is_err()
        );
    }

    #[test]
    fn presets() {
        let today = d("2026-11-26"); // a Thursday
        let p = |n| Preset::parse(n).unwrap().window(today).unwrap();
        assert_eq!(p("today").start.date(), today);
        assert_eq!(p("yesterday").start.date(), d("2026-11-25"));
        assert_eq!(
            (p("Last 7 Days").start.date(), p("last 7 days").end.date()),
            (d("2026-11-19"), today)
        );
        assert_eq!(
            (p("previous week").start.date(), p("previous week").end.date()),
            (d("2026-11-15"), d("2026-11-22"))
        );
        assert_eq!(p("previous week").start.date().weekday(), Weekday::Sun);
        assert_eq!(
            (p("previous_month").start.date(), p("previous month").end.date()),
            (d("2026-10-01"), d("2026-11-01"))
        );
        assert_eq!(p("month to date").start.date(), d("2026-11-01"));
        assert!(Preset::parse("fortnight").is_err());
    }
}
