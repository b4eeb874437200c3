//! When the alternative speed limits apply: a daily window (`begin`/`end`, local
//! time) on chosen weekdays, as Transmission's "turtle mode" schedule.
//!
//! [`AltSpeedWindow::is_active`] is pure (the core passes [`local_time_now`] once
//! a minute); parsing names the value that was wrong.

use std::fmt;

use crate::api_types::AltSpeedSchedule;

/// Minutes in a day.
const DAY_MINUTES: u16 = 24 * 60;

/// A bad `HH:MM` or day name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("'{value}' is not a time of day (HH:MM, 00:00 to 23:59)")]
    BadTime { value: String },
    #[error("'{value}' is not a day (mon, tue, wed, thu, fri, sat, sun)")]
    BadDay { value: String },
}

/// A minute of the day, 00:00 to 23:59.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    minute: u16,
}

impl TimeOfDay {
    /// `hour` 0..=23, `minute` 0..=59.
    pub fn new(hour: u8, minute: u8) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60).then(|| TimeOfDay {
            minute: u16::from(hour) * 60 + u16::from(minute),
        })
    }

    /// Parses `HH:MM` (one or two hour digits, two minute digits).
    pub fn parse(value: &str) -> Result<TimeOfDay, ScheduleError> {
        let bad = || ScheduleError::BadTime {
            value: value.to_string(),
        };
        let (h, m) = value.trim().split_once(':').ok_or_else(bad)?;
        let digits = |s: &str, max_len: usize| {
            (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u8>().ok())
                .flatten()
        };
        let hour = digits(h, 2).ok_or_else(bad)?;
        let minute = (m.len() == 2).then(|| digits(m, 2)).flatten().ok_or_else(bad)?;
        TimeOfDay::new(hour, minute).ok_or_else(bad)
    }

    /// Minutes since midnight.
    pub fn minute_of_day(&self) -> u16 {
        self.minute
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minute / 60, self.minute % 60)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// `mon`..`sun`, or the full English name, any case.
    pub fn parse(value: &str) -> Result<Weekday, ScheduleError> {
        let lower = value.trim().to_ascii_lowercase();
        Weekday::ALL
            .into_iter()
            .find(|d| lower == d.short_name() || lower == d.full_name())
            .ok_or_else(|| ScheduleError::BadDay {
                value: value.to_string(),
            })
    }

    pub fn short_name(&self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self.index()]
    }

    fn full_name(&self) -> &'static str {
        [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ][self.index()]
    }

    fn index(&self) -> usize {
        *self as usize
    }

    /// The day before (the day a window spanning midnight began on).
    pub fn previous(&self) -> Weekday {
        Weekday::ALL[(self.index() + 6) % 7]
    }
}

/// A local weekday and minute of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: Weekday,
    pub time: TimeOfDay,
}

/// The local weekday and time now, with the system's time zone (`TZ`, else
/// `/etc/localtime`; UTC when neither can be read), so daylight-saving changes
/// during a long run are followed.
pub fn local_time_now() -> LocalTime {
    let now = jiff::Zoned::now();
    let weekday = Weekday::ALL[usize::from(now.weekday().to_monday_zero_offset().unsigned_abs())];
    let hour = now.hour().unsigned_abs();
    let minute = now.minute().unsigned_abs();
    LocalTime {
        weekday,
        // jiff keeps hour in 0..=23 and minute in 0..=59.
        time: TimeOfDay::new(hour, minute).unwrap_or(TimeOfDay { minute: 0 }),
    }
}

/// The window in which the alternative limits apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AltSpeedWindow {
    pub begin: TimeOfDay,
    /// Before `begin`: the window spans midnight and belongs to the day it began.
    /// Equal to `begin`: the whole day.
    pub end: TimeOfDay,
    /// The days the window begins on; empty = every day.
    pub days: Vec<Weekday>,
}

