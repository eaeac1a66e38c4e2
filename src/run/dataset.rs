//! Datasets by name, their train/validation/test splits, and the input transform that goes
//! into the checkpoint so `eval` and `predict` see inputs exactly as training did.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::fail;
use serde::{Deserialize, Serialize};

use super::config::RunConfig;
use crate::data::locate::{locate, Fetching};
use crate::data::{sources, Dataset, Features, Standardizer};

pub const DATASETS: &str = "fashion-mnist, mnist, cifar10, digits, spirals, csv:PATH, idx:DIR";

/// How raw inputs become model inputs: bytes → byte·scale + shift; f32 features →
/// (x − mean)/std when standardized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputTransform {
    pub scale: f32,
    pub shift: f32,
    pub mean: Option<Vec<f32>>,
    pub std: Option<Vec<f32>>,
}

pub struct Splits {
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub test: Dataset,
    pub transform: InputTransform,
    /// Whether the inputs were standardized (asked for, or the default for feature tables).
    pub standardized: bool,
}

/// The named dataset split as `load` splits it, before any standardization: the published
/// test set where there is one, else 20% held out by seed; then `validation_split` of the
/// rest for validation.
/// `report` hears of a dataset being fetched on first use.
pub fn load_raw(cfg: &RunConfig, report: &mut dyn FnMut(Fetching)) -> Result<(Dataset, Option<Dataset>, Dataset)> {
    let data_dir = PathBuf::from(&cfg.data_dir);
    let held_out = |all: Dataset| -> Result<(Dataset, Dataset)> { all.split(0.2, cfg.seed ^ 0x5EED) };
    let (train, test) = match cfg.dataset.as_str() {
        "fashion-mnist" | "mnist" => {
            let dir = locate(&cfg.dataset, &data_dir, report)?;
            (sources::idx_dir(&cfg.dataset, &dir, true)?, sources::idx_dir(&cfg.dataset, &dir, false)?)
        }
        "cifar10" => {
            let dir = locate(&cfg.dataset, &data_dir, report)?;
            (sources::cifar10(&dir, true)?, sources::cifar10(&dir, false)?)
        }
        "digits" => {
            // A copy in the data directory wins over the one built in.
            let file = data_dir.join("digits/digits.csv.gz");
            held_out(if file.exists() { sources::digits_file(&file)? } else { sources::digits() })?
        }
        "spirals" => held_out(sources::spirals(500, 0.05, cfg.seed))?,
        other => match other.split_once(':') {
            Some(("csv", path)) => held_out(sources::csv(Path::new(path), -1)?)?,
            Some(("idx", dir)) => {
                (sources::idx_dir(dir, Path::new(dir), true)?, sources::idx_dir(dir, Path::new(dir), false)?)
            }
            _ => fail!("unknown dataset {other:?}; valid: {DATASETS}"),
        },
    };
    if test.cols != train.cols {
        fail!(
            "{}: the test set has {} features per sample but the training set has {}; they must match",
            cfg.dataset,
            test.cols,
            train.cols
        );
    }
    if !(0.0..1.0).contains(&cfg.validation_split) {
        fail!("--validation-split {} is not in [0, 1): 0 turns validation off, 0.1 holds out a tenth", cfg.validation_split);
    }
    if cfg.validation_split == 0.0 {
        return Ok((train, None, test));
    }
    let held = (train.rows as f64 * cfg.validation_split).round() as usize;
    if held == 0 || held == train.rows {
        fail!(
            "--validation-split {} of {} training samples holds out {held}; give a fraction that leaves at least \
             one sample on each side (e.g. 0.1), or 0 for no validation",
            cfg.validation_split,
            train.rows
        );
    }
    let (t, v) = train.split(cfg.validation_split, cfg.seed ^ 0x7A11)?;
    Ok((t, Some(v), test))
}

