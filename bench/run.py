#!/usr/bin/env python3
"""gridassess against DuckDB and Polars on the same data, in one run.

    python3 bench/run.py --scale city            # P1, P3, P4, P5, P6 on ten counties
    python3 bench/run.py --scale province        # P2 on ~150 M attendance rows (and P3–P6)
    python3 bench/run.py --scale sample --profile dev --check   # results equal, no timings

It builds gridassess and gridassess-bench (release by default; CARGO_TARGET_DIR is honoured),
installs duckdb, polars, pyarrow and psycopg from PyPI when they are missing, generates the data
once with `gridassess generate` (kept under --work and reused), then measures, warm, the median
of --runs with --threads threads for every engine:

  P1  the standard assessment run: every SPEC §4 metric for the latest period and its year, by
      gridassess as a library (one session, every view), by the gridassess CLI (`sql`, one
      process per view), by DuckDB (bench/p1_duckdb.py) and Polars (bench/p1_polars.py) on the
      same Parquet files. Every result is checked equal.
  P2  attendance per branch per month (a join to meetings and a group-by) over every attendance
      row of the scale, in rows/s/core.
  P3  RANK of point entries within each township, whole and top 3.
  P4  ingest: a county's files as counties hand them over (GBK, Chinese headers and values)
      into a validated warehouse, against Polars and DuckDB converting the plain UTF-8 CSV of
      the same rows to Parquet.
  P5  `gridassess report` for one county and period.
  P6  `gridassess serve`: p50/p95 of a dashboard query under 20 concurrent psycopg clients.
  P7  every metric command of one county as a process of its own, after the load kept the
      county's results: what a county office waits for.
  P8  P2's query in-process, then on a Ballista cluster started on this machine from the same
      build (`gridassess cluster`): one executor with every core, then two sharing them. The
      peak RSS is the client's plus the scheduler's and the executors'.

Each engine runs in a child process of its own, so its peak RSS is its own. The table goes to
stdout and to bench/results/<date>-<scale>.md. With --check the timings are not reported:
only whether every engine's results are equal (exit status 1 when not).
"""

import argparse
import contextlib
import csv
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import p1_common  # noqa: E402

PHASES = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"]
# P1 (the whole assessment) is measured at city scale and below; P3 is defined on ~5 M rows (a
# city's point entries). A province is for P2's 100 M+ rows, and loads only its first county.
DEFAULT_PHASES = {"province": ["P2", "P4", "P5", "P6", "P7", "P8"]}


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def ensure_modules():
    for module, package in [("duckdb", "duckdb"), ("polars", "polars"), ("pyarrow", "pyarrow"),
                            ("psycopg", "psycopg[binary]")]:
        try:
            __import__(module)
        except ImportError:
            log(f"installing {package}")
            subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet",
                                   "--disable-pip-version-check", package])


def build(profile):
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "gridassess", "target")
    # The whole workspace, so features resolve as they do for `cargo test` and nothing is
    # compiled twice.
    args = ["cargo", "build", "--workspace", "--bins"]
    if profile == "release":
        args.append("--release")
    log(f"building ({profile}): {' '.join(args)}")
    subprocess.run(args, cwd=REPO, check=True, env=dict(os.environ, CARGO_TARGET_DIR=target))
    folder = os.path.join(target, "release" if profile == "release" else "debug")
    return os.path.join(folder, "gridassess"), os.path.join(folder, "gridassess-bench")


def peak_rss_mb(pid):
    """The child's VmHWM: its own high-water mark (wait4's ru_maxrss would include this
    driver's, which a child inherits across fork and exec)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def child(argv, env=None, stdin=None, cwd=None):
    """Runs a child to completion; returns (seconds, stdout, peak RSS in MB of that child,
    sampled every few milliseconds while it runs)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, cwd=cwd,
                             stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            p.stdin.write(stdin.encode())
            p.stdin.close()
        rss = 0
        while True:
            pid, status, _ = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            rss = max(rss, peak_rss_mb(p.pid) or 0)
            time.sleep(0.002)
        seconds = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode()
        if p.returncode != 0:
            what = " ".join(a if len(a) < 80 else a[:77] + "…" for a in argv[:6])
            raise SystemExit(f"{what} failed ({p.returncode}):\n"
                             f"{err.read().decode()[-3000:]}")
        return seconds, stdout, rss


# ---------------------------------------------------------------- data

