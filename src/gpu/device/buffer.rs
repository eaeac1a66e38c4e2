//! Device buffers for tensors, and a pool that recycles them by byte size so that a
//! training step, once warm, creates no buffer.

use std::collections::HashMap;
use std::sync::Arc;

use super::context::GpuContext;
use crate::error::{Error, Result};

/// A storage buffer, or a range of one, with a process-unique id (bind groups are cached by
/// id). Kernels see a range as a buffer of its own, indexed from 0.
#[derive(Debug)]
pub struct GpuBuffer {
    pub(crate) id: u64,
    pub(crate) buffer: wgpu::Buffer,
    /// Where the range starts, in bytes (0 for a whole buffer; a multiple of the adapter's
    /// storage offset alignment otherwise).
    pub(crate) offset: u64,
    pub(crate) bytes: u64,
    /// A whole buffer from the pool, which takes it back when freed (ranges are not pooled).
    pub(crate) pooled: bool,
}

impl GpuBuffer {
    /// The binding of this buffer or range.
    pub(crate) fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: self.offset,
            size: std::num::NonZeroU64::new(self.bytes),
        })
    }

    /// `bytes` bytes of this buffer from `offset`, as a range with its own id.
    pub(crate) fn range(&self, ctx: &GpuContext, offset: u64, bytes: u64) -> Self {
        debug_assert!(offset + bytes <= self.bytes, "range inside its buffer");
        Self { id: ctx.fresh_id(), buffer: self.buffer.clone(), offset: self.offset + offset, bytes, pooled: false }
    }
}

/// Free buffers keyed by exact byte size.
#[derive(Default)]
pub struct BufferPool {
    free: HashMap<u64, Vec<Arc<GpuBuffer>>>,
    /// Buffers this pool has created (for `GpuStats`).
    pub(crate) created: u64,
}

impl BufferPool {
    /// A storage buffer of `bytes` (≥ 4), recycled if one of that size is free. Its contents
    /// are whatever it last held: callers that need zeros record a clear (`alloc` does).
    pub fn acquire(&mut self, ctx: &GpuContext, op: &'static str, bytes: u64) -> Result<Arc<GpuBuffer>> {
        // Multiples of 16 bytes, so any buffer may also be bound as an array of vec4.
        let bytes = bytes.max(16).next_multiple_of(16);
        let limits = ctx.limits();
        if bytes > limits.max_storage_buffer_binding_size {
            return Err(Error::LimitExceeded {
                op,
                what: "a buffer".into(),
                needed: bytes,
                limit_name: "max_storage_buffer_binding_size",
                limit: limits.max_storage_buffer_binding_size,
            });
        }
        if let Some(buf) = self.free.get_mut(&bytes).and_then(Vec::pop) {
            return Ok(buf);
        }
        // UNIFORM too: a small tensor that every lane reads whole (the optimizer's
        // hyper-parameters) is bound as a uniform.
        let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(op),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.created += 1;
        Ok(Arc::new(GpuBuffer { id: ctx.fresh_id(), buffer, offset: 0, bytes, pooled: true }))
    }

    /// Give a buffer back for reuse. Its contents are not cleared here: callers that need
    /// zeros fill it (see `Recorder::clear`).
    pub fn release(&mut self, buf: Arc<GpuBuffer>) {
        if !buf.pooled {
            return; // a range: its buffer goes when the last range over it does
        }
        self.free.entry(buf.bytes).or_default().push(buf);
    }
}
