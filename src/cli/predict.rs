//! `wgtrain predict`: the library's `run::predict`, written as CSV (row, class, one
//! probability per class, and with Monte Carlo dropout one standard deviation per class) to a
//! file or standard output, or as JSON.

use std::path::Path;

use anyhow::{bail, Result};
use wgtrain::run::{predict, Predictions};
use wgtrain::train::checkpoint;
use wgtrain::Backend;

pub struct PredictArgs<'a> {
    pub checkpoint: &'a Path,
    pub input: &'a Path,
    pub output: Option<&'a Path>,
    pub mc_dropout: Option<u32>,
    pub label_column: Option<isize>,
}

pub fn run(a: PredictArgs, b: &mut dyn Backend, json_out: bool) -> Result<()> {
    if let Some(out) = a.output {
        for (what, path) in [("checkpoint", a.checkpoint), ("input", a.input)] {
            if same_file(out, path) {
                bail!("-o {} is the {what} itself; write the predictions to another file", out.display());
            }
        }
    }
    let p = predict(b, a.checkpoint, a.input, a.label_column, a.mc_dropout)?;
    if p.passes_identical {
        eprintln!("warning: the model has no dropout layers, so every Monte Carlo pass is the same (std 0)");
    }
    match a.output {
        Some(path) => {
            checkpoint::write_atomically(path, &csv(&p)?)?;
            if json_out {
                let summary = serde_json::json!({ "rows": p.rows, "classes": p.classes, "output": path.display().to_string(), "mc_dropout": a.mc_dropout });
                outln!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                outln!("wrote {} predictions to {}", p.rows, path.display());
            }
        }
        None if json_out => {
            let rows: Vec<serde_json::Value> = (0..p.rows)
                .map(|r| {
                    let mut row = serde_json::json!({ "row": r, "class": p.class_of(r), "probabilities": p.row(r) });
                    if let Some(s) = p.row_std(r) {
                        row["std"] = serde_json::json!(s);
                    }
                    row
                })
                .collect();
            let out = serde_json::json!({ "rows": p.rows, "classes": p.classes, "mc_dropout": a.mc_dropout, "predictions": rows });
            outln!("{}", serde_json::to_string_pretty(&out)?);
        }
        None => super::out::write_bytes(&csv(&p)?),
    }
    Ok(())
}

/// The predictions as CSV: row, class, p0…, then std0… with Monte Carlo dropout.
fn csv(p: &Predictions) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "class".to_string()];
    header.extend((0..p.classes).map(|c| format!("p{c}")));
    if p.std.is_some() {
        header.extend((0..p.classes).map(|c| format!("std{c}")));
    }
    writer.write_record(&header)?;
    for r in 0..p.rows {
        let mut record = vec![r.to_string(), p.class_of(r).to_string()];
        record.extend(p.row(r).iter().map(|v| format!("{v:.6}")));
        if let Some(s) = p.row_std(r) {
            record.extend(s.iter().map(|v| format!("{v:.6}")));
        }
        writer.write_record(&record)?;
    }
    writer.into_inner().map_err(|e| anyhow::anyhow!("writing the predictions: {e}"))
}

/// Whether `a` and `b` name the same existing file (through links and relative paths).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
