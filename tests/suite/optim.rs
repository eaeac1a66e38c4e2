//! Optimizer updates: 10 steps on a fixed quadratic against an independent f64 scalar
//! reference for every rule (penalties and clipping too), on both backends; and momentum
//! 0.99999 overshooting and oscillating where 0.9 converges.

use crate::common;

use common::{gpu, Both};
use wgtrain::{Backend, Hyper, Tensor, UpdateRule, UpdateTensors};

/// f(θ) = ½ Σ a_i (θ_i − c_i)², so g_i = a_i (θ_i − c_i); 257 parameters, curvatures 0.5–6.5.
const N: usize = 257;

fn curvature(i: usize) -> f64 {
    0.5 + (i % 7) as f64
}

fn centre(i: usize) -> f64 {
    ((i * 37) % 11) as f64 / 5.0 - 1.0
}

fn start(i: usize) -> f64 {
    ((i * 13) % 17) as f64 / 4.0 - 2.0
}

#[derive(Debug, Clone, Copy)]
struct Config {
    rule: UpdateRule,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    l1: f64,
    l2: f64,
    clip_value: f64,
    clip_norm: f64,
}

const BASE: Config = Config {
    rule: UpdateRule::Sgd,
    lr: 0.05,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weight_decay: 0.0,
    l1: 0.0,
    l2: 0.0,
    clip_value: 0.0,
    clip_norm: 0.0,
};

/// The textbook/PyTorch formulas, one parameter at a time, in f64.
fn reference(cfg: Config, steps: u32) -> Vec<f64> {
    let mut theta: Vec<f64> = (0..N).map(start).collect();
    let (mut s1, mut s2) = (vec![0.0; N], vec![0.0; N]);
    let mut mu_product = 1.0;
    for t in 1..=steps {
        let raw: Vec<f64> = (0..N).map(|i| curvature(i) * (theta[i] - centre(i))).collect();
        let norm = raw.iter().map(|g| g * g).sum::<f64>().sqrt();
        let norm_scale = if cfg.clip_norm > 0.0 { (cfg.clip_norm / (norm + 1e-6)).min(1.0) } else { 1.0 };
        let mu = |k: u32| cfg.beta1 * (1.0 - 0.5 * 0.96f64.powf(k as f64 * 0.004));
        let (mu_t, mu_next) = (mu(t), mu(t + 1));
        mu_product *= mu_t;
        for i in 0..N {
            let w = theta[i];
            let mut g = raw[i] * norm_scale
                + cfg.l2 * w
                + cfg.l1
                    * if w > 0.0 {
                        1.0
                    } else if w < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
            if cfg.clip_value > 0.0 {
                g = g.clamp(-cfg.clip_value, cfg.clip_value);
            }
            let lr = cfg.lr;
            match cfg.rule {
                UpdateRule::Sgd => theta[i] -= lr * g,
                UpdateRule::Momentum => {
                    s1[i] = cfg.beta1 * s1[i] - lr * g;
                    theta[i] += s1[i];
                }
                UpdateRule::Nesterov => {
                    s1[i] = cfg.beta1 * s1[i] - lr * g;
                    theta[i] += cfg.beta1 * s1[i] - lr * g;
                }
                UpdateRule::Adagrad => {
                    s1[i] += g * g;
                    theta[i] -= lr * g / (s1[i].sqrt() + cfg.eps);
                }
                UpdateRule::Rmsprop => {
                    s1[i] = cfg.beta2 * s1[i] + (1.0 - cfg.beta2) * g * g;
                    theta[i] -= lr * g / (s1[i].sqrt() + cfg.eps);
                }
                UpdateRule::Adam => {
                    theta[i] *= 1.0 - lr * cfg.weight_decay;
                    s1[i] = cfg.beta1 * s1[i] + (1.0 - cfg.beta1) * g;
                    s2[i] = cfg.beta2 * s2[i] + (1.0 - cfg.beta2) * g * g;
                    let m_hat = s1[i] / (1.0 - cfg.beta1.powi(t as i32));
                    let v_hat = s2[i] / (1.0 - cfg.beta2.powi(t as i32));
                    theta[i] -= lr * m_hat / (v_hat.sqrt() + cfg.eps);
                }
                UpdateRule::Nadam => {
                    s1[i] = cfg.beta1 * s1[i] + (1.0 - cfg.beta1) * g;
                    s2[i] = cfg.beta2 * s2[i] + (1.0 - cfg.beta2) * g * g;
                    let denom = (s2[i] / (1.0 - cfg.beta2.powi(t as i32))).sqrt() + cfg.eps;
                    theta[i] -= lr * (1.0 - mu_t) / (1.0 - mu_product) * g / denom;
                    theta[i] -= lr * mu_next / (1.0 - mu_product * mu_next) * s1[i] / denom;
                }
            }
        }
    }
    theta
}

