"""Talks to a running `gridassess serve` the way county tools do (psycopg 3, like Python
notebooks, Superset and FineBI drivers) and checks what SPEC §5 promises. Prints one line per
check: `ok NAME detail` or `FAIL NAME detail`; exits 1 if any failed.

    python3 clients.py PORT
Users (made by the Rust test): qa_admin / qa_analyst / qa_viewer on tenant a, city on a and b,
all with password pw-<name>.
"""

import concurrent.futures
import json
import sys
import time

import psycopg

PORT = int(sys.argv[1])
TIME_LIMIT = float(sys.argv[2])
CANARIES = set(json.loads(sys.argv[3])) if len(sys.argv) > 3 else set()
failures = 0


def connect(user, db, password=None, **kw):
    return psycopg.connect(
        host="127.0.0.1", port=PORT, user=user, dbname=db,
        password=password or f"pw-{user}", connect_timeout=10, autocommit=True, **kw)


def check(name, ok, detail=""):
    global failures
    print(("ok " if ok else "FAIL ") + name + (" " + str(detail) if detail else ""), flush=True)
    if not ok:
        failures += 1


def rows(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def error_of(conn, sql):
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            cur.fetchall()
        return None
    except psycopg.Error as e:
        return e


# --- authentication ---------------------------------------------------------------------
try:
    connect("qa_admin", "a", password="wrong")
    check("wrong password refused", False, "connected")
except psycopg.OperationalError as e:
    check("wrong password refused", "password" in str(e).lower(), str(e).strip()[:100])
try:
    connect("nobody", "a", password="x")
    check("unknown user refused", False, "connected")
except psycopg.OperationalError as e:
    check("unknown user refused", "password" in str(e).lower(), str(e).strip()[:100])
try:
    connect("qa_admin", "b")
    check("another tenant's database refused", False, "connected")
except psycopg.OperationalError as e:
    check("another tenant's database refused", "not one of yours" in str(e), str(e).strip()[:100])

admin = connect("qa_admin", "a")
analyst = connect("qa_analyst", "a")
viewer = connect("qa_viewer", "a")
city = connect("city", "all")

# --- roles and masking --------------------------------------------------------------------
raw = rows(admin, "select member_id, name, id_number, phone from members where id_number is not null order by member_id limit 5")
masked = rows(analyst, "select member_id, name, id_number, phone from members where id_number is not null order by member_id limit 5")
check("admin sees personal data", all(len(r[1]) >= 2 and "*" not in r[2] for r in raw), raw[0])
check("analyst sees it masked", all(r[1].endswith("*") and r[2][6:14] == "********" and r[3][3:7] == "****" for r in masked), masked[0])
check("masks keep the ends", all(a[2][:6] == b[2][:6] and a[2][-4:] == b[2][-4:] for a, b in zip(raw, masked)))
# Extended protocol with a parameter, GROUP BY and a join: still masked.
grouped = rows(analyst, "select m.name, count(*) from members m join branches b on b.branch_id = m.branch_id where m.member_id like %s group by m.name", ("DY%",))
check("masked in GROUP BY and joins", all(r[0].endswith("*") and len(r[0]) == 2 for r in grouped), grouped[:2])
secrets = {r[1] for r in raw} | {r[2] for r in raw} | {r[3] for r in raw}
leak_sql = [
    "select cast(name as int) from members",
    "select cast(id_number as bigint) from members",
    "select name || id_number from members where cast(phone as int) > 0",
    "select * from members where name = 1",
]
leaked = []
for sql in leak_sql:
    e = error_of(analyst, sql)
    text = str(e) if e else json.dumps(rows(analyst, sql), ensure_ascii=False)
    leaked += [s for s in secrets if s and s in text]
check("masked values never appear in errors", not leaked, leaked[:3])
e = error_of(viewer, "select * from members")
check("viewer cannot read members", e is not None and "not found" in str(e), str(e).strip()[:80])
e = error_of(viewer, "select * from member_points")
check("viewer cannot read member-level views", e is not None, str(e).strip()[:80])
v = rows(viewer, "select count(*) from red_flag_ranking")
check("viewer reads the metric views", v[0][0] > 0, v[0][0])

# --- several tenants ------------------------------------------------------------------------
per = rows(city, "select tenant_id, count(*) from branches group by tenant_id order by tenant_id")
check("a city user sees both tenants with tenant_id", [p[0] for p in per] == ["a", "b"], per)
a_only = rows(admin, "select count(*) from branches")[0][0]
check("counts match the tenant's own", dict(per)["a"] == a_only, (per, a_only))

# --- hostile statements ------------------------------------------------------------------
hostile = [
    "create table x (a int)",
    "create external table x stored as csv location '/etc/passwd'",
    "create view v as select 1",
    "drop table members",
    "drop view red_flag_ranking",
    "insert into members (member_id) values ('x')",
    "update members set name = 'x'",
    "delete from members",
    "truncate members",
    "alter table members add column x int",
    "copy members to '/tmp/leak.csv'",
    "copy (select * from members) to '/tmp/leak.parquet'",
    "copy members from '/etc/passwd'",
    "set datafusion.execution.target_partitions = 64",
    "set datafusion.runtime.memory_limit = '100G'",
    "set datafusion.catalog.information_schema = false",
    "select * from '/etc/passwd'",
    "select * from 'file:///etc/passwd'",
    "select * from 'https://example.com/x.parquet'",
    "select * from read_csv('/etc/passwd')",
    "select * from read_parquet('/etc/passwd')",
    "select * from parquet_metadata('/etc/passwd')",
    "select * from b.public.members",
    "select * from datafusion.b.members",
    "select * from tenants.b.members",
    "select * from \"b\".members",
    "select * from delta.`/tmp`",
    "create database evil",
    "create schema evil",
    "prepare p as select 1",
    "select pg_read_file('/etc/passwd')",
    "select pg_ls_dir('/')",
    "select * from pg_catalog.pg_shadow",
    "explain analyze insert into members (member_id) values ('x')",
    "with x as (select 1) insert into members (member_id) select * from x",
    "select 1 into newtable",
]
refused = []
for sql in hostile:
    e = error_of(admin, sql)
    refused.append(e is not None)
    if e is None:
        print(f"  accepted: {sql}", flush=True)
check(f"{len(hostile)} hostile statements refused", all(refused), f"{sum(refused)}/{len(hostile)}")
check("the session still answers after them", rows(admin, "select 1")[0][0] == 1)

# --- huge expressions ---------------------------------------------------------------------
for name, sql in [
    ("1+…+1 at 20,000 terms", "select " + "+".join(["1"] * 20000)),
    ("a 20,000-term OR chain", "select 1 where " + " or ".join(["1=1"] * 20000)),
    ("a 5,000-way UNION", " union all ".join(["select 1"] * 5000)),
]:
    e = error_of(admin, sql)
    check(f"{name} is an error", e is not None, str(e).strip()[:90])
check("the server then answers select 1", rows(connect("qa_admin", "a"), "select 1")[0][0] == 1)

# --- limits ---------------------------------------------------------------------------------
started = time.monotonic()
# Billions of joined rows to count: minutes of work; the build sides are small, so it is
# time, not memory, that stops it.
e = error_of(admin, "select count(*) from attendance a1 join attendance a2 on a1.status = a2.status join branches b on b.is_joint = false")
took = time.monotonic() - started
check("a query over the time limit is cancelled within limit + 1 s", e is not None and "time limit" in str(e) and took < TIME_LIMIT + 1.0, f"{took:.2f} s: {str(e).strip()[:90]}")
print(json.dumps({"cancel_seconds": round(took, 2)}), flush=True)
# Really cancelled, not just answered: the cores are free again at once.
started = time.monotonic()
rows(admin, "select count(*) from members")
after = time.monotonic() - started
check("the cancelled query stopped working (the next query is quick)", after < 1.0, f"{after:.2f} s")
e = error_of(admin, "select * from attendance a1, attendance a2 order by a1.meeting_id, a2.member_id")
check("a memory-hungry query ends in a clear error", e is not None, str(e).strip()[:120])
e = error_of(admin, "select * from attendance a1, members m")
check("too many rows is a clear error", e is not None, str(e).strip()[:120])
check("and the server keeps serving", rows(admin, "select 1")[0][0] == 1)

# --- tenant b's canaries never reach tenant a ---------------------------------------------
import random
random.seed(7)
TABLES = {
    "members": ["member_id", "branch_id", "name", "id_number", "phone", "party_group"],
    "branches": ["branch_id", "name", "unit_id", "type"],
    "grid_units": ["unit_id", "parent_id", "name", "leader"],
    "meetings": ["meeting_id", "branch_id", "kind", "theme"],
    "attendance": ["meeting_id", "member_id", "status"],
    "organizations": ["org_id", "name", "kind", "branch_id"],
    "visits": ["visit_id", "unit_id", "member_id"],
    "red_flag_ranking": ["period", "group_id", "branch_id", "branch_name"],
    "member_points": ["member_id", "branch_id", "grade"],
}
JOINS = [("members", "branches", "branch_id"), ("meetings", "branches", "branch_id"),
         ("attendance", "members", "member_id"), ("organizations", "branches", "branch_id"),
         ("visits", "members", "member_id"), ("member_points", "members", "member_id"),
         ("red_flag_ranking", "branches", "branch_id")]
def one_select():
    kind = random.choice(["plain", "join", "window", "subquery", "agg"])
    if kind == "join":
        l, r, k = random.choice(JOINS)
        cols = [f"x.{c}" for c in random.sample(TABLES[l], 2)] + [f"y.{c}" for c in random.sample(TABLES[r], 2)]
        return f"select {', '.join(cols)} from {l} x join {r} y on x.{k} = y.{k}"
    t = random.choice(list(TABLES))
    cols = random.sample(TABLES[t], min(3, len(TABLES[t])))
    if kind == "window":
        return f"select {', '.join(cols)}, row_number() over (partition by {cols[0]} order by {cols[-1]}) as rn from {t}"
    if kind == "subquery":
        return f"select {', '.join(cols)} from {t} where {cols[0]} in (select {cols[0]} from {t} where {cols[-1]} is not null)"
    if kind == "agg":
        return f"select {cols[0]}, count(*) as n, max({cols[-1]}) as m from {t} group by {cols[0]}"
    return f"select {', '.join(cols)} from {t}"
def random_query():
    shape = random.choice(["one", "cte", "union"])
    if shape == "cte":
        return f"with q as ({one_select()}) select * from q limit 300"
    if shape == "union":
        a, b = one_select(), one_select()
        return f"select cast(count(*) as varchar) as c from ({a}) union all select cast(count(*) as varchar) from ({b})"
    return one_select() + " limit 300"
ran, seen = 0, []
fuzz = connect("qa_admin", "a")
for _ in range(400):
    sql = random_query()
    try:
        for row in rows(fuzz, sql):
            seen += [c for c in row if isinstance(c, str) and c in CANARIES]
        ran += 1
    except psycopg.Error:
        pass
explicit = rows(fuzz, "select count(*) from members where name in (" + ",".join("'" + c.replace("'", "''") + "'" for c in CANARIES) + ")") if CANARIES else [(0,)]
check(f"{ran} random queries over tenant a never returned tenant b's canaries", ran >= 300 and not seen and explicit[0][0] == 0, f"canaries {len(CANARIES)}, hits {seen[:3]}")
print(json.dumps({"fuzz_queries": ran}), flush=True)

# --- statements a connection keeps -----------------------------------------------------------
# A Parse the server refuses keeps nothing, so it takes no place: 1,100 failed prepares leave
# room for the next good one.
failing = connect("qa_analyst", "a")
failing.prepared_max = 100_000
for i in range(1_100):
    e = None
    try:
        with failing.cursor() as cur:
            cur.execute(f"select * from no_such_table_{i}", prepare=True)
    except psycopg.Error as err:
        e = err
    if e is None or e.sqlstate == "54000":
        break
check("failed prepares take no place", rows(failing, "select 8")[0][0] == 8 and e is not None and e.sqlstate != "54000",
      e and (i, e.sqlstate, str(e).strip()[:100]))
with failing.cursor() as cur:
    cur.execute("select 9 as n", prepare=True)
    check("and a good one still prepares after them", cur.fetchall()[0][0] == 9)
failing.close()

# Each prepared statement holds a plan: a client that prepares without ever closing is stopped
# at 1,000 named statements, and its connection and the server carry on.
hoarder = connect("qa_analyst", "a")
hoarder.prepared_max = 100_000
stopped = None
for i in range(1_100):
    try:
        with hoarder.cursor() as cur:
            cur.execute(f"select {i} as n", prepare=True)
            cur.fetchall()
    except psycopg.Error as e:
        stopped = (i, e)
        break
check("a connection keeps at most 1,000 prepared statements",
      stopped is not None and stopped[0] == 1000 and stopped[1].sqlstate == "54000",
      stopped and (stopped[0], stopped[1].sqlstate, str(stopped[1]).strip()[:100]))
check("and still answers", rows(hoarder, "select 7")[0][0] == 7)
hoarder.close()

# --- 20 concurrent clients ---------------------------------------------------------------
DASHBOARD = "select unit_name, kind, orgs, covered, coverage_rate from coverage where level = 2 order by unit_id, kind"
expected = rows(admin, DASHBOARD)
single = []
for _ in range(5):
    t = time.monotonic()
    rows(admin, "select group_name, branch_name, total from red_flag_ranking where period = '2024-B6' and rank = 1")
    single.append(time.monotonic() - t)
print(json.dumps({"ranking_single_client_ms": round(sorted(single)[2] * 1000, 1)}), flush=True)
def dashboard(i):
    c = connect("qa_analyst" if i % 2 else "qa_admin", "a")
    latencies = []
    for _ in range(5):
        t = time.monotonic()
        r = rows(c, DASHBOARD)
        latencies.append(time.monotonic() - t)
        if r != expected:
            return None
    c.close()
    return latencies
with concurrent.futures.ThreadPoolExecutor(20) as pool:
    results = list(pool.map(dashboard, range(20)))
ok = all(r is not None for r in results)
lat = sorted(x for r in results if r for x in r)
p50 = lat[len(lat) // 2] if lat else 0
p95 = lat[int(len(lat) * 0.95)] if lat else 0
check("20 concurrent clients get correct answers", ok, f"{len(lat)} queries, p50 {p50*1000:.0f} ms, p95 {p95*1000:.0f} ms")
print(json.dumps({"p50_ms": round(p50 * 1000, 1), "p95_ms": round(p95 * 1000, 1)}), flush=True)

sys.exit(1 if failures else 0)
