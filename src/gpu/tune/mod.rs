//! The matmul tiling, in two steps. Per adapter: each tiling the adapter runs is timed on the
//! products a Dense MLP makes (the screen); the fastest is the adapter's tiling, and those
//! within `SCREEN`× of it stay candidates. Per class of product shape (`ShapeClass`:
//! transposes, alignment, sizes to a factor of 4): the candidates are timed on the first
//! product of the class (`class.rs`), so a wide net's 128×2048×2048 products need not take
//! the tiling an MLP's 128×784×300 ones chose. Both are remembered on disk, keyed by adapter,
//! driver, wgpu and the matmul shaders' text, so each is measured once per machine and
//! kernel version.
//!
//! `WGTRAIN_MATMUL=register|subgroup|tiled|tiled-8x8|tiled-32` sets the tiling outright; `WGTRAIN_AUTOTUNE=0` (the
//! command line's `--no-autotune`) skips the measurement and takes the kind-of-adapter default
//! (`MatmulTiling::default_for`); either way every product takes that one tiling. The cache
//! is a JSON file in `WGTRAIN_CACHE_DIR`, else `$XDG_CACHE_HOME/wgtrain`, else
//! `~/.cache/wgtrain`; it is written atomically under a lock (`cache.rs`), and one that
//! cannot be read or parsed is measured over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::matmul::MatmulTiling;
use super::{DeviceKind, GpuBackend, GpuContext};
use crate::backend::{Backend, Matmul};
use crate::error::{Error, Result};
use crate::shaders;
use crate::tensor::Tensor;

/// The wgpu release this crate is built with (a test checks it against Cargo.lock).
pub const WGPU_VERSION: &str = "30.0.2";

mod cache;
mod class;

use cache::{read_cache, Entry, FILE};
pub use cache::{cache_dir, cache_entries, recorded_classes, ClassEntry};

/// How the tiling was arrived at.
#[derive(Debug, Clone, PartialEq)]
pub enum TuneSource {
    /// `WGTRAIN_MATMUL` named it.
    Override,
    /// `WGTRAIN_AUTOTUNE=0`: the default for the kind of adapter, nothing measured.
    Skipped,
    /// Read from the cache file.
    Cached(PathBuf),
    /// Measured now; written to the cache file when it could be.
    Measured { cache: Option<PathBuf> },
}

/// The tiling chosen for an adapter, and the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuned {
    pub tiling: MatmulTiling,
    pub source: TuneSource,
    /// GFLOP/s of each candidate over the tuning products (measured now or when cached).
    pub gflops: BTreeMap<String, f64>,
}

/// One timed product: M, K, N and its transpose form.
type Product = (usize, usize, usize, fn() -> Matmul);

/// The products timed: a Dense 784→300 layer's three at batch 128, its 300→100 forward at
/// batch 1024, and an output layer's (N = 10, unaligned).
const PRODUCTS: &[Product] = &[
    (128, 784, 300, Matmul::nn),
    (128, 300, 784, Matmul::nt),
    (784, 128, 300, Matmul::tn),
    (1024, 300, 100, Matmul::nn),
    (128, 100, 10, Matmul::nn),
];
/// Rounds over the candidates (alternating, so a noisy machine hits each alike); the median
/// counts.
const ROUNDS: usize = 3;

/// Whether `choose` may time the tilings when no cache holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autotune {
    Measure,
    /// Take the kind-of-adapter default (`MatmulTiling::default_for`), nothing measured.
    Skip,
}

impl Autotune {
    /// `Skip` where `WGTRAIN_AUTOTUNE=0`, else `Measure`.
    pub fn from_env() -> Result<Self> {
        match std::env::var("WGTRAIN_AUTOTUNE").as_deref() {
            Err(_) | Ok("") | Ok("1") => Ok(Autotune::Measure),
            Ok("0") => Ok(Autotune::Skip),
            Ok(other) => Err(Error::BadEnv { var: "WGTRAIN_AUTOTUNE", value: other.into(), expected: "0 (skip) or 1 (time the tilings)" }),
        }
    }
}

/// The tiling for `ctx`'s adapter (see the module docs). Tuned once per process and adapter.
pub fn choose(ctx: &Arc<GpuContext>, autotune: Autotune) -> Result<Tuned> {
    if let Some(tiling) = MatmulTiling::from_env(ctx)? {
        return Ok(Tuned { tiling, source: TuneSource::Override, gflops: BTreeMap::new() });
    }
    if autotune == Autotune::Skip {
        let tiling = MatmulTiling::default_for(ctx);
        return Ok(Tuned { tiling, source: TuneSource::Skipped, gflops: BTreeMap::new() });
    }
    static DONE: Mutex<Vec<(String, Tuned)>> = Mutex::new(Vec::new());
    let key = cache_key(ctx);
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, tuned)) = done.iter().find(|(k, _)| *k == key) {
        return Ok(tuned.clone());
    }
    let tuned = tune_with_cache(ctx, &key, cache_dir().as_deref())?;
    done.push((key, tuned.clone()));
    Ok(tuned)
}

/// Look `key` up in the cache in `dir`, else measure and store it there.
pub fn tune_with_cache(ctx: &Arc<GpuContext>, key: &str, dir: Option<&Path>) -> Result<Tuned> {
    let path = dir.map(|d| d.join(FILE));
    let file = path.as_deref().and_then(read_cache).unwrap_or_default();
    if let (Some(path), Some(entry)) = (&path, file.entries.get(key)) {
        if let Some(tiling) = candidates(ctx).into_iter().find(|t| t.name() == entry.tiling) {
            return Ok(Tuned { tiling, source: TuneSource::Cached(path.clone()), gflops: entry.gflops.clone() });
        }
    }
    let (tiling, gflops) = measure(ctx)?;
    // A cache that cannot be written costs a measurement next time, nothing more.
    let stored = dir.and_then(|d| {
        cache::update(d, |file| {
            let classes = file.entries.remove(key).map(|e| e.classes).unwrap_or_default();
            file.entries.insert(key.into(), Entry { tiling: tiling.name().into(), gflops: gflops.clone(), classes });
        })
    });
    let cache = path.filter(|_| stored.is_some());
    Ok(Tuned { tiling, source: TuneSource::Measured { cache }, gflops })
}