/// The same run through a backend's update kernel, gradients computed on the host in f32.
/// Returns θ and the two state buffers.
fn on_backend(b: &mut dyn Backend, cfg: Config, steps: u32) -> [Vec<f32>; 3] {
    let theta0: Vec<f32> = (0..N).map(|i| start(i) as f32).collect();
    let param = b.upload(1, N, &theta0).unwrap();
    let grad = b.zeros(1, N).unwrap();
    let state = [Some(b.zeros(1, N).unwrap()), Some(b.zeros(1, N).unwrap())];
    let hyper = b.zeros(1, Hyper::LEN).unwrap();
    let norm = b.zeros(1, 4).unwrap();
    let mut mu_product = 1.0;
    for t in 1..=steps {
        let theta = b.read(param).unwrap();
        let g: Vec<f32> = (0..N).map(|i| curvature(i) as f32 * (theta[i] - centre(i) as f32)).collect();
        b.write(grad, &g).unwrap();
        let (lr, b1, b2, eps) = (cfg.lr as f32, cfg.beta1 as f32, cfg.beta2 as f32, cfg.eps as f32);
        let h = match cfg.rule {
            UpdateRule::Sgd => Hyper::sgd(lr),
            UpdateRule::Momentum | UpdateRule::Nesterov => Hyper::momentum(lr, b1),
            UpdateRule::Adagrad => Hyper::adagrad(lr, eps),
            UpdateRule::Rmsprop => Hyper::rmsprop(lr, b2, eps),
            UpdateRule::Adam => Hyper::adam(lr, b1, b2, eps, cfg.weight_decay as f32, t),
            UpdateRule::Nadam => {
                let (h, product) = Hyper::nadam(lr, b1, b2, eps, 0.004, t, mu_product);
                mu_product = product;
                h
            }
        };
        let h =
            h.with_penalties(cfg.l1 as f32, cfg.l2 as f32).with_clipping(cfg.clip_value as f32, cfg.clip_norm as f32);
        b.write(hyper, h.as_slice()).unwrap();
        if cfg.clip_norm > 0.0 {
            b.sum_squares(grad, norm, false).unwrap();
        }
        let grad_norm = (cfg.clip_norm > 0.0).then_some(norm);
        b.update(cfg.rule, UpdateTensors { param, grad: grad.into(), state, hyper, grad_norm, penalized: N }).unwrap();
        b.submit().unwrap();
    }
    [b.read(param).unwrap(), b.read(state[0].unwrap()).unwrap(), b.read(state[1].unwrap()).unwrap()]
}

fn check(cfg: Config, what: &str) {
    let want = reference(cfg, 10);
    let mut runs: Vec<[Vec<f32>; 3]> = Vec::new();
    for b in Both::new().each() {
        let [got, s1, s2] = on_backend(b, cfg, 10);
        // f32 state over 10 steps against f64: each step rounds θ, g and the state to ~1e-7
        // relative; the adaptive rules divide by √v, which can double that. Bound 2e-5.
        for i in 0..N {
            let err = (got[i] as f64 - want[i]).abs();
            assert!(
                err <= 2e-5 * want[i].abs().max(1.0),
                "{what} on {}: θ[{i}] = {} vs {}",
                b.describe(),
                got[i],
                want[i]
            );
        }
        runs.push([got, s1, s2]);
    }
    // Every buffer the kernel writes, GPU against twin: the same f32 formulas, so they differ
    // only where the driver rounds sqrt or division differently (ulps, compounded over 10 steps).
    for (k, name) in ["θ", "state 0", "state 1"].iter().enumerate() {
        common::assert_close(&format!("{what} {name}"), &runs[0][k], &runs[1][k], 1e-6, 1e-5);
    }
}

#[test]
fn every_rule_matches_the_scalar_reference_over_ten_steps() {
    use UpdateRule::*;
    for (rule, lr) in
        [(Sgd, 0.05), (Momentum, 0.05), (Nesterov, 0.05), (Adagrad, 0.5), (Rmsprop, 0.01), (Adam, 0.05), (Nadam, 0.05)]
    {
        check(Config { rule, lr, ..BASE }, &format!("{rule:?}"));
    }
    check(Config { rule: Adam, weight_decay: 0.1, ..BASE }, "AdamW");
}

