//! Link options for the shipped binary.
//!
//! A release build folds identical functions when linking (`--icf=all`). The tree instantiates
//! the same drop glue, `Hash`, `PartialEq` and `Clone` code for DataFusion's and sqlparser's types
//! in many crates and codegen units; folding the identical copies takes about 10 MB off the
//! binary. Only where the toolchain links with its own lld by default (x86_64 Linux since Rust
//! 1.90); GNU ld has no such option, so other targets link as before.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let lld_by_default =
        std::env::var("TARGET").is_ok_and(|target| target == "x86_64-unknown-linux-gnu");
    if release && lld_by_default {
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
        // And merges identical strings and constants across sections (lld's -O2).
        println!("cargo:rustc-link-arg-bins=-Wl,-O2");
    }
}
