//! Initializers, schedules and model validation.

use rand::SeedableRng;
use wgtrain::nn::{Draw, FanMode, Initializer, LayerSpec, ModelSpec, Sequential};
use wgtrain::optim::{OptimizerConfig, OptimizerKind, PlateauState, Schedule};
use wgtrain::{Activation, CpuBackend};

fn moments(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    (mean, v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n)
}

#[test]
fn variance_scaling_initializers_draw_the_stated_variance() {
    let (fan_in, fan_out) = (400, 250);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let cases = [
        (Initializer::HE_NORMAL, 2.0 / 400.0),
        (Initializer::HE_UNIFORM, 2.0 / 400.0),
        (Initializer::GLOROT_NORMAL, 2.0 / 650.0),
        (Initializer::GLOROT_UNIFORM, 2.0 / 650.0),
        (Initializer::LECUN_NORMAL, 1.0 / 400.0),
        (Initializer::LECUN_UNIFORM, 1.0 / 400.0),
        (Initializer::He { draw: Draw::Normal, mode: FanMode::FanOut }, 2.0 / 250.0),
    ];
    for (init, var) in cases {
        let w = init.sample(fan_in, fan_out, &mut rng);
        let (mean, sample_var) = moments(&w);
        // 100k draws: the sample variance's relative s.e. is √(2/n) ≈ 0.0045 (normal) and less
        // for uniform; bound 3%. The mean's s.e. is √(var/n); bound 5 s.e.
        assert!((sample_var / var - 1.0).abs() < 0.03, "{init:?}: variance {sample_var} vs {var}");
        assert!(mean.abs() < 5.0 * (var / w.len() as f64).sqrt(), "{init:?}: mean {mean}");
        if let Initializer::He { draw: Draw::Uniform, .. }
        | Initializer::Glorot { draw: Draw::Uniform, .. }
        | Initializer::Lecun { draw: Draw::Uniform, .. } = init
        {
            let limit = (3.0 * var).sqrt() as f32;
            assert!(w.iter().all(|x| x.abs() <= limit), "{init:?} exceeds ±{limit}");
        }
    }
}

#[test]
fn same_value_uses_one_he_drawn_value_for_every_weight() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let w = Initializer::SameValue.sample(30, 20, &mut rng);
    assert!(w.iter().all(|&x| x == w[0]));
    // The value is one He-normal draw: within 5 standard deviations of 0.
    assert!(w[0].abs() < 5.0 * (2.0f32 / 30.0).sqrt() && w[0] != 0.0);
    assert_eq!(Initializer::Zeros.sample(3, 3, &mut rng), vec![0.0; 9]);
    assert_eq!(Initializer::Constant { value: 0.1 }.sample(2, 2, &mut rng), vec![0.1; 4]);
}

#[test]
fn one_cycle_follows_pytorch_one_cycle_lr() {
    // total 100, pct_start 0.3: warm-up over steps 0..=29, annealing over 29..=99.
    let s = Schedule::one_cycle(1.0, 100);
    let p = PlateauState::default();
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs().max(1e-6);
    assert!(close(s.lr(0.0, 0, &p), 1.0 / 25.0), "starts at max_lr/div_factor");
    assert!(close(s.lr(0.0, 29, &p), 1.0), "peaks at step pct_start·total − 1");
    assert!(close(s.lr(0.0, 99, &p), 1.0 / 25.0 / 1e4), "ends at initial/final_div_factor");
    // Inside the warm-up PyTorch anneals end + (start − end)/2·(cos(π·pct) + 1), pct = step/29.
    let want = 1.0 + (1.0 / 25.0 - 1.0) / 2.0 * ((std::f64::consts::PI * 14.0 / 29.0).cos() + 1.0);
    assert!(close(s.lr(0.0, 14, &p), want as f32), "{} vs {want}", s.lr(0.0, 14, &p));
    assert_eq!(s.momentum(0), Some(0.95));
    assert!(close(s.momentum(29).unwrap(), 0.85));
    assert!(close(s.momentum(99).unwrap(), 0.95));
    let lrs: Vec<f32> = (0..100).map(|t| s.lr(0.0, t, &p)).collect();
    assert!(lrs[..30].windows(2).all(|w| w[1] > w[0]) && lrs[29..].windows(2).all(|w| w[1] < w[0]));
}

