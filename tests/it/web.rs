//! The web console started for real (`gridassess serve --http`) and driven by real clients:
//! Python's standard HTTP client for the API (tests/web/api.py), and Debian's chromium through
//! selenium for an office worker's bimonthly cycle (tests/web/browser.py). `tests/run.sh`
//! installs chromium, chromium-driver and selenium.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::common::{bin, cli};

struct Console {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    warehouse: PathBuf,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counties a (the sample), b (the fixture, never granted to a's users) and s (empty, for the
/// browser's upload); users of a in every role, `office` the admin of s; the console on a
/// free port.
fn start(serve_args: &[&str]) -> Console {
    let dir = tempfile::tempdir().expect("dir");
    let wh = dir.path().join("wh");
    crate::common::two_counties(&wh);
    cli(&wh, &["tenant", "add", "s", "--name", "示范县"], None);
    for (user, tenant, role) in [
        ("qa_admin", "a", "admin"),
        ("qa_analyst", "a", "analyst"),
        ("qa_viewer", "a", "viewer"),
        ("office", "s", "admin"),
        // Reads a and b: not a county admin's to change.
        ("qa_city", "a,b", "analyst"),
    ] {
        cli(
            &wh,
            &["user", "add", user, "--tenant", tenant, "--role", role],
            Some(&format!("pw-{user}\n")),
        );
    }
    cli(
        &wh,
        &[
            "tenant",
            "limits",
            "a",
            "--timeout-seconds",
            "5",
            "--max-rows",
            "50000",
        ],
        None,
    );
    let mut child = bin()
        .env("GRIDASSESS_WAREHOUSE", &wh)
        .args(["serve", "--http", "127.0.0.1:0"])
        .args(serve_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("console line");
    let base = line
        .trim()
        .strip_prefix("console on ")
        .unwrap_or_else(|| panic!("no console address in {line:?}"))
        .to_string();
    Console {
        child,
        base,
        _dir: dir,
        warehouse: wh,
    }
}

/// What the CLI writes for each metric of county a, as `--format csv`: the API's `format=csv`
/// must equal it byte for byte. The API's defaults are the CLI's (the latest period with
/// scores and its year, coverage at level 2, grid at level 3).
fn cli_csvs(wh: &Path, out: &Path) {
    let latest = cli(
        wh,
        &[
            "sql",
            "--tenant",
            "a",
            "--format",
            "csv",
            "select max(period) as p from red_flag_ranking",
        ],
        None,
    );
    let period = latest.lines().nth(1).expect("a period").trim().to_string();
    let year = period[..4].to_string();
    let runs: [(&str, Vec<&str>); 9] = [
        ("ranking", vec!["assess", "--period", &period]),
        ("ranking-year", vec!["assess", "--year", &year]),
        ("coverage", vec!["coverage"]),
        ("findings", vec!["coverage", "--findings"]),
        ("attendance", vec!["attendance"]),
        ("compliance", vec!["attendance", "--compliance"]),
        ("alerts", vec!["attendance", "--alerts"]),
        ("points", vec!["points", "--year", &year]),
        ("grid", vec!["grid"]),
    ];
    std::fs::create_dir_all(out).expect("dir");
    for (metric, args) in runs {
        let mut args = args.clone();
        args.extend(["--tenant", "a", "--format", "csv"]);
        let csv = cli(wh, &args, None);
        std::fs::write(out.join(format!("{metric}.csv")), csv).expect("write");
    }
}

#[test]
fn the_api_answers_as_the_readme_documents() {
    let console = start(&["--max-upload-mb", "4"]);
    let cli_dir = console._dir.path().join("cli");
    cli_csvs(&console.warehouse, &cli_dir);
    crate::common::run_checks(
        "web",
        "api.py",
        &[console.base.clone(), cli_dir.display().to_string()],
        60,
    );
}

/// The branch that holds the red flag in county `tenant`'s latest period, as the ranking page
/// must show it: `township branch`.
fn flag_holder(wh: &Path, tenant: &str) -> String {
    let csv = cli(
        wh,
        &[
            "sql",
            "--tenant",
            tenant,
            "--format",
            "csv",
            "select group_name, branch_name from red_flag_ranking \
             where red_flag and period = (select max(period) from red_flag_ranking) \
             order by group_id limit 1",
        ],
        None,
    );
    csv.lines().nth(1).expect("a flag holder").replace(',', " ")
}

#[test]
fn an_office_worker_runs_the_bimonthly_cycle_in_a_real_browser() {
    let console = start(&[]);
    // County s is empty until the browser uploads the sample; its flag holder is then a's.
    let holder = flag_holder(&console.warehouse, "a");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    crate::common::run_checks(
        "web",
        "browser.py",
        &[
            console.base.clone(),
            shots.display().to_string(),
            holder,
            datasets::sample_dir().display().to_string(),
        ],
        15,
    );
}
