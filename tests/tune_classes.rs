//! The matmul tiling per class of product shape: timed at the first product of a class, kept
//! in the tuning cache and read back, the product itself computed by the chosen tiling; and on
//! every bench model's products the choice is within 10% of the best candidate.

mod common;

use std::time::Instant;

use common::{context, uniform};
use wgtrain::backend::{Backend, Matmul, MatmulDims};
use wgtrain::gpu::tune::{cache_key, recorded_classes, tune_with_cache, TuneSource, Tuned, SCREEN};
use wgtrain::gpu::{GpuBackend, MatmulTiling, ShapeClass};
use wgtrain::Tensor;

/// Seeded operands A and B of a product of these sizes on `g`, and a zeroed C.
fn operands(g: &mut GpuBackend, m: usize, k: usize, n: usize, spec: Matmul) -> (Tensor, Tensor, Tensor) {
    let (ar, ac) = if spec.trans_a { (k, m) } else { (m, k) };
    let (br, bc) = if spec.trans_b { (n, k) } else { (k, n) };
    let a = g.upload(ar, ac, &uniform(1, m * k)).unwrap();
    let b = g.upload(br, bc, &uniform(2, k * n)).unwrap();
    (a, b, g.zeros(m, n).unwrap())
}

/// C = op(A)·op(B) for seeded operands of these sizes on `g`, read back.
fn product(g: &mut GpuBackend, m: usize, k: usize, n: usize, spec: Matmul) -> Vec<f32> {
    let (a, b, c) = operands(g, m, k, n, spec);
    g.matmul(a, b, c, spec).unwrap();
    let out = g.read(c).unwrap();
    for t in [a, b, c] {
        g.free(t).unwrap();
    }
    out
}

/// The tests of this file time products (the tuner, and the check against every candidate):
/// each holds this while it runs, so none is timed while another loads the adapter (on
/// lavapipe, the same two cores).
static TIMING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timing_alone() -> std::sync::MutexGuard<'static, ()> {
    TIMING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tuned_in(dir: &std::path::Path) -> Tuned {
    let ctx = context();
    tune_with_cache(&ctx, &cache_key(&ctx), Some(dir)).unwrap()
}

/// A backend whose classes are timed at first use, its tuning cache in a fresh directory.
fn tuned_backend() -> (tempfile::TempDir, Tuned, GpuBackend) {
    let dir = tempfile::tempdir().unwrap();
    let tuned = tuned_in(dir.path());
    let g = GpuBackend::with_tuning(context(), &tuned, Some(dir.path().into())).unwrap();
    (dir, tuned, g)
}

