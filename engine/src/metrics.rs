//! The metrics API: every figure of SPEC §4 that the CLI, the report, the demo and the web
//! console show, as Arrow batches with SPEC's columns in SPEC's order.
//!
//! Each method is one query over one metric view, built with DataFusion's DataFrame API:
//! values (a period, a year, a level) go in as literals of the plan, never pasted into SQL
//! text, and the grid level of "township" is the rules' `group_level`, never a number written
//! here.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use engine::metrics::Metrics;
//! let warehouse = warehouse::Warehouse::open("warehouse".as_ref())?;
//! let metrics = Metrics::open(&warehouse, &engine::access::Access::admin_of("liling")).await?;
//! let ranking = metrics.ranking("2024年11-12月".parse()?).await?;
//! println!("{} branches ranked", ranking.num_rows());
//! # Ok(()) }
//! ```

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::JoinType;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{Expr, SortExpr, col, lit};
use datafusion::prelude::DataFrame;
use model::{Month, Period, Rules};
use warehouse::Warehouse;

use crate::access::Access;
use crate::error::QueryError;
use crate::session::Session;

/// The rows of one metric: its schema and its batches.
#[derive(Debug, Clone)]
pub struct Table {
    /// The columns, as SPEC §4 names them.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// How many rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// No rows at all.
    pub fn is_empty(&self) -> bool {
        self.num_rows() == 0
    }

    /// The same rows with only `columns`, in that order (what a person reads of a wide view).
    pub fn select(&self, columns: &[&str]) -> Result<Table, QueryError> {
        let indices = columns
            .iter()
            .map(|c| self.schema.index_of(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| QueryError::internal(format!("selecting columns: {e}")))?;
        let schema = std::sync::Arc::new(
            self.schema
                .project(&indices)
                .map_err(|e| QueryError::internal(format!("selecting columns: {e}")))?,
        );
        let batches = self
            .batches
            .iter()
            .map(|b| b.project(&indices))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| QueryError::internal(format!("selecting columns: {e}")))?;
        Ok(Table { schema, batches })
    }
}

/// Why a metric could not be given.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The query behind it failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A ranking was asked for a period in which no branch has scores.
    #[error("no branch took part in {period}: there are no scores for it ({})", known_periods(.with_scores))]
    NoScores {
        /// The period asked for.
        period: Period,
        /// The periods that do have scores.
        with_scores: Vec<Period>,
    },
    /// The warehouse itself could not be read (the tenant, its rules).
    #[error(transparent)]
    Warehouse(#[from] warehouse::WarehouseError),
}

impl From<datafusion::error::DataFusionError> for MetricsError {
    fn from(e: datafusion::error::DataFusionError) -> MetricsError {
        MetricsError::Query(QueryError::from(e))
    }
}

fn known_periods(periods: &[Period]) -> String {
    if periods.is_empty() {
        "no scores are loaded yet".to_string()
    } else {
        let list: Vec<String> = periods.iter().map(Period::to_string).collect();
        format!("periods with scores: {}", list.join(", "))
    }
}

type Result<T, E = MetricsError> = std::result::Result<T, E>;

/// One tenant's metrics, as one user sees them, under one rules version.
#[derive(Debug, Clone)]
pub struct Metrics {
    session: Session,
    rules: Rules,
    rules_version: u32,
}

fn asc(name: &str) -> SortExpr {
    // SQL's default: ascending with nulls last.
    col(name).sort(true, false)
}

fn desc(name: &str) -> SortExpr {
    col(name).sort(false, true)
}

/// `column LIKE 'YYYY-%'`: the periods, months or quarters of one year (their text starts with
/// the year).
fn in_year(column: &str, year: i32) -> Expr {
    col(column).like(lit(format!("{year}-%")))
}

