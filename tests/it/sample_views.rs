//! The engine's views on the sample county reproduce the boundary cases the sample was built
//! with (datasets/sample/README.md), and a full generated county loads without a rejection.

use crate::common::Warehouse;

fn sample() -> Warehouse {
    let w = Warehouse::new();
    w.load_sample();
    w
}

fn csv(w: &Warehouse, sql: &str) -> String {
    w.ok(&["sql", "--tenant", "t", "--format", "csv", sql])
}

#[test]
fn the_sample_boundary_cases_come_out_of_the_views() {
    let w = sample();
    // Exactly 95.00 takes the first tier; exactly 85.00 the second (rank 3: ¥200) and, not
    // being under 85, no penalty although it is last.
    assert_eq!(
        csv(
            &w,
            "SELECT branch_id, total, rank, reward_yuan, penalty FROM red_flag_ranking
                 WHERE period = '2024-B2' AND branch_id IN ('ZB0001', 'ZB0022') ORDER BY branch_id"
        ),
        "branch_id,total,rank,reward_yuan,penalty\nZB0001,95.00,1,600.00,\nZB0022,85.00,3,200.00,\n"
    );
    // An unbroken tie shares rank 2; a tie broken by 党组织建设 gives ranks 4 and 5.
    assert_eq!(
        csv(
            &w,
            "SELECT branch_id, total, rank FROM red_flag_ranking WHERE period = '2024-B3'
                 AND branch_id IN ('ZB0002', 'ZB0003', 'ZB0004', 'ZB0005') ORDER BY branch_id"
        ),
        "branch_id,total,rank\nZB0002,92.00,2\nZB0003,92.00,2\nZB0004,88.50,4\nZB0005,88.50,5\n"
    );
    assert_eq!(
        csv(
            &w,
            "SELECT missing_indicators FROM red_flag_ranking WHERE period = '2024-B4' AND branch_id = 'ZB0013'"
        ),
        "missing_indicators\n驻村帮扶\n"
    );
    // Last and under 85 four times in 2024: the steps escalate and stay at the last one.
    assert_eq!(
        csv(
            &w,
            "SELECT period, penalty FROM red_flag_ranking WHERE branch_id = 'ZB0011' ORDER BY period"
        ),
        "period,penalty\n2024-B1,表态发言\n2024-B2,取消年终参评资格\n2024-B3,\n2024-B4,乡纪委问责\n2024-B5,\n2024-B6,乡纪委问责\n"
    );
    // The flag held four periods running, lost, then won again.
    assert_eq!(
        csv(
            &w,
            "SELECT period, consecutive_flags FROM red_flag_ranking WHERE branch_id = 'ZB0001' ORDER BY period"
        ),
        "period,consecutive_flags\n2024-B1,1\n2024-B2,2\n2024-B3,3\n2024-B4,4\n2024-B5,0\n2024-B6,1\n"
    );
    // Three absences in a row → 组织处理; three scattered → 诫勉谈话 only.
    assert_eq!(
        csv(
            &w,
            "SELECT member_id, unexcused, longest_run, admonish, discipline FROM attendance_alerts
                 WHERE member_id IN ('DY000009', 'DY000129') ORDER BY member_id"
        ),
        "member_id,unexcused,longest_run,admonish,discipline\nDY000009,3,3,true,true\nDY000129,3,1,true,false\n"
    );
}

#[test]
fn a_generated_county_loads_every_row() {
    let w = Warehouse::new();
    let out = w.dir.path().join("county");
    w.ok(&[
        "generate",
        "--scale",
        "county",
        "--out",
        out.to_str().expect("path"),
    ]);
    let reconciliation = w.ok(&[
        "ingest",
        "--tenant",
        "t",
        "--format",
        "csv",
        out.to_str().expect("path"),
    ]);
    let mut attendance = 0;
    for line in reconciliation.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(&f[3..], ["0", "0", "0"], "{line}");
        if f[0] == "attendance" {
            attendance = f[2].parse::<u64>().expect("count");
        }
    }
    assert!(attendance > 1_000_000, "{reconciliation}");
}
