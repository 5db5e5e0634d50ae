//! The same assessment on an Apache DataFusion Ballista cluster: a scheduler and two executors
//! started as processes of this binary (`gridassess cluster …`), every metric of the sample
//! county computed on them (`--cluster`) and compared with the in-process answer; the guard,
//! the roles and the tenants as in-process. And the warehouse as an open format: delta-rs's
//! Python binding reads the committed rows, no more and no fewer.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Warehouse, bin, two_counties};

/// A process of the cluster, killed with the test; its stderr goes to `log`.
pub(crate) struct Process {
    pub(crate) child: Child,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log shows `line`, or fails with the log.
    pub(crate) fn wait_for(&mut self, line: &str) {
        let start = Instant::now();
        while !self.log().contains(line) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the process ended ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {line:?} within 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A port nothing listens on, with the next one free too (an executor takes both).
pub(crate) fn free_ports() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = first.local_addr().expect("addr").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

pub(crate) struct Cluster {
    scheduler: Process,
    pub(crate) executors: Vec<Process>,
    pub(crate) address: String,
    _logs: tempfile::TempDir,
}

/// A scheduler and `executors` executors of `warehouse`, each registered.
fn start_cluster(warehouse: &Path, executors: usize) -> Cluster {
    start_cluster_with(warehouse, executors, &[], &[])
}

/// [`start_cluster`], every process with `env` and each executor with `executor_args` too.
pub(crate) fn start_cluster_with(
    warehouse: &Path,
    executors: usize,
    env: &[(String, String)],
    executor_args: &[&str],
) -> Cluster {
    let logs = tempfile::tempdir().expect("logs");
    let spawn = |name: &str, args: &[String]| {
        let log = logs.path().join(format!("{name}.log"));
        let child = bin()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("GRIDASSESS_WAREHOUSE", warehouse)
            .env(
                "GRIDASSESS_LOG",
                "warn,ballista_executor=info,ballista_scheduler=info,server=info",
            )
            .args(args)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start a cluster process");
        Process { child, log }
    };
    let port = free_ports();
    let mut scheduler = spawn(
        "scheduler",
        &[
            "cluster".into(),
            "scheduler".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ],
    );
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the scheduler did not listen:\n{}",
            scheduler.log()
        );
        if let Ok(Some(status)) = scheduler.child.try_wait() {
            panic!("the scheduler ended ({status}):\n{}", scheduler.log());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let executors = (0..executors)
        .map(|i| {
            let mut args: Vec<String> = vec![
                "cluster".into(),
                "executor".into(),
                "--scheduler".into(),
                format!("127.0.0.1:{port}"),
                "--listen".into(),
                format!("127.0.0.1:{}", free_ports()),
                "--slots".into(),
                "2".into(),
            ];
            args.extend(executor_args.iter().map(|a| a.to_string()));
            let mut executor = spawn(&format!("executor-{i}"), &args);
            executor.wait_for("Executor registration succeed");
            executor
        })
        .collect();
    Cluster {
        scheduler,
        executors,
        address: format!("df://127.0.0.1:{port}"),
        _logs: logs,
    }
}

/// gridassess on `warehouse`, in-process or on `cluster`, for a test to add its arguments (and
/// any environment of its own) to.
fn gridassess(warehouse: &Path, cluster: Option<&str>) -> std::process::Command {
    let mut command = bin();
    command.env("GRIDASSESS_WAREHOUSE", warehouse);
    if let Some(address) = cluster {
        command.args(["--cluster", address]);
    }
    command
}

/// Runs gridassess on `warehouse`, in-process or on `cluster`; returns the output.
fn run(warehouse: &Path, cluster: Option<&str>, args: &[&str]) -> std::process::Output {
    gridassess(warehouse, cluster)
        .args(args)
        .output()
        .expect("run gridassess")
}

pub(crate) fn ok(warehouse: &Path, cluster: Option<&str>, args: &[&str]) -> String {
    let out = run(warehouse, cluster, args);
    assert!(
        out.status.success(),
        "gridassess {args:?} (cluster: {cluster:?}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Asserts that `out` failed and that its stderr says `says`.
pub(crate) fn assert_refused(out: &std::process::Output, says: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(says),
        "{what} was not refused with {says:?}: {stderr}"
    );
}

/// The first members' names of tenant a as an analyst reads them: masked.
pub(crate) const MASKED_NAMES: &[&str] = &[
    "sql",
    "--tenant",
    "a",
    "--role",
    "analyst",
    "--format",
    "csv",
    "SELECT member_id, name FROM members ORDER BY member_id LIMIT 5",
];

/// Every metric command of the sample county (tenant a), as the CLI's CSV.
pub(crate) const METRICS: &[&[&str]] = &[
    &["assess", "--tenant", "a", "--period", "2024-B6"],
    &["assess", "--tenant", "a", "--year", "2024"],
    &["coverage", "--tenant", "a"],
    &["coverage", "--tenant", "a", "--level", "0"],
    &["coverage", "--tenant", "a", "--findings"],
    &["attendance", "--tenant", "a"],
    &["attendance", "--tenant", "a", "--level", "1"],
    &["attendance", "--tenant", "a", "--compliance"],
    &["attendance", "--tenant", "a", "--alerts"],
    &["points", "--tenant", "a", "--year", "2024"],
    &["grid", "--tenant", "a"],
    &["grid", "--tenant", "a", "--level", "2"],
];

#[test]
fn the_sample_countys_every_metric_on_two_executors_equals_the_in_process_answer() {
    let dir = tempfile::tempdir().expect("dir");
    let wh = dir.path().join("wh");
    two_counties(&wh);
    let cluster = start_cluster(&wh, 2);
    let on = Some(cluster.address.as_str());

    for args in METRICS {
        let mut args = args.to_vec();
        args.extend(["--format", "csv"]);
        let here = ok(&wh, None, &args);
        let there = ok(&wh, on, &args);
        assert!(here.lines().count() > 1, "{args:?} answered nothing");
        assert_eq!(here, there, "{args:?}: the cluster's answer differs");

        // A client whose DATAFUSION_* variables ask for the joins Ballista 55 gets wrong (one
        // side collected into one partition) is planned as any other.
        let out = gridassess(&wh, on)
            .env("DATAFUSION_OPTIMIZER_REPARTITION_JOINS", "false")
            .env(
                "DATAFUSION_OPTIMIZER_HASH_JOIN_SINGLE_PARTITION_THRESHOLD",
                "1000000000",
            )
            .args(&args)
            .output()
            .expect("run gridassess");
        let hostile = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            here,
            hostile,
            "{args:?} with a client's own join settings: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Roles and tenants as in-process: an analyst sees names masked; a city analyst sees both
    // counties with their ids; a viewer sees no member rows at all.
    let same = |args: &[&str]| {
        let here = ok(&wh, None, args);
        assert_eq!(here, ok(&wh, on, args), "{args:?}");
        here
    };
    let masked = same(MASKED_NAMES);
    assert!(masked.contains('*'), "names are masked: {masked}");
    let city = same(&[
        "sql",
        "--tenant",
        "a,b",
        "--role",
        "analyst",
        "--format",
        "csv",
        "SELECT tenant_id, count(*) AS n FROM red_flag_ranking GROUP BY tenant_id ORDER BY tenant_id",
    ]);
    assert!(city.contains("\na,") && city.contains("\nb,"), "{city}");
    for cluster in [None, on] {
        let out = run(
            &wh,
            cluster,
            &[
                "sql",
                "--tenant",
                "a",
                "--role",
                "viewer",
                "SELECT * FROM members",
            ],
        );
        assert!(!out.status.success(), "a viewer read members ({cluster:?})");
    }

    // The guard's bounded functions keep their bound on the executors.
    ok(
        &wh,
        None,
        &["tenant", "limits", "a", "--max-function-output-mb", "1"],
    );
    for cluster in [None, on] {
        let out = run(
            &wh,
            cluster,
            &[
                "sql",
                "--tenant",
                "a",
                "SELECT length(repeat(name, 1000000)) FROM members",
            ],
        );
        assert_refused(
            &out,
            "max_function_output_mb",
            &format!("repeat ({cluster:?})"),
        );
    }

    // `serve --cluster`: psql logs in as before; its queries of the warehouse run on the
    // cluster, and what it asks of the catalog (`\dt`) is answered by the server itself.
    crate::common::cli(
        &wh,
        &["user", "add", "wang", "--tenant", "a", "--role", "analyst"],
        Some("pw-wang\n"),
    );
    let mut serve = gridassess(&wh, on)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(serve.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let port = line.trim().rsplit(':').next().expect("port").to_string();
    let psql = |sql: &str| {
        std::process::Command::new("psql")
            .env("PGPASSWORD", "pw-wang")
            .env("PGSSLMODE", "disable")
            .env("PGCONNECT_TIMEOUT", "10")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "wang",
                "-d",
                "a",
                "-X",
                "-A",
                "-t",
            ])
            .args(["-c", sql])
            .output()
            .expect("psql runs (.ci/run installs postgresql-client)")
    };
    let query = "SELECT branch_id, count(*) FROM members GROUP BY branch_id ORDER BY branch_id";
    let over_wire = psql(query);
    let here = ok(
        &wh,
        None,
        &[
            "sql", "--tenant", "a", "--role", "analyst", "--format", "csv", query,
        ],
    );
    assert!(
        over_wire.status.success(),
        "{}",
        String::from_utf8_lossy(&over_wire.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&over_wire.stdout).replace('|', ","),
        here.split_once('\n').expect("header").1,
        "psql through a server on the cluster"
    );
    let tables = psql("\\dt");
    assert!(
        tables.status.success() && String::from_utf8_lossy(&tables.stdout).contains("members"),
        "\\dt: {}",
        String::from_utf8_lossy(&tables.stderr)
    );
    let _ = serve.kill();
    let _ = serve.wait();

    // Both executors took tasks.
    for executor in &cluster.executors {
        assert!(
            executor.log().contains("Execute task"),
            "an executor ran nothing:\n{}",
            executor.log()
        );
    }
    drop(cluster.scheduler);
}

/// A query sent from a machine with fewer cores than the cluster (an office PC driving a
/// rack) is still split into one partition per executor core: each stage's tasks reach every
/// executor, and each join's side held in memory is a smaller share.
#[test]
fn a_query_from_a_client_with_fewer_cores_is_split_for_every_core_of_the_cluster() {
    let dir = tempfile::tempdir().expect("dir");
    let wh = dir.path().join("wh");
    two_counties(&wh);
    // Two executors of two slots each: four cores. The client asks for one partition.
    let mut cluster = start_cluster(&wh, 2);
    cluster
        .scheduler
        .wait_for("the executors have 4 cores; queries are split for them");
    let out = gridassess(&wh, Some(&cluster.address))
        .env("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "1")
        .args(["grid", "--tenant", "a", "--format", "csv"])
        .output()
        .expect("run gridassess");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The scheduler logs each job's plan; every exchange in it says into how many partitions.
    let log = cluster.scheduler.log();
    let exchanges: Vec<&str> = log
        .lines()
        .filter_map(|line| line.split("RepartitionExec: partitioning=Hash(").nth(1))
        .collect();
    assert!(
        log.contains("Submitting execution graph"),
        "no plan in the scheduler's log:\n{log}"
    );
    assert!(
        !exchanges.is_empty(),
        "the plan was not split at all:\n{log}"
    );
    for exchange in exchanges {
        // `[keys…], N), input_partitions=…`: a key may hold commas and brackets, N cannot.
        let partitions = exchange
            .rsplit_once("), input_partitions")
            .and_then(|(hash, _)| hash.rsplit(", ").next());
        assert_eq!(partitions, Some("4"), "an exchange of the plan: {exchange}");
    }
}

#[test]
fn cluster_flags_are_checked_before_anything_runs() {
    let w = Warehouse::new();
    for (args, says) in [
        (
            &[
                "--cluster",
                "http://127.0.0.1:50050",
                "grid",
                "--tenant",
                "t",
            ][..],
            "df://HOST:PORT",
        ),
        (
            &[
                "--cluster",
                "df://127.0.0.1:50050",
                "ingest",
                "--tenant",
                "t",
                "x.csv",
            ][..],
            "--cluster is for the query commands",
        ),
        (
            &[
                "cluster",
                "executor",
                "--scheduler",
                "127.0.0.1:1",
                "--listen",
                "127.0.0.1:65535",
            ][..],
            "choose a lower port",
        ),
    ] {
        assert_refused(&w.run(args), says, &format!("{args:?}"));
    }
    // An executor refuses to start where the warehouse cannot be read.
    let out = bin()
        .env("GRIDASSESS_WAREHOUSE", w.dir.path().join("nowhere"))
        .args([
            "cluster",
            "executor",
            "--scheduler",
            "127.0.0.1:1",
            "--listen",
            "127.0.0.1:1",
        ])
        .output()
        .expect("run");
    assert_refused(
        &out,
        "cannot read the warehouse",
        "an executor without a warehouse",
    );
    // A cluster that is not there: the query fails, naming the cluster.
    let out = w.run(&[
        "--cluster",
        &format!("df://127.0.0.1:{}", free_ports()),
        "sql",
        "--tenant",
        "t",
        "SELECT count(*) FROM branches",
    ]);
    assert_refused(
        &out,
        "cannot reach the cluster's scheduler at df://",
        "no scheduler",
    );
}

#[test]
fn another_engine_reads_the_committed_rows_no_more_and_no_fewer() {
    let w = Warehouse::new();
    w.load_sample();
    let read = read_by_delta_rs(&w.path(), "t", &["--stray", "branches"], &[]);
    assert_same_rows(&|args| ok(&w.path(), None, args), "t", &read);
    // The stray version is there for a reader of the newest version, and for neither of us.
    let branches = &read["branches"];
    assert_eq!(
        branches["newest_rows"].as_u64(),
        branches["rows"].as_u64().map(|n| n + 1),
        "{branches}"
    );
}

/// Tenant `tenant`'s committed tables as delta-rs's Python binding reads them
/// (`tests/cluster/open_format.py`, run with `args` and `env`).
pub(crate) fn read_by_delta_rs(
    warehouse: &Path,
    tenant: &str,
    args: &[&str],
    env: &[(String, String)],
) -> serde_json::Value {
    let keys: serde_json::Map<String, serde_json::Value> = model::schema::TABLES
        .iter()
        .map(|t| (t.name.to_string(), serde_json::json!(t.primary_key)))
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/open_format.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(warehouse.join("tenants").join(tenant))
        .arg(serde_json::Value::Object(keys).to_string())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("python3 (tests/run.sh installs deltalake)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Asserts that every table `read` (from [`read_by_delta_rs`]) holds the rows gridassess
/// (`gridassess`: runs the CLI, returns stdout) answers for, by primary key: no more and no
/// fewer.
pub(crate) fn assert_same_rows(
    gridassess: &dyn Fn(&[&str]) -> String,
    tenant: &str,
    read: &serde_json::Value,
) {
    for table in model::schema::TABLES {
        let theirs = &read[table.name];
        let key = table
            .primary_key
            .iter()
            .map(|c| format!("CAST({c} AS VARCHAR)"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let ours = gridassess(&[
            "sql",
            "--tenant",
            tenant,
            "--format",
            "csv",
            &format!("SELECT {key} AS k FROM {} ORDER BY k", table.name),
        ]);
        let mut ours: Vec<&str> = ours.lines().skip(1).collect();
        ours.sort_unstable();
        let theirs_keys: Vec<&str> = theirs["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k.as_str().expect("key"))
            .collect();
        assert!(!ours.is_empty(), "{} is empty", table.name);
        assert_eq!(ours, theirs_keys, "{}: the rows differ", table.name);
    }
}
