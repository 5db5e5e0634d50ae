//! Parsing of the value form Polars has no parser for: two-place decimals. Periods and months
//! are [`model::Period`] and [`model::Month`]. Pure functions, tested on their own.

use std::fmt;

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
}
