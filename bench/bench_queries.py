"""The DuckDB and Polars side of bench/run.py's phases: `run(job)` does the timed work and
returns its result, `save(job, result)` writes it for the equality check (untimed).

A job is a dict: `kind` (p1_duckdb, p1_polars, p2_duckdb, …), `root` (the input folder),
`threads`, `out`, and what the phase needs (`period`, `year`, `sql`, `top`). The caller sets
POLARS_MAX_THREADS before this module imports Polars.
"""

import os


def run(job):
    return globals()[job["kind"]](job)


def save(job, result):
    import pyarrow as pa
    import pyarrow.parquet as pq
    if result is None:
        return
    if isinstance(result, dict):
        os.makedirs(job["out"], exist_ok=True)
        for name, table in result.items():
            pq.write_table(table, os.path.join(job["out"], f"{name}.parquet"))
    else:
        pq.write_table(result if isinstance(result, pa.Table) else result.to_arrow(), job["out"])


def _duckdb(job):
    import duckdb
    db = duckdb.connect()
    db.execute(f"SET threads = {int(job['threads'])}")
    # Its progress bar writes to stdout, where the driver reads the report.
    db.execute("SET enable_progress_bar = false")
    return db


def _views(db, root, tables):
    for t in tables:
        db.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{root}/*/{t}.parquet', "
                   "hive_partitioning = true)")


def p1_duckdb(job):
    import p1_duckdb
    return p1_duckdb.run(job["root"], job["period"], job["year"], job["threads"])


def p1_polars(job):
    import p1_polars
    return p1_polars.run(job["root"], job["period"], job["year"], job["threads"])


def p2_duckdb(job):
    db = _duckdb(job)
    _views(db, job["root"], ["attendance", "meetings"])
    return db.sql(job["sql"]).to_arrow_table()


def p2_polars(job):
    import polars as pl
    scan = lambda t: pl.scan_parquet(f"{job['root']}/*/{t}.parquet", hive_partitioning=True)
    meetings = scan("meetings").select(
        "county", "meeting_id", "branch_id",
        month=(pl.col("held_on").dt.year() * 100 + pl.col("held_on").dt.month()).cast(pl.Int64))
    status = pl.col("status")
    return (scan("attendance").join(meetings, on=["county", "meeting_id"])
            .group_by("county", "branch_id", "month")
            .agg(expected=pl.len(), present=status.is_in(["present", "online"]).sum(),
                 excused=(status == "excused").sum(), absent=(status == "absent").sum())
            .collect())


def p3_duckdb(job):
    db = _duckdb(job)
    _views(db, job["root"], ["entries"])
    return db.sql(job["sql"]).to_arrow_table()


def p3_polars(job):
    import polars as pl
    keys = ["county", "township_id"]
    ordered = (pl.scan_parquet(f"{job['root']}/*/entries.parquet", hive_partitioning=True)
               .select("county", "township_id", "entry_id", "points")
               .sort([*keys, "points", "entry_id"], descending=[False, False, True, False]))
    if job["top"]:
        ordered = ordered.group_by(keys, maintain_order=True).head(job["top"])
    # Ordered by points then entry_id, every rank is distinct: RANK is the position in the group.
    return ordered.with_columns(rank=(pl.int_range(pl.len()).over(keys) + 1).cast(pl.Int64)).collect()


def p4_duckdb(job):
    db = _duckdb(job)
    os.makedirs(job["out"], exist_ok=True)
    for f in sorted(os.listdir(job["root"])):
        if f.endswith(".csv"):
            db.execute(f"COPY (SELECT * FROM read_csv('{job['root']}/{f}')) TO "
                       f"'{job['out']}/{f[:-4]}.parquet' (FORMAT parquet)")


def p4_polars(job):
    import polars as pl
    os.makedirs(job["out"], exist_ok=True)
    for f in sorted(os.listdir(job["root"])):
        if f.endswith(".csv"):
            pl.read_csv(os.path.join(job["root"], f)).write_parquet(
                os.path.join(job["out"], f[:-4] + ".parquet"))