impl Metrics {
    /// The metrics of `access`'s tenant (exactly one), opened through the one session builder
    /// ([`Session::open`]), so the role's masking and the tenant's memory pool apply.
    pub async fn open(warehouse: &Warehouse, access: &Access) -> Result<Metrics> {
        let [tenant] = access.tenants.as_slice() else {
            return Err(QueryError::internal(format!(
                "the metrics are per county; {} were asked for at once",
                access.tenants.len()
            ))
            .into());
        };
        let tenant = warehouse.tenant(tenant)?;
        let (rules_version, _, rules) = match access.rules_version {
            Some(v) => tenant.rules_version(v)?,
            None => tenant.rules()?,
        };
        // The session's views are computed under exactly these rules, even if a `rules set`
        // commits a new version while it opens.
        let access = access.clone().with_rules_version(Some(rules_version));
        let session = Session::open(warehouse, &access).await?;
        Ok(Metrics {
            session,
            rules,
            rules_version,
        })
    }

    /// The rules the metrics are computed under.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Their version.
    pub fn rules_version(&self) -> u32 {
        self.rules_version
    }

    /// The grid level branches are ranked within (the rules' `group_level`; 2 = township).
    pub fn group_level(&self) -> u8 {
        *self.rules.assessment.group_level.get_ref()
    }

    async fn view(&self, name: &str) -> Result<DataFrame, QueryError> {
        Ok(self.session.context().table(name).await?)
    }

    async fn collect(df: DataFrame) -> Result<Table, QueryError> {
        let schema = df.schema().inner().clone();
        let batches = df.collect().await.map_err(QueryError::running)?;
        Ok(Table { schema, batches })
    }

    /// Rows of one view: those `filter` keeps (all without one), the `columns` given (every
    /// column with none), in `order`. Every single-view metric is one of these.
    async fn read(
        &self,
        view: &str,
        filter: Option<Expr>,
        columns: &[&str],
        order: Vec<SortExpr>,
    ) -> Result<Table> {
        let mut df = self.view(view).await?;
        if let Some(f) = filter {
            df = df.filter(f)?;
        }
        if !columns.is_empty() {
            df = df.select_columns(columns)?;
        }
        Ok(Metrics::collect(df.sort(order)?).await?)
    }

    /// `level IN (0, group level)`: the county and its groups (townships).
    fn county_and_groups(&self) -> Expr {
        let levels = vec![lit(0i64), lit(i64::from(self.group_level()))];
        col("level").in_list(levels, false)
    }

    /// The periods in which some branch has scores, in time order.
    pub async fn periods(&self) -> Result<Vec<Period>> {
        let df = self
            .view("red_flag_ranking")
            .await?
            .select_columns(&["period"])
            .and_then(DataFrame::distinct)
            .and_then(|df| df.sort(vec![asc("period")]))
            .map_err(QueryError::from)?;
        let table = Metrics::collect(df).await?;
        let mut periods = Vec::new();
        for batch in &table.batches {
            let text = arrow::compute::cast(batch.column(0), &DataType::Utf8)
                .map_err(|e| QueryError::internal(format!("reading periods: {e}")))?;
            let Some(text) = text.as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            for stored in text.iter().flatten() {
                // Ingest stores periods normalized; one that does not read back is a damaged
                // table, said as such rather than left out of the list.
                let period = Period::parse(stored).ok_or_else(|| {
                    QueryError::internal(format!(
                        "red_flag_ranking holds '{stored}', which is not a period"
                    ))
                })?;
                periods.push(period);
            }
        }
        Ok(periods)
    }

    /// `period` if some branch has scores in it; otherwise [`MetricsError::NoScores`] with the
    /// periods that have.
    pub async fn period_with_scores(&self, period: Period) -> Result<Period> {
        let with_scores = self.periods().await?;
        if with_scores.contains(&period) {
            Ok(period)
        } else {
            Err(MetricsError::NoScores {
                period,
                with_scores,
            })
        }
    }

    /// The red-flag ranking of one period, every column of `red_flag_ranking`, by group, rank
    /// and branch. A period without scores is [`MetricsError::NoScores`].
    pub async fn ranking(&self, period: Period) -> Result<Table> {
        let table = self
            .read(
                "red_flag_ranking",
                Some(col("period").eq(lit(period.to_string()))),
                &[],
                vec![asc("group_id"), asc("rank"), asc("branch_id")],
            )
            .await?;
        if table.is_empty() {
            self.period_with_scores(period).await?;
        }
        Ok(table)
    }

