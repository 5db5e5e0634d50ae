//! The tenant's assessment rules (SPEC §3), read from `rules.toml`.
//!
//! A rules file is refused, with the line at fault, when it does not parse, names an unknown
//! key, or breaks a rule a county officer could not have meant (indicator maxima that do not sum
//! to 100, a tie-break indicator that does not exist, tiers out of order).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

pub use crate::period::PeriodKind;
use crate::schema::{BRANCH_TYPES, MEETING_KINDS};

/// The seed's rules: 涌溪乡's red flag, 海州区's attendance, 凤县's points, 赣州经开区's coverage.
pub const DEFAULT_RULES_TOML: &str = include_str!("default_rules.toml");

/// A decimal amount in hundredths (a score maximum, a reward, a points cap), so that rules
/// arithmetic is exact: 95.00 is 9500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "f64")]
pub struct Cents(pub i64);

impl From<Cents> for f64 {
    fn from(c: Cents) -> f64 {
        c.0 as f64 / 100.0
    }
}

/// Hundredths as a person writes them: 9500 → `95`, 9550 → `95.5`, 9505 → `95.05`. One
/// spelling for rules messages, ingest messages and the generated hand-over files.
pub fn hundredths_text(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    match a % 100 {
        0 => format!("{sign}{}", a / 100),
        f if f % 10 == 0 => format!("{sign}{}.{}", a / 100, f / 10),
        f => format!("{sign}{}.{f:02}", a / 100),
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hundredths_text(i128::from(self.0)))
    }
}

