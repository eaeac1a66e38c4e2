//! Whole training steps and inference passes of the Fashion-MNIST MLP (784-300-100-10,
//! batch 128): gather, forward, loss, backward and update in one submission, against a
//! forward-only evaluation pass; with and without dropout, and with saturating activations.
//! `Throughput::Elements` = samples, so criterion's elem/s is samples/s. GPU samples wait for the queue before the clock stops.
//!
//! Run: `cargo bench --bench train_step` (release).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgtrain::data::sources;
use wgtrain::nn::{LayerSpec, Mode, ModelSpec, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend, CpuBackend, Gather, GpuBackend, StepCounters};

const BATCH: usize = 128;

/// (name, hidden activation, dropout): ReLU plain and with dropout; the saturating
/// activations, whose Dense layers keep their pre-activation for an accurate backward.
const CASES: &[(&str, Activation, bool)] = &[
    ("plain", Activation::Relu, false),
    ("dropout", Activation::Relu, true),
    ("elu", Activation::elu(), false),
    ("tanh", Activation::Tanh, false),
    ("gelu", Activation::Gelu, false),
];

fn spec(act: Activation, dropout: bool) -> ModelSpec {
    let mut spec = ModelSpec::mlp(784, &[300, 100], 10, act);
    if dropout {
        spec.layers.insert(1, LayerSpec::Dropout { rate: 0.2 });
        spec.layers.insert(3, LayerSpec::Dropout { rate: 0.2 });
    }
    spec
}

fn bench_backend(
    c: &mut Criterion,
    label: &str,
    b: &mut dyn Backend,
    samples: usize,
    cases: &[(&str, Activation, bool)],
) {
    // Synthetic images: the step's cost does not depend on the pixel values.
    let data = sources::blobs(samples / 10, 10, 784, 1.0, 1);
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(BATCH as u64));
    for &(name, act, dropout) in cases {
        let mut model = Sequential::new(b, &spec(act, dropout), 1).unwrap();
        let mut opt =
            Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.01).with_momentum(0.9)).unwrap();
        opt.attach(b, model.params_mut()).unwrap();
        let mut trainer = Trainer::new(b, TrainConfig { batch_size: BATCH, ..TrainConfig::default() }).unwrap();
        let train = DeviceData::upload(b, &data).unwrap();
        let batches = data.rows / BATCH;
        group.bench_function(BenchmarkId::new(format!("{label}/train"), name), |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters as usize {
                    trainer.step(b, &mut model, &mut opt, &train, (i % batches) * BATCH, BATCH).unwrap();
                }
                b.sync().unwrap();
                start.elapsed()
            })
        });
        let ws = model.workspace(b, BATCH).unwrap();
        let input = model.ws(ws).input;
        group.bench_function(BenchmarkId::new(format!("{label}/infer"), name), |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters as usize {
                    b.begin_step(StepCounters { step: 0, batch_offset: ((i % batches) * BATCH) as u32, row_base: 0 }).unwrap();
                    b.gather_rows(&train.x, train.order, input, Gather::default()).unwrap();
                    model.forward(b, ws, Mode::Eval).unwrap();
                    b.submit().unwrap();
                }
                b.sync().unwrap();
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn train_step(c: &mut Criterion) {
    let mut g = GpuBackend::from_env().expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
    eprintln!("adapter: {}", g.context().adapter());
    bench_backend(c, "gpu", &mut g, 12_800, CASES);
    bench_backend(c, "cpu", &mut CpuBackend::new(), 1_280, &CASES[..2]);
}

criterion_group!(benches, train_step);
criterion_main!(benches);
