//! Timing the candidate tilings on the first product of each shape class (see
//! `gpu::matmul::ShapeClass`): on that product's own operands, into a scratch output, before
//! the product itself is recorded. A choice is kept for the process (per adapter and cache
//! directory) and in the tuning cache, so each class is timed once per machine.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::cache::{class_entry, settle_class, ClassEntry};
use crate::backend::{Matmul, MatmulDims};
use crate::error::Result;
use crate::gpu::backend::{buf, buf_opt};
use crate::gpu::matmul::{matmul_forward, ClassTuning, MatmulBuffers, ShapeClass, Storage};
use crate::gpu::{Call, DeviceKind, GpuBackend, GpuBuffer};
use crate::tensor::{DType, Tensor};

/// Rows a timed product keeps at most on a CPU driver: there a batch-1024 product of a wide
/// net takes seconds, and beyond a few hundred rows the ranking no longer moves (lavapipe runs
/// a workgroup at a time on each of a few cores). GPUs time the product whole: how many
/// workgroups a tiling makes of it against the multiprocessors decides there (an H200 given an
/// MLP's 1024×784×300 timed at 256 rows chose 128×128 tiles, 24 workgroups at 1024 rows, and
/// ran the product in 0.99 ms). Products of at most `WORK_CPU` multiply-adds are timed whole:
/// cut to 256 rows, the wide net's batch-1 output-layer gradient (2048×1×10, 20k) timed two
/// tilings alike that took 415 and 703 µs whole.
const ROWS: usize = 256;
/// Multiply-adds one timing covers at least: small products repeat (up to 64 times) until they
/// do, so a submission's fixed cost does not decide. On a CPU driver 4 M: a few ms on
/// lavapipe, where a submission costs a few tenths of one; an output layer's strided product,
/// at 0.3 GFLOP/s there, then costs ~30 ms a timing, so a class is timed in a fraction of a
/// second. On a GPU 256 M, 64 repeats of all but the largest products: a 128×100×300 product
/// takes ~40 µs on an H200, and two of them against a submission's ~50 µs chose a tiling 1.3×
/// slower than the best.
const WORK_CPU: usize = 1 << 22;
const WORK_GPU: usize = 1 << 28;
/// Timings per candidate; the median counts. After two rounds (both orders), a candidate
/// whose fastest timing is `DROP`× the best is not timed again (one slow first timing once
/// dropped the faster of two candidates for good). A class is timed once and its choice kept in the cache: three
/// rounds in one fixed order chose, in one run of `tests/tune_classes.rs` in three, a tiling
/// 1.2–1.5× slower on its product than the other (lavapipe, 2-core AMD EPYC); five rounds with
/// the order reversed on odd rounds chose within 10% in 13 runs of 13.
const ROUNDS: usize = 5;
pub(super) const DROP: f64 = 1.5;
/// Rounds for a close call: while the two fastest medians are within `CLOSE`× of each other,
/// rounds go on up to this many (a host whose speed drifts by ±25% within seconds chose the
/// slower of two candidates 1.2× apart from five rounds).
const MAX_ROUNDS: usize = 11;
const CLOSE: f64 = 1.3;

/// Whether the two fastest candidates still timed (`live`) are within `CLOSE`× by their medians.
fn close_call(seconds: &[Vec<f64>], live: &[bool]) -> bool {
    let mut medians: Vec<f64> =
        seconds.iter().zip(live).filter(|(s, &live)| live && !s.is_empty()).map(|(s, _)| median(s)).collect();
    medians.sort_by(f64::total_cmp);
    medians.len() > 1 && medians[1] <= CLOSE * medians[0]
}

