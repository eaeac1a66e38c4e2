//! A dataset resident on the device for a whole run: features (u8 images stay packed), labels,
//! and the index list a batch gathers through.

use crate::backend::{Backend, Gather};
use crate::data::{Dataset, Features};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub struct DeviceData {
    pub x: Tensor,
    pub labels: Tensor,
    /// Row order: the identity until a training epoch writes its shuffled order.
    pub order: Tensor,
    pub rows: usize,
    pub cols: usize,
    pub classes: usize,
    pub gather: Gather,
}

impl DeviceData {
    /// Upload `data` once. A set larger than the adapter's storage-binding limit is an error
    /// that names the limit.
    pub fn upload(b: &mut dyn Backend, data: &Dataset) -> Result<Self> {
        let too_big = |e: Error| match e {
            Error::LimitExceeded { needed, limit, limit_name, .. } => Error::config(
                format!("dataset {}", data.name),
                format!("its features need {needed} bytes on the device, over the adapter's {limit_name} of {limit}"),
            ),
            other => other,
        };
        let (x, gather) = match &data.features {
            Features::U8 { data: bytes, scale, shift } => {
                (b.upload_u8(data.rows, data.cols, bytes).map_err(too_big)?, Gather { scale: *scale, shift: *shift })
            }
            Features::F32(v) => (b.upload(data.rows, data.cols, v).map_err(too_big)?, Gather::default()),
        };
        let labels = b.upload_u32(data.rows, 1, &data.labels)?;
        let order = b.upload_u32(1, data.rows, &(0..data.rows as u32).collect::<Vec<_>>())?;
        Ok(Self { x, labels, order, rows: data.rows, cols: data.cols, classes: data.classes, gather })
    }

    /// Free the device copies.
    pub fn free(self, b: &mut dyn Backend) -> Result<()> {
        for t in [self.x, self.labels, self.order] {
            b.free(t)?;
        }
        Ok(())
    }
}
