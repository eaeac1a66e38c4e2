//! matmul throughput: GPU (the adapter's tiling, and the others it runs for comparison) and the
//! CPU twin. `Throughput::Elements` is FLOPs (2·M·N·K), so criterion's "elem/s" is FLOP/s.
//! GPU samples submit every product and wait for the queue before the clock stops.
//!
//! Run: `cargo bench --bench matmul` (release). Pick an adapter with WGPU_ADAPTER_NAME.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgtrain::gpu::MatmulTiling;
use wgtrain::{Activation, Backend, CpuBackend, GpuBackend, GpuContext, Matmul};

struct Case {
    id: &'static str,
    m: usize,
    k: usize,
    n: usize,
    spec: fn() -> Matmul,
}

const CASES: &[Case] = &[
    Case { id: "128^3", m: 128, k: 128, n: 128, spec: Matmul::nn },
    Case { id: "512^3", m: 512, k: 512, n: 512, spec: Matmul::nn },
    Case { id: "1024^3", m: 1024, k: 1024, n: 1024, spec: Matmul::nn },
    // Dense 784→300 at batch 128: forward x·w, input gradient dy·wᵀ, weight gradient xᵀ·dy.
    Case { id: "dense-x.w-128x784x300", m: 128, k: 784, n: 300, spec: Matmul::nn },
    Case { id: "dense-dy.wT-128x300x784", m: 128, k: 300, n: 784, spec: Matmul::nt },
    Case { id: "dense-xT.dy-784x128x300", m: 784, k: 128, n: 300, spec: Matmul::tn },
    // The wide net's (784-2048-2048-10) middle layer at batch 128: another shape class.
    Case { id: "wide-x.w-128x2048x2048", m: 128, k: 2048, n: 2048, spec: Matmul::nn },
    // The forward with a saturating activation fused into the epilogue.
    Case { id: "dense-x.w-tanh-128x784x300", m: 128, k: 784, n: 300, spec: nn_tanh },
];

/// Products large enough to fill a real GPU (the cases above are launch-bound there); at
/// lavapipe's ~4 GFLOP/s one 4096³ product takes half a minute, so CPU adapters skip them.
const LARGE: &[Case] = &[
    Case { id: "2048^3", m: 2048, k: 2048, n: 2048, spec: Matmul::nn },
    Case { id: "4096^3", m: 4096, k: 4096, n: 4096, spec: Matmul::nn },
];

fn nn_tanh() -> Matmul {
    Matmul::nn().with_activation(Activation::Tanh)
}

fn operands(backend: &mut dyn Backend, case: &Case) -> (wgtrain::Tensor, wgtrain::Tensor, wgtrain::Tensor, Matmul) {
    let spec = (case.spec)();
    let a_shape = if spec.trans_a { (case.k, case.m) } else { (case.m, case.k) };
    let b_shape = if spec.trans_b { (case.n, case.k) } else { (case.k, case.n) };
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<_>>();
    let a = backend.upload(a_shape.0, a_shape.1, &fill(case.m * case.k)).unwrap();
    let b = backend.upload(b_shape.0, b_shape.1, &fill(case.k * case.n)).unwrap();
    let c = backend.zeros(case.m, case.n).unwrap();
    (a, b, c, spec)
}

fn bench_gpu(c: &mut Criterion, group_name: &str, label: &str, ctx: &std::sync::Arc<GpuContext>, tiling: MatmulTiling) {
    let mut group = c.benchmark_group(group_name);
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    let mut g = GpuBackend::with_tiling(ctx.clone(), tiling).unwrap();
    let large = if ctx.kind() == wgtrain::gpu::DeviceKind::Cpu { &[][..] } else { LARGE };
    for case in CASES.iter().chain(large) {
        let (a, b, out, spec) = operands(&mut g, case);
        g.matmul(a, b, out, spec).unwrap();
        g.sync().unwrap();
        group.throughput(Throughput::Elements((2 * case.m * case.n * case.k) as u64));
        group.bench_function(BenchmarkId::new(label, case.id), |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    g.matmul(a, b, out, spec).unwrap();
                    g.submit().unwrap();
                }
                g.sync().unwrap();
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn matmul(c: &mut Criterion) {
    let ctx = GpuContext::from_env().expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
    let chosen = wgtrain::gpu::tune::choose(&ctx, wgtrain::gpu::tune::Autotune::from_env().unwrap()).unwrap().tiling;
    eprintln!("adapter: {}\ngpu: {chosen}", ctx.adapter());
    bench_gpu(c, "matmul", "gpu", &ctx, chosen);
    // The other tilings this adapter runs, for comparison.
    let mut others = vec![
        ("gpu-register", MatmulTiling::register()),
        ("gpu-tiled", MatmulTiling::tiled()),
    ];
    // On CPU drivers tiles lose several-fold (the tuner times one tiled shape there).
    if ctx.kind() != wgtrain::gpu::DeviceKind::Cpu {
        others.push(("gpu-tiled-8x8", MatmulTiling::tiled_8x8()));
        others.push(("gpu-tiled-32", MatmulTiling::tiled_32()));
    }
    if MatmulTiling::subgroups_fit(&ctx) {
        others.push(("gpu-subgroup", MatmulTiling::subgroup()));
    }
    for (label, tiling) in others.into_iter().filter(|&(_, t)| t != chosen) {
        eprintln!("{label}: {tiling}");
        bench_gpu(c, "matmul", label, &ctx, tiling);
    }

    let mut group = c.benchmark_group("matmul");
    group.sample_size(10).warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_secs(2));
    let mut cpu = CpuBackend::new();
    for case in CASES {
        let (a, b, out, spec) = operands(&mut cpu, case);
        group.throughput(Throughput::Elements((2 * case.m * case.n * case.k) as u64));
        group.bench_function(BenchmarkId::new("cpu", case.id), |bench| {
            bench.iter(|| cpu.matmul(a, b, out, spec).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
