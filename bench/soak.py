"""A soak run of `gridassess serve`: 20 clients of every role for 30 minutes, hostile ones among
them, while the server's memory, latency and life are sampled.

    python3 bench/soak.py [--minutes 30] [--scale county] [--binary PATH] [--work DIR]

It generates two counties (seeds 7 and 8), loads them as tenants c1 and c2 with the limits a
county office would set (3 s, 256 MB, 100,000 rows), adds users, starts the server and runs:

- honest clients (analysts, viewers and admins of both counties) that run the dashboard
  queries a county office runs, with a pause between them, and check every answer equals the
  first answer of that query;
- a CPU-hungry and a memory-hungry analyst of c1 (joins that run into the time limit, queries
  that run into the memory limit or the result cap), which take c1's two places in line;
- a client that connects, runs one query and leaves, over and over, with a wrong password now
  and then;
- a client that announces a huge message, before and after login;
- a client that prepares statements with parameters (the extended protocol).

Every 30 s it records the server's RSS and CPU, and the honest queries' p50/p95 per county.
At the end it prints a Markdown table and a verdict: RSS flat (the last third's mean within 15 %
of the middle third's), c2's p95 stable (no window after the first, the warm-up in which the
metric views are computed, past 3x the median window), 0 crashes, no wrong answer, no error
but "busy", "out of time" or "out of the county's memory", and none of those either in c2,
the county without a hungry user. A crash is counted, and the server restarted. Needs psycopg 3
(`tests/run.sh` installs it into the test environment).
"""

import argparse
import concurrent.futures
import json
import os
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

HONEST = [
    "select * from red_flag_ranking where period = (select max(period) from red_flag_ranking) "
    "order by group_id, rank, branch_id",
    "select * from red_flag_year where year = (select max(year) from red_flag_year) "
    "order by group_id, branch_id limit 500",
    "select kind, unit_id, unit_name, orgs, covered, coverage_rate from coverage "
    "where level = 2 order by unit_id, kind",
    "select finding, count(*) from coverage_findings group by finding order by finding",
    "select month, unit_id, name, meetings, expected, present, rate from "
    "attendance_monthly_by_unit where level = 2 order by month desc, unit_id limit 300",
    "select quarter, count(*) filter (where compliant) as ok, count(*) as branches "
    "from meeting_compliance group by quarter order by quarter",
    "select year, count(*) as members, sum(case when admonish then 1 else 0 end) as admonish "
    "from attendance_alerts group by year order by year",
    "select grade, count(*) from member_points where year = (select max(year) from "
    "member_points) group by grade order by grade",
    "select unit_id, unit_name, visits, issues_raised, issues_resolved, resolution_rate "
    "from grid_visits where level = 3 order by unit_id limit 300",
]
# A viewer reads the branch- and unit-level views, not the member-level ones (alerts, points).
VIEWER = HONEST[:6] + HONEST[8:]
ADMIN = HONEST + [
    "select count(*), max(ms) from audit_queries",
    "select event, count(*) from audit_logins group by event order by event",
    "select * from audit_loads order by 1",
]
ROWS = "select 1 as k, v from unnest(range(300000)) as t(v)"
CPU_HUNGRY = [
    f"select count(*) from ({ROWS}) a join ({ROWS}) b on a.k = b.k",
    f"select count(*) from ({ROWS}) a, ({ROWS}) b where a.v + b.v < 0",
    "select count(distinct a.member_id) from attendance a join attendance b "
    "on a.status = b.status",
]
MEMORY_HUNGRY = [
    "select member_id, array_agg(meeting_id order by meeting_id) as m from attendance "
    "group by member_id order by m desc",
    "select a.meeting_id, count(*) from attendance a join attendance b "
    "on a.meeting_id = b.meeting_id group by 1 order by 2 desc",
    "select repeat(name, 1000) from members",
    "select * from attendance order by member_id, meeting_id",
]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def run(binary, env, *argv, stdin=None):
    p = subprocess.run([binary, *argv], env=env, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"gridassess {' '.join(argv)} failed:\n{p.stderr[-3000:]}")
    return p.stdout


