"""Checks the server's admission rules against a running `gridassess serve` started with
`--max-connections-per-user 2 --lockout-after 3` (see tests/it/server.rs). Prints one line per
check (`ok NAME detail` or `FAIL NAME detail`); exits 1 if any failed.

    python3 admission.py PORT GRIDASSESS WAREHOUSE
"""

import concurrent.futures
import os
import socket
import struct
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

# A message that claims hundreds of megabytes is refused at its header, not buffered: before
# login (where the server knew no limit but pgwire's 1 GiB) and after it.
def startup_message(user, db):
    params = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                      for k, v in (("user", user), ("database", db))) + b"\0"
    body = struct.pack("!i", 196608) + params
    return struct.pack("!i", len(body) + 4) + body


def read_message(sock):
    """One backend message: (type byte, body)."""
    head = b""
    while len(head) < 5:
        chunk = sock.recv(5 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    length = struct.unpack("!i", head[1:5])[0] - 4
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return head[:1], body


def bytes_sent_before_close(login):
    """Sends a Query message that claims 300 MB and streams its body; returns how many bytes of
    it the server took before it closed the connection (or all 64 MB if it never did)."""
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    sock.sendall(startup_message("qa_analyst", "a"))
    kind, _ = read_message(sock)
    assert kind == b"R", kind  # asked for the password
    if login:
        password = b"pw-qa_analyst\0"
        sock.sendall(b"p" + struct.pack("!i", len(password) + 4) + password)
        while read_message(sock)[0] != b"Z":  # until ReadyForQuery
            pass
    sock.sendall(b"Q" + struct.pack("!i", 300 * 1024 * 1024))
    chunk = b"x" * (1024 * 1024)
    sent = 0
    try:
        while sent < 64 * 1024 * 1024:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    sock.close()
    return sent


with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    taken = list(pool.map(lambda _: bytes_sent_before_close(False), range(3)))
check("huge_message_before_login_refused_at_its_header",
      all(t < 16 * 1024 * 1024 for t in taken), [t // (1024 * 1024) for t in taken])
taken = bytes_sent_before_close(True)
check("huge_message_after_login_refused_at_its_header", taken < 16 * 1024 * 1024,
      taken // (1024 * 1024))
check("the_server_still_answers_after_huge_messages",
      one(connect("qa_analyst"), "select 6") == 6)


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