#[test]
fn each_shape_class_is_timed_at_its_first_product_and_kept() {
    let _alone = timing_alone();
    let ctx = context();
    let (dir, tuned, mut g) = tuned_backend();
    let candidates = g.matmul_candidates();
    assert_eq!(candidates[0], tuned.tiling, "the adapter's tiling comes first");
    let best = tuned.gflops.values().copied().fold(0.0, f64::max);
    for (name, g) in &tuned.gflops {
        let kept = candidates.iter().any(|t| t.name() == name);
        assert_eq!(kept, g * SCREEN >= best, "{name}: {g:.2} GFLOP/s against the best {best:.2}");
    }
    let classes = || recorded_classes(dir.path(), &cache_key(&ctx));
    assert!(classes().is_empty());

    // The fourth: the first one's sizes with an activation in the epilogue, a class of its own.
    let relu = Matmul::nn().with_activation(wgtrain::Activation::Relu);
    let shapes = [
        (128, 784, 300, Matmul::nn()),
        (100, 640, 400, Matmul::nn()),
        (128, 300, 784, Matmul::nt()),
        (128, 784, 300, relu),
    ];
    let mut seen = Vec::new();
    for (i, &(m, k, n, spec)) in shapes.iter().enumerate() {
        let got = product(&mut g, m, k, n, spec);
        let class = ShapeClass::of(MatmulDims { m, k, n }, &spec);
        if !seen.contains(&class) {
            seen.push(class);
        }
        // The second product shares the first one's class: nothing more is timed for it.
        let recorded = classes();
        assert_eq!(recorded.len(), seen.len(), "after product {i}: {:?}", recorded.keys());
        let entry = &recorded[&class.label()];
        let names: Vec<&str> = candidates.iter().map(|t| t.name()).collect();
        assert_eq!(entry.gflops.keys().map(String::as_str).collect::<Vec<_>>(), sorted(&names), "{entry:?}");
        let fastest = entry.gflops.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(&entry.tiling, fastest, "{entry:?}");
        let chosen = g.matmul_tiling_for(MatmulDims { m, k, n }, &spec);
        assert_eq!(chosen.name(), entry.tiling);
        // The product itself is the chosen tiling's, to the bit: the timing, into scratch,
        // touched neither operands nor output.
        let mut alone = GpuBackend::with_tiling(ctx.clone(), chosen).unwrap();
        let want = product(&mut alone, m, k, n, spec);
        assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "{m}×{k}×{n} ({chosen})");
    }
    assert_eq!(classes()[&seen[0].label()].product, "128×784×300 nn", "timed on its first product");

    // Another process reads the classes from the cache instead of timing them: a copy of the
    // cache whose first class names the other candidate is obeyed.
    let Some(other) = candidates.iter().find(|t| t.name() != classes()[&seen[0].label()].tiling) else {
        return; // an adapter with one candidate: nothing to tell apart
    };
    let copy = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir.path().join("matmul-tiling.json")).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entry = &mut file["entries"][cache_key(&ctx)]["classes"][seen[0].label()];
    entry["tiling"] = other.name().into();
    std::fs::write(copy.path().join("matmul-tiling.json"), file.to_string()).unwrap();
    let tuned = tuned_in(copy.path());
    assert!(matches!(tuned.source, TuneSource::Cached(_)));
    let mut h = GpuBackend::with_tuning(ctx.clone(), &tuned, Some(copy.path().into())).unwrap();
    product(&mut h, 128, 784, 300, Matmul::nn());
    assert_eq!(h.matmul_tiling_for(MatmulDims { m: 128, k: 784, n: 300 }, &Matmul::nn()), *other);
    assert_eq!(recorded_classes(copy.path(), &cache_key(&ctx)).len(), 3, "nothing timed");
}

/// Below 8 rows `Register` and `Subgroup` dispatch the same kernels: the tuner times that
/// kernel once and gives both its figures, so a class of such products is not decided by noise.
#[test]
fn candidates_that_share_a_kernel_are_timed_once() {
    let _alone = timing_alone();
    let ctx = context();
    let (dir, _, mut g) = tuned_backend();
    let candidates = g.matmul_candidates();
    let (d, spec) = (MatmulDims { m: 1, k: 784, n: 300 }, Matmul::nn());
    product(&mut g, d.m, d.k, d.n, spec);
    let entry = &recorded_classes(dir.path(), &cache_key(&ctx))[&ShapeClass::of(d, &spec).label()];
    let has = |t: MatmulTiling| candidates.contains(&t);
    if has(MatmulTiling::register()) && has(MatmulTiling::subgroup()) {
        assert!(g.matmul_tilings_alike(MatmulTiling::register(), MatmulTiling::subgroup(), d, &spec));
        assert!(!g.matmul_tilings_alike(MatmulTiling::register(), MatmulTiling::subgroup(), MatmulDims { m: 128, ..d }, &spec));
    }
    let mut twins = 0;
    for (i, &x) in candidates.iter().enumerate() {
        for &y in &candidates[i + 1..] {
            let alike = g.matmul_tilings_alike(x, y, d, &spec);
            if alike {
                twins += 1;
                assert_eq!(entry.gflops[x.name()], entry.gflops[y.name()], "{x} and {y}: {entry:?}");
            }
        }
    }
    eprintln!("{twins} pair(s) of {} candidates share the kernel of {}×{}×{}: {entry:?}", candidates.len(), d.m, d.k, d.n);
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut v = names.to_vec();
    v.sort();
    v
}