def prepare(args, binary):
    """The warehouse with two counties and the users; reused when already there."""
    work = os.path.join(args.work, args.scale)
    wh = os.path.join(work, "warehouse")
    env = dict(os.environ, GRIDASSESS_WAREHOUSE=wh)
    if os.path.exists(os.path.join(work, "ready")):
        log(f"reusing {work}")
        return wh, env
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    run(binary, env, "init")
    for tenant, seed in (("c1", "7"), ("c2", "8")):
        files = os.path.join(work, f"files-{tenant}")
        log(f"generating and loading {tenant} ({args.scale}, seed {seed})")
        run(binary, env, "generate", "--scale", args.scale, "--seed", seed, "--out", files)
        run(binary, env, "tenant", "add", tenant, "--name", f"县{tenant}")
        run(binary, env, "tenant", "limits", tenant, "--timeout-seconds", "3", "--memory-mb",
            "256", "--max-rows", "100000")
        run(binary, env, "ingest", "--tenant", tenant, files)
        for role in ("admin", "analyst", "viewer"):
            user = f"{tenant}_{role}"
            run(binary, env, "user", "add", user, "--tenant", tenant, "--role", role,
                stdin=f"pw-{user}\n")
        # The hungry clients log in as their own users, so their per-user connection cap
        # and any lockout stay theirs.
        for user in (f"{tenant}_hungry", f"{tenant}_churn"):
            run(binary, env, "user", "add", user, "--tenant", tenant, "--role", "analyst",
                stdin=f"pw-{user}\n")
    open(os.path.join(work, "ready"), "w").write("ok\n")
    return wh, env


class Server:
    def __init__(self, binary, env, port, log_path):
        # The server's own log: warnings, and each time the allocator hands memory back.
        self.binary, self.port = binary, port
        self.env = dict(env, GRIDASSESS_LOG=env.get("GRIDASSESS_LOG", "warn,allocator=debug"))
        self.log = open(log_path, "a")
        self.proc = None
        self.crashes = 0
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}"], env=self.env,
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"the server did not start: {line!r}")

    def check(self):
        """Counts a crash and restarts the server if it is gone."""
        if self.proc.poll() is not None:
            self.crashes += 1
            log(f"the server exited ({self.proc.returncode}); restarting")
            self.start()

    def rss_mb(self):
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def cpu_seconds(self):
        try:
            fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0


