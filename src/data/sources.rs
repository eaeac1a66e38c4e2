//! Where datasets come from: IDX pairs (MNIST, Fashion-MNIST), CSV files, the UCI digits,
//! and synthetic sets for tests.

use std::path::Path;

use rand::{Rng, SeedableRng};

use super::dataset::{Dataset, Features};
use super::idx::read_idx;
pub use super::cifar::{cifar10, CLASSES as CIFAR10_CLASSES};
use crate::error::{Error, Result};

/// Images and labels from an IDX pair; pixel bytes stay bytes and are scaled by 1/255 on the device.
pub fn idx_pair(name: &str, images: &Path, labels: &Path) -> Result<Dataset> {
    let (x, y) = (read_idx(images)?, read_idx(labels)?);
    let corrupt = |path: &Path, problem: String| Error::DataCorrupt { path: path.display().to_string(), problem };
    if x.dims.len() < 2 {
        return Err(corrupt(images, format!("{} dimensions; images need at least 2 (count, pixels…)", x.dims.len())));
    }
    if y.dims.len() != 1 {
        return Err(corrupt(labels, format!("{} dimensions; labels are a 1-dimensional list", y.dims.len())));
    }
    if x.dims[0] != y.dims[0] {
        return Err(corrupt(labels, format!("{} labels for {} images in {}", y.dims[0], x.dims[0], images.display())));
    }
    let cols = x.dims[1..].iter().product();
    let labels = y.data.iter().map(|&l| l as u32).collect();
    Dataset::new(name, Features::U8 { data: x.data, scale: 1.0 / 255.0, shift: 0.0 }, labels, cols)
}

/// The train or test half of an MNIST-format directory (`train-images-idx3-ubyte[.gz]`, …).
pub fn idx_dir(name: &str, dir: &Path, train: bool) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(Error::DataMissing {
            what: "IDX dataset directory".into(),
            path: dir.display().to_string(),
            hint: "Give a directory holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], \
                   t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]"
                .into(),
        });
    }
    let prefix = if train { "train" } else { "t10k" };
    let find = |kind: &str| {
        let base = dir.join(format!("{prefix}-{kind}"));
        let gz = dir.join(format!("{prefix}-{kind}.gz"));
        if gz.exists() {
            gz
        } else {
            base
        }
    };
    idx_pair(name, &find("images-idx3-ubyte"), &find("labels-idx1-ubyte"))
}

/// A CSV file of numbers with one label column (an index; negative counts from the end).
/// A first line with no numbers in it is taken as a header.
pub fn csv(path: &Path, label_column: isize) -> Result<Dataset> {
    csv_text(&super::csv::read_text(path)?, path, label_column)
}

fn csv_text(text: &str, path: &Path, label_column: isize) -> Result<Dataset> {
    let corrupt = |problem: String| Error::DataCorrupt { path: path.display().to_string(), problem };
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut cols = None;
    for (line, values) in super::csv::rows(text).map_err(corrupt)? {
        let width = values.len();
        let label_at = if label_column < 0 { width as isize + label_column } else { label_column };
        if label_at < 0 || label_at as usize >= width {
            return Err(corrupt(format!("line {line}: no column {label_column} in {width} fields")));
        }
        if width < 2 {
            return Err(corrupt(format!(
                "line {line}: one field, a label with no feature values; each row holds the features and a label"
            )));
        }
        let label = values[label_at as usize];
        if label < 0.0 || label.fract() != 0.0 {
            return Err(corrupt(format!("line {line}: label {label} is not a class number (0, 1, 2, …)")));
        }
        if label >= u64::MAX as f32 {
            // As written, not as the integer it would saturate to.
            return Err(corrupt(format!(
                "line {line}: label {label} is above the largest class number wgtrain takes ({})",
                crate::limits::MAX_CLASSES - 1
            )));
        }
        crate::limits::check_class(label as u64, || format!("line {line} of {}", path.display()))?;
        match cols {
            None => cols = Some(width - 1),
            Some(c) if c != width - 1 => {
                return Err(corrupt(format!("line {line}: {width} fields where earlier lines have {}", c + 1)))
            }
            _ => {}
        }
        labels.push(label as u32);
        features.extend(values.iter().enumerate().filter(|&(i, _)| i != label_at as usize).map(|(_, &v)| v));
    }
    let cols = cols.ok_or_else(|| corrupt("no data rows".into()))?;
    let name = path.file_stem().map_or("csv".into(), |s| s.to_string_lossy().into_owned());
    Dataset::new(&name, Features::F32(features), labels, cols)
}

/// The UCI optical digits (1,797 8×8 images, values 0–16), as scikit-learn ships them; the
/// copy in `assets/` is built into wgtrain (CC BY 4.0: E. Alpaydin and C. Kaynak, UCI).
pub fn digits() -> Dataset {
    const GZ: &[u8] = include_bytes!("../../assets/digits.csv.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(GZ), &mut text).expect("the bundled digits are gzip text");
    digits_from(&text, Path::new("assets/digits.csv.gz")).expect("the bundled digits parse")
}

/// The digits from a copy of scikit-learn's `digits.csv.gz` (64 features, then the label).
pub fn digits_file(path: &Path) -> Result<Dataset> {
    digits_from(&super::csv::read_text(path)?, path)
}

fn digits_from(text: &str, path: &Path) -> Result<Dataset> {
    let mut data = csv_text(text, path, -1)?;
    data.name = "digits".into();
    Ok(data)
}

/// Two interleaved spirals (Lang & Witbrock), `n` points per class, with Gaussian noise.
pub fn spirals(n: usize, noise: f32, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(4 * n);
    let mut labels = Vec::with_capacity(2 * n);
    for class in 0..2u32 {
        for i in 0..n {
            let t = 0.25 + 3.0 * std::f32::consts::PI * i as f32 / n as f32;
            let sign = if class == 0 { 1.0 } else { -1.0 };
            let (x, y) = (sign * t * t.cos() / 10.0, sign * t * t.sin() / 10.0);
            features.push(x + noise * normal(&mut rng));
            features.push(y + noise * normal(&mut rng));
            labels.push(class);
        }
    }
    Dataset::new("spirals", Features::F32(features), labels, 2).expect("sizes are consistent by construction")
}

/// `classes` Gaussian blobs in `dims` dimensions, `n` points each, centres drawn in [−5, 5].
pub fn blobs(n: usize, classes: usize, dims: usize, std: f32, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> =
        (0..classes).map(|_| (0..dims).map(|_| rng.random_range(-5.0..5.0)).collect()).collect();
    let mut features = Vec::with_capacity(n * classes * dims);
    let mut labels = Vec::with_capacity(n * classes);
    for i in 0..n * classes {
        let c = i % classes;
        features.extend(centres[c].iter().map(|m| m + std * normal(&mut rng)));
        labels.push(c as u32);
    }
    Dataset::new("blobs", Features::F32(features), labels, dims).expect("sizes are consistent by construction")
}

fn normal(rng: &mut impl Rng) -> f32 {
    let (u1, u2): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}
