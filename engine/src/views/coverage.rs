//! The two coverages (两个覆盖, 赣州经开区): how many non-public enterprises and social
//! organizations a party organization covers, standalone or joint, and the findings to act on.

use super::lit;
use model::rules::Rules;

/// `coverage`: per grid level, organization kind and unit at that level (an organization
/// counts under its ancestor at the level). `standalone_rate` is standalone / orgs, the share
/// of organizations with a branch of their own.
pub fn coverage() -> String {
    "CREATE OR REPLACE VIEW coverage AS
WITH o AS (
    SELECT o.org_id, o.kind, o.unit_id, o.branch_id, b.is_joint
    FROM organizations o LEFT JOIN branches b ON b.branch_id = o.branch_id
),
counted AS (
    SELECT c.ancestor_level AS level, o.kind, c.ancestor_id AS unit_id,
           COUNT(*) AS orgs,
           SUM(CASE WHEN o.branch_id IS NOT NULL THEN 1 ELSE 0 END) AS covered,
           SUM(CASE WHEN o.branch_id IS NOT NULL AND NOT o.is_joint THEN 1 ELSE 0 END) AS standalone,
           SUM(CASE WHEN o.branch_id IS NOT NULL AND o.is_joint THEN 1 ELSE 0 END) AS joint
    FROM o JOIN grid_closure c ON c.unit_id = o.unit_id
    GROUP BY c.ancestor_level, o.kind, c.ancestor_id
)
SELECT k.level, k.kind, k.unit_id, g.name AS unit_name, k.orgs, k.covered,
       CAST(k.covered AS DOUBLE) / NULLIF(k.orgs, 0) AS coverage_rate,
       k.standalone, k.joint,
       CAST(k.standalone AS DOUBLE) / NULLIF(k.orgs, 0) AS standalone_rate
FROM counted k LEFT JOIN grid_units g ON g.unit_id = k.unit_id"
        .to_string()
}

/// `coverage_findings`: what the department should act on, one row per finding.
pub fn findings(rules: &Rules) -> String {
    let min = rules.coverage.standalone_min_members;
    let max_orgs = rules.coverage.joint_max_orgs;
    format!(
        "CREATE OR REPLACE VIEW coverage_findings AS
WITH o AS (
    SELECT o.org_id, o.name, o.party_members, o.branch_id, b.is_joint, b.name AS branch_name
    FROM organizations o LEFT JOIN branches b ON b.branch_id = o.branch_id
),
joint_load AS (
    SELECT branch_id, COUNT(*) AS orgs FROM o WHERE is_joint GROUP BY branch_id
)
SELECT {standalone} AS finding, org_id, branch_id,
       concat(name, '有正式党员', CAST(party_members AS VARCHAR), '名（达到', '{min}', '名），',
              CASE WHEN branch_id IS NULL THEN '尚未建立党组织'
                   ELSE concat('现由联合党组织“', branch_name, '”覆盖') END,
              '，应单独组建党组织') AS detail
FROM o
WHERE party_members >= {min} AND (branch_id IS NULL OR is_joint)
UNION ALL
SELECT {too_many} AS finding, CAST(NULL AS VARCHAR) AS org_id, j.branch_id,
       concat('联合党组织“', b.name, '”覆盖', CAST(j.orgs AS VARCHAR), '个组织，超出“一管五”上限（最多', '{max_orgs}', '个）') AS detail
FROM joint_load j JOIN branches b ON b.branch_id = j.branch_id
WHERE j.orgs > {max_orgs}
UNION ALL
SELECT {uncovered} AS finding, org_id, branch_id,
       concat(name, '有正式党员', CAST(party_members AS VARCHAR), '名，尚未被党组织覆盖') AS detail
FROM o
WHERE party_members >= 1 AND branch_id IS NULL",
        standalone = lit("应单独组建"),
        too_many = lit("超出一管五"),
        uncovered = lit("有党员未覆盖"),
    )
}