class Data:
    """The generated Parquet (ROOT/county=<id>/), a warehouse holding it, and the run's
    period and year."""

    def __init__(self, args, binary):
        self.args = args
        self.binary = binary
        self.dir = os.path.join(args.work, args.scale)
        self.root = os.path.join(self.dir, "parquet")
        self.warehouse = os.path.join(self.dir, "warehouse")
        self.env = dict(os.environ, GRIDASSESS_WAREHOUSE=self.warehouse)
        self.prepare()
        # The counties in the warehouse (a province loads its first only).
        self.counties = sorted(d.split("=", 1)[1] for d in os.listdir(self.root))
        if args.scale == "province":
            self.counties = self.counties[:1]
        import duckdb
        periods = duckdb.connect().execute(
            f"SELECT DISTINCT period FROM read_parquet('{self.root}/*/scores.parquet') "
            "WHERE regexp_full_match(period, '[0-9]{4}-B[1-6]')").fetchall()
        self.period = max(p for (p,) in periods)
        self.year = int(self.period[:4])

    def gridassess(self, *argv, stdin=None):
        return child([self.binary, *argv], env=self.env, stdin=stdin)

    def prepare(self):
        stamp = os.path.join(self.dir, "ready")
        if os.path.exists(stamp):
            log(f"reusing the data in {self.dir}")
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        scale, seed = self.args.scale, str(self.args.seed)
        log(f"generating the {scale} data")
        if scale in ("sample", "county"):
            flat = os.path.join(self.dir, "flat")
            self.gridassess("generate", "--scale", scale, "--seed", seed, "--format", "parquet",
                            "--out", flat)
            os.makedirs(self.root)
            os.rename(flat, os.path.join(self.root, "county=c001"))
        else:
            self.gridassess("generate", "--scale", scale, "--seed", seed, "--format", "parquet",
                            "--out", self.root)
        # A province is loaded as its first county only: P1 is measured at city scale.
        counties = sorted(d.split("=", 1)[1] for d in os.listdir(self.root))
        if scale == "province":
            counties = counties[:1]
        log(f"loading {len(counties)} counties into a warehouse")
        self.gridassess("init")
        for c in counties:
            self.gridassess("tenant", "add", c, "--name", f"县{c}")
            # A benchmark reads whole views: lift the ad-hoc row and memory limits.
            self.gridassess("tenant", "limits", c, "--memory-mb", "16384", "--max-rows",
                            "1000000000", "--timeout-seconds", "86400")
            self.gridassess("ingest", "--tenant", c, "--format", "csv",
                            os.path.join(self.root, f"county={c}"))
        if scale != "province":
            self.prepare_p3()
        open(stamp, "w").write("ok\n")

    def prepare_p3(self):
        """P3's input: every point entry with its township (the level-2 ancestor of its
        branch's unit), written once with DuckDB so P3 times the ranking alone."""
        import duckdb
        out = os.path.join(self.dir, "p3")
        db = duckdb.connect()
        root = self.root
        for c in sorted(os.listdir(root)):
            os.makedirs(os.path.join(out, c))
            db.execute(f"""
                COPY (
                  WITH RECURSIVE g AS (SELECT * FROM read_parquet('{root}/{c}/grid_units.parquet')),
                  up(unit_id, ancestor_id, level) AS (
                    SELECT unit_id, unit_id, level FROM g
                    UNION ALL
                    SELECT up.unit_id, g.parent_id, g.level - 1 FROM up JOIN g ON g.unit_id = up.ancestor_id
                    WHERE g.parent_id IS NOT NULL)
                  SELECT p.entry_id, p.member_id, coalesce(t.ancestor_id, b.unit_id) AS township_id,
                         p.points
                  FROM read_parquet('{root}/{c}/points.parquet') p
                  JOIN read_parquet('{root}/{c}/members.parquet') m USING (member_id)
                  JOIN read_parquet('{root}/{c}/branches.parquet') b ON b.branch_id = m.branch_id
                  LEFT JOIN up t ON t.unit_id = b.unit_id AND t.level = 2
                ) TO '{out}/{c}/entries.parquet' (FORMAT parquet)""")


# ---------------------------------------------------------------- engines in child processes

WORKER = """
import json, os, sys, time
sys.path.insert(0, {here!r})
job = json.loads(sys.argv[1])
os.environ["POLARS_MAX_THREADS"] = str(job["threads"])
import bench_queries as q
times, out = [], None
for _ in range(job["runs"]):
    t = time.perf_counter()
    out = q.run(job)
    times.append(time.perf_counter() - t)
q.save(job, out)
status = open("/proc/self/status").read()
hwm = [l for l in status.splitlines() if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({{"times": times, "peak_rss_mb": int(hwm) / 1024}}))
"""


def python_engine(job):
    """Times job (see bench_queries.run) in a fresh Python process; returns its report."""
    _, out, _ = child([sys.executable, "-c", WORKER.format(here=HERE), json.dumps(job)])
    return json.loads(out.strip().splitlines()[-1])


def bench_binary(args, argv):
    _, out, _ = child([args.bench, "--threads", str(args.threads), "--runs", str(args.runs), *argv])
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- the phases

