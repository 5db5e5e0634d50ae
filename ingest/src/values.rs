//! Parsing of the value forms a county file writes: whole numbers, two-place decimals, dates
//! (with their time of day), yes/no, Excel serial days and float noise. Periods and months are
//! [`model::Period`] and [`model::Month`]. Pure functions, tested on their own, called once per
//! cell: nothing here allocates for a value that parses.

use std::fmt;
use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use model::schema::DECIMAL_SCALE;

/// Date forms a county file uses. A bare number is none of them (`2024` is a year, not day
/// 2024 of Excel's calendar): Excel serial days exist only in workbook number cells, and the
/// workbook reader turns those into dates.
pub(crate) const DATE_FORMATS: &[&str] =
    &["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y%m%d"];

/// The same dates with a time of day, as spreadsheets and databases export them. The date is
/// stored; the reader reports a time other than midnight as not stored.
pub(crate) const DATE_TIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
];

/// How yes/no columns are written (compared lower-cased).
const BOOLEAN_SPELLINGS: &[(&str, bool)] = &[
    ("是", true),
    ("否", false),
    ("y", true),
    ("n", false),
    ("yes", true),
    ("no", false),
    ("true", true),
    ("false", false),
    ("1", true),
    ("0", false),
];

/// The formats, parsed once: chrono's `parse_from_str` would parse the format again for every
/// cell, which was most of the time a county's date columns took.
static DATE_ITEMS: LazyLock<Vec<Vec<Item<'static>>>> = LazyLock::new(|| compile(DATE_FORMATS));
static DATE_TIME_ITEMS: LazyLock<Vec<Vec<Item<'static>>>> =
    LazyLock::new(|| compile(DATE_TIME_FORMATS));

fn compile(formats: &[&'static str]) -> Vec<Vec<Item<'static>>> {
    formats
        .iter()
        .map(|f| StrftimeItems::new(f).collect())
        .collect()
}

/// A whole number: `12`, `-3`, `+7`, or a float that is whole (`12.0`, `1e3`), as a
/// spreadsheet writes numbers; `None` for anything else, `12.5` included.
pub(crate) fn parse_whole_number(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    let f: f64 = text.parse().ok()?;
    // i64::MAX as f64 rounds up to 2^63, which is out of range: hence `<`.
    (f.is_finite() && f.trunc() == f && f >= i64::MIN as f64 && f < i64::MAX as f64)
        .then_some(f as i64)
}

/// A date in one of [`DATE_FORMATS`], or one of [`DATE_TIME_FORMATS`] (its date); the same
/// reading as chrono's `NaiveDate::parse_from_str` with each format in turn.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    if let Some(date) = iso_date(text) {
        return Some(date);
    }
    for items in DATE_ITEMS.iter() {
        let mut parsed = Parsed::new();
        if chrono::format::parse(&mut parsed, text, items.iter()).is_ok()
            && let Ok(date) = parsed.to_naive_date()
        {
            return Some(date);
        }
    }
    for items in DATE_TIME_ITEMS.iter() {
        let mut parsed = Parsed::new();
        if chrono::format::parse(&mut parsed, text, items.iter()).is_ok()
            && let Ok(at) = parsed.to_naive_datetime_with_offset(0)
        {
            return Some(at.date());
        }
    }
    None
}

/// `YYYY-MM-DD` exactly, the form almost every date cell has, read without chrono's general
/// parser (which reads it the same way).
fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// Yes or no, from the spellings a county writes (`是`/`否`, `y`/`n`, `true`/`false`, `1`/`0`,
/// in any case).
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let find = |t: &str| {
        BOOLEAN_SPELLINGS
            .iter()
            .find(|(s, _)| *s == t)
            .map(|(_, v)| *v)
    };
    find(text).or_else(|| find(&text.to_lowercase()))
}

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
    fn whole_numbers_as_spreadsheets_write_them() {
        assert_eq!(parse_whole_number("12"), Some(12));
        assert_eq!(parse_whole_number("+7"), Some(7));
        assert_eq!(parse_whole_number("-3"), Some(-3));
        assert_eq!(parse_whole_number("12.0"), Some(12));
        assert_eq!(parse_whole_number("1e3"), Some(1000));
        assert_eq!(parse_whole_number("12.5"), None);
        assert_eq!(parse_whole_number("inf"), None);
        assert_eq!(parse_whole_number("NaN"), None);
        assert_eq!(parse_whole_number("1e19"), None);
        assert_eq!(parse_whole_number("十二"), None);
        assert_eq!(parse_whole_number(""), None);
    }

    #[test]
    fn dates_in_every_form_and_never_a_bare_number() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(parse_date("2024-05-01"), d(2024, 5, 1));
        assert_eq!(parse_date("2024-5-1"), d(2024, 5, 1));
        assert_eq!(parse_date("2024/5/1"), d(2024, 5, 1));
        assert_eq!(parse_date("2024年5月1日"), d(2024, 5, 1));
        assert_eq!(parse_date("2024.05.01"), d(2024, 5, 1));
        assert_eq!(parse_date("20240501"), d(2024, 5, 1));
        assert_eq!(parse_date("2024-05-01 08:30"), d(2024, 5, 1));
        assert_eq!(parse_date("2024-05-01T08:30:15.25"), d(2024, 5, 1));
        assert_eq!(parse_date("2024年5月1日 8:30"), d(2024, 5, 1));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024"), None);
        assert_eq!(parse_date("45413"), None);
        assert_eq!(parse_date("2024-05-01x"), None);
        assert_eq!(parse_date("May 1, 2024"), None);
    }

    #[test]
    fn yes_and_no_in_any_case() {
        assert_eq!(parse_bool("是"), Some(true));
        assert_eq!(parse_bool("否"), Some(false));
        assert_eq!(parse_bool("YES"), Some(true));
        assert_eq!(parse_bool("N"), Some(false));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
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
