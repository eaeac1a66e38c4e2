//! `wgtrain info`: the adapters wgpu sees and the limits wgtrain will use; or, given a
//! checkpoint, its model summary (per layer: kind, width, parameters, zeros, rank).

use std::path::Path;

use anyhow::Result;
use wgtrain::gpu::tune::{self, TuneSource};
use super::device::Devices;
use wgtrain::gpu::{list_adapters, GpuBackend, GpuContext};
use wgtrain::train::checkpoint;

pub fn run(checkpoint: Option<&Path>, cpu: bool, devices: &Devices, json: bool) -> Result<()> {
    match checkpoint {
        Some(path) => {
            let loaded = checkpoint::load(path)?;
            let summary = wgtrain::run::Summary::of(&loaded);
            if json {
                outln!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                outln!("{}\n{summary}", path.display());
            }
            Ok(())
        }
        None if cpu => cpu_twin(json),
        None => adapters(devices, json),
    }
}

/// `info` under an MPI launcher: which adapter each rank takes, one line per rank.
pub fn rank(devices: &Devices, launch: wgtrain::dist::Launch, json: bool) -> Result<()> {
    let ctx = GpuContext::new(&devices.request())?;
    let host = std::env::var("HOSTNAME").or_else(|_| std::fs::read_to_string("/etc/hostname")).unwrap_or_default();
    let host = host.trim();
    if json {
        let out = serde_json::json!({
            "rank": launch.rank, "size": launch.size, "local_rank": launch.local_rank,
            "host": host, "adapter": ctx.adapter().to_string(),
        });
        outln!("{}", serde_json::to_string(&out)?);
    } else {
        outln!("rank {} of {} on {host} (local rank {}): {}", launch.rank, launch.size, launch.local_rank, ctx.adapter());
    }
    Ok(())
}

/// `info --device cpu`: the processor the CPU twin runs on and the memory it may use.
fn cpu_twin(json: bool) -> Result<()> {
    let host = wgtrain::bench::Machine::host(String::new());
    let memory = wgtrain::limits::available_host_bytes();
    if json {
        let out = serde_json::json!({
            "device": "cpu",
            "cpu": host.cpu,
            "cores": host.cores,
            "available_memory_bytes": memory,
            "threads_used": 1,
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!("device: the CPU twin (the reference implementation of every kernel, in plain Rust)");
    outln!("cpu: {} ({} cores; the twin uses one thread)", host.cpu, host.cores);
    if let Some(m) = memory {
        outln!("available memory: {:.1} GiB", m as f64 / (1u64 << 30) as f64);
    }
    Ok(())
}

fn adapters(devices: &Devices, json: bool) -> Result<()> {
    let request = devices.request();
    let adapters = list_adapters(&request)?;
    let ctx = GpuContext::new(&request)?;
    let tuned = wgtrain::gpu::tune::choose(&ctx, devices.autotune)?;
    let backend = GpuBackend::with_tuning(ctx.clone(), &tuned, tune::cache_dir())?;
    let per_class = backend.matmul_candidates().len() > 1;
    let classes = tune::cache_dir().map(|d| tune::recorded_classes(&d, &tune::cache_key(&ctx))).unwrap_or_default();
    let l = ctx.limits();
    let how = match &tuned.source {
        TuneSource::Override => "set by WGTRAIN_MATMUL".to_string(),
        TuneSource::Skipped => "the adapter kind's default (autotune off)".to_string(),
        TuneSource::Cached(path) => format!("tuned earlier, cached in {}", path.display()),
        TuneSource::Measured { cache: Some(path) } => format!("tuned just now, cached in {}", path.display()),
        TuneSource::Measured { cache: None } => "tuned just now (no writable cache directory)".to_string(),
    };
    if json {
        let out = serde_json::json!({
            "adapters": adapters.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "chosen": ctx.adapter().to_string(),
            "device_kind": format!("{:?}", ctx.kind()),
            "shader_f16": ctx.supports_f16(),
            "matmul_tiling": backend.matmul_tiling().to_string(),
            "matmul_tuning": {
                "chosen": tuned.tiling.name(),
                "how": how,
                "gflops": tuned.gflops,
                "per_class_candidates": backend.matmul_candidates().iter().map(|t| t.name()).collect::<Vec<_>>(),
                "classes": classes,
            },
            "limits": {
                "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
                "max_buffer_size": l.max_buffer_size,
                "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
                "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
                "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
                "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
            },
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!("adapters ({}):", adapters.len());
    for a in &adapters {
        outln!("  {a}");
    }
    outln!("chosen: {}", ctx.adapter());
    outln!("device kind: {:?}", ctx.kind());
    let f16 = if ctx.supports_f16() { "yes (--precision f16: the matmul over f16 weights and activations)" } else { "no" };
    outln!("f16 shaders: {f16}");
    outln!("matmul tiling: {}", backend.matmul_tiling());
    outln!("  {how}");
    if !tuned.gflops.is_empty() {
        let each: Vec<String> = tuned.gflops.iter().map(|(name, g)| format!("{name} {g:.1}")).collect();
        outln!("  GFLOP/s over the tuning products: {}", each.join(", "));
    }
    if per_class {
        let names: Vec<&str> = backend.matmul_candidates().iter().map(|t| t.name()).collect();
        outln!("  each class of product shape times {} at its first use; timed so far: {}", names.join(" and "), classes.len());
        for (class, c) in &classes {
            let each: Vec<String> = c.gflops.iter().map(|(name, g)| format!("{name} {g:.1}")).collect();
            outln!("    {class}: {} (on {}; GFLOP/s {})", c.tiling, c.product, each.join(", "));
        }
    }
    outln!("limits:");
    outln!("  max_storage_buffer_binding_size     {:>14} bytes", l.max_storage_buffer_binding_size);
    outln!("  max_buffer_size                     {:>14} bytes", l.max_buffer_size);
    outln!("  max_storage_buffers_per_shader_stage {:>13}", l.max_storage_buffers_per_shader_stage);
    outln!("  max_compute_workgroup_storage_size  {:>14} bytes", l.max_compute_workgroup_storage_size);
    outln!("  max_compute_invocations_per_workgroup {:>12}", l.max_compute_invocations_per_workgroup);
    outln!(
        "  max_compute_workgroup_size (x, y)   {:>14}",
        format!("({}, {})", l.max_compute_workgroup_size_x, l.max_compute_workgroup_size_y)
    );
    outln!("  max_compute_workgroups_per_dimension {:>13}", l.max_compute_workgroups_per_dimension);
    Ok(())
}
