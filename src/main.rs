//! The `wgtrain` command line.

use anyhow::Result;
use clap::{Parser, Subcommand};
use wgtrain::gpu::{list_adapters, AdapterRequest, GpuBackend, GpuContext};

#[derive(Parser)]
#[command(
    name = "wgtrain",
    version,
    about = "Train and run neural networks on wgpu (WGSL kernels, CPU reference twin)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the adapters wgpu sees, the one wgtrain picks, and the limits it will use.
    ///
    /// The choice follows wgpu's variables: WGPU_BACKEND (vulkan, metal, dx12, gl),
    /// WGPU_ADAPTER_NAME (part of a name) and WGPU_POWER_PREF (low, high, none).
    ///
    /// Example: WGPU_ADAPTER_NAME=llvmpipe wgtrain info
    Info,
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Info => info(),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn info() -> Result<()> {
    let request = AdapterRequest::from_env();
    let adapters = list_adapters(&request)?;
    println!("adapters ({}):", adapters.len());
    for a in &adapters {
        println!("  {a}");
    }
    let ctx = GpuContext::new(&request)?;
    let backend = GpuBackend::new(ctx.clone())?;
    let l = ctx.limits();
    println!("chosen: {}", ctx.adapter());
    println!("device kind: {:?}", ctx.kind());
    println!("matmul tiling: {}", backend.matmul_tiling());
    println!("limits:");
    println!("  max_storage_buffer_binding_size     {:>14} bytes", l.max_storage_buffer_binding_size);
    println!("  max_buffer_size                     {:>14} bytes", l.max_buffer_size);
    println!("  max_storage_buffers_per_shader_stage {:>13}", l.max_storage_buffers_per_shader_stage);
    println!("  max_compute_workgroup_storage_size  {:>14} bytes", l.max_compute_workgroup_storage_size);
    println!("  max_compute_invocations_per_workgroup {:>12}", l.max_compute_invocations_per_workgroup);
    println!(
        "  max_compute_workgroup_size (x, y)   {:>14}",
        format!("({}, {})", l.max_compute_workgroup_size_x, l.max_compute_workgroup_size_y)
    );
    println!("  max_compute_workgroups_per_dimension {:>13}", l.max_compute_workgroups_per_dimension);
    Ok(())
}
