// random.wgsl — raw Philox4x32-10 blocks (lib/philox.wgsl), for the known-answer test and for
// anyone who wants to check the generator on their device.
//   philox_blocks: out[4i .. 4i+4] = philox4x32_10(counter_i, key_i),
//   input[6i .. 6i+6] = (counter words 0..3, key words 0..1).

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn philox_blocks(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= p.n {
        return;
    }
    let b = 6u * i;
    let counter = vec4(input[b], input[b + 1u], input[b + 2u], input[b + 3u]);
    let key = vec2(input[b + 4u], input[b + 5u]);
    let words = philox4x32_10(counter, key);
    for (var w = 0u; w < 4u; w++) {
        out[4u * i + w] = words[w];
    }
}