#[test]
fn step_schedules_and_reduce_on_plateau() {
    let p = PlateauState::default();
    let exp = Schedule::Exponential { rate: 0.1, decay_steps: 10 };
    assert!((exp.lr(1.0, 20, &p) - 0.01).abs() < 1e-7);
    let pw = Schedule::Piecewise { boundaries: vec![5, 10], values: vec![1.0, 0.5, 0.1] };
    assert_eq!([0, 4, 5, 9, 10, 100].map(|t| pw.lr(9.0, t, &p)), [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]);

    let plateau = Schedule::ReduceOnPlateau { factor: 0.5, patience: 1, min_delta: 0.0, min_lr: 0.2 };
    let mut state = PlateauState::default();
    for loss in [1.0, 0.9, 0.95, 0.95] {
        plateau.observe(loss, &mut state);
    }
    // Two epochs without improvement with patience 1: halved once.
    assert_eq!(plateau.lr(1.0, 0, &state), 0.5);
    for _ in 0..10 {
        plateau.observe(2.0, &mut state);
    }
    assert_eq!(plateau.lr(1.0, 0, &state), 0.2, "never below min_lr");
}

#[test]
fn bad_schedules_and_optimizer_values_are_named() {
    let bad = Schedule::Piecewise { boundaries: vec![5], values: vec![1.0] };
    assert!(bad.validate().unwrap_err().to_string().contains("one more value"));
    let mut c = OptimizerConfig::new(OptimizerKind::Momentum);
    c.momentum = 1.0;
    assert!(c.validate().unwrap_err().to_string().contains("momentum"));
    c.momentum = 0.9;
    c.lr = 0.0;
    assert!(c.validate().unwrap_err().to_string().contains("optimizer lr: 0 must be > 0"));
}

#[test]
fn invalid_models_are_refused_with_the_layer_named() {
    let mut b = CpuBackend::new();
    let zero = ModelSpec {
        inputs: 4,
        layers: vec![LayerSpec::dense(0, Activation::Relu)],
        loss: wgtrain::Loss::SoftmaxCrossEntropy,
    };
    let err = Sequential::new(&mut b, &zero, 1).err().unwrap();
    assert!(err.to_string().contains("layer 1 of 1") && err.to_string().contains("0 units"), "{err}");
    let rate = ModelSpec {
        inputs: 4,
        layers: vec![LayerSpec::Dropout { rate: 1.0 }],
        loss: wgtrain::Loss::SoftmaxCrossEntropy,
    };
    let err = Sequential::new(&mut b, &rate, 1).err().unwrap();
    assert!(err.to_string().contains("dropout rate 1"), "{err}");
}

#[test]
fn prelu_adds_a_trainable_slope_per_feature_and_other_activations_add_nothing() {
    let mut b = CpuBackend::new();
    for act in [Activation::Relu, Activation::Gelu, Activation::Prelu, Activation::Tanh] {
        let spec = ModelSpec::mlp(3, &[5], 2, act);
        let model = Sequential::new(&mut b, &spec, 1).unwrap();
        // PReLU adds its slopes as a parameter; the others only w and b per Dense layer.
        let expected = 4 + usize::from(act == Activation::Prelu);
        assert_eq!(model.params().len(), expected, "{}", act.name());
    }
}

#[test]
fn the_builder_writes_the_deep_net_exercise_in_a_few_lines() {
    use wgtrain::nn::{BatchNormAt, Initializer, LayerSpec, ModelSpec};
    let spec = ModelSpec::builder(784)
        .init(Initializer::LECUN_NORMAL)
        .repeat(20, |b| b.dense(100, Activation::Selu))
        .alpha_dropout(0.1)
        .classes(10)
        .unwrap();
    assert_eq!(spec.layers.len(), 22);
    assert!(spec.layers[..20].iter().all(|l| matches!(l, LayerSpec::Dense { units: 100, activation: Activation::Selu, init: Initializer::LECUN_NORMAL, .. })));
    assert_eq!(spec.layers[20], LayerSpec::AlphaDropout { rate: 0.1 });
    assert_eq!(spec.outputs(), 10);
    // Batch norm before the activation: a linear Dense, then BN, then the activation.
    let before = ModelSpec::builder(4).dense_bn(8, Activation::Relu, BatchNormAt::BeforeActivation).classes(2).unwrap();
    assert!(matches!(before.layers[0], LayerSpec::Dense { activation: Activation::Identity, .. }));
    assert!(matches!(before.layers[1], LayerSpec::BatchNorm { .. }));
    assert_eq!(before.layers[2], LayerSpec::Activation { activation: Activation::Relu });
    let after = ModelSpec::builder(4).dense_bn(8, Activation::Relu, BatchNormAt::AfterActivation).classes(2).unwrap();
    assert!(matches!(after.layers[0], LayerSpec::Dense { activation: Activation::Relu, .. }));
    assert!(matches!(after.layers[1], LayerSpec::BatchNorm { .. }));
    // Checked like any spec.
    let err = ModelSpec::builder(4).dropout(1.5).classes(2).unwrap_err().to_string();
    assert!(err.contains("dropout rate 1.5 is not in [0, 1)"), "{err}");
}
