//! Regenerates the committed sample county in `datasets/sample/` with the default seed:
//! `cargo run -p datasets --example regenerate_sample`. The test `sample_on_disk_is_fresh`
//! fails until this has been run after a change to the generator.

fn main() -> Result<(), datasets::GenerateError> {
    let opts = datasets::GenerateOptions::new(datasets::Scale::Sample, datasets::sample_dir());
    let summary = datasets::generate(&opts, &|msg| eprintln!("{msg}"))?;
    for county in &summary.counties {
        for (table, rows) in &county.rows {
            println!("{table}\t{rows}");
        }
    }
    Ok(())
}
