//! Time zones of the report and the translation of a local-clock window into UTC ranges.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{FixedOffset, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetComponents, Tz};
use datafusion::common::{Result, plan_err};

/// A report time zone: an IANA zone, or a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// An IANA zone such as `America/New_York`, with its daylight saving rules.
    Named(Tz),
    /// A fixed offset such as `+05:30` (UTC is `+00:00`).
    Fixed(FixedOffset),
}

impl Zone {
    /// The UTC zone.
    pub const UTC: Zone = Zone::Named(Tz::UTC);

    /// Parses an IANA zone name (`America/New_York`, `UTC`) or an offset (`+05:30`, `-08`, `+0530`).
    pub fn parse(text: &str) -> Result<Zone> {
        let t = text.trim();
        if let Some(offset) = parse_offset(t) {
            return Ok(Zone::Fixed(offset));
        }
        if let Ok(tz) = Tz::from_str(t).or_else(|_| Tz::from_str_insensitive(t)) {
            Ok(Zone::Named(tz))
        } else {
            plan_err!(
                "unknown time zone '{text}': use an IANA name such as 'America/New_York' or an offset such as '+05:30'"
            )
        }
    }

    /// This zone with daylight saving time ignored: the standard offset in effect at `at`.
    #[must_use]
    pub fn without_dst(self, at: NaiveDateTime) -> Zone {
        match self {
            Zone::Fixed(_) => self,
            Zone::Named(tz) => {
                let offset = tz.offset_from_utc_datetime(&at);
                let seconds = offset.base_utc_offset().num_seconds();
                Zone::Fixed(fixed(i32::try_from(seconds).unwrap_or(0)))
            }
        }
    }

    /// Offset from UTC, in seconds, of the local clock at the UTC instant `utc` (epoch seconds).
    pub fn offset_at(self, utc: i64) -> i64 {
        let Some(at) = chrono::DateTime::from_timestamp(utc, 0) else {
            return 0;
        };
        let at = at.naive_utc();
        match self {
            Zone::Fixed(offset) => i64::from(offset.local_minus_utc()),
            Zone::Named(tz) => i64::from(tz.offset_from_utc_datetime(&at).fix().local_minus_utc()),
        }
    }

    /// The date on this zone's clock at the instant `now`.
    pub fn date_at(self, now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        let utc = now.timestamp();
        chrono::DateTime::from_timestamp(utc + self.offset_at(utc), 0)
            .unwrap_or(now)
            .date_naive()
    }

    /// The Arrow time zone string that shows instants in this zone.
    pub fn arrow_name(self) -> Arc<str> {
        match self {
            Zone::Named(tz) => tz.name().into(),
            Zone::Fixed(offset) => {
                let s = offset.local_minus_utc();
                let sign = if s < 0 { '-' } else { '+' };
                let s = s.abs();
                format!("{sign}{:02}:{:02}", s / 3600, (s % 3600) / 60).into()
            }
        }
    }

    /// The UTC instants (epoch seconds) whose local clock reading `r` satisfies
    /// `start <= r < end`, as sorted, disjoint half-open ranges `[lo, hi)`.
    ///
    /// Usually one range; a window edge inside the repeated hour of a fall-back day gives two,
    /// and a window entirely inside a spring-forward gap gives none.
    #[allow(clippy::many_single_char_names)] // s, e: the window; a, b: a segment; t: the walk
    pub fn utc_ranges(self, start: NaiveDateTime, end: NaiveDateTime) -> Vec<(i64, i64)> {
        // Offsets never exceed 26 hours, so every candidate instant lies in the window widened
        // by this margin.
        const MARGIN: i64 = 26 * 3600;
        // The walk's step; it bisects to the second wherever the offset changes.
        const STEP: i64 = 3600;
        let s = start.and_utc().timestamp();
        let e = end.and_utc().timestamp();
        if e <= s {
            return Vec::new();
        }
        let (lo, hi) = (s - MARGIN, e + MARGIN);
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        let mut push = |a: i64, b: i64, off: i64| {
            let (a, b) = (a.max(s - off), b.min(e - off));
            if a < b {
                match ranges.last_mut() {
                    Some(last) if last.1 >= a => last.1 = last.1.max(b),
                    _ => ranges.push((a, b)),
                }
            }
        };
        // Walk the span in steps, bisecting to the second wherever the offset changes.
        let mut seg_start = lo;
        let mut off = self.offset_at(lo);
        let mut t = lo;
        while t < hi {
            let next = (t + STEP).min(hi);
            let next_off = self.offset_at(next);
            if next_off != off {
                // Find the first second at which the offset differs from `off`.
                let (mut a, mut b) = (t, next);
                while b - a > 1 {
                    let m = a + (b - a) / 2;
                    if self.offset_at(m) == off { a = m } else { b = m }
                }
                push(seg_start, b, off);
                seg_start = b;
                off = self.offset_at(b);
                t = b;
                continue;
            }
            t = next;
        }
        push(seg_start, hi, off);
        ranges
    }
}