class Results:
    def __init__(self):
        self.rows = []      # (phase, engine, seconds, extra, peak_rss_mb)
        self.checks = []    # (phase, what, ok)
        self.notes = []

    def add(self, phase, engine, times, rss, extra=""):
        self.rows.append((phase, engine, statistics.median(times), extra, rss))

    def check(self, phase, what, ok):
        self.checks.append((phase, what, ok))
        log(f"{phase} {'equal' if ok else 'NOT EQUAL'}: {what}")


def p1(args, data, res):
    import pyarrow.parquet as pq
    work = tempfile.mkdtemp(prefix="p1-", dir=data.dir)
    several = len(data.counties) > 1
    queries = {v: p1_common.gridassess_sql(v, data.period, data.year, several)
               for v in p1_common.VIEWS}
    qfile = os.path.join(work, "queries.json")
    json.dump(queries, open(qfile, "w"), ensure_ascii=False)
    tenants = ",".join(data.counties)
    log(f"P1 over {len(data.counties)} counties, period {data.period}, year {data.year}")

    # As a load leaves it: every tenant's metric results computed and kept, then read. The
    # time counts both (each run removes the kept results first).
    kept = bench_binary(args, ["session", "--warehouse", data.warehouse, "--tenants", tenants,
                               "--queries", qfile, "--kept", "--out", os.path.join(work, "kept")])
    compute = statistics.median(kept["refresh"])
    res.add("P1", "gridassess (library: results computed and kept, then read)", kept["times"],
            kept["peak_rss_mb"], f"{compute:.2f} s computing, "
            f"{statistics.median(kept['times']) - compute:.3f} s reading")
    # Without kept results: each view computed by the query that reads it.
    lib = bench_binary(args, ["session", "--warehouse", data.warehouse, "--tenants", tenants,
                              "--queries", qfile, "--out", os.path.join(work, "library")])
    res.add("P1", "gridassess (library, no kept results, views one by one)", lib["times"],
            lib["peak_rss_mb"])
    together = bench_binary(args, ["session", "--warehouse", data.warehouse, "--tenants", tenants,
                                   "--queries", qfile, "--concurrent",
                                   "--out", os.path.join(work, "together")])
    res.add("P1", "gridassess (library, no kept results, views concurrently)", together["times"],
            together["peak_rss_mb"])

    # The CLI as an office scripts it: the results computed (what a load does; here one
    # `tenant refresh` of every county, as many at a time as there are cores), then one `sql`
    # process per view reading them.
    cli_times, read_times, cli_rss, cli_out = [], [], 0, {}
    for _ in range(args.runs):
        total, rss = data.gridassess("tenant", "refresh", *data.counties)[0::2]
        cli_rss = max(cli_rss, rss)
        reading = 0
        for v, sql in queries.items():
            s, out, rss = data.gridassess("sql", "--tenant", tenants, "--format", "csv", sql)
            reading += s
            cli_rss = max(cli_rss, rss)
            cli_out[v] = out
        cli_times.append(total + reading)
        read_times.append(reading)
    res.add("P1", "gridassess (CLI: `tenant refresh` of the counties, then a process per view)",
            cli_times, cli_rss, f"{statistics.median(read_times):.3f} s reading")

    outputs = {}
    for engine in ["duckdb", "polars"]:
        job = {"kind": f"p1_{engine}", "root": data.root, "period": data.period, "year": data.year,
               "threads": args.threads, "runs": args.runs, "out": os.path.join(work, engine)}
        r = python_engine(job)
        res.add("P1", {"duckdb": "DuckDB", "polars": "Polars"}[engine], r["times"], r["peak_rss_mb"])
        outputs[engine] = job["out"]

    import pyarrow as pa
    key = "tenant_id" if len(data.counties) > 1 else None

    def library_rows(folder, v, cols):
        """A view as gridassess-bench wrote it, with tenant_id first even for one county."""
        table = pq.read_table(os.path.join(work, folder, f"{v}.parquet"))
        if key is None:
            table = table.add_column(0, "tenant_id", pa.array([data.counties[0]] * table.num_rows))
        return p1_common.rows_of(table, ["tenant_id", *cols])

    for v, (cols, _) in p1_common.VIEWS.items():
        ours = library_rows("library", v, cols)
        cli_rows = list(csv.reader(cli_out[v].splitlines()))[1:]
        if key is None:
            cli_rows = [[data.counties[0], *r] for r in cli_rows]
        cli_rows = sorted(tuple(p1_common.norm(x) for x in r) for r in cli_rows)
        res.check("P1", f"{v}: CLI = library ({len(ours)} rows)",
                  p1_common.compare(v, "library", ours, "CLI", cli_rows))
        res.check("P1", f"{v}: concurrent = one by one",
                  library_rows("together", v, cols) == ours)
        res.check("P1", f"{v}: kept results = computed on read",
                  library_rows("kept", v, cols) == ours)
        for engine, folder in outputs.items():
            theirs = p1_common.rows_of(pq.read_table(os.path.join(folder, f"{v}.parquet")),
                                       ["county", *cols])
            res.check("P1", f"{v}: {engine} = gridassess",
                      p1_common.compare(v, "gridassess", ours, engine, theirs))
    shutil.rmtree(work, ignore_errors=True)


