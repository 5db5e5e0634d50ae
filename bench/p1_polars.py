"""P1 baseline in Polars: every metric of SPEC §4 under the default rules of SPEC §3.

    run(root, period, year, threads) -> {view: pyarrow.Table}

`root` holds `county=<id>/<table>.parquet`; the tables are scanned with hive partitioning so
every row carries its `county`, and `county` is part of every key, join and window partition
(ids repeat across counties). Each call scans the Parquet files afresh (nothing is cached
between calls). The results are LazyFrames collected together with `pl.collect_all` on the
streaming engine, in three stages: (1) what several views read (attendance, meetings with
their order keys, the grid's ancestor table) is materialized once, since Polars does not share
scans whose projections differ; (2) all views plus the per-branch monthly attendance counts;
(3) the two attendance trend views from those counts.

Threads: Polars sizes its thread pool from POLARS_MAX_THREADS when it is first imported, so
the driver must export POLARS_MAX_THREADS=<threads> before importing this module (or polars);
`run` asserts that the pool has the requested size.

Written from SPEC §4, not from the engine's SQL. Scores and points stay Polars Decimals
(exact sums, so 95.00 >= 95 holds); rates are Float64; the top-share test is done in integers.
"""

import polars as pl

# ---------------------------------------------------------------- default rules (SPEC §3)
INDICATORS = [("党组织建设", 20), ("扶贫工作", 10), ("计生工作", 10), ("综治维稳", 10),
              ("安全生产", 10), ("民政民生", 10), ("整脏治乱", 10), ("财政税收", 5),
              ("驻村帮扶", 10), ("党风廉政", 5)]
INDICATOR_NAMES = [n for n, _ in INDICATORS]
GROUP_LEVEL = 2                                   # township
BRANCH_TYPES = ["rural", "community"]
TIE_BREAK = ["党组织建设"]
TIERS = [(95, [600, 500, 400]), (85, [300, 250, 200])]   # file order: first match pays
PENALTY_BELOW = 85
PENALTY_STEPS = ["表态发言", "取消年终参评资格", "乡纪委问责"]
MISSING_SEP = "、"                                 # joins the names in missing_indicators

UNEXCUSED_WARNING = 3
CONSECUTIVE_UNEXCUSED = 3
REQUIREMENTS = [("committee", "monthly"), ("group", "monthly"),    # order of `missing` text
                ("assembly", "quarterly"), ("lecture", "quarterly")]
KIND_CN = {"committee": "支委会", "group": "党小组会", "assembly": "支部党员大会", "lecture": "党课"}

POINTS_BASE, TASK_CAP, REWARD_CAP = 20, 70, 10
GRADES = [(90, "优秀"), (80, "合格"), (60, "基本合格"), (0, "不合格")]
FAIL_GRADE = "不合格"
TOP_SHARE = (1, 5)                                # 0.2 as a fraction: exact rank test

STANDALONE_MIN_MEMBERS = 3
JOINT_MAX_ORGS = 5

C = "county"
# Polars' streaming engine runs these plans markedly faster than the in-memory one here
# (about 1.6x with 2 threads); operations it lacks fall back to in-memory on their own.
ENGINE = "streaming"


def _scan(root, table):
    return pl.scan_parquet(f"{root}/county=*/{table}.parquet", hive_partitioning=True,
                           hive_schema={C: pl.String})


def _month_str(mi):
    """Month index (year*12 + month-1) -> 'YYYY-MM'."""
    return pl.format("{}-{}", mi // 12, (mi % 12 + 1).cast(pl.String).str.zfill(2))


def _rate(num, den):
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)


