//! Argument checks shared by both backends, so the GPU and the CPU twin reject the same
//! inputs with the same message. Public for `MAX_CHUNKS`; the checks themselves are internal.

use super::activation::{Activation, ActivationArgs};
use super::specs::{BatchNormTensors, Gather, Gradient, Hyper, InputGradient, Loss, UpdateRule, UpdateTensors};
use crate::error::{Error, Result};
use crate::tensor::{check_dtype, check_same_len, check_same_shape, DType, Tensor};

fn bad(op: &'static str, expected: impl Into<String>, got: impl Into<String>) -> Error {
    Error::ShapeMismatch { op, expected: expected.into(), got: got.into() }
}

/// `copy`: the same number of elements, and the same dtype or F32 and F16 either way.
pub(crate) fn copy(src: Tensor, dst: Tensor) -> Result<()> {
    check_same_len("copy", src, dst)?;
    let floats = |d: DType| matches!(d, DType::F32 | DType::F16);
    if src.dtype != dst.dtype && !(floats(src.dtype) && floats(dst.dtype)) {
        return Err(bad(
            "copy",
            format!("a {:?} destination (or F32/F16 between each other)", src.dtype),
            format!("a {:?} destination for a {:?} source", dst.dtype, src.dtype),
        ));
    }
    Ok(())
}

fn all_f32(op: &'static str, ts: &[Tensor]) -> Result<()> {
    ts.iter().try_for_each(|&t| check_dtype(op, t, DType::F32))
}

/// Outputs must not alias inputs: a GPU dispatch cannot read and write one buffer.
pub(crate) fn distinct(op: &'static str, outputs: &[Tensor], inputs: &[Tensor]) -> Result<()> {
    for o in outputs {
        if inputs.contains(o) {
            return Err(bad(op, "an output tensor distinct from the inputs", "an output that is also an input"));
        }
    }
    Ok(())
}

fn len_at_least(op: &'static str, what: &str, t: Tensor, n: usize) -> Result<()> {
    if t.len() < n {
        return Err(bad(op, format!("{what} of at least {n} values"), format!("{} values", t.len())));
    }
    Ok(())
}

pub(crate) fn activation(act: Activation, x: Tensor, y: Tensor, args: &ActivationArgs) -> Result<()> {
    let op = "activation_forward";
    all_f32(op, &[x, y])?;
    check_same_shape(op, x, y)?;
    distinct(op, &[y], &[x])?;
    prelu_alpha(op, act, x, args)
}

fn prelu_alpha(op: &'static str, act: Activation, x: Tensor, args: &ActivationArgs) -> Result<()> {
    if act == Activation::Prelu {
        let alpha = args.alpha.ok_or_else(|| bad(op, "PReLU slopes in ActivationArgs::alpha", "none"))?;
        check_dtype(op, alpha, DType::F32)?;
        if alpha.len() != x.cols {
            return Err(bad(op, format!("{} PReLU slopes (one per feature)", x.cols), format!("{}", alpha.len())));
        }
    }
    Ok(())
}

pub(crate) fn activation_backward(
    act: Activation,
    x: Option<Tensor>,
    y: Tensor,
    dy: Tensor,
    dx: Tensor,
    args: &ActivationArgs,
) -> Result<()> {
    let op = "activation_backward";
    let x = match x {
        Some(x) => x,
        None if act.output_suffices() => y,
        None => return Err(bad(op, format!("the input x ({} needs it)", act.name()), "none")),
    };
    all_f32(op, &[x, y, dy, dx])?;
    for t in [y, dy, dx] {
        check_same_shape(op, x, t)?;
    }
    distinct(op, &[dx], &[x, y, dy])?;
    prelu_alpha(op, act, x, args)
}

pub(crate) fn prelu_alpha_backward(x: Tensor, dy: Tensor, dalpha: Tensor) -> Result<()> {
    let op = "prelu_alpha_backward";
    all_f32(op, &[x, dy, dalpha])?;
    check_same_shape(op, x, dy)?;
    distinct(op, &[dalpha], &[x, dy])?;
    if dalpha.len() != x.cols {
        return Err(bad(op, format!("{} slopes", x.cols), format!("{}", dalpha.len())));
    }
    Ok(())
}

pub(crate) fn elementwise(op: &'static str, x: Tensor, y: Tensor) -> Result<()> {
    all_f32(op, &[x, y])?;
    check_same_len(op, x, y)?;
    distinct(op, &[y], &[x])
}

pub(crate) fn softmax(z: Tensor, probs: Tensor) -> Result<()> {
    all_f32("softmax", &[z, probs])?;
    check_same_shape("softmax", z, probs)?;
    distinct("softmax", &[probs], &[z])
}

