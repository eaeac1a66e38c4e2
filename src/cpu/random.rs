//! CPU twin of `shaders/lib/philox.wgsl`: Philox4x32-10 (Salmon et al., SC'11; Random123).
//! Key = (seed, stream), counter = (element / 4, step, 0, 0), element e uses word e % 4.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Ten Philox rounds of `counter` under `key`.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Uniform in [0, 1) from the top 24 bits of `bits` (exact in f32).
pub fn philox_unit(bits: u32) -> f32 {
    (bits >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// The uniform draw for `element` at `step` under (seed, stream).
pub fn philox_uniform(seed: u32, stream: u32, step: u32, element: u32) -> f32 {
    let words = philox4x32_10([element / 4, step, 0, 0], [seed, stream]);
    philox_unit(words[(element % 4) as usize])
}
