//! Metric results kept with the commit: a load computes them once, every later command reads
//! them, and what it reads equals what the views compute, for every role and rules version.

use std::fs;
use std::path::{Path, PathBuf};

use engine::access::{Access, Role};
use engine::session::{Session, forget_sessions};

use crate::common::Warehouse;

fn sample() -> Warehouse {
    let w = Warehouse::new();
    let out = w
        .command(&[
            "ingest",
            "--tenant",
            "t",
            datasets::sample_dir().to_str().expect("path"),
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("metric results kept"), "{stderr}");
    w
}

/// The kept result sets of tenant `t`.
fn kept(w: &Warehouse) -> Vec<PathBuf> {
    let dir = w.path().join("tenants/t/results");
    let mut sets: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    !p.file_name()
                        .expect("name")
                        .to_string_lossy()
                        .starts_with('.')
                })
                .collect()
        })
        .unwrap_or_default();
    sets.sort();
    sets
}

/// Every name `role` may read of tenant `t`, each as sorted pretty-printed rows.
fn everything(wh: &Path, role: Role, rules_version: Option<u32>) -> Vec<(String, String)> {
    everything_of(wh, "t", role, rules_version)
}

/// Every name `role` may read of `tenant`, each as sorted pretty-printed rows.
fn everything_of(
    wh: &Path,
    tenant: &str,
    role: Role,
    rules_version: Option<u32>,
) -> Vec<(String, String)> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        forget_sessions();
        let warehouse = warehouse::Warehouse::open(wh).expect("warehouse");
        let access = Access::new(vec![tenant.to_string()], role).with_rules_version(rules_version);
        let session = Session::open(&warehouse, &access).await.expect("session");
        let mut all = Vec::new();
        for name in access.names() {
            let df = session.context().table(name).await.expect(name);
            let batches = df.collect().await.expect(name);
            let text = arrow::util::pretty::pretty_format_batches(&batches)
                .expect("print")
                .to_string();
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_unstable();
            all.push((name.to_string(), lines.join("\n")));
        }
        all
    })
}

fn forget_kept(w: &Warehouse) {
    forget_kept_of(w, "t");
}

fn forget_kept_of(w: &Warehouse, tenant: &str) {
    let _ = fs::remove_dir_all(w.path().join("tenants").join(tenant).join("results"));
}

/// Each view's columns (name, type, nullable), as the kept file or the view declares them.
fn view_columns(wh: &Path, tenant: &str) -> Vec<(String, String)> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        forget_sessions();
        let warehouse = warehouse::Warehouse::open(wh).expect("warehouse");
        let access = Access::new(vec![tenant.to_string()], Role::Admin);
        let session = Session::open(&warehouse, &access).await.expect("session");
        let mut all = Vec::new();
        for name in engine::views::VIEW_NAMES {
            let df = session.context().table(*name).await.expect(name);
            let columns = df
                .schema()
                .fields()
                .iter()
                .map(|f| format!("{} {} {}", f.name(), f.data_type(), f.is_nullable()))
                .collect::<Vec<_>>()
                .join(", ");
            all.push((name.to_string(), columns));
        }
        all
    })
}

