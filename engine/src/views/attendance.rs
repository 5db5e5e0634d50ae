//! 三会一课 attendance (海州区, 阿荣旗, 凤县): monthly rates and their trend, the quarterly
//! frequency check, and members' absence alerts.

use super::lit;
use model::rules::{Frequency, Rules};
use model::schema::MEETING_KINDS;

/// `attendance_monthly`: per branch per month with meetings. `expected` is the attendance rows
/// of those meetings; `present` counts present and online.
pub fn monthly() -> String {
    format!(
        "CREATE OR REPLACE VIEW attendance_monthly AS
WITH attended AS (
    -- Counted per meeting before meeting the meetings table: the join then pairs one row per
    -- meeting instead of one per attendance row (30 times fewer).
    SELECT meeting_id,
           COUNT(*) AS expected,
           SUM(CASE WHEN status IN ('present', 'online') THEN 1 ELSE 0 END) AS present,
           SUM(CASE WHEN status = 'excused' THEN 1 ELSE 0 END) AS excused,
           SUM(CASE WHEN status = 'absent' THEN 1 ELSE 0 END) AS absent
    FROM attendance
    GROUP BY meeting_id
),
per_meeting AS (
    SELECT m.branch_id, to_char(m.held_on, '%Y-%m') AS month, m.meeting_id,
           COALESCE(a.expected, 0) AS expected, COALESCE(a.present, 0) AS present,
           COALESCE(a.excused, 0) AS excused, COALESCE(a.absent, 0) AS absent
    FROM meetings m LEFT JOIN attended a ON a.meeting_id = m.meeting_id
),
per_branch AS (
    SELECT month, branch_id, COUNT(*) AS meetings, SUM(expected) AS expected,
           SUM(present) AS present, SUM(excused) AS excused, SUM(absent) AS absent,
           CAST(SUM(present) AS DOUBLE) / NULLIF(SUM(expected), 0) AS rate
    FROM per_meeting
    GROUP BY month, branch_id
),
{with_change}
SELECT p.month, p.branch_id, b.name, p.meetings, p.expected, p.present, p.excused, p.absent,
       p.rate, p.rate_change
FROM with_change p
JOIN branches b ON b.branch_id = p.branch_id",
        with_change = with_change("per_branch", "branch_id"),
    )
}

/// `attendance_monthly_by_unit`: the same per grid unit at every level (`level` column),
/// summing the counts of the branches at or below the unit, then dividing.
pub fn monthly_by_unit() -> String {
    format!(
        "CREATE OR REPLACE VIEW attendance_monthly_by_unit AS
WITH per_unit AS (
    SELECT c.ancestor_level AS level, a.month, c.ancestor_id AS unit_id,
           SUM(a.meetings) AS meetings, SUM(a.expected) AS expected, SUM(a.present) AS present,
           SUM(a.excused) AS excused, SUM(a.absent) AS absent,
           CAST(SUM(a.present) AS DOUBLE) / NULLIF(SUM(a.expected), 0) AS rate
    FROM attendance_monthly a
    JOIN branches b ON b.branch_id = a.branch_id
    JOIN grid_closure c ON c.unit_id = b.unit_id
    GROUP BY c.ancestor_level, a.month, c.ancestor_id
),
{with_change}
SELECT p.level, p.month, p.unit_id, g.name, p.meetings, p.expected, p.present, p.excused,
       p.absent, p.rate, p.rate_change
FROM with_change p
LEFT JOIN grid_units g ON g.unit_id = p.unit_id",
        with_change = with_change("per_unit", "unit_id"),
    )
}

/// A meeting's month as a number: months since year 0, so `m / 3` is its quarter.
const MONTH_NUMBER: &str = "CAST(date_part('year', held_on) AS BIGINT) * 12 \
     + CAST(date_part('month', held_on) AS BIGINT) - 1";

/// The CTE `with_change`: the rows of `rows` (one per `key` and month) with `rate_change`, the
/// change from the rate of the previous calendar month (null when that month had no meetings).
/// The previous month's row is the previous row of the key: a window, not a join of `rows`
/// with itself, which computed `rows` (and the 1.5 M attendance rows under it) twice.
fn with_change(rows: &str, key: &str) -> String {
    format!(
        "with_change AS (
    SELECT *,
           CASE WHEN last_month = to_char(CAST(concat(month, '-01') AS DATE) - INTERVAL '1 month', '%Y-%m')
                THEN rate - last_rate END AS rate_change
    FROM (SELECT *,
                 LAG(month) OVER (PARTITION BY {key} ORDER BY month) AS last_month,
                 LAG(rate) OVER (PARTITION BY {key} ORDER BY month) AS last_rate
          FROM {rows})
)"
    )
}

