//! Parsing of the value forms Polars has no parser for: two-place decimals, the time of day of
//! a date, Excel serial days and float noise. Periods and months are [`model::Period`] and
//! [`model::Month`]. Pure functions, tested on their own.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use model::schema::DECIMAL_SCALE;

use crate::clean::DATE_FORMATS;

/// Why text is not a decimal with at most two places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not digits with at most one point and a sign.
    NotANumber,
    /// A third non-zero decimal place.
    TooManyPlaces,
    /// More than nine digits before the point.
    TooLarge,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecimalError::NotANumber => "not a number",
            DecimalError::TooManyPlaces => "more than two decimal places",
            DecimalError::TooLarge => "too large",
        })
    }
}

/// Parses a decimal with at most two places into hundredths: `"95"` → 9500, `"-2.5"` → -250.
pub(crate) fn parse_cents(s: &str) -> Result<i128, DecimalError> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(DecimalError::NotANumber);
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::NotANumber);
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > 2 {
        return Err(DecimalError::TooManyPlaces);
    }
    if whole.len() > 9 {
        return Err(DecimalError::TooLarge);
    }
    let w: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| DecimalError::NotANumber)?
    };
    let mut f = 0i128;
    for (i, b) in frac_trimmed.bytes().enumerate() {
        f += i128::from(b - b'0') * if i == 0 { 10 } else { 1 };
    }
    let v = w * 100 + f;
    Ok(if neg { -v } else { v })
}

/// The time of day of a date written with one (`2024-05-05 08:30`, `2024/5/5 8:30:15`,
/// `2024-05-05T08:30:00`), as `08:30` or `08:30:15`, when it is not midnight: the date is
/// stored and this time is not. `None` for a date without a time, a midnight, or text that is
/// no date.
pub(crate) fn time_of_day(text: &str) -> Option<String> {
    let text = text.trim();
    let at = text.rfind([' ', 'T'])?;
    let (date, time) = (text[..at].trim_end(), &text[at + 1..]);
    if !DATE_FORMATS
        .iter()
        .any(|f| NaiveDate::parse_from_str(date, f).is_ok())
    {
        return None;
    }
    let time = ["%H:%M:%S%.f", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(time, f).ok())?;
    if time == NaiveTime::MIN {
        return None;
    }
    Some(if time.second() == 0 && time.nanosecond() == 0 {
        time.format("%H:%M").to_string()
    } else {
        time.format("%H:%M:%S").to_string()
    })
}

/// Excel counts days from 1899-12-30 (its 1900 leap-year bug included); serial 2958465 is
/// 9999-12-31. The fraction of a day is the time, to the second.
const EXCEL_EPOCH: (i32, u32, u32) = (1899, 12, 30);
const EXCEL_MAX_SERIAL: f64 = 2_958_466.0;

/// The date and time of an Excel serial day number, as a workbook's number cell holds it.
pub(crate) fn excel_serial(serial: f64) -> Option<NaiveDateTime> {
    if !(1.0..EXCEL_MAX_SERIAL).contains(&serial) {
        return None;
    }
    let days = serial.floor();
    let seconds = ((serial - days) * 86_400.0).round() as i64;
    let (y, m, d) = EXCEL_EPOCH;
    let epoch = NaiveDate::from_ymd_opt(y, m, d)?.and_time(NaiveTime::MIN);
    epoch.checked_add_signed(
        chrono::TimeDelta::try_days(days as i64)? + chrono::TimeDelta::try_seconds(seconds)?,
    )
}

/// A floating-point number as the text of a decimal column: rounded to the column's scale
/// when that moves it by less than 1e-9 (`19.499999999999996`, float noise of arithmetic,
/// is 19.5), and otherwise in full, for the decimal check to reject.
pub(crate) fn decimal_text(value: f64) -> String {
    let scale = 10f64.powi(i32::from(DECIMAL_SCALE));
    let scaled = (value * scale).round();
    if value.is_finite() && (value - scaled / scale).abs() < 1e-9 && scaled.abs() < 1e15 {
        format_cents(scaled as i128)
    } else {
        format!("{value}")
    }
}

/// Formats hundredths as a person writes them: 9500 → `95`, 9550 → `95.5`, 9505 → `95.05`.
pub(crate) use model::rules::hundredths_text as format_cents;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_at_most_two_places() {
        assert_eq!(parse_cents("95"), Ok(9500));
        assert_eq!(parse_cents("94.99"), Ok(9499));
        assert_eq!(parse_cents("0.29"), Ok(29));
        assert_eq!(parse_cents("-2.5"), Ok(-250));
        assert_eq!(parse_cents("3.50"), Ok(350));
        assert_eq!(parse_cents("3.500"), Ok(350));
        assert_eq!(parse_cents("3.125"), Err(DecimalError::TooManyPlaces));
        assert_eq!(parse_cents("abc"), Err(DecimalError::NotANumber));
        assert_eq!(parse_cents(""), Err(DecimalError::NotANumber));
        assert_eq!(parse_cents("1e3"), Err(DecimalError::NotANumber));
        assert_eq!(parse_cents("1234567890"), Err(DecimalError::TooLarge));
        assert_eq!(format_cents(9500), "95");
        assert_eq!(format_cents(9550), "95.5");
        assert_eq!(format_cents(-5), "-0.05");
    }

    #[test]
    fn a_time_of_day_is_found_only_when_it_is_not_midnight() {
        assert_eq!(time_of_day("2024-05-05 08:30").as_deref(), Some("08:30"));
        assert_eq!(time_of_day("2024/5/5 8:30").as_deref(), Some("08:30"));
        assert_eq!(
            time_of_day("2024-05-05T08:30:15").as_deref(),
            Some("08:30:15")
        );
        assert_eq!(time_of_day("2024年5月5日 8:30").as_deref(), Some("08:30"));
        assert_eq!(time_of_day("2024-05-05 00:00:00"), None);
        assert_eq!(time_of_day("2024-05-05"), None);
        assert_eq!(time_of_day("someday 08:30"), None);
    }

    #[test]
    fn serial_days_and_float_noise() {
        let t = excel_serial(45413.5).expect("a date");
        assert_eq!(t.to_string(), "2024-05-01 12:00:00");
        assert_eq!(excel_serial(0.0), None);
        assert_eq!(decimal_text(19.499999999999996), "19.5");
        assert_eq!(decimal_text(0.1 + 0.2), "0.3");
        assert_eq!(decimal_text(19.495), "19.495");
        assert_eq!(decimal_text(-2.0), "-2");
    }
}
