//! A grammar-based SQL fuzzer (in the spirit of SQLsmith and SQLancer's TLP) over two counties:
//! random queries from DataFusion's grammar — joins, CTEs, subqueries, windows, casts,
//! operators of every kind, deep and wide — run through the guard in sessions of county a's
//! admin, analyst and viewer. The oracle, for every case:
//!
//! - no panic and no abort (a panic inside the engine is an internal error: a failure here);
//! - an answer or a clean error within the time limit + 1 s;
//! - none of county b's canary values (ID numbers, phones, names and branch names of b alone)
//!   in any row or error; for the analyst, none of county a's raw ID numbers or phones;
//! - TLP: `count(*) where p` + `where not p` + `where p is null` equals `count(*)`.
//!
//! CI runs `GRIDASSESS_FUZZ_CASES` cases (3,000 by default) from `GRIDASSESS_FUZZ_SEED` (a
//! fixed default, printed); a longer run is the same test with more cases or other seeds:
//! `GRIDASSESS_FUZZ_CASES=100000 cargo test --test it fuzz -- --nocapture`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use engine::access::{Access, Role};
use engine::{QueryError, Session};

use crate::common::{run_in, two_counties};

const TIME_LIMIT: f64 = 2.0;

/// splitmix64: small, seedable, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A table or view a session holds, with its columns.
#[derive(Clone)]
struct Relation {
    name: String,
    columns: Vec<(String, DataType)>,
}

struct Grammar<'a> {
    rng: &'a mut Rng,
    relations: &'a [Relation],
}

const LITERALS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "100",
    "2147483647",
    "-9223372036854775808",
    "0.5",
    "1e308",
    "NULL",
    "''",
    "'a'",
    "'党支部'",
    "'%'",
    "'2024-B6'",
    "'2024-01-01'",
    "DATE '2024-03-01'",
    "TIMESTAMP '2024-01-01 08:00:00'",
    "INTERVAL '1 day'",
    "true",
    "false",
    "'x''y'",
    "'\\u0000'",
    "[1, 2, 3]",
    "make_array('a', NULL)",
    "NAMED_STRUCT('k', 1)",
];

const BINARY: &[&str] = &[
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "AND",
    "OR",
    "<<",
    ">>",
    "#",
    "&",
    "|",
    "~",
    "!~",
    "~*",
    "LIKE",
    "ILIKE",
    "NOT LIKE",
    "IS DISTINCT FROM",
    "@>",
    "<@",
    "->",
    "->>",
    "^",
];

const FUNCTIONS: &[(&str, usize)] = &[
    ("abs", 1),
    ("upper", 1),
    ("lower", 1),
    ("length", 1),
    ("trim", 1),
    ("reverse", 1),
    ("coalesce", 2),
    ("nullif", 2),
    ("substr", 3),
    ("left", 2),
    ("right", 2),
    ("concat", 3),
    ("repeat", 2),
    ("lpad", 2),
    ("rpad", 3),
    ("replace", 3),
    ("regexp_replace", 3),
    ("regexp_like", 2),
    ("split_part", 3),
    ("strpos", 2),
    ("md5", 1),
    ("sha256", 1),
    ("to_hex", 1),
    ("round", 2),
    ("floor", 1),
    ("ceil", 1),
    ("sqrt", 1),
    ("ln", 1),
    ("power", 2),
    ("date_part", 2),
    ("date_trunc", 2),
    ("to_char", 2),
    ("to_date", 1),
    ("to_timestamp", 1),
    ("now", 0),
    ("random", 0),
    ("range", 3),
    ("array_length", 1),
    ("array_repeat", 2),
    ("cardinality", 1),
    ("greatest", 3),
    ("least", 2),
    ("encode", 2),
    ("starts_with", 2),
    ("btrim", 2),
    ("initcap", 1),
    ("chr", 1),
    ("ascii", 1),
    ("uuid", 0),
    ("arrow_typeof", 1),
    ("arrow_cast", 2),
    ("generate_series", 2),
    ("array_agg", 1),
];

const TYPES: &[&str] = &[
    "INT",
    "BIGINT",
    "DOUBLE",
    "DECIMAL(10,2)",
    "TEXT",
    "DATE",
    "TIMESTAMP",
    "BOOLEAN",
    "VARCHAR",
    "BYTEA",
    "INTERVAL",
];