def same_table(a, b, keys):
    """Two Arrow tables with the same columns hold the same rows (numbers compared as float64)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def canon(t):
        cols = {}
        for name in t.column_names:
            col = t.column(name)
            if pa.types.is_decimal(col.type) or pa.types.is_integer(col.type) \
                    or pa.types.is_floating(col.type):
                col = pc.cast(col, pa.float64())
            elif not pa.types.is_string(col.type):
                col = pc.cast(col, pa.string())
            else:
                col = pc.cast(col, pa.string())
            cols[name] = col
        return pa.table(cols).sort_by([(k, "ascending") for k in keys])
    a, b = canon(a), canon(b.select(a.column_names))
    return a.num_rows == b.num_rows and a.equals(b)


def engine_trio(args, data, res, phase, label, sql, job_extra, keys, root, rows_for_rate=None):
    """Runs one query in gridassess (over Parquet), DuckDB and Polars; checks the results equal."""
    import pyarrow.parquet as pq
    work = tempfile.mkdtemp(prefix=f"{phase}-", dir=data.dir)
    ours = bench_binary(args, ["parquet", "--root", root, "--sql", sql,
                               "--out", os.path.join(work, "gridassess.parquet")])
    extra = lambda t: (f"{rows_for_rate / t / args.threads / 1e6:.0f} M rows/s/core"
                       if rows_for_rate else "")
    res.add(phase, f"gridassess — {label}", ours["times"], ours["peak_rss_mb"],
            extra(statistics.median(ours["times"])))
    want = pq.read_table(os.path.join(work, "gridassess.parquet"))
    for engine in ["duckdb", "polars"]:
        job = {"kind": f"{phase.lower()}_{engine}", "root": root, "sql": sql, "threads": args.threads,
               "runs": args.runs, "out": os.path.join(work, f"{engine}.parquet"), **job_extra}
        r = python_engine(job)
        name = {"duckdb": "DuckDB", "polars": "Polars"}[engine]
        res.add(phase, f"{name} — {label}", r["times"], r["peak_rss_mb"],
                extra(statistics.median(r["times"])))
        res.check(phase, f"{label}: {engine} = gridassess ({want.num_rows} rows)",
                  same_table(want, pq.read_table(job["out"]), keys))
    shutil.rmtree(work, ignore_errors=True)


P2_SQL = """
SELECT a.county, m.branch_id,
       CAST(date_part('year', m.held_on) * 100 + date_part('month', m.held_on) AS BIGINT) AS month,
       count(*) AS expected,
       count(*) FILTER (WHERE a.status IN ('present', 'online')) AS present,
       count(*) FILTER (WHERE a.status = 'excused') AS excused,
       count(*) FILTER (WHERE a.status = 'absent') AS absent
FROM attendance a JOIN meetings m ON m.county = a.county AND m.meeting_id = a.meeting_id
GROUP BY 1, 2, 3"""

P3_SQL = """
SELECT county, township_id, entry_id, points,
       RANK() OVER (PARTITION BY county, township_id ORDER BY points DESC, entry_id) AS rank