    /// The columns of a ranking, for a report that shows none.
    pub async fn ranking_schema(&self) -> Result<SchemaRef> {
        Ok(self
            .view("red_flag_ranking")
            .await?
            .schema()
            .inner()
            .clone())
    }

    /// Every period of `year` up to `through` (all of them without it), a row per branch and
    /// period: how each branch's totals went over the year.
    pub async fn ranking_over_year(&self, year: i32, through: Option<Period>) -> Result<Table> {
        let mut filter = in_year("period", year);
        if let Some(p) = through {
            filter = filter.and(col("period").lt_eq(lit(p.to_string())));
        }
        self.read(
            "red_flag_ranking",
            Some(filter),
            &[
                "period",
                "group_id",
                "group_name",
                "rank",
                "branch_id",
                "branch_name",
                "total",
                "reward_yuan",
                "red_flag",
                "last_place",
                "penalty",
            ],
            vec![asc("group_id"), asc("branch_id"), asc("period")],
        )
        .await
    }

    /// The year's summary per branch (`red_flag_year`), by group and branch.
    pub async fn year(&self, year: i32) -> Result<Table> {
        self.read(
            "red_flag_year",
            Some(col("year").eq(lit(year))),
            &[],
            vec![asc("group_id"), asc("branch_id")],
        )
        .await
    }

    /// The year's summary with each group's name, best mean total first within a group: the
    /// ranking of a year's report.
    pub async fn year_ranked(&self, year: i32) -> Result<Table> {
        let names = self
            .view("grid_units")
            .await?
            .select(vec![
                col("unit_id").alias("g_unit_id"),
                col("name").alias("group_name"),
            ])
            .map_err(QueryError::from)?;
        let df = self
            .view("red_flag_year")
            .await?
            .filter(col("year").eq(lit(year)))
            .and_then(|df| df.join(names, JoinType::Left, &["group_id"], &["g_unit_id"], None))
            .and_then(|df| {
                df.select_columns(&[
                    "year",
                    "group_id",
                    "group_name",
                    "branch_id",
                    "branch_name",
                    "periods",
                    "flags",
                    "best_rank",
                    "worst_rank",
                    "mean_total",
                    "reward_yuan",
                    "penalties",
                    "bonus_funding",
                    "subsidy_cancelled",
                ])
            })
            .and_then(|df| df.sort(vec![asc("group_id"), desc("mean_total"), asc("branch_id")]))
            .map_err(QueryError::from)?;
        Ok(Metrics::collect(df).await?)
    }

    /// 两个覆盖 per organization kind and unit at grid `level` (0 = the county).
    pub async fn coverage(&self, level: u8) -> Result<Table> {
        self.read(
            "coverage",
            Some(col("level").eq(lit(i64::from(level)))),
            &[
                "kind",
                "unit_id",
                "unit_name",
                "orgs",
                "covered",
                "coverage_rate",
                "standalone",
                "joint",
                "standalone_rate",
            ],
            vec![asc("unit_id"), asc("kind")],
        )
        .await
    }

    /// Coverage of the county and of each group (township), every column: the county first.
    pub async fn coverage_county_and_groups(&self) -> Result<Table> {
        self.read(
            "coverage",
            Some(self.county_and_groups()),
            &[],
            vec![desc("level"), asc("unit_id"), asc("kind")],
        )
        .await
    }

    /// What to act on: organizations without a party organization, joint branches over their
    /// limit, and the like (`coverage_findings`).
    pub async fn coverage_findings(&self) -> Result<Table> {
        self.read(
            "coverage_findings",
            None,
            &["finding", "org_id", "branch_id", "detail"],
            vec![asc("finding"), asc("org_id"), asc("branch_id")],
        )
        .await
    }

    /// Monthly attendance per branch, of `year` or of every year.
    pub async fn attendance_by_branch(&self, year: Option<i32>) -> Result<Table> {
        self.read(
            "attendance_monthly",
            year.map(|y| in_year("month", y)),
            &[
                "month",
                "branch_id",
                "name",
                "meetings",
                "expected",
                "present",
                "excused",
                "absent",
                "rate",
                "rate_change",
            ],
            vec![asc("branch_id"), asc("month")],
        )
        .await
    }

