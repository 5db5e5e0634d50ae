//! The grid closure every roll-up shares, and grid visits.

/// `grid_closure(unit_id, ancestor_id, ancestor_level)`: every unit with each of its
/// ancestors, itself included (a unit is its own ancestor at its own level).
///
/// Written as one join per step up, not as a recursive query: a load accepts levels 0 to 5
/// only, each unit's parent exactly one level up, so no unit has more than five ancestors above
/// it. The two say the same; the joins also run on a cluster, where a recursive query's work
/// table cannot cross the boundary between two stages.
pub fn closure() -> String {
    let mut sql = String::from(
        "CREATE OR REPLACE VIEW grid_closure AS
SELECT unit_id, unit_id AS ancestor_id, level AS ancestor_level FROM grid_units",
    );
    // Step k: the unit (g1), its ancestors g2 … gk, and gk's parent.
    for k in 1..=model::schema::DEEPEST_GRID_LEVEL {
        let mut from = String::from("grid_units g1");
        for j in 2..=k {
            from.push_str(&format!(
                " JOIN grid_units g{j} ON g{j}.unit_id = g{}.parent_id",
                j - 1
            ));
        }
        sql.push_str(&format!(
            "
UNION ALL
SELECT g1.unit_id, g{k}.parent_id AS ancestor_id, g{k}.level - 1 AS ancestor_level
FROM {from} WHERE g{k}.parent_id IS NOT NULL"
        ));
    }
    sql
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