class Tally:
    """What every client saw, in 30-second windows."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {}  # (window, tenant) -> [seconds]
        self.counts = {}  # (window, what) -> n
        self.wrong = []  # honest queries refused or answered differently
        self.first = {}  # sql, tenant, role -> the first answer

    def add(self, window, what, n=1):
        with self.lock:
            self.counts[(window, what)] = self.counts.get((window, what), 0) + n

    def honest(self, window, tenant, seconds):
        with self.lock:
            self.latencies.setdefault((window, tenant), []).append(seconds)


def connect(port, user, db, password=None):
    return psycopg.connect(host="127.0.0.1", port=port, user=user, dbname=db,
                           password=password or f"pw-{user}", autocommit=True,
                           connect_timeout=30)


def refused(tally, w, tenant, user, e):
    """An honest query refused: told to wait (its county's line was full, it ran out of time
    behind the hungry ones, or their memory filled the county's pool) is counted per county;
    in c2, which has no hungry user, and for anything else, it is a failure."""
    text = str(e).strip()
    # The three ways a county's own hungry colleague can crowd an honest query out: both
    # places in line held, the time limit spent waiting, the county's shared memory pool full.
    if "queries at once" in text or "time limit" in text or "county's limit (memory_mb" in text:
        tally.add(w, f"honest {tenant} refused: busy, out of time or memory")
        if tenant == "c2":
            tally.wrong.append(f"{user} (county without a hungry user): {text[:160]}")
    else:
        tally.add(w, f"honest {tenant} failed")
        tally.wrong.append(f"{user}: {text[:160]}")


def honest_client(args, tally, stop, window, tenant, role, queries, seed):
    rng = random.Random(seed)
    user = f"{tenant}_{role}"
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = connect(args.port, user, tenant)
            sql = rng.choice(queries)
            t = time.perf_counter()
            rows = conn.execute(sql).fetchall()
            took = time.perf_counter() - t
            tally.honest(window(), tenant, took)
            tally.add(window(), "honest ok")
            key = (sql, tenant, role)
            # The audit tables grow as the run goes; every other answer must not change.
            if "audit_" not in sql:
                with tally.lock:
                    expected = tally.first.setdefault(key, rows)
                if rows != expected:
                    tally.wrong.append(f"{user}: a different answer to {sql[:60]}")
        except psycopg.Error as e:
            refused(tally, window(), tenant, user, e)
            conn = None
        stop.wait(rng.uniform(0.2, 1.0))


def hungry_client(args, tally, stop, window, tenant, kind, queries, seed):
    rng = random.Random(seed)
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = connect(args.port, f"{tenant}_hungry", tenant)
            conn.execute(rng.choice(queries)).fetchall()
            tally.add(window(), f"{kind} answered")
        except psycopg.Error as e:
            text = str(e)
            reason = ("time limit" if "time limit" in text else
                      "memory" if "memory" in text.lower() or "Resources" in text else
                      "too large" if "too large" in text or "result" in text else
                      "other: " + text.strip().splitlines()[0][:80])
            tally.add(window(), f"{kind} refused ({reason})")
        stop.wait(0.05)


def churn_client(args, tally, stop, window, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        wrong = rng.random() < 0.05
        try:
            with connect(args.port, "c2_churn", "c2",
                         password="not-it" if wrong else None) as c:
                c.execute("select count(*) from branches").fetchone()
            tally.add(window(), "churn ok")
        except psycopg.Error as e:
            if wrong:
                tally.add(window(), "churn wrong password")
            else:
                refused(tally, window(), "c2", "c2_churn", e)
        stop.wait(0.1)


def startup(user, db):
    params = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                      for k, v in (("user", user), ("database", db))) + b"\0"
    body = struct.pack("!i", 196608) + params
    return struct.pack("!i", len(body) + 4) + body


def huge_message_client(args, tally, stop, window, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        sent = 0
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=10) as s:
                s.sendall(startup("c2_hungry", "c2"))
                s.recv(64)
                s.sendall(b"Q" + struct.pack("!i", rng.randint(100, 900) * 1024 * 1024))
                chunk = b"x" * 65536
                while sent < 32 * 1024 * 1024:
                    s.sendall(chunk)
                    sent += len(chunk)
            tally.add(window(), "huge message taken (bad)")
        except OSError:
            tally.add(window(), "huge message refused")
        stop.wait(2.0)


def prepared_client(args, tally, stop, window, seed):
    rng = random.Random(seed)
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = connect(args.port, "c2_analyst", "c2")
            level = rng.choice([1, 2, 3])
            t = time.perf_counter()
            conn.execute("select unit_id, visits from grid_visits where level = %s "
                         "order by unit_id", (level,), prepare=True).fetchall()
            tally.honest(window(), "c2", time.perf_counter() - t)
            tally.add(window(), "prepared ok")
        except psycopg.Error as e:
            refused(tally, window(), "c2", "c2_analyst (prepared)", e)
            conn = None
        stop.wait(rng.uniform(0.2, 1.0))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] * 1000 if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--scale", choices=["sample", "county"], default="county")
    ap.add_argument("--binary", help="gridassess to run (default: the release build)")
    ap.add_argument("--work", default=os.path.join(HERE, "work", "soak"))
    ap.add_argument("--port", type=int, default=54329)
    ap.add_argument("--json", help="also write every window as JSON lines here")
    ap.add_argument("--only", help="run only these kinds of client, e.g. honest,churn (of "
                    "honest, cpu, memory, churn, huge, prepared): to find which one a finding "
                    "comes from")
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = args.binary or os.path.join(target, "release", "gridassess")
    if not os.path.exists(binary):
        raise SystemExit(f"{binary} is missing: cargo build --release, or pass --binary")
    wh, env = prepare(args, binary)
    server = Server(binary, env, args.port, os.path.join(args.work, "server.log"))
    log(f"the server's log: {os.path.join(args.work, 'server.log')}")
    tally = Tally()
    stop = threading.Event()
    began = time.monotonic()
    window = lambda: int((time.monotonic() - began) // 30)

    clients = []
    n = 0
    for tenant in ("c1", "c2"):
        for role, queries, count in (("analyst", HONEST, 4), ("viewer", VIEWER, 2),
                                     ("admin", ADMIN, 1)):
            for _ in range(count):
                n += 1
                clients.append((honest_client, (tenant, role, queries, n)))
    # 14 honest so far; 6 more: a CPU-hungry and a memory-hungry analyst in c1 (they take its
    # two places in line: c1's honest clients wait, c2's must not), a churner, a huge-message
    # sender, and two prepared-statement clients in c2.
    clients += [(hungry_client, ("c1", "cpu", CPU_HUNGRY, 101)),
                (hungry_client, ("c1", "memory", MEMORY_HUNGRY, 102)),
                (churn_client, (103,)),
                (huge_message_client, (104,)),
                (prepared_client, (105,)),
                (prepared_client, (106,))]
    kind = {honest_client: "honest", churn_client: "churn", huge_message_client: "huge",
            prepared_client: "prepared"}
    if args.only:
        wanted = set(args.only.split(","))
        clients = [(f, a) for f, a in clients
                   if kind.get(f, a[1] if f is hungry_client else None) in wanted]
    log(f"{len(clients)} clients for {args.minutes} minutes against {binary}")
    pool = concurrent.futures.ThreadPoolExecutor(len(clients))
    futures = [pool.submit(f, args, tally, stop, window, *a) for f, a in clients]

    samples = []
    cpu_before, t_before = server.cpu_seconds(), time.monotonic()
    end = began + args.minutes * 60
    while time.monotonic() < end:
        time.sleep(min(30, max(0.1, end - time.monotonic())))
        server.check()
        now, cpu = time.monotonic(), server.cpu_seconds()
        samples.append({"minute": round((now - began) / 60, 1), "rss_mb": round(server.rss_mb()),
                        "cpu_cores": round((cpu - cpu_before) / (now - t_before), 2)})
        cpu_before, t_before = cpu, now
        log(json.dumps(samples[-1]))
    stop.set()
    for f in futures:
        f.result()
    server.check()
    server.proc.terminate()
    server.proc.wait()

    windows = sorted({w for (w, _) in tally.latencies})
    lines = ["| minute | RSS MB | CPU cores | honest queries | p50 c1 ms | p95 c1 ms | p50 c2 ms "
             "| p95 c2 ms |", "|---|---|---|---|---|---|---|---|"]
    p95s = []
    for i, s in enumerate(samples):
        w = i
        c1, c2 = tally.latencies.get((w, "c1"), []), tally.latencies.get((w, "c2"), [])
        p95s.append(pct(c2, 0.95))
        lines.append(f"| {s['minute']} | {s['rss_mb']} | {s['cpu_cores']} | {len(c1) + len(c2)} "
                     f"| {pct(c1, .5):.0f} | {pct(c1, .95):.0f} | {pct(c2, .5):.0f} "
                     f"| {pct(c2, .95):.0f} |")
        if args.json:
            with open(args.json, "a") as out:
                out.write(json.dumps({**s, "p95_c1_ms": pct(c1, .95),
                                      "p95_c2_ms": pct(c2, .95)}) + "\n")
    print("\n".join(lines))
    totals = {}
    for (_, what), n in tally.counts.items():
        totals[what] = totals.get(what, 0) + n
    print("\n| what | count |\n|---|---|")
    for what in sorted(totals):
        print(f"| {what} | {totals[what]} |")

    third = max(1, len(samples) // 3)
    middle = statistics.mean(s["rss_mb"] for s in samples[third:2 * third] or samples)
    last = statistics.mean(s["rss_mb"] for s in samples[-third:])
    growth = (last - middle) / middle if middle else 0
    # The first window is the warm-up: each county's metric views are computed on their first
    # read. Stability is judged after it; its p95 is printed apart, not hidden.
    first_p95 = p95s[0] if p95s else float("nan")
    valid = [p for p in p95s[1:] if p == p]
    median_p95 = statistics.median(valid) if valid else float("nan")
    worst = max(valid) if valid else float("nan")
    verdict = {
        "rss_flat": abs(growth) <= 0.15,
        "p95_stable": bool(valid) and worst <= 3 * median_p95,
        "crashes": server.crashes,
        "failures": len(tally.wrong),
        "huge_messages_taken": totals.get("huge message taken (bad)", 0),
    }
    print(f"\nRSS: middle third {middle:.0f} MB, last third {last:.0f} MB ({growth:+.1%}); "
          f"c2's p95 per window after the first ({first_p95:.0f} ms, warm-up): "
          f"median {median_p95:.0f} ms, worst {worst:.0f} ms; "
          f"crashes {server.crashes}; failures: {len(tally.wrong)}")
    for w in tally.wrong[:10]:
        print("  ", w)
    print(json.dumps(verdict))
    ok = (verdict["rss_flat"] and verdict["p95_stable"] and server.crashes == 0
          and not tally.wrong and not verdict["huge_messages_taken"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
