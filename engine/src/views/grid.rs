//! The grid closure every roll-up shares, and grid visits.

/// `grid_closure(unit_id, ancestor_id, ancestor_level)`: every unit with each of its
/// ancestors, itself included (a unit is its own ancestor at its own level).
pub fn closure() -> String {
    "CREATE OR REPLACE VIEW grid_closure AS
WITH RECURSIVE up (unit_id, ancestor_id, ancestor_level) AS (
    SELECT unit_id, unit_id AS ancestor_id, level AS ancestor_level FROM grid_units
    UNION ALL
    SELECT up.unit_id, g.parent_id AS ancestor_id, g.level - 1 AS ancestor_level
    FROM up JOIN grid_units g ON g.unit_id = up.ancestor_id
    WHERE g.parent_id IS NOT NULL
)
SELECT unit_id, ancestor_id, ancestor_level FROM up"
        .to_string()
}

/// `grid_visits`: per unit at every level, the visits recorded at that unit or below it.
/// Units nobody visited are listed with zero visits and no resolution rate.
pub fn visits() -> String {
    "CREATE OR REPLACE VIEW grid_visits AS
WITH rolled AS (
    SELECT c.ancestor_id AS unit_id,
           COUNT(*) AS visits,
           SUM(v.households) AS households,
           SUM(v.issues_raised) AS issues_raised,
           SUM(v.issues_resolved) AS issues_resolved
    FROM visits v JOIN grid_closure c ON c.unit_id = v.unit_id
    GROUP BY c.ancestor_id
)
SELECT g.unit_id, g.name AS unit_name, g.level,
       COALESCE(r.visits, 0) AS visits,
       COALESCE(r.households, 0) AS households,
       COALESCE(r.issues_raised, 0) AS issues_raised,
       COALESCE(r.issues_resolved, 0) AS issues_resolved,
       CAST(r.issues_resolved AS DOUBLE) / NULLIF(r.issues_raised, 0) AS resolution_rate
FROM grid_units g LEFT JOIN rolled r ON r.unit_id = g.unit_id"
        .to_string()
}
