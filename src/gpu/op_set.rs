//! The op set on the GPU: `Backend` for `GpuBackend`, each op resolving its tensors to
//! buffers and recording the family's kernel (the family files beside this one).

use super::activation::{self as act_ops, ActivationBuffers};
use super::backend::{buf, buf_opt, GpuBackend};
use super::batchnorm::{self as bn_ops};
use super::data::{self as data_ops};
use super::dropout::{self as drop_ops};
use super::loss::{self as loss_ops};
use super::matmul::{matmul_forward, MatmulBuffers, ShapeClass, Storage};
use super::reduce::{self as reduce_ops};
use super::Call;
use crate::backend::{checks, matmul_dims, Activation, ActivationArgs, Backend, Dropout, Gather, Loss, Matmul, Packed};
use crate::backend::{BatchNorm, BatchNormTensors, StepCounters, UpdateRule, UpdateTensors};
use crate::error::{Error, Result};
use crate::tensor::{check_dtype, check_len, check_shape, DType, Tensor};
use std::sync::Arc;

impl Backend for GpuBackend {
    fn counters(&self) -> Option<crate::backend::Counters> {
        Some(self.stats())
    }

    fn set_profiling(&mut self, on: bool) -> Option<String> {
        self.rec.profile = on.then(Vec::new);
        if on && self.rec.timestamps.is_none() {
            self.rec.timestamps = crate::gpu::device::timestamps::Timestamps::new(&self.ctx);
        }
        Some(match self.rec.timestamps {
            Some(_) => "device time from timestamp queries at the beginning and end of a compute pass \
                        holding only that dispatch"
                .into(),
            None => "this adapter has no timestamp queries: each dispatch runs in its own submission, \
                     timed from submit to completion on the host (one submit and wait included)"
                .into(),
        })
    }