FROM entries"""

P3_TOP_SQL = f"SELECT * FROM ({P3_SQL}) ranked WHERE rank <= 3"


def p2(args, data, res):
    import duckdb
    rows = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{data.root}/*/attendance.parquet')").fetchall()[0][0]
    log(f"P2 over {rows:,} attendance rows")
    res.notes.append(f"P2 reads {rows:,} attendance rows joined to their meetings.")
    engine_trio(args, data, res, "P2", "attendance per branch per month", P2_SQL, {},
                ["county", "branch_id", "month"], data.root, rows_for_rate=rows)


def p3(args, data, res):
    import duckdb
    root = os.path.join(data.dir, "p3")
    rows = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{root}/*/entries.parquet')").fetchall()[0][0]
    log(f"P3 over {rows:,} point entries")
    res.notes.append(f"P3 ranks {rows:,} point entries within their townships.")
    engine_trio(args, data, res, "P3", "RANK per township", P3_SQL, {"top": None},
                ["county", "township_id", "entry_id"], root)
    engine_trio(args, data, res, "P3", "top 3 per township", P3_TOP_SQL, {"top": 3},
                ["county", "township_id", "entry_id"], root)


# SPEC §2's Chinese column names, as a county's spreadsheets carry them.
CHINESE_HEADERS = {
    "grid_units": {"unit_id": "单元编码", "parent_id": "上级编码", "level": "网格级别", "name": "名称",
                   "kind": "类型", "leader": "责任人"},
    "branches": {"branch_id": "组织编码", "name": "组织名称", "unit_id": "所在网格", "type": "组织类型",
                 "is_joint": "联合支部", "founded_on": "成立日期", "paired_branch_id": "结对支部"},
    "members": {"member_id": "党员编号", "branch_id": "所在支部", "name": "姓名", "gender": "性别",
                "birth_date": "出生日期", "joined_on": "入党日期", "status": "党员状态",
                "category": "党员类别", "id_number": "身份证号", "phone": "联系电话",
                "party_group": "党小组", "points_exempt": "积分豁免"},
    "meetings": {"meeting_id": "会议编号", "branch_id": "所在支部", "kind": "会议类型", "held_on": "日期",
                 "party_group": "党小组", "theme": "主题"},
    "attendance": {"meeting_id": "会议编号", "member_id": "党员编号", "status": "出勤情况"},
    "scores": {"period": "考核周期", "branch_id": "组织编码", "indicator": "考核指标", "score": "得分",
               "assessor": "考核人"},
    "organizations": {"org_id": "组织编号", "name": "组织名称", "kind": "组织类别", "unit_id": "所在网格",
                      "industry": "行业", "employees": "从业人员", "party_members": "正式党员数",
                      "branch_id": "所属党组织", "instructor": "党建指导员"},
    "points": {"entry_id": "记录编号", "member_id": "党员编号", "month": "月份", "category": "类别",
               "points": "分值", "reason": "事由"},
    "visits": {"visit_id": "走访编号", "unit_id": "网格单元", "member_id": "走访人", "visited_on": "走访日期",
               "households": "走访户数", "issues_raised": "收集问题", "issues_resolved": "办结问题"},
}
STATUS_ZH = {"present": "出席", "online": "线上", "excused": "请假", "absent": "缺席"}


def p4(args, data, res):
    """Ingest of one county as it is handed over, against plain CSV → Parquet conversions."""
    plain = os.path.join(data.dir, "p4-plain")
    messy = os.path.join(data.dir, "p4-messy")
    if not os.path.exists(os.path.join(messy, "ready")):
        shutil.rmtree(plain, ignore_errors=True)
        shutil.rmtree(messy, ignore_errors=True)
        # The plain CSV: the first county's Parquet as UTF-8 CSV with English headers.
        import duckdb
        db = duckdb.connect()
        os.makedirs(plain)
        first = os.path.join(data.root, f"county={data.counties[0]}")
        for f in sorted(os.listdir(first)):
            db.execute(f"COPY (SELECT * FROM read_parquet('{first}/{f}')) TO "
                       f"'{plain}/{f[:-8]}.csv' (HEADER, DELIMITER ',')")
        os.makedirs(messy)
        for f in sorted(os.listdir(plain)):
            table = f[:-4]
            with open(os.path.join(plain, f), encoding="utf-8", newline="") as src:
                lines = list(csv.reader(src))
            header = lines[0]
            zh = CHINESE_HEADERS.get(table, {})
            with open(os.path.join(messy, f), "w", encoding="gbk", newline="") as dst:
                w = csv.writer(dst)
                w.writerow([zh.get(h, h) for h in header])
                status = header.index("status") if table == "attendance" else None
                for row in lines[1:]:
                    if status is not None:
                        row[status] = STATUS_ZH.get(row[status], row[status])
                    w.writerow(row)
        open(os.path.join(messy, "ready"), "w").write("ok\n")
    files = [f for f in os.listdir(plain) if f.endswith(".csv")]
    plain_mb = sum(os.path.getsize(os.path.join(plain, f)) for f in files) / 1e6
    messy_mb = sum(os.path.getsize(os.path.join(messy, f)) for f in files) / 1e6
    rows = sum(sum(1 for _ in open(os.path.join(plain, f), encoding="utf-8")) - 1 for f in files)
    res.notes.append(f"P4 loads {rows:,} rows: {messy_mb:.1f} MB as handed over (GBK, Chinese "
                     f"headers and values) for gridassess, {plain_mb:.1f} MB of plain UTF-8 CSV "
                     "for Polars and DuckDB.")
    env = dict(data.env, GRIDASSESS_WAREHOUSE=os.path.join(data.dir, "p4-warehouse"))

    def ingest(label, folder, mb):
        times, rss = [], 0
        for _ in range(args.runs):
            shutil.rmtree(env["GRIDASSESS_WAREHOUSE"], ignore_errors=True)
            child([data.binary, "init"], env=env)
            child([data.binary, "tenant", "add", "p4", "--name", "基准县"], env=env)
            s, out, r = child([data.binary, "ingest", "--tenant", "p4", "--format", "csv", folder],
                              env=env)
            times.append(s)
            rss = max(rss, r)
            loaded = sum(int(line.split(",")[2]) for line in out.splitlines()[1:]
                         if line.count(",") >= 4)
            res.check("P4", f"{label}: every row loaded ({loaded:,} of {rows:,})", loaded == rows)
        t = statistics.median(times)
        res.add("P4", f"gridassess ingest of {label} (validated, committed)", times, rss,
                f"{mb / t / args.threads:.1f} MB/s/core, {rows / t / args.threads / 1e6:.2f} M rows/s/core")

    ingest("GBK CSV", messy, messy_mb)
    # The same county as other systems hand it over: its Parquet files, and Excel workbooks.
    parquet = os.path.join(data.root, f"county={data.counties[0]}")
    parquet_mb = sum(os.path.getsize(os.path.join(parquet, f)) for f in os.listdir(parquet)) / 1e6
    ingest("Parquet", parquet, parquet_mb)
    xlsx = p4_workbooks(messy, os.path.join(data.dir, "p4-xlsx"))
    xlsx_mb = sum(os.path.getsize(os.path.join(xlsx, f)) for f in os.listdir(xlsx)) / 1e6
    res.notes.append(f"P4 also loads the same rows from the county's Parquet files ({parquet_mb:.1f} MB) "
                     f"and from Excel workbooks ({xlsx_mb:.1f} MB, one per table; attendance in "
                     "two, a sheet holding at most 1,048,576 rows), written once with openpyxl.")
    ingest("xlsx", xlsx, xlsx_mb)
    for engine in ["duckdb", "polars"]:
        job = {"kind": f"p4_{engine}", "root": plain, "threads": args.threads, "runs": args.runs,
               "out": os.path.join(data.dir, f"p4-{engine}")}
        r = python_engine(job)
        t = statistics.median(r["times"])
        res.add("P4", {"duckdb": "DuckDB read_csv → Parquet", "polars": "Polars read_csv → Parquet"}[engine],
                r["times"], r["peak_rss_mb"], f"{plain_mb / t / args.threads:.1f} MB/s/core")


def p4_workbooks(messy, out):
    """The county's files as Excel workbooks, written once (write-only openpyxl) and reused:
    a sheet named after its table with the file's Chinese headers, numbers as numbers."""
    if os.path.exists(os.path.join(out, "ready")):
        return out
    import openpyxl
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    log("writing the P4 workbooks (once)")

    def value(text):
        if text.isdigit() and not text.startswith("0") and len(text) < 15:
            return int(text)
        return text

    sheet_rows = 1_000_000
    for f in sorted(os.listdir(messy)):
        if not f.endswith(".csv"):
            continue
        table = f[:-4]
        with open(os.path.join(messy, f), encoding="gbk", newline="") as src:
            reader = csv.reader(src)
            header = next(reader)
            part, wb, ws, n = 0, None, None, sheet_rows
            for row in reader:
                if n == sheet_rows:
                    if wb is not None:
                        wb.save(os.path.join(out, f"{table}-{part}.xlsx"))
                    part += 1
                    wb = openpyxl.Workbook(write_only=True)
                    ws = wb.create_sheet(table)
                    ws.append(header)
                    n = 0
                ws.append([value(v) for v in row])
                n += 1
            if wb is not None:
                wb.save(os.path.join(out, f"{table}-{part}.xlsx"))
    open(os.path.join(out, "ready"), "w").write("ok\n")
    return out


