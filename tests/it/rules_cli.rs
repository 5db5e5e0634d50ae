use std::fs;

use crate::common::Warehouse;

/// The default rules with five points moved from 驻村帮扶 to 党组织建设: maxima still sum to 100.
fn five_points_to_party_building(rules: &str) -> String {
    rules
        .replace(
            "{ name = \"党组织建设\", max = 20 }",
            "{ name = \"党组织建设\", max = 25 }",
        )
        .replace(
            "{ name = \"驻村帮扶\", max = 10 }",
            "{ name = \"驻村帮扶\", max = 5 }",
        )
}

#[test]
fn rules_round_trip_and_every_change_is_a_new_version() {
    let w = Warehouse::new();
    let shown = w.ok(&["rules", "show", "--tenant", "t"]);
    assert!(
        shown.starts_with("# rules version 1 of tenant t\n"),
        "{shown}"
    );
    assert!(shown.contains("党组织建设"));

    // Move five points from 驻村帮扶 to 党组织建设: the maxima still sum to 100.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("rules.toml");
    let changed = five_points_to_party_building(&shown);
    fs::write(&file, &changed).expect("write");
    let out = w.ok(&[
        "rules",
        "set",
        "--tenant",
        "t",
        file.to_str().expect("path"),
    ]);
    assert!(out.contains("rules version 2"), "{out}");
    let now = w.ok(&["rules", "show", "--tenant", "t"]);
    assert!(now.starts_with("# rules version 2 of tenant t\n"), "{now}");
    assert!(now.contains("{ name = \"党组织建设\", max = 25 }"));

    // A refused file leaves the rules in force untouched.
    fs::write(&file, changed.replace("top_share = 0.2", "top_share = 2")).expect("write");
    let out = w.run(&[
        "rules",
        "set",
        "--tenant",
        "t",
        file.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("top_share 2 is not between 0 and 1"));
    assert!(
        w.ok(&["rules", "show", "--tenant", "t"])
            .starts_with("# rules version 2")
    );
}

#[test]
fn scores_are_checked_against_the_rules_in_force() {
    let w = Warehouse::new();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("rules.toml");
    let shown = w.ok(&["rules", "show", "--tenant", "t"]);
    fs::write(&file, five_points_to_party_building(&shown)).expect("write");
    w.ok(&[
        "rules",
        "set",
        "--tenant",
        "t",
        file.to_str().expect("path"),
    ]);
    let input = crate::common::fixtures().join("invalid/scores/input");
    let out = w.ok(&[
        "ingest",
        "--tenant",
        "t",
        "--format",
        "csv",
        input.to_str().expect("path"),
    ]);
    // Under the default rules 21 points of 党组织建设 is rejected; under these it loads.
    assert!(out.contains("scores,11,6,5,0"), "{out}");
}

#[test]
fn a_period_can_be_recomputed_under_an_earlier_rules_version() {
    let w = Warehouse::new();
    let input = crate::common::fixtures().join("valid/gbk_chinese/input");
    w.ok(&["ingest", "--tenant", "t", input.to_str().expect("path")]);
    // Version 2 pays the flag holder of a low-scoring township too: a tier from 0 points.
    crate::common::set_rules_paying_low_flag_holders(&w);
    let q = |extra: &[&str]| {
        let mut args = vec![
            "assess", "--tenant", "t", "--period", "2024-B1", "--format", "csv",
        ];
        args.extend_from_slice(extra);
        let out = w.ok(&args);
        let header: Vec<&str> = out.lines().next().expect("header").split(',').collect();
        let first: Vec<String> = out
            .lines()
            .nth(1)
            .expect("row")
            .split(',')
            .map(str::to_string)
            .collect();
        let col = |name: &str| first[header.iter().position(|h| *h == name).expect(name)].clone();
        (col("reward_yuan"), col("rules_version"))
    };
    assert_eq!(q(&[]), ("100.00".to_string(), "2".to_string()));
    assert_eq!(
        q(&["--rules-version", "1"]),
        ("0.00".to_string(), "1".to_string())
    );
    let out = w.run(&[
        "assess",
        "--tenant",
        "t",
        "--period",
        "2024-B1",
        "--rules-version",
        "7",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("there is no rules version 7 (versions: 1, 2)")
    );
}