#[test]
fn a_backend_with_one_tiling_or_autotune_off_times_nothing() {
    let _alone = timing_alone();
    let ctx = context();
    let dir = tempfile::tempdir().unwrap();
    let skipped = Tuned { tiling: MatmulTiling::register(), source: TuneSource::Skipped, gflops: Default::default() };
    let named = Tuned { source: TuneSource::Override, ..skipped.clone() };
    for tuned in [skipped, named] {
        let mut g = GpuBackend::with_tuning(ctx.clone(), &tuned, Some(dir.path().into())).unwrap();
        assert_eq!(g.matmul_candidates(), vec![MatmulTiling::register()]);
        product(&mut g, 128, 784, 300, Matmul::nn());
        assert_eq!(g.matmul_tiling_for(MatmulDims { m: 128, k: 784, n: 300 }, &Matmul::nn()), MatmulTiling::register());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing measured, nothing written");
}

/// The products of one training step of a Dense net with these widths at `batch`: each
/// layer's forward x·W, weight gradient xᵀ·dz, and (past the first) input gradient dz·Wᵀ.
fn step_products(widths: &[usize], batch: usize) -> Vec<(usize, usize, usize, Matmul)> {
    let mut out = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        let (fan_in, fan_out) = (w[0], w[1]);
        out.push((batch, fan_in, fan_out, Matmul::nn()));
        out.push((fan_in, batch, fan_out, Matmul::tn()));
        if i > 0 {
            out.push((batch, fan_out, fan_in, Matmul::nt()));
        }
    }
    out
}

/// How many times a product is recorded per timed round: enough work to time on lavapipe; on
/// a GPU 64, so a submission's fixed cost (tens of µs) does not decide.
fn repeats(m: usize, k: usize, n: usize) -> usize {
    if context().kind() != wgtrain::gpu::DeviceKind::Cpu {
        return 64;
    }
    ((1usize << 24) / (m * k * n)).clamp(1, 64)
}

/// A chosen tiling slower than the best by less than a dispatch's fixed cost on this adapter
/// (and at least this), per product, is as good as the best: on a real GPU the smallest bench
/// products (1×10×2048) take a few microseconds, where dispatch jitter alone moves candidates
/// by 10-30% between rounds (seen on an H200); on lavapipe a dispatch costs tens of µs, and
/// the mlp's 100×1×10 weight gradient (~40 µs) measured 1.15× apart between two candidates
/// in the test while the tuner, timing the same product, had them 1.12× the other way.
const TIE_SECONDS: f64 = 1e-6;

/// Seconds of one dispatch of the smallest product (1×4×4) on `ctx`: its fixed cost.
fn dispatch_seconds(ctx: &std::sync::Arc<wgtrain::GpuContext>) -> f64 {
    let spec = Matmul::nn();
    let seconds = time_full(ctx, &[MatmulTiling::register()], (1, 4, 4, spec));
    (seconds[0] / repeats(1, 4, 4) as f64).max(TIE_SECONDS)
}

