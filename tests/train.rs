//! The training engine: whole-step parity of GPU and CPU twin, no readback or allocation in
//! the step loop, the symmetry of same-value initialization, checkpoints and exact resume.

mod common;

use common::training::{blobs, mlp_with_everything, read_params, setup};
use common::{assert_close, context, gpu, Both};
use wgtrain::data::sources;
use wgtrain::nn::{Initializer, LayerSpec, Mode, ModelSpec, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend, CpuBackend, GpuBackend, Loss};

#[test]
fn ten_training_steps_agree_on_gpu_and_cpu_twin() {
    let data = blobs();
    let config = TrainConfig { batch_size: 32, ..TrainConfig::default() };
    let mut both = Both::new();
    let mut losses = [Vec::new(), Vec::new()];
    let mut params = Vec::new();
    for (k, b) in both.each().into_iter().enumerate() {
        let mut r = setup(b, &mlp_with_everything(), &data, config.clone());
        b.write_u32(r.data.order, &wgtrain::train::epoch_order(7, 0, data.rows)).unwrap();
        b.fill(r.trainer.running_metrics_tensor(), 0.0).unwrap();
        for step in 0..10 {
            r.trainer.step(b, &mut r.model, &mut r.opt, &r.data, (step * 32) % 224, 32).unwrap();
            losses[k].push(r.trainer.running_metrics(b).unwrap().loss);
        }
        params.push(read_params(b, &r.model));
    }
    // Same initial weights, same batches, same dropout masks (Philox): the two sides differ only
    // by f32 rounding (matmul grouping, exp/tanh ulps), which ten steps of SGD carry but do not
    // amplify at lr 0.05. Bound: 1e-4 relative on the running loss, 1e-4 + 1e-4·|θ| on θ.
    assert_close("running loss per step", &losses[0], &losses[1], 1e-5, 1e-4);
    let names: Vec<String> = Sequential::new(&mut CpuBackend::new(), &mlp_with_everything(), 11)
        .unwrap()
        .named_tensors()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for (i, name) in names.iter().enumerate() {
        assert_close(name, &params[0][i], &params[1][i], 1e-4, 1e-4);
    }
}

/// Batch-1 inference as `bench` times its latency: record the gather and the forward pass,
/// then read the logits. Once warm, each call is one submit (the read's, carrying the batch
/// and the copy), one readback of exactly the logits, and nothing created.
#[test]
fn batch_one_inference_is_one_submit_and_one_small_readback() {
    let data = blobs();
    let mut g = GpuBackend::new(context()).unwrap();
    let r = setup(&mut g, &mlp_with_everything(), &data, TrainConfig::default());
    let mut model = r.model;
    let ws = model.workspace(&mut g, 1).unwrap();
    let call = |g: &mut GpuBackend, model: &mut Sequential, row: u32| {
        g.begin_step(wgtrain::StepCounters { step: 0, batch_offset: row, row_base: 0 }).unwrap();
        let input = model.ws(ws).input;
        g.gather_rows(&r.data.x, r.data.order, input, r.data.gather).unwrap();
        let logits = model.forward(g, ws, Mode::Eval).unwrap();
        g.read(logits).unwrap()
    };
    call(&mut g, &mut model, 0); // warm: pipelines and bind groups
    let outputs = model.spec().outputs();
    for row in 1..6 {
        let before = g.stats();
        let logits = call(&mut g, &mut model, row);
        let after = g.stats();
        assert_eq!(logits.len(), outputs);
        assert_eq!(after.submits - before.submits, 1, "submits per call");
        assert_eq!(after.readbacks - before.readbacks, 1, "readbacks per call");
        assert_eq!(after.readback_bytes - before.readback_bytes, 4 * outputs as u64, "bytes read back per call");
        assert_eq!(after.buffers_created, before.buffers_created, "buffers created per call");
        assert_eq!(after.bind_groups_created, before.bind_groups_created, "bind groups created per call");
    }
}