def p5(args, data, res):
    times, rss = [], 0
    out = os.path.join(data.dir, "p5-report")
    for _ in range(args.runs):
        shutil.rmtree(out, ignore_errors=True)
        s, _, r = data.gridassess("report", "--tenant", data.counties[0], "--period", data.period,
                                  "--out", out)
        times.append(s)
        rss = max(rss, r)
    ok = all(os.path.exists(os.path.join(out, f)) for f in ["report.html", "ranking.xlsx"])
    res.check("P5", "report.html and ranking.xlsx written", ok)
    res.add("P5", f"gridassess report (county {data.counties[0]}, {data.period})", times, rss)


DASHBOARD = ("select unit_name, kind, orgs, covered, coverage_rate from coverage "
             "where level = 2 order by unit_id, kind")


def p6(args, data, res):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    user, password = "bench", "bench-password"
    child([data.binary, "user", "add", user, "--tenant", data.counties[0], "--role", "admin"],
          env=data.env, stdin=password + "\n") if not _has_user(data, user) else None
    server = subprocess.Popen([data.binary, "serve", "--listen", f"127.0.0.1:{port}"], env=data.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        for label, query in [("coverage dashboard", DASHBOARD),
                             ("red-flag dashboard", f"select group_name, rank, branch_name, total, "
                              f"red_flag, penalty from red_flag_ranking where period = "
                              f"'{data.period}' order by group_id, rank, branch_id")]:
            _, out, _ = child([sys.executable, os.path.join(HERE, "server_latency.py"), "--port",
                               str(port), "--user", user, "--password", password, "--db",
                               data.counties[0], "--clients", "20", "--rounds", str(5 * args.runs),
                               "--query", query])
            r = json.loads(out.strip().splitlines()[-1])
            res.check("P6", f"{label}: every client got the same answer", True)
            res.rows.append(("P6", f"gridassess serve — {label}, 20 clients", r["p50_ms"] / 1000,
                             f"p95 {r['p95_ms']:.0f} ms, max {r['max_ms']:.0f} ms", None))
    finally:
        server.terminate()
        server.wait(timeout=30)


# What a county office runs after its bimonthly load (SPEC §6), each a process of its own.
METRIC_COMMANDS = [
    ["assess", "--period", "{period}"],
    ["assess", "--year", "{year}"],
    ["coverage"],
    ["coverage", "--findings"],
    ["attendance", "--year", "{year}"],
    ["attendance", "--compliance", "--year", "{year}"],
    ["attendance", "--alerts", "--year", "{year}"],
    ["points", "--year", "{year}"],
    ["grid"],
]


def p7(args, data, res):
    """Every metric command of one county after its load, process start included: the goal
    is a quick answer (≤ 0.1 s) from the results the load kept."""
    county = data.counties[0]
    data.gridassess("tenant", "refresh", county)
    for command in METRIC_COMMANDS:
        argv = [a.format(period=data.period, year=data.year) for a in command]
        times, rss = [], 0
        for _ in range(max(args.runs, 5)):
            s, out, r = data.gridassess(*argv, "--tenant", county, "--format", "csv")
            times.append(s)
            rss = max(rss, r)
        res.check("P7", f"{' '.join(argv)}: answered ({len(out.splitlines()) - 1} rows)",
                  len(out.splitlines()) > 1)
        res.add("P7", f"gridassess {' '.join(argv)}", times, rss)


def free_ports():
    """A local port nothing listens on, with the next one free too (an executor takes both)."""
    import socket
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue


@contextlib.contextmanager
def ballista_cluster(data, executors, slots):
    """A scheduler and `executors` executors (`slots` tasks each) of this build, on local
    ports; yields the cluster's address, the processes, and a function that gives the most bytes
    of shuffle files the executors held at once so far (sampled every 0.2 s: a job's files are
    removed when it ends)."""
    import threading
    import socket
    logs = tempfile.mkdtemp(prefix="cluster-", dir=data.dir)
    env = dict(data.env, GRIDASSESS_LOG="warn,ballista_executor=info")
    procs = []

    def spawn(name, argv):
        log_path = os.path.join(logs, f"{name}.log")
        # Each process's working folder (an executor's shuffle files) under a folder of its own.
        tmp = os.path.join(logs, f"{name}-tmp")
        os.makedirs(tmp)
        with open(log_path, "w") as f:
            p = subprocess.Popen([data.binary, *argv], env=dict(env, TMPDIR=tmp),
                                 stdout=subprocess.DEVNULL, stderr=f)
        procs.append((p, log_path))
        return p, log_path

    def wait(what, done, p, log_path):
        deadline = time.time() + 60
        while not done():
            if p.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the cluster's {what} did not start:\n"
                                 f"{open(log_path).read()[-3000:]}")
            time.sleep(0.1)

    def listening(port):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        port = free_ports()
        p, path = spawn("scheduler", ["cluster", "scheduler", "--listen", f"127.0.0.1:{port}"])
        wait("scheduler", lambda: listening(port), p, path)
        for i in range(executors):
            p, path = spawn(f"executor-{i}", [
                "cluster", "executor", "--scheduler", f"127.0.0.1:{port}",
                "--listen", f"127.0.0.1:{free_ports()}", "--slots", str(slots)])
            wait("executor", lambda: "Executor registration succeed" in open(path).read(),
                 p, path)
        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.2):
                total = 0
                for folder, _, files in os.walk(logs):
                    for name in files:
                        if not name.endswith(".log"):
                            with contextlib.suppress(OSError):
                                total += os.path.getsize(os.path.join(folder, name))
                peak[0] = max(peak[0], total)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield f"df://127.0.0.1:{port}", [p for p, _ in procs], lambda: peak[0]
        finally:
            stop.set()
            sampler.join()
    finally:
        for p, _ in procs:
            p.kill()
            p.wait()
        shutil.rmtree(logs, ignore_errors=True)


