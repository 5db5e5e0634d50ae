#!/usr/bin/env python3
"""Ingest throughput: gridassess (read, clean, validate, commit) against Polars' plain
CSV -> Parquet on the same files, in one run.

    python3 bench/ingest_throughput.py [--members 45000] [--binary target/release/gridassess]

It writes a county-sized set of CSVs (members, meetings, attendance — attendance is by far the
largest table), then times, best of --runs:
  * gridassess ingest into a fresh warehouse (every row validated, keys and references checked,
    committed to Delta tables);
  * Polars: read_csv + write_parquet for each file, no validation (installs polars if needed).
It prints MB/s for both and the ratio. Use a release build for numbers worth quoting.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time


def ensure(module):
    try:
        return __import__(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", module])
        return __import__(module)


def write_county(out, members, seed=7):
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    townships, villages_per = 24, 10
    with open(os.path.join(out, "grid_units.csv"), "w", encoding="utf-8") as f:
        f.write("unit_id,parent_id,level,name\nC,,0,县\n")
        for d in range(5):
            f.write(f"D{d},C,1,片区{d}\n")
        for t in range(townships):
            f.write(f"T{t},D{t % 5},2,乡镇{t}\n")
            for v in range(villages_per):
                f.write(f"V{t}-{v},T{t},3,村{t}-{v}\n")
    branches = townships * villages_per
    with open(os.path.join(out, "branches.csv"), "w", encoding="utf-8") as f:
        f.write("branch_id,name,unit_id,type\n")
        for b in range(branches):
            f.write(f"B{b},村党支部{b},V{b // villages_per}-{b % villages_per},农村\n")
    with open(os.path.join(out, "members.csv"), "w", encoding="utf-8") as f:
        f.write("member_id,branch_id,name,gender,birth_date,status,party_group\n")
        for m in range(members):
            f.write(f"M{m},B{m % branches},党员{m},{'男' if m % 3 else '女'},"
                    f"{1950 + m % 50}/{m % 12 + 1}/{m % 28 + 1},正式,第{m % 3 + 1}党小组\n")
    meetings = branches * 12 * 4
    with open(os.path.join(out, "meetings.csv"), "w", encoding="utf-8") as f:
        f.write("meeting_id,branch_id,kind,held_on\n")
        for j in range(meetings):
            b = j % branches
            month = (j // branches) % 12 + 1
            kind = ["支委会", "党小组会", "党员大会", "党课"][(j // (branches * 12)) % 4]
            f.write(f"MT{j},B{b},{kind},2024-{month:02d}-{rnd.randint(1, 28):02d}\n")
    per_branch = members // branches
    statuses = ["出席"] * 8 + ["缺席", "请假", "线上"]
    with open(os.path.join(out, "attendance.csv"), "w", encoding="utf-8") as f:
        f.write("meeting_id,member_id,status\n")
        for j in range(meetings):
            b = j % branches
            for k in range(0, per_branch, 3 if j % 4 == 1 else 1):
                f.write(f"MT{j},M{b + k * branches},{rnd.choice(statuses)}\n")


def best(runs, fn):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=45000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "gridassess"))
    args = ap.parse_args()
    pl = ensure("polars")

    work = tempfile.mkdtemp(prefix="gridassess-bench-")
    data = os.path.join(work, "county")
    write_county(data, args.members)
    files = sorted(os.listdir(data))
    size = sum(os.path.getsize(os.path.join(data, f)) for f in files)
    rows = {f: sum(1 for _ in open(os.path.join(data, f), encoding="utf-8")) - 1 for f in files}

    def gridassess():
        wh = os.path.join(work, "wh")
        shutil.rmtree(wh, ignore_errors=True)
        env = dict(os.environ, GRIDASSESS_WAREHOUSE=wh)
        subprocess.run([args.binary, "init"], env=env, check=True, capture_output=True)
        subprocess.run([args.binary, "tenant", "add", "b", "--name", "bench"], env=env, check=True,
                       capture_output=True)
        subprocess.run([args.binary, "ingest", "--tenant", "b", "--format", "csv", data], env=env,
                       check=True, capture_output=True)

    def polars():
        out = os.path.join(work, "pq")
        os.makedirs(out, exist_ok=True)
        for f in files:
            pl.read_csv(os.path.join(data, f)).write_parquet(os.path.join(out, f + ".parquet"))

    os.environ.setdefault("POLARS_MAX_THREADS", "2")
    t_g = best(args.runs, gridassess)
    t_p = best(args.runs, polars)
    mb = size / 1e6
    print(f"input: {mb:.1f} MB, rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    print(f"| engine | seconds | MB/s | MB/s/core |")
    print(f"|---|---|---|---|")
    print(f"| gridassess ingest (validated, committed) | {t_g:.2f} | {mb / t_g:.1f} | {mb / t_g / 2:.1f} |")
    print(f"| Polars read_csv → write_parquet | {t_p:.2f} | {mb / t_p:.1f} | {mb / t_p / 2:.1f} |")
    print(f"gridassess / Polars time ratio: {t_g / t_p:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
