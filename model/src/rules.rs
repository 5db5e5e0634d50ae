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

/// How often a kind of meeting is required (三会一课).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// At least once a month.
    Monthly,
    /// At least once a quarter.
    Quarterly,
    /// At least once in each half of the year.
    HalfYear,
    /// At least once a year.
    Yearly,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// One scored indicator of the bimonthly assessment.
pub struct Indicator {
    /// Its name, as the scores file names it (`党组织建设`).
    pub name: String,
    /// The most points it gives.
    pub max: Cents,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// A reward tier: the first, second, third… placed branch at or above `min_score` get
/// `rewards` (yuan) in that order.
pub struct Tier {
    /// The total a branch needs for this tier.
    pub min_score: Cents,
    /// The rewards by place, in yuan.
    pub rewards: Vec<Cents>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// A points grade: a member with at least `min` points a year gets `name`.
pub struct Grade {
    /// The fewest points for this grade.
    pub min: Cents,
    /// Its name (`优秀`).
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[assessment]`: the rotating red flag (流动红旗).
pub struct Assessment {
    /// How long a period is.
    pub period: PeriodKind,
    /// Branches are ranked within their ancestor at this grid level (2 = township, 0 = the
    /// whole county).
    pub group_level: Spanned<u8>,
    /// The branch types that take part.
    pub branch_types: Spanned<Vec<String>>,
    /// Indicators compared, in order, when totals tie.
    pub tie_break: Spanned<Vec<String>>,
    /// The scored indicators; their maxima sum to 100.
    pub indicators: Spanned<Vec<Indicator>>,
    /// Reward tiers, highest first.
    pub tiers: Spanned<Vec<Tier>>,
    /// A last-placed branch below this total is penalized.
    pub penalty_below: Cents,
    /// The penalty of the first, second, third-and-later time in a year.
    pub penalty_steps: Spanned<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[attendance]`: alerts and 三会一课 requirements.
pub struct Attendance {
    /// Unexcused absences in a calendar year that call for a talk (诫勉谈话).
    pub unexcused_warning: u32,
    /// Consecutive unexcused absences that call for organizational handling (组织处理).
    pub consecutive_unexcused: u32,
    /// How often each meeting kind is required.
    pub requirements: Spanned<BTreeMap<String, Frequency>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[points]`: member points (积分).
pub struct Points {
    /// Every member's base points.
    pub base: Cents,
    /// The most task points a year.
    pub task_cap: Cents,
    /// The most reward points a year.
    pub reward_cap: Cents,
    /// The grades, best first.
    pub grades: Spanned<Vec<Grade>>,
    /// The share of a branch's members marked as its top.
    pub top_share: Spanned<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[coverage]`: the two coverages (两个覆盖).
pub struct Coverage {
    /// An organization with this many formal members should have a branch of its own.
    pub standalone_min_members: u32,
    /// The most organizations one joint branch should cover (一管五).
    pub joint_max_orgs: u32,
}

/// A tenant's rules, validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The red flag.
    pub assessment: Assessment,
    /// Attendance and meeting requirements.
    pub attendance: Attendance,
    /// Member points.
    pub points: Points,
    /// Coverage.
    pub coverage: Coverage,
}

/// Why a rules file was refused, with the 1-based line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {message}")]
pub struct RulesError {
    /// The file (or other source) the rules came from.
    pub source_name: String,
    /// The line at fault, from 1.
    pub line: usize,
    /// What is wrong there.
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

    /// The indicator named `name`.
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
