"""Drives the console in Debian's chromium (selenium + chromium-driver) through an office
worker's bimonthly cycle against a running `gridassess serve --http` (see tests/it/web.rs):
log in, upload the sample county's files into the empty county s, upload a township's
corrections with two bad rows and a branch renamed to markup, download the rejections workbook
and read it with openpyxl, see the ranking with its flag holder, run a SQL query, open the
report. Prints one line per check and saves a screenshot of each page into OUT; exits 1 if any
check failed.

    python3 browser.py BASE_URL OUT FLAG_HOLDER SAMPLE_DIR

FLAG_HOLDER is `township branch` of the latest period's flag (the CLI's answer).
"""

import csv
import glob
import io
import os
import sys
import tempfile
import time

import openpyxl
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE, OUT, FLAG_HOLDER, SAMPLE = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4]
os.makedirs(OUT, exist_ok=True)
downloads = tempfile.mkdtemp(prefix="console-downloads-")
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok " if ok else "FAIL ") + name + (" " + str(detail) if detail else ""), flush=True)
    if not ok:
        failures += 1


def submit(element):
    """Clicks a form's button and waits for the page the server answers with. (A mark left in
    the old page tells them apart: chromedriver's staleness check can fail with an inspector
    error of its own while the page is being replaced.)"""
    driver.execute_script("window.__submitted = true")

    def answered(d):
        try:
            return d.execute_script(
                "return window.__submitted === undefined && document.readyState === 'complete'")
        except WebDriverException:
            return False  # between the two pages

    element.click()
    WebDriverWait(driver, 120).until(answered)


def shot(name):
    # The whole page, not just the window: set the window to the document's height first.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 6000))
    driver.save_screenshot(os.path.join(OUT, f"{name}.png"))
    driver.set_window_size(1280, 1000)


