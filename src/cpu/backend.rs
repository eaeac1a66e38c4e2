//! `CpuBackend`: the op set on host memory, through the naive twins. Slow on purpose: it
//! defines what the GPU kernels must compute.

use super::matmul::matmul_forward;
use crate::backend::{matmul_dims, Backend, Matmul};
use crate::error::{Error, Result};
use crate::tensor::{check_len, check_shape, Arena, Tensor};

/// The reference backend.
pub struct CpuBackend {
    tensors: Arena<Vec<f32>>,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    pub fn new() -> Self {
        Self {
            tensors: Arena::new(),
        }
    }

    /// Borrow a tensor's values without copying.
    pub fn view(&self, t: Tensor) -> Result<&[f32]> {
        self.tensors.get("view", t).map(Vec::as_slice)
    }
}

impl Backend for CpuBackend {
    fn describe(&self) -> String {
        "cpu (reference twin)".into()
    }

    fn zeros(&mut self, rows: usize, cols: usize) -> Result<Tensor> {
        check_shape("zeros", rows, cols)?;
        Ok(self.tensors.insert(rows, cols, vec![0.0; rows * cols]))
    }

    fn write(&mut self, t: Tensor, data: &[f32]) -> Result<()> {
        check_len("write", t, data.len())?;
        self.tensors.get_mut("write", t)?.copy_from_slice(data);
        Ok(())
    }

    fn read(&mut self, t: Tensor) -> Result<Vec<f32>> {
        self.tensors.get("read", t).cloned()
    }

    fn free(&mut self, t: Tensor) -> Result<()> {
        self.tensors.remove("free", t).map(drop)
    }

    fn copy(&mut self, src: Tensor, dst: Tensor) -> Result<()> {
        if src.len() != dst.len() {
            return Err(Error::ShapeMismatch {
                op: "copy",
                expected: format!("{} elements in dst", src.len()),
                got: format!("{}", dst.len()),
            });
        }
        let values = self.tensors.get("copy", src)?.clone();
        self.tensors.get_mut("copy", dst)?.copy_from_slice(&values);
        Ok(())
    }

    fn matmul(&mut self, a: Tensor, b: Tensor, c: Tensor, spec: Matmul) -> Result<()> {
        let d = matmul_dims(a, b, c, &spec)?;
        let mut out = std::mem::take(self.tensors.get_mut("matmul", c)?);
        let result = (|| {
            let bias = spec
                .bias
                .map(|t| self.tensors.get("matmul", t).map(Vec::as_slice))
                .transpose()?;
            let (a, b) = (
                self.tensors.get("matmul", a)?,
                self.tensors.get("matmul", b)?,
            );
            matmul_forward(
                a,
                b,
                bias,
                &mut out,
                d.m,
                d.n,
                d.k,
                spec.trans_a,
                spec.trans_b,
            );
            Ok(())
        })();
        *self.tensors.get_mut("matmul", c)? = out;
        result
    }

    fn submit(&mut self) -> Result<()> {
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}
