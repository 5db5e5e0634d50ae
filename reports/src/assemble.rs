//! From the views' results to the key figures and the charts.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::KeyFigures;
use crate::charts::{
    AttendanceChart, BranchSeries, BranchTotalsChart, CoverageCell, CoverageChart, GradeRow,
    PointsChart, RankedBar, RankingChart, RateSeries, VisitRow, VisitsChart,
};
use crate::data::{Column, ReportInput, Scope, score_text};
use crate::error::ReportError;
use crate::pen::{Chart, ChartSpec, render};
use crate::present::{canonical_to_chinese, yuan};

/// A group id made safe for a file name.
fn stem(prefix: &str, id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}_{safe}")
}

pub(crate) fn key_figures(input: &ReportInput) -> Result<KeyFigures, ReportError> {
    let mut k = KeyFigures::default();
    // Flags, rewards and penalties come from the ranking of every period in scope.
    let (table, batches) = match &input.scope {
        Scope::Period(_) => ("red_flag_ranking", &input.ranking),
        Scope::Year(_) => ("red_flag_ranking", &input.year_periods),
    };
    let groups = Column::text(batches, table, "group_name")?;
    let names = Column::text(batches, table, "branch_name")?;
    let flags = Column::flag(batches, table, "red_flag")?;
    let penalties = Column::text(batches, table, "penalty")?;
    let rewards = Column::float(batches, table, "reward_yuan")?;
    for i in 0..names.len() {
        if flags[i] {
            k.flag_holders.push((groups[i].clone(), names[i].clone()));
        }
        if !penalties[i].is_empty() {
            k.penalties
                .push((groups[i].clone(), names[i].clone(), penalties[i].clone()));
        }
        k.rewards_yuan += rewards[i].unwrap_or(0.0);
    }

    let months = input.scope.months();
    let year = input.scope.year();
    let levels = Column::int(&input.attendance, "attendance_monthly_by_unit", "level")?;
    let month = Column::text(&input.attendance, "attendance_monthly_by_unit", "month")?;
    let expected = Column::int(&input.attendance, "attendance_monthly_by_unit", "expected")?;
    let present = Column::int(&input.attendance, "attendance_monthly_by_unit", "present")?;
    let (mut e, mut p) = (0i64, 0i64);
    for i in 0..levels.len() {
        let in_scope =
            parse_month(&month[i]).is_some_and(|(y, m)| y == year && months.contains(&m));
        if levels[i] == 0 && in_scope {
            e += expected[i];
            p += present[i];
        }
    }
    k.attendance_rate = (e > 0).then(|| p as f64 / e as f64);

    let levels = Column::int(&input.coverage, "coverage", "level")?;
    let orgs = Column::int(&input.coverage, "coverage", "orgs")?;
    let covered = Column::int(&input.coverage, "coverage", "covered")?;
    let standalone = Column::int(&input.coverage, "coverage", "standalone")?;
    for i in 0..levels.len() {
        if levels[i] == 0 {
            k.orgs += orgs[i];
            k.covered += covered[i];
            k.standalone += standalone[i];
        }
    }
    Ok(k)
}

/// `2024-05` → (2024, 5).
fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    Some((y.parse().ok()?, m.parse().ok()?))
}

/// Every chart of the report, in the order the report shows them; the first that cannot be
/// drawn (in that order) is the error. Drawing and PNG compression are CPU-bound and independent
/// per chart, so they run on rayon's pool, one thread per core.
pub(crate) fn charts(input: &ReportInput) -> Result<Vec<Chart>, ReportError> {
    type Job = Box<dyn FnOnce() -> Result<Chart, ReportError> + Send>;
    fn job<S: ChartSpec + Send + 'static>(spec: S) -> Job {
        Box::new(move || render(&spec))
    }
    let mut jobs: Vec<Job> = Vec::new();
    jobs.extend(ranking_charts(input)?.into_iter().map(job));
    jobs.extend(totals_charts(input)?.into_iter().map(job));
    jobs.push(job(attendance_chart(input)?));
    jobs.push(job(coverage_chart(input)?));
    jobs.push(job(points_chart(input)?));
    jobs.push(job(visits_chart(input)?));
    // Collected in job order first: rayon's own `Result` collection returns whichever error
    // comes back first, not the first chart's.
    let drawn: Vec<Result<Chart, ReportError>> = jobs.into_par_iter().map(|job| job()).collect();
    drawn.into_iter().collect()
}