impl<'de> Deserialize<'de> for Cents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Num {
            I(i64),
            F(f64),
        }
        match Num::deserialize(d)? {
            Num::I(i) => i
                .checked_mul(100)
                .map(Cents)
                .ok_or_else(|| serde::de::Error::custom("number too large")),
            Num::F(f) => {
                let cents = (f * 100.0).round();
                if (f * 100.0 - cents).abs() > 1e-6 || !cents.is_finite() {
                    return Err(serde::de::Error::custom(format!(
                        "{f} has more than two decimal places"
                    )));
                }
                Ok(Cents(cents as i64))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Monthly,
    Quarterly,
    HalfYear,
    Yearly,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub name: String,
    pub max: Cents,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub min_score: Cents,
    pub rewards: Vec<Cents>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    pub min: Cents,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    pub period: PeriodKind,
    pub group_level: Spanned<u8>,
    pub branch_types: Spanned<Vec<String>>,
    pub tie_break: Spanned<Vec<String>>,
    pub indicators: Spanned<Vec<Indicator>>,
    pub tiers: Spanned<Vec<Tier>>,
    pub penalty_below: Cents,
    pub penalty_steps: Spanned<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attendance {
    pub unexcused_warning: u32,
    pub consecutive_unexcused: u32,
    pub requirements: Spanned<BTreeMap<String, Frequency>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Points {
    pub base: Cents,
    pub task_cap: Cents,
    pub reward_cap: Cents,
    pub grades: Spanned<Vec<Grade>>,
    pub top_share: Spanned<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub standalone_min_members: u32,
    pub joint_max_orgs: u32,
}

/// A tenant's rules, validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub assessment: Assessment,
    pub attendance: Attendance,
    pub points: Points,
    pub coverage: Coverage,
}

/// Why a rules file was refused, with the 1-based line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {message}")]
pub struct RulesError {
    pub source_name: String,
    pub line: usize,
    pub message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Rules {
    /// The seed's default rules.
    pub fn default_rules() -> Rules {
        Rules::parse(DEFAULT_RULES_TOML, "default rules")
            .unwrap_or_else(|e| panic!("the built-in default rules are invalid: {e}"))
    }

    /// Parses and validates a rules file; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Rules, RulesError> {
        let err = |offset: usize, message: String| RulesError {
            source_name: source_name.to_string(),
            line: line_of(text, offset),
            message,
        };
        let rules: Rules = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            err(offset, e.message().trim().to_string())
        })?;
        rules.validate().map_err(|(offset, msg)| err(offset, msg))?;
        Ok(rules)
    }

    /// Cross-field checks; returns the byte offset of the offending value and the reason.
    fn validate(&self) -> Result<(), (usize, String)> {
        let a = &self.assessment;
        let at = |s: std::ops::Range<usize>| s.start;

        if *a.group_level.get_ref() > 5 {
            return Err((
                at(a.group_level.span()),
                format!(
                    "group_level {} is not a grid level (0–5)",
                    a.group_level.get_ref()
                ),
            ));
        }
        for t in a.branch_types.get_ref() {
            if !BRANCH_TYPES.iter().any(|v| v.matches(t)) {
                return Err((
                    at(a.branch_types.span()),
                    format!("branch_types: unknown branch type '{t}'"),
                ));
            }
        }
        let indicators = a.indicators.get_ref();
        if indicators.is_empty() {
            return Err((at(a.indicators.span()), "indicators is empty".into()));
        }
        let mut names = HashSet::new();
        for i in indicators {
            if !names.insert(i.name.as_str()) {
                return Err((
                    at(a.indicators.span()),
                    format!("indicator '{}' is listed twice", i.name),
                ));
            }
            if i.max.0 <= 0 {
                return Err((
                    at(a.indicators.span()),
                    format!("indicator '{}' has max {} (must be > 0)", i.name, i.max),
                ));
            }
        }
        let sum: i64 = indicators.iter().map(|i| i.max.0).sum();
        if sum != 10_000 {
            return Err((
                at(a.indicators.span()),
                format!("indicator maxima sum to {}, not 100", Cents(sum)),
            ));
        }
        for t in a.tie_break.get_ref() {
            if !names.contains(t.as_str()) {
                return Err((
                    at(a.tie_break.span()),
                    format!("tie_break names '{t}', which is not an indicator"),
                ));
            }
        }
        let tiers = a.tiers.get_ref();
        for w in tiers.windows(2) {
            if w[1].min_score >= w[0].min_score {
                return Err((
                    at(a.tiers.span()),
                    format!(
                        "tiers must go from the highest min_score down ({} then {})",
                        w[0].min_score, w[1].min_score
                    ),
                ));
            }
        }
        for t in tiers {
            if t.rewards.is_empty() || t.rewards.iter().any(|r| r.0 < 0) {
                return Err((
                    at(a.tiers.span()),
                    format!(
                        "the tier from {} needs one or more rewards, none negative",
                        t.min_score
                    ),
                ));
            }
        }
        if a.penalty_steps.get_ref().is_empty() {
            return Err((at(a.penalty_steps.span()), "penalty_steps is empty".into()));
        }

        for kind in self.attendance.requirements.get_ref().keys() {
            if !MEETING_KINDS.iter().any(|v| v.canonical == kind) {
                return Err((
                    at(self.attendance.requirements.span()),
                    format!("requirements: unknown meeting kind '{kind}'"),
                ));
            }
        }

        let p = &self.points;
        let grades = p.grades.get_ref();
        if grades.is_empty() {
            return Err((at(p.grades.span()), "grades is empty".into()));
        }
        for w in grades.windows(2) {
            if w[1].min >= w[0].min {
                return Err((
                    at(p.grades.span()),
                    format!(
                        "grades must go from the highest min down ('{}' then '{}')",
                        w[0].name, w[1].name
                    ),
                ));
            }
        }
        let share = *p.top_share.get_ref();
        if !(0.0..=1.0).contains(&share) {
            return Err((
                at(p.top_share.span()),
                format!("top_share {share} is not between 0 and 1"),
            ));
        }
        Ok(())
    }

    /// The branch types taking part in the red flag, as canonical values.
    pub fn assessed_branch_types(&self) -> Vec<&'static str> {
        self.assessment
            .branch_types
            .get_ref()
            .iter()
            .filter_map(|t| BRANCH_TYPES.iter().find(|v| v.matches(t)))
            .map(|v| v.canonical)
            .collect()
    }

    pub fn indicator(&self, name: &str) -> Option<&Indicator> {
        self.assessment
            .indicators
            .get_ref()
            .iter()
            .find(|i| i.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rules_parse() {
        let r = Rules::default_rules();
        assert_eq!(r.assessment.indicators.get_ref().len(), 10);
        assert_eq!(r.assessment.penalty_below, Cents(8500));
        assert_eq!(r.assessed_branch_types(), vec!["rural", "community"]);
    }

    #[test]
    fn maxima_not_summing_to_100_are_refused_at_the_indicators_line() {
        let text = DEFAULT_RULES_TOML.replace(
            "{ name = \"党风廉政\", max = 5 }",
            "{ name = \"党风廉政\", max = 6 }",
        );
        let e = Rules::parse(&text, "rules.toml").unwrap_err();
        let line = DEFAULT_RULES_TOML
            .lines()
            .position(|l| l.starts_with("indicators"))
            .unwrap()
            + 1;
        assert_eq!(e.line, line);
        assert!(e.message.contains("101"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let text =
            DEFAULT_RULES_TOML.replace("top_share = 0.2", "top_share = 0.2\ntop_shares = 0.3");
        let e = Rules::parse(&text, "rules.toml").unwrap_err();
        assert!(e.message.contains("top_shares"), "{e}");
        let line = text
            .lines()
            .position(|l| l.starts_with("top_shares"))
            .unwrap()
            + 1;
        assert_eq!(e.line, line);
    }
}
