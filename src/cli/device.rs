//! Opening the backend the command line asked for: `--device auto|gpu|cpu` (bench: a list) and
//! `--no-autotune`.

use anyhow::Result;
use wgtrain::gpu::tune::{self, Autotune, TuneSource};
use wgtrain::gpu::GpuBackend;
use wgtrain::{Backend, CpuBackend};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    Auto,
    Gpu,
    Cpu,
}

/// Backends by name ("gpu", "cpu"), as `bench` runs them.
pub type Named = Vec<(String, Box<dyn Backend>)>;

/// The devices named by `--device`, and whether the matmul tiling may be timed.
pub struct Devices {
    pub list: Vec<Device>,
    pub autotune: Autotune,
    /// Take the k-th adapter (one rank per adapter in a data-parallel job) unless
    /// WGPU_ADAPTER_NAME names one.
    pub adapter_index: Option<usize>,
}

impl Devices {
    /// The adapter wgpu's variables ask for, or this rank's.
    pub fn request(&self) -> wgtrain::gpu::AdapterRequest {
        let mut request = wgtrain::gpu::AdapterRequest::from_env();
        if request.name.is_none() {
            request.index = self.adapter_index;
        }
        request
    }

    /// The one backend of a command other than bench.
    pub fn backend(&self) -> Result<Box<dyn Backend>> {
        Ok(match self.list.as_slice() {
            [Device::Auto] => match self.gpu_or_note()? {
                Some(g) => Box::new(g),
                None => Box::new(CpuBackend::new()),
            },
            [Device::Gpu] => Box::new(self.open_gpu()?),
            [Device::Cpu] => Box::new(CpuBackend::new()),
            list => anyhow::bail!("--device takes one of auto, gpu, cpu here (only bench takes a list), got {list:?}"),
        })
    }

    /// The GPU backend, or None after one line saying why not and how to get a GPU path.
    /// Only a missing adapter falls back to the twin: a wrong setting (a bad `WGTRAIN_MATMUL`)
    /// is an error, not a silent change of device.
    pub fn gpu_or_note(&self) -> wgtrain::Result<Option<GpuBackend>> {
        match self.open_gpu() {
            Ok(g) => Ok(Some(g)),
            Err(e @ (wgtrain::Error::NoAdapter { .. } | wgtrain::Error::RequestDevice { .. })) => {
                eprintln!(
                    "note: no GPU adapter ({e}); running on the CPU twin. Without a GPU, Mesa's software Vulkan \
                     driver gives a GPU path: apt-get install mesa-vulkan-drivers"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The GPU backend on the adapter wgpu's variables pick, saying so when the matmul tiling
    /// is being tuned for it (once per adapter; a few seconds).
    pub fn open_gpu(&self) -> wgtrain::Result<GpuBackend> {
        let ctx = wgtrain::GpuContext::new(&self.request())?;
        let start = std::time::Instant::now();
        let tuned = tune::choose(&ctx, self.autotune)?;
        if let TuneSource::Measured { cache } = &tuned.source {
            let kept = cache
                .as_ref()
                .map_or("not cached: no writable cache directory".into(), |p| format!("cached in {}", p.display()));
            eprintln!(
                "note: timed the matmul tilings on this adapter in {:.1} s and chose {} ({kept}; each new class of \
                 product shape is timed at its first use; --no-autotune skips this)",
                start.elapsed().as_secs_f64(),
                tuned.tiling.name()
            );
        }
        GpuBackend::with_tuning(ctx, &tuned, tune::cache_dir())
    }

    /// `bench`: one backend per listed device, and the machine they run on.
    pub fn for_bench(&self) -> Result<(Named, wgtrain::bench::Machine)> {
        let mut machine = wgtrain::bench::Machine::host(format!("wgtrain {}", env!("CARGO_PKG_VERSION")));
        machine.wgpu = Some(super::bench::WGPU_VERSION.into());
        let mut backends: Named = Vec::new();
        for d in &self.list {
            // For bench, auto is the GPU when there is one, else the CPU twin (said so).
            let gpu = match d {
                Device::Auto => self.gpu_or_note()?,
                Device::Gpu => Some(self.open_gpu()?),
                Device::Cpu => None,
            };
            match gpu {
                Some(g) => {
                    let a = g.context().adapter();
                    machine.adapter = Some(a.name.clone());
                    machine.backend = Some(a.backend.clone());
                    machine.driver = Some(format!("{} {}", a.driver, a.driver_info).trim().to_string());
                    backends.push(("gpu".into(), Box::new(g)));
                }
                None => backends.push(("cpu".into(), Box::new(CpuBackend::new()))),
            }
        }
        Ok((backends, machine))
    }
}
