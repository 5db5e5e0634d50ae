//! Earlier states stay readable: every load's manifest is kept, and the tables at a load are
//! the Delta versions that load committed.

use ingest::LoadOptions;

use crate::common::{County, reference_input, texts_of};

#[test]
fn the_state_of_an_earlier_load_still_has_a_removed_member() {
    let county = County::new();
    county.load(&[reference_input()]);
    let members = "member_id,branch_id,name,status\nM1,B1,张三丰,formal\nM2,B1,李秀英,formal\nM4,B3,欧阳娜,formal\n";
    let input = county.folder("snapshot", &[("members.csv", members)]);
    county
        .load_with(
            &[input],
            &LoadOptions {
                replace: vec!["members".into()],
                ..LoadOptions::default()
            },
        )
        .expect("snapshot");
    assert_eq!(county.keys("members"), ["M1", "M2", "M4"]);

    let history = county
        .rt
        .block_on(ingest::history(&county.tenant))
        .expect("history");
    let ids: Vec<u64> = history.iter().map(|h| h.load_id).collect();
    assert_eq!(ids, [1, 2]);
    assert!(history[1].tables["members"] > history[0].tables["members"]);
    assert_eq!(history[1].tables["branches"], history[0].tables["branches"]);
    assert_eq!(history[1].files.len(), 1);

    let at_first = county.tenant.manifest_at(1).expect("manifest of load 1");
    let batches = county
        .rt
        .block_on(county.tenant.read_table("members", &at_first))
        .expect("read");
    let mut ids: Vec<String> = batches
        .iter()
        .flat_map(|b| texts_of(b, "member_id"))
        .flatten()
        .collect();
    ids.sort();
    assert_eq!(ids, ["M1", "M2", "M3", "M4"]);
    // A load that never committed has no state to read.
    let err = county.tenant.manifest_at(3).expect_err("no load 3");
    assert!(err.to_string().contains("load 3"), "{err}");
}