pub(crate) fn loss(kind: Loss, z: Tensor, targets: Tensor, dz: Tensor, stats: Tensor) -> Result<()> {
    let op = "loss";
    all_f32(op, &[z, dz, stats])?;
    check_same_shape(op, z, dz)?;
    len_at_least(op, "stats", stats, 4)?;
    distinct(op, &[dz, stats], &[z, targets])?;
    distinct(op, &[dz], &[stats])?;
    match kind {
        Loss::SoftmaxCrossEntropy => {
            check_dtype(op, targets, DType::U32)?;
            if targets.len() != z.rows {
                return Err(bad(op, format!("{} labels (one per row)", z.rows), format!("{}", targets.len())));
            }
        }
        Loss::SigmoidBinaryCrossEntropy | Loss::MeanSquaredError => {
            check_dtype(op, targets, DType::F32)?;
            check_same_shape(op, z, targets)?;
        }
    }
    Ok(())
}

pub(crate) fn column_sum(x: Tensor, y: Tensor) -> Result<()> {
    all_f32("column_sum", &[x, y])?;
    distinct("column_sum", &[y], &[x])?;
    if y.len() != x.cols {
        return Err(bad("column_sum", format!("an output of {} values", x.cols), format!("{}", y.len())));
    }
    Ok(())
}

pub(crate) fn argmax_correct(x: Tensor, labels: Tensor, stats: Tensor) -> Result<()> {
    let op = "argmax_correct";
    all_f32(op, &[x, stats])?;
    check_dtype(op, labels, DType::U32)?;
    len_at_least(op, "stats", stats, 4)?;
    distinct(op, &[stats], &[x, labels])?;
    if labels.len() != x.rows {
        return Err(bad(op, format!("{} labels", x.rows), format!("{}", labels.len())));
    }
    Ok(())
}

pub(crate) fn sum_squares(x: Tensor, out: Tensor) -> Result<()> {
    all_f32("sum_squares", &[x, out])?;
    len_at_least("sum_squares", "out", out, 1)?;
    distinct("sum_squares", &[out], &[x])
}

pub(crate) fn update(rule: UpdateRule, t: &UpdateTensors) -> Result<()> {
    let op = "update";
    all_f32(op, &[t.param, t.hyper])?;
    all_f32(op, &t.grad.reads())?;
    match t.grad {
        Gradient::Stored(g) => check_same_len(op, t.param, g)?,
        Gradient::Outer { x, dz, input } => {
            if let Some(i) = input {
                input_gradient(t.param, x, &i)?;
            }
            if x.rows != dz.rows || (x.cols, dz.cols) != t.param.shape() {
                return Err(bad(
                    op,
                    format!(
                        "factors x (K, {}) and dz (K, {}) of the {}×{} parameter's gradient",
                        t.param.rows, t.param.cols, t.param.rows, t.param.cols
                    ),
                    format!("x {}×{}, dz {}×{}", x.rows, x.cols, dz.rows, dz.cols),
                ));
            }
        }
    }
    len_at_least(op, "the hyper tensor", t.hyper, Hyper::LEN)?;
    if t.penalized > t.param.len() || (t.penalized < t.param.len() && !t.penalized.is_multiple_of(4)) {
        return Err(bad(
            op,
            format!("a penalized share of at most {} elements, a multiple of 4 unless all", t.param.len()),
            format!("{}", t.penalized),
        ));
    }
    for i in 0..2 {
        match (t.state[i], i < rule.state_count()) {
            (Some(s), true) => {
                check_dtype(op, s, DType::F32)?;
                check_same_len(op, t.param, s)?;
            }
            (None, true) => {
                return Err(bad(
                    op,
                    format!("{} state tensors for {rule:?}", rule.state_count()),
                    format!("state[{i}] missing"),
                ))
            }
            _ => {}
        }
    }
    if let Some(n) = t.grad_norm {
        check_dtype(op, n, DType::F32)?;
        len_at_least(op, "grad_norm", n, 1)?;
    }
    let mut writes = vec![t.param];
    writes.extend(t.state.iter().take(rule.state_count()).flatten());
    if let Gradient::Outer { input: Some(i), .. } = t.grad {
        writes.push(i.dx);
    }
    let mut reads = t.grad.reads();
    reads.push(t.hyper);
    reads.extend(t.grad_norm);
    distinct(op, &writes, &reads)?;
    for (i, w) in writes.iter().enumerate() {
        if writes[i + 1..].contains(w) {
            return Err(bad(op, "distinct parameter and state tensors", "the same tensor twice"));
        }
    }
    Ok(())
}

