//! CPU twin of `shaders/data.wgsl`. A gather source is a list of chunks of `chunk_rows`
//! rows; source row r is row r % chunk_rows of chunk r / chunk_rows.

use crate::backend::Gather;

/// `dst[r, f] = src[index[offset + r], f]·scale + shift`.
pub fn gather_rows_f32(
    src: &[&[f32]],
    chunk_rows: usize,
    index: &[u32],
    dst: &mut [f32],
    cols: usize,
    offset: usize,
    spec: Gather,
) {
    gather_scaled(src, chunk_rows, index, dst, cols, offset, |v| v * spec.scale + spec.shift);
}

/// As `gather_rows_f32` from bytes.
pub fn gather_rows_u8(
    src: &[&[u8]],
    chunk_rows: usize,
    index: &[u32],
    dst: &mut [f32],
    cols: usize,
    offset: usize,
    spec: Gather,
) {
    gather_scaled(src, chunk_rows, index, dst, cols, offset, |v| v as f32 * spec.scale + spec.shift);
}

fn gather_scaled<T: Copy>(
    src: &[&[T]],
    chunk_rows: usize,
    index: &[u32],
    dst: &mut [f32],
    cols: usize,
    offset: usize,
    value: impl Fn(T) -> f32,
) {
    for (i, d) in dst.iter_mut().enumerate() {
        let row = index[offset + i / cols] as usize;
        *d = value(src[row / chunk_rows][(row % chunk_rows) * cols + i % cols]);
    }
}

/// `dst[r, f] = src[index[offset + r], f]`.
pub fn gather_rows_u32(src: &[&[u32]], chunk_rows: usize, index: &[u32], dst: &mut [u32], cols: usize, offset: usize) {
    for (i, d) in dst.iter_mut().enumerate() {
        let row = index[offset + i / cols] as usize;
        *d = src[row / chunk_rows][(row % chunk_rows) * cols + i % cols];
    }
}
/// `y[i] = value`.
pub fn fill(y: &mut [f32], value: f32) {
    y.fill(value);
}

/// `y[i] = 0` where `mask[i]` is 0.
pub fn apply_mask(mask: &[f32], y: &mut [f32]) {
    for (y, &m) in y.iter_mut().zip(mask) {
        if m == 0.0 {
            *y = 0.0;
        }
    }
}

/// `y[i] = value·x[i]`.
pub fn scale(x: &[f32], y: &mut [f32], value: f32) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = x * value;
    }
}
