//! Parsing of the value forms Polars has no parser for: two-place decimals, assessment
//! periods and months. Pure functions, tested on their own.

/// Parses a decimal with at most two places into hundredths: `"95"` → 9500, `"-2.5"` → -250.
pub fn parse_cents(s: &str) -> Result<i128, &'static str> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err("not a number");
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a number");
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > 2 {
        return Err("more than two decimal places");
    }
    if whole.len() > 9 {
        return Err("too large");
    }
    let w: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "not a number")?
    };
    let mut f = 0i128;
    for (i, b) in frac_trimmed.bytes().enumerate() {
        f += i128::from(b - b'0') * if i == 0 { 10 } else { 1 };
    }
    let v = w * 100 + f;
    Ok(if neg { -v } else { v })
}

/// Formats hundredths as a person writes them: 9500 → `95`, 9550 → `95.5`, 9505 → `95.05`.
pub use engine::rules::hundredths_text as format_cents;

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else {
        s.parse().ok()
    }
}

fn year(s: &str) -> Option<u32> {
    (s.len() == 4)
        .then(|| digits(s))
        .flatten()
        .filter(|y| (1900..=2100).contains(y))
}

const CHINESE_NUMERALS: &[(&str, u32)] = &[
    ("一", 1),
    ("二", 2),
    ("三", 3),
    ("四", 4),
    ("五", 5),
    ("六", 6),
    ("七", 7),
    ("八", 8),
    ("九", 9),
    ("十", 10),
    ("十一", 11),
    ("十二", 12),
];

fn number(s: &str) -> Option<u32> {
    digits(s).or_else(|| {
        CHINESE_NUMERALS
            .iter()
            .find(|(z, _)| *z == s)
            .map(|(_, n)| *n)
    })
}

/// Normalizes an assessment period to `YYYY-Bn`, `YYYY-Qn`, `YYYY-Mnn` or `YYYY-Hn`.
/// Accepts those forms (any case, `2024B3`, `2024-b3`) and the common Chinese ones:
/// `2024年第3季度`, `2024年1-2月` (a bimonthly period), `2024年5月`, `2024年上半年`,
/// `2024年第3期` (the third bimonthly period).
pub fn normalize_period(s: &str) -> Option<String> {
    let s = s.trim();
    if let Some((y, rest)) = s.split_once('年') {
        let y = year(y)?;
        let rest = rest.trim();
        if rest == "上半年" {
            return Some(format!("{y}-H1"));
        }
        if rest == "下半年" {
            return Some(format!("{y}-H2"));
        }
        if let Some(q) = rest.strip_prefix('第').and_then(|r| r.strip_suffix("季度")) {
            let q = number(q)?;
            return (1..=4).contains(&q).then(|| format!("{y}-Q{q}"));
        }
        if let Some(q) = rest.strip_suffix("季度") {
            let q = number(q)?;
            return (1..=4).contains(&q).then(|| format!("{y}-Q{q}"));
        }
        if let Some(b) = rest.strip_prefix('第').and_then(|r| r.strip_suffix('期')) {
            let b = number(b)?;
            return (1..=6).contains(&b).then(|| format!("{y}-B{b}"));
        }
        if let Some(months) = rest.strip_suffix('月') {
            if let Some((a, b)) = months.split_once(['-', '—', '~', '至', '－']) {
                let (a, b) = (number(a.trim())?, number(b.trim())?);
                // A bimonthly period is an odd month and the one after it.
                return (a % 2 == 1 && b == a + 1 && b <= 12)
                    .then(|| format!("{y}-B{}", a.div_ceil(2)));
            }
            let m = number(months)?;
            return (1..=12).contains(&m).then(|| format!("{y}-M{m:02}"));
        }
        return None;
    }
    let upper = s.to_ascii_uppercase();
    let (y, rest) = if upper.len() > 4 && upper.is_char_boundary(4) {
        upper.split_at(4)
    } else {
        return None;
    };
    let y = year(y)?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let (kind, n) = rest.split_at(rest.len().min(1));
    let n = digits(n)?;
    match kind {
        "B" if (1..=6).contains(&n) => Some(format!("{y}-B{n}")),
        "Q" if (1..=4).contains(&n) => Some(format!("{y}-Q{n}")),
        "M" if (1..=12).contains(&n) => Some(format!("{y}-M{n:02}")),
        "H" if (1..=2).contains(&n) => Some(format!("{y}-H{n}")),
        _ => None,
    }
}

/// Normalizes a month to `YYYY-MM`: `2024-05`, `2024-5`, `2024/5`, `2024年5月`, `202405`, or
/// a full date in one of those forms (`2024-05-01`, as Excel turns a typed month into).
pub fn normalize_month(s: &str) -> Option<String> {
    let s = s.trim();
    let (y, m) = if let Some((y, rest)) = s.split_once('年') {
        let m = rest.split_once('月').map(|(m, _)| m).unwrap_or(rest);
        (y, m)
    } else if let Some((y, rest)) = s.split_once(['-', '/', '.']) {
        let m = rest.split(['-', '/', '.']).next().unwrap_or(rest);
        (y, m)
    } else if s.len() == 6 {
        s.split_at(4)
    } else {
        return None;
    };
    let y = year(y)?;
    let m = digits(m.trim())?;
    (1..=12).contains(&m).then(|| format!("{y}-{m:02}"))
}

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
        assert!(parse_cents("3.125").is_err());
        assert!(parse_cents("abc").is_err());
        assert!(parse_cents("").is_err());
        assert!(parse_cents("1e3").is_err());
        assert_eq!(format_cents(9500), "95");
        assert_eq!(format_cents(9550), "95.5");
        assert_eq!(format_cents(-5), "-0.05");
    }

    #[test]
    fn periods_in_every_accepted_form() {
        for (input, want) in [
            ("2024-B3", "2024-B3"),
            ("2024b3", "2024-B3"),
            ("2024-Q2", "2024-Q2"),
            ("2024-M5", "2024-M05"),
            ("2024-H2", "2024-H2"),
            ("2024年第3季度", "2024-Q3"),
            ("2024年第三季度", "2024-Q3"),
            ("2024年1-2月", "2024-B1"),
            ("2024年11-12月", "2024-B6"),
            ("2024年第4期", "2024-B4"),
            ("2024年5月", "2024-M05"),
            ("2024年上半年", "2024-H1"),
        ] {
            assert_eq!(normalize_period(input).as_deref(), Some(want), "{input}");
        }
        for bad in [
            "2024-B7",
            "2024年2-3月",
            "2024",
            "B3",
            "2024-Q0",
            "二〇二四年第一季度",
        ] {
            assert_eq!(normalize_period(bad), None, "{bad}");
        }
    }

    #[test]
    fn months_in_every_accepted_form() {
        for input in [
            "2024-05",
            "2024-5",
            "2024/5",
            "2024年5月",
            "202405",
            "2024-05-01",
        ] {
            assert_eq!(
                normalize_month(input).as_deref(),
                Some("2024-05"),
                "{input}"
            );
        }
        assert_eq!(normalize_month("2024-13"), None);
        assert_eq!(normalize_month("May"), None);
    }
}
