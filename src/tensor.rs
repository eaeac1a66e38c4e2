//! Tensor handles and the slot arena both backends store them in.
//!
//! A `Tensor` is a small `Copy` handle: the data lives in the backend that made it. Tensors
//! are row-major matrices `(rows, cols)`; a vector is `(1, n)`. Values are f32 except class
//! labels and index lists (u32) and image sources kept packed (u8, four to a word on the GPU).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    /// IEEE half precision in storage; read and written as f32 values rounded to the nearest
    /// f16 (ties to even). Only the matmul takes it (its operands and output; it accumulates in
    /// f32), on adapters with f16 shaders (`GpuContext::supports_f16`).
    F16,
    U32,
    U8,
}

impl DType {
    /// Bytes a `len`-element tensor occupies on the GPU (u8 packs four, f16 two, to a 32-bit
    /// word).
    pub fn device_bytes(self, len: usize) -> u64 {
        match self {
            DType::F32 | DType::U32 => len as u64 * 4,
            DType::F16 => (len as u64 * 2).next_multiple_of(4),
            DType::U8 => (len as u64).next_multiple_of(4),
        }
    }
}

/// `v` rounded to the nearest f16 (ties to even), as f32: what an `F16` tensor holds.
pub fn round_f16(v: f32) -> f32 {
    half::f16::from_f32(v).to_f32()
}

/// A handle to a `(rows, cols)` matrix owned by one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tensor {
    pub(crate) id: u32,
    pub(crate) owner: u32,
    pub rows: usize,
    pub cols: usize,
    pub dtype: DType,
}

impl Tensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

static NEXT_OWNER: AtomicU32 = AtomicU32::new(1);

/// Slots indexed by tensor id, with reuse of freed ids.
pub(crate) struct Arena<T> {
    owner: u32,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Arena<T> {
    pub fn new() -> Self {
        Self { owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed), slots: Vec::new(), free: Vec::new() }
    }

    pub fn insert(&mut self, rows: usize, cols: usize, dtype: DType, value: T) -> Tensor {
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(value);
                id
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        };
        Tensor { id, owner: self.owner, rows, cols, dtype }
    }

    pub fn get(&self, op: &'static str, t: Tensor) -> Result<&T> {
        self.slots
            .get(t.id as usize)
            .and_then(Option::as_ref)
            .filter(|_| t.owner == self.owner)
            .ok_or(Error::UnknownTensor { op, id: t.id })
    }

    pub fn get_mut(&mut self, op: &'static str, t: Tensor) -> Result<&mut T> {
        let owner = self.owner;
        self.slots
            .get_mut(t.id as usize)
            .and_then(Option::as_mut)
            .filter(|_| t.owner == owner)
            .ok_or(Error::UnknownTensor { op, id: t.id })
    }

    pub fn remove(&mut self, op: &'static str, t: Tensor) -> Result<T> {
        self.get(op, t)?;
        self.free.push(t.id);
        Ok(self.slots[t.id as usize].take().expect("checked live above"))
    }
}

/// Reject an empty shape with an error naming the op.
pub(crate) fn check_shape(op: &'static str, rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::ShapeMismatch {
            op,
            expected: "rows ≥ 1 and cols ≥ 1".into(),
            got: format!("({rows}, {cols})"),
        });
    }
    Ok(())
}

/// Reject host data whose length does not match the tensor.
pub(crate) fn check_len(op: &'static str, t: Tensor, len: usize) -> Result<()> {
    if len != t.len() {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("{} values for a ({}, {}) tensor", t.len(), t.rows, t.cols),
            got: format!("{len} values"),
        });
    }
    Ok(())
}

/// Reject a tensor of the wrong element type.
pub(crate) fn check_dtype(op: &'static str, t: Tensor, expected: DType) -> Result<()> {
    if t.dtype != expected {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("a {expected:?} tensor"),
            got: format!("a {:?} tensor of ({}, {})", t.dtype, t.rows, t.cols),
        });
    }
    Ok(())
}

/// Reject a pair of tensors whose element counts differ.
pub(crate) fn check_same_len(op: &'static str, a: Tensor, b: Tensor) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("{} elements (as ({}, {}))", a.len(), a.rows, a.cols),
            got: format!("{} elements (({}, {}))", b.len(), b.rows, b.cols),
        });
    }
    Ok(())
}

/// Reject a pair of tensors whose shapes differ.
pub(crate) fn check_same_shape(op: &'static str, a: Tensor, b: Tensor) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("({}, {})", a.rows, a.cols),
            got: format!("({}, {})", b.rows, b.cols),
        });
    }
    Ok(())
}
