//! The CPU twin's batch-norm ops (`op_set` delegates): checks, then the slice functions of
//! `batchnorm` on the arena's values.

use super::backend::CpuBackend;
use super::batchnorm;
use crate::backend::{checks, BatchNorm, BatchNormTensors};
use crate::error::Result;
use crate::tensor::Tensor;

pub(super) fn forward(
    g: &mut CpuBackend,
    spec: BatchNorm,
    t: BatchNormTensors,
    y: Tensor,
    training: bool,
) -> Result<()> {
    checks::batchnorm(&t, y, None)?;
    let (rows, cols) = t.x.shape();
    if !training {
        return g.with_out("batchnorm_forward", y, |s, out| {
            let op = "batchnorm_forward";
            let (x, affine, running) = (s.f32s(op, t.x)?, s.f32s(op, t.affine)?, s.f32s(op, t.running)?);
            batchnorm::batchnorm_forward_eval(x, affine, out, running, cols, spec.eps);
            Ok(())
        });
    }
    let mut saved = g.take("batchnorm_forward", t.saved)?;
    let mut running = g.take("batchnorm_forward", t.running)?;
    let result = g.with_out("batchnorm_forward", y, |s, out| {
        let (x, affine) = (s.f32s("batchnorm_forward", t.x)?, s.f32s("batchnorm_forward", t.affine)?);
        let b = batchnorm::BatchNormSlices { x, affine, y: out, saved: &mut saved, running: &mut running };
        batchnorm::batchnorm_forward(&spec, b, rows, cols);
        Ok(())
    });
    g.put(t.saved, saved);
    g.put(t.running, running);
    result
}

pub(super) fn backward(g: &mut CpuBackend, t: BatchNormTensors, dy: Tensor, dx: Tensor, daffine: Tensor) -> Result<()> {
    checks::batchnorm(&t, dy, Some((dx, daffine)))?;
    let (rows, cols) = t.x.shape();
    let mut da = g.take("batchnorm_backward", daffine)?;
    let result = g.with_out("batchnorm_backward", dx, |s, out| {
        let op = "batchnorm_backward";
        let (x, affine, saved, dyv) = (s.f32s(op, t.x)?, s.f32s(op, t.affine)?, s.f32s(op, t.saved)?, s.f32s(op, dy)?);
        let g = batchnorm::BatchNormGrads { x, affine, saved, dy: dyv, dx: out, daffine: &mut da };
        batchnorm::batchnorm_backward(g, rows, cols);
        Ok(())
    });
    g.put(daffine, da);
    result
}

pub(super) fn moment(g: &mut CpuBackend, t: BatchNormTensors, centered: bool) -> Result<()> {
    let op = "batchnorm_moment";
    checks::batchnorm_stage(op, &t, &[t.saved], &[], t.x.rows)?;
    let (rows, cols) = t.x.shape();
    g.with_out(op, t.saved, |s, saved| {
        batchnorm::batchnorm_moment(s.f32s(op, t.x)?, saved, rows, cols, centered);
        Ok(())
    })
}

pub(super) fn normalize(
    g: &mut CpuBackend,
    spec: BatchNorm,
    t: BatchNormTensors,
    y: Tensor,
    total: usize,
) -> Result<()> {
    let op = "batchnorm_normalize";
    checks::batchnorm_stage(op, &t, &[y, t.saved, t.running], &[], total)?;
    let (rows, cols) = t.x.shape();
    let mut saved = g.take(op, t.saved)?;
    let mut running = g.take(op, t.running)?;
    let result = g.with_out(op, y, |s, out| {
        let (x, affine) = (s.f32s(op, t.x)?, s.f32s(op, t.affine)?);
        let b = batchnorm::BatchNormSlices { x, affine, y: out, saved: &mut saved, running: &mut running };
        batchnorm::batchnorm_normalize(&spec, b, rows, cols, total);
        Ok(())
    });
    g.put(t.saved, saved);
    g.put(t.running, running);
    result
}

pub(super) fn backward_sums(g: &mut CpuBackend, t: BatchNormTensors, dy: Tensor, daffine: Tensor) -> Result<()> {
    let op = "batchnorm_backward_sums";
    checks::batchnorm_stage(op, &t, &[daffine], &[dy], t.x.rows)?;
    let (rows, cols) = t.x.shape();
    g.with_out(op, daffine, |s, out| {
        batchnorm::batchnorm_backward_sums(s.f32s(op, t.x)?, s.f32s(op, t.saved)?, s.f32s(op, dy)?, out, rows, cols);
        Ok(())
    })
}

pub(super) fn backward_input(
    g: &mut CpuBackend,
    t: BatchNormTensors,
    dy: Tensor,
    sums: Tensor,
    dx: Tensor,
    total: usize,
) -> Result<()> {
    let op = "batchnorm_backward_input";
    checks::batchnorm_stage(op, &t, &[dx], &[dy, sums, t.saved], total)?;
    let (rows, cols) = t.x.shape();
    g.with_out(op, dx, |s, out| {
        let (x, affine, saved, dy, sums) =
            (s.f32s(op, t.x)?, s.f32s(op, t.affine)?, s.f32s(op, t.saved)?, s.f32s(op, dy)?, s.f32s(op, sums)?);
        batchnorm::batchnorm_backward_input(
            batchnorm::BatchNormInput { x, affine, saved, dy, sums, dx: out },
            rows,
            cols,
            total,
        );
        Ok(())
    })
}
