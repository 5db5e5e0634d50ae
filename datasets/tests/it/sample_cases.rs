//! The boundary cases built into the sample (datasets/sample/README.md), computed from the
//! generated rows with SPEC §4's definitions. They hold for any seed: only the rows around
//! them are random.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Date32Type;
use datasets::{CountyTables, DEFAULT_SEED, sample_tables};

use crate::common::{cents, check_integrity, strings, text};

fn batch<'a>(t: &'a CountyTables, name: &str) -> &'a arrow::array::RecordBatch {
    t.table(name).unwrap()
}

#[derive(Debug, Clone)]
struct Ranked {
    period: String,
    group: String,
    branch: String,
    total: i128,
    dangjian: i128,
    indicators: usize,
    rank: usize,
    last: bool,
}

/// The red-flag ranking of SPEC §4 under the default rules: rural and community branches,
/// grouped by township (grid level 2), by total then 党组织建设, competition ranks.
fn ranking(t: &CountyTables) -> Vec<Ranked> {
    let grid = batch(t, "grid_units");
    let parent: BTreeMap<String, Option<String>> = text(grid, "unit_id")
        .into_iter()
        .zip(strings(grid, "parent_id"))
        .collect();
    let level: BTreeMap<String, i64> = text(grid, "unit_id")
        .into_iter()
        .zip(crate::common::ints(grid, "level"))
        .collect();
    let township = |unit: &str| {
        let mut u = unit.to_string();
        while level[&u] > 2 {
            u = parent[&u].clone().unwrap();
        }
        u
    };
    let branches = batch(t, "branches");
    let mut group_of = BTreeMap::new();
    for ((b, u), ty) in text(branches, "branch_id")
        .into_iter()
        .zip(text(branches, "unit_id"))
        .zip(text(branches, "type"))
    {
        if ty == "rural" || ty == "community" {
            group_of.insert(b, township(&u));
        }
    }
    let scores = batch(t, "scores");
    let mut sums: BTreeMap<(String, String), (i128, i128, usize)> = BTreeMap::new();
    for (((p, b), ind), v) in text(scores, "period")
        .into_iter()
        .zip(text(scores, "branch_id"))
        .zip(text(scores, "indicator"))
        .zip(cents(scores, "score"))
    {
        let e = sums.entry((p, b)).or_default();
        e.0 += v;
        if ind == "党组织建设" {
            e.1 = v;
        }
        e.2 += 1;
    }
    let mut groups: BTreeMap<(String, String), Vec<Ranked>> = BTreeMap::new();
    for ((p, b), (total, dj, n)) in sums {
        let g = group_of[&b].clone();
        groups
            .entry((p.clone(), g.clone()))
            .or_default()
            .push(Ranked {
                period: p,
                group: g,
                branch: b,
                total,
                dangjian: dj,
                indicators: n,
                rank: 0,
                last: false,
            });
    }
    let mut out = Vec::new();
    for (_, mut list) in groups {
        list.sort_by_key(|r| std::cmp::Reverse((r.total, r.dangjian)));
        for i in 0..list.len() {
            let same = i > 0
                && (list[i].total, list[i].dangjian) == (list[i - 1].total, list[i - 1].dangjian);
            list[i].rank = if same { list[i - 1].rank } else { i + 1 };
        }
        let max = list.iter().map(|r| r.rank).max().unwrap_or(0);
        let n = list.len();
        for r in &mut list {
            r.last = n >= 2 && r.rank == max;
        }
        out.extend(list);
    }
    out
}

fn find<'a>(r: &'a [Ranked], period: &str, branch: &str) -> &'a Ranked {
    r.iter()
        .find(|x| x.period == period && x.branch == branch)
        .unwrap_or_else(|| panic!("{branch} not ranked in {period}"))
}

fn seeds() -> [u64; 2] {
    [DEFAULT_SEED, 77]
}

#[test]
fn sample_rows_pass_every_integrity_rule() {
    for seed in seeds() {
        let t = sample_tables(seed).unwrap();
        check_integrity(&t.tables);
    }
}

#[test]
fn totals_of_exactly_95_and_85() {
    for seed in seeds() {
        let r = ranking(&sample_tables(seed).unwrap());
        // 青溪村 in 2024-B2: exactly 95.00, rank 1 (the 95 tier's first reward).
        let q = find(&r, "2024-B2", "ZB0001");
        assert_eq!((q.total, q.rank, q.indicators), (9500, 1, 10));
        // 沙坪村 in 2024-B2: exactly 85.00, last of 官庄镇's three (rank 3) but not under 85.
        let s = find(&r, "2024-B2", "ZB0022");
        assert_eq!((s.total, s.rank, s.last), (8500, 3, true));
    }
}

