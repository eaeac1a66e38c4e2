// data.wgsl — data movement.
//   gather_rows_{f32,u8,u32}: dst[r, f] = src[index[offset + r], f]·scale + shift
//     (u32 rows are copied as they are), offset = counters[1], the step's batch offset. A u8
//     source is packed four values to a 32-bit word, so image sets stay 1 byte per pixel.
//     A source too large for one storage binding is split into up to four chunks of
//     chunk_rows rows (src0..src3); source row r lives in chunk r / chunk_rows.
//   fill:  y[i] = value
//   scale: y[i] = value·x[i]  (scale_in_place: y[i] = value·y[i])
//   apply_mask: y[i] = 0 where src[i] (the mask) is 0, else unchanged
//   cast_f32_to_f16, cast_f16_to_f32: `copy` between f32 and f16 tensors (at the end)
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

// How many chunks the gathers' pipeline is built for: 1 (a source that fits one binding,
// every dataset up to the adapter's binding limit) or up to 4. On lavapipe a switch runs
// every case under a mask and an integer division is a loop over the lanes, so the
// one-chunk pipelines read src alone and divide by no chunk size.
override CHUNKS: u32 = 4u;

// (chunk, flat position within the chunk) of the source of destination element i.
fn source_of(i: u32) -> vec2<u32> {
    let row = index[counters[1] + i / p.cols];
    if CHUNKS == 1u {
        return vec2(0u, row * p.cols + i % p.cols);
    }
    return vec2(row / p.chunk_rows, (row % p.chunk_rows) * p.cols + i % p.cols);
}

fn source_value(at: vec2<u32>) -> f32 {
    if CHUNKS == 1u {
        return src[at.y];
    }
    switch at.x {
        case 0u: { return src[at.y]; }
        case 1u: { return src1[at.y]; }
        case 2u: { return src2[at.y]; }
        default: { return src3[at.y]; }
    }
}

fn source_word(chunk: u32, w: u32) -> u32 {
    if CHUNKS == 1u {
        return src_words[w];
    }
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
    if CHUNKS == 1u {
        return vec2(0u, row * cols4 + q % cols4);
    }
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
    if CHUNKS == 1u {
        dst4[q] = src4[at.y] * p.value + p.shift;
        return;
    }
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

// ---- copies between f32 and f16 storage ----
// An f16 tensor is packed two to a 32-bit word, the
// lower half first; an odd length's last word has a zero upper half.
//   cast_f32_to_f16: dst_words[w] = the two f32 src[2w], src[2w + 1] rounded to f16
//   cast_f16_to_f32: dst[2w], dst[2w + 1] = the two halves of src_words[w], exactly
// The conversions are integer arithmetic, not WGSL's f16() or pack2x16float: those may round
// either way and leave values past the f16 range indeterminate, while these round to nearest
// even, overflow to ±inf, keep subnormals and NaN, as the CPU twin does (the `half` crate),
// so both backends store the same bits. Neither needs the SHADER_F16 feature.

// The f16 bits nearest to x (ties to even).
fn f16_bits(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    let sign = (b >> 16u) & 0x8000u;
    let e = (b >> 23u) & 0xffu;
    let m = b & 0x7fffffu;
    if e == 0xffu {
        // ±inf, or NaN kept quiet with the high bits of its payload.
        return sign | 0x7c00u | select(0u, 0x200u | (m >> 13u), m != 0u);
    }
    let exp = i32(e) - 127;
    if exp > 15 {
        return sign | 0x7c00u;
    }
    if exp >= -14 {
        // Normal: drop 13 mantissa bits; a carry out of the mantissa bumps the exponent
        // (to infinity past 65504, as rounding requires).
        var v = (u32(exp + 15) << 10u) | (m >> 13u);
        let rest = m & 0x1fffu;
        if rest > 0x1000u || (rest == 0x1000u && (v & 1u) == 1u) {
            v += 1u;
        }
        return sign | v;
    }
    if exp < -25 {
        return sign; // below half the smallest subnormal (2⁻²⁵): ±0
    }
    // Subnormal: x in units of 2⁻²⁴ is the full significand shifted right by -exp - 1 (14..24).
    let full = m | 0x800000u;
    let shift = u32(-exp - 1);
    var v = full >> shift;
    let rest = full & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if rest > half || (rest == half && (v & 1u) == 1u) {
        v += 1u; // may reach 0x400, the smallest normal: the right bits
    }
    return sign | v;
}

// The f32 equal to f16 bits h.
fn f16_value(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if e == 0x1fu {
        return bitcast<f32>(sign | 0x7f800000u | (m << 13u));
    }
    if e == 0u {
        // m·2⁻²⁴: exact in f32 (and normal there unless m = 0).
        let v = f32(m) * 5.9604644775390625e-8;
        return select(v, -v, sign != 0u);
    }
    return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}

@compute @workgroup_size(WG)
fn cast_f32_to_f16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let w = element(gid, groups);
    let i = 2u * w;
    if i >= p.n {
        return;
    }
    let lo = f16_bits(src[i]);
    var hi = 0u;
    if i + 1u < p.n {
        hi = f16_bits(src[i + 1u]);
    }
    dst_words[w] = lo | (hi << 16u);
}

@compute @workgroup_size(WG)
fn cast_f16_to_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let w = element(gid, groups);
    let i = 2u * w;
    if i >= p.n {
        return;
    }
    let word = src_words[w];
    dst[i] = f16_value(word & 0xffffu);
    if i + 1u < p.n {
        dst[i + 1u] = f16_value(word >> 16u);
    }
}