def p8(args, data, res):
    """P2's query in-process and on a Ballista cluster of this machine; results checked equal."""
    import pyarrow.parquet as pq
    work = tempfile.mkdtemp(prefix="P8-", dir=data.dir)
    label = "attendance per branch per month"
    keys = ["county", "branch_id", "month"]
    here = os.path.join(work, "in-process.parquet")
    r = bench_binary(args, ["parquet", "--root", data.root, "--sql", P2_SQL, "--out", here])
    res.add("P8", f"gridassess in-process — {label}", r["times"], r["peak_rss_mb"])
    base = statistics.median(r["times"])
    want = pq.read_table(here)
    for executors in (1, 2):
        slots = max(1, args.threads // executors)
        out = os.path.join(work, f"cluster-{executors}.parquet")
        with ballista_cluster(data, executors, slots) as (address, procs, shuffle_bytes):
            r = bench_binary(args, ["parquet", "--root", data.root, "--sql", P2_SQL,
                                    "--out", out, "--cluster", address])
            rss = r["peak_rss_mb"] + sum(peak_rss_mb(p.pid) or 0 for p in procs)
            shuffled = shuffle_bytes()
        res.notes.append(f"P8 on {executors} executor(s): at most {shuffled / 1e6:.0f} MB of "
                         f"shuffle files on disk at once")
        t = statistics.median(r["times"])
        res.add("P8", f"gridassess on {executors} executor{'s' if executors > 1 else ''} × "
                      f"{slots} slot{'s' if slots > 1 else ''} — {label}", r["times"], rss,
                f"{t / base:.2f}× in-process")
        res.check("P8", f"{label}: {executors} executor(s) = in-process ({want.num_rows} rows)",
                  same_table(want, pq.read_table(out), keys))
    shutil.rmtree(work, ignore_errors=True)


def _has_user(data, user):
    _, out, _ = data.gridassess("user", "list")
    return any(line.split()[:1] == [user] or f" {user} " in line for line in out.splitlines())


# ---------------------------------------------------------------- the table

def ratios(rows):
    """Per phase, each row's time over DuckDB's and Polars' (of the same task)."""
    out = []
    for phase, engine, t, extra, rss in rows:
        task = engine.split(" — ", 1)[1] if " — " in engine else None
        def ref(name):
            for p2_, e2, t2, _, _ in rows:
                if p2_ == phase and e2.startswith(name) and (task is None or e2.endswith(task)):
                    return t2
            return None
        d, p = ref("DuckDB"), ref("Polars")
        out.append((phase, engine, t, extra, rss,
                    f"{t / d:.2f}×" if d else "", f"{t / p:.2f}×" if p else ""))
    return out


def render(args, data, res, started):
    lines = [f"# gridassess benchmark — {args.scale} scale, {datetime.date.today()}", "",
             f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} threads for every "
             f"engine, {args.profile} build, median of {args.runs} warm runs; period "
             f"{data.period}, year {data.year}, {len(data.counties)} "
             f"count{'y' if len(data.counties) == 1 else 'ies'}.", ""]
    if not args.check:
        lines += ["| phase | engine | seconds | vs DuckDB | vs Polars | rate | peak RSS MB |",
                  "|---|---|---:|---:|---:|---|---:|"]
        for phase, engine, t, extra, rss, vd, vp in ratios(res.rows):
            rss_s = f"{rss:.0f}" if rss else ""
            lines.append(f"| {phase} | {engine} | {t:.3f} | {vd} | {vp} | {extra} | {rss_s} |")
        lines.append("")
    lines += [f"- {n}" for n in res.notes]
    bad = [c for c in res.checks if not c[2]]
    lines += ["", f"Results checked equal: {len(res.checks) - len(bad)} of {len(res.checks)}."]
    lines += [f"- NOT EQUAL: {c[0]} {c[1]}" for c in bad]
    lines += ["", f"Total bench time {time.time() - started:.0f} s."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=["sample", "county", "city", "province"], default="city")
    ap.add_argument("--phases", help="e.g. P1,P3 (default: all; at province scale P2,P4,P5,P6)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", choices=["release", "dev"], default="release")
    ap.add_argument("--work", default=os.path.join(HERE, "work"), help="generated data, reused")
    ap.add_argument("--check", action="store_true",
                    help="only check that every engine's results are equal; no timing table")
    ap.add_argument("--binaries", metavar="DIR",
                    help="use the gridassess and gridassess-bench binaries in DIR; no build")
    args = ap.parse_args()
    started = time.time()
    ensure_modules()
    if args.binaries:
        args.binary = os.path.join(args.binaries, "gridassess")
        args.bench = os.path.join(args.binaries, "gridassess-bench")
    else:
        args.binary, args.bench = build(args.profile)
    data = Data(args, args.binary)
    res = Results()
    phases = ([p.strip().upper() for p in args.phases.split(",")] if args.phases
              else DEFAULT_PHASES.get(args.scale, PHASES))
    for phase in PHASES:
        if phase in phases:
            log(f"{phase}")
            globals()[phase.lower()](args, data, res)
    text = render(args, data, res, started)
    print(text)
    if not args.check:
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        path = os.path.join(HERE, "results", f"{datetime.date.today()}-{args.scale}.md")
        open(path, "w").write(text)
        log(f"wrote {os.path.relpath(path, REPO)}")
    sys.exit(1 if any(not ok for _, _, ok in res.checks) else 0)


if __name__ == "__main__":
    main()