fn kind_label(kind: &str) -> String {
    MEETING_KINDS
        .iter()
        .find(|k| k.canonical == kind)
        .and_then(|k| k.spellings.first())
        .map_or_else(|| kind.to_string(), |s| s.to_string())
}

/// `meeting_compliance`: per branch per quarter in which the tenant held any meeting, whether
/// the rules' meeting frequencies were met and, if not, each gap. Monthly requirements are
/// checked in each of the quarter's months (group meetings for every party group of the
/// branch); quarterly ones once in the quarter. Half-yearly and yearly requirements cannot be
/// judged within a quarter and are not checked here.
///
/// Months and quarters are numbers while rows are matched (`m`: months since year 0, `q`:
/// quarters since year 0, so `q = m / 3`); their text (`2024-03`, `2024-Q1`) is written only
/// for the quarters and the gaps shown, not for every meeting and every required slot.
pub fn compliance(rules: &Rules) -> String {
    let mut required = Vec::new();
    // Committee first, then party groups, then the quarterly meetings, as a report reads.
    let mut reqs: Vec<(&String, &Frequency)> =
        rules.attendance.requirements.get_ref().iter().collect();
    let order = |k: &str| {
        MEETING_KINDS
            .iter()
            .position(|m| m.canonical == k)
            .unwrap_or(usize::MAX)
    };
    reqs.sort_by_key(|(k, f)| (!matches!(f, Frequency::Monthly), order(k)));
    // A slot is a month (`m`, from 0 up) or a quarter (`-1 - q`, below 0): the two never meet.
    for (ord, (kind, freq)) in reqs.into_iter().enumerate() {
        let label = lit(&kind_label(kind));
        let k = lit(kind);
        match (freq, kind.as_str()) {
            (Frequency::Monthly, "group") => required.push(format!(
                "SELECT g.branch_id, qm.q, {ord} AS ord, {k} AS kind, g.party_group AS pg, qm.m AS slot,
                        {label} AS label
                 FROM party_groups g JOIN quarter_months qm ON qm.one = g.one"
            )),
            (Frequency::Monthly, _) => required.push(format!(
                "SELECT b.branch_id, qm.q, {ord} AS ord, {k} AS kind, '' AS pg, qm.m AS slot,
                        {label} AS label
                 FROM every_branch b JOIN quarter_months qm ON qm.one = b.one"
            )),
            (Frequency::Quarterly, _) => required.push(format!(
                "SELECT b.branch_id, q.q, {ord} AS ord, {k} AS kind, '' AS pg, -1 - q.q AS slot,
                        {label} AS label
                 FROM every_branch b JOIN quarters q ON q.one = b.one"
            )),
            (Frequency::HalfYear | Frequency::Yearly, _) => {}
        }
    }
    let required = if required.is_empty() {
        "SELECT CAST(NULL AS VARCHAR) AS branch_id, CAST(NULL AS BIGINT) AS q, 0 AS ord,
                CAST(NULL AS VARCHAR) AS kind, '' AS pg, CAST(NULL AS BIGINT) AS slot,
                CAST(NULL AS VARCHAR) AS label WHERE false"
            .to_string()
    } else {
        required.join("\nUNION ALL\n")
    };
    format!(
        "CREATE OR REPLACE VIEW meeting_compliance AS
WITH held_months AS (
    SELECT DISTINCT branch_id, kind,
           CASE WHEN kind = 'group' THEN COALESCE(party_group, '') ELSE '' END AS pg,
           {month} AS m
    FROM meetings
),
quarters AS (
    -- From the meetings' dates, not from held_months: every use of a CTE computes it again,
    -- and one number per meeting is cheaper than held_months' four.
    SELECT q, concat(CAST(q / 4 AS VARCHAR), '-Q', CAST(q % 4 + 1 AS VARCHAR)) AS quarter,
           {one} AS one
    FROM (SELECT DISTINCT ({month}) / 3 AS q FROM meetings)
),
quarter_months AS (
    SELECT q.q, q.q * 3 + k.k AS m, q.one
    FROM quarters q JOIN (VALUES (0, {one}), (1, {one}), (2, {one})) AS k(k, one) ON k.one = q.one
),
-- Every branch with every quarter (or month) is a join on `one`, a key equal on every row: see
-- `views::EVERY_PAIR_KEY`.
every_branch AS (
    SELECT branch_id, name, {one} AS one FROM branches
),
party_groups AS (
    SELECT DISTINCT branch_id, party_group, {one} AS one FROM members
    WHERE party_group IS NOT NULL AND party_group <> ''
),
held_slots AS (
    SELECT branch_id, kind, pg, m AS slot FROM held_months
    UNION
    SELECT DISTINCT branch_id, kind, pg, -1 - m / 3 AS slot FROM held_months
),
required AS (
{required}
),
gaps AS (
    SELECT r.branch_id, r.q, r.ord, r.pg, r.slot,
           CASE WHEN r.slot < 0 THEN r.label
                ELSE concat(r.label, ' ',
                            CASE WHEN r.pg = '' THEN '' ELSE concat(r.pg, ' ') END,
                            CAST(r.slot / 12 AS VARCHAR), '-',
                            lpad(CAST(r.slot % 12 + 1 AS VARCHAR), 2, '0'))
           END AS label
    FROM required r
    LEFT JOIN held_slots h
      ON h.branch_id = r.branch_id AND h.kind = r.kind AND h.pg = r.pg AND h.slot = r.slot
    WHERE h.branch_id IS NULL
),
missing AS (
    SELECT branch_id, q, string_agg(label, '; ' ORDER BY ord, pg, slot) AS missing
    FROM gaps GROUP BY branch_id, q
)
SELECT q.quarter, b.branch_id, b.name AS branch_name,
       m.missing IS NULL AS compliant,
       m.missing
FROM every_branch b JOIN quarters q ON q.one = b.one
LEFT JOIN missing m ON m.branch_id = b.branch_id AND m.q = q.q",
        one = super::EVERY_PAIR_KEY,
        month = MONTH_NUMBER,
    )
}

