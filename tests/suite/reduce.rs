//! Reductions: GPU against the twin on ragged shapes, exact where they count.

use crate::common;

use common::{assert_close, uniform, Both};
use wgtrain::backend::stat;

#[test]
fn column_sums_match_the_twin_on_ragged_shapes() {
    let mut both = Both::new();
    for (rows, cols) in [(1, 1), (3, 17), (128, 300), (1000, 10), (7, 513)] {
        let x = uniform(rows as u64 * 31 + cols as u64, rows * cols);
        let mut outs = Vec::new();
        for b in both.each() {
            let (xt, y) = (b.upload(rows, cols, &x).unwrap(), b.zeros(1, cols).unwrap());
            b.column_sum(xt, y).unwrap();
            outs.push(b.read(y).unwrap());
        }
        // Same order (rows in sequence) on both sides: identical.
        assert_eq!(outs[0], outs[1], "({rows}, {cols})");
    }
}

#[test]
fn argmax_correct_counts_match_the_twin_exactly() {
    let mut both = Both::new();
    for (rows, cols) in [(1, 3), (300, 10), (1025, 7)] {
        // Values from a coarse grid so ties occur; the first maximum wins on both sides.
        let x: Vec<f32> = uniform(rows as u64, rows * cols).iter().map(|v| (v * 3.0).round()).collect();
        let labels: Vec<u32> = (0..rows).map(|r| (r % cols) as u32).collect();
        let mut outs = Vec::new();
        for b in both.each() {
            let xt = b.upload(rows, cols, &x).unwrap();
            let lt = b.upload_u32(rows, 1, &labels).unwrap();
            let stats = b.zeros(1, 4).unwrap();
            b.argmax_correct(xt, lt, stats).unwrap();
            outs.push(b.read(stats).unwrap());
        }
        assert_eq!(outs[0], outs[1], "({rows}, {cols})");
        assert_eq!(outs[0][stat::ACCURACY_COUNT], rows as f32);
    }
}

#[test]
fn sum_squares_match_the_twin_and_accumulate() {
    let mut both = Both::new();
    for n in [1usize, 255, 257, 100_003] {
        let x = uniform(n as u64, n);
        let mut outs = Vec::new();
        for b in both.each() {
            let xt = b.upload(1, n, &x).unwrap();
            let out = b.upload(1, 1, &[100.0]).unwrap();
            b.sum_squares(xt, out, false).unwrap();
            let fresh = b.read(out).unwrap();
            b.sum_squares(xt, out, true).unwrap();
            let doubled = b.read(out).unwrap();
            // x + x is exact in binary floating point.
            assert_eq!(doubled[0], 2.0 * fresh[0], "accumulate adds to out[0]");
            outs.push(fresh);
        }
        // The twin sums in f64. Each GPU lane adds ⌈n/256⌉ positive terms in f32, then an
        // 8-level tree combines the lanes: at most (⌈n/256⌉ + 8)·2⁻²⁴ relative.
        let bound = (n.div_ceil(256) + 8) as f32 * f32::EPSILON / 2.0;
        assert_close(&format!("sum_squares n = {n}"), &outs[0], &outs[1], 0.0, bound);
    }
}