fn fixed(seconds: i32) -> FixedOffset {
    FixedOffset::east_opt(seconds).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// Parses `+HH:MM`, `-HH:MM`, `+HHMM`, `+HH` and `Z`.
fn parse_offset(t: &str) -> Option<FixedOffset> {
    if t == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || rest.matches(':').count() > 1 {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    if h > 18 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn utc(s: &str) -> i64 {
        dt(s).and_utc().timestamp()
    }

    #[test]
    fn parses_zones() {
        assert_eq!(Zone::parse("+05:30").unwrap().arrow_name().as_ref(), "+05:30");
        assert_eq!(Zone::parse("-08").unwrap().arrow_name().as_ref(), "-08:00");
        assert_eq!(
            Zone::parse("america/new_york").unwrap().arrow_name().as_ref(),
            "America/New_York"
        );
        assert!(
            Zone::parse("Mars/Olympus")
                .unwrap_err()
                .to_string()
                .contains("'Mars/Olympus'")
        );
        assert!(Zone::parse("+25:00").is_err());
    }

    #[test]
    fn plain_day_is_one_range() {
        let z = Zone::parse("America/New_York").unwrap();
        let r = z.utc_ranges(dt("2026-01-10 00:00:00"), dt("2026-01-11 00:00:00"));
        assert_eq!(r, vec![(utc("2026-01-10 05:00:00"), utc("2026-01-11 05:00:00"))]);
    }

    #[test]
    fn spring_forward_day_has_23_hours() {
        let z = Zone::parse("America/New_York").unwrap();
        let r = z.utc_ranges(dt("2026-03-08 00:00:00"), dt("2026-03-09 00:00:00"));
        assert_eq!(r, vec![(utc("2026-03-08 05:00:00"), utc("2026-03-09 04:00:00"))]);
        // a window inside the gap is empty
        assert!(
            z.utc_ranges(dt("2026-03-08 02:00:00"), dt("2026-03-08 03:00:00"))
                .is_empty()
        );
    }

    #[test]
    fn fall_back_edge_splits_the_window() {
        let z = Zone::parse("America/New_York").unwrap();
        // 00:00 to 01:30 local on fall-back day: 04:00-05:30 UTC (EDT) and 06:00-06:30 UTC (EST)
        let r = z.utc_ranges(dt("2026-11-01 00:00:00"), dt("2026-11-01 01:30:00"));
        assert_eq!(
            r,
            vec![
                (utc("2026-11-01 04:00:00"), utc("2026-11-01 05:30:00")),
                (utc("2026-11-01 06:00:00"), utc("2026-11-01 06:30:00"))
            ]
        );
        let day = z.utc_ranges(dt("2026-11-01 00:00:00"), dt("2026-11-02 00:00:00"));
        assert_eq!(
            day,
            vec![(utc("2026-11-01 04:00:00"), utc("2026-11-02 05:00:00"))]
        );
    }

    #[test]
    fn standard_offset_ignores_dst() {
        let z = Zone::parse("America/New_York").unwrap();
        let at = NaiveDate::from_ymd_opt(2026, 7, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(z.without_dst(at).arrow_name().as_ref(), "-05:00");
    }
}
