// precise.wgsl — f32 building blocks that keep relative accuracy where the obvious formula
// loses it: exp of a large argument, e^x − 1 near 0, and sums and products carried as an
// unevaluated pair (hi + lo) for arguments that must be exact to better than f32.
//
// Splits use bit masks rather than Veltkamp's 4097·a trick, so a compiler that contracts
// a·b + c into an FMA cannot change them: every product of split halves is exact, and an
// exact product is the same fused or not.

const LOG2E: f32 = 1.4426950408889634;
// ln 2 in two parts: the high one has 12 significant bits, so n·LN2_HI is exact for |n| < 2^12
// (Cody & Waite 1980).
const LN2_HI: f32 = 0.693115234375;
const LN2_LO: f32 = 3.1946184945e-05;

// a = hi + lo, hi holding a's top 12 significant bits; both halves exact.
fn split12(a: f32) -> vec2<f32> {
    let hi = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
    return vec2(hi, a - hi);
}

// a·b as hi + lo with lo the rounding error of hi = a·b (Dekker 1971).
fn two_prod(a: f32, b: f32) -> vec2<f32> {
    let p = a * b;
    let x = split12(a);
    let y = split12(b);
    let e = ((x.x * y.x - p) + x.x * y.y + x.y * y.x) + x.y * y.y;
    return vec2(p, e);
}

// a + b as hi + lo with lo the rounding error of hi = a + b (Knuth's TwoSum).
fn two_sum(a: f32, b: f32) -> vec2<f32> {
    let s = a + b;
    let bb = s - a;
    return vec2(s, (a - (s - bb)) + (b - bb));
}

// e^(a.x + a.y) as m·2^n, returned as (m, n) with m in about [0.7, 1.42]: the caller scales
// by 2^n last, so a result that is tiny only after a multiplication is not flushed early.
// Range reduction a = n·ln2 + r with |r| ≤ ln2/2 keeps the driver's exp on small arguments,
// where its error is a few ulps; exp(a) direct rounds a·log2(e) and loses |a|·2⁻²⁴ relative.
fn exp_parts(a: vec2<f32>) -> vec2<f32> {
    let n = round(clamp(a.x, -200.0, 200.0) * LOG2E);
    let r = (a.x - n * LN2_HI) - n * LN2_LO + a.y;
    return vec2(exp(r), n);
}

fn ldexp2(m: vec2<f32>) -> f32 {
    return ldexp(m.x, i32(m.y));
}

// e^a, accurate to a few ulps over the whole f32 range.
fn exp_precise(a: f32) -> f32 {
    return ldexp2(exp_parts(vec2(a, 0.0)));
}

// e^x − 1: a Taylor polynomial where exp(x) − 1 would cancel (|x| < ln2/2, truncation error
// below 2e-8 relative), exp_precise(x) − 1 elsewhere.
fn expm1_precise(x: f32) -> f32 {
    if abs(x) < 0.3466 {
        let p = 1.0 / 120.0 + x * (1.0 / 720.0 + x * (1.0 / 5040.0));
        return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * p))));
    }
    return exp_precise(x) - 1.0;
}

// e^(−x²/2) as (m, n), with x² carried exactly. Past |x| = 20 it is 0 in f32 anyway; the
// clamp keeps x² finite (x² overflows past 1.8e19, and ∞ − ∞ in two_prod is NaN).
fn gauss_parts(x: f32) -> vec2<f32> {
    let xc = clamp(x, -20.0, 20.0);
    let sq = two_prod(xc, xc);
    return exp_parts(-0.5 * sq);
}
