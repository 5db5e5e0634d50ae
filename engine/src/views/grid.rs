//! The grid closure every roll-up shares, and grid visits.

use super::Tenants;

/// `grid_closure(unit_id, ancestor_id, ancestor_level)`: every unit with each of its
/// ancestors, itself included (a unit is its own ancestor at its own level).
///
/// Written as one join per step up, not as a recursive query: a load accepts levels 0 to 5
/// only, each unit's parent exactly one level up, so no unit has more than five ancestors above
/// it. The two say the same; the joins also run on a cluster, where a recursive query's work
/// table cannot cross the boundary between two stages.
pub(crate) fn closure(k: Tenants) -> String {
    let mut sql = format!(
        "CREATE OR REPLACE VIEW grid_closure AS
SELECT {t}unit_id, unit_id AS ancestor_id, level AS ancestor_level FROM grid_units",
        t = k.key("")
    );
    // Step k: the unit (g1), its ancestors g2 … gk, and gk's parent.
    for up in 1..=model::schema::DEEPEST_GRID_LEVEL {
        let mut from = String::from("grid_units g1");
        for j in 2..=up {
            let below = format!("g{}", j - 1);
            from.push_str(&format!(
                " JOIN grid_units g{j} ON {same}g{j}.unit_id = {below}.parent_id",
                same = k.same(&format!("g{j}"), &below),
            ));
        }
        sql.push_str(&format!(
            "
UNION ALL
SELECT {t}g1.unit_id, g{up}.parent_id AS ancestor_id, g{up}.level - 1 AS ancestor_level
FROM {from} WHERE g{up}.parent_id IS NOT NULL",
            t = k.key("g1"),
        ));
    }
    sql
}

/// `grid_visits`: per unit at every level, the visits recorded at that unit or below it.
/// Units nobody visited are listed with zero visits and no resolution rate.
pub(crate) fn visits(k: Tenants) -> String {
    format!(
        "CREATE OR REPLACE VIEW grid_visits AS
WITH rolled AS (
    SELECT {tc}c.ancestor_id AS unit_id,
           COUNT(*) AS visits,
           SUM(v.households) AS households,
           SUM(v.issues_raised) AS issues_raised,
           SUM(v.issues_resolved) AS issues_resolved
    FROM visits v JOIN grid_closure c ON {same_cv}c.unit_id = v.unit_id
    GROUP BY {tc}c.ancestor_id
)
SELECT {tg}g.unit_id, g.name AS unit_name, g.level,
       COALESCE(r.visits, 0) AS visits,
       COALESCE(r.households, 0) AS households,
       COALESCE(r.issues_raised, 0) AS issues_raised,
       COALESCE(r.issues_resolved, 0) AS issues_resolved,
       CAST(r.issues_resolved AS DOUBLE) / NULLIF(r.issues_raised, 0) AS resolution_rate
FROM grid_units g LEFT JOIN rolled r ON {same_rg}r.unit_id = g.unit_id",
        tc = k.key("c"),
        tg = k.key("g"),
        same_cv = k.same("c", "v"),
        same_rg = k.same("r", "g"),
    )
}
