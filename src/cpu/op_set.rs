//! The op set on the CPU: `Backend` for `CpuBackend`, each op running its naive twin.

use super::backend::{CpuBackend, HostData};
use super::activation::Slopes;
use super::{activation, batchnorm_ops, data, dropout, loss, matmul, optim, reduce};
use crate::backend::{checks, matmul_dims, Activation, ActivationArgs, Backend, Dropout, Gather, Loss, Matmul};
use crate::backend::{BatchNorm, BatchNormTensors, Gradient, MatmulDims, StepCounters, UpdateRule, UpdateTensors};
use crate::error::Result;
use crate::tensor::{check_dtype, check_len, check_shape, DType, Tensor};

impl Backend for CpuBackend {
    fn describe(&self) -> String {
        "cpu (reference twin)".into()
    }

    fn alloc(&mut self, rows: usize, cols: usize, dtype: DType) -> Result<Tensor> {
        check_shape("alloc", rows, cols)?;
        let n = rows * cols;
        let data = match dtype {
            DType::F32 | DType::F16 => HostData::F32(vec![0.0; n]),
            DType::U32 => HostData::U32(vec![0; n]),
            DType::U8 => HostData::U8(vec![0; n]),
        };
        Ok(self.tensors.insert(rows, cols, dtype, data))
    }

    fn write(&mut self, t: Tensor, data: &[f32]) -> Result<()> {
        check_len("write", t, data.len())?;
        self.with_float_out("write", t, |_, v| {
            v.copy_from_slice(data);
            Ok(())
        })
    }

    fn write_u32(&mut self, t: Tensor, data: &[u32]) -> Result<()> {
        check_dtype("write_u32", t, DType::U32)?;
        check_len("write_u32", t, data.len())?;
        *self.tensors.get_mut("write_u32", t)? = HostData::U32(data.to_vec());
        Ok(())
    }

    fn write_u8(&mut self, t: Tensor, data: &[u8]) -> Result<()> {
        check_dtype("write_u8", t, DType::U8)?;
        check_len("write_u8", t, data.len())?;
        *self.tensors.get_mut("write_u8", t)? = HostData::U8(data.to_vec());
        Ok(())
    }

    fn read(&mut self, t: Tensor) -> Result<Vec<f32>> {
        self.floats("read", t).map(<[f32]>::to_vec)
    }

    fn read_u32(&mut self, t: Tensor) -> Result<Vec<u32>> {
        self.u32s("read_u32", t).map(<[u32]>::to_vec)
    }

    fn free(&mut self, t: Tensor) -> Result<()> {
        self.tensors.remove("free", t).map(drop)
    }

    fn begin_step(&mut self, counters: StepCounters) -> Result<()> {
        self.counters = counters;
        Ok(())
    }

