//! A dataset resident on the device for a whole run: features (u8 images stay packed), labels,
//! and the index list a batch gathers through. Features larger than the backend's largest
//! tensor (the GPU's storage-binding limit) are split by rows into up to four chunks.

use super::{Dataset, Features};
use crate::backend::checks::MAX_CHUNKS;
use crate::backend::{Backend, Gather};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub struct DeviceData {
    /// The features, as 1..=4 row chunks of equal size (the last may be shorter).
    pub x: Vec<Tensor>,
    pub labels: Tensor,
    /// (rows, width) f32 targets for the losses that take them (`with_binary_targets`).
    pub targets: Option<Tensor>,
    /// Row order: the identity until a training epoch writes its shuffled order.
    pub order: Tensor,
    pub rows: usize,
    pub cols: usize,
    pub classes: usize,
    pub gather: Gather,
}

impl DeviceData {
    /// Upload `data` once, in as few chunks as the backend's tensor limit allows.
    pub fn upload(b: &mut dyn Backend, data: &Dataset) -> Result<Self> {
        let bytes_per_value = if matches!(data.features, Features::U8 { .. }) { 1 } else { 4 };
        let row_bytes = (data.cols * bytes_per_value) as u64;
        let chunk_rows = (b.max_tensor_bytes() / row_bytes.max(1)).min(data.rows as u64) as usize;
        if chunk_rows == 0 || data.rows.div_ceil(chunk_rows) > MAX_CHUNKS {
            return Err(Error::config(
                format!("dataset {}", data.name),
                format!(
                    "its {} rows of {row_bytes} bytes need more than {MAX_CHUNKS} tensors of at most {} bytes \
                     (the adapter's storage-binding limit)",
                    data.rows,
                    b.max_tensor_bytes()
                ),
            ));
        }
        Self::upload_chunked(b, data, chunk_rows)
    }

    /// Upload with features split every `chunk_rows` rows (at most four chunks).
    pub fn upload_chunked(b: &mut dyn Backend, data: &Dataset, chunk_rows: usize) -> Result<Self> {
        let cols = data.cols;
        let chunks = data.rows.div_ceil(chunk_rows.max(1));
        if chunks > MAX_CHUNKS {
            return Err(Error::config("chunks", format!("{chunks} chunks; a gather reads at most {MAX_CHUNKS}")));
        }
        let mut x = Vec::new();
        let gather = match &data.features {
            Features::U8 { scale, shift, .. } => Gather { scale: *scale, shift: *shift },
            Features::F32(_) => Gather::default(),
        };
        for start in (0..data.rows).step_by(chunk_rows.max(1)) {
            let rows = chunk_rows.min(data.rows - start);
            let range = start * cols..(start + rows) * cols;
            x.push(match &data.features {
                Features::U8 { data: bytes, .. } => b.upload_u8(rows, cols, &bytes[range])?,
                Features::F32(v) => b.upload(rows, cols, &v[range])?,
            });
        }
        let labels = b.upload_u32(data.rows, 1, &data.labels)?;
        let order = b.upload_u32(1, data.rows, &(0..data.rows as u32).collect::<Vec<_>>())?;
        Ok(Self { x, labels, order, targets: None, rows: data.rows, cols, classes: data.classes, gather })
    }

    /// Add the targets of a sigmoid cross-entropy model with `outputs` outputs: with one
    /// output, the label itself (a binary task: labels 0 and 1); with one per class, the
    /// one-hot labels (one-vs-rest).
    pub fn with_binary_targets(mut self, b: &mut dyn Backend, data: &Dataset, outputs: usize) -> Result<Self> {
        let targets: Vec<f32> = if outputs == 1 {
            if let Some(&bad) = data.labels.iter().find(|&&l| l > 1) {
                return Err(Error::config(
                    format!("dataset {}", data.name),
                    format!("label {bad} in a binary task; one sigmoid output takes labels 0 and 1"),
                ));
            }
            data.labels.iter().map(|&l| l as f32).collect()
        } else if outputs >= data.classes {
            data.labels.iter().flat_map(|&l| (0..outputs).map(move |c| (c == l as usize) as u8 as f32)).collect()
        } else {
            return Err(Error::config(
                format!("dataset {}", data.name),
                format!("{} classes for {outputs} sigmoid outputs; give one output (binary) or one per class", data.classes),
            ));
        };
        if let Some(old) = self.targets.replace(b.upload(data.rows, outputs, &targets)?) {
            b.free(old)?;
        }
        Ok(self)
    }

    /// Free the device copies.
    pub fn free(self, b: &mut dyn Backend) -> Result<()> {
        for t in self.x.into_iter().chain([self.labels, self.order]).chain(self.targets) {
            b.free(t)?;
        }
        Ok(())
    }
}
