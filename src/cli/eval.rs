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
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let device = b.describe();
    outln!("{} on {} (from {source}; {split:?} split, {} samples, {device})", path.display(), e.dataset, e.samples);
    outln!(
        "loss {:.4}  accuracy {:.2}%  ({:.0} samples/s)\n",
        e.metrics.loss,
        100.0 * e.metrics.accuracy,
        e.samples_per_second
    );
    outln!("{}", e.summary);
    out!("{}", e.report);
    print_confusion(&e);
    Ok(())
}

fn print_confusion(e: &Evaluation) {
    outln!("\nconfusion matrix (rows: true class, columns: predicted):");
    out!("      ");
    (0..e.confusion.len()).for_each(|c| out!("{c:>6}"));
    outln!();
    for (c, row) in e.confusion.iter().enumerate() {
        out!("  {c:>2}: ");
        row.iter().for_each(|n| out!("{n:>6}"));
        outln!();
    }
}
