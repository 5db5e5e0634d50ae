//! The SQL semantics of the metric views: every `engine/tests/sqllogictest/*.slt` file is one
//! test, run in a fresh session under the rules its header names (the default rules without
//! one). `cargo test -p engine --test slt red_flag` runs the files whose name contains
//! `red_flag`; `-- --list` lists them. The header and the layout are described in
//! `engine/tests/sqllogictest/README.md`.
//!
//! The runner checks itself too: the `harness::` tests below feed it small files and rules
//! written to a temporary folder, since a broken header or rules file must fail its test.

mod header;
mod session;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use model::Rules;
use sqllogictest::TestErrorKind;

use crate::header::Header;

fn main() {
    let args = Arguments::from_args();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sqllogictest");
    let mut trials = match file_trials(&dir) {
        Ok(trials) => trials,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(101);
        }
    };
    trials.extend(harness_trials());
    libtest_mimic::run(&args, trials).exit();
}

/// One trial per `.slt` file of `dir`, named after the file so a filter selects files.
fn file_trials(dir: &Path) -> Result<Vec<Trial>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "slt") {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(format!("no .slt files in {}", dir.display()));
    }
    files.sort();
    Ok(files
        .into_iter()
        .map(|file| {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = dir.to_path_buf();
            Trial::ignorable_test(name, move || run_file(&dir, &file).map_err(Failed::from))
        })
        .collect())
}

/// Runs one file: its header, its rules, then its records in a session of its own.
///
/// A file whose header declares a known disagreement with SPEC §4 is written as the SPEC
/// expects, so it must fail, and on a result mismatch: it is then reported as ignored, with
/// the reason. Passing (the view was fixed) or failing otherwise (the file is broken) fails
/// the test, so the mark cannot outlive the disagreement or hide another error.
fn run_file(dir: &Path, file: &Path) -> Result<Completion, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let header = header::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let rules =
        Arc::new(load_rules(dir, &header).map_err(|e| format!("{}: rules: {e}", file.display()))?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("a runtime for {}: {e}", file.display()))?;
    let result = runtime.block_on(async {
        let mut runner = sqllogictest::Runner::new(move || session::session(rules.clone()));
        runner.run_file_async(file).await
    });
    match (result, header.known_disagreement) {
        (Ok(()), None) => Ok(Completion::Completed),
        (Err(e), None) => Err(e.to_string()),
        (Err(e), Some(reason)) if matches!(e.kind(), TestErrorKind::QueryResultMismatch { .. }) => {
            Ok(Completion::ignored_with(format!(
                "known disagreement with SPEC §4: {reason}"
            )))
        }
        (Err(e), Some(_)) => Err(format!(
            "{} is marked as a known disagreement, so it must fail on a query result, \
             but it failed otherwise:\n{e}",
            file.display()
        )),
        (Ok(()), Some(reason)) => Err(format!(
            "{} passes now: the view agrees with SPEC §4 ({reason}); remove the \
             `# known disagreement:` line",
            file.display()
        )),
    }
}

/// The rules the header names, read from `rules/` beside the files; the default rules when
/// it names none. An unknown or invalid file is an error that names it.
fn load_rules(dir: &Path, header: &Header) -> Result<Rules, String> {
    let Some(name) = &header.rules else {
        return Ok(Rules::default_rules());
    };
    let path = dir.join("rules").join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Rules::parse(&text, &format!("rules/{name}")).map_err(|e| e.to_string())
}

/// One check of the runner: `Err` says what went wrong.
type Check = fn() -> Result<(), String>;

/// The runner's own checks, as trials beside the files (a `harness = false` binary runs no
/// `#[test]` functions).
fn harness_trials() -> Vec<Trial> {
    let checks: [(&str, Check); 7] = [
        (
            "harness::a_header_names_rules_and_a_known_disagreement",
            header::tests::a_header_names_rules_and_a_known_disagreement,
        ),
        (
            "harness::a_directive_after_the_first_record_is_refused",
            header::tests::a_directive_after_the_first_record_is_refused,
        ),
        (
            "harness::a_rules_name_outside_the_rules_folder_is_refused",
            header::tests::a_rules_name_outside_the_rules_folder_is_refused,
        ),
        (
            "harness::an_unknown_rules_file_fails_with_its_name",
            checks::an_unknown_rules_file_fails_with_its_name,
        ),
        (
            "harness::an_invalid_rules_file_fails_with_the_rules_error",
            checks::an_invalid_rules_file_fails_with_the_rules_error,
        ),
        (
            "harness::the_rules_of_the_header_are_the_rules_of_the_session",
            checks::the_rules_of_the_header_are_the_rules_of_the_session,
        ),
        (
            "harness::a_known_disagreement_is_ignored_only_while_it_fails_on_results",
            checks::a_known_disagreement_is_ignored_only_while_it_fails_on_results,
        ),
    ];
    checks
        .into_iter()
        .map(|(name, check)| Trial::test(name, move || check().map_err(Failed::from)))
        .collect()
}

