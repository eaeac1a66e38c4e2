// data.wgsl — data movement.
//   gather_rows_{f32,u8,u32}: dst[r, f] = src[index[offset + r], f]·scale + shift
//     (u32 rows are copied as they are), offset = counters[1], the step's batch offset. A u8
//     source is packed four values to a 32-bit word, so image sets stay 1 byte per pixel.
//     A source too large for one storage binding is split into up to four chunks of
//     chunk_rows rows (src0..src3); source row r lives in chunk r / chunk_rows.
//   fill:  y[i] = value
//   scale: y[i] = value·x[i]  (scale_in_place: y[i] = value·y[i])
//   apply_mask: y[i] = 0 where src[i] (the mask) is 0, else unchanged
//   copy_4: y = x four floats per invocation (n a multiple of 4): the plain copy that
//     `bench --profile` times as the memory ceiling of the elementwise kernels
// src: (source rows, cols); index: the epoch's order of source rows; dst: (rows, cols).

struct Params {
    n: u32,
    cols: u32,
    value: f32,
    shift: f32,
    chunk_rows: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> src_words: array<u32>;
@group(0) @binding(5) var<storage, read> src1: array<f32>;
@group(0) @binding(5) var<storage, read> src1_words: array<u32>;
@group(0) @binding(6) var<storage, read> src2: array<f32>;
@group(0) @binding(6) var<storage, read> src2_words: array<u32>;
@group(0) @binding(7) var<storage, read> src3: array<f32>;
@group(0) @binding(7) var<storage, read> src3_words: array<u32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read> counters: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst_words: array<u32>;
// Four columns at a time, for rows whose width is a multiple of 4 (gather_rows_*_4): a row
// then starts on a vec4 (and, packed u8, on a word) boundary in every chunk.
@group(0) @binding(1) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> src14: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> src24: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> src34: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst4: array<vec4<f32>>;

// WG and element(): lib/grid.wgsl.

// (chunk, flat position within the chunk) of the source of destination element i.
fn source_of(i: u32) -> vec2<u32> {
    let row = index[counters[1] + i / p.cols];
    return vec2(row / p.chunk_rows, (row % p.chunk_rows) * p.cols + i % p.cols);
}

fn source_value(at: vec2<u32>) -> f32 {
    switch at.x {
        case 0u: { return src[at.y]; }
        case 1u: { return src1[at.y]; }
        case 2u: { return src2[at.y]; }
        default: { return src3[at.y]; }
    }
}

fn source_word(chunk: u32, w: u32) -> u32 {
    switch chunk {
        case 0u: { return src_words[w]; }
        case 1u: { return src1_words[w]; }
        case 2u: { return src2_words[w]; }
        default: { return src3_words[w]; }
    }
}

@compute @workgroup_size(WG)
fn gather_rows_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    dst[i] = source_value(source_of(i)) * p.value + p.shift;
}

// (chunk, vec4 position within the chunk) of destination vec4 q; cols % 4 = 0.
fn source_of4(q: u32) -> vec2<u32> {
    let cols4 = p.cols / 4u;
    let row = index[counters[1] + q / cols4];
    return vec2(row / p.chunk_rows, (row % p.chunk_rows) * cols4 + q % cols4);
}

// gather_rows_f32 four columns per invocation: a quarter of the index arithmetic (integer
// division is dear on CPU-backed drivers) and vec4 loads and stores.
@compute @workgroup_size(WG)
fn gather_rows_f32_4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let q = element(gid, groups);
    if q >= p.n / 4u {
        return;
    }
    let at = source_of4(q);
    var v: vec4<f32>;
    switch at.x {
        case 0u: { v = src4[at.y]; }
        case 1u: { v = src14[at.y]; }
        case 2u: { v = src24[at.y]; }
        default: { v = src34[at.y]; }
    }
    dst4[q] = v * p.value + p.shift;
}

// gather_rows_u8 four columns per invocation: one packed word gives four pixels.
@compute @workgroup_size(WG)
fn gather_rows_u8_4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let q = element(gid, groups);
    if q >= p.n / 4u {
        return;
    }
    let at = source_of4(q);
    let w = source_word(at.x, at.y);
    let bytes = vec4(w & 0xffu, (w >> 8u) & 0xffu, (w >> 16u) & 0xffu, w >> 24u);
    dst4[q] = vec4<f32>(bytes) * p.value + p.shift;
}

@compute @workgroup_size(WG)
fn gather_rows_u8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    let at = source_of(i);
    let byte = (source_word(at.x, at.y / 4u) >> (8u * (at.y % 4u))) & 0xffu;
    dst[i] = f32(byte) * p.value + p.shift;
}

@compute @workgroup_size(WG)
fn gather_rows_u32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    let at = source_of(i);
    dst_words[i] = source_word(at.x, at.y);
}

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    dst[i] = p.value;
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    dst[i] = src[i] * p.value;
}

@compute @workgroup_size(WG)
fn scale_in_place(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    dst[i] *= p.value;
}

@compute @workgroup_size(WG)
fn apply_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    // A select, not a product: 0·(−x) would store −0, and 0·NaN a NaN.
    dst[i] = select(dst[i], 0.0, src[i] == 0.0);
}

@compute @workgroup_size(WG)
fn copy_4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let q = element(gid, groups);
    if q >= p.n / 4u {
        return;
    }
    dst4[q] = src4[q];
}
