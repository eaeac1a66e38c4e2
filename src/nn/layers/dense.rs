//! Dense: `y = act(x·w + b)`, w: (IN, OUT), b: (OUT); without a bias and activation, the Linear
//! first factor of a factorized Dense layer. An activation that needs no tensor or noise runs
//! in the product's epilogue; PReLU and RReLU run after it, in the same layer.
//!
//! Backward: dz = dy·act'(z), dw = xᵀ·dz with db = Σ_rows dz in the same dispatch, and
//! dx = dz·wᵀ, into which the previous layer's activation derivative is folded where it has
//! one (`Layer::fusable_derivative`): one dispatch and one pass over memory fewer.

use super::activation_problem;
use crate::backend::{Activation, ActivationArgs, Backend, Derivative, InputGradient, Matmul, Noise};
use crate::error::Result;
use crate::nn::init::Initializer;
use crate::nn::layer::{Backward, Build, Forward, Layer, LayerKind, LayerSummary};
use crate::nn::params::{Deferred, DEFERRABLE_ROWS};
use crate::nn::Mode;
use crate::tensor::{DType, Tensor};

/// A Dense layer's settings; `bias: None` is the Linear form (no bias, no activation).
pub struct DenseKind {
    pub units: usize,
    pub activation: Activation,
    pub init: Initializer,
    pub bias: Option<f32>,
}

impl LayerKind for DenseKind {
    fn units(&self, _inputs: usize) -> usize {
        self.units
    }

    fn problem(&self) -> Option<String> {
        if self.units == 0 {
            return Some("a Dense layer of 0 units; every layer needs at least 1".into());
        }
        activation_problem(self.activation)
    }

    fn summary(&self, inputs: usize) -> LayerSummary {
        let weights = inputs * self.units;
        match self.bias {
            Some(_) => LayerSummary {
                kind: format!("Dense ({})", self.activation.name()),
                params: weights + self.units,
                weights,
                rank: None,
            },
            None => LayerSummary { kind: "Linear (no bias)".into(), params: weights, weights, rank: Some(self.units) },
        }
    }

    fn weights(&self, inputs: usize) -> Option<(usize, usize)> {
        Some((inputs, self.units))
    }

    fn build(&self, ctx: &mut Build, inputs: usize) -> Result<Box<dyn Layer>> {
        let units = self.units;
        let w = self.init.sample(inputs, units, ctx.rng);
        let w = ctx.param("w", inputs, units, w, true);
        let b = self.bias.map(|v| ctx.param("b", 1, units, vec![v; units], false));
        // Fuse the activation into the matmul when it needs no tensor or noise; keep the
        // pre-activation when its derivative needs it.
        let fused = self.activation.fusable();
        let separate = (!fused).then(|| {
            let alpha = matches!(self.activation, Activation::Prelu)
                .then(|| ctx.param("alpha", 1, units, vec![0.25; units], false));
            Separate { act: self.activation, alpha, noise: ctx.noise }
        });
        let act = if fused { self.activation } else { Activation::Identity };
        Ok(Box::new(Dense { units, w, b, act, keep_pre: fused && !act.output_suffices(), separate, half: ctx.half }))
    }
}

/// An activation run after the product (PReLU's slopes, RReLU's noise).
struct Separate {
    act: Activation,
    alpha: Option<usize>,
    noise: Noise,
}

struct Dense {
    units: usize,
    w: usize,
    b: Option<usize>,
    /// The activation in the product's epilogue (Identity when `separate` has it).
    act: Activation,
    /// The epilogue also stores the pre-activation, for derivatives that need x.
    keep_pre: bool,
    separate: Option<Separate>,
    /// The kept pre-activation is stored in f16 (as the output is: `Build::half`).
    half: bool,
}

impl Dense {
    /// Fused: [dz before the activation (when there is one), pre-activation (keep_pre)];
    /// separate: [the product's output z, dz].
    fn extra(&self, extra: &[Tensor], what: Extra) -> Option<Tensor> {
        let dz_first = self.separate.is_none() && self.act != Activation::Identity;
        let at = match what {
            Extra::Z if self.separate.is_some() => 0,
            Extra::SeparateDz if self.separate.is_some() => 1,
            Extra::FusedDz if dz_first => 0,
            Extra::Pre if self.keep_pre => dz_first as usize,
            _ => return None,
        };
        extra.get(at).copied()
    }
}

#[derive(Clone, Copy)]
enum Extra {
    Z,
    SeparateDz,
    FusedDz,
    Pre,
}

impl Layer for Dense {
    fn units(&self) -> usize {
        self.units
    }

