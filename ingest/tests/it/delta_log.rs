//! What another Delta reader (delta-rs, Spark, DuckDB) sees: the newest version of every
//! table is the state the tenant's manifest committed, even after a load was killed between
//! writing its table versions and committing the manifest.

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;

use crate::common::{County, reference_input};

fn url_of(county: &County, table: &str) -> url::Url {
    let path = std::path::absolute(county.tenant.table_path(table)).expect("path");
    url::Url::from_directory_path(&path).expect("url")
}

/// The newest version of `table` and its rows, as delta-rs reads it without the manifest.
fn head(county: &County, table: &str) -> (u64, usize) {
    county.rt.block_on(async {
        let delta = deltalake::open_table(url_of(county, table))
            .await
            .expect("open");
        let version = delta.version().expect("version");
        let (_, stream) = delta.scan_table().await.expect("scan");
        let batches: Vec<RecordBatch> = stream.try_collect().await.expect("read");
        (version, batches.iter().map(|b| b.num_rows()).sum())
    })
}

/// What a killed load leaves: a new Delta version of `table` (here: its rows doubled), and
/// no manifest naming it.
fn orphan_version(county: &County, table: &str) {
    county.rt.block_on(async {
        let manifest = county.tenant.manifest().expect("manifest");
        let batches = county
            .tenant
            .read_table(table, &manifest)
            .await
            .expect("read");
        let schema = batches[0].schema();
        let once = concat_batches(&schema, &batches).expect("concat");
        let delta = deltalake::open_table(url_of(county, table))
            .await
            .expect("open");
        delta
            .write(vec![once.clone(), once])
            .with_save_mode(SaveMode::Overwrite)
            .await
            .expect("write the orphan version");
    });
}

#[test]
fn versions_left_by_a_killed_load_are_rolled_back_by_the_next_load() {
    let county = County::new();
    county.load(&[reference_input()]);
    let manifest = county.tenant.manifest().expect("manifest");
    let committed = head(&county, "members");
    assert_eq!(committed.0, manifest.tables["members"]);

    for table in ["members", "grid_units"] {
        orphan_version(&county, table);
    }
    let (orphan, rows) = head(&county, "members");
    assert!(orphan > committed.0 && rows == 2 * committed.1);

    // The next load touches neither table (it re-sends one identical branch), yet every
    // reader now sees the committed rows again at the head of the log.
    let input = county.folder(
        "next",
        &[(
            "branches.csv",
            "branch_id,name,unit_id,type,is_joint,founded_on,paired_branch_id\nB2,南桥村党支部,V2,rural,false,,\n",
        )],
    );
    county.load(&[input]);
    let manifest = county.tenant.manifest().expect("manifest");
    for table in ["members", "grid_units"] {
        let (version, rows) = head(&county, table);
        assert_eq!(version, manifest.tables[table], "{table}");
        let expected: usize = county.rt.block_on(async {
            county
                .tenant
                .read_table(table, &manifest)
                .await
                .expect("read")
                .iter()
                .map(|b| b.num_rows())
                .sum()
        });
        assert_eq!(rows, expected, "{table}");
    }
    assert_eq!(head(&county, "members").1, committed.1);
}