    /// Monthly attendance per unit at grid `level`, of `year` or of every year.
    pub async fn attendance_by_unit(&self, level: u8, year: Option<i32>) -> Result<Table> {
        let mut filter = col("level").eq(lit(i64::from(level)));
        if let Some(y) = year {
            filter = filter.and(in_year("month", y));
        }
        self.read(
            "attendance_monthly_by_unit",
            Some(filter),
            &[
                "month",
                "unit_id",
                "name",
                "meetings",
                "expected",
                "present",
                "excused",
                "absent",
                "rate",
                "rate_change",
            ],
            vec![asc("unit_id"), asc("month")],
        )
        .await
    }

    /// Monthly attendance of the county and of each group in `year`, up to the month
    /// `through` (a period's report never shows later months), with the level first.
    pub async fn attendance_county_and_groups(
        &self,
        year: i32,
        through: Option<Month>,
    ) -> Result<Table> {
        let mut filter = self.county_and_groups().and(in_year("month", year));
        if let Some(m) = through {
            filter = filter.and(col("month").lt_eq(lit(m.to_string())));
        }
        self.read(
            "attendance_monthly_by_unit",
            Some(filter),
            &[
                "level", "month", "unit_id", "name", "meetings", "expected", "present", "excused",
                "absent", "rate",
            ],
            vec![asc("level"), asc("unit_id"), asc("month")],
        )
        .await
    }

    /// 三会一课 compliance per branch and quarter, of `year` or of every year.
    pub async fn compliance(&self, year: Option<i32>) -> Result<Table> {
        self.read(
            "meeting_compliance",
            year.map(|y| in_year("quarter", y)),
            &[
                "quarter",
                "branch_id",
                "branch_name",
                "compliant",
                "missing",
            ],
            vec![asc("quarter"), asc("branch_id")],
        )
        .await
    }

    /// The branches that missed a required meeting in a quarter of `year`, up to the quarter
    /// of `through`.
    pub async fn compliance_gaps(&self, year: i32, through: Option<Period>) -> Result<Table> {
        let mut filter = (!col("compliant")).and(in_year("quarter", year));
        if let Some(p) = through {
            let last = format!("{year}-Q{}", p.last_quarter());
            filter = filter.and(col("quarter").lt_eq(lit(last)));
        }
        self.read(
            "meeting_compliance",
            Some(filter),
            &["quarter", "branch_id", "branch_name", "missing"],
            vec![asc("quarter"), asc("branch_id")],
        )
        .await
    }

    /// Members with unexcused absences to act on, of `year` or of every year.
    pub async fn alerts(&self, year: Option<i32>) -> Result<Table> {
        self.read(
            "attendance_alerts",
            year.map(|y| col("year").eq(lit(y))),
            &[
                "year",
                "member_id",
                "branch_id",
                "unexcused",
                "longest_run",
                "admonish",
                "discipline",
            ],
            vec![asc("year"), asc("branch_id"), asc("member_id")],
        )
        .await
    }

    /// The same alerts of `year` with the member's and the branch's names (masked for an
    /// analyst, as everywhere), by branch and member.
    pub async fn alerts_named(&self, year: i32) -> Result<Table> {
        let members = self
            .view("members")
            .await?
            .select(vec![
                col("member_id").alias("m_member_id"),
                col("name").alias("member_name"),
            ])
            .map_err(QueryError::from)?;
        let branches = self
            .view("branches")
            .await?
            .select(vec![
                col("branch_id").alias("b_branch_id"),
                col("name").alias("branch_name"),
            ])
            .map_err(QueryError::from)?;
        let df = self
            .view("attendance_alerts")
            .await?
            .filter(col("year").eq(lit(year)))
            .and_then(|df| {
                df.join(
                    members,
                    JoinType::Left,
                    &["member_id"],
                    &["m_member_id"],
                    None,
                )
            })
            .and_then(|df| {
                df.join(
                    branches,
                    JoinType::Left,
                    &["branch_id"],
                    &["b_branch_id"],
                    None,
                )
            })
            .and_then(|df| df.sort(vec![asc("branch_id"), asc("member_id")]))
            .and_then(|df| {
                df.select_columns(&[
                    "year",
                    "member_id",
                    "member_name",
                    "branch_name",
                    "unexcused",
                    "longest_run",
                    "admonish",
                    "discipline",
                ])
            })
            .map_err(QueryError::from)?;
        Ok(Metrics::collect(df).await?)
    }

