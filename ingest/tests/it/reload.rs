//! Re-sending rows the warehouse already holds changes nothing: no table is rewritten, no new
//! Delta version is committed, and the load says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use model::schema::TABLES;

use crate::common::{County, reference_input};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample")
}

/// The newest Delta version of every SPEC table, as any Delta reader sees it.
fn delta_heads(county: &County) -> BTreeMap<&'static str, u64> {
    county.rt.block_on(async {
        let mut out = BTreeMap::new();
        for table in TABLES {
            let path = std::path::absolute(county.tenant.table_path(table.name)).expect("path");
            let url = url::Url::from_directory_path(&path).expect("url");
            let delta = deltalake::open_table(url).await.expect("open delta table");
            out.insert(table.name, delta.version().expect("version"));
        }
        out
    })
}

#[test]
fn loading_the_sample_twice_commits_no_new_version_of_any_table() {
    let county = County::new();
    let first = county.load(&[sample_dir()]);
    assert!(!first.unchanged(), "{:?}", first.changed_tables);
    let heads = delta_heads(&county);
    let manifest = county.tenant.manifest().expect("manifest");

    let second = county.load(&[sample_dir()]);
    assert!(second.unchanged(), "{:?}", second.changed_tables);
    assert_eq!(delta_heads(&county), heads);
    let again = county.tenant.manifest().expect("manifest");
    for table in TABLES {
        assert_eq!(
            again.tables[table.name], manifest.tables[table.name],
            "{}",
            table.name
        );
    }
    // The load itself is still recorded.
    assert_eq!(again.last_load_id, 2);
}

/// Some committed rows re-sent identically, in another order and without the others: the
/// merge keeps every row where it was, so the table is not rewritten.
#[test]
fn re_sending_some_committed_rows_in_another_order_rewrites_nothing() {
    let county = County::new();
    county.load(&[reference_input()]);
    let heads = delta_heads(&county);
    let before = county.tables();
    let input = county.folder(
        "resend",
        &[(
            "members.csv",
            "member_id,branch_id,name,gender,birth_date,joined_on,status,category,id_number,phone,party_group,points_exempt\n\
             M3,B2,王小明,男,1990-06-06,2023-11-20,probationary,mobile,430281199006069931,,,false\n\
             M1,B1,张三丰,男,1980-01-01,2005-07-01,formal,no_post,430281198001019914,13800001111,第一党小组,false\n",
        )],
    );
    let report = county.load(&[input]);
    assert_eq!(report.tables[0].loaded, 2);
    assert!(report.unchanged(), "{:?}", report.changed_tables);
    assert_eq!(delta_heads(&county), heads);
    assert_eq!(county.tables(), before);
}

/// A re-sent row that differs still wins, in place: only its table gets a new version.
#[test]
fn a_changed_row_among_identical_ones_rewrites_only_its_table() {
    let county = County::new();
    county.load(&[reference_input()]);
    let heads = delta_heads(&county);
    let input = county.folder(
        "changed",
        &[(
            "members.csv",
            "member_id,branch_id,name,status\nM3,B2,王小明,formal\n",
        )],
    );
    let report = county.load(&[input]);
    assert_eq!(report.changed_tables, ["members"]);
    let after = delta_heads(&county);
    for (table, version) in &heads {
        if *table == "members" {
            assert_eq!(after[table], version + 1);
        } else {
            assert_eq!(after[table], *version, "{table}");
        }
    }
    assert_eq!(county.keys("members"), ["M1", "M2", "M3", "M4"]);
}
