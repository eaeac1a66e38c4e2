use std::time::Instant;
use wgtrain::{Backend, GpuBackend, Matmul};
fn main() {
    let mut g = GpuBackend::from_env().unwrap();
    let args: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let (m, k, n, reps) = (args[0], args[1], args[2], args[3]);
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<_>>();
    let a = g.upload(m, k, &fill(m * k)).unwrap();
    let b = g.upload(k, n, &fill(k * n)).unwrap();
    let c = g.zeros(m, n).unwrap();
    g.matmul(a, b, c, Matmul::nn()).unwrap();
    g.sync().unwrap();
    let got = g.read(c).unwrap();
    let av = fill(m * k); let bv = fill(k * n);
    let mut maxerr = 0f64;
    for i in 0..m { for j in 0..n { let mut s = 0f64; for q in 0..k { s += av[i*k+q] as f64 * bv[q*n+j] as f64; } maxerr = maxerr.max((s - got[i*n+j] as f64).abs()); } }
    println!("max abs err {maxerr:e}");
    let mut times = vec![];
    for _ in 0..reps {
        let t = Instant::now();
        for _ in 0..5 { g.matmul(a, b, c, Matmul::nn()).unwrap(); g.submit().unwrap(); }
        g.sync().unwrap();
        times.push(t.elapsed().as_secs_f64() / 5.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = times[times.len() / 2];
    println!("{m}x{k}x{n}: median {:.3} ms, {:.2} GFLOPS (best {:.2})", med * 1e3, 2.0 * (m * n * k) as f64 / med / 1e9, 2.0 * (m * n * k) as f64 / times[0] / 1e9);
}