#[test]
fn ties_broken_and_unbroken_in_one_township_period() {
    for seed in seeds() {
        let r = ranking(&sample_tables(seed).unwrap());
        let [q1, q2, q3, q4, q5, q6] = ["ZB0001", "ZB0002", "ZB0003", "ZB0004", "ZB0005", "ZB0006"]
            .map(|b| find(&r, "2024-B3", b));
        assert!(
            [q1, q2, q3, q4, q5, q6]
                .iter()
                .all(|x| x.group == "430281101")
        );
        // Unbroken: 枫树村 and 石塘村 at 92.00 with 党组织建设 18.50 share rank 2.
        assert_eq!((q2.total, q2.dangjian, q2.rank), (9200, 1850, 2));
        assert_eq!((q3.total, q3.dangjian, q3.rank), (9200, 1850, 2));
        // Broken: 荷花村 and 桃源村 at 88.50; 党组织建设 18.00 beats 17.50. The next rank after
        // the shared 2 is 4 (competition ranking).
        assert_eq!((q4.total, q4.dangjian, q4.rank), (8850, 1800, 4));
        assert_eq!((q5.total, q5.dangjian, q5.rank), (8850, 1750, 5));
        assert_eq!((q1.rank, q6.rank, q6.last), (1, 6, true));
    }
}

#[test]
fn a_missing_indicator() {
    for seed in seeds() {
        let t = sample_tables(seed).unwrap();
        let r = ranking(&t);
        let y = find(&r, "2024-B4", "ZB0013");
        assert_eq!((y.indicators, y.total), (9, 8100));
        let scores = t.table("scores").unwrap();
        let has_zhucun = text(scores, "period")
            .iter()
            .zip(text(scores, "branch_id"))
            .zip(text(scores, "indicator"))
            .any(|((p, b), i)| p == "2024-B4" && b == "ZB0013" && i == "驻村帮扶");
        assert!(!has_zhucun);
    }
}

#[test]
fn escalating_penalties_for_the_last_branch_under_85() {
    for seed in seeds() {
        let r = ranking(&sample_tables(seed).unwrap());
        let mut periods: Vec<(&str, i128)> = r
            .iter()
            .filter(|x| x.branch == "ZB0011" && x.last && x.total < 8500)
            .map(|x| (x.period.as_str(), x.total))
            .collect();
        periods.sort();
        // 1st 表态发言, 2nd 取消年终参评资格, 3rd and 4th 乡纪委问责.
        assert_eq!(
            periods,
            vec![
                ("2024-B1", 8250),
                ("2024-B2", 8400),
                ("2024-B4", 8000),
                ("2024-B6", 8300)
            ]
        );
        // Last in B3 but at 86.50: no penalty that period.
        let b3 = find(&r, "2024-B3", "ZB0011");
        assert!(b3.last && b3.total == 8650);
        // In B5 金鸡村 is last and under 85 instead.
        let b5 = find(&r, "2024-B5", "ZB0010");
        assert!(b5.last && b5.total == 8450);
        assert!(!find(&r, "2024-B5", "ZB0011").last);
    }
}

#[test]
fn red_flag_held_several_periods_running() {
    for seed in seeds() {
        let r = ranking(&sample_tables(seed).unwrap());
        let flags: Vec<bool> = (1..=6)
            .map(|p| find(&r, &format!("2024-B{p}"), "ZB0001").rank == 1)
            .collect();
        assert_eq!(flags, [true, true, true, true, false, true]);
        assert_eq!(find(&r, "2024-B5", "ZB0002").rank, 1);
        // Every tier occurs over the county's year.
        assert!(r.iter().any(|x| x.total >= 9500));
        assert!(r.iter().any(|x| (8500..9500).contains(&x.total)));
        assert!(r.iter().any(|x| x.total < 8500));
    }
}

/// (unexcused, longest run) per member over 2024, attendance ordered by date then meeting id.
fn absences(t: &CountyTables) -> BTreeMap<String, (usize, usize)> {
    let meetings = t.table("meetings").unwrap();
    let held = meetings
        .column_by_name("held_on")
        .unwrap()
        .as_primitive::<Date32Type>();
    let date: BTreeMap<String, i32> = text(meetings, "meeting_id")
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, held.value(i)))
        .collect();
    let att = t.table("attendance").unwrap();
    let mut per: BTreeMap<String, Vec<(i32, String, String)>> = BTreeMap::new();
    for ((m, who), s) in text(att, "meeting_id")
        .into_iter()
        .zip(text(att, "member_id"))
        .zip(text(att, "status"))
    {
        per.entry(who).or_default().push((date[&m], m, s));
    }
    per.into_iter()
        .map(|(who, mut rows)| {
            rows.sort();
            let unexcused = rows.iter().filter(|r| r.2 == "absent").count();
            let (mut run, mut longest) = (0, 0);
            for r in &rows {
                run = if r.2 == "absent" { run + 1 } else { 0 };
                longest = longest.max(run);
            }
            (who, (unexcused, longest))
        })
        .collect()
}

