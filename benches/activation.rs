//! Activation kernels: forward and backward of every variant over a (1024, 1024) tensor on
//! the GPU and the CPU twin. `Throughput::Bytes` counts the memory each pass must touch (forward reads x and
//! writes y; backward reads x and dy and writes dx), so criterion's rate is effective GB/s.
//! GPU samples wait for the queue before the clock stops.
//!
//! Run: `cargo bench --bench activation` (release).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgtrain::{Activation, ActivationArgs, Backend, CpuBackend, GpuBackend};

const ROWS: usize = 1024;
const COLS: usize = 1024;

fn activation(c: &mut Criterion) {
    let mut g = GpuBackend::from_env().expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
    eprintln!("adapter: {}", g.context().adapter());
    bench_on(c, "gpu", &mut g);
    bench_on(c, "cpu", &mut CpuBackend::new());
}

fn bench_on(c: &mut Criterion, path: &str, g: &mut dyn Backend) {
    let n = ROWS * COLS;
    let values: Vec<f32> = (0..n).map(|i| ((i * 7919) % 2001) as f32 / 100.0 - 10.0).collect();
    let x = g.upload(ROWS, COLS, &values).unwrap();
    let dy = g.upload(ROWS, COLS, &vec![1.0; n]).unwrap();
    let (y, dx) = (g.zeros(ROWS, COLS).unwrap(), g.zeros(ROWS, COLS).unwrap());
    let alpha = g.upload(1, COLS, &vec![0.25; COLS]).unwrap();
    let mut group = c.benchmark_group("activation");
    group.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    for act in Activation::ALL {
        let args = ActivationArgs { alpha: (act == Activation::Prelu).then_some(alpha), noise: None };
        for (pass, bytes) in [("forward", 8 * n), ("backward", 12 * n)] {
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_function(BenchmarkId::new(format!("{path}/{pass}"), act.name()), |bench| {
                bench.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        if pass == "forward" {
                            g.activation_forward(act, x, y, args).unwrap();
                        } else {
                            g.activation_backward(act, Some(x), y, dy, dx, args).unwrap();
                        }
                        g.submit().unwrap();
                    }
                    g.sync().unwrap();
                    start.elapsed()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, activation);
criterion_main!(benches);
