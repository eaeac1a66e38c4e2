//! Low-rank factorization: a Dense layer IN→OUT, y = act(x·W + b), becomes a Linear layer
//! IN→r (no bias) and a Dense layer r→OUT with the same activation and bias, from the
//! truncated SVD W ≈ U_r Σ_r V_rᵀ: the Linear weights are U_r·√Σ_r, the Dense weights
//! √Σ_r·V_rᵀ. The SVD is computed in f64 on the host (nalgebra). By Eckart–Young the product
//! is the best rank-r approximation of W in the Frobenius norm, with error √(Σ_{i>r} σ_i²).
//! Parameters go from IN·OUT + OUT to r·(IN + OUT) + OUT.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::nn::{Initializer, LayerSpec, ModelSpec, Sequential};

/// How the rank of each factorized layer is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rank {
    /// The same rank for every layer.
    Fixed(usize),
    /// The smallest rank keeping this fraction of Σσ² (the squared Frobenius norm).
    Energy(f64),
}

/// What factorizing one layer did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factorized {
    /// The layer's number in the original model, from 1.
    pub layer: usize,
    pub inputs: usize,
    pub units: usize,
    pub rank: usize,
    pub params_before: usize,
    pub params_after: usize,
    /// Σ_{i<r} σ_i² / Σ σ_i².
    pub kept_energy: f64,
    /// ‖W − A·B‖_F, the discarded singular values' norm.
    pub error: f64,
}

/// W (rows × cols, row-major) ≈ A·B with A: rows × r, B: r × cols; also the singular values
/// (descending) and the discarded ones' norm.
pub struct Truncated {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub singular_values: Vec<f64>,
    pub error: f64,
}

/// The singular values of `w` (rows × cols, row-major), largest first.
pub fn singular_values(w: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    let m = nalgebra::DMatrix::from_row_iterator(rows, cols, w.iter().map(|&v| v as f64));
    let mut s: Vec<f64> = m.singular_values().iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

/// The rank `rank` asks for, given the singular values (largest first) of an IN×OUT matrix.
pub fn choose_rank(rank: Rank, singular_values: &[f64], layer: usize, inputs: usize, units: usize) -> Result<usize> {
    let full = inputs.min(units);
    match rank {
        Rank::Fixed(r) if r == 0 || r > full => Err(Error::config(
            "rank",
            format!("{r} for layer {layer} ({inputs}→{units}); it must be between 1 and min(IN, OUT) = {full}"),
        )),
        Rank::Fixed(r) => Ok(r),
        Rank::Energy(e) if !(e > 0.0 && e <= 1.0) => {
            Err(Error::config("energy", format!("{e} is not in (0, 1]: it is the fraction of Σσ² to keep, e.g. 0.95")))
        }
        Rank::Energy(e) => {
            let total: f64 = singular_values.iter().map(|s| s * s).sum();
            let mut kept = 0.0;
            for (i, s) in singular_values.iter().enumerate() {
                kept += s * s;
                if kept >= e * total * (1.0 - 1e-12) {
                    return Ok(i + 1);
                }
            }
            Ok(full)
        }
    }
}

/// The rank-`r` factors of `w` (rows × cols, row-major) from its SVD.
pub fn truncate(w: &[f32], rows: usize, cols: usize, r: usize) -> Truncated {
    let m = nalgebra::DMatrix::from_row_iterator(rows, cols, w.iter().map(|&v| v as f64));
    let svd = m.svd(true, true);
    let (u, vt) = (svd.u.expect("asked for U"), svd.v_t.expect("asked for Vᵀ"));
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&i, &j| svd.singular_values[j].total_cmp(&svd.singular_values[i]));
    let s: Vec<f64> = order.iter().map(|&i| svd.singular_values[i]).collect();
    let mut a = vec![0.0f32; rows * r];
    let mut b = vec![0.0f32; r * cols];
    for (k, &i) in order.iter().take(r).enumerate() {
        let root = s[k].sqrt();
        for row in 0..rows {
            a[row * r + k] = (u[(row, i)] * root) as f32;
        }
        for col in 0..cols {
            b[k * cols + col] = (vt[(i, col)] * root) as f32;
        }
    }
    let error = s[r.min(s.len())..].iter().map(|v| v * v).sum::<f64>().sqrt();
    Truncated { a, b, singular_values: s, error }
}

