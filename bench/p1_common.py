"""P1, the standard assessment run: what every engine computes, and how results are compared.

The run is every metric of SPEC §4 for one period and one year, over one or more counties laid
out as `ROOT/county=<id>/<table>.parquet` (what `gridassess generate` writes for a city or a
province; the driver lays a single county out the same way). Every result carries the county id
first, as `county` (DuckDB, Polars) or `tenant_id` (gridassess, whose tenants are named after the
county folders), so one comparison covers any number of counties.

Each engine module (`p1_duckdb.py`, `p1_polars.py`) exposes

    run(root: str, period: str, year: int, threads: int) -> dict[str, pyarrow.Table]

returning one table per key of VIEWS, with the columns listed there (county id first), in any row
order. The module is written from SPEC §4 and the default rules of SPEC §3, not from the engine's
SQL, so agreement is evidence both are right.
"""

from decimal import ROUND_HALF_UP, Decimal

INDICATORS = ["党组织建设", "扶贫工作", "计生工作", "综治维稳", "安全生产", "民政民生", "整脏治乱",
              "财政税收", "驻村帮扶", "党风廉政"]

# view -> (columns after the county id, the gridassess filter for "one period and one year").
# {period} and {year} are filled in by the driver.
VIEWS = {
    "red_flag_ranking": (
        ["period", "group_id", "group_name", "rank", "branch_id", "branch_name", "total",
         "missing_indicators", "reward_yuan", "red_flag", "last_place", "penalty",
         "consecutive_flags", *INDICATORS],
        "period = '{period}'"),
    "red_flag_year": (
        ["year", "group_id", "branch_id", "branch_name", "periods", "flags", "best_rank",
         "worst_rank", "mean_total", "reward_yuan", "penalties", "bonus_funding",
         "subsidy_cancelled"],
        "year = {year}"),
    "coverage": (
        ["level", "kind", "unit_id", "unit_name", "orgs", "covered", "coverage_rate",
         "standalone", "joint", "standalone_rate"],
        "true"),
    "coverage_findings": (["finding", "org_id", "branch_id", "detail"], "true"),
    "attendance_monthly": (
        ["month", "branch_id", "name", "meetings", "expected", "present", "excused", "absent",
         "rate", "rate_change"],
        "month LIKE '{year}-%'"),
    "attendance_monthly_by_unit": (
        ["level", "month", "unit_id", "name", "meetings", "expected", "present", "excused",
         "absent", "rate", "rate_change"],
        "month LIKE '{year}-%'"),
    "meeting_compliance": (
        ["quarter", "branch_id", "branch_name", "compliant", "missing"],
        "quarter LIKE '{year}-%'"),
    "attendance_alerts": (
        ["year", "member_id", "branch_id", "unexcused", "longest_run", "admonish", "discipline"],
        "year = {year}"),
    "member_points": (
        ["year", "member_id", "branch_id", "base", "task", "reward", "honor", "total", "grade",
         "violation", "rank", "top_share"],
        "year = {year}"),
    "grid_visits": (
        ["unit_id", "unit_name", "level", "visits", "households", "issues_raised",
         "issues_resolved", "resolution_rate"],
        "true"),
}


def gridassess_sql(view, period, year, several_tenants):
    """The query gridassess answers for `view` in the run (tenant_id first when several tenants)."""
    columns, where = VIEWS[view]
    cols = ", ".join(f'"{c}"' for c in (["tenant_id"] if several_tenants else []) + columns)
    return f"SELECT {cols} FROM {view} WHERE {where.format(period=period, year=year)}"


def norm(v):
    """One cell in a comparable form: numbers to 6 places (-0 as 0), booleans as true/false,
    '' for null. Shared with tests/differential/duckdb_metrics.py."""
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v in ("true", "false"):
        return v
    try:
        d = Decimal(str(v))
        return format(d.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize() + 0, "f")
    except Exception:
        return str(v)


def rows_of(table, columns):
    """A pyarrow table as sorted tuples of normalized cells, in `columns` order."""
    data = [table.column(c).to_pylist() for c in columns]
    return sorted(tuple(norm(v) for v in row) for row in zip(*data))


def compare(name, want_engine, want, got_engine, got, limit=5):
    """Prints ok or a diff of two row lists; returns True when equal."""
    if want == got:
        print(f"  ok   {name}: {len(got)} rows equal ({want_engine} = {got_engine})")
        return True
    sw, sg = set(want), set(got)
    print(f"  DIFF {name}: {want_engine} {len(want)} rows, {got_engine} {len(got)} rows")
    for r in [r for r in want if r not in sg][:limit]:
        print(f"    only {want_engine}: {r}")
    for r in [r for r in got if r not in sw][:limit]:
        print(f"    only {got_engine}: {r}")
    return False
