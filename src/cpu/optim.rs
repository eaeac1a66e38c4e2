//! CPU twin of `shaders/optim.wgsl`: each rule element by element, formulas as documented
//! there. `norm` is the `sum_squares` output (Σg² in `norm[0]`), used only when clipping by norm.

use crate::backend::{Hyper, UpdateRule};

/// The gradient the rule sees: norm-clipped, penalized, value-clipped.
pub fn effective_grad(g: f32, w: f32, h: &Hyper, norm: Option<&[f32]>) -> f32 {
    let mut g = g;
    if h.clip_norm > 0.0 {
        let total = norm.map_or(0.0, |n| n[0].sqrt());
        g *= (h.clip_norm / (total + 1e-6)).min(1.0);
    }
    g += h.l2 * w + h.l1 * sign(w);
    if h.clip_value > 0.0 {
        g = g.clamp(-h.clip_value, h.clip_value);
    }
    g
}

/// WGSL's sign: 0 at 0 (Rust's `signum` gives ±1).
fn sign(w: f32) -> f32 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// θ ← θ − η g.
pub fn sgd_update(theta: &mut [f32], grad: &[f32], h: &Hyper, norm: Option<&[f32]>) {
    for i in 0..theta.len() {
        theta[i] -= h.lr * effective_grad(grad[i], theta[i], h, norm);
    }
}

/// v ← β v − η g; θ ← θ + v, or θ ← θ + β v − η g with Nesterov.
pub fn momentum_update(
    theta: &mut [f32],
    grad: &[f32],
    h: &Hyper,
    norm: Option<&[f32]>,
    v: &mut [f32],
    nesterov: bool,
) {
    for i in 0..theta.len() {
        let g = effective_grad(grad[i], theta[i], h, norm);
        v[i] = h.beta1 * v[i] - h.lr * g;
        theta[i] += if nesterov { h.beta1 * v[i] - h.lr * g } else { v[i] };
    }
}

/// s ← s + g²; θ ← θ − η g/(√s + ε).
pub fn adagrad_update(theta: &mut [f32], grad: &[f32], h: &Hyper, norm: Option<&[f32]>, s: &mut [f32]) {
    for i in 0..theta.len() {
        let g = effective_grad(grad[i], theta[i], h, norm);
        s[i] += g * g;
        theta[i] -= h.lr * g / (s[i].sqrt() + h.eps);
    }
}

/// s ← ρ s + (1 − ρ) g²; θ ← θ − η g/(√s + ε).
pub fn rmsprop_update(theta: &mut [f32], grad: &[f32], h: &Hyper, norm: Option<&[f32]>, s: &mut [f32]) {
    for i in 0..theta.len() {
        let g = effective_grad(grad[i], theta[i], h, norm);
        s[i] = h.beta2 * s[i] + (1.0 - h.beta2) * g * g;
        theta[i] -= h.lr * g / (s[i].sqrt() + h.eps);
    }
}

/// m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g².
fn adam_moments(m: &mut f32, v: &mut f32, g: f32, h: &Hyper) {
    *m = h.beta1 * *m + (1.0 - h.beta1) * g;
    *v = h.beta2 * *v + (1.0 - h.beta2) * g * g;
}

/// Adam/AdamW: θ ← θ(1 − η wd) − η (m/c1)/(√(v/c2) + ε).
pub fn adam_update(theta: &mut [f32], grad: &[f32], h: &Hyper, norm: Option<&[f32]>, m: &mut [f32], v: &mut [f32]) {
    for i in 0..theta.len() {
        let g = effective_grad(grad[i], theta[i], h, norm);
        adam_moments(&mut m[i], &mut v[i], g, h);
        let decayed = theta[i] * (1.0 - h.lr * h.weight_decay);
        theta[i] = decayed - h.lr * (m[i] / h.c1) / ((v[i] / h.c2).sqrt() + h.eps);
    }
}

/// Nadam: θ ← θ − η (k_g g + k_m m)/(√(v/c2) + ε).
pub fn nadam_update(theta: &mut [f32], grad: &[f32], h: &Hyper, norm: Option<&[f32]>, m: &mut [f32], v: &mut [f32]) {
    for i in 0..theta.len() {
        let g = effective_grad(grad[i], theta[i], h, norm);
        adam_moments(&mut m[i], &mut v[i], g, h);
        theta[i] -= h.lr * (h.k_g * g + h.k_m * m[i]) / ((v[i] / h.c2).sqrt() + h.eps);
    }
}

/// One update by `rule` with the penalties on the first `penalized` elements only (see
/// `UpdateTensors::penalized`): the penalized share with `h`, the rest with its penalties
/// set to zero. `state` holds the rule's state slots (as many as it keeps).
pub fn update(
    rule: UpdateRule,
    h: &Hyper,
    penalized: usize,
    theta: &mut [f32],
    grad: &[f32],
    norm: Option<&[f32]>,
    state: [Option<&mut [f32]>; 2],
) {
    let [s1, s2] = state;
    let plain = Hyper { l1: 0.0, l2: 0.0, ..*h };
    let (theta_pen, theta_plain) = theta.split_at_mut(penalized);
    let (grad_pen, grad_plain) = grad.split_at(penalized);
    let (s1_pen, s1_plain) = split_state(s1, penalized);
    let (s2_pen, s2_plain) = split_state(s2, penalized);
    apply(rule, h, theta_pen, grad_pen, norm, s1_pen, s2_pen);
    apply(rule, &plain, theta_plain, grad_plain, norm, s1_plain, s2_plain);
}

fn split_state(s: Option<&mut [f32]>, at: usize) -> (Option<&mut [f32]>, Option<&mut [f32]>) {
    match s {
        Some(s) => {
            let (a, b) = s.split_at_mut(at);
            (Some(a), Some(b))
        }
        None => (None, None),
    }
}

fn apply(
    rule: UpdateRule,
    h: &Hyper,
    theta: &mut [f32],
    grad: &[f32],
    norm: Option<&[f32]>,
    s1: Option<&mut [f32]>,
    s2: Option<&mut [f32]>,
) {
    let state = "the backend checks that the rule's state is present";
    match rule {
        UpdateRule::Sgd => sgd_update(theta, grad, h, norm),
        UpdateRule::Momentum | UpdateRule::Nesterov => {
            momentum_update(theta, grad, h, norm, s1.expect(state), rule == UpdateRule::Nesterov)
        }
        UpdateRule::Adagrad => adagrad_update(theta, grad, h, norm, s1.expect(state)),
        UpdateRule::Rmsprop => rmsprop_update(theta, grad, h, norm, s1.expect(state)),
        UpdateRule::Adam => adam_update(theta, grad, h, norm, s1.expect(state), s2.expect(state)),
        UpdateRule::Nadam => nadam_update(theta, grad, h, norm, s1.expect(state), s2.expect(state)),
    }
}