/// `attendance_alerts`: per member per year with an alert. `unexcused` counts absences (请假 is
/// excused and does not count); `longest_run` is the longest run of consecutive absences in
/// the member's attendance of the year, ordered by date then meeting id.
pub fn alerts(rules: &Rules) -> String {
    let warning = rules.attendance.unexcused_warning;
    let consecutive = rules.attendance.consecutive_unexcused;
    // A run of n absences needs n absences: members below both thresholds cannot be alerted,
    // and only the others' attendance is put in order.
    let fewest = warning.min(consecutive);
    // A member with no absence in a year is alerted only when a threshold is 0; otherwise the
    // counts need only the absences (4 % of attendance), not every attendance row.
    let only_absences = if fewest > 0 {
        "WHERE a.status = 'absent'"
    } else {
        ""
    };
    format!(
        "CREATE OR REPLACE VIEW attendance_alerts AS
WITH meeting_years AS (
    -- The year is taken per meeting, before the join, not once per attendance row.
    SELECT meeting_id, held_on, CAST(date_part('year', held_on) AS BIGINT) AS year FROM meetings
),
counts AS (
    SELECT a.member_id, m.year, SUM(CASE WHEN a.status = 'absent' THEN 1 ELSE 0 END) AS unexcused
    FROM attendance a JOIN meeting_years m ON m.meeting_id = a.meeting_id
    {only_absences}
    GROUP BY a.member_id, m.year
),
candidates AS (
    -- The few alerted keys first: the join keeps them in memory and streams attendance past.
    -- Then the meetings, written first so that they, not the candidates' 300,000 rows, are
    -- the side held in memory.
    SELECT a.member_id, a.status, m.meeting_id, m.held_on, m.year
    FROM meeting_years m
    JOIN (SELECT a.member_id, a.meeting_id, a.status, k.year
          FROM (SELECT member_id, year FROM counts WHERE unexcused >= {fewest}) k
          JOIN attendance a ON a.member_id = k.member_id) a
      ON m.meeting_id = a.meeting_id AND m.year = a.year
),
numbered AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY member_id, year ORDER BY held_on, meeting_id) AS rn
    FROM candidates
),
absence_islands AS (
    -- A running count of absences in the first window would save this one, but DataFusion's
    -- running SUM over 300,000 rows took longer than both ROW_NUMBERs.
    SELECT member_id, year,
           rn - ROW_NUMBER() OVER (PARTITION BY member_id, year ORDER BY rn) AS island
    FROM numbered WHERE status = 'absent'
),
runs AS (
    SELECT member_id, year, MAX(n) AS longest_run
    FROM (SELECT member_id, year, island, COUNT(*) AS n FROM absence_islands
          GROUP BY member_id, year, island)
    GROUP BY member_id, year
)
SELECT c.year, c.member_id, mem.branch_id, c.unexcused,
       COALESCE(r.longest_run, 0) AS longest_run,
       c.unexcused >= {warning} AS admonish,
       COALESCE(r.longest_run, 0) >= {consecutive} AS discipline
FROM counts c
JOIN members mem ON mem.member_id = c.member_id
LEFT JOIN runs r ON r.member_id = c.member_id AND r.year = c.year
WHERE c.unexcused >= {warning} OR COALESCE(r.longest_run, 0) >= {consecutive}"
    )
}