#[test]
fn the_step_loop_reads_nothing_back_and_allocates_nothing() {
    let data = blobs();
    let mut g = GpuBackend::new(context()).unwrap();
    let mut r = setup(&mut g, &mlp_with_everything(), &data, TrainConfig { batch_size: 32, ..TrainConfig::default() });
    r.trainer.step(&mut g, &mut r.model, &mut r.opt, &r.data, 0, 32).unwrap();
    let before = g.stats();
    for k in 1..7 {
        r.trainer.step(&mut g, &mut r.model, &mut r.opt, &r.data, 32 * k, 32).unwrap();
    }
    let after = g.stats();
    assert_eq!(after.readbacks, before.readbacks, "readbacks in the step loop");
    assert_eq!(after.buffers_created, before.buffers_created, "buffers created in the step loop");
    assert_eq!(after.bind_groups_created, before.bind_groups_created, "bind groups created in the step loop");
    assert_eq!(after.submits - before.submits, 6, "one submission per step");
}

/// A 20 → 16 → 16 → 4 tanh MLP whose every weight starts at one He-drawn value.
fn symmetric(dropout: bool) -> ModelSpec {
    let dense =
        |units| LayerSpec::Dense { units, activation: Activation::Tanh, init: Initializer::SameValue, bias: 0.0 };
    let mut layers = vec![dense(16)];
    if dropout {
        layers.push(LayerSpec::Dropout { rate: 0.3 });
    }
    layers.push(dense(16));
    layers.push(LayerSpec::Dense {
        units: 4,
        activation: Activation::Identity,
        init: Initializer::SameValue,
        bias: 0.0,
    });
    ModelSpec { inputs: 20, layers, loss: Loss::SoftmaxCrossEntropy }
}

