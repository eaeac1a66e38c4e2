//! Records many dispatches into one command encoder (one compute pass) and submits once.
//!
//! Bind groups and their uniform parameter buffers are cached by (kernel, params, buffers):
//! a training step calls the same kernels on the same buffers with the same shapes every
//! time, so after the first step it creates nothing. Scalars that change every step must
//! therefore travel in a storage buffer, not in `params`.

use std::collections::HashMap;

use super::buffer::GpuBuffer;
use super::context::GpuContext;
use super::kernel::Kernel;
use crate::error::{Error, Result};

/// Most storage buffers one dispatch binds (after the params uniform at binding 0).
pub const MAX_BINDINGS: usize = 8;
/// Largest params struct, in bytes.
pub const MAX_PARAMS: usize = 128;

#[derive(Clone, PartialEq, Eq, Hash)]
struct BindKey {
    kernel: u64,
    buffers: [(u32, u64); MAX_BINDINGS],
    params: [u8; MAX_PARAMS],
}

struct Cached {
    group: wgpu::BindGroup,
    _params: wgpu::Buffer,
}

/// Counts of the costly things one backend's GPU layer has done (the op set's `Counters`);
/// a warm training step should change only `submits` and `dispatches`.
pub type GpuStats = crate::backend::Counters;

/// What recording one kernel family's dispatch needs: the open encoder, the device, and the
/// family's pipelines (`K`). Every kernel wrapper takes one, then its buffers and sizes.
pub struct Call<'a, K> {
    pub rec: &'a mut Recorder,
    pub ctx: &'a super::context::GpuContext,
    pub k: &'a K,
}