impl AltSpeedWindow {
    /// From the API's (and the config's) strings.
    pub fn from_schedule(schedule: &AltSpeedSchedule) -> Result<AltSpeedWindow, ScheduleError> {
        Ok(AltSpeedWindow {
            begin: TimeOfDay::parse(&schedule.begin)?,
            end: TimeOfDay::parse(&schedule.end)?,
            days: schedule
                .days
                .iter()
                .map(|d| Weekday::parse(d))
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn to_schedule(&self) -> AltSpeedSchedule {
        AltSpeedSchedule {
            begin: self.begin.to_string(),
            end: self.end.to_string(),
            days: self.days.iter().map(|d| d.short_name().to_string()).collect(),
        }
    }

    fn begins_on(&self, day: Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&day)
    }

    /// Whether the alternative limits apply at `at`. `begin` is inside the window,
    /// `end` is not. A window from 22:00 to 07:00 on `fri` covers Friday 22:00 to
    /// Saturday 06:59.
    pub fn is_active(&self, at: LocalTime) -> bool {
        let (begin, end, now) = (self.begin.minute, self.end.minute, at.time.minute);
        debug_assert!(begin < DAY_MINUTES && end < DAY_MINUTES && now < DAY_MINUTES);
        if begin == end {
            return self.begins_on(at.weekday);
        }
        if begin < end {
            return self.begins_on(at.weekday) && (begin..end).contains(&now);
        }
        // Spans midnight: the evening part began today, the morning part yesterday.
        (now >= begin && self.begins_on(at.weekday)) || (now < end && self.begins_on(at.weekday.previous()))
    }
}

/// Whether the alternative limits apply: switched on by hand, or inside the
/// scheduled window.
pub fn alt_speed_active(by_hand: bool, schedule: Option<&AltSpeedWindow>, now: LocalTime) -> bool {
    by_hand || schedule.is_some_and(|w| w.is_active(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(weekday: Weekday, hhmm: &str) -> LocalTime {
        LocalTime {
            weekday,
            time: TimeOfDay::parse(hhmm).unwrap(),
        }
    }

    fn window(begin: &str, end: &str, days: &[&str]) -> AltSpeedWindow {
        AltSpeedWindow::from_schedule(&AltSpeedSchedule {
            begin: begin.into(),
            end: end.into(),
            days: days.iter().map(|d| d.to_string()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn parses_times_and_names_a_bad_one() {
        assert_eq!(TimeOfDay::parse("07:05").unwrap().minute_of_day(), 7 * 60 + 5);
        assert_eq!(TimeOfDay::parse("7:05").unwrap().to_string(), "07:05");
        assert_eq!(TimeOfDay::parse("23:59").unwrap().minute_of_day(), DAY_MINUTES - 1);
        for bad in [
            "24:00", "12:60", "12:5", "1205", "", "ab:cd", "-1:00", "12:+5", "123:00",
        ] {
            assert_eq!(
                TimeOfDay::parse(bad),
                Err(ScheduleError::BadTime { value: bad.into() }),
                "{bad}"
            );
        }
        assert_eq!(
            TimeOfDay::parse("25:00").unwrap_err().to_string(),
            "'25:00' is not a time of day (HH:MM, 00:00 to 23:59)"
        );
    }

    #[test]
    fn parses_days_and_names_a_bad_one() {
        assert_eq!(Weekday::parse("Mon"), Ok(Weekday::Mon));
        assert_eq!(Weekday::parse("sunday"), Ok(Weekday::Sun));
        assert_eq!(Weekday::parse("fr"), Err(ScheduleError::BadDay { value: "fr".into() }));
        let schedule = AltSpeedSchedule {
            begin: "22:00".into(),
            end: "07:00".into(),
            days: vec!["mon".into(), "funday".into()],
        };
        assert_eq!(
            AltSpeedWindow::from_schedule(&schedule),
            Err(ScheduleError::BadDay { value: "funday".into() })
        );
    }

    #[test]
    fn a_daytime_window_includes_begin_and_excludes_end() {
        let w = window("09:00", "17:30", &[]);
        assert!(!w.is_active(at(Weekday::Tue, "08:59")));
        assert!(w.is_active(at(Weekday::Tue, "09:00")));
        assert!(w.is_active(at(Weekday::Sun, "17:29")));
        assert!(!w.is_active(at(Weekday::Sun, "17:30")));
    }

    #[test]
    fn a_window_over_midnight_belongs_to_the_day_it_began() {
        let w = window("22:00", "07:00", &["fri"]);
        assert!(!w.is_active(at(Weekday::Fri, "21:59")));
        assert!(w.is_active(at(Weekday::Fri, "22:00")));
        assert!(w.is_active(at(Weekday::Sat, "06:59")));
        assert!(!w.is_active(at(Weekday::Sat, "07:00")));
        assert!(!w.is_active(at(Weekday::Sat, "22:00")));
        // Friday morning belongs to Thursday's window, which is not scheduled.
        assert!(!w.is_active(at(Weekday::Fri, "03:00")));
        // Sunday's night runs into Monday.
        let sun = window("23:00", "01:00", &["sun"]);
        assert!(sun.is_active(at(Weekday::Mon, "00:30")));
    }

    #[test]
    fn equal_begin_and_end_is_the_whole_day() {
        let w = window("00:00", "00:00", &["sat", "sun"]);
        assert!(w.is_active(at(Weekday::Sat, "00:00")));
        assert!(w.is_active(at(Weekday::Sun, "23:59")));
        assert!(!w.is_active(at(Weekday::Mon, "12:00")));
    }

    #[test]
    fn by_hand_or_by_schedule() {
        let w = window("22:00", "07:00", &[]);
        assert!(alt_speed_active(true, None, at(Weekday::Mon, "12:00")));
        assert!(alt_speed_active(true, Some(&w), at(Weekday::Mon, "12:00")));
        assert!(!alt_speed_active(false, Some(&w), at(Weekday::Mon, "12:00")));
        assert!(alt_speed_active(false, Some(&w), at(Weekday::Mon, "23:00")));
        assert!(!alt_speed_active(false, None, at(Weekday::Mon, "23:00")));
    }

    #[test]
    fn schedule_round_trips() {
        let w = window("7:00", "19:15", &["Monday", "tue"]);
        let s = w.to_schedule();
        assert_eq!(s.begin, "07:00");
        assert_eq!(s.days, vec!["mon", "tue"]);
        assert_eq!(AltSpeedWindow::from_schedule(&s), Ok(w));
    }

    #[test]
    fn local_time_now_agrees_with_date() {
        // `date +%u %H:%M` (1 = Monday) with the same TZ rules; retried once if a
        // minute turned between the two readings.
        let date = || {
            let out = std::process::Command::new("date").arg("+%u %H:%M").output().unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        for _ in 0..2 {
            let before = date();
            let now = local_time_now();
            if before == date() {
                let (day, time) = before.split_once(' ').unwrap();
                let day: usize = day.parse().unwrap();
                assert_eq!(now.weekday, Weekday::ALL[day - 1]);
                assert_eq!(now.time.to_string(), time);
                return;
            }
        }
        panic!("the minute turned twice while reading the time");
    }
}
