"""Latency of a dashboard query under concurrent clients, against a running `gridassess serve`.

    python3 bench/server_latency.py --port 5433 --user U --password P --db TENANT \
        [--clients 20] [--rounds 10] [--query SQL]

Each client connects once (psycopg 3), then runs the query --rounds times; prints p50, p95 and
max over all queries, and checks every answer equals the first one.
"""

import argparse
import concurrent.futures
import json
import time

import psycopg

DEFAULT = ("select unit_name, kind, orgs, covered, coverage_rate from coverage "
           "where level = 2 order by unit_id, kind")

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--user", required=True)
p.add_argument("--password", required=True)
p.add_argument("--db", required=True)
p.add_argument("--clients", type=int, default=20)
p.add_argument("--rounds", type=int, default=10)
p.add_argument("--query", default=DEFAULT)
a = p.parse_args()


def connect():
    return psycopg.connect(host="127.0.0.1", port=a.port, user=a.user, password=a.password,
                           dbname=a.db, autocommit=True)


with connect() as c:
    expected = c.execute(a.query).fetchall()


def client(_):
    with connect() as c:
        out = []
        for _ in range(a.rounds):
            t = time.perf_counter()
            rows = c.execute(a.query).fetchall()
            out.append(time.perf_counter() - t)
            assert rows == expected, "a client got a different answer"
        return out


with concurrent.futures.ThreadPoolExecutor(a.clients) as pool:
    lat = sorted(x for r in pool.map(client, range(a.clients)) for x in r)
pct = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000
print(json.dumps({"clients": a.clients, "queries": len(lat), "p50_ms": round(pct(0.5), 1),
                  "p95_ms": round(pct(0.95), 1), "max_ms": round(lat[-1] * 1000, 1)}))