/// The open command encoder of one backend, plus what it reuses between steps.
pub struct Recorder {
    pub(crate) stats: GpuStats,
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    groups: HashMap<BindKey, Cached>,
    staging: Option<wgpu::Buffer>,
    /// When profiling: each dispatch runs in its own submission and is timed (kernel label,
    /// seconds): by timestamp queries where the device has them (`timestamps`), else from
    /// submit to completion, the submission's own cost included.
    pub(crate) profile: Option<Vec<(String, f64)>>,
    pub(crate) timestamps: Option<super::timestamps::Timestamps>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            stats: GpuStats::default(),
            encoder: None,
            pass: None,
            groups: HashMap::new(),
            staging: None,
            profile: None,
            timestamps: None,
        }
    }

    fn encoder(&mut self, ctx: &GpuContext) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        self.encoder.get_or_insert_with(|| {
            ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("wgtrain step") })
        })
    }

    /// Record `kernel` over `groups` workgroups. Binding 0 is `params` (a uniform); `buffers`
    /// gives each storage binding the entry point uses, as (binding, buffer).
    pub fn dispatch(
        &mut self,
        ctx: &GpuContext,
        kernel: &Kernel,
        params: &[u8],
        buffers: &[(u32, &GpuBuffer)],
        groups: [u32; 3],
    ) -> Result<()> {
        let max = ctx.limits().max_compute_workgroups_per_dimension;
        if let Some(&g) = groups.iter().find(|&&g| g > max) {
            return Err(Error::LimitExceeded {
                op: "dispatch",
                what: format!("the workgroup count of {}", kernel.label),
                needed: g as u64,
                limit_name: "max_compute_workgroups_per_dimension",
                limit: max as u64,
            });
        }
        assert!(buffers.len() <= MAX_BINDINGS && params.len() <= MAX_PARAMS, "op wiring error in {}", kernel.label);
        if self.profile.is_some() {
            // Earlier work must not be timed with this kernel.
            self.submit(ctx)?;
            ctx.wait()?;
        }
        let start = self.profile.is_some().then(std::time::Instant::now);
        let mut key = BindKey { kernel: kernel.id, buffers: [(0, 0); MAX_BINDINGS], params: [0; MAX_PARAMS] };
        for (slot, (binding, b)) in key.buffers.iter_mut().zip(buffers) {
            *slot = (*binding, b.id);
        }
        key.params[..params.len()].copy_from_slice(params);
        if !self.groups.contains_key(&key) {
            let cached = self.make_group(ctx, kernel, params, buffers);
            self.groups.insert(key.clone(), cached);
        }
        if self.pass.is_none() {
            let timestamp_writes = self.profile.as_ref().and(self.timestamps.as_ref()).map(|t| t.writes());
            let encoder = self.encoder.get_or_insert_with(|| {
                ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("wgtrain step") })
            });
            let pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("wgtrain"), timestamp_writes });
            self.pass = Some(pass.forget_lifetime());
        }
        let pass = self.pass.as_mut().expect("pass opened above");
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &self.groups[&key].group, &[]);
        if groups.iter().all(|&g| g > 0) {
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        self.stats.dispatches += 1;
        if self.profile.is_some() {
            self.pass = None;
            if let (Some(t), Some(encoder)) = (&self.timestamps, self.encoder.as_mut()) {
                t.resolve(encoder);
            }
            self.submit(ctx)?;
            ctx.wait()?;
            let seconds = match &self.timestamps {
                Some(t) => t.seconds(ctx)?,
                None => start.expect("set when profiling").elapsed().as_secs_f64(),
            };
            self.profile.as_mut().expect("profiling").push((kernel.label.clone(), seconds));
        }
        Ok(())
    }

    fn make_group(
        &mut self,
        ctx: &GpuContext,
        kernel: &Kernel,
        params: &[u8],
        buffers: &[(u32, &GpuBuffer)],
    ) -> Cached {
        // Uniform buffers must be at least 16 bytes and a multiple of 16.
        let size = (params.len() as u64).max(16).next_multiple_of(16);
        let uniform = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&kernel.label),
            size,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.stats.buffers_created += 1;
        let mut padded = params.to_vec();
        padded.resize(size as usize, 0);
        ctx.queue.write_buffer(&uniform, 0, &padded);
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        for (binding, b) in buffers {
            entries.push(wgpu::BindGroupEntry { binding: *binding, resource: b.binding() });
        }
        let group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&kernel.label),
            layout: &kernel.layout,
            entries: &entries,
        });
        self.stats.bind_groups_created += 1;
        Cached { group, _params: uniform }
    }

    /// Record a copy of `src` into `dst` (whole of `src`; `dst` at least as large).
    pub fn copy(&mut self, ctx: &GpuContext, src: &GpuBuffer, dst: &GpuBuffer) {
        self.encoder(ctx).copy_buffer_to_buffer(&src.buffer, src.offset, &dst.buffer, dst.offset, src.bytes);
    }

    /// Record a zero fill of `buf`.
    pub fn clear(&mut self, ctx: &GpuContext, buf: &GpuBuffer) {
        self.encoder(ctx).clear_buffer(&buf.buffer, buf.offset, Some(buf.bytes));
    }

    /// Whether dispatches are recorded but not yet submitted.
    pub fn pending(&self) -> bool {
        self.encoder.is_some()
    }

    /// Submit everything recorded so far as one command buffer (a no-op if nothing is).
    pub fn submit(&mut self, ctx: &GpuContext) -> Result<()> {
        self.pass = None;
        if let Some(encoder) = self.encoder.take() {
            ctx.queue.submit([encoder.finish()]);
            self.stats.submits += 1;
        }
        ctx.take_uncaptured("submit")
    }

    /// Upload `bytes` into `buf`. Pending work is submitted first so that it sees the old
    /// contents (queue writes land before the next submitted command buffer).
    pub fn write(&mut self, ctx: &GpuContext, buf: &GpuBuffer, bytes: &[u8]) -> Result<()> {
        if self.pending() {
            self.submit(ctx)?;
        }
        ctx.queue.write_buffer(&buf.buffer, buf.offset, bytes);
        Ok(())
    }

    /// Submit pending work, then copy the first `bytes` of `buf` back through the reusable
    /// staging buffer.
    pub fn read(&mut self, ctx: &GpuContext, buf: &GpuBuffer, bytes: u64) -> Result<Vec<u8>> {
        let bytes = bytes.next_multiple_of(4).min(buf.bytes);
        if self.staging.as_ref().is_none_or(|s| s.size() < bytes) {
            let size = bytes.next_power_of_two().max(256);
            self.staging = Some(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgtrain staging"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
            self.stats.buffers_created += 1;
        }
        let staging = self.staging.take().expect("staging made above");
        self.encoder(ctx).copy_buffer_to_buffer(&buf.buffer, buf.offset, &staging, 0, bytes);
        let result = self.submit(ctx).and_then(|()| map_read(ctx, &staging, bytes));
        self.staging = Some(staging);
        self.stats.readbacks += 1;
        self.stats.readback_bytes += bytes;
        result
    }
}

pub(crate) fn map_read(ctx: &GpuContext, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
        let _ = tx.send(r);
    });
    ctx.wait()?;
    rx.recv()
        .map_err(|_| Error::Device { op: "read", message: "map callback never ran".into() })?
        .map_err(|e| Error::Device { op: "read", message: e.to_string() })?;
    let data = {
        let view =
            staging.get_mapped_range(0..bytes).map_err(|e| Error::Device { op: "read", message: e.to_string() })?;
        view.to_vec()
    };
    staging.unmap();
    Ok(data)
}