#[test]
fn penalties_and_clipping_match_the_scalar_reference() {
    use UpdateRule::*;
    check(Config { rule: Sgd, l1: 0.01, l2: 0.1, ..BASE }, "SGD + L1 + L2");
    check(Config { rule: Momentum, clip_value: 0.5, ..BASE }, "momentum, clip by value");
    check(Config { rule: Adam, clip_norm: 1.0, ..BASE }, "Adam, clip by norm");
    check(Config { rule: Nesterov, l2: 0.05, clip_norm: 2.0, clip_value: 1.0, ..BASE }, "Nesterov, everything");
}

/// θ after each of `steps` momentum steps on f = ½(θ₁² + 100 θ₂²) from (1, 1), on the GPU.
fn momentum_trajectory(beta: f32, steps: usize) -> Vec<[f32; 2]> {
    let mut g = gpu();
    let param = g.upload(1, 2, &[1.0, 1.0]).unwrap();
    let grad = g.zeros(1, 2).unwrap();
    let velocity = g.zeros(1, 2).unwrap();
    let hyper = g.upload(1, Hyper::LEN, Hyper::momentum(0.01, beta).as_slice()).unwrap();
    let tensors =
        UpdateTensors { param, grad: grad.into(), state: [Some(velocity), None], hyper, grad_norm: None, penalized: 0 };
    let mut path = Vec::new();
    for _ in 0..steps {
        let t = g.read(param).unwrap();
        g.write(grad, &[t[0], 100.0 * t[1]]).unwrap();
        g.update(UpdateRule::Momentum, tensors).unwrap();
        path.push(read2(&mut g, param));
    }
    path
}

fn read2(g: &mut dyn Backend, t: Tensor) -> [f32; 2] {
    let v = g.read(t).unwrap();
    [v[0], v[1]]
}

#[test]
fn momentum_near_one_overshoots_and_oscillates_where_point_nine_converges() {
    let steps = 600;
    let loss = |p: &[f32; 2]| 0.5 * (p[0] * p[0] + 100.0 * p[1] * p[1]);
    let sign_changes = |path: &[[f32; 2]]| path.windows(2).filter(|w| w[0][0].signum() != w[1][0].signum()).count();
    let overshoot = |path: &[[f32; 2]]| path.iter().map(|p| -p[0]).fold(0.0f32, f32::max);

    let calm = momentum_trajectory(0.9, steps);
    let wild = momentum_trajectory(0.99999, steps);
    let (calm_end, wild_end) = (calm[steps - 1], wild[steps - 1]);
    eprintln!(
        "β=0.9: final loss {:.3e}, overshoot {:.3}, sign changes {}; β=0.99999: final loss {:.3e}, overshoot {:.3}, sign changes {}",
        loss(&calm_end),
        overshoot(&calm),
        sign_changes(&calm),
        loss(&wild_end),
        overshoot(&wild),
        sign_changes(&wild)
    );
    // From loss 50.5: β = 0.9 is damped (rate √0.9 per step on the slow axis).
    assert!(loss(&calm_end) < 1e-6, "β = 0.9 did not converge: loss {}", loss(&calm_end));
    // β = 0.99999 keeps almost all its speed: it swings through the minimum to nearly the
    // mirror image of the start, again and again, and after 600 steps is no closer.
    assert!(overshoot(&wild) > 0.9, "β = 0.99999 overshoot {}", overshoot(&wild));
    assert!(sign_changes(&wild) >= 10, "β = 0.99999 crossed zero {} times", sign_changes(&wild));
    assert!(loss(&wild_end) > 1e3 * loss(&calm_end).max(1e-9), "β = 0.99999 converged: loss {}", loss(&wild_end));
    assert!(overshoot(&calm) < overshoot(&wild));
}

#[test]
fn update_argument_errors_name_the_problem() {
    for b in Both::new().each() {
        let p = b.zeros(1, 5).unwrap();
        let g = b.zeros(1, 5).unwrap();
        let h = b.zeros(1, Hyper::LEN).unwrap();
        let t =
            UpdateTensors { param: p, grad: g.into(), state: [None, None], hyper: h, grad_norm: None, penalized: 0 };
        let err = b.update(UpdateRule::Adam, t).unwrap_err();
        assert!(err.to_string().contains("2 state tensors for Adam"), "{err}");
        let short = b.zeros(1, 4).unwrap();
        let err = b.update(UpdateRule::Momentum, UpdateTensors { state: [Some(short), None], ..t }).unwrap_err();
        assert!(err.to_string().contains("5 elements"), "{err}");
        let err = b.update(UpdateRule::Momentum, UpdateTensors { state: [Some(p), None], ..t }).unwrap_err();
        assert!(err.to_string().contains("distinct"), "{err}");
        let err = b.update(UpdateRule::Sgd, UpdateTensors { hyper: short, ..t }).unwrap_err();
        assert!(err.to_string().contains("at least 16"), "{err}");
    }
}
