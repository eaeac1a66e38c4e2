//! A compute pipeline built from a registry shader, inside a validation error scope, and
//! `Specialized`: one entry point built lazily per value of one override constant.

use std::sync::{Arc, OnceLock};

use super::context::GpuContext;
use crate::error::{Error, Result};
use crate::shaders::Shader;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct KernelKey {
    family: &'static str,
    entry: String,
    constants: Vec<(String, u64)>,
}

impl KernelKey {
    pub fn new(shader: Shader, entry: &str, constants: &[(&str, f64)]) -> Self {
        let constants = constants.iter().map(|(k, v)| (k.to_string(), v.to_bits())).collect();
        Self { family: shader.family, entry: entry.to_string(), constants }
    }
}

/// One entry point of one shader, specialized by its override constants.
pub struct Kernel {
    pub(crate) id: u64,
    pub(crate) label: String,
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kernel({})", self.label)
    }
}

impl Kernel {
    pub(crate) fn build(ctx: &GpuContext, shader: Shader, entry: &str, constants: &[(&str, f64)]) -> Result<Self> {
        let label = if constants.is_empty() {
            format!("{}::{entry}", shader.family)
        } else {
            let c: Vec<String> = constants.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}::{entry}[{}]", shader.family, c.join(","))
        };
        let device = &ctx.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(shader.family),
            source: wgpu::ShaderSource::Wgsl(shader.source.into()),
        };
        let module = if shader.guards_own_indices {
            // SAFETY: the module clamps or guards every buffer index against sizes the host
            // checked (see `Shader::guards_own_indices`); its parity tests cover ragged shapes.
            unsafe { device.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked()) }
        } else {
            device.create_shader_module(desc)
        };
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(Error::ShaderCompile { op: label, message: err.to_string() });
        }
        let layout = pipeline.get_bind_group_layout(0);
        Ok(Self { id: ctx.fresh_id(), label, pipeline, layout })
    }

    /// `family::entry[constants]`, as used in pipeline labels and errors.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// An entry point built as up to `N` pipelines that differ in one override constant
/// (`name` = 0, 1, …, N − 1), each built on first use and kept.
pub struct Specialized<const N: usize> {
    shader: Shader,
    entry: &'static str,
    constants: Vec<(&'static str, f64)>,
    name: &'static str,
    slots: Box<[OnceLock<Arc<Kernel>>]>,
}

impl<const N: usize> Specialized<N> {
    pub fn new(shader: Shader, entry: &'static str, constants: &[(&'static str, f64)], name: &'static str) -> Self {
        let slots = (0..N).map(|_| OnceLock::new()).collect();
        Self { shader, entry, constants: constants.to_vec(), name, slots }
    }

    /// The pipeline with `name` = `value`, built (once) on its first use.
    pub fn get(&self, ctx: &GpuContext, value: usize) -> Result<&Kernel> {
        let slot = &self.slots[value];
        if let Some(kernel) = slot.get() {
            return Ok(kernel);
        }
        let mut constants = self.constants.clone();
        constants.push((self.name, value as f64));
        let kernel = ctx.kernel(self.shader, self.entry, &constants)?;
        Ok(slot.get_or_init(|| kernel))
    }

    pub fn entry(&self) -> &'static str {
        self.entry
    }

    /// Whether `other` builds the same pipelines: one shader, entry point and constants.
    pub fn same_pipelines(&self, other: &Self) -> bool {
        self.shader == other.shader && self.entry == other.entry && self.constants == other.constants && self.name == other.name
    }
}