/// The median of `s` (its upper middle for an even count); `s` is not empty.
fn median(s: &[f64]) -> f64 {
    let mut s = s.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

type Slot = (ClassTuning, ShapeClass);

/// Choices made in this process, so backends on one adapter time each class once.
static CHOSEN: Mutex<Option<HashMap<Slot, ClassEntry>>> = Mutex::new(None);

impl GpuBackend {
    /// Choose a tiling for `class`, this product's, if it has none: from this process's
    /// choices, else the cache, else by timing every candidate on `a` and `b`.
    pub(in crate::gpu) fn choose_matmul_class(
        &mut self,
        class: ShapeClass,
        a: Tensor,
        b: Tensor,
        d: MatmulDims,
        spec: &Matmul,
    ) -> Result<()> {
        let Some(tuning) = self.k.matmul.untimed(&class).cloned() else {
            return Ok(());
        };
        let slot = (tuning.clone(), class);
        let known =
            CHOSEN.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashMap::new).get(&slot).cloned();
        let cached = || tuning.cache.as_deref().and_then(|dir| class_entry(dir, &tuning.key, &class.label()));
        let entry = match known.or_else(cached) {
            Some(entry) if self.k.matmul.candidates().any(|s| s.tiling().name() == entry.tiling) => entry,
            _ => {
                let timed = self.time_class(a, b, d, spec, class.storage)?;
                match &tuning.cache {
                    Some(dir) => settle_class(dir, &tuning.key, &class.label(), timed),
                    None => timed,
                }
            }
        };
        self.k.matmul.choose(class, &entry.tiling);
        CHOSEN.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashMap::new).insert(slot, entry);
        Ok(())
    }

    /// Time each candidate on this product (its rows capped at `ROWS` on CPU drivers where it
    /// is larger than `WORK_CPU`), with
    /// its bias and activation or derivative epilogue.
    /// `storage`: the product's (the scratch output is stored as its C is).
    fn time_class(&mut self, a: Tensor, b: Tensor, d: MatmulDims, spec: &Matmul, storage: Storage) -> Result<ClassEntry> {
        // What is recorded runs first, so it is not timed with the candidates.
        self.rec.submit(&self.ctx)?;
        self.ctx.wait()?;
        // Fewer rows read a prefix of A (for a transposed A, with a shorter row stride): in
        // bounds, and M's remainder mod 16 is kept, so the product stays in its class.
        let cpu = self.ctx.kind() == DeviceKind::Cpu;
        let rows = if cpu && d.m > ROWS && d.m * d.k * d.n > WORK_CPU { ROWS + d.m % 16 } else { d.m };
        let timed = MatmulDims { m: rows, ..d };
        // The epilogue is timed too (its class has one), reading the product's own bias and
        // derivative point; the column sums go to scratch, and the kept pre-activation is
        // left out, so the timing touches nothing of the product's.
        let timed_spec = Matmul { pre: None, ..*spec };
        let out = if storage.c { DType::F16 } else { DType::F32 };
        let scratch = self.pool.acquire(&self.ctx, "matmul tuning", out.device_bytes(rows * d.n))?;
        let sums = match spec.column_sum {
            Some(_) => Some(self.pool.acquire(&self.ctx, "matmul tuning", DType::F32.device_bytes(d.n))?),
            None => None,
        };
        let work = if cpu { WORK_CPU } else { WORK_GPU };
        let repeats = work.div_ceil(rows * d.k * d.n).clamp(1, 64);
        let profile = self.rec.profile.take(); // the timings are not the profiled work
        let seconds = self.time_candidates(a, b, (&scratch, sums.as_ref()), out, timed, &timed_spec, repeats);
        self.rec.profile = profile;
        self.pool.release(scratch);
        if let Some(sums) = sums {
            self.pool.release(sums);
        }
        let seconds = seconds?;
        let flops = 2.0 * (rows * d.k * d.n * repeats) as f64;
        let mut gflops = BTreeMap::new();
        let mut best = (f64::INFINITY, String::new());
        for (name, s) in seconds {
            let median = median(&s);
            gflops.insert(name.clone(), flops / median / 1e9);
            if median < best.0 {
                best = (median, name);
            }
        }
        let form = ShapeClass::of(d, spec).form();
        Ok(ClassEntry { tiling: best.1, product: format!("{rows}×{}×{} {form}", d.k, d.n), gflops })
    }

    /// Each candidate's seconds per timing, alternating over rounds.
    fn time_candidates(
        &mut self,
        a: Tensor,
        b: Tensor,
        (c, col_sum): (&Arc<GpuBuffer>, Option<&Arc<GpuBuffer>>),
        out: DType,
        d: MatmulDims,
        spec: &Matmul,
        repeats: usize,
    ) -> Result<Vec<(String, Vec<f64>)>> {
        let (ab, bb) = (buf(&self.tensors, "matmul", a)?, buf(&self.tensors, "matmul", b)?);
        let bias = buf_opt(&self.tensors, "matmul", spec.bias)?;
        let derivative_at = buf_opt(&self.tensors, "matmul", spec.derivative.map(|d| d.at))?;
        let all: Vec<_> = self.k.matmul.candidates().collect();
        let storage = Storage::of(a.dtype, b.dtype, out).with_epilogue(spec);
        // Candidates that dispatch the same pipeline for this product (Register and Subgroup
        // below 8 rows) are timed once: timing a kernel against itself can only pick by noise.
        let twin: Vec<usize> =
            (0..all.len()).map(|i| (0..i).find(|&j| all[j].dispatches_like(all[i], d, spec, storage)).unwrap_or(i)).collect();
        let timed: Vec<usize> = (0..all.len()).filter(|&i| twin[i] == i).collect();
        let sets: Vec<_> = timed.iter().map(|&i| all[i]).collect();
        let col_sum = col_sum.map(|s| &**s);
        let m = MatmulBuffers { a: ab, b: bb, c, bias, pre: None, derivative_at, col_sum, storage };
        // Once each untimed: builds the pipeline for this form if no product has yet.
        for set in &sets {
            matmul_forward(Call { rec: &mut self.rec, ctx: &self.ctx, k: set }, m.clone(), d, spec)?;
        }
        self.rec.submit(&self.ctx)?;
        self.ctx.wait()?;
        let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); sets.len()];
        let fastest = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
        let mut round = 0;
        let best = |seconds: &[Vec<f64>]| seconds.iter().map(|s| fastest(s)).fold(f64::INFINITY, f64::min);
        // Candidates still timed: all for two rounds (both orders), then those whose fastest
        // timing is within `DROP`× of the best.
        let live = |seconds: &[Vec<f64>], round: usize| -> Vec<bool> {
            let best = best(seconds);
            seconds.iter().map(|s| round < 2 || fastest(s) <= DROP * best).collect()
        };
        while round < ROUNDS || (round < MAX_ROUNDS && close_call(&seconds, &live(&seconds, round))) {
            let alive = live(&seconds, round);
            // Odd rounds run the candidates in reverse, so none is always timed first.
            let order: Vec<usize> =
                if round % 2 == 0 { (0..sets.len()).collect() } else { (0..sets.len()).rev().collect() };
            round += 1;
            for i in order {
                let set = &sets[i];
                if !alive[i] {
                    continue;
                }
                for _ in 0..repeats {
                    matmul_forward(Call { rec: &mut self.rec, ctx: &self.ctx, k: set }, m.clone(), d, spec)?;
                }
                // The recording is not timed: it costs every candidate alike (one dispatch a
                // product) and only blurs the difference between them.
                let start = Instant::now();
                self.rec.submit(&self.ctx)?;
                self.ctx.wait()?;
                seconds[i].push(start.elapsed().as_secs_f64());
            }
        }
        let of = |i: usize| seconds[timed.iter().position(|&t| t == twin[i]).unwrap()].clone();
        Ok(all.iter().enumerate().map(|(i, s)| (s.tiling().name().to_string(), of(i))).collect())
    }
}
