//! The README's walk-through runs as written, so it never rots.

use std::path::Path;

use crate::common::bin;

/// Splits a command line on spaces, keeping "double quoted" words together.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn the_readme_walk_through_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let block = readme
        .split("```sh")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("gridassess init"))
        .expect("the walk-through block");
    let dir = tempfile::tempdir().expect("dir");
    let mut ran = 0;
    for line in block.lines() {
        let line = line.split("  #").next().unwrap_or("").trim();
        let Some(args) = line.strip_prefix("gridassess ") else {
            continue;
        };
        let out = bin()
            .env("GRIDASSESS_WAREHOUSE", dir.path().join("warehouse"))
            .current_dir(root)
            .args(words(args))
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "README line `{line}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} commands found in the README");
}