    fn copy_kernel(&mut self, n: usize) -> Result<bool> {
        let n = n.max(1).next_multiple_of(4);
        let (x, y) = (self.zeros(1, n)?, self.zeros(1, n)?);
        let call = Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.data };
        let recorded = data_ops::copy_4(call, buf(&self.tensors, "copy_kernel", x)?, buf(&self.tensors, "copy_kernel", y)?, n);
        self.free(x)?;
        self.free(y)?;
        recorded.map(|()| true)
    }

    fn take_profile(&mut self) -> Vec<(String, f64)> {
        self.rec.profile.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn describe(&self) -> String {
        format!("gpu: {}", self.ctx.adapter())
    }

    fn alloc(&mut self, rows: usize, cols: usize, dtype: DType) -> Result<Tensor> {
        check_shape("alloc", rows, cols)?;
        if dtype == DType::F16 && !self.ctx.supports_f16() {
            return Err(Error::Config {
                what: format!("an F16 tensor on {}", self.ctx.adapter()),
                problem: "the adapter has no f16 shaders (wgpu's SHADER_F16); keep the tensor F32".into(),
            });
        }
        let buffer = self.pool.acquire(&self.ctx, "alloc", dtype.device_bytes(rows * cols))?;
        self.rec.clear(&self.ctx, &buffer);
        Ok(self.tensors.insert(rows, cols, dtype, buffer))
    }

    fn zeros_packed(&mut self, shapes: &[(usize, usize)]) -> Result<Packed> {
        // Each part starts at the adapter's storage offset alignment (and on a vec4), so it
        // binds as a buffer of its own and its last vec4 stays inside its slot.
        let align = (self.ctx.limits().min_storage_buffer_offset_alignment as u64).max(16);
        let mut offsets = Vec::with_capacity(shapes.len());
        let mut end = 0u64;
        for &(rows, cols) in shapes {
            check_shape("zeros_packed", rows, cols)?;
            offsets.push(end);
            end = (end + DType::F32.device_bytes(rows * cols)).next_multiple_of(align);
        }
        if end > self.ctx.limits().max_storage_buffer_binding_size {
            // Too big to bind whole: apart, as the default does.
            return crate::backend::zeros_apart(self, shapes);
        }
        // Not pooled: the parts share its buffer for as long as any of them lives.
        let pooled = self.pool.acquire(&self.ctx, "zeros_packed", end.max(16))?;
        let whole = Arc::new(pooled.range(&self.ctx, 0, pooled.bytes));
        self.rec.clear(&self.ctx, &whole);
        let parts = shapes
            .iter()
            .zip(&offsets)
            .map(|(&(rows, cols), &at)| {
                let bytes = DType::F32.device_bytes(rows * cols).next_multiple_of(16);
                let range = Arc::new(whole.range(&self.ctx, at, bytes));
                self.tensors.insert(rows, cols, DType::F32, range)
            })
            .collect();
        let len = (whole.bytes / 4) as usize;
        let whole = self.tensors.insert(1, len, DType::F32, whole);
        Ok(Packed { whole: Some(whole), parts, offsets: offsets.iter().map(|&o| (o / 4) as usize).collect() })
    }

    fn tail(&mut self, t: Tensor, offset: usize) -> Result<Option<Tensor>> {
        let b = Arc::clone(self.tensors.get("tail", t)?);
        let (at, elems) = (offset as u64 * 4, t.len());
        let align = self.ctx.limits().min_storage_buffer_offset_alignment as u64;
        if t.dtype != DType::F32 || offset >= elems || !(b.offset + at).is_multiple_of(align) {
            return Ok(None);
        }
        let range = Arc::new(b.range(&self.ctx, at, b.bytes - at));
        Ok(Some(self.tensors.insert(1, elems - offset, DType::F32, range)))
    }

    fn write(&mut self, t: Tensor, data: &[f32]) -> Result<()> {
        if t.dtype != DType::F16 {
            check_dtype("write", t, DType::F32)?;
        }
        check_len("write", t, data.len())?;
        let b = Arc::clone(self.tensors.get("write", t)?);
        if t.dtype == DType::F16 {
            // Rounded to nearest, ties to even; padded to whole 32-bit words.
            let mut halves: Vec<u16> = data.iter().map(|&v| half::f16::from_f32(v).to_bits()).collect();
            halves.resize(data.len().next_multiple_of(2), 0);
            return self.rec.write(&self.ctx, &b, bytemuck::cast_slice(&halves));
        }
        self.rec.write(&self.ctx, &b, bytemuck::cast_slice(data))
    }

    fn write_u32(&mut self, t: Tensor, data: &[u32]) -> Result<()> {
        check_dtype("write_u32", t, DType::U32)?;
        check_len("write_u32", t, data.len())?;
        let b = Arc::clone(self.tensors.get("write_u32", t)?);
        self.rec.write(&self.ctx, &b, bytemuck::cast_slice(data))
    }

    fn write_u8(&mut self, t: Tensor, data: &[u8]) -> Result<()> {
        check_dtype("write_u8", t, DType::U8)?;
        check_len("write_u8", t, data.len())?;
        let b = Arc::clone(self.tensors.get("write_u8", t)?);
        let mut padded = data.to_vec();
        padded.resize(data.len().next_multiple_of(4), 0);
        self.rec.write(&self.ctx, &b, &padded)
    }

    fn read(&mut self, t: Tensor) -> Result<Vec<f32>> {
        if t.dtype == DType::F16 {
            let b = Arc::clone(self.tensors.get("read", t)?);
            let bytes = self.rec.read(&self.ctx, &b, DType::F16.device_bytes(t.len()))?;
            let halves: Vec<u16> = bytemuck::pod_collect_to_vec(&bytes);
            return Ok(halves[..t.len()].iter().map(|&h| half::f16::from_bits(h).to_f32()).collect());
        }
        check_dtype("read", t, DType::F32)?;
        let b = Arc::clone(self.tensors.get("read", t)?);
        let bytes = self.rec.read(&self.ctx, &b, t.len() as u64 * 4)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn read_u32(&mut self, t: Tensor) -> Result<Vec<u32>> {
        check_dtype("read_u32", t, DType::U32)?;
        let b = Arc::clone(self.tensors.get("read_u32", t)?);
        let bytes = self.rec.read(&self.ctx, &b, t.len() as u64 * 4)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn free(&mut self, t: Tensor) -> Result<()> {
        let b = self.tensors.remove("free", t)?;
        self.pool.release(b);
        Ok(())
    }

    fn begin_step(&mut self, counters: StepCounters) -> Result<()> {
        self.counters_host = counters;
        let words = [counters.step, counters.batch_offset, counters.row_base, 0];
        let b = Arc::clone(&self.counters);
        self.rec.write(&self.ctx, &b, bytemuck::cast_slice(&words))
    }

    fn submit(&mut self) -> Result<()> {
        self.rec.submit(&self.ctx)
    }

    fn sync(&mut self) -> Result<()> {
        self.rec.submit(&self.ctx)?;
        self.ctx.wait()
    }

    fn copy(&mut self, src: Tensor, dst: Tensor) -> Result<()> {
        checks::copy(src, dst)?;
        let (s, d) = (buf(&self.tensors, "copy", src)?, buf(&self.tensors, "copy", dst)?);
        if src.dtype == dst.dtype {
            self.rec.copy(&self.ctx, s, d);
            return Ok(());
        }
        let call = Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.data };
        data_ops::cast(call, s, d, src.len(), dst.dtype == DType::F16)
    }

    fn fill(&mut self, t: Tensor, value: f32) -> Result<()> {
        check_dtype("fill", t, DType::F32)?;
        let y = buf(&self.tensors, "fill", t)?;
        data_ops::fill(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.data }, y, t.len(), value)
    }

    fn scale(&mut self, x: Tensor, y: Tensor, value: f32) -> Result<()> {
        let in_place = x == y;
        if in_place {
            check_dtype("scale", y, DType::F32)?;
        } else {
            checks::elementwise("scale", x, y)?;
        }
        let xb = if in_place { None } else { Some(buf(&self.tensors, "scale", x)?) };
        let yb = buf(&self.tensors, "scale", y)?;
        data_ops::scale(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.data }, xb, yb, y.len(), value)
    }

    fn apply_mask(&mut self, mask: Tensor, y: Tensor) -> Result<()> {
        checks::elementwise("apply_mask", mask, y)?;
        let (m, yb) = (buf(&self.tensors, "apply_mask", mask)?, buf(&self.tensors, "apply_mask", y)?);
        data_ops::apply_mask(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.data }, m, yb, y.len())
    }

    fn gather_rows(&mut self, src: &[Tensor], index: Tensor, dst: Tensor, spec: Gather) -> Result<()> {
        checks::gather(src, index, dst, &spec, self.counters_host.batch_offset)?;
        let t = &self.tensors;
        let chunks = src.iter().map(|&c| buf(t, "gather_rows", c)).collect::<Result<Vec<_>>>()?;
        let (i, d) = (buf(t, "gather_rows", index)?, buf(t, "gather_rows", dst)?);
        let c = &self.counters;
        let b = data_ops::GatherBuffers { src: &chunks, chunk_rows: src[0].rows, index: i, dst: d, counters: c };
        let call = Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.data };
        data_ops::gather_rows(call, src[0].dtype, b, dst.rows, dst.cols, spec)
    }

    fn max_tensor_bytes(&self) -> u64 {
        self.ctx.limits().max_storage_buffer_binding_size
    }

    fn matmul(&mut self, a: Tensor, b: Tensor, c: Tensor, spec: Matmul) -> Result<()> {
        let dims = matmul_dims(a, b, c, &spec)?;
        let storage = Storage::of(a.dtype, b.dtype, c.dtype).with_epilogue(&spec);
        let class = ShapeClass::of(dims, &spec).stored(storage);
        self.choose_matmul_class(class, a, b, dims, &spec)?;
        let t = &self.tensors;
        let bias = buf_opt(t, "matmul", spec.bias)?;
        let pre = buf_opt(t, "matmul", spec.pre)?;
        let at = buf_opt(t, "matmul", spec.derivative.map(|d| d.at))?;
        let sums = buf_opt(t, "matmul", spec.column_sum)?;
        let (ab, bb, cb) = (buf(t, "matmul", a)?, buf(t, "matmul", b)?, buf(t, "matmul", c)?);
        let m = MatmulBuffers { a: ab, b: bb, c: cb, bias, pre, derivative_at: at, col_sum: sums, storage };
        let set = self.k.matmul.set_for(&class);
        matmul_forward(Call { rec: &mut self.rec, ctx: &self.ctx, k: set }, m, dims, &spec)
    }

    fn activation_forward(&mut self, act: Activation, x: Tensor, y: Tensor, args: ActivationArgs) -> Result<()> {
        checks::activation(act, x, y, &args)?;
        let t = &self.tensors;
        let op = "activation_forward";
        let b = ActivationBuffers {
            x: buf(t, op, x)?,
            y: buf(t, op, y)?,
            alpha: buf_opt(t, op, args.alpha)?,
            counters: &self.counters,
        };
        act_ops::activation_forward(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.activation }, act, b, args.noise, x.rows, x.cols)
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
        let t = &self.tensors;
        let op = "activation_backward";
        let x = x.unwrap_or(y);
        let b = ActivationBuffers {
            x: buf(t, op, x)?,
            y: buf(t, op, y)?,
            alpha: buf_opt(t, op, args.alpha)?,
            counters: &self.counters,
        };
        let g = act_ops::ActivationGrads { dy: buf(t, op, dy)?, dx: buf(t, op, dx)? };
        let call = Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.activation };
        act_ops::activation_backward(call, act, b, g, args.noise, y.rows, y.cols)
    }

    fn prelu_alpha_backward(&mut self, x: Tensor, dy: Tensor, dalpha: Tensor) -> Result<()> {
        checks::prelu_alpha_backward(x, dy, dalpha)?;
        let t = &self.tensors;
        let op = "prelu_alpha_backward";
        let (xb, dyb, db) = (buf(t, op, x)?, buf(t, op, dy)?, buf(t, op, dalpha)?);
        act_ops::prelu_alpha_backward(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.activation }, xb, dyb, db, x.rows, x.cols)
    }

    fn dropout_forward(&mut self, spec: Dropout, x: Tensor, y: Tensor) -> Result<()> {
        checks::elementwise("dropout_forward", x, y)?;
        let (xb, yb) = (buf(&self.tensors, "dropout_forward", x)?, buf(&self.tensors, "dropout_forward", y)?);
        drop_ops::dropout_forward(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.dropout }, &spec, xb, yb, &self.counters, x.len(), x.cols)
    }

    fn dropout_backward(&mut self, spec: Dropout, dy: Tensor, dx: Tensor) -> Result<()> {
        checks::elementwise("dropout_backward", dy, dx)?;
        let (dyb, dxb) = (buf(&self.tensors, "dropout_backward", dy)?, buf(&self.tensors, "dropout_backward", dx)?);
        drop_ops::dropout_backward(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.dropout }, &spec, dyb, dxb, &self.counters, dy.len(), dy.cols)
    }

    fn batchnorm_forward(&mut self, spec: BatchNorm, t: BatchNormTensors, y: Tensor, training: bool) -> Result<()> {
        bn_ops::forward(self, spec, t, y, training)
    }

    fn batchnorm_backward(&mut self, t: BatchNormTensors, dy: Tensor, dx: Tensor, daffine: Tensor) -> Result<()> {
        bn_ops::backward(self, t, dy, dx, daffine)
    }

    fn batchnorm_moment(&mut self, t: BatchNormTensors, centered: bool) -> Result<()> {
        bn_ops::moment(self, t, centered)
    }

    fn batchnorm_normalize(&mut self, spec: BatchNorm, t: BatchNormTensors, y: Tensor, total: usize) -> Result<()> {
        bn_ops::normalize(self, spec, t, y, total)
    }

    fn batchnorm_backward_sums(&mut self, t: BatchNormTensors, dy: Tensor, daffine: Tensor) -> Result<()> {
        bn_ops::backward_sums(self, t, dy, daffine)
    }

    fn batchnorm_backward_input(
        &mut self,
        t: BatchNormTensors,
        dy: Tensor,
        sums: Tensor,
        dx: Tensor,
        total: usize,
    ) -> Result<()> {
        bn_ops::backward_input(self, t, dy, sums, dx, total)
    }

    fn softmax(&mut self, z: Tensor, probs: Tensor) -> Result<()> {
        checks::softmax(z, probs)?;
        let (zb, pb) = (buf(&self.tensors, "softmax", z)?, buf(&self.tensors, "softmax", probs)?);
        loss_ops::softmax_forward(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.loss }, zb, pb, z.rows, z.cols)
    }

    fn loss(&mut self, loss: Loss, z: Tensor, targets: Tensor, dz: Tensor, stats: Tensor, scale: f32) -> Result<()> {
        checks::loss(loss, z, targets, dz, stats)?;
        let t = &self.tensors;
        let op = "loss";
        let b = loss_ops::LossBuffers { z: buf(t, op, z)?, targets: buf(t, op, targets)?, dz: buf(t, op, dz)?, stats: buf(t, op, stats)? };
        loss_ops::loss_forward(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.loss }, loss, b, z.rows, z.cols, scale)
    }

    fn column_sum(&mut self, x: Tensor, y: Tensor) -> Result<()> {
        checks::column_sum(x, y)?;
        let (xb, yb) = (buf(&self.tensors, "column_sum", x)?, buf(&self.tensors, "column_sum", y)?);
        reduce_ops::column_sum(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.reduce }, xb, yb, x.rows, x.cols)
    }

    fn argmax_correct(&mut self, x: Tensor, labels: Tensor, stats: Tensor) -> Result<()> {
        checks::argmax_correct(x, labels, stats)?;
        let t = &self.tensors;
        let (xb, lb, sb) =
            (buf(t, "argmax_correct", x)?, buf(t, "argmax_correct", labels)?, buf(t, "argmax_correct", stats)?);
        reduce_ops::argmax_correct(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.reduce }, xb, lb, sb, x.rows, x.cols)
    }

    fn sum_squares(&mut self, x: Tensor, out: Tensor, accumulate: bool) -> Result<()> {
        checks::sum_squares(x, out)?;
        let (xb, ob) = (buf(&self.tensors, "sum_squares", x)?, buf(&self.tensors, "sum_squares", out)?);
        reduce_ops::sum_squares(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.reduce }, xb, ob, x.len(), accumulate)
    }

    fn update(&mut self, rule: UpdateRule, u: UpdateTensors) -> Result<()> {
        checks::update(rule, &u)?;
        self.record_update(rule, u)
    }
}
