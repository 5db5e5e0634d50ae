//! Member points (党员积分制, 凤县 and 靖远): the annual score, grade and top share.

use super::{dec, lit};
use model::rules::{Cents, Rules};

/// `member_points`: every member not exempt, for every year that has points entries, whether
/// or not the member has entries of their own.
pub fn member_points(rules: &Rules) -> String {
    let p = &rules.points;
    let grades = p.grades.get_ref();
    let lowest = grades.last().map(|g| g.name.as_str()).unwrap_or("不合格");
    let mut grade = format!("CASE WHEN violation THEN {}", lit(lowest));
    for g in grades {
        grade.push_str(&format!(
            " WHEN total >= {} THEN {}",
            dec(g.min),
            lit(&g.name)
        ));
    }
    // A total below every minimum (possible only with negative task points) is the lowest grade.
    grade.push_str(&format!(" ELSE {} END", lit(lowest)));
    // top_share compared in millionths, so 0.2 × 5 members is exactly 1.
    let share_millionths = (p.top_share.get_ref() * 1_000_000.0).round() as i64;
    format!(
        "CREATE OR REPLACE VIEW member_points AS
WITH years AS (
    -- Text to number once per distinct month, not once per entry. `one` pairs every member
    -- with every year (see `scored`).
    SELECT year, {one} AS one
    FROM (SELECT DISTINCT CAST(substr(month, 1, 4) AS BIGINT) AS year
          FROM (SELECT DISTINCT month FROM points))
),
sums AS (
    SELECT CAST(y AS BIGINT) AS year, member_id, base_change, task, reward, honor, violation
    FROM (
        SELECT substr(month, 1, 4) AS y, member_id,
               SUM(CASE WHEN category = 'base' THEN points END) AS base_change,
               SUM(CASE WHEN category = 'task' THEN points END) AS task,
               SUM(CASE WHEN category = 'reward' THEN points END) AS reward,
               SUM(CASE WHEN category = 'honor' THEN points END) AS honor,
               SUM(CASE WHEN category = 'violation' THEN 1 ELSE 0 END) > 0 AS violation
        FROM points
        GROUP BY substr(month, 1, 4), member_id
    )
),
scored AS (
    SELECT y.year, m.member_id, m.branch_id,
           LEAST(GREATEST({base} + COALESCE(s.base_change, {zero}), {zero}), {base}) AS base,
           LEAST({task_cap}, COALESCE(s.task, {zero})) AS task,
           LEAST({reward_cap}, COALESCE(s.reward, {zero})) AS reward,
           COALESCE(s.honor, {zero}) AS honor,
           COALESCE(s.violation, false) AS violation
    -- Every member with every year, as a join on a constant key rather than a CROSS JOIN:
    -- DataFusion's cross join emits one batch per member (45,000 one-row batches for a county,
    -- 2.4 times this view's whole time); a hash join emits full batches.
    FROM (SELECT member_id, branch_id, points_exempt, {one} AS one FROM members) m
    JOIN years y ON y.one = m.one
    LEFT JOIN sums s ON s.member_id = m.member_id AND s.year = y.year
    WHERE NOT m.points_exempt
),
totals AS (
    SELECT *, base + task + reward + honor AS total FROM scored
),
ranked AS (
    SELECT *,
           RANK() OVER (PARTITION BY year, branch_id ORDER BY total DESC) AS rank,
           COUNT(*) OVER (PARTITION BY year, branch_id) AS listed
    FROM totals
)
SELECT year, member_id, branch_id, base, task, reward, honor, total,
       {grade} AS grade,
       violation, rank,
       (rank - 1) * 1000000 < {share_millionths} * listed AS top_share
FROM ranked",
        base = dec(p.base),
        zero = dec(Cents(0)),
        task_cap = dec(p.task_cap),
        reward_cap = dec(p.reward_cap),
        one = super::EVERY_PAIR_KEY,
    )
}
