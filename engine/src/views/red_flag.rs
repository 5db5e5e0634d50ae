//! The rotating red flag (流动红旗, 涌溪乡): per-period ranking with rewards, the flag and
//! escalating penalties, and the yearly summary.

use super::{dec, ident, lit};
use model::rules::{PeriodKind, Rules};

/// The LIKE pattern of the periods the rules assess (`2024-B3` for bimonthly, …).
fn period_pattern(kind: PeriodKind) -> &'static str {
    match kind {
        PeriodKind::Bimonthly => "____-B_",
        PeriodKind::Quarterly => "____-Q_",
        PeriodKind::Monthly => "____-M__",
        PeriodKind::HalfYear => "____-H_",
    }
}

/// `red_flag_ranking`: one row per branch taking part in each period of the rules' kind.
pub fn ranking(rules: &Rules, rules_version: u32) -> String {
    let a = &rules.assessment;
    let indicators = a.indicators.get_ref();
    let types = rules
        .assessed_branch_types()
        .iter()
        .map(|t| lit(t))
        .collect::<Vec<_>>()
        .join(", ");
    // Scores of indicators the rules no longer list are ignored: an indicator is read by name.
    let pivot = indicators
        .iter()
        .enumerate()
        .map(|(i, ind)| {
            format!(
                "SUM(CASE WHEN s.indicator = {} THEN s.score END) AS i{i}",
                lit(&ind.name)
            )
        })
        .collect::<Vec<_>>()
        .join(",\n           ");
    let total = (0..indicators.len())
        .map(|i| format!("COALESCE(t.i{i}, 0)"))
        .collect::<Vec<_>>()
        .join(" + ");
    let missing = indicators
        .iter()
        .enumerate()
        .map(|(i, ind)| format!("CASE WHEN t.i{i} IS NULL THEN {} END", lit(&ind.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let per_indicator = indicators
        .iter()
        .enumerate()
        .map(|(i, ind)| format!("COALESCE(t.i{i}, 0) AS {}", ident(&ind.name)))
        .collect::<Vec<_>>()
        .join(",\n           ");
    let order = std::iter::once("total DESC".to_string())
        .chain(
            a.tie_break
                .get_ref()
                .iter()
                .map(|t| format!("{} DESC", ident(t))),
        )
        .collect::<Vec<_>>()
        .join(", ");
    // The first tier (highest min_score first, as validated) whose minimum the total reaches
    // pays the reward of the rank; ranks beyond a tier's list earn nothing.
    let mut reward = String::from("CASE");
    for tier in a.tiers.get_ref() {
        let by_rank = tier
            .rewards
            .iter()
            .enumerate()
            .map(|(r, yuan)| format!("WHEN {} THEN {}", r + 1, dec(*yuan)))
            .collect::<Vec<_>>()
            .join(" ");
        reward.push_str(&format!(
            " WHEN p.total >= {} THEN CASE p.rank {by_rank} ELSE {} END",
            dec(tier.min_score),
            dec(model::rules::Cents(0))
        ));
    }
    reward.push_str(&format!(" ELSE {} END", dec(model::rules::Cents(0))));
    let steps = a.penalty_steps.get_ref();
    let mut penalty = String::from("CASE");
    for (n, step) in steps.iter().enumerate() {
        let cond = if n + 1 == steps.len() {
            format!("p.penalty_n >= {}", n + 1)
        } else {
            format!("p.penalty_n = {}", n + 1)
        };
        penalty.push_str(&format!(" WHEN {cond} THEN {}", lit(step)));
    }
    penalty.push_str(" END");
    let indicator_columns = indicators
        .iter()
        .map(|i| format!("p.{}", ident(&i.name)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE OR REPLACE VIEW red_flag_ranking AS
WITH taking_part AS (
    SELECT s.period, s.branch_id,
           {pivot}
    FROM scores s JOIN branches b ON b.branch_id = s.branch_id
    WHERE b.type IN ({types}) AND s.period LIKE {pattern}
    GROUP BY s.period, s.branch_id
),
scored AS (
    SELECT t.period, t.branch_id, b.name AS branch_name,
           COALESCE(c.ancestor_id, b.unit_id) AS group_id,
           {total} AS total,
           NULLIF(concat_ws('、', {missing}), '') AS missing_indicators,
           {per_indicator}
    FROM taking_part t
    JOIN branches b ON b.branch_id = t.branch_id
    LEFT JOIN grid_closure c ON c.unit_id = b.unit_id AND c.ancestor_level = {group_level}
),
ranked AS (
    SELECT *,
           RANK() OVER (PARTITION BY period, group_id ORDER BY {order}) AS rank,
           COUNT(*) OVER (PARTITION BY period, group_id) AS group_size,
           -- The tenant's assessed periods in order, numbered 1, 2, … (a period's place).
           DENSE_RANK() OVER (ORDER BY period) AS pidx
    FROM scored
),
placed AS (
    SELECT *,
           rank = 1 AS red_flag,
           group_size >= 2 AND rank = MAX(rank) OVER (PARTITION BY period, group_id) AS last_place
    FROM ranked
),
penalized AS (
    SELECT *,
           CASE WHEN last_place AND total < {penalty_below} THEN
               SUM(CASE WHEN last_place AND total < {penalty_below} THEN 1 ELSE 0 END)
                   OVER (PARTITION BY branch_id, substr(period, 1, 4) ORDER BY period
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           END AS penalty_n,
           -- Gaps and islands: within a run of flags in consecutive periods, a period's place
           -- minus its place among the branch's flags is the same number.
           pidx - ROW_NUMBER() OVER (PARTITION BY branch_id, red_flag ORDER BY pidx) AS island
    FROM placed
),
-- One chain of windows over the same rows, not a CTE read three times and joined back:
-- DataFusion plans and computes a CTE again at every use (with the join, planning this view
-- took twice as long, and running it 40 % longer).
streaks AS (
    SELECT *,
           CASE WHEN red_flag
                THEN ROW_NUMBER() OVER (PARTITION BY branch_id, red_flag, island ORDER BY pidx)
                ELSE 0
           END AS consecutive_flags
    FROM penalized
)
SELECT p.period, p.group_id, g.name AS group_name, p.rank, p.branch_id, p.branch_name,
       p.total, p.missing_indicators,
       {reward} AS reward_yuan,
       p.red_flag, p.last_place,
       {penalty} AS penalty,
       p.consecutive_flags,
       {indicator_columns},
       {rules_version} AS rules_version
FROM streaks p
LEFT JOIN grid_units g ON g.unit_id = p.group_id",
        pattern = lit(period_pattern(a.period)),
        group_level = a.group_level.get_ref(),
        penalty_below = dec(a.penalty_below),
    )
}

/// `red_flag_year`: per branch and calendar year, over the periods it took part in.
pub fn year() -> String {
    "CREATE OR REPLACE VIEW red_flag_year AS
WITH r AS (
    SELECT *, CAST(substr(period, 1, 4) AS BIGINT) AS year FROM red_flag_ranking
),
-- One chain over the ranking's rows, not CTEs read several times and joined back (DataFusion
-- plans and computes a CTE again at every use): a period's place in its year, the islands of
-- flags in consecutive periods, and each flag's run length.
placed AS (
    SELECT *, DENSE_RANK() OVER (PARTITION BY year ORDER BY period) AS pidx FROM r
),
islands AS (
    SELECT *,
           pidx - ROW_NUMBER() OVER (PARTITION BY branch_id, year, red_flag ORDER BY pidx) AS island
    FROM placed
),
runs AS (
    SELECT *,
           CASE WHEN red_flag
                THEN COUNT(*) OVER (PARTITION BY branch_id, year, red_flag, island)
                ELSE 0
           END AS run
    FROM islands
),
per_year AS (
    SELECT year, branch_id,
           last_value(group_id ORDER BY period) AS group_id,
           last_value(branch_name ORDER BY period) AS branch_name,
           COUNT(*) AS periods,
           SUM(CASE WHEN red_flag THEN 1 ELSE 0 END) AS flags,
           MIN(rank) AS best_rank,
           MAX(rank) AS worst_rank,
           -- DataFusion plans ROUND(decimal, 2) at the input scale but computes two places: say so.
           CAST(ROUND(SUM(total) / COUNT(*), 2) AS DECIMAL(38, 2)) AS mean_total,
           SUM(reward_yuan) AS reward_yuan,
           SUM(CASE WHEN penalty IS NOT NULL THEN 1 ELSE 0 END) AS penalties,
           MAX(run) AS longest
    FROM runs
    GROUP BY year, branch_id
)
SELECT y.year, y.group_id, y.branch_id, y.branch_name, y.periods, y.flags, y.best_rank,
       y.worst_rank, y.mean_total, y.reward_yuan, y.penalties,
       y.longest >= 2 AS bonus_funding,
       y.flags = 0 AS subsidy_cancelled
FROM per_year y"
        .to_string()
}