impl Grammar<'_> {
    fn relation(&mut self) -> Relation {
        self.rng.pick(self.relations).clone()
    }

    fn column(&mut self, r: &Relation) -> String {
        format!("\"{}\"", self.rng.pick(&r.columns).0)
    }

    fn expr(&mut self, r: &Relation, depth: usize) -> String {
        let leaf = depth == 0 || self.rng.chance(30);
        if leaf {
            return if self.rng.chance(65) {
                self.column(r)
            } else {
                self.rng.pick(LITERALS).to_string()
            };
        }
        let d = depth - 1;
        match self.rng.below(10) {
            0..=2 => format!(
                "({} {} {})",
                self.expr(r, d),
                self.rng.pick(BINARY),
                self.expr(r, d)
            ),
            3 | 4 => {
                let (f, n) = *self.rng.pick(FUNCTIONS);
                let args: Vec<String> = (0..n).map(|_| self.expr(r, d)).collect();
                format!("{f}({})", args.join(", "))
            }
            5 => format!("CAST({} AS {})", self.expr(r, d), self.rng.pick(TYPES)),
            6 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                self.predicate(r, d),
                self.expr(r, d),
                self.expr(r, d)
            ),
            7 => {
                let other = self.relation();
                // An aggregate, not `LIMIT 1`: TLP needs the same value in every query.
                format!(
                    "(SELECT max({}) FROM \"{}\")",
                    self.expr(&other, d),
                    other.name
                )
            }
            8 => format!("{}::{}", self.expr(r, d), self.rng.pick(TYPES)),
            _ => format!(
                "{} {} NULL",
                self.expr(r, d),
                self.rng.pick(&["IS", "IS NOT"])
            ),
        }
    }

    fn predicate(&mut self, r: &Relation, depth: usize) -> String {
        let d = depth.saturating_sub(1);
        match self.rng.below(8) {
            0 if depth > 0 => format!(
                "({} {} {})",
                self.predicate(r, d),
                self.rng.pick(&["AND", "OR"]),
                self.predicate(r, d)
            ),
            1 if depth > 0 => format!("NOT ({})", self.predicate(r, d)),
            2 => format!("{} IS NULL", self.expr(r, d)),
            3 => {
                let other = self.relation();
                let col = self.column(&other);
                format!(
                    "{} IN (SELECT {col} FROM \"{}\")",
                    self.expr(r, d),
                    other.name
                )
            }
            4 => {
                let other = self.relation();
                format!(
                    "EXISTS (SELECT 1 FROM \"{}\" WHERE {})",
                    other.name,
                    self.predicate(&other, d)
                )
            }
            5 => format!(
                "{} BETWEEN {} AND {}",
                self.expr(r, d),
                self.expr(r, d),
                self.expr(r, d)
            ),
            _ => format!(
                "{} {} {}",
                self.expr(r, d),
                self.rng.pick(&["=", "<>", "<", ">=", "LIKE"]),
                self.expr(r, d)
            ),
        }
    }

    fn select(&mut self, depth: usize) -> String {
        let r = self.relation();
        let t = &r.name;
        let width = 1 + self.rng.below(4);
        let exprs: Vec<String> = (0..width)
            .map(|i| format!("{} AS c{i}", self.expr(&r, depth)))
            .collect();
        let exprs = exprs.join(", ");
        let limit = format!(" LIMIT {}", self.rng.pick(&[0, 1, 10, 1000]));
        match self.rng.below(9) {
            0 => format!("SELECT {exprs} FROM \"{t}\"{limit}"),
            1 => format!(
                "SELECT {exprs} FROM \"{t}\" WHERE {} ORDER BY 1{limit}",
                self.predicate(&r, depth)
            ),
            2 => {
                let key = self.column(&r);
                let value = self.expr(&r, depth);
                let agg = self
                    .rng
                    .pick(&["count", "sum", "min", "max", "avg", "string_agg"]);
                let arg = if *agg == "string_agg" {
                    format!("CAST({value} AS TEXT), ','")
                } else {
                    value
                };
                format!(
                    "SELECT {key}, {agg}({arg}) FROM \"{t}\" GROUP BY 1 HAVING count(*) > {}{limit}",
                    self.rng.below(3)
                )
            }
            3 => {
                let other = self.relation();
                let (a, b) = (self.column(&r), self.column(&other));
                format!(
                    "SELECT {}, {} FROM \"{t}\" x {} JOIN \"{}\" y ON x.{a} = y.{b}{limit}",
                    format_args!("x.{a}"),
                    format_args!("y.{b}"),
                    self.rng.pick(&["", "LEFT", "FULL", "INNER"]),
                    other.name
                )
            }
            4 => format!(
                "WITH w AS ({}) SELECT * FROM w{limit}",
                self.select(depth.saturating_sub(1))
            ),
            5 => format!(
                "SELECT count(*) FROM ({}) u UNION ALL SELECT count(*) FROM ({}) v",
                self.select(depth.saturating_sub(1)),
                self.select(depth.saturating_sub(1))
            ),
            6 => {
                let (p, o) = (self.column(&r), self.column(&r));
                let f = self.rng.pick(&[
                    "row_number()",
                    "rank()",
                    "dense_rank()",
                    "count(*)",
                    "lag(1)",
                ]);
                let f = if *f == "lag(1)" {
                    format!("lag({o})")
                } else {
                    f.to_string()
                };
                format!("SELECT {p}, {f} OVER (PARTITION BY {p} ORDER BY {o}) FROM \"{t}\"{limit}")
            }
            7 => format!(
                "SELECT * FROM ({}) s WHERE c0 IS NOT NULL{limit}",
                self.select(depth.saturating_sub(1))
            ),
            _ => format!("SELECT DISTINCT {exprs} FROM \"{t}\"{limit}"),
        }
    }
}

