//! Assessment periods and months: parsed once, from every form a county writes, into types
//! that know their year, their months and how people name them.
//!
//! The warehouse stores both as text in one canonical form (`2024-B3`, `2024-05`), which sorts
//! in time order within a year of one kind; these types are how code reads and writes it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How long an assessment period is (the rules' `assessment.period`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// Two months: `B1` (Jan–Feb) … `B6` (Nov–Dec), the practice of the seed.
    Bimonthly,
    /// `Q1` … `Q4`.
    Quarterly,
    /// `M01` … `M12`.
    Monthly,
    /// `H1`, `H2`.
    HalfYear,
}

impl PeriodKind {
    /// The letter of the canonical form.
    pub fn letter(self) -> char {
        match self {
            PeriodKind::Bimonthly => 'B',
            PeriodKind::Quarterly => 'Q',
            PeriodKind::Monthly => 'M',
            PeriodKind::HalfYear => 'H',
        }
    }

    /// Months in one period.
    pub fn months(self) -> u8 {
        match self {
            PeriodKind::Bimonthly => 2,
            PeriodKind::Quarterly => 3,
            PeriodKind::Monthly => 1,
            PeriodKind::HalfYear => 6,
        }
    }

    /// Periods in a year.
    pub fn per_year(self) -> u8 {
        12 / self.months()
    }
}

/// One assessment period of one year, such as the sixth bimonthly period of 2024 (`2024-B6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    year: i32,
    kind: PeriodKind,
    n: u8,
}

/// Text that names no period, or no month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not {what} (expected e.g. {example})")]
pub struct NotAPeriod {
    text: String,
    what: &'static str,
    example: &'static str,
}

impl Period {
    /// The `n`th period (1-based) of `kind` in `year`, if the year has one.
    pub fn new(year: i32, kind: PeriodKind, n: u8) -> Option<Period> {
        ((1900..=2100).contains(&year) && (1..=kind.per_year()).contains(&n)).then_some(Period {
            year,
            kind,
            n,
        })
    }

    /// The calendar year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// Bimonthly, quarterly, …
    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    /// Its number within the year, from 1.
    pub fn number(&self) -> u8 {
        self.n
    }

    /// The first month (1–12).
    pub fn first_month(&self) -> u8 {
        (self.n - 1) * self.kind.months() + 1
    }

    /// The last month (1–12).
    pub fn last_month(&self) -> u8 {
        self.n * self.kind.months()
    }

    /// The months it covers.
    pub fn months(&self) -> impl Iterator<Item = Month> + use<> {
        let year = self.year;
        (self.first_month()..=self.last_month()).map(move |month| Month { year, month })
    }

    /// The quarter its last month falls in (1–4).
    pub fn last_quarter(&self) -> u8 {
        self.last_month().div_ceil(3)
    }

    /// How people write it: `2024年第3期（5—6月）`, `2024年第2季度`, `2024年5月`, `2024年上半年`.
    pub fn label(&self) -> String {
        let (y, n) = (self.year, self.n);
        match self.kind {
            PeriodKind::Bimonthly => {
                format!(
                    "{y}年第{n}期（{}—{}月）",
                    self.first_month(),
                    self.last_month()
                )
            }
            PeriodKind::Quarterly => format!("{y}年第{n}季度"),
            PeriodKind::Monthly => format!("{y}年{n}月"),
            PeriodKind::HalfYear if n == 1 => format!("{y}年上半年"),
            PeriodKind::HalfYear => format!("{y}年下半年"),
        }
    }

    /// Reads the canonical form and the forms counties write (see [`FromStr`]); `None` for
    /// anything else.
    pub fn parse(s: &str) -> Option<Period> {
        let s = s.trim();
        if let Some((y, rest)) = s.split_once('年') {
            let y = year(y)?;
            let rest = rest.trim();
            let (kind, n) = if rest == "上半年" {
                (PeriodKind::HalfYear, 1)
            } else if rest == "下半年" {
                (PeriodKind::HalfYear, 2)
            } else if let Some(q) = rest.strip_suffix("季度") {
                (
                    PeriodKind::Quarterly,
                    number(q.strip_prefix('第').unwrap_or(q))?,
                )
            } else if let Some(b) = rest.strip_prefix('第').and_then(|r| r.strip_suffix('期')) {
                (PeriodKind::Bimonthly, number(b)?)
            } else if let Some(months) = rest.strip_suffix('月') {
                if let Some((a, b)) = months.split_once(['-', '—', '~', '至', '－']) {
                    let (a, b) = (number(a.trim())?, number(b.trim())?);
                    // A bimonthly period is an odd month and the one after it.
                    if a % 2 == 0 || b != a + 1 {
                        return None;
                    }
                    (PeriodKind::Bimonthly, b / 2)
                } else {
                    (PeriodKind::Monthly, number(months)?)
                }
            } else {
                return None;
            };
            return Period::new(y, kind, n);
        }
        let upper = s.to_ascii_uppercase();
        if upper.len() <= 4 || !upper.is_char_boundary(4) {
            return None;
        }
        let (y, rest) = upper.split_at(4);
        let y = year(y)?;
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        let (kind, n) = rest.split_at(rest.len().min(1));
        let kind = match kind {
            "B" => PeriodKind::Bimonthly,
            "Q" => PeriodKind::Quarterly,
            "M" => PeriodKind::Monthly,
            "H" => PeriodKind::HalfYear,
            _ => return None,
        };
        Period::new(y, kind, digits(n)?)
    }
}

