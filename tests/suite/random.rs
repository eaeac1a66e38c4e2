//! Philox4x32-10 on CPU and GPU against Random123's published known-answer vectors, and the
//! uniform draws both sides derive from it.

use crate::common;

use common::gpu;
use wgtrain::cpu::random::{philox4x32_10, philox_uniform, philox_unit};

/// Random123 `tests/kat_vectors`, "philox4x32 10" lines: (counter, key, output).
const KAT: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    ([0, 0, 0, 0], [0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
    (
        [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
        [0xffff_ffff, 0xffff_ffff],
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
    ),
    (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
        [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
    ),
];

#[test]
fn cpu_philox_reproduces_the_random123_known_answers() {
    for (counter, key, want) in KAT {
        assert_eq!(philox4x32_10(counter, key), want, "counter {counter:08x?} key {key:08x?}");
    }
}

#[test]
fn gpu_philox_reproduces_the_random123_known_answers() {
    let mut g = gpu();
    let inputs: Vec<_> = KAT.iter().map(|&(c, k, _)| (c, k)).collect();
    let got = g.philox_blocks(&inputs).unwrap();
    for ((counter, key, want), got) in KAT.iter().zip(got) {
        assert_eq!(got, *want, "counter {counter:08x?} key {key:08x?}");
    }
}

#[test]
fn gpu_and_cpu_philox_agree_on_many_counters_and_keys() {
    // Exercises the 16-bit-split multiply on the GPU against u64 arithmetic on the CPU,
    // including counters with high bits set.
    let inputs: Vec<([u32; 4], [u32; 2])> = (0..1000u32)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9);
            ([x, !x, x.rotate_left(13), i], [x ^ 0xdead_beef, i.wrapping_mul(7919)])
        })
        .collect();
    let got = gpu().philox_blocks(&inputs).unwrap();
    for (i, ((c, k), g)) in inputs.iter().zip(got).enumerate() {
        assert_eq!(g, philox4x32_10(*c, *k), "block {i}");
    }
}

#[test]
fn uniform_draws_lie_in_the_unit_interval_and_use_24_bits() {
    assert_eq!(philox_unit(0), 0.0);
    assert_eq!(philox_unit(u32::MAX), 1.0 - 1.0 / 16_777_216.0);
    assert!(philox_unit(u32::MAX) < 1.0);
    // Mean of 100k draws of U(0,1): standard error 1/sqrt(12·1e5) ≈ 9.1e-4; 5 s.e. bound.
    let n = 100_000u32;
    let mean: f64 = (0..n).map(|i| philox_uniform(42, 7, 3, i) as f64).sum::<f64>() / n as f64;
    assert!((mean - 0.5).abs() < 5.0 * 9.2e-4, "mean {mean}");
}

#[test]
fn streams_steps_and_seeds_give_different_draws() {
    let draw = |seed, stream, step| (0..64).map(|i| philox_uniform(seed, stream, step, i)).collect::<Vec<_>>();
    let base = draw(1, 0, 0);
    assert_ne!(base, draw(2, 0, 0), "seed");
    assert_ne!(base, draw(1, 1, 0), "stream");
    assert_ne!(base, draw(1, 0, 1), "step");
    assert_eq!(base, draw(1, 0, 0), "a draw is a pure function of its key and counter");
}
