// data.wgsl — data movement.
//   gather_rows_{f32,u8,u32}: dst[r, f] = src[index[offset + r], f]·scale + shift
//     (u32 rows are copied as they are), offset = counters[1], the step's batch offset. A u8
//     source is packed four values to a 32-bit word, so image sets stay 1 byte per pixel.
//   fill:  y[i] = value
//   scale: y[i] = value·x[i]  (scale_in_place: y[i] = value·y[i])
// src: (source rows, cols); index: the epoch's order of source rows; dst: (rows, cols).

struct Params {
    n: u32,
    cols: u32,
    value: f32,
    shift: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> src_words: array<u32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read> counters: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst_words: array<u32>;

override WG: u32 = 256u;

fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WG;
}

// Flat source position of destination element i.
fn source_of(i: u32) -> u32 {
    let r = i / p.cols;
    return index[counters[1] + r] * p.cols + i % p.cols;
}

@compute @workgroup_size(WG)
fn gather_rows_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    dst[i] = src[source_of(i)] * p.value + p.shift;
}

@compute @workgroup_size(WG)
fn gather_rows_u8(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    let e = source_of(i);
    let byte = (src_words[e / 4u] >> (8u * (e % 4u))) & 0xffu;
    dst[i] = f32(byte) * p.value + p.shift;
}

@compute @workgroup_size(WG)
fn gather_rows_u32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    dst_words[i] = src_words[source_of(i)];
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