    /// Each member's points of `year`, by branch and rank.
    pub async fn points(&self, year: i32) -> Result<Table> {
        self.read(
            "member_points",
            Some(col("year").eq(lit(year))),
            &[
                "year",
                "member_id",
                "branch_id",
                "base",
                "task",
                "reward",
                "honor",
                "total",
                "grade",
                "violation",
                "rank",
                "top_share",
            ],
            vec![asc("branch_id"), asc("rank"), asc("member_id")],
        )
        .await
    }

    /// How many members of each group got each grade in `year`. Branches of county-level units
    /// have no group; they are counted under `县直及其他` (unit `~`, sorting last) rather than
    /// left out.
    pub async fn points_grades_by_group(&self, year: i32) -> Result<Table> {
        let branches = self
            .view("branches")
            .await?
            .select(vec![
                col("branch_id").alias("b_branch_id"),
                col("unit_id").alias("b_unit_id"),
            ])
            .map_err(QueryError::from)?;
        let groups = self
            .view("grid_closure")
            .await?
            .filter(col("ancestor_level").eq(lit(i64::from(self.group_level()))))
            .and_then(|df| {
                df.select(vec![
                    col("unit_id").alias("c_unit_id"),
                    col("ancestor_id").alias("group_id"),
                ])
            })
            .map_err(QueryError::from)?;
        let names = self
            .view("grid_units")
            .await?
            .select(vec![
                col("unit_id").alias("u_unit_id"),
                col("name").alias("group_name"),
            ])
            .map_err(QueryError::from)?;
        let df = self
            .view("member_points")
            .await?
            .filter(col("year").eq(lit(year)))
            .and_then(|df| {
                df.join(
                    branches,
                    JoinType::Inner,
                    &["branch_id"],
                    &["b_branch_id"],
                    None,
                )
            })
            .and_then(|df| df.join(groups, JoinType::Left, &["b_unit_id"], &["c_unit_id"], None))
            .and_then(|df| df.join(names, JoinType::Left, &["group_id"], &["u_unit_id"], None))
            .and_then(|df| {
                df.aggregate(
                    vec![
                        coalesce(vec![col("group_id"), lit("~")]).alias("unit_id"),
                        coalesce(vec![col("group_name"), lit("县直及其他")]).alias("unit_name"),
                        col("grade"),
                    ],
                    vec![count(lit(1)).alias("members")],
                )
            })
            .and_then(|df| df.sort(vec![asc("unit_id"), asc("grade")]))
            .map_err(QueryError::from)?;
        Ok(Metrics::collect(df).await?)
    }

