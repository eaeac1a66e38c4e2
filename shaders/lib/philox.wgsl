// philox.wgsl — Philox4x32-10, the counter-based generator of Salmon et al., "Parallel Random
// Numbers: As Easy as 1, 2, 3" (SC'11), as in Random123. Prepended to every module that draws
// random numbers; its Rust twin is src/cpu/random.rs and both reproduce Random123's
// known-answer vectors.
//
// wgtrain's addressing: key = (seed, stream), counter = (element / 4, step, 0, 0); element e
// uses output word e % 4. A mask or slope is therefore a pure function of
// (seed, stream, step, element), recomputed in backward, identical on GPU and CPU.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// The full 64-bit product a·b as (high word, low word), from 16-bit halves: WGSL has no
// 64-bit integers. No partial sum below overflows 32 bits.
fn philox_mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let hl = a_hi * b_lo;
    let lh = a_lo * b_hi;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (hl & 0xffffu) + lh;
    let hi = hh + (hl >> 16u) + (mid >> 16u);
    let lo = (mid << 16u) | (ll & 0xffffu);
    return vec2(hi, lo);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if round > 0u {
            k += vec2(PHILOX_W0, PHILOX_W1);
        }
        let p0 = philox_mulhilo(PHILOX_M0, c.x);
        let p1 = philox_mulhilo(PHILOX_M1, c.z);
        c = vec4(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

// Uniform in [0, 1) from the top 24 bits: every value is an exact f32, the same on any device.
fn philox_unit(bits: u32) -> f32 {
    return f32(bits >> 8u) * (1.0 / 16777216.0);
}

// The uniform draws of elements 4·block … 4·block + 3 at `step` under (seed, stream): one
// Philox block serves four elements.
fn philox_uniforms4(seed: u32, stream: u32, step: u32, block: u32) -> vec4<f32> {
    let w = philox4x32_10(vec4(block, step, 0u, 0u), vec2(seed, stream));
    return vec4(philox_unit(w.x), philox_unit(w.y), philox_unit(w.z), philox_unit(w.w));
}

// The uniform draw for `element` at `step` under (seed, stream).
fn philox_uniform(seed: u32, stream: u32, step: u32, element: u32) -> f32 {
    let words = philox4x32_10(vec4(element / 4u, step, 0u, 0u), vec2(seed, stream));
    return philox_unit(words[element % 4u]);
}
