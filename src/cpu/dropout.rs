//! CPU twin of `shaders/dropout.wgsl`: the same Philox masks, bit for bit.

use super::random::philox_uniform;
use crate::backend::{Dropout, DropoutKind};
use crate::error::Result;

/// Element `i` drawn as element `base + i` of the whole batch (`StepCounters::row_base` ×
/// cols; 0 in a run of one).
fn kept(spec: &Dropout, step: u32, base: u32, i: usize) -> bool {
    philox_uniform(spec.noise.seed, spec.noise.stream, step, base.wrapping_add(i as u32)) >= spec.p
}

/// Inverted: `y = keep ? x/(1−p) : 0`; alpha: `y = a·(keep ? x : α′) + b`.
pub fn dropout_forward(spec: &Dropout, x: &[f32], y: &mut [f32], step: u32, base: u32) -> Result<()> {
    let k = spec.coefficients()?;
    for i in 0..x.len() {
        let keep = kept(spec, step, base, i);
        y[i] = match spec.kind {
            DropoutKind::Inverted => {
                if keep {
                    x[i] * k.keep_scale
                } else {
                    0.0
                }
            }
            DropoutKind::Alpha => k.a * if keep { x[i] } else { k.dropped } + k.b,
        };
    }
    Ok(())
}

/// `dx = keep ? dy·(1/(1−p) or a) : 0`, the mask drawn again.
pub fn dropout_backward(spec: &Dropout, dy: &[f32], dx: &mut [f32], step: u32, base: u32) -> Result<()> {
    let k = spec.coefficients()?;
    let scale = match spec.kind {
        DropoutKind::Inverted => k.keep_scale,
        DropoutKind::Alpha => k.a,
    };
    for i in 0..dy.len() {
        dx[i] = if kept(spec, step, base, i) { dy[i] * scale } else { 0.0 };
    }
    Ok(())
}
