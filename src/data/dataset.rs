//! A labelled dataset in memory, its splits and its standardization.

use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::{Error, Result};

/// Feature storage: bytes (images, normalized on the device) or f32.
#[derive(Debug, Clone, PartialEq)]
pub enum Features {
    /// Values are `byte·scale + shift` once on the device.
    U8 {
        data: Vec<u8>,
        scale: f32,
        shift: f32,
    },
    F32(Vec<f32>),
}

/// `rows` samples of `cols` features with class labels in `0..classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub features: Features,
    pub labels: Vec<u32>,
    pub rows: usize,
    pub cols: usize,
    pub classes: usize,
}

impl Dataset {
    /// Build a dataset, checking sizes and labels.
    pub fn new(name: &str, features: Features, labels: Vec<u32>, cols: usize) -> Result<Self> {
        let len = match &features {
            Features::U8 { data, .. } => data.len(),
            Features::F32(v) => v.len(),
        };
        let bad = |problem: String| Error::DataCorrupt { path: name.into(), problem };
        if cols == 0 || len % cols != 0 {
            return Err(bad(format!("{len} feature values do not divide into rows of {cols}")));
        }
        let rows = len / cols;
        if rows != labels.len() {
            return Err(bad(format!("{rows} samples but {} labels", labels.len())));
        }
        if rows == 0 {
            return Err(bad("no samples".into()));
        }
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        Ok(Self { name: name.into(), features, labels, rows, cols, classes })
    }

    /// The samples at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        let cols = self.cols;
        let features = match &self.features {
            Features::U8 { data, scale, shift } => Features::U8 {
                data: rows.iter().flat_map(|&r| data[r * cols..(r + 1) * cols].iter().copied()).collect(),
                scale: *scale,
                shift: *shift,
            },
            Features::F32(v) => {
                Features::F32(rows.iter().flat_map(|&r| v[r * cols..(r + 1) * cols].iter().copied()).collect())
            }
        };
        Dataset {
            name: self.name.clone(),
            features,
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            rows: rows.len(),
            cols,
            classes: self.classes,
        }
    }

    /// Split off a random `fraction` of the samples (shuffled with `seed`): (rest, split).
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::config("split fraction", format!("{fraction} is not in [0, 1)")));
        }
        let mut order: Vec<usize> = (0..self.rows).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let n_split = ((self.rows as f64) * fraction).round() as usize;
        let (split, rest) = order.split_at(n_split);
        Ok((self.select(rest), self.select(split)))
    }

    /// The feature value of sample `r`, feature `c`, as the device will see it.
    pub fn value(&self, r: usize, c: usize) -> f32 {
        match &self.features {
            Features::U8 { data, scale, shift } => data[r * self.cols + c] as f32 * scale + shift,
            Features::F32(v) => v[r * self.cols + c],
        }
    }

    /// All feature values as f32 (as the device will see them).
    pub fn to_f32(&self) -> Vec<f32> {
        (0..self.rows * self.cols).map(|i| self.value(i / self.cols, i % self.cols)).collect()
    }
}

/// Standardization fitted on a training set: per feature for f32 data; for bytes one mean and
/// standard deviation over all values, folded into the device's `scale` and `shift`, so images
/// stay one byte per pixel on the device.
#[derive(Debug, Clone, PartialEq)]
pub enum Standardizer {
    PerFeature { mean: Vec<f32>, std: Vec<f32> },
    Global { mean: f32, std: f32 },
}

impl Standardizer {
    pub fn fit(data: &Dataset) -> Self {
        match &data.features {
            Features::U8 { .. } => {
                let n = (data.rows * data.cols) as f64;
                let values = data.to_f32();
                let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
                let var = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
                Standardizer::Global { mean: mean as f32, std: (var.sqrt() as f32).max(1e-6) }
            }
            Features::F32(v) => {
                let (rows, cols) = (data.rows as f64, data.cols);
                let mut mean = vec![0.0f64; cols];
                let mut sq = vec![0.0f64; cols];
                for (i, &x) in v.iter().enumerate() {
                    mean[i % cols] += x as f64;
                }
                mean.iter_mut().for_each(|m| *m /= rows);
                for (i, &x) in v.iter().enumerate() {
                    sq[i % cols] += (x as f64 - mean[i % cols]).powi(2);
                }
                // A constant feature (std 0) is centred and left unscaled.
                let std = sq.iter().map(|s| (s / rows).sqrt() as f32).map(|s| if s <= 1e-6 { 1.0 } else { s });
                Standardizer::PerFeature { mean: mean.iter().map(|&m| m as f32).collect(), std: std.collect() }
            }
        }
    }

    /// Apply to a dataset (the one fitted on, or its validation and test sets).
    pub fn apply(&self, data: &mut Dataset) {
        match (self, &mut data.features) {
            (Standardizer::Global { mean, std }, Features::U8 { scale, shift, .. }) => {
                *shift = (*shift - mean) / std;
                *scale /= std;
            }
            (Standardizer::PerFeature { mean, std }, Features::F32(v)) => {
                let cols = mean.len();
                for (i, x) in v.iter_mut().enumerate() {
                    *x = (*x - mean[i % cols]) / std[i % cols];
                }
            }
            (Standardizer::Global { mean, std }, Features::F32(v)) => v.iter_mut().for_each(|x| *x = (*x - mean) / std),
            (Standardizer::PerFeature { .. }, Features::U8 { .. }) => {
                data.features = Features::F32(data.to_f32());
                self.apply(data)
            }
        }
    }
}