/// Load the named dataset, split it (`load_raw`), and standardize as configured, fitting on
/// the training split.
pub fn load(cfg: &RunConfig, report: &mut dyn FnMut(Fetching)) -> Result<Splits> {
    let (mut train, mut val, mut test) = load_raw(cfg, report)?;
    let mut transform = match &train.features {
        Features::U8 { scale, shift, .. } => InputTransform { scale: *scale, shift: *shift, mean: None, std: None },
        Features::F32(_) => InputTransform { scale: 1.0, shift: 0.0, mean: None, std: None },
    };
    let images = matches!(train.features, Features::U8 { .. });
    let standardized = cfg.standardize.unwrap_or(!images);
    if standardized {
        let s = Standardizer::fit(&train);
        for d in [Some(&mut train), val.as_mut(), Some(&mut test)].into_iter().flatten() {
            s.apply(d);
        }
        match (&s, &train.features) {
            (Standardizer::Global { .. }, Features::U8 { scale, shift, .. }) => {
                (transform.scale, transform.shift) = (*scale, *shift)
            }
            (Standardizer::PerFeature { mean, std }, _) => {
                (transform.mean, transform.std) = (Some(mean.clone()), Some(std.clone()))
            }
            _ => {}
        }
    }
    Ok(Splits { train, val, test, transform, standardized })
}

/// Fashion-MNIST's and CIFAR-10's class names; the digits and MNIST are named by their number.
pub fn class_names(dataset: &str, classes: usize) -> Vec<String> {
    const FASHION: [&str; 10] =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    match dataset {
        "fashion-mnist" if classes == 10 => FASHION.iter().map(|s| s.to_string()).collect(),
        "cifar10" if classes == 10 => crate::data::sources::CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
        _ => (0..classes).map(|c| c.to_string()).collect(),
    }
}

impl InputTransform {
    /// The transform of checkpoints that stored none (written through the library).
    pub fn identity() -> Self {
        InputTransform { scale: 1.0, shift: 0.0, mean: None, std: None }
    }

    /// Prepare raw `data` exactly as training prepared its inputs.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        match &mut data.features {
            Features::U8 { scale, shift, .. } => (*scale, *shift) = (self.scale, self.shift),
            Features::F32(v) => {
                if let (Some(mean), Some(std)) = (&self.mean, &self.std) {
                    if mean.len() != data.cols || std.len() != data.cols {
                        fail!(
                            "the checkpoint standardizes {} features but {} has {}",
                            mean.len(),
                            data.name,
                            data.cols
                        );
                    }
                    let cols = data.cols;
                    v.iter_mut().enumerate().for_each(|(i, x)| *x = (*x - mean[i % cols]) / std[i % cols]);
                }
            }
        }
        Ok(())
    }
}

/// Rows to predict from a file, as read: IDX images (`*-ubyte[.gz]`, `*.idx`) or CSV (every
/// column a feature, unless `label_column` names one to drop). Prepare them with the
/// checkpoint's `InputTransform::apply` once their width is checked.
pub fn prediction_inputs(path: &Path, label_column: Option<isize>) -> Result<Dataset> {
    let name = path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
    if name.contains("-ubyte") || name.ends_with(".idx") {
        let idx = crate::data::idx::read_idx(path)?;
        if idx.dims.len() < 2 {
            fail!("{}: an IDX file of {} dimension(s) is not a set of images", path.display(), idx.dims.len());
        }
        let cols: usize = idx.dims[1..].iter().product();
        let labels = vec![0; idx.dims[0]];
        return Dataset::new("input", Features::U8 { data: idx.data, scale: 1.0, shift: 0.0 }, labels, cols);
    }
    let text = crate::data::csv::read_text(path)?;
    let parsed = crate::data::csv::rows(&text).map_err(|p| Error::msg(format!("{}: {p}", path.display())))?;
    let mut rows = 0;
    let mut cols = None;
    let mut values = Vec::new();
    for (line, mut row) in parsed {
        if let Some(c) = label_column {
            let at = if c < 0 { row.len() as isize + c } else { c };
            if at < 0 || at as usize >= row.len() {
                fail!("{} line {line}: no column {c} to drop", path.display());
            }
            row.remove(at as usize);
        }
        match cols {
            None => cols = Some(row.len()),
            Some(c) if c != row.len() => {
                fail!("{} line {line}: {} fields where earlier lines have {c}", path.display(), row.len())
            }
            _ => {}
        }
        values.extend(row);
        rows += 1;
    }
    let cols = cols.with_context(|| format!("{}: no rows to predict", path.display()))?;
    Dataset::new("input", Features::F32(values), vec![0; rows], cols)
}