/// Every text value of `batches`, with the columns of a cast of the rest to text.
fn texts(batches: &[arrow::array::RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for col in b.columns() {
            let Ok(text) = arrow::compute::cast(col, &DataType::Utf8) else {
                continue;
            };
            let text = text.as_string::<i32>();
            for i in 0..text.len() {
                if text.is_valid(i) {
                    out.push(text.value(i).to_string());
                }
            }
        }
    }
    out
}

async fn strings(session: &Session, sql: &str) -> HashSet<String> {
    let (_, batches) = session.sql(sql).await.expect(sql);
    texts(&batches)
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
}

async fn relations(session: &Session) -> Vec<Relation> {
    let mut out = Vec::new();
    for name in session.names() {
        let (schema, _) = session
            .sql(&format!("select * from \"{name}\" limit 0"))
            .await
            .expect("schema");
        out.push(Relation {
            name,
            columns: schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect(),
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_queries_never_panic_leak_or_contradict_themselves() {
    let dir = tempfile::tempdir().expect("dir");
    let wh = dir.path().join("wh");
    two_counties(&wh);
    for t in ["a", "b"] {
        run_in(
            &wh,
            &[
                "tenant",
                "limits",
                t,
                "--timeout-seconds",
                &TIME_LIMIT.to_string(),
                "--memory-mb",
                "256",
            ],
        );
    }
    let warehouse = warehouse::Warehouse::open(&wh).expect("warehouse");
    let open = |tenant: &str, role: Role| {
        let access = Access::new(vec![tenant.to_string()], role);
        let warehouse = &warehouse;
        async move { Session::open(warehouse, &access).await.expect("session") }
    };
    let (admin_a, admin_b) = (open("a", Role::Admin).await, open("b", Role::Admin).await);
    let sessions = [
        ("admin", admin_a.clone()),
        ("analyst", open("a", Role::Analyst).await),
        ("viewer", open("a", Role::Viewer).await),
    ];

    // County b's values that county a does not also hold.
    let a_values: HashSet<String> = {
        let mut all = HashSet::new();
        for r in relations(&admin_a).await {
            if r.name.starts_with("audit_") {
                continue;
            }
            all.extend(strings(&admin_a, &format!("select * from \"{}\"", r.name)).await);
        }
        all
    };
    let canaries: Vec<String> = strings(
        &admin_b,
        "select id_number from members union all select phone from members \
         union all select name from members union all select name from branches",
    )
    .await
    .into_iter()
    // (Not a part of any of a's values either: a substring of a's own value is not a leak.)
    .filter(|v| v.chars().count() >= 2 && !a_values.iter().any(|a| a.contains(v.as_str())))
    .collect();
    // County a's raw personal values, which its analyst sees only masked.
    let raw: Vec<String> = strings(
        &admin_a,
        "select id_number from members union all select phone from members",
    )
    .await
    .into_iter()
    .filter(|v| v.len() >= 7)
    .collect();
    assert!(
        canaries.len() > 5 && raw.len() > 100,
        "{} {}",
        canaries.len(),
        raw.len()
    );

    let cases: usize = std::env::var("GRIDASSESS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let seed: u64 = std::env::var("GRIDASSESS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        // One fixed seed in CI, so a run fails for a change and not for the dice; other
        // seeds explore more.
        .unwrap_or(20_261_202);
    println!("fuzz: {cases} cases, GRIDASSESS_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let mut schemas = Vec::new();
    for (_, s) in &sessions {
        schemas.push(relations(s).await);
    }

    let (mut answered, mut refused, mut tlp_checked) = (0usize, 0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    let mut known: Vec<String> = Vec::new();
    let budget = Duration::from_secs_f64(TIME_LIMIT + 1.0);
    for case in 0..cases {
        let which = rng.below(sessions.len());
        let (role, session) = &sessions[which];
        let mut g = Grammar {
            rng: &mut rng,
            relations: &schemas[which],
        };
        let tlp = g.rng.chance(20);
        let queries: Vec<String> = if tlp {
            let r = g.relation();
            // A volatile function answers differently in each of the four queries.
            let mut p = g.predicate(&r, 2);
            while ["uuid(", "random(", "now("].iter().any(|f| p.contains(f)) {
                p = g.predicate(&r, 2);
            }
            let t = &r.name;
            vec![
                format!("SELECT count(*) FROM \"{t}\""),
                format!("SELECT count(*) FROM \"{t}\" WHERE {p}"),
                format!("SELECT count(*) FROM \"{t}\" WHERE NOT ({p})"),
                format!("SELECT count(*) FROM \"{t}\" WHERE ({p}) IS NULL"),
            ]
        } else {
            let depth = 1 + g.rng.below(4);
            vec![g.select(depth)]
        };
        let mut counts = Vec::new();
        for sql in &queries {
            let started = Instant::now();
            let result = session.sql(sql).await;
            let took = started.elapsed();
            if took > budget {
                failures.push(format!("case {case} ({role}) took {took:?}: {sql}"));
            }
            let seen = match &result {
                Ok((_, batches)) => {
                    answered += 1;
                    if let Some(b) = batches.first()
                        && b.num_columns() == 1
                        && let Some(n) = b
                            .column(0)
                            .as_primitive_opt::<arrow::datatypes::Int64Type>()
                        && n.len() == 1
                    {
                        counts.push(Some(n.value(0)));
                    } else {
                        counts.push(None);
                    }
                    texts(batches)
                }
                Err(e) => {
                    refused += 1;
                    counts.push(None);
                    if matches!(e, QueryError::Internal { .. }) {
                        failures.push(format!("case {case} ({role}) panicked inside: {e}: {sql}"));
                    }
                    vec![e.to_string()]
                }
            };
            for value in &seen {
                if let Some(c) = canaries
                    .iter()
                    .find(|c| value == *c || (c.len() >= 7 && value.contains(c.as_str())))
                {
                    failures.push(format!(
                        "case {case} ({role}) showed county b's {c:?}: {sql}"
                    ));
                }
                if *role == "analyst"
                    && let Some(r) = raw.iter().find(|r| value.contains(r.as_str()))
                {
                    failures.push(format!("case {case} (analyst) showed the raw {r:?}: {sql}"));
                }
            }
        }
        if tlp && let [Some(all), Some(p), Some(not_p), Some(null_p)] = counts[..] {
            tlp_checked += 1;
            if p + not_p + null_p != all {
                let report = format!(
                    "case {case} ({role}) TLP: {p} + {not_p} + {null_p} != {all}: {}",
                    queries[1]
                );
                // DataFusion 55 plans `x IN (SELECT …)` as a semi join, which reads UNKNOWN as
                // FALSE even under IS NULL or NOT: `(1 IN (SELECT NULL)) IS NULL` counts no
                // row, where the IN-list form and PostgreSQL count one. Reported, not failed;
                // the metric views use no IN subquery.
                if queries[1].contains(" IN (SELECT ") {
                    known.push(report);
                } else {
                    failures.push(report);
                }
            }
        }
    }
    println!(
        "fuzz: {cases} cases, {answered} answered, {refused} clean errors, {tlp_checked} TLP checks, {} failures, {} known upstream (IN subquery under IS NULL / NOT)",
        failures.len(),
        known.len()
    );
    for k in known.iter().take(3) {
        println!("fuzz: known upstream: {k}");
    }
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
    // Enough of the grammar gets past the planner to mean something.
    assert!(
        answered * 4 > answered + refused,
        "{answered} answered of {}",
        answered + refused
    );
    assert!(
        tlp_checked * 20 > cases,
        "{tlp_checked} TLP checks in {cases} cases"
    );
}
