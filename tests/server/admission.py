"""Checks the server's admission rules against a running `gridassess serve` started with
`--max-connections-per-user 2 --lockout-after 3` (see tests/it/server.rs). Prints one line per
check (`ok NAME detail` or `FAIL NAME detail`); exits 1 if any failed.

    python3 admission.py PORT GRIDASSESS WAREHOUSE
"""

import concurrent.futures
import os
import subprocess
import sys
import time

import psycopg

PORT = int(sys.argv[1])
GRIDASSESS = sys.argv[2]
WAREHOUSE = sys.argv[3]
failures = 0


def connect(user, password=None, db="a"):
    return psycopg.connect(
        host="127.0.0.1", port=PORT, user=user, dbname=db,
        password=password if password is not None else f"pw-{user}",
        connect_timeout=30, autocommit=True)


def check(name, ok, detail=""):
    global failures
    print(("ok " if ok else "FAIL ") + name + (" " + str(detail) if detail else ""), flush=True)
    if not ok:
        failures += 1


def refused(fn):
    """The error text of fn(), or None when it succeeded."""
    try:
        fn()
    except psycopg.Error as e:
        return str(e)
    return None


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


# Per-user cap: two sessions, the third is told why; closing one makes room.
first, second = connect("qa_analyst"), connect("qa_analyst")
err = refused(lambda: connect("qa_analyst"))
check("third_session_of_a_user_refused", err is not None and "limit per user" in err, err)
check("another_user_still_connects", one(connect("qa_admin"), "select 1") == 1)
first.close()
time.sleep(0.2)
third = connect("qa_analyst")
check("a_closed_session_gives_its_place_back", one(third, "select 2") == 2)
third.close()
second.close()

# A removed user's open session ends at its next statement.
session = connect("qa_admin")
check("session_works_before_removal", one(session, "select 3") == 3)
subprocess.run([GRIDASSESS, "user", "remove", "qa_admin"], check=True,
               env={**os.environ, "GRIDASSESS_WAREHOUSE": WAREHOUSE}, capture_output=True)
err = refused(lambda: one(session, "select 4"))
check("removed_user_session_ended", err is not None and "removed or changed" in err, err)
# The FATAL closed the connection: nothing more runs on it.
err = refused(lambda: one(session, "select 5"))
check("removed_user_connection_closed", err is not None, err)

# Lockout: three wrong passwords lock the user out; the right one is then refused too.
for i in range(3):
    err = refused(lambda: connect("qa_viewer", password="wrong"))
    check(f"wrong_password_{i + 1}_refused", err is not None and "password" in err.lower(), err)
err = refused(lambda: connect("qa_viewer"))
check("right_password_refused_while_locked", err is not None and "too many failed logins" in err,
      err)

# A flood of parallel wrong passwords waits in line: every one is answered, and none
# crashes the server.
def wrong_login(_):
    return refused(lambda: connect("city", password="nope"))


with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
    answers = list(pool.map(wrong_login, range(24)))
check("parallel_wrong_logins_all_refused", all(a is not None for a in answers),
      sum(a is None for a in answers))

sys.exit(1 if failures else 0)