/// Rows grouped by group_id in first-seen order.
fn by_group(ids: &[String]) -> Vec<(String, Vec<usize>)> {
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        match order.iter_mut().find(|(g, _)| g == id) {
            Some((_, rows)) => rows.push(i),
            None => order.push((id.clone(), vec![i])),
        }
    }
    order
}

/// One ranking chart per township, in the order the view ranks them.
fn ranking_charts(input: &ReportInput) -> Result<Vec<RankingChart>, ReportError> {
    match &input.scope {
        Scope::Period(_) => period_ranking_charts(input),
        Scope::Year(_) => year_ranking_charts(input),
    }
}

/// A period's ranking per township, as the view ranked it, with its flag, reward and penalty.
fn period_ranking_charts(input: &ReportInput) -> Result<Vec<RankingChart>, ReportError> {
    let mut out = Vec::new();
    let t = "red_flag_ranking";
    let b = &input.ranking;
    let gid = Column::text(b, t, "group_id")?;
    let gname = Column::text(b, t, "group_name")?;
    let rank = Column::int(b, t, "rank")?;
    let name = Column::text(b, t, "branch_name")?;
    let total = Column::float(b, t, "total")?;
    let flag = Column::flag(b, t, "red_flag")?;
    let penalty = Column::text(b, t, "penalty")?;
    let reward = Column::text(b, t, "reward_yuan")?;
    let last = Column::flag(b, t, "last_place")?;
    for (g, rows) in by_group(&gid) {
        let bars = rows
            .iter()
            .map(|&i| {
                let mut note = Vec::new();
                if flag[i] {
                    note.push("★流动红旗".to_string());
                }
                let money = yuan(&reward[i]);
                if money != "¥0" && !reward[i].is_empty() {
                    note.push(format!("奖{money}"));
                }
                if !penalty[i].is_empty() {
                    note.push(format!("末位，{}", penalty[i]));
                } else if last[i] {
                    note.push("末位".into());
                }
                RankedBar {
                    rank: rank[i],
                    name: name[i].clone(),
                    value: total[i].unwrap_or(0.0),
                    flag: flag[i],
                    penalty: (!penalty[i].is_empty()).then(|| penalty[i].clone()),
                    note: note.join(" "),
                }
            })
            .collect();
        out.push(RankingChart {
            stem: stem("ranking", &g),
            group_name: gname[rows[0]].clone(),
            scope_label: input.scope.label(),
            measure: "总分".into(),
            whole_year: false,
            bars,
            thresholds: input.thresholds.clone(),
        });
    }
    Ok(out)
}

