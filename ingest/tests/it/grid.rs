//! The grid: one root at level 0, every other unit under a parent exactly one level up; a
//! rejected unit takes the units and branches under it along.

use ingest::Reason;

use crate::common::{load_case, rows};

#[test]
fn grid_rules() {
    let loaded = load_case("invalid/grid_rules");
    let reasons: Vec<&Reason> = loaded.report.issues.iter().map(|i| &i.reason).collect();
    assert!(matches!(reasons[0], Reason::SecondRoot { root } if root == "C0"));
    assert_eq!(reasons[2], &Reason::RootWithParent);
    assert_eq!(reasons[3], &Reason::NoParent { level: 3 });
    // X1 and X2 name each other as parent: both are on the cycle, and say so.
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        reasons[4],
        &Reason::GridCycle {
            path: path(&["X1", "X2", "X1"])
        }
    );
    assert_eq!(
        reasons[5],
        &Reason::GridCycle {
            path: path(&["X2", "X1", "X2"])
        }
    );
    assert_eq!(rows(&loaded, "grid_units"), 9);
}

#[test]
fn a_dangling_parent_takes_its_units_branches_along() {
    let loaded = load_case("invalid/dangling_parent");
    let [unit, branch] = loaded.report.issues.as_slice() else {
        panic!("{:#?}", loaded.report.issues);
    };
    assert_eq!(
        unit.reason,
        Reason::ParentMissing {
            parent: "T2".into()
        }
    );
    assert!(matches!(
        &branch.reason,
        Reason::ReferenceRejected { table: "grid_units", value, rejection }
            if value == "V3" && rejection.line == unit.line.expect("line")
    ));
}

fn cycles(report: &ingest::LoadReport) -> Vec<(String, Vec<String>)> {
    report
        .issues
        .iter()
        .filter_map(|i| match &i.reason {
            Reason::GridCycle { path } => Some((i.value.clone().unwrap_or_default(), path.clone())),
            _ => None,
        })
        .collect()
}

/// Two units of one file that name each other as parent: both are on the cycle, both are
/// rejected with its path, and what hangs under them goes with them.
#[test]
fn a_cycle_inside_one_load_is_rejected_with_its_path() {
    let county = crate::common::County::new();
    let input = county.folder(
        "cycle",
        &[
            (
                "grid_units.csv",
                "unit_id,parent_id,level,name\nC0,,0,县\nD1,C0,1,东片区\nU12,U31,2,东富镇\nU31,U12,3,古楼坪村\nU41,U31,4,第一村民小组\n",
            ),
            (
                "branches.csv",
                "branch_id,name,unit_id,type\nB1,古楼坪村党支部,U31,rural\n",
            ),
        ],
    );
    let report = county.load(&[input]);
    let found = cycles(&report);
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        found,
        [
            ("U31".to_string(), path(&["U12", "U31", "U12"])),
            ("U12".to_string(), path(&["U31", "U12", "U31"])),
        ],
        "{:#?}",
        report.issues
    );
    let text: Vec<String> = report.issues.iter().map(|i| i.to_string()).collect();
    assert!(text[0].contains("U12 → U31 → U12"), "{text:#?}");
    // The unit and the branch under the cycle are rejected because of it.
    assert!(
        report
            .issues
            .iter()
            .any(|i| i.value.as_deref() == Some("U31")
                && matches!(&i.reason, Reason::ParentRejected { parent, .. } if parent == "U31"))
    );
    assert!(report.issues.iter().any(|i| i.table == "branches"));
    assert_eq!(county.keys("grid_units"), ["C0", "D1"]);
}

/// A committed township re-parented under its own village group: the level check passes
/// (the group is at level 4, the township says 5), but the committed chain of parents leads
/// back to it. The row is rejected with the cycle's path and the committed grid stays.
#[test]
fn re_parenting_a_committed_unit_under_its_descendant_is_rejected() {
    let county = crate::common::County::new();
    county.load(&[crate::common::reference_input()]);
    let input = county.folder(
        "reparent",
        &[(
            "grid_units.csv",
            "unit_id,parent_id,level,name\nT1,G1,5,东富镇\n",
        )],
    );
    let report = county.load(&[input]);
    let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        cycles(&report),
        [("G1".to_string(), path(&["T1", "G1", "V1", "T1"]))],
        "{:#?}",
        report.issues
    );
    assert_eq!(report.tables[0].rejected, 1);
    let (_, units) = county
        .tables()
        .into_iter()
        .find(|(t, _)| *t == "grid_units")
        .expect("grid_units");
    let parents = crate::common::texts_of(&units, "parent_id");
    let ids = crate::common::texts_of(&units, "unit_id");
    let t1 = ids
        .iter()
        .position(|i| i.as_deref() == Some("T1"))
        .expect("T1");
    assert_eq!(parents[t1].as_deref(), Some("D1"));
}
