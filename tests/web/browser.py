"""Drives the console in Debian's chromium (selenium + chromium-driver) against a running
`gridassess serve --http` on the sample county (see tests/it/web.rs). Prints one line per check
and saves a screenshot of each page into OUT; exits 1 if any check failed.

    python3 browser.py BASE_URL OUT FLAG_HOLDER
"""

import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

BASE, OUT, FLAG_HOLDER = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
os.makedirs(OUT, exist_ok=True)
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok " if ok else "FAIL ") + name + (" " + str(detail) if detail else ""), flush=True)
    if not ok:
        failures += 1


options = Options()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600",
            "--lang=zh-CN"):
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(60)
try:
    driver.get(BASE + "/")
    check("home_sends_to_login", driver.current_url.endswith("/login"), driver.current_url)
    driver.save_screenshot(os.path.join(OUT, "login.png"))
    driver.find_element(By.NAME, "user").send_keys("qa_admin")
    driver.find_element(By.NAME, "password").send_keys("pw-qa_admin")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    check("logged_in_home", "我的县" in driver.page_source, driver.current_url)
    driver.save_screenshot(os.path.join(OUT, "home.png"))

    driver.get(BASE + "/t/a/ranking")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.data tbody tr")
    flagged = driver.find_elements(By.CSS_SELECTOR, "table.data tbody tr.flag")
    check("ranking_has_rows", len(rows) > 0, len(rows))
    check("ranking_shows_the_flag_holder",
          any(FLAG_HOLDER in r.text for r in flagged), [r.text[:40] for r in flagged][:3])
    driver.save_screenshot(os.path.join(OUT, "ranking.png"))

    for page in ("coverage", "attendance", "compliance", "points", "grid"):
        driver.get(BASE + f"/t/a/{page}")
        ok = driver.find_elements(By.CSS_SELECTOR, "table.data")
        check(f"{page}_page_renders", bool(ok))
        driver.save_screenshot(os.path.join(OUT, f"{page}.png"))

    # A branch name made of markup stays text (the templates escape it).
    check("no_script_from_data", not driver.find_elements(By.CSS_SELECTOR, "main script"))
finally:
    driver.quit()
sys.exit(1 if failures else 0)