/// What identifies a measurement: the adapter, its driver, wgpu, and the matmul kernels.
pub fn cache_key(ctx: &GpuContext) -> String {
    let a = ctx.adapter();
    let mut h = Sha256::new();
    h.update(shaders::MATMUL.source);
    h.update(shaders::MATMUL_SUBGROUP.source);
    h.update(shaders::MATMUL_TILED.source);
    let kernels: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{} | {} | {} {} | wgpu {WGPU_VERSION} | kernels {kernels}", a.name, a.backend, a.driver, a.driver_info)
}

/// How much slower than the best on the screening products a tiling may be and still be timed
/// per shape class. Past it a tiling is taken to lose everywhere: on lavapipe workgroup tiles
/// run the MLP's products 9× slower than subgroup blocks, and timing them on a wide net's
/// products would cost seconds per class for nothing.
pub const SCREEN: f64 = 4.0;

/// The tilings a shape class is timed over: the adapter's, and each within `SCREEN`× of its
/// GFLOP/s on the screening products (every one this adapter runs when none were recorded).
pub fn class_candidates(ctx: &GpuContext, tuned: &Tuned) -> Vec<MatmulTiling> {
    let best = tuned.gflops.values().copied().fold(0.0, f64::max);
    let kept = |t: &MatmulTiling| tuned.gflops.get(t.name()).is_none_or(|g| g * SCREEN >= best);
    candidates(ctx).into_iter().filter(|t| *t == tuned.tiling || kept(t)).collect()
}

/// The tilings this adapter runs. On CPU drivers, where workgroup memory is ordinary memory
/// plus barriers and tiles lose several-fold, one tiled shape stands for all.
fn candidates(ctx: &GpuContext) -> Vec<MatmulTiling> {
    let mut all = vec![MatmulTiling::register(), MatmulTiling::tiled()];
    if ctx.kind() != DeviceKind::Cpu {
        all.push(MatmulTiling::tiled_8x8());
        all.push(MatmulTiling::tiled_32());
    }
    if MatmulTiling::subgroups_fit(ctx) {
        all.push(MatmulTiling::subgroup());
    }
    let fits = |t: &MatmulTiling| t.workgroup_bytes() <= ctx.limits().max_compute_workgroup_storage_size;
    all.into_iter().filter(fits).collect()
}

/// Time every candidate on `PRODUCTS`; the fastest in total, and each one's GFLOP/s.
fn measure(ctx: &Arc<GpuContext>) -> Result<(MatmulTiling, BTreeMap<String, f64>)> {
    let mut runs = Vec::new();
    for tiling in candidates(ctx) {
        runs.push((tiling, Run::new(GpuBackend::with_tiling(Arc::clone(ctx), tiling)?)?));
    }
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for round in 0..ROUNDS {
        let best = seconds.iter().filter_map(|s| s.first().copied()).fold(f64::INFINITY, f64::min);
        for (i, (_, run)) in runs.iter_mut().enumerate() {
            // As for shape classes: a candidate `DROP`× behind after the first round is not
            // timed again (on lavapipe workgroup tiles are 7× behind, and timing them twice
            // more cost every fresh cache ~2 s).
            if round > 0 && seconds[i][0] > class::DROP * best {
                continue;
            }
            seconds[i].push(run.time()?);
        }
    }
    let flops: f64 = PRODUCTS.iter().map(|&(m, k, n, _)| 2.0 * (m * k * n) as f64).sum();
    let mut gflops = BTreeMap::new();
    let mut best = (f64::INFINITY, runs[0].0);
    for ((tiling, _), mut s) in runs.into_iter().zip(seconds) {
        s.sort_by(f64::total_cmp);
        let median = s[s.len() / 2];
        gflops.insert(tiling.name().to_string(), flops / median / 1e9);
        if median < best.0 {
            best = (median, tiling);
        }
    }
    Ok((best.1, gflops))
}

/// One candidate's backend with the tuning products' operands in place.
struct Run {
    b: GpuBackend,
    products: Vec<(Tensor, Tensor, Tensor, Matmul)>,
}

impl Run {
    fn new(mut b: GpuBackend) -> Result<Self> {
        let mut products = Vec::new();
        for &(m, k, n, form) in PRODUCTS {
            let spec = form();
            let (ar, ac) = if spec.trans_a { (k, m) } else { (m, k) };
            let (br, bc) = if spec.trans_b { (n, k) } else { (k, n) };
            let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<_>>();
            let a = b.upload(ar, ac, &fill(m * k))?;
            let w = b.upload(br, bc, &fill(k * n))?;
            let c = b.zeros(m, n)?;
            products.push((a, w, c, spec));
        }
        let mut run = Self { b, products };
        run.time()?; // builds the pipelines
        Ok(run)
    }

    /// Seconds for one pass over the products, submitted together.
    fn time(&mut self) -> Result<f64> {
        self.b.sync()?;
        let start = Instant::now();
        for &(a, w, c, spec) in &self.products {
            self.b.matmul(a, w, c, spec)?;
        }
        self.b.sync()?;
        Ok(start.elapsed().as_secs_f64())
    }
}

