//! A student's birth date.

use std::fmt;

use time::Date;
use time::macros::{date, format_description};

/// Dates before this are typing mistakes, not students.
const EARLIEST: Date = date!(1900 - 01 - 01);

/// A real calendar date `YYYY-MM-DD`, not before 1900 and not after today (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate(Date);

impl BirthDate {
    pub fn parse(raw: &str, today: Date) -> Result<Self, String> {
        let format = format_description!("[year]-[month]-[day]");
        let shape_ok = raw.len() == 10
            && raw.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !shape_ok {
            return Err("must be a date written YYYY-MM-DD".into());
        }
        let date = Date::parse(raw, format).map_err(|_| "is not a real calendar date".to_string())?;
        if date > today {
            return Err("must not be in the future".into());
        }
        if date < EARLIEST {
            return Err("must not be before 1900-01-01".into());
        }
        Ok(Self(date))
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = (self.0.year(), u8::from(self.0.month()), self.0.day());
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}
