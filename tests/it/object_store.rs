//! A warehouse whose tables live in an S3-compatible object store (`init --tables s3://…`),
//! against a real S3 server: moto's (`moto[server]` from PyPI, which tests/run.sh installs),
//! started by each test on a free port. The manifest stays in the warehouse folder; the
//! tables, loads and reads, a cluster's executors (with no warehouse folder at all) and
//! delta-rs all go through the S3 API.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{
    MASKED_NAMES, METRICS, assert_refused, assert_same_rows, free_ports, read_by_delta_rs,
    start_cluster_with,
};
use crate::common::{bin, two_counties};

/// A moto S3 server on a free port, stopped with the test, and one empty bucket in it.
struct S3 {
    server: Child,
    port: u16,
    bucket: &'static str,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl S3 {
    fn start() -> S3 {
        let port = free_ports();
        let server = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (tests/run.sh installs moto[server])");
        let s3 = S3 {
            server,
            port,
            bucket: "county-tables",
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto_server did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s3.python(&format!(
            "s3.create_bucket(Bucket={:?})",
            s3.bucket.to_string()
        ));
        s3
    }

    /// What gridassess, its cluster and delta-rs are given: the endpoint and credentials.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "county-office".into()),
            ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// Runs `code` with `s3`, a boto3 client of this server; returns its stdout.
    fn python(&self, code: &str) -> String {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', \
             region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')\n{code}",
            self.port
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Every key stored under `prefix`.
    fn keys(&self, prefix: &str) -> Vec<String> {
        self.python(&format!(
            "p = s3.get_paginator('list_objects_v2')\n\
             for page in p.paginate(Bucket={:?}, Prefix={prefix:?}):\n    \
             for o in page.get('Contents', []): print(o['Key'])",
            self.bucket.to_string()
        ))
        .lines()
        .map(str::to_string)
        .collect()
    }
}

fn run(s3: &S3, warehouse: &Path, cluster: Option<&str>, args: &[&str]) -> Output {
    let mut command = bin();
    command
        .envs(s3.env())
        .env("GRIDASSESS_WAREHOUSE", warehouse);
    if let Some(address) = cluster {
        command.args(["--cluster", address]);
    }
    command.args(args).output().expect("run gridassess")
}

fn ok(s3: &S3, warehouse: &Path, cluster: Option<&str>, args: &[&str]) -> String {
    let out = run(s3, warehouse, cluster, args);
    assert!(
        out.status.success(),
        "gridassess {args:?} (cluster: {cluster:?}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Loads the bundled sample county into `tenant`.
fn load_sample(s3: &S3, warehouse: &Path, tenant: &str) {
    let sample = datasets::sample_dir();
    let sample = sample.to_str().expect("path");
    ok(s3, warehouse, None, &["ingest", "--tenant", tenant, sample]);
}

#[test]
fn a_county_whose_tables_are_in_s3_gets_the_same_answers_here_and_on_a_cluster() {
    let s3 = S3::start();
    let dir = tempfile::tempdir().expect("dir");
    // The same county in a warehouse folder, for the answers to compare with.
    let local = dir.path().join("local");
    two_counties(&local);

    let wh = dir.path().join("wh");
    let said = ok(&s3, &wh, None, &["init", "--tables", &s3.url("gridassess")]);
    assert!(
        said.contains("its tables in s3://county-tables/gridassess/"),
        "{said}"
    );
    ok(&s3, &wh, None, &["tenant", "add", "a", "--name", "甲县"]);
    load_sample(&s3, &wh, "a");

    // The data went to the bucket; the folder keeps the manifest and no table.
    assert!(!wh.join("tenants/a/tables").exists());
    assert!(wh.join("tenants/a/current.json").is_file());
    let keys = s3.keys("gridassess/tenants/a/tables/members/");
    assert!(
        keys.iter().any(|k| k.ends_with(".parquet"))
            && keys.iter().any(|k| k.contains("_delta_log/")),
        "{keys:?}"
    );

    // Executors on machines without the warehouse folder: they are told where the tables are,
    // and read them with their own credentials.
    let elsewhere = dir.path().join("not-here");
    let tables = s3.url("gridassess");
    let cluster = start_cluster_with(&elsewhere, 2, &s3.env(), &["--tables", &tables]);
    let on = Some(cluster.address.as_str());
    for args in METRICS {
        let mut args = args.to_vec();
        args.extend(["--format", "csv"]);
        let expected = crate::cluster::ok(&local, None, &args);
        assert!(expected.lines().count() > 1, "{args:?} answered nothing");
        assert_eq!(ok(&s3, &wh, None, &args), expected, "{args:?} from S3");
        assert_eq!(
            ok(&s3, &wh, on, &args),
            expected,
            "{args:?} on the cluster from S3"
        );
    }
    let masked = ok(&s3, &wh, on, MASKED_NAMES);
    assert!(masked.contains('*'), "names are masked: {masked}");
    for executor in &cluster.executors {
        assert!(
            executor.log().contains("Execute task"),
            "an executor ran nothing:\n{}",
            executor.log()
        );
    }
}

#[test]
fn another_engine_reads_the_committed_rows_from_s3_and_a_killed_load_is_rolled_back() {
    let s3 = S3::start();
    let dir = tempfile::tempdir().expect("dir");
    let wh = dir.path().join("wh");
    ok(&s3, &wh, None, &["init", "--tables", &s3.url("w")]);
    ok(&s3, &wh, None, &["tenant", "add", "t", "--name", "测试县"]);
    load_sample(&s3, &wh, "t");

    // delta-rs reads the committed versions from the bucket. It first appends a version no
    // manifest names, as a load killed between its table commits and the manifest leaves.
    let tables = s3.url("w/tenants/t/tables");
    let read = read_by_delta_rs(
        &wh,
        "t",
        &["--stray", "branches", "--tables", &tables],
        &s3.env(),
    );
    assert_same_rows(&|args| ok(&s3, &wh, None, args), "t", &read);
    let branches = &read["branches"];
    assert_eq!(
        branches["newest_rows"].as_u64(),
        branches["rows"].as_u64().map(|n| n + 1),
        "{branches}"
    );

    // The next load rolls the stray version back (a Delta restore, in the bucket), so a reader
    // of the newest version sees the committed rows again.
    load_sample(&s3, &wh, "t");
    let read = read_by_delta_rs(&wh, "t", &["--tables", &tables], &s3.env());
    assert_same_rows(&|args| ok(&s3, &wh, None, args), "t", &read);
    for table in model::schema::TABLES {
        let t = &read[table.name];
        assert_eq!(t["newest_rows"], t["rows"], "{}: {t}", table.name);
    }
}

#[test]
fn an_object_store_that_cannot_be_used_is_named_before_anything_is_written() {
    let s3 = S3::start();
    let dir = tempfile::tempdir().expect("dir");
    let init =
        |wh: &str, url: &str| run(&s3, &dir.path().join(wh), None, &["init", "--tables", url]);

    let out = init("a", "s3://no-such-bucket/w");
    assert_refused(
        &out,
        "cannot reach the tables at s3://no-such-bucket/w/: the bucket does not exist",
        "a missing bucket",
    );
    assert!(!dir.path().join("a").join("gridassess.json").exists());

    let out = init("b", "file:///srv/tables");
    assert_refused(&out, "only s3://BUCKET/PREFIX is supported", "a file URL");
    let out = init("c", "s3://county-tables/w?secret=x");
    assert_refused(&out, "come from the environment", "a secret in the URL");

    // A prefix that holds another warehouse's tables is not taken over.
    ok(
        &s3,
        &dir.path().join("d"),
        None,
        &["init", "--tables", &s3.url("shared")],
    );
    ok(
        &s3,
        &dir.path().join("d"),
        None,
        &["tenant", "add", "t", "--name", "测试县"],
    );
    let out = init("e", &s3.url("shared"));
    assert_refused(&out, "is not empty", "a prefix in use");

    // An executor whose credentials or bucket are wrong does not start.
    let out = bin()
        .envs(s3.env())
        .env("GRIDASSESS_WAREHOUSE", dir.path().join("none"))
        .args([
            "cluster",
            "executor",
            "--scheduler",
            "127.0.0.1:1",
            "--tables",
            "s3://no-such-bucket/w",
        ])
        .output()
        .expect("run gridassess");
    assert_refused(
        &out,
        "the executor cannot read the tables",
        "an executor without the bucket",
    );
}

#[test]
fn a_tenant_whose_adding_was_stopped_is_added_again_over_its_tables() {
    let s3 = S3::start();
    let dir = tempfile::tempdir().expect("dir");
    let wh = dir.path().join("wh");
    ok(&s3, &wh, None, &["init", "--tables", &s3.url("w")]);
    let add = run(&s3, &wh, None, &["tenant", "add", "t", "--name", "测试县"]);
    assert!(add.status.success());
    assert_eq!(
        String::from_utf8_lossy(&add.stderr),
        "",
        "adding says nothing more"
    );
    // Stopped before its folder was renamed into place: the tables are in the bucket, the
    // tenant is not in the folder.
    std::fs::remove_dir_all(wh.join("tenants/t")).expect("remove");
    assert!(!s3.keys("w/tenants/t/tables/").is_empty());

    ok(&s3, &wh, None, &["tenant", "add", "t", "--name", "测试县"]);
    load_sample(&s3, &wh, "t");
    let count = ok(
        &s3,
        &wh,
        None,
        &[
            "sql",
            "--tenant",
            "t",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM branches",
        ],
    );
    assert_eq!(count, "n\n38\n");
}