/// A refresh of several tenants at once keeps, for each tenant, exactly the rows and columns
/// its views compute alone: four counties under the default rules (the sample, the sample less
/// one period's scores, so that every id of one is also the other's, a GBK county with Chinese
/// headers and an English one), and one under rules of its own.
#[test]
fn a_refresh_of_several_tenants_keeps_what_each_alone_computes() {
    let w = Warehouse::new();
    w.load_sample();
    crate::common::set_rules_paying_low_flag_holders(&w);
    let sample = datasets::sample_dir();
    let fixtures = crate::common::fixtures();
    for (tenant, input) in [
        ("a", sample.clone()),
        ("b", fixtures.join("valid/gbk_chinese/input")),
        ("c", fixtures.join("valid/utf8_english/input")),
    ] {
        w.ok(&["tenant", "add", tenant, "--name", tenant]);
        w.ok(&["ingest", "--tenant", tenant, input.to_str().expect("path")]);
    }
    // `d` is `a` without one period's scores: its ids are all `a`'s, and its assessed periods
    // skip 2024-B3, so its flags of B2 and B4 are consecutive for it and not for `a`.
    let d = tempfile::tempdir().expect("dir");
    for table in model::schema::TABLES {
        let filter = if table.name == "scores" {
            " WHERE period <> '2024-B3'"
        } else {
            ""
        };
        let csv = w.ok(&[
            "sql",
            "--tenant",
            "a",
            "--format",
            "csv",
            &format!("SELECT * FROM {}{filter}", table.name),
        ]);
        fs::write(d.path().join(format!("{}.csv", table.name)), csv).expect("write");
    }
    w.ok(&["tenant", "add", "d", "--name", "d"]);
    w.ok(&["ingest", "--tenant", "d", d.path().to_str().expect("path")]);
    let tenants = ["t", "a", "b", "c", "d"];
    for tenant in tenants {
        forget_kept_of(&w, tenant);
    }
    let out = w.ok(&["tenant", "refresh", "--all"]);
    for tenant in tenants {
        assert!(
            out.contains(&format!("kept the metric results of tenant {tenant}:")),
            "{out}"
        );
    }
    let mut read = Vec::new();
    for tenant in tenants {
        read.push((
            everything_of(&w.path(), tenant, Role::Admin, None),
            view_columns(&w.path(), tenant),
        ));
        forget_kept_of(&w, tenant);
    }
    for (tenant, (rows, columns)) in tenants.iter().zip(read) {
        let alone = everything_of(&w.path(), tenant, Role::Admin, None);
        assert_eq!(rows.len(), alone.len());
        for ((name, a), (_, b)) in rows.iter().zip(&alone) {
            assert!(
                a == b,
                "{tenant}: {name} kept by the refresh of several differs from its own views:\n{a}\n---\n{b}"
            );
        }
        assert_eq!(
            columns,
            view_columns(&w.path(), tenant),
            "{tenant}: the kept columns"
        );
    }
    // The rows differ between the counties, so the comparison above could tell them apart.
    assert_ne!(
        everything_of(&w.path(), "a", Role::Admin, None),
        everything_of(&w.path(), "c", Role::Admin, None)
    );
}

/// The rows a session reads from the kept results are the rows the views compute, for the
/// admin (who sees personal columns; the results were computed over masked tables), the analyst
/// and the viewer.
#[test]
fn kept_results_equal_the_views_for_every_role() {
    let w = sample();
    assert_eq!(kept(&w).len(), 1, "one set for the load's state");
    for role in [Role::Admin, Role::Analyst, Role::Viewer] {
        let read = everything(&w.path(), role, None);
        let sets = kept(&w);
        forget_kept(&w);
        let computed = everything(&w.path(), role, None);
        assert_eq!(read.len(), computed.len());
        for ((name, a), (_, b)) in read.iter().zip(&computed) {
            assert!(a == b, "{role}: {name} read from the kept results differs");
        }
        // Put the set back for the next role (computing it again is the load's job).
        w.ok(&["tenant", "refresh", "t"]);
        assert_eq!(kept(&w).len(), sets.len());
    }
}

