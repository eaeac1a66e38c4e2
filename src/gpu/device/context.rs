//! The device: adapter, queue, real limits, the per-device kernel cache and counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::adapter::{summarize, AdapterRequest, AdapterSummary};
use super::kernel::{Kernel, KernelKey};
use crate::error::{Error, Result};
use crate::shaders::Shader;

/// What kind of processor runs the kernels; ops pick tile shapes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A software rasterizer such as Mesa's lavapipe: SIMD lanes on CPU cores.
    Cpu,
    IntegratedGpu,
    DiscreteGpu,
    VirtualGpu,
    Other,
}

/// The adapter limits the library checks requests against (the adapter's real ones, not
/// wgpu's conservative defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceLimits {
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_storage_buffers_per_shader_stage: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_workgroup_size_y: u32,
    pub max_compute_workgroups_per_dimension: u32,
    /// Where a range of a buffer may start when bound as storage (bytes).
    pub min_storage_buffer_offset_alignment: u32,
    /// Where a range may start when bound as a uniform, and how long it may be (bytes).
    pub min_uniform_buffer_offset_alignment: u32,
    pub max_uniform_buffer_binding_size: u64,
}

/// One opened device. Shared (`Arc`) by every backend and op that runs on it.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    adapter: AdapterSummary,
    kind: DeviceKind,
    limits: DeviceLimits,
    subgroup_size: Option<u32>,
    kernels: Mutex<HashMap<KernelKey, Arc<Kernel>>>,
    next_id: AtomicU64,
    uncaptured: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Open a device on the adapter described by `WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`.
    pub fn from_env() -> Result<Arc<Self>> {
        Self::new(&AdapterRequest::from_env())
    }

    /// Open a device on the adapter `request` selects, with that adapter's full limits.
    pub fn new(request: &AdapterRequest) -> Result<Arc<Self>> {
        let instance = request.instance()?;
        let adapter = request.choose(&instance)?;
        let summary = summarize(&adapter);
        let desc = wgpu::DeviceDescriptor {
            label: Some("wgtrain"),
            // Taken where the adapter has them: timestamp queries serve `bench --profile`,
            // subgroup operations the matmul kernel that shares op(A) across a subgroup, f16
            // the matmul over operands stored in half precision.
            required_features: adapter.features()
                & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP | wgpu::Features::SHADER_F16),
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| Error::RequestDevice { adapter: summary.name.clone(), message: e.to_string() })?;
        // wgpu's default handler panics; keep the first error and report it at the next submit.
        let uncaptured = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let l = device.limits();
        let limits = DeviceLimits {
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_size_x: l.max_compute_workgroup_size_x,
            max_compute_workgroup_size_y: l.max_compute_workgroup_size_y,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            min_storage_buffer_offset_alignment: l.min_storage_buffer_offset_alignment,
            min_uniform_buffer_offset_alignment: l.min_uniform_buffer_offset_alignment,
            max_uniform_buffer_binding_size: l.max_uniform_buffer_binding_size.into(),
        };
        let kind = match adapter.get_info().device_type {
            wgpu::DeviceType::Cpu => DeviceKind::Cpu,
            wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu,
            wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu,
            wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu,
            wgpu::DeviceType::Other => DeviceKind::Other,
        };
        let info = adapter.get_info();
        let subgroup_size = (device.features().contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size == info.subgroup_max_size)
            .then_some(info.subgroup_min_size);
        Ok(Arc::new(Self {
            device,
            queue,
            adapter: summary,
            kind,
            limits,
            subgroup_size,
            kernels: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            uncaptured,
        }))
    }

    /// Name, backend, device type and driver of the adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.adapter
    }

    pub fn kind(&self) -> DeviceKind {
        self.kind
    }

    /// Whether shaders may use f16 (wgpu's `SHADER_F16`: f16 arithmetic and 16-bit storage),
    /// which `DType::F16` tensors need.
    pub fn supports_f16(&self) -> bool {
        self.device.features().contains(wgpu::Features::SHADER_F16)
    }

    pub fn limits(&self) -> &DeviceLimits {
        &self.limits
    }

    /// The number of invocations in every subgroup, where the device has subgroup operations
    /// and the adapter reports a single size (8 on lavapipe with 256-bit vectors).
    pub fn fixed_subgroup_size(&self) -> Option<u32> {
        self.subgroup_size
    }

    pub(crate) fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The pipeline for `entry` in `shader` with these override constants, built on first use.
    pub fn kernel(&self, shader: Shader, entry: &str, constants: &[(&str, f64)]) -> Result<Arc<Kernel>> {
        let key = KernelKey::new(shader, entry, constants);
        let mut cache = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cache.get(&key) {
            return Ok(Arc::clone(k));
        }
        let kernel = Arc::new(Kernel::build(self, shader, entry, constants)?);
        cache.insert(key, Arc::clone(&kernel));
        Ok(kernel)
    }

    /// Report (once) an error the device raised outside an error scope.
    pub(crate) fn take_uncaptured(&self, op: &'static str) -> Result<()> {
        let mut slot = self.uncaptured.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some(message) => Err(Error::Device { op, message }),
            None => Ok(()),
        }
    }

    /// Block until all submitted work has finished.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device { op: "wait", message: e.to_string() })?;
        self.take_uncaptured("wait")
    }
}