#[test]
fn consecutive_and_scattered_absences() {
    for seed in seeds() {
        let t = sample_tables(seed).unwrap();
        let a = absences(&t);
        // 张… of 青溪村 (DY000009): three absences in a row → 组织处理 and 诫勉谈话.
        assert_eq!(a["DY000009"], (3, 3));
        // DY000129 of 石门村: three absences far apart → 诫勉谈话 only.
        assert_eq!(a["DY000129"], (3, 1));
        let members = t.table("members").unwrap();
        let branch_of: BTreeMap<String, String> = text(members, "member_id")
            .into_iter()
            .zip(text(members, "branch_id"))
            .collect();
        assert_eq!(branch_of["DY000009"], "ZB0001");
        assert_eq!(branch_of["DY000129"], "ZB0007");
        // Attendance is varied, not all-present.
        let att = t.table("attendance").unwrap();
        let statuses: BTreeSet<String> = text(att, "status").into_iter().collect();
        assert_eq!(statuses.len(), 4);
    }
}

#[test]
fn every_points_grade_occurs() {
    let t = sample_tables(DEFAULT_SEED).unwrap();
    let members = t.table("members").unwrap();
    let exempt = members
        .column_by_name("points_exempt")
        .unwrap()
        .as_boolean()
        .clone();
    let ids = text(members, "member_id");
    let points = t.table("points").unwrap();
    let mut sums: BTreeMap<String, [i128; 5]> = BTreeMap::new();
    for ((who, cat), v) in text(points, "member_id")
        .into_iter()
        .zip(text(points, "category"))
        .zip(cents(points, "points"))
    {
        let i = ["base", "task", "reward", "honor", "violation"]
            .iter()
            .position(|c| *c == cat)
            .unwrap();
        sums.entry(who).or_default()[i] += v;
    }
    let mut grades = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        if exempt.value(i) {
            continue;
        }
        let s = sums.get(id).copied().unwrap_or_default();
        let total = (2000 + s[0]).clamp(0, 2000) + s[1].min(7000) + s[2].min(1000) + s[3];
        let grade = if s[4] != 0 || total < 6000 {
            "不合格"
        } else if total >= 9000 {
            "优秀"
        } else if total >= 8000 {
            "合格"
        } else {
            "基本合格"
        };
        *grades.entry(grade).or_insert(0) += 1;
    }
    assert_eq!(grades.len(), 4, "{grades:?}");
    assert!(exempt.true_count() > 0);
}

#[test]
fn coverage_findings_and_pairing() {
    let t = sample_tables(DEFAULT_SEED).unwrap();
    let orgs = t.table("organizations").unwrap();
    let branches = t.table("branches").unwrap();
    let joint: BTreeMap<String, bool> = text(branches, "branch_id")
        .into_iter()
        .zip((0..branches.num_rows()).map(|i| {
            branches
                .column_by_name("is_joint")
                .unwrap()
                .as_boolean()
                .value(i)
        }))
        .collect();
    let pm = crate::common::ints(orgs, "party_members");
    let cover = strings(orgs, "branch_id");
    let mut per_joint: BTreeMap<String, usize> = BTreeMap::new();
    for b in cover.iter().flatten() {
        if joint[b] {
            *per_joint.entry(b.clone()).or_default() += 1;
        }
    }
    // 一管五 exceeded by 瓷城街道非公企业联合党支部.
    assert_eq!(per_joint["ZB0035"], 6);
    // 应单独组建: three or more members without a standalone branch, covered jointly or not at all.
    let should_stand: Vec<usize> = (0..pm.len())
        .filter(|&i| pm[i] >= 3 && cover[i].as_ref().is_none_or(|b| joint[b]))
        .collect();
    assert_eq!(should_stand.len(), 2);
    // 有党员未覆盖.
    assert_eq!(
        (0..pm.len())
            .filter(|&i| pm[i] >= 1 && cover[i].is_none())
            .count(),
        3
    );
    // 结对: organs paired with villages.
    let paired = strings(branches, "paired_branch_id")
        .into_iter()
        .flatten()
        .count();
    assert_eq!(paired, 4);
    let types: BTreeSet<String> = text(branches, "type").into_iter().collect();
    assert_eq!(types.len(), 8, "{types:?}");
    assert!(branches.column_by_name("founded_on").unwrap().null_count() < branches.num_rows());
}
