//! A training loop of your own over the op set: the model records its forward and backward
//! passes, you choose the batches, the loss scale and when to read anything back. Runs on the
//! GPU, or on the CPU twin with `-- cpu`.
//!
//! Run: `cargo run --release --example custom_loop [-- cpu]`

use rand::seq::SliceRandom;
use rand::SeedableRng;
use wgtrain::backend::StepCounters;
use wgtrain::data::sources;
use wgtrain::nn::{Mode, ModelSpec, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::{Activation, Backend, CpuBackend, GpuBackend, Loss};

fn main() -> wgtrain::Result<()> {
    let mut b: Box<dyn Backend> = match std::env::args().nth(1).as_deref() {
        Some("cpu") => Box::new(CpuBackend::new()),
        _ => Box::new(GpuBackend::from_env()?),
    };
    let b = b.as_mut();
    let data = sources::spirals(500, 0.05, 1);
    let spec = ModelSpec::builder(2).repeat(2, |l| l.dense(64, Activation::Tanh)).classes(2)?;
    let mut model = Sequential::new(b, &spec, 7)?;
    let mut opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Adam).with_lr(0.01))?;
    opt.attach(b, model.params_mut())?;
    let batch = 50;
    let ws = model.workspace(b, batch)?;
    let (input, labels, dlogits) = (model.ws(ws).input, model.ws(ws).labels, model.ws(ws).dlogits);
    // stats: the loss kernel adds the batch's loss and correct count here.
    let stats = b.zeros(1, 4)?;
    let mut order: Vec<usize> = (0..data.rows).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for epoch in 1..=30 {
        order.shuffle(&mut rng);
        b.fill(stats, 0.0)?;
        for (step, rows) in order.chunks_exact(batch).enumerate() {
            let x: Vec<f32> = rows.iter().flat_map(|&r| (0..2).map(move |c| (r, c))).map(|(r, c)| data.value(r, c)).collect();
            let y: Vec<u32> = rows.iter().map(|&r| data.labels[r]).collect();
            opt.prepare(b)?;
            b.write(input, &x)?;
            b.write_u32(labels, &y)?;
            b.begin_step(StepCounters { step: (epoch * 100 + step) as u32, batch_offset: 0, row_base: 0 })?;
            let logits = model.forward(b, ws, Mode::Train)?;
            b.loss(Loss::SoftmaxCrossEntropy, logits, labels, dlogits, stats, 1.0 / batch as f32)?;
            model.backward(b, ws)?;
            opt.record(b, model.params())?;
            b.submit()?;
        }
        if epoch % 10 == 0 {
            let m = wgtrain::infer::Metrics::from_stats(&b.read(stats)?);
            println!("epoch {epoch}: loss {:.4}, accuracy {:.3} ({})", m.loss, m.accuracy, b.describe());
        }
    }
    Ok(())
}