mod checks {
    //! `run_file` on files written to a temporary folder laid out like `tests/sqllogictest/`.

    use super::*;

    /// A temporary `sqllogictest` folder with `files` (relative path, text) in it.
    fn folder(files: &[(&str, &str)]) -> Result<tempfile::TempDir, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::create_dir(dir.path().join("rules")).map_err(|e| e.to_string())?;
        for (path, text) in files {
            std::fs::write(dir.path().join(path), text).map_err(|e| e.to_string())?;
        }
        Ok(dir)
    }

    /// How a run ended, in words (`Completion` has no `Debug`).
    fn describe(result: &Result<Completion, String>) -> String {
        match result {
            Ok(Completion::Completed) => "passed".into(),
            Ok(Completion::Ignored { reason }) => format!("ignored ({reason:?})"),
            Err(e) => format!("failed: {e}"),
        }
    }

    fn outcome(files: &[(&str, &str)]) -> Result<Result<Completion, String>, String> {
        let dir = folder(files)?;
        Ok(run_file(dir.path(), &dir.path().join(files[0].0)))
    }

    fn expect_error(result: Result<Completion, String>, parts: &[&str]) -> Result<(), String> {
        match result {
            Err(e) if parts.iter().all(|p| e.contains(p)) => Ok(()),
            Err(e) => Err(format!("the error should say {parts:?}, it says:\n{e}")),
            ok => Err(format!(
                "the file should fail with {parts:?}, it {}",
                describe(&ok)
            )),
        }
    }

    const ONE: &str = "query I\nSELECT 1\n----\n1\n";

    pub(super) fn an_unknown_rules_file_fails_with_its_name() -> Result<(), String> {
        let slt = format!("# rules: nowhere.toml\n\n{ONE}");
        expect_error(outcome(&[("a.slt", &slt)])?, &["rules:", "nowhere.toml"])
    }

    pub(super) fn an_invalid_rules_file_fails_with_the_rules_error() -> Result<(), String> {
        let bad = model::rules::DEFAULT_RULES_TOML.replace(
            "{ name = \"党风廉政\", max = 5 }",
            "{ name = \"党风廉政\", max = 6 }",
        );
        let line = bad
            .lines()
            .position(|l| l.starts_with("indicators"))
            .ok_or("the default rules have no indicators line")?
            + 1;
        let slt = format!("# rules: bad.toml\n\n{ONE}");
        let expected = format!("rules/bad.toml line {line}: indicator maxima sum to 101, not 100");
        expect_error(
            outcome(&[("a.slt", &slt), ("rules/bad.toml", &bad)])?,
            &[&expected],
        )
    }

    /// The same query gives the county's name under `group_level = 0` and the township's under
    /// the default rules: the header reaches the views.
    pub(super) fn the_rules_of_the_header_are_the_rules_of_the_session() -> Result<(), String> {
        let county = model::rules::DEFAULT_RULES_TOML.replace("group_level = 2", "group_level = 0");
        let body = |group: &str| {
            format!(
                "statement ok
INSERT INTO grid_units VALUES ('C', NULL, 0, 'c', NULL, NULL), ('D', 'C', 1, 'd', NULL, NULL),
  ('T', 'D', 2, 't', NULL, NULL), ('V', 'T', 3, 'v', NULL, NULL)

statement ok
INSERT INTO branches VALUES ('B', 'b', 'V', 'rural', false, NULL, NULL)

statement ok
INSERT INTO scores VALUES ('2024-B1', 'B', '党组织建设', 20, NULL)

query T
SELECT group_id FROM red_flag_ranking
----
{group}
"
            )
        };
        let default = outcome(&[("a.slt", &body("T"))])?;
        let header = format!("# rules: county.toml\n\n{}", body("C"));
        let custom = outcome(&[("a.slt", &header), ("rules/county.toml", &county)])?;
        match (default, custom) {
            (Ok(Completion::Completed), Ok(Completion::Completed)) => Ok(()),
            (d, c) => Err(format!(
                "default rules: {}; county rules: {}",
                describe(&d),
                describe(&c)
            )),
        }
    }

    pub(super) fn a_known_disagreement_is_ignored_only_while_it_fails_on_results()
    -> Result<(), String> {
        let mark = "# known disagreement: the test of the runner\n\n";
        let mismatch = format!("{mark}query I\nSELECT 2\n----\n1\n");
        match outcome(&[("a.slt", &mismatch)])? {
            Ok(Completion::Ignored { reason: Some(r) }) if r.contains("the test of the runner") => {
            }
            other => {
                return Err(format!(
                    "a result mismatch should be ignored: {}",
                    describe(&other)
                ));
            }
        }
        let passing = format!("{mark}{ONE}");
        expect_error(outcome(&[("a.slt", &passing)])?, &["passes now"])?;
        let broken = format!("{mark}query I\nSELECT * FROM no_such_table\n----\n1\n");
        expect_error(outcome(&[("a.slt", &broken)])?, &["failed otherwise"])
    }
}