/// Factorize the Dense layers `layers` (numbers from 1; empty: every Dense layer but the
/// output) of `model` at `rank`: a new model, with every other tensor carried over.
pub fn factorize(
    b: &mut dyn Backend,
    model: &Sequential,
    layers: &[usize],
    rank: Rank,
) -> Result<(Sequential, Vec<Factorized>)> {
    let spec = model.spec();
    let dense: Vec<usize> = (0..spec.layers.len()).filter(|&i| matches!(spec.layers[i], LayerSpec::Dense { .. })).collect();
    if dense.is_empty() {
        return Err(Error::config("factorize", "the model has no Dense layers"));
    }
    let chosen: Vec<usize> = if layers.is_empty() {
        dense[..dense.len() - 1].to_vec()
    } else {
        let mut chosen = Vec::new();
        for &n in layers {
            if n == 0 || !dense.contains(&(n - 1)) {
                let numbers: Vec<String> = dense.iter().map(|i| (i + 1).to_string()).collect();
                return Err(Error::config(
                    "layer",
                    format!("{n} is not a Dense layer of this model; its Dense layers are {}", numbers.join(", ")),
                ));
            }
            chosen.push(n - 1);
        }
        chosen
    };
    if chosen.is_empty() {
        return Err(Error::config("factorize", "the model has one Dense layer (its output); name it to factorize it"));
    }
    let shapes = spec.weight_shapes();
    let tensors: std::collections::HashMap<String, Vec<f32>> =
        model.named_tensors().into_iter().map(|(n, t)| Ok((n, b.read(t)?))).collect::<Result<_>>()?;
    let mut new_layers = Vec::new();
    let mut renames = Vec::new(); // (old name prefix, new name prefix)
    let mut factors = Vec::new(); // (new Linear index, new Dense index, truncated, old index)
    let mut report = Vec::new();
    for (i, layer) in spec.layers.iter().enumerate() {
        if !chosen.contains(&i) {
            renames.push((i, new_layers.len()));
            new_layers.push(layer.clone());
            continue;
        }
        let &(_, inputs, units) = shapes.iter().find(|(n, _, _)| *n == i + 1).expect("a Dense layer has weights");
        let w = &tensors[&format!("layers.{i}.w")];
        let s = singular_values(w, inputs, units);
        let r = choose_rank(rank, &s, i + 1, inputs, units)?;
        let t = truncate(w, inputs, units, r);
        let total: f64 = t.singular_values.iter().map(|v| v * v).sum();
        let kept: f64 = t.singular_values[..r].iter().map(|v| v * v).sum();
        report.push(Factorized {
            layer: i + 1,
            inputs,
            units,
            rank: r,
            params_before: inputs * units + units,
            params_after: r * (inputs + units) + units,
            kept_energy: if total > 0.0 { kept / total } else { 1.0 },
            error: t.error,
        });
        let linear = new_layers.len();
        new_layers.push(LayerSpec::Linear { units: r, init: Initializer::Zeros });
        new_layers.push(layer.clone());
        factors.push((linear, i, t));
    }
    let new_spec = ModelSpec { inputs: spec.inputs, layers: new_layers, loss: spec.loss };
    let out = Sequential::new(b, &new_spec, model.seed())?;
    let named: std::collections::HashMap<String, crate::tensor::Tensor> = out.named_tensors().into_iter().collect();
    for (old, new) in renames {
        let prefix = format!("layers.{old}.");
        for (name, values) in tensors.iter().filter(|(n, _)| n.starts_with(&prefix)) {
            let to = format!("layers.{new}.{}", &name[prefix.len()..]);
            b.write(named[&to], values)?;
        }
    }
    for (linear, old, t) in factors {
        b.write(named[&format!("layers.{linear}.w")], &t.a)?;
        b.write(named[&format!("layers.{}.w", linear + 1)], &t.b)?;
        b.write(named[&format!("layers.{}.b", linear + 1)], &tensors[&format!("layers.{old}.b")])?;
    }
    b.sync()?;
    Ok((out, report))
}