/// A command reads the kept rows. A damaged file costs the speed, not the answer: the views
/// are computed, the file is named with the command that mends it, and after `tenant refresh`
/// the rows are read again.
#[test]
fn a_command_reads_the_kept_rows_and_a_damaged_file_is_named() {
    let w = sample();
    let args = [
        "assess", "--tenant", "t", "--period", "2024-B6", "--format", "csv",
    ];
    let before = w.ok(&args);
    let set = kept(&w).remove(0);
    let file = set.join("red_flag_ranking.arrow");
    fs::write(&file, b"half a file").expect("damage");
    let out = w.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), before);
    assert!(
        stderr.contains("red_flag_ranking.arrow") && stderr.contains("gridassess tenant refresh t"),
        "{stderr}"
    );
    w.ok(&["tenant", "refresh", "t"]);
    let out = w.run(&args);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), before);

    // What the command shows comes from the file: the same columns without rows are a county
    // in which no branch took part.
    let set = kept(&w).remove(0);
    let file = set.join("red_flag_ranking.arrow");
    let schema =
        arrow::ipc::reader::FileReader::try_new(fs::File::open(&file).expect("open"), None)
            .expect("footer")
            .schema();
    let mut writer =
        arrow::ipc::writer::FileWriter::try_new(fs::File::create(&file).expect("create"), &schema)
            .expect("writer");
    writer.finish().expect("finish");
    let out = w.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no scores are loaded yet"), "{stderr}");
}

/// A load keeps the new state's results and clears those no reader asks for; `rules set` keeps
/// the new rules version's; a replay under the old rules computes and answers as before.
#[test]
fn each_commit_keeps_its_own_results() {
    let w = sample();
    let first = kept(&w);
    let fixture = crate::common::fixtures().join("valid/gbk_chinese/input");
    let w2 = Warehouse::new();
    w2.ok(&["ingest", "--tenant", "t", fixture.to_str().expect("path")]);
    let v1 = w2.ok(&[
        "assess", "--tenant", "t", "--period", "2024-B1", "--format", "csv",
    ]);
    crate::common::set_rules_paying_low_flag_holders(&w2);
    assert_eq!(kept(&w2).len(), 2, "one set per rules version");
    let v2 = w2.ok(&[
        "assess", "--tenant", "t", "--period", "2024-B1", "--format", "csv",
    ]);
    assert_ne!(v1, v2, "the new rules are read");
    let replay = w2.ok(&[
        "assess",
        "--tenant",
        "t",
        "--period",
        "2024-B1",
        "--format",
        "csv",
        "--rules-version",
        "1",
    ]);
    assert_eq!(replay, v1);

    // Two more loads (each commits a new state, even with the same rows): only the newest
    // two states' sets stay.
    for _ in 0..2 {
        w.load_sample();
    }
    let now = kept(&w);
    assert!(!now.contains(&first[0]), "the first state's set is cleared");
    assert!(now.len() <= 2, "{now:?}");
}

/// A refresh of several tenants names each one it could not do and keeps the others'.
#[test]
fn a_refresh_of_several_tenants_names_the_one_it_cannot_do() {
    let w = sample();
    forget_kept(&w);
    let out = w.run(&["tenant", "refresh", "t", "nosuch"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("kept the metric results of tenant t:"),
        "{stdout}"
    );
    assert!(
        stderr.contains("tenant nosuch")
            && stderr.contains("1 of 2 tenants could not be kept: nosuch"),
        "{stderr}"
    );
    assert_eq!(kept(&w).len(), 1, "t's results are kept");
}

/// A tenant named twice is refreshed once (two refreshes of one tenant at once would drop and
/// write the same results under each other), and `--all` over a warehouse without tenants
/// says there is nothing to do.
#[test]
fn a_refresh_names_each_tenant_once_and_says_when_there_is_none() {
    let w = sample();
    let out = w.ok(&["tenant", "refresh", "t", "t"]);
    assert_eq!(
        out.matches("kept the metric results of tenant t:").count(),
        1,
        "{out}"
    );
    assert_eq!(kept(&w).len(), 1);

    let empty = tempfile::tempdir().expect("dir");
    let wh = empty.path().join("wh");
    crate::common::run_in(&wh, &["init"]);
    let out = crate::common::bin()
        .env("GRIDASSESS_WAREHOUSE", &wh)
        .args(["tenant", "refresh", "--all"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no tenants"), "{stderr}");
}