/// The input gradient an update from factors x (K, IN) writes: dx and the derivative's point
/// (K, IN), f32.
fn input_gradient(param: Tensor, x: Tensor, i: &InputGradient) -> Result<()> {
    let op = "update";
    let at = i.derivative.map(|d| d.at);
    all_f32(op, &[i.dx].into_iter().chain(at).collect::<Vec<_>>())?;
    for (what, t) in [("dx", Some(i.dx)), ("the derivative's point", at)] {
        match t {
            Some(t) if t.shape() != x.shape() => {
                return Err(bad(
                    op,
                    format!("{what} shaped like x, {}×{} (K, the {}×{} parameter's rows)", x.rows, x.cols, param.rows, param.cols),
                    format!("{}×{}", t.rows, t.cols),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Most chunks a gather source may be split into.
pub const MAX_CHUNKS: usize = 4;

pub(crate) fn gather(src: &[Tensor], index: Tensor, dst: Tensor, _spec: &Gather, batch_offset: u32) -> Result<()> {
    let op = "gather_rows";
    let first = *src.first().ok_or_else(|| bad(op, "1 to 4 source chunks", "none"))?;
    if src.len() > MAX_CHUNKS {
        return Err(bad(op, format!("at most {MAX_CHUNKS} source chunks"), format!("{}", src.len())));
    }
    for (i, c) in src.iter().enumerate() {
        check_dtype(op, *c, first.dtype)?;
        let last = i + 1 == src.len();
        if c.cols != first.cols || (!last && c.rows != first.rows) || c.rows > first.rows {
            return Err(bad(
                op,
                format!("chunks of ({}, {}), the last no longer", first.rows, first.cols),
                format!("chunk {i} of ({}, {})", c.rows, c.cols),
            ));
        }
    }
    if first.dtype == DType::F16 {
        return Err(bad(op, "F32, U8 or U32 source chunks", "F16 chunks"));
    }
    check_dtype(op, index, DType::U32)?;
    let want_dst = if first.dtype == DType::U32 { DType::U32 } else { DType::F32 };
    check_dtype(op, dst, want_dst)?;
    let mut inputs = src.to_vec();
    inputs.push(index);
    distinct(op, &[dst], &inputs)?;
    if first.cols != dst.cols {
        return Err(bad(op, format!("dst with {} columns (as src)", first.cols), format!("{}", dst.cols)));
    }
    let end = batch_offset as usize + dst.rows;
    if end > index.len() {
        return Err(bad(
            op,
            format!("an index list of at least batch_offset + rows = {end} entries"),
            format!("{} entries", index.len()),
        ));
    }
    Ok(())
}

/// Per-feature tensors are (2, features).
fn per_feature(op: &'static str, x: Tensor, ts: &[Tensor]) -> Result<()> {
    all_f32(op, ts)?;
    for s in ts {
        if s.shape() != (2, x.cols) {
            return Err(bad(op, format!("(2, {}) per-feature tensors", x.cols), format!("({}, {})", s.rows, s.cols)));
        }
    }
    Ok(())
}

pub(crate) fn batchnorm(t: &BatchNormTensors, y: Tensor, grads: Option<(Tensor, Tensor)>) -> Result<()> {
    let op = "batchnorm";
    all_f32(op, &[t.x, y])?;
    check_same_shape(op, t.x, y)?;
    per_feature(op, t.x, &[t.affine, t.saved, t.running])?;
    match grads {
        None => distinct(op, &[y, t.saved, t.running], &[t.x, t.affine]),
        Some((dx, daffine)) => {
            all_f32(op, &[dx, daffine])?;
            check_same_shape(op, t.x, dx)?;
            check_same_shape(op, t.affine, daffine)?;
            distinct(op, &[dx, daffine], &[t.x, t.affine, t.saved, y])
        }
    }
}

/// A stage of synchronized batch norm: `outputs` are written (per-feature ones (2, F), the
/// rest shaped as x), `per_feature` read, over a batch of `total` rows.
pub(crate) fn batchnorm_stage(
    op: &'static str,
    t: &BatchNormTensors,
    outputs: &[Tensor],
    inputs: &[Tensor],
    total: usize,
) -> Result<()> {
    all_f32(op, &[t.x])?;
    per_feature(op, t.x, &[t.affine, t.saved, t.running])?;
    for &o in outputs.iter().chain(inputs) {
        if o.shape() != t.x.shape() {
            per_feature(op, t.x, &[o])?;
        }
    }
    distinct(op, outputs, &[&[t.x, t.affine], inputs].concat())?;
    if total < t.x.rows {
        return Err(bad(op, format!("a batch of at least this replica's {} rows", t.x.rows), format!("{total} rows")));
    }
    Ok(())
}
