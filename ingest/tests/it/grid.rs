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
    // The unit under a rejected unit says where and why that one was rejected.
    let Reason::ParentRejected { parent, rejection } = reasons[5] else {
        panic!("{:?}", reasons[5]);
    };
    assert_eq!(parent, "X1");
    assert_eq!(rejection.line, 15);
    assert!(matches!(
        rejection.cause.as_ref().map(|c| &c.reason),
        Some(Reason::ParentMissing { parent }) if parent == "X2"
    ));
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
