//! `wgtrain predict`: class and probabilities for each row of an IDX or CSV file, optionally
//! with Monte Carlo dropout (mean of N stochastic passes and the predictive std).

use std::path::Path;

use anyhow::{bail, Result};

use wgtrain::infer::{self, Inference};
use wgtrain::nn::Mode;
use wgtrain::run::dataset::prediction_inputs;
use wgtrain::run::InputTransform;
use wgtrain::train::{checkpoint, DeviceData};
use wgtrain::Backend;

pub struct PredictArgs<'a> {
    pub checkpoint: &'a Path,
    pub input: &'a Path,
    pub output: Option<&'a Path>,
    pub mc_dropout: Option<u32>,
    pub label_column: Option<isize>,
}

pub fn run(a: PredictArgs, b: &mut dyn Backend, json_out: bool) -> Result<()> {
    if let Some(n) = a.mc_dropout {
        wgtrain::limits::check_mc_passes(n)?;
    }
    if let Some(out) = a.output {
        for (what, path) in [("checkpoint", a.checkpoint), ("input", a.input)] {
            if same_file(out, path) {
                bail!("-o {} is the {what} itself; write the predictions to another file", out.display());
            }
        }
    }
    let loaded = checkpoint::load(a.checkpoint)?;
    let transform = InputTransform::from_checkpoint(&loaded)?;
    let mut data = prediction_inputs(a.input, a.label_column)?;
    let (rows, cols) = (data.rows, data.cols);
    let inputs = loaded.meta.model.inputs;
    if cols != inputs {
        bail!("{} has {cols} features per row but the model takes {inputs}", a.input.display());
    }
    let dropout = loaded.meta.model.layers.iter().any(|l| {
        matches!(l, wgtrain::nn::LayerSpec::Dropout { .. } | wgtrain::nn::LayerSpec::AlphaDropout { .. })
    });
    if a.mc_dropout.is_some() && !dropout {
        eprintln!("warning: the model has no dropout layers, so every Monte Carlo pass is the same (std 0)");
    }
    let mut model = loaded.build_model(b)?;
    transform.apply(&mut data)?;
    let device_data = DeviceData::upload(b, &data)?;
    let mut inference = Inference::new(b, infer::DEFAULT_BATCH)?;
    let classes = loaded.meta.model.outputs();
    let (probs, std) = match a.mc_dropout {
        Some(n) => {
            let (mean, std) = inference.predict_mc(b, &mut model, &device_data, n)?;
            (mean, Some(std))
        }
        None => (inference.predict(b, &mut model, &device_data, Mode::Eval, 0)?, None),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "class".to_string()];
    header.extend((0..classes).map(|c| format!("p{c}")));
    if std.is_some() {
        header.extend((0..classes).map(|c| format!("std{c}")));
    }
    writer.write_record(&header)?;
    for r in 0..rows {
        let p = &probs[r * classes..(r + 1) * classes];
        let mut record = vec![r.to_string(), class_of(p).to_string()];
        record.extend(p.iter().map(|v| format!("{v:.6}")));
        if let Some(s) = &std {
            record.extend(s[r * classes..(r + 1) * classes].iter().map(|v| format!("{v:.6}")));
        }
        writer.write_record(&record)?;
    }
    let csv = writer.into_inner().map_err(|e| anyhow::anyhow!("writing the predictions: {e}"))?;
    match a.output {
        Some(path) => {
            checkpoint::write_atomically(path, &csv)?;
            if json_out {
                let summary = serde_json::json!({ "rows": rows, "classes": classes, "output": path.display().to_string(), "mc_dropout": a.mc_dropout });
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!("wrote {rows} predictions to {}", path.display());
            }
        }
        None if json_out => {
            let rows_json: Vec<serde_json::Value> = (0..rows)
                .map(|r| {
                    let p = &probs[r * classes..(r + 1) * classes];
                    let mut row = serde_json::json!({ "row": r, "class": class_of(p), "probabilities": p });
                    if let Some(s) = &std {
                        row["std"] = serde_json::json!(&s[r * classes..(r + 1) * classes]);
                    }
                    row
                })
                .collect();
            let out = serde_json::json!({ "rows": rows, "classes": classes, "mc_dropout": a.mc_dropout, "predictions": rows_json });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        None => std::io::Write::write_all(&mut std::io::stdout(), &csv)?,
    }
    Ok(())
}

/// Whether `a` and `b` name the same existing file (through links and relative paths).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The predicted class: the most probable, or for one sigmoid output, 1 when p > 0.5.
fn class_of(p: &[f32]) -> usize {
    match p {
        [single] => (*single > 0.5) as usize,
        _ => (0..p.len()).fold(0, |best, c| if p[c] > p[best] { c } else { best }),
    }
}