/// A year's ranking per township: branches by their mean total over the year's periods (ties
/// share a rank), with how often they held the flag and were penalized.
fn year_ranking_charts(input: &ReportInput) -> Result<Vec<RankingChart>, ReportError> {
    let mut out = Vec::new();
    let t = "red_flag_year";
    let b = &input.year_summary;
    let gid = Column::text(b, t, "group_id")?;
    let gname = Column::text(b, t, "group_name")?;
    let name = Column::text(b, t, "branch_name")?;
    let mean = Column::float(b, t, "mean_total")?;
    let flags = Column::int(b, t, "flags")?;
    let penalties = Column::int(b, t, "penalties")?;
    for (g, mut rows) in by_group(&gid) {
        rows.sort_by(|&a, &b| {
            let (x, y) = (mean[a].unwrap_or(0.0), mean[b].unwrap_or(0.0));
            y.total_cmp(&x)
                .then(flags[b].cmp(&flags[a]))
                .then(a.cmp(&b))
        });
        let mut bars: Vec<RankedBar> = Vec::new();
        for (pos, &i) in rows.iter().enumerate() {
            let v = mean[i].unwrap_or(0.0);
            let rank = match bars.last() {
                Some(prev) if prev.value == v => prev.rank,
                _ => pos as i64 + 1,
            };
            let mut note = Vec::new();
            if flags[i] > 0 {
                note.push(format!("★获旗{}次", flags[i]));
            }
            if penalties[i] > 0 {
                note.push(format!("受处理{}次", penalties[i]));
            }
            bars.push(RankedBar {
                rank,
                name: name[i].clone(),
                value: v,
                flag: flags[i] > 0,
                penalty: (penalties[i] > 0).then(|| format!("{}次", penalties[i])),
                note: note.join(" "),
            });
        }
        out.push(RankingChart {
            stem: stem("ranking", &g),
            group_name: gname[rows[0]].clone(),
            scope_label: input.scope.label(),
            measure: "各期平均分".into(),
            whole_year: true,
            bars,
            thresholds: input.thresholds.clone(),
        });
    }
    Ok(out)
}

fn totals_charts(input: &ReportInput) -> Result<Vec<BranchTotalsChart>, ReportError> {
    let t = "red_flag_ranking";
    let b = &input.year_periods;
    let period = Column::text(b, t, "period")?;
    let gid = Column::text(b, t, "group_id")?;
    let gname = Column::text(b, t, "group_name")?;
    let bid = Column::text(b, t, "branch_id")?;
    let name = Column::text(b, t, "branch_name")?;
    let total = Column::float(b, t, "total")?;
    let flag = Column::flag(b, t, "red_flag")?;
    let penalty = Column::text(b, t, "penalty")?;
    let mut periods: Vec<String> = period.clone();
    // Periods order by year, then number (B10 would sort after B2).
    periods.sort_by_key(|p| {
        (
            p.get(..6).map(str::to_string),
            p.get(6..).and_then(|n| n.parse::<u32>().ok()),
        )
    });
    periods.dedup();
    let mut out = Vec::new();
    for (g, rows) in by_group(&gid) {
        let mut branches: BTreeMap<String, BranchSeries> = BTreeMap::new();
        for &i in &rows {
            let s = branches
                .entry(bid[i].clone())
                .or_insert_with(|| BranchSeries {
                    name: name[i].clone(),
                    points: vec![None; periods.len()],
                });
            if let Some(j) = periods.iter().position(|p| *p == period[i]) {
                s.points[j] = total[i].map(|v| (v, flag[i], !penalty[i].is_empty()));
            }
        }
        out.push(BranchTotalsChart {
            stem: stem("totals", &g),
            group_name: gname[rows[0]].clone(),
            year: input.scope.year(),
            periods: periods.clone(),
            branches: branches.into_values().collect(),
            thresholds: input.thresholds.clone(),
        });
    }
    Ok(out)
}

fn attendance_chart(input: &ReportInput) -> Result<AttendanceChart, ReportError> {
    let t = "attendance_monthly_by_unit";
    let b = &input.attendance;
    let level = Column::int(b, t, "level")?;
    let month = Column::text(b, t, "month")?;
    let unit = Column::text(b, t, "unit_id")?;
    let name = Column::text(b, t, "name")?;
    let rate = Column::float(b, t, "rate")?;
    let mut county = RateSeries {
        name: format!("全县（{}）", input.county),
        rates: [None; 12],
    };
    let mut towns: BTreeMap<String, RateSeries> = BTreeMap::new();
    for i in 0..level.len() {
        let Some((y, m)) = parse_month(&month[i]) else {
            continue;
        };
        if y != input.scope.year() || !(1..=12).contains(&m) {
            continue;
        }
        let series = match level[i] {
            0 => &mut county,
            _ => towns.entry(unit[i].clone()).or_insert_with(|| RateSeries {
                name: name[i].clone(),
                rates: [None; 12],
            }),
        };
        series.rates[m as usize - 1] = rate[i];
    }
    Ok(AttendanceChart {
        year: input.scope.year(),
        county,
        townships: towns.into_values().collect(),
    })
}