/// Accepts the canonical forms in any case and with or without the dash (`2024-B3`, `2024b3`,
/// `2024-Q2`, `2024-M5`, `2024-H1`) and the Chinese ones: `2024年第3季度` (or 第三季度),
/// `2024年1-2月` (a bimonthly period), `2024年第4期`, `2024年5月`, `2024年上半年`.
impl FromStr for Period {
    type Err = NotAPeriod;
    fn from_str(s: &str) -> Result<Period, NotAPeriod> {
        Period::parse(s).ok_or_else(|| NotAPeriod {
            text: s.to_string(),
            what: "a period",
            example: "2024-B3, 2024年1-2月, 2024-Q2",
        })
    }
}

/// The canonical form: `2024-B3`, `2024-Q2`, `2024-M05`, `2024-H1`.
impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Monthly => write!(f, "{}-M{:02}", self.year, self.n),
            kind => write!(f, "{}-{}{}", self.year, kind.letter(), self.n),
        }
    }
}

/// A calendar month, such as May 2024 (`2024-05`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// `month` (1–12) of `year`.
    pub fn new(year: i32, month: u8) -> Option<Month> {
        ((1900..=2100).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    /// The calendar year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Reads `2024-05`, `2024-5`, `2024/5`, `2024年5月`, `202405`, or a full date in one of
    /// those forms (`2024-05-01`, as Excel turns a typed month into); `None` for anything else.
    pub fn parse(s: &str) -> Option<Month> {
        let s = s.trim();
        let (y, m) = if let Some((y, rest)) = s.split_once('年') {
            (y, rest.split_once('月').map(|(m, _)| m).unwrap_or(rest))
        } else if let Some((y, rest)) = s.split_once(['-', '/', '.']) {
            (y, rest.split(['-', '/', '.']).next().unwrap_or(rest))
        } else if s.len() == 6 && s.is_char_boundary(4) {
            s.split_at(4)
        } else {
            return None;
        };
        Month::new(year(y)?, digits(m.trim())?)
    }
}

impl FromStr for Month {
    type Err = NotAPeriod;
    fn from_str(s: &str) -> Result<Month, NotAPeriod> {
        Month::parse(s).ok_or_else(|| NotAPeriod {
            text: s.to_string(),
            what: "a month",
            example: "2024-05, 2024年5月",
        })
    }
}

/// The canonical form `2024-05`.
impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

fn digits(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else {
        s.parse().ok()
    }
}

fn year(s: &str) -> Option<i32> {
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

const CHINESE_NUMERALS: &[(&str, u8)] = &[
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

fn number(s: &str) -> Option<u8> {
    digits(s).or_else(|| {
        CHINESE_NUMERALS
            .iter()
            .find(|(z, _)| *z == s)
            .map(|(_, n)| *n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_in_every_accepted_form() {
        for (input, want) in [
            ("2024-B3", "2024-B3"),
            ("2024b3", "2024-B3"),
            ("2024-Q2", "2024-Q2"),
            ("2024-M5", "2024-M05"),
            ("2024-M05", "2024-M05"),
            ("2024-H2", "2024-H2"),
            ("2024年第3季度", "2024-Q3"),
            ("2024年第三季度", "2024-Q3"),
            ("2024年3季度", "2024-Q3"),
            ("2024年1-2月", "2024-B1"),
            ("2024年11-12月", "2024-B6"),
            ("2024年第4期", "2024-B4"),
            ("2024年5月", "2024-M05"),
            ("2024年上半年", "2024-H1"),
        ] {
            let p = Period::parse(input).map(|p| p.to_string());
            assert_eq!(p.as_deref(), Some(want), "{input}");
        }
        for bad in [
            "2024-B7",
            "2024年2-3月",
            "2024年11-13月",
            "2024",
            "B3",
            "2024-Q0",
            "2024-M13",
            "2024-B",
            "二〇二四年第一季度",
            "1800-B1",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
        let err = "2024-X1".parse::<Period>().unwrap_err().to_string();
        assert!(err.contains("'2024-X1' is not a period"), "{err}");
    }

    #[test]
    fn a_period_knows_its_months_and_its_name() {
        let p: Period = "2024-B6".parse().unwrap();
        assert_eq!((p.year(), p.first_month(), p.last_month()), (2024, 11, 12));
        assert_eq!(p.last_quarter(), 4);
        assert_eq!(p.label(), "2024年第6期（11—12月）");
        let months: Vec<String> = p.months().map(|m| m.to_string()).collect();
        assert_eq!(months, ["2024-11", "2024-12"]);
        let q: Period = "2024-Q2".parse().unwrap();
        assert_eq!(
            (q.first_month(), q.last_month(), q.label().as_str()),
            (4, 6, "2024年第2季度")
        );
        assert_eq!("2024-H2".parse::<Period>().unwrap().label(), "2024年下半年");
        assert_eq!("2024-M05".parse::<Period>().unwrap().label(), "2024年5月");
        // The canonical text sorts as the periods do.
        assert!("2024-B2".parse::<Period>().unwrap() < p);
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
            let m = Month::parse(input).map(|m| m.to_string());
            assert_eq!(m.as_deref(), Some("2024-05"), "{input}");
        }
        assert_eq!(Month::parse("2024-13"), None);
        assert_eq!(Month::parse("May"), None);
        assert_eq!(Month::parse("20245月"), None);
    }
}