def corrections(folder, keep_name):
    """A township's corrections: members.csv (GBK, as the sample) with one good row and two bad
    ones (an unknown status, a branch that does not exist), and branches.csv renaming a branch
    (not `keep_name`'s) to markup."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(SAMPLE, "党员.csv"), encoding="gbk", newline="") as f:
        rows = list(csv.reader(f))
    header, first = rows[0], rows[1]
    status = header.index("党员状态")
    branch = header.index("所在支部")
    bad_status = list(first)
    bad_status[0], bad_status[status] = "DY999901", "不知道"
    bad_branch = list(first)
    bad_branch[0], bad_branch[branch] = "DY999902", "ZB9999"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, first, bad_status, bad_branch])
    with open(os.path.join(folder, "党员.csv"), "w", encoding="gbk", newline="") as f:
        f.write(out.getvalue())
    with open(os.path.join(SAMPLE, "党组织.csv"), encoding="gbk", newline="") as f:
        rows = list(csv.reader(f))
    name = rows[0].index("组织名称")
    target = next(r for r in rows[1:] if r[name] not in keep_name)
    target[name] = "<script>window.pwned=1</script>" + target[name]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([rows[0], target])
    with open(os.path.join(folder, "党组织.csv"), "w", encoding="gbk", newline="") as f:
        f.write(out.getvalue())
    return [os.path.join(folder, "党员.csv"), os.path.join(folder, "党组织.csv")]


options = Options()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
            "--lang=zh-CN", "--disable-dev-shm-usage"):
    options.add_argument(arg)
options.add_experimental_option("prefs", {
    "download.default_directory": downloads,
    "download.prompt_for_download": False,
})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(120)
try:
    driver.get(BASE + "/")
    check("home_sends_to_login", driver.current_url.endswith("/login"), driver.current_url)
    shot("01-login")
    driver.find_element(By.NAME, "user").send_keys("office")
    driver.find_element(By.NAME, "password").send_keys("pw-office")
    submit(driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    check("logged_in_home", "示范县" in driver.page_source and "尚未导入数据" in driver.page_source,
          driver.current_url)
    shot("02-home-empty")

    # The county's files, as the township sent them.
    driver.get(BASE + "/t/s/upload")
    sample = sorted(glob.glob(os.path.join(SAMPLE, "*.csv")) + glob.glob(os.path.join(SAMPLE, "*.xlsx")))
    driver.find_element(By.ID, "files").send_keys("\n".join(sample))
    submit(driver.find_element(By.ID, "upload"))
    text = driver.find_element(By.TAG_NAME, "main").text
    check("sample_upload_reconciles", "拒绝 0 行" in text and "第 1 批导入结果" in text, text[:200])
    shot("03-upload-sample")

    # A township's corrections: two rows are rejected and a branch is renamed to markup.
    files = corrections(os.path.join(tempfile.mkdtemp(), "东富镇补报"), FLAG_HOLDER)
    driver.find_element(By.ID, "files").send_keys("\n".join(files))
    submit(driver.find_element(By.ID, "upload"))
    text = driver.find_element(By.TAG_NAME, "main").text
    check("corrections_reconcile", "拒绝 2 行" in text, text[:300])
    issues = driver.find_elements(By.CSS_SELECTOR, "table.issues tbody tr")
    check("rejections_listed_with_line_and_value",
          any("不知道" in r.text and "党员.csv" in r.text for r in issues), [r.text for r in issues])
    shot("04-upload-rejections")
    driver.find_element(By.ID, "rejections-xlsx").click()
    workbook = None
    for _ in range(100):
        done = [f for f in glob.glob(os.path.join(downloads, "*.xlsx"))]
        if done:
            workbook = done[0]
            break
        time.sleep(0.2)
    check("rejections_xlsx_downloaded", workbook is not None, os.listdir(downloads))
    if workbook:
        rows = list(openpyxl.load_workbook(workbook).active.iter_rows(values_only=True))
        check("rejections_xlsx_reads_in_openpyxl",
              rows[0][:4] == ("批次", "表", "文件", "行")
              and any("不知道" in [str(c) for c in r] for r in rows[1:])
              and any("ZB9999" in [str(c) for c in r] for r in rows[1:]), rows[:4])

    # The ranking: the flag holder, as the CLI computes it, marked.
    driver.get(BASE + "/t/s/ranking")
    flagged = driver.find_elements(By.CSS_SELECTOR, "table.data tbody tr.flag")
    holder = driver.find_elements(By.CSS_SELECTOR, ".flag-holders")
    check("ranking_has_rows", len(driver.find_elements(By.CSS_SELECTOR, "table.data tbody tr")) > 0)
    check("ranking_shows_the_flag_holder",
          bool(holder) and FLAG_HOLDER in holder[0].text
          and any(FLAG_HOLDER.split(" ")[-1] in r.text for r in flagged),
          (holder[0].text if holder else None, [r.text[:40] for r in flagged][:3]))
    check("ranking_has_a_chart", bool(driver.find_elements(By.CSS_SELECTOR, "figure.chart img")))
    shot("05-ranking")
    # A branch named with markup is shown as text, and runs nothing.
    markup = driver.find_elements(By.XPATH, "//td[contains(., '<script>')]")
    pwned = driver.execute_script("return window.pwned === undefined ? null : window.pwned")
    try:
        driver.switch_to.alert
        alerted = True
    except NoAlertPresentException:
        alerted = False
    check("markup_in_data_stays_text", bool(markup) and pwned is None and not alerted,
          (len(markup), pwned))

    # The period picker: another period's ranking.
    options_ = driver.find_elements(By.CSS_SELECTOR, "select[name=period] option")
    if len(options_) > 1:
        options_[-1].click()
        submit(driver.find_element(By.CSS_SELECTOR, "form.pick button"))
        check("period_picker", "period=" in driver.current_url, driver.current_url)

    for page in ("ranking-year", "coverage", "findings", "attendance", "compliance", "alerts",
                 "points", "grid"):
        driver.get(BASE + f"/t/s/{page}")
        ok = driver.find_elements(By.CSS_SELECTOR, "table.data tbody tr")
        check(f"{page}_page_renders", bool(ok), driver.title)
        shot(f"06-{page}")

    # SQL: typed, run, a grid of rows.
    driver.get(BASE + "/t/s/sql")
    box = driver.find_element(By.ID, "sql")
    box.clear()
    box.send_keys("select branch_name, total from red_flag_ranking order by total desc limit 5")
    submit(driver.find_element(By.ID, "run"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#sql-result tbody tr")
    check("sql_query_runs", len(rows) == 5, driver.find_element(By.TAG_NAME, "main").text[:300])
    shot("07-sql")
    box = driver.find_element(By.ID, "sql")
    box.clear()
    box.send_keys("drop table members")
    submit(driver.find_element(By.ID, "run"))
    check("sql_refuses_ddl", bool(driver.find_elements(By.ID, "sql-error")))

    driver.get(BASE + "/t/s/report")
    check("report_page_has_charts",
          len(driver.find_elements(By.CSS_SELECTOR, "figure.chart img")) >= 3)
    shot("08-report")
    driver.get(driver.find_element(By.ID, "report-html").get_attribute("href"))
    check("report_html_opens", "流动红旗" in driver.page_source)
    shot("09-report-html")

    for page in ("rules", "users"):
        driver.get(BASE + f"/t/s/{page}")
        check(f"{page}_page_renders", "<h1>" in driver.page_source)
        shot(f"10-{page}")
    driver.get(BASE + "/")
    check("home_shows_the_load", "第 2 批" in driver.page_source)
    shot("11-home")
finally:
    driver.quit()
sys.exit(1 if failures else 0)
