//! `wgtrain eval`: the library's `run::evaluate`, printed as a report or JSON.

use std::path::Path;

use anyhow::Result;
use serde_json::json;
use wgtrain::run::{evaluate, Evaluation, Split};
use wgtrain::Backend;

pub fn run(
    path: &Path,
    dataset: Option<String>,
    data_dir: Option<String>,
    split: Split,
    b: &mut dyn Backend,
    json_out: bool,
) -> Result<()> {
    let source = if dataset.is_some() { "--dataset" } else { "the checkpoint's run config" };
    let e = evaluate(b, path, dataset, data_dir, split, &mut super::data::reporter())?;
    if json_out {
        let out = json!({
            "checkpoint": path.display().to_string(),
            "dataset": e.dataset,
            "dataset_from": source,
            "split": format!("{split:?}").to_lowercase(),
            "samples": e.samples,
            "loss": e.metrics.loss,
            "accuracy": e.metrics.accuracy,
            "samples_per_second": e.samples_per_second,
            "classes": e.report.rows,
            "macro_avg": e.report.macro_avg,
            "weighted_avg": e.report.weighted_avg,
            "confusion_matrix": e.confusion,
            "model": e.summary,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let device = b.describe();
    println!("{} on {} (from {source}; {split:?} split, {} samples, {device})", path.display(), e.dataset, e.samples);
    println!(
        "loss {:.4}  accuracy {:.2}%  ({:.0} samples/s)\n",
        e.metrics.loss,
        100.0 * e.metrics.accuracy,
        e.samples_per_second
    );
    println!("{}", e.summary);
    print!("{}", e.report);
    print_confusion(&e);
    Ok(())
}

fn print_confusion(e: &Evaluation) {
    println!("\nconfusion matrix (rows: true class, columns: predicted):");
    print!("      ");
    (0..e.confusion.len()).for_each(|c| print!("{c:>6}"));
    println!();
    for (c, row) in e.confusion.iter().enumerate() {
        print!("  {c:>2}: ");
        row.iter().for_each(|n| print!("{n:>6}"));
        println!();
    }
}