    fn submit(&mut self) -> Result<()> {
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn copy(&mut self, src: Tensor, dst: Tensor) -> Result<()> {
        checks::copy(src, dst)?;
        let values = match self.tensors.get("copy", src)? {
            HostData::F32(v) => HostData::F32(v.clone()),
            HostData::U32(v) => HostData::U32(v.clone()),
            HostData::U8(v) => HostData::U8(v.clone()),
        };
        let slot = self.tensors.get_mut("copy", dst)?;
        match values {
            // F16 tensors hold f32 values rounded to f16: `put` rounds into an F16 `dst`, and
            // an F16 source widens as it is.
            HostData::F32(v) => self.put(dst, v),
            other => *slot = other,
        }
        Ok(())
    }

    fn fill(&mut self, t: Tensor, value: f32) -> Result<()> {
        self.with_out("fill", t, |_, y| {
            data::fill(y, value);
            Ok(())
        })
    }

    fn scale(&mut self, x: Tensor, y: Tensor, value: f32) -> Result<()> {
        if x == y {
            return self.with_out("scale", y, |_, y| {
                y.iter_mut().for_each(|v| *v *= value);
                Ok(())
            });
        }
        checks::elementwise("scale", x, y)?;
        self.with_out("scale", y, |s, y| {
            data::scale(s.f32s("scale", x)?, y, value);
            Ok(())
        })
    }

    fn apply_mask(&mut self, mask: Tensor, y: Tensor) -> Result<()> {
        checks::elementwise("apply_mask", mask, y)?;
        self.with_out("apply_mask", y, |s, y| {
            data::apply_mask(s.f32s("apply_mask", mask)?, y);
            Ok(())
        })
    }

    fn gather_rows(&mut self, src: &[Tensor], index: Tensor, dst: Tensor, spec: Gather) -> Result<()> {
        let offset = self.counters.batch_offset;
        checks::gather(src, index, dst, &spec, offset)?;
        let (cols, offset, chunk_rows, op) = (src[0].cols, offset as usize, src[0].rows, "gather_rows");
        if src[0].dtype == DType::U32 {
            let chunks = src.iter().map(|&t| self.u32s(op, t)).collect::<Result<Vec<_>>>()?;
            let mut out = vec![0; dst.len()];
            data::gather_rows_u32(&chunks, chunk_rows, self.u32s(op, index)?, &mut out, cols, offset);
            return self.write_u32(dst, &out);
        }
        self.with_out(op, dst, |s, out| {
            let index = s.u32s(op, index)?;
            if src[0].dtype == DType::U8 {
                let chunks = src.iter().map(|&t| s.u8s(op, t)).collect::<Result<Vec<_>>>()?;
                data::gather_rows_u8(&chunks, chunk_rows, index, out, cols, offset, spec);
            } else {
                let chunks = src.iter().map(|&t| s.f32s(op, t)).collect::<Result<Vec<_>>>()?;
                data::gather_rows_f32(&chunks, chunk_rows, index, out, cols, offset, spec);
            }
            Ok(())
        })
    }

    fn max_tensor_bytes(&self) -> u64 {
        u64::MAX
    }

    fn matmul(&mut self, a: Tensor, b: Tensor, c: Tensor, spec: Matmul) -> Result<()> {
        let d = matmul_dims(a, b, c, &spec)?;
        // The product and its epilogues in f32, C rounded to f16 once at the end where it is
        // F16 (as the kernels accumulate and run the epilogue in f32, then store).
        let mut product = vec![0.0; d.m * d.n];
        let bias = self.f32_opt("matmul", spec.bias)?;
        let (av, bv) = (self.floats("matmul", a)?, self.floats("matmul", b)?);
        matmul::matmul_forward(av, bv, bias, &mut product, d, spec.trans_a, spec.trans_b);
        if let Some(pre) = spec.pre {
            self.with_float_out("matmul", pre, |_, out| {
                out.copy_from_slice(&product);
                Ok(())
            })?;
        }
        let act = spec.activation;
        if act != Activation::Identity {
            product.iter_mut().for_each(|v| *v = act.apply(*v, act.param()));
        }
        if let Some(sums) = spec.column_sum {
            self.with_out("matmul", sums, |s, out| {
                let bv = s.floats("matmul", b)?;
                let b_at = |kk: usize, j: usize| if spec.trans_b { bv[j * d.k + kk] } else { bv[kk * d.n + j] };
                for (j, o) in out.iter_mut().enumerate() {
                    *o = (0..d.k).map(|kk| b_at(kk, j)).sum();
                }
                Ok(())
            })?;
        }
        if let Some(d) = spec.derivative {
            // As activation_backward with the product as dy.
            let at = self.floats("matmul", d.at)?;
            let dy = std::mem::take(&mut product);
            product = vec![0.0; dy.len()];
            activation::activation_backward(d.activation, at, &dy, &mut product, d.at.cols, Slopes::default());
        }
        self.with_float_out("matmul", c, |_, out| {
            out.copy_from_slice(&product);
            Ok(())
        })
    }

    fn activation_forward(&mut self, act: Activation, x: Tensor, y: Tensor, args: ActivationArgs) -> Result<()> {
        checks::activation(act, x, y, &args)?;
        let (step, base) = (self.counters.step, self.counters.row_base.wrapping_mul(x.cols as u32));
        self.with_out("activation_forward", y, |s, out| {
            let alpha = s.f32_opt("activation_forward", args.alpha)?;
            let slopes = Slopes { alpha, noise: args.noise, step, base };
            activation::activation_forward(act, s.f32s("activation_forward", x)?, out, x.cols, slopes);
            Ok(())
        })
    }

    fn activation_backward(
        &mut self,
        act: Activation,
        x: Option<Tensor>,
        y: Tensor,
        dy: Tensor,
        dx: Tensor,
        args: ActivationArgs,
    ) -> Result<()> {
        checks::activation_backward(act, x, y, dy, dx, &args)?;
        let (step, base) = (self.counters.step, self.counters.row_base.wrapping_mul(y.cols as u32));
        let x = x.unwrap_or(y);
        self.with_out("activation_backward", dx, |s, out| {
            let op = "activation_backward";
            let alpha = s.f32_opt(op, args.alpha)?;
            let (xv, dyv) = (s.f32s(op, x)?, s.f32s(op, dy)?);
            activation::activation_backward(act, xv, dyv, out, x.cols, Slopes { alpha, noise: args.noise, step, base });
            Ok(())
        })
    }

    fn prelu_alpha_backward(&mut self, x: Tensor, dy: Tensor, dalpha: Tensor) -> Result<()> {
        checks::prelu_alpha_backward(x, dy, dalpha)?;
        self.with_out("prelu_alpha_backward", dalpha, |s, out| {
            let (xv, dyv) = (s.f32s("prelu_alpha_backward", x)?, s.f32s("prelu_alpha_backward", dy)?);
            activation::prelu_alpha_backward(xv, dyv, out, x.rows, x.cols);
            Ok(())
        })
    }

    fn dropout_forward(&mut self, spec: Dropout, x: Tensor, y: Tensor) -> Result<()> {
        checks::elementwise("dropout_forward", x, y)?;
        let (step, base) = (self.counters.step, self.counters.row_base.wrapping_mul(x.cols as u32));
        self.with_out("dropout_forward", y, |s, out| {
            dropout::dropout_forward(&spec, s.f32s("dropout_forward", x)?, out, step, base)
        })
    }

    fn dropout_backward(&mut self, spec: Dropout, dy: Tensor, dx: Tensor) -> Result<()> {
        checks::elementwise("dropout_backward", dy, dx)?;
        let (step, base) = (self.counters.step, self.counters.row_base.wrapping_mul(dy.cols as u32));
        self.with_out("dropout_backward", dx, |s, out| {
            dropout::dropout_backward(&spec, s.f32s("dropout_backward", dy)?, out, step, base)
        })
    }

    fn batchnorm_forward(&mut self, spec: BatchNorm, t: BatchNormTensors, y: Tensor, training: bool) -> Result<()> {
        batchnorm_ops::forward(self, spec, t, y, training)
    }

    fn batchnorm_backward(&mut self, t: BatchNormTensors, dy: Tensor, dx: Tensor, daffine: Tensor) -> Result<()> {
        batchnorm_ops::backward(self, t, dy, dx, daffine)
    }

    fn batchnorm_moment(&mut self, t: BatchNormTensors, centered: bool) -> Result<()> {
        batchnorm_ops::moment(self, t, centered)
    }

    fn batchnorm_normalize(&mut self, spec: BatchNorm, t: BatchNormTensors, y: Tensor, total: usize) -> Result<()> {
        batchnorm_ops::normalize(self, spec, t, y, total)
    }

    fn batchnorm_backward_sums(&mut self, t: BatchNormTensors, dy: Tensor, daffine: Tensor) -> Result<()> {
        batchnorm_ops::backward_sums(self, t, dy, daffine)
    }

    fn batchnorm_backward_input(
        &mut self,
        t: BatchNormTensors,
        dy: Tensor,
        sums: Tensor,
        dx: Tensor,
        total: usize,
    ) -> Result<()> {
        batchnorm_ops::backward_input(self, t, dy, sums, dx, total)
    }

    fn softmax(&mut self, z: Tensor, probs: Tensor) -> Result<()> {
        checks::softmax(z, probs)?;
        self.with_out("softmax", probs, |s, out| {
            loss::softmax_forward(s.f32s("softmax", z)?, out, z.rows, z.cols);
            Ok(())
        })
    }

    fn loss(&mut self, kind: Loss, z: Tensor, targets: Tensor, dz: Tensor, stats: Tensor, scale: f32) -> Result<()> {
        checks::loss(kind, z, targets, dz, stats)?;
        let mut st = self.take("loss", stats)?;
        let result = self.with_out("loss", dz, |s, out| {
            let zv = s.f32s("loss", z)?;
            match kind {
                Loss::SoftmaxCrossEntropy => {
                    let labels = s.u32s("loss", targets)?;
                    loss::softmax_cross_entropy_forward(zv, labels, out, &mut st, z.rows, z.cols, scale)
                }
                Loss::SigmoidBinaryCrossEntropy => {
                    let t = s.f32s("loss", targets)?;
                    loss::sigmoid_binary_cross_entropy_forward(zv, t, out, &mut st, z.rows, z.cols, scale)
                }
                Loss::MeanSquaredError => {
                    let t = s.f32s("loss", targets)?;
                    loss::mean_squared_error_forward(zv, t, out, &mut st, z.rows, z.cols, scale)
                }
            }
            Ok(())
        });
        self.put(stats, st);
        result
    }

    fn column_sum(&mut self, x: Tensor, y: Tensor) -> Result<()> {
        checks::column_sum(x, y)?;
        self.with_out("column_sum", y, |s, out| {
            reduce::column_sum(s.f32s("column_sum", x)?, out, x.rows, x.cols);
            Ok(())
        })
    }

    fn argmax_correct(&mut self, x: Tensor, labels: Tensor, stats: Tensor) -> Result<()> {
        checks::argmax_correct(x, labels, stats)?;
        self.with_out("argmax_correct", stats, |s, out| {
            let (xv, lv) = (s.f32s("argmax_correct", x)?, s.u32s("argmax_correct", labels)?);
            reduce::argmax_correct(xv, lv, out, x.rows, x.cols);
            Ok(())
        })
    }

    fn sum_squares(&mut self, x: Tensor, out: Tensor, accumulate: bool) -> Result<()> {
        checks::sum_squares(x, out)?;
        self.with_out("sum_squares", out, |s, o| {
            reduce::sum_squares(s.f32s("sum_squares", x)?, o, accumulate);
            Ok(())
        })
    }

    fn update(&mut self, rule: UpdateRule, t: UpdateTensors) -> Result<()> {
        checks::update(rule, &t)?;
        if let Gradient::Outer { dz, input: Some(i), .. } = t.grad {
            // The input gradient from θ before the update: the product the backward pass
            // would have recorded.
            let spec = Matmul { derivative: i.derivative, ..Matmul::nt() };
            self.matmul(dz, t.param, i.dx, spec)?;
        }
        let h: crate::backend::Hyper =
            bytemuck::pod_read_unaligned(bytemuck::cast_slice(&self.f32s("update", t.hyper)?[..16]));
        let mut theta = self.take("update", t.param)?;
        let mut s1 = t.state[0].filter(|_| rule.state_count() > 0).map(|s| self.take("update", s)).transpose()?;
        let mut s2 = t.state[1].filter(|_| rule.state_count() > 1).map(|s| self.take("update", s)).transpose()?;
        let result = (|| {
            let outer;
            let grad = match t.grad {
                Gradient::Stored(g) => self.f32s("update", g)?,
                Gradient::Outer { x, dz, .. } => {
                    // As the stored gradient's product xᵀ·dz would have computed it.
                    let d = MatmulDims { m: x.cols, k: x.rows, n: dz.cols };
                    let mut g = vec![0.0; d.m * d.n];
                    matmul::matmul_forward(
                        self.f32s("update", x)?,
                        self.f32s("update", dz)?,
                        None,
                        &mut g,
                        d,
                        true,
                        false,
                    );
                    outer = g;
                    &outer
                }
            };
            let norm = self.f32_opt("update", t.grad_norm)?;
            optim::update(rule, &h, t.penalized, &mut theta, grad, norm, [s1.as_deref_mut(), s2.as_deref_mut()]);
            Ok(())
        })();
        self.put(t.param, theta);
        if let (Some(s), Some(v)) = (t.state[0], s1) {
            self.put(s, v);
        }
        if let (Some(s), Some(v)) = (t.state[1], s2) {
            self.put(s, v);
        }
        result
    }
}