/// Median seconds of one product per candidate, over rounds that alternate the candidates.
fn time_full(
    ctx: &std::sync::Arc<wgtrain::GpuContext>,
    tilings: &[MatmulTiling],
    p: (usize, usize, usize, Matmul),
) -> Vec<f64> {
    let (m, k, n, spec) = p;
    let repeats = repeats(m, k, n);
    let mut runs: Vec<_> = tilings
        .iter()
        .map(|&t| {
            let mut g = GpuBackend::with_tiling(ctx.clone(), t).unwrap();
            let (a, b, c) = operands(&mut g, m, k, n, spec);
            g.matmul(a, b, c, spec).unwrap();
            g.sync().unwrap();
            (g, a, b, c, Vec::new())
        })
        .collect();
    for round in 0..5 {
        // Odd rounds run the candidates in reverse, so none is always timed first (first went
        // 3-6% slower on identical kernels here).
        let order: Vec<usize> = if round % 2 == 0 { (0..runs.len()).collect() } else { (0..runs.len()).rev().collect() };
        for i in order {
            let (g, a, b, c, seconds) = &mut runs[i];
            let start = Instant::now();
            for _ in 0..repeats {
                g.matmul(*a, *b, *c, spec).unwrap();
            }
            g.sync().unwrap();
            seconds.push(start.elapsed().as_secs_f64());
        }
    }
    runs.into_iter()
        .map(|(.., mut s)| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

/// The check, timed: on the bench models' products (mlp, deep, wide at batch 1 and
/// 128), the tiling chosen for each product's class runs it within 10% of the fastest
/// candidate, or within a dispatch's fixed cost of it, or dispatches the fastest one's
/// pipeline. Timings alternate the candidates and take medians of 5; a product outside 10% is
/// timed again (up to three times) before the test fails, so a burst of load on a shared
/// machine does not fail it, while a wrong choice (on lavapipe the losing candidate is about
/// 2× slower) fails every time.
#[test]
fn the_chosen_tiling_is_within_ten_percent_of_the_best_on_every_bench_product() {
    let _alone = timing_alone();
    let ctx = context();
    let (dir, _, mut g) = tuned_backend();
    let candidates = g.matmul_candidates();
    let tie = dispatch_seconds(&ctx);
    eprintln!("a dispatch's fixed cost here: {:.1} µs", tie * 1e6);
    let deep: Vec<usize> = std::iter::once(784).chain([100; 20]).chain([10]).collect();
    let models: [(&str, Vec<usize>); 3] =
        [("mlp", vec![784, 300, 100, 10]), ("deep", deep), ("wide", vec![784, 2048, 2048, 10])];
    let mut checked = std::collections::BTreeSet::new();
    for (model, widths) in &models {
        for batch in [1, 128] {
            for p in step_products(widths, batch) {
                let (m, k, n, spec) = p;
                if !checked.insert((m, k, n, spec.trans_a, spec.trans_b)) {
                    continue;
                }
                product(&mut g, m, k, n, spec); // the first product of its class times it
                let chosen = g.matmul_tiling_for(MatmulDims { m, k, n }, &spec);
                let i = candidates.iter().position(|t| *t == chosen).unwrap();
                let mut ratios = Vec::new();
                let mut fine = false;
                let mut per_product = Vec::new();
                for _ in 0..3 {
                    let seconds = time_full(&ctx, &candidates, p);
                    let best = seconds.iter().copied().fold(f64::INFINITY, f64::min);
                    ratios.push(seconds[i] / best);
                    per_product = seconds.iter().map(|s| s / repeats(m, k, n) as f64).collect::<Vec<_>>();
                    let fastest = seconds.iter().position(|&s| s == best).unwrap();
                    // A candidate that dispatches the chosen one's pipeline is the chosen
                    // kernel: a gap between their timings is noise (seen 1.2-1.7x on a shared
                    // CI machine, for Register and Subgroup on 1×2048×2048).
                    fine = seconds[i] <= 1.10 * best
                        || per_product[i] - best / repeats(m, k, n) as f64 <= tie
                        || g.matmul_tilings_alike(chosen, candidates[fastest], MatmulDims { m, k, n }, &spec);
                    if fine {
                        break;
                    }
                }
                let micros: Vec<f64> = per_product.iter().map(|s| s * 1e6).collect();
                if !fine {
                    let class = ShapeClass::of(MatmulDims { m, k, n }, &spec);
                    let tuner = recorded_classes(dir.path(), &cache_key(&ctx));
                    eprintln!("the tuner's timing of {}: {:?}", class.label(), tuner.get(&class.label()));
                }
                eprintln!("{model} batch {batch}: {m}×{k}×{n}: chosen {i}, µs a product {micros:.2?}");
                assert!(
                    fine,
                    "{model} batch {batch}: {m}×{k}×{n} ({}{}): {chosen} took {ratios:.3?}× the fastest of {candidates:?} ({micros:.2?} µs a product)",
                    if spec.trans_a { "t" } else { "n" },
                    if spec.trans_b { "t" } else { "n" }
                );
            }
        }
    }
    eprintln!("{} products checked over {} candidates", checked.len(), candidates.len());
}