/// The largest difference between two columns (neurons) of the first layer's weights.
fn neuron_spread(b: &mut dyn Backend, model: &Sequential) -> f32 {
    let w = model.params()[0].value;
    let v = b.read(w).unwrap();
    let (rows, cols) = (w.rows, w.cols);
    (0..rows)
        .flat_map(|r| (1..cols).map(move |c| (r, c)))
        .map(|(r, c)| (v[r * cols + c] - v[r * cols]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn same_value_init_keeps_neurons_identical_unless_dropout_breaks_the_symmetry() {
    let data = blobs();
    for dropout in [false, true] {
        let mut g = gpu();
        let mut r = setup(
            &mut g,
            &symmetric(dropout),
            &data,
            TrainConfig { epochs: 5, batch_size: 16, ..TrainConfig::default() },
        );
        assert_eq!(neuron_spread(&mut g, &r.model), 0.0, "all weights start equal");
        r.trainer.fit(&mut g, &mut r.model, &mut r.opt, &r.data, None, &mut []).unwrap();
        let spread = neuron_spread(&mut g, &r.model);
        if dropout {
            // Different units are dropped, so they see different gradients and drift apart.
            assert!(spread > 1e-3, "with dropout the neurons stayed identical (spread {spread})");
        } else {
            // Every neuron computes the same function and gets the same gradient, to the bit.
            assert_eq!(spread, 0.0, "without dropout the neurons diverged");
        }
    }
}

#[test]
fn early_stopping_stops_after_patience_and_restores_the_best_weights() {
    let data = blobs();
    let (train, val) = data.split(0.3, 1).unwrap();
    let mut g = gpu();
    let es = wgtrain::train::EarlyStopping { patience: 2, min_delta: 0.0, restore_best: true };
    // A learning rate this large makes the validation loss stop improving quickly.
    let config = TrainConfig { epochs: 40, batch_size: 16, early_stopping: Some(es), ..TrainConfig::default() };
    let mut r = setup(&mut g, &ModelSpec::mlp(20, &[64], 4, Activation::Relu), &train, config);
    r.opt.config.lr = 0.5;
    let val = DeviceData::upload(&mut g, &val).unwrap();
    r.trainer.fit(&mut g, &mut r.model, &mut r.opt, &r.data, Some(&val), &mut []).unwrap();
    let epochs = r.trainer.history().epochs.len();
    assert!(r.trainer.state().stopped && epochs < 40, "did not stop early ({epochs} epochs)");
    let best = r.trainer.state().best_val_loss;
    assert_eq!(
        epochs,
        r.trainer.state().best_epoch + 2,
        "stopped {epochs} epochs in, best at {}",
        r.trainer.state().best_epoch
    );
    let restored = r.trainer.inference().evaluate(&mut g, &mut r.model, &val).unwrap().loss;
    assert!((restored - best).abs() <= 1e-6 * best.max(1.0), "restored weights give {restored}, best was {best}");
}

#[test]
fn training_from_a_chunked_dataset_equals_training_from_one_buffer() {
    // A set too large for one storage binding is split by rows; the gather hides the split.
    let data = blobs();
    let mut params = Vec::new();
    for chunk_rows in [data.rows, 70] {
        let mut g = gpu();
        let mut r = setup(
            &mut g,
            &mlp_with_everything(),
            &data,
            TrainConfig { epochs: 2, batch_size: 32, ..TrainConfig::default() },
        );
        r.data = DeviceData::upload_chunked(&mut g, &data, chunk_rows).unwrap();
        assert_eq!(r.data.x.len(), data.rows.div_ceil(chunk_rows));
        r.trainer.fit(&mut g, &mut r.model, &mut r.opt, &r.data, None, &mut []).unwrap();
        params.push(read_params(&mut g, &r.model));
    }
    assert_eq!(params[0], params[1]);
}

#[test]
fn mc_dropout_predictions_vary_only_when_the_model_has_dropout() {
    let data = blobs();
    for with_dropout in [true, false] {
        let mut g = gpu();
        let spec = if with_dropout { mlp_with_everything() } else { ModelSpec::mlp(20, &[32], 4, Activation::Relu) };
        let mut r = setup(
            &mut g,
            &spec,
            &data,
            TrainConfig { epochs: 2, batch_size: 32, eval_batch_size: 100, ..TrainConfig::default() },
        );
        r.trainer.fit(&mut g, &mut r.model, &mut r.opt, &r.data, None, &mut []).unwrap();
        let (mean, std) = r.trainer.inference().predict_mc(&mut g, &mut r.model, &r.data, 20).unwrap();
        assert_eq!(mean.len(), data.rows * 4);
        for row in mean.chunks(4) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "mean probabilities sum to 1");
        }
        let spread = std.iter().copied().fold(0.0, f32::max);
        if with_dropout {
            assert!(spread > 1e-3, "20 dropout passes gave the same prediction");
        } else {
            assert_eq!(spread, 0.0, "without dropout every pass is the same");
        }
    }
}

#[test]
fn a_diverging_run_stops_at_the_first_non_finite_epoch() {
    let data = blobs();
    let mut g = gpu();
    let mut r = setup(
        &mut g,
        &ModelSpec::mlp(20, &[32], 4, Activation::Relu),
        &data,
        TrainConfig { epochs: 10, batch_size: 16, ..TrainConfig::default() },
    );
    r.opt.config.lr = 1e6;
    r.trainer.fit(&mut g, &mut r.model, &mut r.opt, &r.data, None, &mut []).unwrap();
    assert!(r.trainer.state().diverged && r.trainer.state().stopped);
    let epochs = r.trainer.history().epochs.len();
    assert!(epochs < 10, "kept training after divergence ({epochs} epochs)");
    assert!(!r.trainer.history().last().unwrap().loss.is_finite());
}

#[test]
fn throughput_is_total_samples_over_total_time_with_the_first_epoch_apart() {
    use wgtrain::train::{EpochRecord, History};
    let epoch = |epoch, samples, seconds: f64| EpochRecord {
        epoch,
        loss: 1.0,
        accuracy: 0.5,
        val_loss: None,
        val_accuracy: None,
        lr: 0.1,
        seconds,
        samples_per_second: samples as f64 / seconds,
        samples,
        sparsity: None,
    };
    // A slow first epoch (pipeline compilation), then epochs of unequal length and time, so
    // the mean of the per-epoch rates (2033) and the true rate (3100 samples / 2 s) differ.
    let h = History { epochs: vec![epoch(1, 100, 1.0), epoch(2, 1000, 0.5), epoch(3, 2000, 0.5)] };
    let t = h.throughput().unwrap();
    assert_eq!((t.samples, t.seconds), (3100, 2.0));
    assert!((t.samples_per_second - 1550.0).abs() < 1e-9, "{t:?}");
    assert!((t.first_epoch_samples_per_second - 100.0).abs() < 1e-9);
    assert!((t.after_first_epoch_samples_per_second.unwrap() - 3000.0).abs() < 1e-9);
    let mean_of_rates = (100.0 + 2000.0 + 4000.0) / 3.0;
    assert!((t.samples_per_second - mean_of_rates).abs() > 1.0, "not the mean of per-epoch rates");
    assert!(History::default().throughput().is_none());
}

/// Sigmoid cross-entropy in the trainer: one logistic output on a binary task (two blobs)
/// and one output per class, one-vs-rest, on four blobs. Both learn, and GPU and CPU twin
/// agree on the training history.
#[test]
fn sigmoid_cross_entropy_trains_binary_and_one_vs_rest_models() {
    let cases = [(sources::blobs(100, 2, 20, 1.5, 5), 1usize), (blobs(), 4)];
    for (data, outputs) in cases {
        let mut spec = ModelSpec::mlp(data.cols, &[32, 32], outputs, Activation::Tanh);
        spec.loss = Loss::SigmoidBinaryCrossEntropy;
        let mut histories = Vec::new();
        let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(gpu()), Box::new(CpuBackend::new())];
        for b in backends.iter_mut() {
            let b = b.as_mut();
            let mut model = Sequential::new(b, &spec, 11).unwrap();
            let mut opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Adam).with_lr(0.01)).unwrap();
            let config = TrainConfig { epochs: 30, batch_size: 32, ..TrainConfig::default() };
            let mut trainer = Trainer::new(b, config.clone()).unwrap();
            let device = DeviceData::upload(b, &data).unwrap();
            // Without targets the error says how to add them.
            let err = trainer.fit(b, &mut model, &mut opt, &device, None, &mut []).unwrap_err();
            assert!(err.to_string().contains("with_binary_targets"), "{err}");
            let device = device.with_binary_targets(b, &data, outputs).unwrap();
            let mut trainer = Trainer::new(b, config).unwrap();
            trainer.fit(b, &mut model, &mut opt, &device, None, &mut []).unwrap();
            let last = trainer.history().last().unwrap().clone();
            // Per-output accuracy: for one-vs-rest, 75% is what "never fires" scores.
            assert!(last.accuracy > 0.95 && last.loss < 0.15, "{outputs} outputs: {last:?}");
            let probs = trainer.inference().predict(b, &mut model, &device, Mode::Eval, 0).unwrap();
            assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)), "sigmoid probabilities");
            histories.push(trainer.history().epochs.iter().map(|r| r.loss).collect::<Vec<f32>>());
        }
        // The same steps on both: the loss curves agree to float rounding, compounded over
        // 30 epochs of Adam (1e-3 relative is far below any learning effect).
        assert_close("BCE loss history", &histories[0], &histories[1], 1e-4, 1e-3);
    }
    let three = sources::blobs(10, 3, 2, 1.0, 1);
    let mut b = CpuBackend::new();
    let d = DeviceData::upload(&mut b, &three).unwrap();
    let err = d.with_binary_targets(&mut b, &three, 1).err().unwrap();
    assert!(err.to_string().contains("label 2 in a binary task"), "{err}");
}