def _ancestors(units):
    """(county, unit_id, anc_id, anc_level) for every unit and each of its ancestors, itself
    included (the grid is at most 6 levels deep, so 5 parent hops reach the root)."""
    parent = units.select(C, pl.col("unit_id").alias("anc_id"),
                          pl.col("parent_id").alias("next_id"))
    step = units.select(C, "unit_id", pl.col("unit_id").alias("anc_id"),
                        pl.col("level").alias("anc_level"), pl.col("parent_id").alias("next_id"))
    steps = [step]
    for _ in range(5):
        step = (step.filter(pl.col("next_id").is_not_null())
                .select(C, "unit_id", pl.col("next_id").alias("anc_id"),
                        (pl.col("anc_level") - 1).alias("anc_level"))
                .join(parent, on=[C, "anc_id"]))
        steps.append(step)
    return pl.concat(steps).select(C, "unit_id", "anc_id", "anc_level")


# ---------------------------------------------------------------- red flag (流动红旗)
def _red_flag_all(scores, branches, anc, units):
    """One row per (period, participating branch) over all periods: the history is needed
    for penalty counting and consecutive flags."""
    ind = pl.col("indicator")
    per = (scores.group_by(C, "period", "branch_id").agg(
        *[pl.col("score").filter(ind == n).sum().alias(n) for n in INDICATOR_NAMES],
        *[(ind == n).any().alias(f"_has{i}") for i, n in enumerate(INDICATOR_NAMES)]))
    br = (branches.filter(pl.col("type").is_in(BRANCH_TYPES))
          .select(C, "branch_id", pl.col("name").alias("branch_name"), "unit_id"))
    grp = (anc.filter(pl.col("anc_level") == GROUP_LEVEL)
           .select(C, "unit_id", pl.col("anc_id").alias("group_id"))
           .join(units.select(C, pl.col("unit_id").alias("group_id"),
                              pl.col("name").alias("group_name")), on=[C, "group_id"]))
    # tenant's periods in order (year, then number): pidx numbers them 1, 2, ...
    pk = (pl.col("period").str.slice(0, 4).cast(pl.Int32) * 100
          + pl.col("period").str.slice(6).cast(pl.Int32))
    periods = (scores.select(C, "period").unique()
               .with_columns(pk.alias("pk"))
               .with_columns(pl.col("pk").rank("dense").over(C).alias("pidx")))

    g = [C, "period", "group_id"]
    rank, total = pl.col("rank"), pl.col("total")

    def pick(values):                     # rewards[rank-1], 0 beyond the list
        e = pl.when(rank == 1).then(values[0])
        for i, v in enumerate(values[1:], 2):
            e = e.when(rank == i).then(v)
        return e.otherwise(0)

    reward = pl.when(total >= TIERS[0][0]).then(pick(TIERS[0][1]))
    for min_score, rewards in TIERS[1:]:
        reward = reward.when(total >= min_score).then(pick(rewards))
    reward = reward.otherwise(0).cast(pl.Int64)

    nth = pl.col("_nth")
    penalty = pl.when(nth >= len(PENALTY_STEPS)).then(pl.lit(PENALTY_STEPS[-1]))
    for i, step in enumerate(PENALTY_STEPS[:-1], 1):
        penalty = penalty.when(nth == i).then(pl.lit(step))

    missing = pl.concat_str(
        [pl.when(~pl.col(f"_has{i}")).then(pl.lit(n)) for i, n in enumerate(INDICATOR_NAMES)],
        separator=MISSING_SEP, ignore_nulls=True)

    ranked = (per.join(br, on=[C, "branch_id"]).join(grp, on=[C, "unit_id"])
              .join(periods, on=[C, "period"])
              .with_columns(pl.sum_horizontal(INDICATOR_NAMES).alias("total"),
                            missing.alias("missing_indicators"),
                            pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"))
              .with_columns(pl.struct("total", *TIE_BREAK).rank("min", descending=True)
                            .over(g).cast(pl.Int64).alias("rank"))
              .with_columns(reward.alias("reward_yuan"),
                            (rank == 1).alias("red_flag"),
                            ((rank == rank.max().over(g)) & (pl.len().over(g) >= 2))
                            .alias("last_place"))
              .with_columns((pl.col("last_place") & (total < PENALTY_BELOW)).alias("_pen")))
    ranked = (ranked
              .with_columns(pl.col("_pen").cast(pl.Int32).cum_sum()
                            .over([C, "branch_id", "year"], order_by="pidx").alias("_nth"))
              .with_columns(pl.when(pl.col("_pen")).then(penalty).alias("penalty")))

    # runs of flags: among a branch's flagged periods, pidx - ordinal is constant along a run
    # of consecutive tenant periods; the run length so far is the ordinal within that run.
    b = [C, "branch_id"]
    runs = (ranked.filter(pl.col("red_flag")).select(C, "branch_id", "period", "pidx", "year")
            .with_columns((pl.col("pidx") - pl.col("pidx").rank("ordinal").over(b)).alias("_k"))
            .select(C, "branch_id", "period",
                    pl.col("pidx").rank("ordinal").over([*b, "_k"])
                    .cast(pl.Int64).alias("consecutive_flags"),
                    pl.col("pidx").rank("ordinal").over([*b, "_k", "year"])
                    .cast(pl.Int64).alias("_year_run")))
    return (ranked.join(runs, on=[C, "branch_id", "period"], how="left")
            .with_columns(pl.col("consecutive_flags").fill_null(0),
                          pl.col("_year_run").fill_null(0)))


def _red_flag_views(rf, period, year):
    ranking = (rf.filter(pl.col("period") == period)
               .select(C, "period", "group_id", "group_name", "rank", "branch_id", "branch_name",
                       "total", "missing_indicators", "reward_yuan", "red_flag", "last_place",
                       "penalty", "consecutive_flags", *INDICATOR_NAMES))
    # mean_total rounded half-up to 2 places, exactly, in integer cents
    cents = (pl.col("total") * 100).cast(pl.Int64)
    yr = (rf.filter(pl.col("year") == year)
          .group_by(C, "branch_id").agg(
              pl.first("group_id"), pl.first("branch_name"),
              pl.len().alias("periods"),
              pl.col("red_flag").sum().cast(pl.Int64).alias("flags"),
              pl.col("rank").min().alias("best_rank"),
              pl.col("rank").max().alias("worst_rank"),
              cents.sum().alias("_cents"),
              pl.col("reward_yuan").sum().alias("reward_yuan"),
              pl.col("penalty").is_not_null().sum().cast(pl.Int64).alias("penalties"),
              (pl.col("_year_run").max() >= 2).alias("bonus_funding"))
          .with_columns(
              ((2 * pl.col("_cents") + pl.col("periods")) // (2 * pl.col("periods")))
              .cast(pl.Decimal(38, 2)).truediv(100).alias("mean_total"),
              pl.lit(year, pl.Int32).alias("year"),
              (pl.col("flags") == 0).alias("subsidy_cancelled"))
          .select(C, "year", "group_id", "branch_id", "branch_name", "periods", "flags",
                  "best_rank", "worst_rank", "mean_total", "reward_yuan", "penalties",
                  "bonus_funding", "subsidy_cancelled"))
    return ranking, yr


# ---------------------------------------------------------------- coverage (两个覆盖)
def _coverage(orgs, branches, anc, units):
    br = branches.select(C, "branch_id", pl.col("name").alias("branch_name"), "is_joint")
    o = (orgs.select(C, "org_id", "name", "kind", "unit_id", "party_members", "branch_id")
         .join(br, on=[C, "branch_id"], how="left")
         .with_columns(pl.col("branch_id").is_not_null().alias("covered"))
         .with_columns((pl.col("covered") & ~pl.col("is_joint")).alias("standalone"),
                       (pl.col("covered") & pl.col("is_joint")).alias("joint")))
    cov = (o.join(anc, on=[C, "unit_id"])
           .group_by(C, "anc_level", "kind", "anc_id").agg(
               pl.len().cast(pl.Int64).alias("orgs"),
               *[pl.col(x).sum().cast(pl.Int64).alias(x) for x in ("covered", "standalone", "joint")])
           .join(units.select(C, pl.col("unit_id").alias("anc_id"),
                              pl.col("name").alias("unit_name")), on=[C, "anc_id"])
           .select(C, pl.col("anc_level").alias("level"), "kind",
                   pl.col("anc_id").alias("unit_id"), "unit_name", "orgs", "covered",
                   _rate("covered", "orgs").alias("coverage_rate"), "standalone", "joint",
                   _rate("standalone", "orgs").alias("standalone_rate")))

    pm = pl.col("party_members")
    should = (o.filter((pm >= STANDALONE_MIN_MEMBERS) & ~pl.col("standalone"))
              .select(C, pl.lit("应单独组建").alias("finding"), "org_id", "branch_id",
                      pl.when(pl.col("covered"))
                      .then(pl.format("{}有正式党员{}名（达到{}名），现由联合党组织“{}”覆盖，应单独组建党组织",
                                      "name", pm, pl.lit(STANDALONE_MIN_MEMBERS), "branch_name"))
                      .otherwise(pl.format("{}有正式党员{}名（达到{}名），尚未建立党组织，应单独组建党组织",
                                           "name", pm, pl.lit(STANDALONE_MIN_MEMBERS)))
                      .alias("detail")))
    over5 = (o.filter(pl.col("joint")).group_by(C, "branch_id")
             .agg(pl.len().alias("n"), pl.first("branch_name"))
             .filter(pl.col("n") > JOINT_MAX_ORGS)
             .select(C, pl.lit("超出一管五").alias("finding"), pl.lit(None, pl.String).alias("org_id"),
                     "branch_id",
                     pl.format("联合党组织“{}”覆盖{}个组织，超出“一管五”上限（最多{}个）",
                               "branch_name", "n", pl.lit(JOINT_MAX_ORGS)).alias("detail")))
    uncovered = (o.filter((pm >= 1) & ~pl.col("covered"))
                 .select(C, pl.lit("有党员未覆盖").alias("finding"), "org_id", "branch_id",
                         pl.format("{}有正式党员{}名，尚未被党组织覆盖", "name", pm).alias("detail")))
    return cov, pl.concat([should, over5, uncovered])


# ---------------------------------------------------------------- attendance (三会一课)
def _monthly(frame, keys):
    """rate and rate_change (vs the same keys' previous calendar month) on monthly counts."""
    frame = frame.with_columns(_rate("present", "expected").alias("rate"))
    prev = frame.select(*keys, (pl.col("mi") + 1).alias("mi"), pl.col("rate").alias("_prev"))
    return (frame.join(prev, on=[*keys, "mi"], how="left")
            .with_columns((pl.col("rate") - pl.col("_prev")).alias("rate_change"),
                          _month_str(pl.col("mi")).alias("month")))


COUNTS = ["meetings", "expected", "present", "excused", "absent"]


def _meetings(meetings):
    """Meetings with the keys several views need: month index mi (year*12 + month-1), year,
    and ord, the meeting's place in the county's (held_on, meeting_id) order."""
    d = pl.col("held_on")
    return meetings.select(
        C, "meeting_id", "branch_id", "kind", "party_group", "held_on",
        (d.dt.year().cast(pl.Int32) * 12 + d.dt.month().cast(pl.Int32) - 1).alias("mi"),
        d.dt.year().cast(pl.Int32).alias("year"),
        pl.struct("held_on", "meeting_id").rank("ordinal").over(C).alias("ord"))


def _by_branch(att, meet):
    """Counts per branch per month (every month of every year: rate_change looks back)."""
    st = pl.col("status")
    # 15 M attendance rows collapse to one row per meeting before any join
    per_meeting = att.group_by(C, "meeting_id").agg(
        pl.len().cast(pl.Int64).alias("expected"),
        st.is_in(["present", "online"]).sum().cast(pl.Int64).alias("present"),
        (st == "excused").sum().cast(pl.Int64).alias("excused"),
        (st == "absent").sum().cast(pl.Int64).alias("absent"))
    return (meet.select(C, "meeting_id", "branch_id", "mi")
            .join(per_meeting, on=[C, "meeting_id"], how="left")
            .group_by(C, "branch_id", "mi").agg(
                pl.len().cast(pl.Int64).alias("meetings"),
                *[pl.col(x).sum().cast(pl.Int64) for x in COUNTS[1:]]))


def _attendance(by_branch, branches, anc, units, year):
    in_year = (pl.col("mi") // 12) == year
    monthly = (_monthly(by_branch, [C, "branch_id"]).filter(in_year)
               .join(branches.select(C, "branch_id", "name"), on=[C, "branch_id"])
               .select(C, "month", "branch_id", "name", *COUNTS, "rate", "rate_change"))

    # rollups sum the counts and then divide, per ancestor unit at every level
    by_unit = (by_branch.join(branches.select(C, "branch_id", "unit_id"), on=[C, "branch_id"])
               .join(anc, on=[C, "unit_id"])
               .group_by(C, "anc_level", "anc_id", "mi")
               .agg(*[pl.col(x).sum() for x in COUNTS])
               .rename({"anc_id": "unit_id", "anc_level": "level"}))
    by_unit = (_monthly(by_unit, [C, "unit_id"]).filter(in_year)
               .join(units.select(C, "unit_id", "name"), on=[C, "unit_id"])
               .select(C, "level", "month", "unit_id", "name", *COUNTS, "rate", "rate_change"))
    return monthly, by_unit


def _compliance(meet, members, branches, year):
    held_on = pl.col("held_on")
    m = meet.filter(pl.col("year") == year).select(C, "branch_id", "kind", "party_group",
                        pl.format("{}-Q{}", held_on.dt.year(), held_on.dt.quarter()).alias("quarter"),
                        held_on.dt.strftime("%Y-%m").alias("month"))
    # every branch x every quarter (of the year) in which the tenant has a meeting
    bq = (branches.select(C, "branch_id", pl.col("name").alias("branch_name"))
          .join(m.select(C, "quarter").unique(), on=C))
    q = pl.col("quarter")
    months = (bq.select(C, "branch_id", "quarter")
              .with_columns(pl.int_ranges(0, 3).alias("_o")).explode("_o")
              .with_columns(pl.format("{}-{}", q.str.slice(0, 4),
                                      ((q.str.slice(6).cast(pl.Int32) - 1) * 3 + 1 + pl.col("_o"))
                                      .cast(pl.String).str.zfill(2)).alias("month"))
              .drop("_o"))
    groups = (members.filter(pl.col("party_group").is_not_null() & (pl.col("party_group") != ""))
              .select(C, "branch_id", "party_group").unique())

    need, have = [], []
    for idx, (kind, freq) in enumerate(REQUIREMENTS):
        slots = months if freq == "monthly" else bq.select(C, "branch_id", "quarter",
                                                           pl.lit("").alias("month"))
        assert freq in ("monthly", "quarterly"), freq
        if kind == "group":               # one slot per party group of the branch
            slots = slots.join(groups, on=[C, "branch_id"])
        else:
            slots = slots.with_columns(pl.lit("").alias("party_group"))
        label = pl.concat_str([pl.lit(KIND_CN[kind]),
                               pl.when(pl.col("party_group") != "").then(pl.col("party_group")),
                               pl.when(pl.col("month") != "").then(pl.col("month"))],
                              separator=" ", ignore_nulls=True)
        need.append(slots.select(C, "branch_id", "quarter", "month", "party_group",
                                 pl.lit(idx).alias("req"), label.alias("label")))
        have.append(m.filter(pl.col("kind") == kind)
                    .select(C, "branch_id", "quarter",
                            pl.col("month") if freq == "monthly" else pl.lit("").alias("month"),
                            pl.col("party_group").fill_null("") if kind == "group"
                            else pl.lit("").alias("party_group"),
                            pl.lit(idx).alias("req"))
                    .unique())
    keys = [C, "branch_id", "quarter", "month", "party_group", "req"]
    gaps = (pl.concat(need).join(pl.concat(have), on=keys, how="anti")
            .sort("req", "party_group", "month")
            .group_by(C, "branch_id", "quarter", maintain_order=True)
            .agg(pl.col("label").str.join("; ").alias("missing")))
    return (bq.join(gaps, on=[C, "branch_id", "quarter"], how="left")
            .select(C, "quarter", "branch_id", "branch_name",
                    pl.col("missing").is_null().alias("compliant"),
                    pl.col("missing").fill_null("")))


def _alerts(att, meet, members, year):
    # longest_run <= unexcused, so only members with at least min(thresholds) absences in the
    # year can raise an alert: count absences first, then order the attendance of those only.
    floor = min(UNEXCUSED_WARNING, CONSECUTIVE_UNEXCUSED)
    mt = meet.filter(pl.col("year") == year).select(C, "meeting_id", "ord")
    cand = (att.filter(pl.col("status") == "absent").join(mt, on=[C, "meeting_id"])
            .group_by(C, "member_id").agg(pl.len().cast(pl.Int64).alias("unexcused"))
            .filter(pl.col("unexcused") >= floor))
    # Runs of absent rows along each candidate's attendance in (held_on, meeting_id) order.
    # A dense integer id per candidate keeps the sort and the run bookkeeping on integers
    # (numbered after a sort, so that it is the same wherever the plan evaluates `cand`).
    cand = cand.sort(C, "member_id").with_row_index("mid")
    ab, mid = pl.col("absent"), pl.col("mid")
    seq = (att.join(cand.select(C, "member_id", "mid"), on=[C, "member_id"])
           .join(mt, on=[C, "meeting_id"])
           .select("mid", "ord", (pl.col("status") == "absent").alias("absent"))
           .sort("mid", "ord")
           # a run starts at an absent row whose predecessor (same member) is not absent
           .with_columns((ab & ~(ab.shift(1) & (mid == mid.shift(1))).fill_null(False))
                         .cum_sum().alias("run"))
           .filter(ab)
           .group_by("run").agg(pl.first("mid"), pl.len().alias("n"))
           .group_by("mid").agg(pl.col("n").max().cast(pl.Int64).alias("longest_run")))
    return (cand.join(seq, on="mid")
            .join(members.select(C, "member_id", "branch_id"), on=[C, "member_id"])
            .with_columns((pl.col("unexcused") >= UNEXCUSED_WARNING).alias("admonish"),
                          (pl.col("longest_run") >= CONSECUTIVE_UNEXCUSED).alias("discipline"))
            .filter(pl.col("admonish") | pl.col("discipline"))
            .select(C, pl.lit(year, pl.Int32).alias("year"), "member_id", "branch_id",
                    "unexcused", "longest_run", "admonish", "discipline"))


# ---------------------------------------------------------------- member points (党员积分)
def _points(points, members, year):
    cat = pl.col("category")
    dec0 = pl.lit(0).cast(pl.Decimal(38, 2))
    # sum per (member, category) first: the per-category columns then come from a small frame
    sums = (points.filter(pl.col("month").str.starts_with(f"{year}-"))
            .group_by(C, "member_id", "category").agg(pl.col("points").sum())
            .group_by(C, "member_id").agg(
                *[pl.col("points").filter(cat == k).sum().alias(f"_{k}")
                  for k in ("base", "task", "reward", "honor")],
                (cat == "violation").any().alias("violation")))
    grade = pl.when(pl.col("violation")).then(pl.lit(FAIL_GRADE))
    for lo, name in GRADES:
        grade = grade.when(pl.col("total") >= lo).then(pl.lit(name))
    b = [C, "branch_id"]
    num, den = TOP_SHARE
    return (members.filter(~pl.col("points_exempt")).select(C, "member_id", "branch_id")
            .join(sums, on=[C, "member_id"], how="left")
            .with_columns(*[pl.col(f"_{k}").fill_null(dec0) for k in ("base", "task", "reward", "honor")],
                          pl.col("violation").fill_null(False))
            .with_columns((pl.col("_base") + POINTS_BASE).clip(pl.lit(0), pl.lit(POINTS_BASE)).alias("base"),
                          pl.min_horizontal("_task", pl.lit(TASK_CAP)).alias("task"),
                          pl.min_horizontal("_reward", pl.lit(REWARD_CAP)).alias("reward"),
                          pl.col("_honor").alias("honor"))
            .with_columns((pl.col("base") + pl.col("task") + pl.col("reward") + pl.col("honor"))
                          .alias("total"))
            .with_columns(grade.alias("grade"),
                          pl.col("total").rank("min", descending=True).over(b).cast(pl.Int64)
                          .alias("rank"))
            # rank - 1 < share * n  <=>  den * (rank - 1) < num * n, in integers
            .with_columns((den * (pl.col("rank") - 1) < num * pl.len().over(b)).alias("top_share"))
            .select(C, pl.lit(year, pl.Int32).alias("year"), "member_id", "branch_id", "base",
                    "task", "reward", "honor", "total", "grade", "violation", "rank", "top_share"))


# ---------------------------------------------------------------- grid visits (网格走访)
def _grid(visits, anc, units):
    cols = ["households", "issues_raised", "issues_resolved"]
    per_unit = (visits.group_by(C, "unit_id")
                .agg(pl.len().cast(pl.Int64).alias("visits"), *[pl.col(x).sum() for x in cols]))
    rolled = (per_unit.join(anc, on=[C, "unit_id"])
              .group_by(C, "anc_id").agg(*[pl.col(x).sum() for x in ["visits", *cols]])
              .rename({"anc_id": "unit_id"}))
    return (units.select(C, "unit_id", pl.col("name").alias("unit_name"), "level")
            .join(rolled, on=[C, "unit_id"], how="left")
            .with_columns(pl.col(x).fill_null(0) for x in ["visits", *cols])
            .with_columns(_rate("issues_resolved", "issues_raised").alias("resolution_rate")))


# ---------------------------------------------------------------- entry point
def run(root: str, period: str, year: int, threads: int) -> dict:
    assert pl.thread_pool_size() == threads, (
        f"polars pool has {pl.thread_pool_size()} threads, wanted {threads}: "
        "export POLARS_MAX_THREADS before importing polars")
    t = {name: _scan(root, name) for name in
         ("grid_units", "branches", "members", "meetings", "attendance", "scores",
          "organizations", "points", "visits")}
    units, branches, members = t["grid_units"], t["branches"], t["members"]

    # Stage 1: what several views read is materialized once (collect_all does not share
    # these scans across plans, as their projections differ).
    anc, att, meet = (df.lazy() for df in pl.collect_all(
        [_ancestors(units), t["attendance"], _meetings(t["meetings"])], engine=ENGINE))

    # Stage 2: every view, plus the per-branch monthly counts two views share.
    rf = _red_flag_all(t["scores"], branches, anc, units)
    ranking, rf_year = _red_flag_views(rf, period, year)
    cov, findings = _coverage(t["organizations"], branches, anc, units)
    out = {
        "red_flag_ranking": ranking,
        "red_flag_year": rf_year,
        "coverage": cov,
        "coverage_findings": findings,
        "meeting_compliance": _compliance(meet, members, branches, year),
        "attendance_alerts": _alerts(att, meet, members, year),
        "member_points": _points(t["points"], members, year),
        "grid_visits": _grid(t["visits"], anc, units),
    }
    by_branch, *frames = pl.collect_all([_by_branch(att, meet), *out.values()],
                                        engine=ENGINE)
    res = {name: df.to_arrow() for name, df in zip(out, frames)}

    # Stage 3: the two attendance trend views from the shared counts.
    monthly, by_unit = pl.collect_all(_attendance(by_branch.lazy(), branches, anc, units, year),
                                      engine=ENGINE)
    res["attendance_monthly"] = monthly.to_arrow()
    res["attendance_monthly_by_unit"] = by_unit.to_arrow()
    return res
