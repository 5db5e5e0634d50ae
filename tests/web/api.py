"""Checks the console's JSON API against a running `gridassess serve --http` (see
tests/it/web.rs), with the standard library's HTTP client only. Prints one line per check (`ok
NAME detail` or `FAIL NAME detail`); exits 1 if any failed.

    python3 api.py BASE_URL CLI_CSV_DIR

BASE_URL is e.g. http://127.0.0.1:PORT; CLI_CSV_DIR holds `gridassess ... --format csv` outputs
of county a named METRIC.csv, which format=csv must equal byte for byte.
"""

import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.request

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
                return r.status, dict(r.headers), payload if raw else json.loads(payload or b"null")
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
            return e.code, dict(e.headers), payload

    def login(self, user, password=None):
        status, headers, body = self.call("POST", "/api/v1/session",
                                          {"user": user, "password": password or f"pw-{user}"})
        if status == 200:
            self.csrf = body["csrf_token"]
        return status, headers, body


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

# Logout needs the CSRF token; without it 403, with it the session ends.
status, _, _ = admin.call("DELETE", "/api/v1/session")
check("logout_without_csrf_403", status == 403, status)
status, _, _ = admin.call("DELETE", "/api/v1/session", headers={"X-CSRF-Token": admin.csrf})
check("logout_with_csrf_200", status == 200, status)
status, _, _ = admin.call("GET", "/api/v1/tenants/a/ranking")
check("after_logout_401", status == 401, status)

sys.exit(1 if failures else 0)
