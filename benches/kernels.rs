//! The kernel families besides matmul and the activations, on the GPU and the CPU twin:
//! softmax cross-entropy, dropout, optimizer updates, batch norm and column sums. Ids are
//! `<family>/gpu/<case>` and `<family>/cpu/<case>`; `Throughput::Bytes` counts the memory a
//! pass must touch, so criterion's rate is effective GB/s. GPU samples wait for the queue
//! before the clock stops.
//!
//! Run: `cargo bench --bench kernels` (release).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgtrain::{
    Backend, BatchNorm, BatchNormTensors, CpuBackend, Dropout, Gather, GpuBackend, Hyper, Loss, Noise, Tensor,
    UpdateRule, UpdateTensors,
};

type Op = Box<dyn FnMut(&mut dyn Backend)>;

/// One case: its family, name, bytes touched per call, and a setup returning the call.
struct Case {
    family: &'static str,
    name: &'static str,
    bytes: u64,
    setup: fn(&mut dyn Backend) -> Op,
}

fn values(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0).collect()
}

fn upload(b: &mut dyn Backend, rows: usize, cols: usize) -> Tensor {
    b.upload(rows, cols, &values(rows * cols)).unwrap()
}

fn softmax_ce(b: &mut dyn Backend) -> Op {
    let (rows, cols) = (1024, 10);
    let z = upload(b, rows, cols);
    let labels = b.upload_u32(rows, 1, &(0..rows as u32).map(|i| i % cols as u32).collect::<Vec<_>>()).unwrap();
    let (dz, stats) = (b.zeros(rows, cols).unwrap(), b.zeros(1, 4).unwrap());
    Box::new(move |b| b.loss(Loss::SoftmaxCrossEntropy, z, labels, dz, stats, 1.0 / rows as f32).unwrap())
}

fn dropout(b: &mut dyn Backend) -> Op {
    let x = upload(b, 1024, 1024);
    let y = b.zeros(1024, 1024).unwrap();
    let spec = Dropout::inverted(0.5, Noise { seed: 1, stream: 2 });
    Box::new(move |b| b.dropout_forward(spec, x, y).unwrap())
}

fn update(rule: UpdateRule, b: &mut dyn Backend) -> Op {
    let n = 1 << 20;
    let (param, grad) = (upload(b, 1, n), upload(b, 1, n));
    let state = [Some(b.zeros(1, n).unwrap()), Some(b.zeros(1, n).unwrap())];
    let hyper = b.upload(1, Hyper::LEN, Hyper::adam(1e-3, 0.9, 0.999, 1e-7, 0.0, 1).as_slice()).unwrap();
    Box::new(move |b| b.update(rule, UpdateTensors { param, grad: grad.into(), state, hyper, grad_norm: None, penalized: 0 }).unwrap())
}

fn momentum(b: &mut dyn Backend) -> Op {
    update(UpdateRule::Momentum, b)
}

fn adam(b: &mut dyn Backend) -> Op {
    update(UpdateRule::Adam, b)
}

fn batchnorm(b: &mut dyn Backend) -> Op {
    let (rows, cols) = (1024, 256);
    let x = upload(b, rows, cols);
    let affine = b.upload(2, cols, &[vec![1.0; cols], vec![0.0; cols]].concat()).unwrap();
    let (saved, running) =
        (b.zeros(2, cols).unwrap(), b.upload(2, cols, &[vec![0.0; cols], vec![1.0; cols]].concat()).unwrap());
    let (y, dy, dx, daffine) =
        (b.zeros(rows, cols).unwrap(), upload(b, rows, cols), b.zeros(rows, cols).unwrap(), b.zeros(2, cols).unwrap());
    let t = BatchNormTensors { x, affine, saved, running };
    Box::new(move |b| {
        b.batchnorm_forward(BatchNorm::default(), t, y, true).unwrap();
        b.batchnorm_backward(t, dy, dx, daffine).unwrap();
    })
}

/// A batch of 128 Fashion-MNIST-sized rows gathered from 4,096 packed u8 or f32 rows.
fn gather(b: &mut dyn Backend, u8_source: bool) -> Op {
    let (rows, cols, batch) = (4096, 784, 128);
    let src = if u8_source {
        b.upload_u8(rows, cols, &(0..rows * cols).map(|i| (i * 131 % 256) as u8).collect::<Vec<_>>()).unwrap()
    } else {
        upload(b, rows, cols)
    };
    let index = b
        .upload_u32(1, rows, &(0..rows as u32).map(|i| (i * 2_654_435_761) % rows as u32).collect::<Vec<_>>())
        .unwrap();
    let dst = b.zeros(batch, cols).unwrap();
    let spec = Gather { scale: 1.0 / 255.0, shift: 0.0 };
    Box::new(move |b| b.gather_rows(&[src], index, dst, spec).unwrap())
}

fn gather_u8(b: &mut dyn Backend) -> Op {
    gather(b, true)
}

fn gather_f32(b: &mut dyn Backend) -> Op {
    gather(b, false)
}

fn column_sum(b: &mut dyn Backend) -> Op {
    let x = upload(b, 1024, 1024);
    let y = b.zeros(1, 1024).unwrap();
    Box::new(move |b| b.column_sum(x, y).unwrap())
}

const MB: u64 = 1 << 20;
const CASES: &[Case] = &[
    // z read, dz written, labels read.
    Case { family: "loss", name: "softmax-ce-1024x10", bytes: 1024 * 10 * 8 + 1024 * 4, setup: softmax_ce },
    // x read, y written.
    Case { family: "dropout", name: "inverted-1024x1024", bytes: 8 * MB, setup: dropout },
    // θ, g, v read; θ, v written.
    Case { family: "optim", name: "momentum-1M", bytes: 20 * MB, setup: momentum },
    // θ, g, m, v read; θ, m, v written.
    Case { family: "optim", name: "adam-1M", bytes: 28 * MB, setup: adam },
    // forward: x read twice (statistics, normalize), y written; backward: x, dy read twice, dx written.
    Case { family: "batchnorm", name: "train-fwd-bwd-1024x256", bytes: 1024 * 256 * 4 * 8, setup: batchnorm },
    Case { family: "reduce", name: "column-sum-1024x1024", bytes: 4 * MB, setup: column_sum },
    // source rows read (1 or 4 bytes a value), f32 batch written.
    Case { family: "data", name: "gather-u8-128x784", bytes: 128 * 784 * 5, setup: gather_u8 },
    Case { family: "data", name: "gather-f32-128x784", bytes: 128 * 784 * 8, setup: gather_f32 },
];

fn bench_on(c: &mut Criterion, path: &str, b: &mut dyn Backend) {
    for case in CASES {
        let mut op = (case.setup)(b);
        op(b);
        b.sync().unwrap();
        let mut group = c.benchmark_group(case.family);
        group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
        group.throughput(Throughput::Bytes(case.bytes));
        group.bench_function(BenchmarkId::new(path, case.name), |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    op(b);
                    b.submit().unwrap();
                }
                b.sync().unwrap();
                start.elapsed()
            })
        });
        group.finish();
    }
}

fn kernels(c: &mut Criterion) {
    let mut g = GpuBackend::from_env().expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
    eprintln!("adapter: {}", g.context().adapter());
    bench_on(c, "gpu", &mut g);
    bench_on(c, "cpu", &mut CpuBackend::new());
}

criterion_group!(benches, kernels);
criterion_main!(benches);