    /// Grid visits and issue resolution per unit at grid `level`, counting visits at the unit
    /// or below it.
    pub async fn grid_visits(&self, level: u8) -> Result<Table> {
        self.read(
            "grid_visits",
            Some(col("level").eq(lit(i64::from(level)))),
            &[
                "unit_id",
                "unit_name",
                "level",
                "visits",
                "households",
                "issues_raised",
                "issues_resolved",
                "resolution_rate",
            ],
            vec![asc("unit_id")],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn empty_county() -> (tempfile::TempDir, Warehouse) {
        let dir = tempfile::tempdir().unwrap();
        let warehouse = Warehouse::init(&dir.path().join("wh")).unwrap();
        warehouse.add_tenant("a", "甲县").await.unwrap();
        (dir, warehouse)
    }

    #[tokio::test]
    async fn a_county_without_scores_says_so_instead_of_ranking_nothing() {
        let (_dir, warehouse) = empty_county().await;
        let metrics = Metrics::open(&warehouse, &Access::admin_of("a"))
            .await
            .unwrap();
        assert!(metrics.periods().await.unwrap().is_empty());
        let err = metrics
            .ranking("2024-B6".parse().unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, MetricsError::NoScores { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "no branch took part in 2024-B6: there are no scores for it (no scores are loaded yet)"
        );
        // Empty views are empty tables with their columns, not errors.
        let coverage = metrics.coverage(2).await.unwrap();
        assert!(coverage.is_empty());
        assert_eq!(coverage.schema.field(0).name(), "kind");
        assert_eq!(metrics.group_level(), 2);
    }

    #[tokio::test]
    async fn metrics_are_per_county() {
        let (_dir, warehouse) = empty_county().await;
        warehouse.add_tenant("b", "乙县").await.unwrap();
        let both = Access::new(vec!["a".into(), "b".into()], crate::access::Role::Admin);
        let err = Metrics::open(&warehouse, &both).await.unwrap_err();
        assert!(err.to_string().contains("per county"), "{err}");
    }

    #[test]
    fn a_table_keeps_the_columns_asked_for_in_that_order() {
        use arrow::array::Int64Array;
        use arrow::datatypes::{Field, Schema};
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(Int64Array::from(vec![1])),
                std::sync::Arc::new(Int64Array::from(vec![2])),
            ],
        )
        .unwrap();
        let table = Table {
            schema,
            batches: vec![batch],
        };
        let picked = table.select(&["b", "a"]).unwrap();
        assert_eq!(picked.schema.field(0).name(), "b");
        assert_eq!(picked.num_rows(), 1);
        assert!(table.select(&["c"]).is_err());
    }
}

/// One metric table as a command or a URL asks for it (SPEC §6). [`Metrics::table`] answers it
/// with the same method the CLI's command calls, so `--format csv` and the console's
/// `format=csv` are the same table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// `assess --period P`: the red-flag ranking of one period.
    Ranking {
        /// The period ranked.
        period: Period,
    },
    /// `assess --year Y`: the year's summary per branch.
    RankingYear {
        /// The year summed.
        year: i32,
    },
    /// `coverage --level L`: the two coverage rates per unit at a level.
    Coverage {
        /// The grid level of the units.
        level: u8,
    },
    /// `coverage --findings`: the organizations and branches to act on.
    Findings,
    /// `attendance [--level L] [--year Y]`: monthly attendance per branch, or per unit at L.
    Attendance {
        /// The grid level of the units; per branch without one.
        level: Option<u8>,
        /// The year; every year without one.
        year: Option<i32>,
    },
    /// `attendance --compliance`: 三会一课 per branch per quarter.
    Compliance {
        /// The year; every year without one.
        year: Option<i32>,
    },
    /// `attendance --alerts`: members to admonish or discipline.
    Alerts {
        /// The year; every year without one.
        year: Option<i32>,
    },
    /// `points --year Y`: members' points and grades.
    Points {
        /// The year graded.
        year: i32,
    },
    /// `grid --level L`: grid visits and issue resolution per unit.
    Grid {
        /// The grid level of the units.
        level: u8,
    },
}

impl Metric {
    /// Whether its rows are members (a viewer sees none of them).
    pub fn is_member_level(&self) -> bool {
        matches!(self, Metric::Alerts { .. } | Metric::Points { .. })
    }
}

impl Metrics {
    /// The table of `metric`, with SPEC's columns in SPEC's order.
    pub async fn table(&self, metric: &Metric) -> Result<Table> {
        match metric {
            Metric::Ranking { period } => self.ranking(*period).await,
            Metric::RankingYear { year } => self.year(*year).await,
            Metric::Coverage { level } => self.coverage(*level).await,
            Metric::Findings => self.coverage_findings().await,
            Metric::Attendance { level: None, year } => self.attendance_by_branch(*year).await,
            Metric::Attendance {
                level: Some(level),
                year,
            } => self.attendance_by_unit(*level, *year).await,
            Metric::Compliance { year } => self.compliance(*year).await,
            Metric::Alerts { year } => self.alerts(*year).await,
            Metric::Points { year } => self.points(*year).await,
            Metric::Grid { level } => self.grid_visits(*level).await,
        }
    }
}
