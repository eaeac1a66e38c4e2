//! Device time of single dispatches from timestamp queries (`Features::TIMESTAMP_QUERY`),
//! for profiling: the dispatch gets a compute pass of its own whose beginning and end write
//! a timestamp, resolved and read back once the pass has run.

use super::context::GpuContext;
use super::recorder::map_read;
use crate::error::Result;

pub(crate) struct Timestamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
}

impl Timestamps {
    /// Query objects, where the device was opened with timestamp queries.
    pub fn new(ctx: &GpuContext) -> Option<Self> {
        if !ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let d = &ctx.device;
        let set = d.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let buffer = |label, usage| {
            d.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: 16, usage, mapped_at_creation: false })
        };
        let resolve = buffer("profile resolve", wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let readback = buffer("profile readback", wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        Some(Self { set, resolve, readback })
    }

    /// Timestamp writes at the pass's beginning (query 0) and end (query 1).
    pub fn writes(&self) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        }
    }

    /// Record the resolve and the copy to the readback buffer (after the pass has ended).
    pub fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.set, 0..2, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, 16);
    }

    /// Seconds between the two timestamps (after the submission with `resolve` completed).
    pub fn seconds(&self, ctx: &GpuContext) -> Result<f64> {
        let bytes = map_read(ctx, &self.readback, 16)?;
        let t: [u64; 2] = bytemuck::pod_read_unaligned(&bytes);
        let ticks = t[1].saturating_sub(t[0]) as f64;
        Ok(ticks * ctx.queue.get_timestamp_period() as f64 * 1e-9)
    }
}
