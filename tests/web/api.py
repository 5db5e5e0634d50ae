"""Checks the console's JSON API against a running `gridassess serve --http` (see
tests/it/web.rs), with the standard library's HTTP client only. Prints one line per check (`ok
NAME detail` or `FAIL NAME detail`); exits 1 if any failed.

    python3 api.py BASE_URL CLI_CSV_DIR

BASE_URL is e.g. http://127.0.0.1:PORT; CLI_CSV_DIR holds `gridassess ... --format csv` outputs
of county a named METRIC.csv, which format=csv must equal byte for byte.
"""

import http.cookiejar
import io
import json
import os
import socket
import time
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile

BASE = sys.argv[1].rstrip("/")
CLI = sys.argv[2]
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok " if ok else "FAIL ") + name + (" " + str(detail) if detail else ""), flush=True)
    if not ok:
        failures += 1


class Client:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = None

    def call(self, method, path, body=None, headers=None, raw=False):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(BASE + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with self.opener.open(req, timeout=60) as r:
                payload = r.read()
                # The headers as sent (case-insensitive lookups: the server writes lowercase).
                return r.status, r.headers, payload if raw else json.loads(payload or b"null")
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
            return e.code, e.headers, payload

    def login(self, user, password=None):
        status, headers, body = self.call("POST", "/api/v1/session",
                                          {"user": user, "password": password or f"pw-{user}"})
        if status == 200:
            self.csrf = body["csrf_token"]
        return status, headers, body


HOST, PORT = urllib.parse.urlsplit(BASE).hostname, urllib.parse.urlsplit(BASE).port


def raw(data=b""):
    """A socket to the console that has sent `data` and nothing more."""
    s = socket.create_connection((HOST, PORT), timeout=30)
    if data:
        s.sendall(data)
    return s


def closed_within(s, seconds):
    """Whether the server closes `s` (or answers and closes) within `seconds`."""
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except OSError:
        return True


# A client that sends half a request line and then nothing (slowloris): checked at the end,
# when the 15 s the server gives a request's headers are over.
slow = raw(b"GET / HTTP/1.1\r\nHost: x\r\n")
slow_since = time.monotonic()

# No session: 401 for every route.
anon = Client()
status, _, _ = anon.call("GET", "/api/v1/tenants/a/ranking")
check("no_session_401", status == 401, status)

# A wrong password: 401, and no cookie.
status, headers, _ = anon.login("qa_admin", "wrong")
check("wrong_password_401", status == 401 and "Set-Cookie" not in headers, status)

# The right one: 200, an HttpOnly SameSite=Strict cookie, a CSRF token.
admin = Client()
status, headers, body = admin.login("qa_admin")
cookie = headers.get("Set-Cookie", "")
check("login_200_with_cookie_and_csrf",
      status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
      and len(body.get("csrf_token", "")) >= 32, (status, cookie))
check("csp_has_no_remote_origin",
      "default-src 'none'" in headers.get("Content-Security-Policy", "")
      and "http" not in headers.get("Content-Security-Policy", ""),
      headers.get("Content-Security-Policy"))

# Every metric, in CSV exactly as the CLI writes it, and in JSON as an array of objects.
for metric in ["ranking", "ranking-year", "coverage", "findings", "attendance", "compliance",
               "alerts", "points", "grid"]:
    path = os.path.join(CLI, f"{metric}.csv")
    status, headers, csv = admin.call("GET", f"/api/v1/tenants/a/{metric}?format=csv", raw=True)
    expected = open(path, "rb").read()
    check(f"{metric}_csv_equals_cli", status == 200 and csv == expected,
          (status, len(csv), len(expected)))
    status, _, rows = admin.call("GET", f"/api/v1/tenants/a/{metric}?format=json")
    first = expected.decode().splitlines()[0].split(",")
    check(f"{metric}_json_objects",
          status == 200 and isinstance(rows, list) and (not rows or set(rows[0]) <= set(first)),
          (status, type(rows).__name__))

# A county not granted: the same 404 whether it exists (b) or not (zz).
for tenant in ["b", "zz"]:
    status, _, body = admin.call("GET", f"/api/v1/tenants/{tenant}/ranking")
    check(f"county_{tenant}_not_granted_404", status == 404, (status, body))

# A viewer: branch-level metrics yes, member-level ones 403.
viewer = Client()
viewer.login("qa_viewer")
status, _, _ = viewer.call("GET", "/api/v1/tenants/a/ranking")
check("viewer_reads_ranking", status == 200, status)
for metric in ["points", "alerts"]:
    status, _, _ = viewer.call("GET", f"/api/v1/tenants/a/{metric}")
    check(f"viewer_{metric}_403", status == 403, status)

# --- Uploads ---------------------------------------------------------------------------

def multipart(files, fields=()):
    """A multipart/form-data body: `files` as (name, bytes) under field `files`."""
    boundary = "----gridassess-test-" + uuid.uuid4().hex
    out = io.BytesIO()
    for key, value in fields:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n"
                  .encode() + value.encode() + b"\r\n")
    for name, data in files:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                  f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                  .encode("utf-8") + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload(client, tenant, files, csrf=True, fields=()):
    body, content_type = multipart(files, fields)
    headers = {"Content-Type": content_type}
    if csrf and client.csrf:
        headers["X-CSRF-Token"] = client.csrf
    req = urllib.request.Request(f"{BASE}/api/v1/tenants/{tenant}/loads", data=body,
                                 method="POST", headers=headers)
    try:
        with client.opener.open(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        payload = e.read()
        try:
            return e.code, json.loads(payload)
        except ValueError:
            return e.code, payload


# A township's corrections to county a's members: one good row, two bad ones, under a folder.
members = "member_id,branch_id,name,status\n"
good = admin.call("POST", "/api/v1/tenants/a/sql",
                  {"sql": "select member_id, branch_id from members order by member_id limit 1"},
                  headers={"X-CSRF-Token": admin.csrf})
check("admin_sql_200", good[0] == 200 and good[2]["rows"], good[:1])
member_id, branch_id = good[2]["rows"][0]
corrections = (members + f"{member_id},{branch_id},王补报,formal\n"
               + "M-NEW-1,NO-SUCH-BRANCH,李无支部,formal\n"
               + f"M-NEW-2,{branch_id},赵状态,不知道\n").encode()

analyst = Client()
analyst.login("qa_analyst")
status, _ = upload(anon, "a", [("members.csv", corrections)])
check("upload_without_session_401", status == 401, status)
status, _ = upload(analyst, "a", [("members.csv", corrections)])
check("upload_by_analyst_403", status == 403, status)
status, _ = upload(admin, "a", [("members.csv", corrections)], csrf=False)
check("upload_without_csrf_403", status == 403, status)
for tenant in ["b", "zz"]:
    status, _ = upload(admin, tenant, [("members.csv", corrections)])
    check(f"upload_to_{tenant}_not_granted_404", status == 404, status)
for hostile in ["../../members.csv", "..\\members.csv", "a/../../members.csv"]:
    status, body = upload(admin, "a", [(hostile, corrections)])
    check(f"upload_name_{hostile!r}_refused", status == 400, (status, body))
status, body = upload(admin, "a", [("members.csv", corrections), ("members.csv", corrections)])
check("upload_two_files_of_one_name_400", status == 400, (status, body))
status, body = upload(admin, "a", [("members.csv", b"x" * (5 * 1024 * 1024))])
check("upload_over_the_limit_413", status == 413, (status, str(body)[:200]))

status, load = upload(admin, "a", [("东富镇补报/members.csv", corrections)])
check("upload_200", status == 200 and isinstance(load, dict), (status, str(load)[:300]))
table = next(t for t in load["tables"] if t["table"] == "members")
check("upload_reconciles", table["read"] == 3 and table["loaded"] == 1 and table["rejected"] == 2
      and load["read"] == load["loaded"] + load["rejected"], table)
check("upload_names_files_as_sent",
      [f["file"] for f in load["files"]] == ["东富镇补报/members.csv"], load["files"])

status, _, issues = admin.call("GET", f"/api/v1/tenants/a/loads/{load['load_id']}/rejections")
check("rejections_json", status == 200 and len(issues) >= 2
      and all(i["file"] == "东富镇补报/members.csv" for i in issues)
      and {i["line"] for i in issues} >= {3, 4}
      and any(i["value"] == "不知道" for i in issues), issues)
status, headers, xlsx = admin.call(
    "GET", f"/api/v1/tenants/a/loads/{load['load_id']}/rejections?format=xlsx", raw=True)
try:
    import openpyxl
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    rows = list(sheet.iter_rows(values_only=True))
    check("rejections_xlsx_opens_in_openpyxl",
          rows[0][:4] == ("批次", "表", "文件", "行") and len(rows) == len(issues) + 1
          and any("不知道" in [str(c) for c in r] for r in rows[1:]), rows[:3])
except Exception as e:  # noqa: BLE001 - a failure to open is the finding
    check("rejections_xlsx_opens_in_openpyxl", False, repr(e))
status, _, _ = analyst.call("GET", f"/api/v1/tenants/a/loads/{load['load_id']}/rejections")
check("rejections_by_analyst_403", status == 403, status)
status, _, _ = admin.call("GET", "/api/v1/tenants/a/loads/999/rejections")
check("rejections_of_no_such_load_404", status == 404, status)
status, _, history = admin.call("GET", "/api/v1/tenants/a/loads")
check("load_history", status == 200 and history[-1]["load_id"] == load["load_id"]
      and history[-1]["files"] == ["东富镇补报/members.csv"], history[-1:])

# A zip of the same folder loads the same way; a zip bomb stops at four times the limit.
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("东富镇补报/members.csv", corrections)
status, zipped = upload(admin, "a", [("补报.zip", buf.getvalue())])
check("zip_upload_200", status == 200 and zipped["rejected"] == 2
      and [f["file"] for f in zipped["files"]] == ["补报/东富镇补报/members.csv"],
      (status, str(zipped)[:300]))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("members.csv", b"0" * (20 * 1024 * 1024))
status, body = upload(admin, "a", [("bomb.zip", buf.getvalue())])
check("zip_bomb_413", status == 413, (status, body))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("../../escape.csv", corrections)
status, body = upload(admin, "a", [("escape.zip", buf.getvalue())])
check("zip_entry_climbing_out_400", status == 400, (status, body))

# --- SQL ---------------------------------------------------------------------------------
status, _, _ = admin.call("POST", "/api/v1/tenants/a/sql", {"sql": "select 1"})
check("sql_without_csrf_403", status == 403, status)
status, _, body = analyst.call("POST", "/api/v1/tenants/a/sql",
                               {"sql": "select name, id_number from members limit 3"},
                               headers={"X-CSRF-Token": analyst.csrf})
check("analyst_sql_is_masked", status == 200 and body["rows"]
      and all("*" in (r[1] or "*") for r in body["rows"]), body)
status, _, body = admin.call("POST", "/api/v1/tenants/a/sql",
                             {"sql": "create table t as select 1"},
                             headers={"X-CSRF-Token": admin.csrf})
check("sql_ddl_400", status == 400, (status, body))
status, _, body = admin.call("POST", "/api/v1/tenants/a/sql",
                             {"sql": "select * from b.members"},
                             headers={"X-CSRF-Token": admin.csrf})
check("sql_other_county_400", status == 400 and "乙" not in json.dumps(body), (status, body))
status, _, body = admin.call("POST", "/api/v1/tenants/a/sql",
                             {"sql": "select * from attendance a1, attendance a2"},
                             headers={"X-CSRF-Token": admin.csrf})
check("sql_over_a_limit_422", status == 422, (status, str(body)[:200]))
status, headers, csv = admin.call("POST", "/api/v1/tenants/a/sql",
                                  {"sql": "select 1 as one", "format": "csv"},
                                  headers={"X-CSRF-Token": admin.csrf}, raw=True)
check("sql_csv", status == 200 and csv == b"one\n1\n", (status, csv))

# Every request is audited like a query, where the county's admin reads it.
status, _, body = admin.call("POST", "/api/v1/tenants/a/sql",
                             {"sql": "select \"user\", sql from audit_queries "
                                     "where sql like 'GET /api/v1/tenants/a/ranking%'"},
                             headers={"X-CSRF-Token": admin.csrf})
check("requests_are_audited", status == 200 and any(r[0] == "qa_admin" for r in body["rows"]),
      (status, str(body)[:300]))

# Reports: only a period with scores, or a year with one, is built.
status, _, _ = admin.call("GET", "/t/a/report/1999/report.html", raw=True)
check("report_of_a_year_without_scores_404", status == 404, status)
status, _, _ = viewer.call("GET", "/t/a/report/1999/report.html", raw=True)
check("report_by_viewer_403", status == 403, status)

# One upload at a time per county: a second one while the first is still being sent is 409.
session_cookie = next(c.value for c in admin.jar if c.name == "gridassess_session")
boundary = "----held-open"
held = raw((f"POST /api/v1/tenants/a/loads HTTP/1.1\r\nHost: x\r\n"
            f"Cookie: gridassess_session={session_cookie}\r\nX-CSRF-Token: {admin.csrf}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: 1000000\r\n\r\n--{boundary}\r\n"
            f"Content-Disposition: form-data; name=\"files\"; filename=\"members.csv\"\r\n\r\n"
            f"member_id,branch_id\r\n").encode())
time.sleep(1)
status, body = upload(admin, "a", [("members.csv", corrections)])
check("second_upload_at_once_409", status == 409, (status, body))
held.close()
time.sleep(1)
status, body = upload(admin, "a", [("members.csv", corrections)])
check("upload_after_the_first_went_away_200", status == 200, (status, str(body)[:200]))

# --- Users (the county admin's page) -------------------------------------------------------

def form(client, path, fields, csrf=True):
    """A page's form, as a browser posts it: urlencoded, the CSRF token as a field."""
    if csrf:
        fields = {**fields, "csrf_token": client.csrf}
    req = urllib.request.Request(BASE + path, data=urllib.parse.urlencode(fields).encode(),
                                 method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with client.opener.open(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


add = {"action": "add", "name": "qa_new", "role": "viewer", "password": "pw-qa_new"}
status, _ = form(analyst, "/t/a/users", add)
check("users_by_analyst_403", status == 403, status)
status, _ = form(admin, "/t/a/users", add, csrf=False)
check("users_without_csrf_403", status == 403, status)
status, page = form(admin, "/t/b/users", add)
check("users_of_a_county_not_granted_404", status == 404, status)
status, page = form(admin, "/t/a/users", add)
check("users_add_200", status == 200 and "已添加用户 qa_new" in page, status)
newcomer = Client()
status, _, _ = newcomer.login("qa_new")
check("added_user_logs_in", status == 200, status)
status, _, _ = newcomer.call("GET", "/api/v1/tenants/a/ranking")
check("added_user_reads_a", status == 200, status)
status, _, _ = newcomer.call("GET", "/api/v1/tenants/a/points")
check("added_user_has_the_role_given", status == 403, status)
status, page = form(admin, "/t/a/users", add)
check("users_add_twice_422", status == 422 and "already exists" in page, status)
status, page = form(admin, "/t/a/users", {**add, "name": "qa_boss", "role": "root"})
check("users_unknown_role_422", status == 422, status)
status, page = form(admin, "/t/a/users", {**add, "name": "qa_x", "tenant": "b"})
extra = Client()
extra.login("qa_x", "pw-qa_new")
check("users_add_grants_only_this_county",
      status == 200 and extra.call("GET", "/api/v1/tenants/a/ranking")[0] == 200
      and extra.call("GET", "/api/v1/tenants/b/ranking")[0] == 404, status)
status, page = form(admin, "/t/a/users",
                    {"action": "password", "name": "qa_new", "password": "pw-changed"})
check("users_password_200", status == 200, status)
status, _, _ = newcomer.call("GET", "/api/v1/tenants/a/ranking")
check("password_change_ends_the_session", status == 401, status)
check("new_password_logs_in", Client().login("qa_new", "pw-changed")[0] == 200)
for action in ["password", "remove"]:
    status, page = form(admin, "/t/a/users",
                        {"action": action, "name": "qa_city", "password": "pw-mine"})
    check(f"users_{action}_of_a_user_of_other_counties_403", status == 403, status)
check("user_of_other_counties_unchanged", Client().login("qa_city")[0] == 200)
status, page = form(admin, "/t/a/users", {"action": "remove", "name": "qa_admin"})
check("users_remove_self_422", status == 422, status)
status, page = form(admin, "/t/a/users", {"action": "remove", "name": "office"})
check("users_remove_of_another_county_404", status == 404, status)
status, page = form(admin, "/t/a/users", {"action": "remove", "name": "qa_new"})
check("users_remove_200", status == 200 and "已删除用户 qa_new" in page, status)
check("removed_user_cannot_log_in", Client().login("qa_new", "pw-changed")[0] == 401)
status, page = form(admin, "/t/a/users",
                    {"action": "add", "name": "<script>x", "role": "viewer", "password": "p"})
check("users_bad_name_422_escaped", status == 422 and "<script>x" not in page, status)

# Logout needs the CSRF token; without it 403, with it the session ends.
status, _, _ = admin.call("DELETE", "/api/v1/session")
check("logout_without_csrf_403", status == 403, status)
status, _, _ = admin.call("DELETE", "/api/v1/session", headers={"X-CSRF-Token": admin.csrf})
check("logout_with_csrf_200", status == 200, status)
status, _, _ = admin.call("GET", "/api/v1/tenants/a/ranking")
check("after_logout_401", status == 401, status)

# The slow client of the beginning has been cut off.
time.sleep(max(0, 17 - (time.monotonic() - slow_since)))
check("slow_headers_are_cut", closed_within(slow, 3), round(time.monotonic() - slow_since))

# 64 connections from one address at most: the 65th is told 503, and once they close, the
# console answers again.
held = [raw() for _ in range(64)]
extra = raw(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
extra.settimeout(10)
answer = extra.recv(200)
check("connections_past_the_cap_503", answer.startswith(b"HTTP/1.1 503"), answer[:40])
for h in held:
    h.close()
extra.close()
time.sleep(1)
status, _, _ = Client().call("GET", "/login", raw=True)
check("answers_again_after_the_cap", status == 200, status)

sys.exit(1 if failures else 0)
