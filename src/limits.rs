//! Every size that comes from outside — layer widths from flags or a checkpoint's metadata,
//! class numbers from labels, decompressed data, Monte Carlo passes — is bounded here, before
//! anything is allocated, with an error that names the value, the limit and the fix.

use crate::error::{Error, Result};

/// Class numbers are below this (a label of 1,000,000,000 would make a billion-wide output).
pub const MAX_CLASSES: usize = 1 << 16;
/// Stochastic passes of Monte Carlo dropout per prediction.
pub const MAX_MC_PASSES: u32 = 10_000;
/// Epochs of one training run (or fine-tuning): a hundred thousand epochs of the smallest
/// bundled dataset already take days; anything above is a mistyped count.
pub const MAX_EPOCHS: usize = 100_000;
/// Repeats of one `bench` measurement (each lasts about a quarter of a second).
pub const MAX_BENCH_REPEATS: usize = 1_000;
/// Bytes a compressed data file may expand to (Fashion-MNIST's largest is 47 MB).
pub const MAX_DECOMPRESSED_BYTES: u64 = 4 << 30;
/// Copies of each parameter a training run keeps: the weights, their gradient and up to two
/// optimizer moments.
const COPIES_PER_PARAMETER: u64 = 4;

fn too_large(what: impl Into<String>, value: impl ToString, limit: impl ToString, fix: impl Into<String>) -> Error {
    Error::TooLarge { what: what.into(), value: value.to_string(), limit: limit.to_string(), fix: fix.into() }
}

/// The memory the host can still give, from `/proc/meminfo` (None where it cannot be read).
pub fn available_host_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Check that a model whose layers have weight matrices `(layer number, inputs, units)` can be
/// built where one tensor may hold at most `max_tensor_bytes` and the host has `host_bytes`
/// available: every weight matrix fits a tensor, and the parameters with their gradients and
/// optimizer state fit the host.
pub fn check_model(
    matrices: impl IntoIterator<Item = (usize, usize, usize)>,
    max_tensor_bytes: u64,
    host_bytes: Option<u64>,
) -> Result<()> {
    let mut total: u64 = 0;
    for (layer, inputs, units) in matrices {
        let (width, units) = (inputs as u64, units as u64);
        let bytes = width.checked_mul(units).and_then(|n| n.checked_mul(4)).unwrap_or(u64::MAX);
        if bytes > max_tensor_bytes {
            return Err(too_large(
                format!("layer {layer} ({width}→{units}) weight matrix"),
                format!("{bytes} bytes"),
                format!("{max_tensor_bytes} bytes per tensor on this device"),
                "use narrower layers",
            ));
        }
        total = total.saturating_add(bytes).saturating_add(units * 4);
    }
    let needed = total.saturating_mul(COPIES_PER_PARAMETER);
    if let Some(host) = host_bytes {
        if needed > host {
            return Err(too_large(
                "the model's parameters, gradients and optimizer state",
                format!("{needed} bytes"),
                format!("the {host} bytes this machine has available"),
                "use narrower or fewer layers",
            ));
        }
    }
    Ok(())
}

/// Check a class number read from data.
pub fn check_class(label: u64, at: impl FnOnce() -> String) -> Result<()> {
    if label >= MAX_CLASSES as u64 {
        return Err(too_large(
            format!("the label on {}", at()),
            label,
            format!("{} classes (0 to {})", MAX_CLASSES, MAX_CLASSES - 1),
            "labels are class indices 0, 1, 2, …; check the label column",
        ));
    }
    Ok(())
}

/// Check the number of Monte Carlo dropout passes.
pub fn check_mc_passes(passes: u32) -> Result<()> {
    if passes == 0 {
        return Err(Error::config("--mc-dropout", "0; give the number of stochastic passes (e.g. 30)"));
    }
    if passes > MAX_MC_PASSES {
        return Err(too_large(
            "--mc-dropout",
            passes,
            MAX_MC_PASSES,
            "30 to 100 passes give a stable mean and spread; more cost time and change little",
        ));
    }
    Ok(())
}

/// Read at most `MAX_DECOMPRESSED_BYTES` from a decompressor, refusing a file that expands
/// further (a damaged or hostile archive).
pub fn read_decompressed(r: impl std::io::Read, path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    let read = r.take(MAX_DECOMPRESSED_BYTES + 1).read_to_end(&mut out);
    read.map_err(|e| Error::DataCorrupt {
        path: path.display().to_string(),
        problem: format!("gzip stream is damaged ({e})"),
    })?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(too_large(
            format!("{} decompressed", path.display()),
            format!("more than {MAX_DECOMPRESSED_BYTES} bytes"),
            format!("{MAX_DECOMPRESSED_BYTES} bytes"),
            "this is not a dataset file wgtrain can use",
        ));
    }
    Ok(out)
}
