//! `CpuBackend`: the op set on host memory, through the naive twins. Slow on purpose: it
//! defines what the GPU kernels must compute.

use crate::backend::StepCounters;
use crate::error::Result;
use crate::tensor::{check_dtype, round_f16, Arena, DType, Tensor};

pub(super) enum HostData {
    F32(Vec<f32>),
    U32(Vec<u32>),
    U8(Vec<u8>),
}

/// The reference backend.
pub struct CpuBackend {
    pub(super) tensors: Arena<HostData>,
    pub(super) counters: StepCounters,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    pub fn new() -> Self {
        Self { tensors: Arena::new(), counters: StepCounters::default() }
    }

    pub(super) fn f32s(&self, op: &'static str, t: Tensor) -> Result<&[f32]> {
        check_dtype(op, t, DType::F32)?;
        match self.tensors.get(op, t)? {
            HostData::F32(v) => Ok(v),
            _ => unreachable!("dtype checked"),
        }
    }

    /// The values of an F32 or F16 tensor (an F16 tensor holds f16-rounded values as f32).
    pub(super) fn floats(&self, op: &'static str, t: Tensor) -> Result<&[f32]> {
        if t.dtype != DType::F16 {
            return self.f32s(op, t);
        }
        match self.tensors.get(op, t)? {
            HostData::F32(v) => Ok(v),
            _ => unreachable!("F16 tensors hold f32 values"),
        }
    }

    pub(super) fn u32s(&self, op: &'static str, t: Tensor) -> Result<&[u32]> {
        check_dtype(op, t, DType::U32)?;
        match self.tensors.get(op, t)? {
            HostData::U32(v) => Ok(v),
            _ => unreachable!("dtype checked"),
        }
    }

    pub(super) fn u8s(&self, op: &'static str, t: Tensor) -> Result<&[u8]> {
        check_dtype(op, t, DType::U8)?;
        match self.tensors.get(op, t)? {
            HostData::U8(v) => Ok(v),
            _ => unreachable!("dtype checked"),
        }
    }

    pub(super) fn f32_opt(&self, op: &'static str, t: Option<Tensor>) -> Result<Option<&[f32]>> {
        t.map(|t| self.f32s(op, t)).transpose()
    }

    /// Run `f` with `out`'s values taken out of the arena (checks keep outputs distinct from
    /// inputs, so the inputs stay readable through `self`).
    pub(super) fn with_out(
        &mut self,
        op: &'static str,
        out: Tensor,
        f: impl FnOnce(&Self, &mut [f32]) -> Result<()>,
    ) -> Result<()> {
        let mut v = self.take(op, out)?;
        let result = f(self, &mut v);
        self.put(out, v);
        result
    }

    /// `with_out` for an output that may be F16: its values are rounded to f16 at the end.
    pub(super) fn with_float_out(
        &mut self,
        op: &'static str,
        out: Tensor,
        f: impl FnOnce(&Self, &mut [f32]) -> Result<()>,
    ) -> Result<()> {
        if out.dtype != DType::F16 {
            return self.with_out(op, out, f);
        }
        let mut v = match self.tensors.get_mut(op, out)? {
            HostData::F32(v) => std::mem::take(v),
            _ => unreachable!("F16 tensors hold f32 values"),
        };
        let result = f(self, &mut v);
        self.put(out, v);
        result
    }

    pub(super) fn take(&mut self, op: &'static str, t: Tensor) -> Result<Vec<f32>> {
        check_dtype(op, t, DType::F32)?;
        match self.tensors.get_mut(op, t)? {
            HostData::F32(v) => Ok(std::mem::take(v)),
            _ => unreachable!("dtype checked"),
        }
    }

    pub(super) fn put(&mut self, t: Tensor, mut v: Vec<f32>) {
        if t.dtype == DType::F16 {
            v.iter_mut().for_each(|x| *x = round_f16(*x));
        }
        if let Ok(slot) = self.tensors.get_mut("put", t) {
            *slot = HostData::F32(v);
        }
    }
}