/// A heat-table row: the unit's label and one cell per kind.
type CoverageRow = (String, Vec<Option<CoverageCell>>);

fn coverage_chart(input: &ReportInput) -> Result<CoverageChart, ReportError> {
    let t = "coverage";
    let b = &input.coverage;
    let level = Column::int(b, t, "level")?;
    let kind = Column::text(b, t, "kind")?;
    let unit = Column::text(b, t, "unit_id")?;
    let name = Column::text(b, t, "unit_name")?;
    let orgs = Column::int(b, t, "orgs")?;
    let covered = Column::int(b, t, "covered")?;
    let standalone = Column::int(b, t, "standalone")?;
    let mut kinds: Vec<String> = kind.clone();
    kinds.sort();
    kinds.dedup();
    let mut rows: BTreeMap<(i64, String), CoverageRow> = BTreeMap::new();
    for i in 0..level.len() {
        // Townships first (by id), the county total last.
        let key = (if level[i] == 0 { 1 } else { 0 }, unit[i].clone());
        let label = if level[i] == 0 {
            "全县合计".to_string()
        } else {
            name[i].clone()
        };
        let row = rows
            .entry(key)
            .or_insert_with(|| (label, vec![None; kinds.len()]));
        if let Some(j) = kinds.iter().position(|k| *k == kind[i]) {
            row.1[j] = Some(CoverageCell {
                orgs: orgs[i],
                covered: covered[i],
                standalone: standalone[i],
            });
        }
    }
    Ok(CoverageChart {
        kinds: kinds
            .iter()
            .map(|k| canonical_to_chinese(k).map_or(k.clone(), str::to_string))
            .collect(),
        rows: rows.into_values().collect(),
    })
}

fn points_chart(input: &ReportInput) -> Result<PointsChart, ReportError> {
    let t = "member_points by township";
    let b = &input.points;
    let unit = Column::text(b, t, "unit_id")?;
    let name = Column::text(b, t, "unit_name")?;
    let grade = Column::text(b, t, "grade")?;
    let members = Column::int(b, t, "members")?;
    let grades = input.thresholds.grades.clone();
    let mut rows: BTreeMap<String, GradeRow> = BTreeMap::new();
    for i in 0..unit.len() {
        let row = rows.entry(unit[i].clone()).or_insert_with(|| GradeRow {
            name: name[i].clone(),
            counts: vec![0; grades.len()],
        });
        if let Some(g) = grades.iter().position(|g| *g == grade[i]) {
            row.counts[g] += members[i];
        }
    }
    Ok(PointsChart {
        year: input.scope.year(),
        grades,
        rows: rows.into_values().collect(),
    })
}

fn visits_chart(input: &ReportInput) -> Result<VisitsChart, ReportError> {
    let t = "grid_visits";
    let b = &input.visits;
    let name = Column::text(b, t, "unit_name")?;
    let visits = Column::int(b, t, "visits")?;
    let raised = Column::int(b, t, "issues_raised")?;
    let resolved = Column::int(b, t, "issues_resolved")?;
    Ok(VisitsChart {
        rows: (0..name.len())
            .map(|i| VisitRow {
                name: name[i].clone(),
                raised: raised[i],
                resolved: resolved[i],
                visits: visits[i],
            })
            .collect(),
    })
}

/// A sum of yuan as the key figures and the summary sheet print it: `¥600`, `¥62.5`.
pub(crate) fn money(v: f64) -> String {
    format!("¥{}", score_text(v))
}