    fn workspace(&self, b: &mut dyn Backend, rows: usize) -> Result<Vec<Tensor>> {
        let count = match self.separate {
            Some(_) => 2,
            None => (self.act != Activation::Identity) as usize + self.keep_pre as usize,
        };
        // Where `extra` finds the pre-activation: after dz, when there is one.
        let pre_at = self.keep_pre.then_some((self.act != Activation::Identity) as usize);
        (0..count)
            .map(|i| match self.half && Some(i) == pre_at {
                true => b.alloc(rows, self.units, DType::F16),
                false => b.zeros(rows, self.units),
            })
            .collect()
    }

    // x: (B, IN), w: (IN, OUT), y: (B, OUT)
    fn forward(&self, b: &mut dyn Backend, io: Forward) -> Result<Tensor> {
        let mut spec = Matmul::nn().with_activation(self.act);
        spec.bias = self.b.map(|bi| io.params[bi].value);
        // Only backward reads the pre-activation: inference skips the extra store.
        spec.pre = if io.mode == Mode::Train { self.extra(io.extra, Extra::Pre) } else { None };
        let Some(s) = &self.separate else {
            b.matmul(io.x, io.params[self.w].operand(), io.y, spec)?;
            return Ok(io.y);
        };
        let z = self.extra(io.extra, Extra::Z).expect("a separate activation has z in its workspace");
        b.matmul(io.x, io.params[self.w].operand(), z, spec)?;
        let noise = (io.mode == Mode::Train).then_some(s.noise);
        let args = ActivationArgs { alpha: s.alpha.map(|a| io.params[a].value), noise };
        b.activation_forward(s.act, z, io.y, args)?;
        Ok(io.y)
    }

    fn backward(&self, b: &mut dyn Backend, io: Backward) -> Result<bool> {
        let p = io.params;
        let dz = match &self.separate {
            Some(s) => {
                let z = self.extra(io.extra, Extra::Z).expect("a separate activation has z in its workspace");
                let dz = self.extra(io.extra, Extra::SeparateDz).expect("and dz");
                let args = ActivationArgs { alpha: s.alpha.map(|a| p[a].value), noise: Some(s.noise) };
                if let Some(a) = s.alpha {
                    b.prelu_alpha_backward(z, io.dy, p[a].grad)?;
                }
                b.activation_backward(s.act, Some(z), io.y, io.dy, dz, args)?;
                dz
            }
            None => match self.extra(io.extra, Extra::FusedDz) {
                Some(dz) if !io.dy_is_dz => {
                    let pre = self.extra(io.extra, Extra::Pre);
                    b.activation_backward(self.act, pre, io.y, io.dy, dz, ActivationArgs::default())?;
                    dz
                }
                _ => io.dy,
            },
        };
        let defer = io.deferred.filter(|_| {
            let f32s = io.x.dtype == DType::F32 && dz.dtype == DType::F32;
            f32s && io.x.rows <= DEFERRABLE_ROWS && p.deferrable(self.w)
        });
        if let Some(deferred) = defer {
            // The update forms the weight gradient; the bias gradient is dz's column sums.
            if let Some(bi) = self.b {
                b.column_sum(dz, p[bi].grad)?;
            }
            let mut d = Deferred { param: self.w, x: io.x, dz, applied: false };
            // Owing the input gradient, the update may run now and form it from the weights
            // before they change: one pass over them instead of two. The f32 weights must be
            // the ones the product reads (not an f16 copy), and the derivative's point f32.
            let derivative = io.previous.map(|(activation, at)| Derivative { activation, at });
            let now = io.update_now.filter(|_| {
                let f32_at = derivative.is_none_or(|d| d.at.dtype == DType::F32);
                !io.first && f32_at && p[self.w].operand() == p[self.w].value
            });
            if let Some(now) = now {
                d.applied = true;
                now.update_now(b, p, d, InputGradient { dx: io.dx, derivative })?;
            }
            deferred.push(d);
            if d.applied {
                return Ok(io.previous.is_some());
            }
        } else {
            // The weight gradient, with the bias gradient (dz's column sums) in the same dispatch.
            let spec = match self.b {
                Some(bi) => Matmul::tn().with_column_sum(p[bi].grad),
                None => Matmul::tn(),
            };
            b.matmul(io.x, dz, p[self.w].grad, spec)?;
        }
        if io.first {
            return Ok(false);
        }
        let mut spec = Matmul::nt();
        if let Some((prev, t)) = io.previous {
            spec = spec.times_derivative(prev, t);
        }
        b.matmul(dz, p[self.w].operand(), io.dx, spec)?;
        Ok(io.previous.is_some())
    }

    fn fusable_derivative(&self, y: Tensor, extra: &[Tensor]) -> Option<(Activation, Tensor)> {
        let fused = self.separate.is_none() && self.act != Activation::Identity;
        fused.then(|| (self.act, self.extra(extra, Extra::Pre).unwrap_or(y)))
    }
}
