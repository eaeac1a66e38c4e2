//! CIFAR-10 in its binary format (`cifar-10-batches-bin`): records of one label byte and
//! 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major 32×32).

use std::path::{Path, PathBuf};

use super::dataset::{Dataset, Features};
use crate::error::{Error, Result};

/// Bytes per record: the label, then the image.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// The ten class names, in label order.
pub const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// The training batches (`data_batch_1.bin` … `data_batch_5.bin`) or the test batch
/// (`test_batch.bin`) from `dir` or its `cifar-10-batches-bin` directory. Training reads the
/// batches that are there, in order, and needs at least the first.
pub fn cifar10(dir: &Path, train: bool) -> Result<Dataset> {
    let inner = dir.join("cifar-10-batches-bin");
    let dir = if inner.is_dir() { inner } else { dir.to_path_buf() };
    let files: Vec<PathBuf> = if train {
        (1..=5).map(|i| dir.join(format!("data_batch_{i}.bin"))).take_while(|p| p.is_file()).collect()
    } else {
        vec![dir.join("test_batch.bin")].into_iter().filter(|p| p.is_file()).collect()
    };
    if files.is_empty() {
        return Err(Error::DataMissing {
            what: format!("CIFAR-10 {}", if train { "data_batch_1.bin" } else { "test_batch.bin" }),
            path: dir.display().to_string(),
            hint: "Fetch it with: wgtrain data fetch cifar10".into(),
        });
    }
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for file in &files {
        let bytes = super::read_file(file, "CIFAR-10 batch", "Fetch it with: wgtrain data fetch cifar10")?;
        let corrupt = |problem: String| Error::DataCorrupt { path: file.display().to_string(), problem };
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(corrupt(format!(
                "{} bytes is not a whole number of {RECORD}-byte records (a label byte and a 32×32×3 image)",
                bytes.len()
            )));
        }
        for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
            if record[0] >= 10 {
                return Err(corrupt(format!("record {i} has label {}; CIFAR-10 labels are 0 to 9", record[0])));
            }
            labels.push(record[0] as u32);
            pixels.extend_from_slice(&record[1..]);
        }
    }
    Dataset::new("cifar10", Features::U8 { data: pixels, scale: 1.0 / 255.0, shift: 0.0 }, labels, RECORD - 1)
}
