//! Helpers shared by the integration tests: the one GPU device, seeded data, and the
//! GPU-vs-reference comparison.
#![allow(dead_code)]

pub mod cli;
pub mod serve;
pub mod training;

use std::sync::{Arc, OnceLock};

use rand::{Rng, SeedableRng};
use wgtrain::{Backend, CpuBackend, GpuBackend, GpuContext};

/// The test device, opened once per test binary. With no adapter the tests fail (never
/// skip) and the message says how to get one.
pub fn context() -> Arc<GpuContext> {
    static CTX: OnceLock<Arc<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| match GpuContext::from_env() {
        Ok(ctx) => {
            eprintln!("GPU tests run on: {}", ctx.adapter());
            ctx
        }
        Err(e) => panic!("GPU tests need a wgpu adapter: {e}"),
    })
    .clone()
}

/// The matmul tilings the tests that sweep epilogues, storages and shapes run over: every
/// one the test device's tuner can choose. On a CPU adapter (lavapipe, which CI uses) that is
/// register, tiled and subgroup, and the subgroup tiling must be among them, so its tests
/// cannot drop out unnoticed; the GPU presets `tiled-8x8` and `tiled-32` are the `tiled`
/// kernels with other pipeline constants, and have parity tests of their own in
/// tests/matmul.rs (sweeping them here too cost CI minutes of pipeline builds on lavapipe).
pub fn matmul_tilings() -> Vec<wgtrain::gpu::MatmulTiling> {
    use wgtrain::gpu::MatmulTiling;
    let ctx = context();
    let mut tilings = vec![MatmulTiling::register(), MatmulTiling::tiled()];
    if ctx.kind() != wgtrain::gpu::DeviceKind::Cpu {
        tilings.extend([MatmulTiling::tiled_8x8(), MatmulTiling::tiled_32()]);
    }
    if MatmulTiling::subgroups_fit(&ctx) {
        tilings.push(MatmulTiling::subgroup());
    } else {
        assert!(
            ctx.kind() != wgtrain::gpu::DeviceKind::Cpu,
            "{} has no fixed subgroup size of 8: the subgroup matmul would go untested",
            ctx.adapter()
        );
    }
    tilings
}

/// A fresh GPU backend on the shared test device.
pub fn gpu() -> GpuBackend {
    GpuBackend::new(context()).unwrap_or_else(|e| panic!("building the GPU backend failed: {e}"))
}

/// `len` values uniform in [-1, 1) from `seed`.
pub fn uniform(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Assert `|got − want| ≤ atol + rtol·|want|` element-wise. The failure message gives the
/// number of failing elements, the worst one's index and its error.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length {} != expected {}", got.len(), want.len());
    let mut bad = 0usize;
    let mut worst = (0usize, 0.0f32, 0.0f32); // (index, excess over tolerance, abs error)
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let tol = atol + rtol * w.abs();
        if err.is_nan() || err > tol {
            bad += 1;
            let excess = if err.is_nan() { f32::INFINITY } else { err - tol };
            if bad == 1 || excess > worst.1 {
                worst = (i, excess, err);
            }
        }
    }
    if bad > 0 {
        let (i, _, err) = worst;
        panic!(
            "{what}: {bad} of {} elements outside |g-c| <= {atol:e} + {rtol:e}*|c|; worst at index {i}: \
             got {} want {} (abs error {err:e})",
            got.len(),
            got[i],
            want[i]
        );
    }
}

/// Largest |got − want| (for reporting how much of a tolerance a test used).
pub fn max_abs_error(got: &[f32], want: &[f32]) -> f32 {
    got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0.0, f32::max)
}

/// The GPU backend and the CPU twin, so one test body runs on both.
pub struct Both {
    pub gpu: GpuBackend,
    pub cpu: CpuBackend,
}

impl Both {
    pub fn new() -> Self {
        Self { gpu: gpu(), cpu: CpuBackend::new() }
    }

    /// Both backends, GPU first.
    pub fn each(&mut self) -> [&mut dyn Backend; 2] {
        [&mut self.gpu, &mut self.cpu]
    }

    /// Both backends with their names ("gpu", "cpu"), GPU first.
    pub fn named(&mut self) -> [(&'static str, &mut dyn Backend); 2] {
        [("gpu", &mut self.gpu), ("cpu", &mut self.cpu)]
    }
}
