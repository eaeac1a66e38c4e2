//! Which tiling serves which product. A backend holds the pipelines of every candidate tiling
//! and chooses one per class of shape (transposes, alignment, sizes to a factor of 4): the
//! products of a 784-2048-2048-10 net are another class than an MLP's 784-300-100-10, and the
//! tiling that wins one need not win the other. `gpu::tune` times the candidates at the first
//! product of each class; until then, and for a backend built with one tiling, every product
//! takes the adapter's choice.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Layout, MatmulTiling, Storage, TilingKernels};
use crate::backend::{Activation, Matmul, MatmulDims};
use crate::error::Result;
use crate::gpu::GpuContext;

/// A class of products one tiling serves alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShapeClass {
    pub trans_a: bool,
    pub trans_b: bool,
    /// Whether the tilings' vec4 kernels read it (see `Layout`).
    pub aligned: bool,
    /// Fewer than 8 rows: the row kernels' case.
    pub few_rows: bool,
    /// K ≤ 4 into vec4 stores: the shallow kernel's case, where the register and subgroup
    /// tilings run one kernel and the tiled ones theirs.
    pub shallow: bool,
    /// A bias, activation, derivative or column-sum epilogue: the store does more per element
    /// (the sums are a second pass over B by the first row of workgroups), and on a GPU that
    /// can slow a kernel several-fold (an H200 ran the 128×128 tiles' 1024×2048×2048 product
    /// at 20 TFLOP/s plain and 2.2 with the forward's bias and activation), so the same sizes
    /// with and without one are timed apart, each with its own.
    pub epilogue: bool,
    /// ⌈log₄⌉ of M, K and N: sizes within a factor of 4 of each other share a class.
    pub m: u8,
    pub k: u8,
    pub n: u8,
    /// Which operands are stored in f16.
    pub storage: Storage,
}

impl ShapeClass {
    pub fn of(d: MatmulDims, spec: &Matmul) -> Self {
        let layout = Layout::of(d, spec);
        Self {
            trans_a: spec.trans_a,
            trans_b: spec.trans_b,
            aligned: if layout.few_rows { layout.rows_aligned } else { layout.aligned },
            few_rows: layout.few_rows,
            shallow: layout.shallow,
            epilogue: spec.bias.is_some()
                || spec.activation != Activation::Identity
                || spec.derivative.is_some()
                || spec.column_sum.is_some(),
            m: log4_ceil(d.m),
            k: log4_ceil(d.k),
            n: log4_ceil(d.n),
            storage: Storage::F32,
        }
    }

    /// The class of a product whose operands are stored as `storage` says.
    pub fn stored(self, storage: Storage) -> Self {
        Self { storage, ..self }
    }

    /// The transposes: "nn", "nt", "tn" or "tt".
    pub fn form(&self) -> &'static str {
        match (self.trans_a, self.trans_b) {
            (false, false) => "nn",
            (false, true) => "nt",
            (true, false) => "tn",
            (true, true) => "tt",
        }
    }

    /// As the tuning cache and `wgtrain info` name it: "nt vec4 M≤256 K≤1024 N≤4096", with
    /// " epilogue" after it for products with one.
    pub fn label(&self) -> String {
        let form = self.form();
        let loads = match (self.shallow, self.aligned) {
            (true, _) => "shallow",
            (false, true) => "vec4",
            (false, false) => "strided",
        };
        let rows = if self.few_rows { " rows<8" } else { "" };
        let bound = |e: u8| 1u64 << (2 * e);
        let stored = if self.storage.any_f16() { format!(" {}", self.storage.label()) } else { String::new() };
        let epilogue = if self.epilogue { " epilogue" } else { "" };
        format!("{form} {loads}{rows} M≤{} K≤{} N≤{}{stored}{epilogue}", bound(self.m), bound(self.k), bound(self.n))
    }
}

/// ⌈log₄ x⌉ for x ≥ 1 (0 for 0 and 1).
fn log4_ceil(x: usize) -> u8 {
    let bits = usize::BITS - x.saturating_sub(1).leading_zeros();
    bits.div_ceil(2) as u8
}

/// Where per-class choices are remembered: the adapter's tuning-cache key and directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClassTuning {
    pub key: String,
    pub cache: Option<PathBuf>,
}

/// A backend's matmul pipelines: one set per candidate tiling, and the choice per class.
pub struct MatmulKernels {
    sets: Vec<TilingKernels>,
    /// The set for a class not chosen for: the adapter's tiling.
    fallback: usize,
    chosen: HashMap<ShapeClass, usize>,
    /// Set where classes are timed at first use; None where one tiling serves every product.
    tuning: Option<ClassTuning>,
}

impl MatmulKernels {
    /// One tiling for every product.
    pub fn fixed(ctx: &GpuContext, tiling: MatmulTiling) -> Result<Self> {
        Ok(Self { sets: vec![TilingKernels::new(ctx, tiling)?], fallback: 0, chosen: HashMap::new(), tuning: None })
    }

    /// Every tiling in `candidates` (`fallback` among them), chosen per class through `tuning`.
    pub fn per_class(
        ctx: &GpuContext,
        candidates: &[MatmulTiling],
        fallback: MatmulTiling,
        tuning: ClassTuning,
    ) -> Result<Self> {
        let mut sets = vec![TilingKernels::new(ctx, fallback)?];
        for &t in candidates.iter().filter(|&&t| t != fallback) {
            sets.push(TilingKernels::new(ctx, t)?);
        }
        Ok(Self { sets, fallback: 0, chosen: HashMap::new(), tuning: Some(tuning) })
    }

    /// Where classes are timed, if they are and `class` has no choice yet.
    pub fn untimed(&self, class: &ShapeClass) -> Option<&ClassTuning> {
        self.tuning.as_ref().filter(|_| !self.chosen.contains_key(class))
    }

    /// Use `tiling` for `class` (the adapter's, for a tiling this backend has no pipelines for:
    /// either way the class is not timed again).
    pub fn choose(&mut self, class: ShapeClass, tiling: &str) {
        let i = self.sets.iter().position(|s| s.tiling().name() == tiling).unwrap_or(self.fallback);
        self.chosen.insert(class, i);
    }

    /// The tilings this backend can dispatch, the adapter's first.
    pub fn candidates(&self) -> impl Iterator<Item = &TilingKernels> {
        self.sets.iter()
    }

    /// The pipelines that take products of `class`.
    pub fn set_for(&self, class: &ShapeClass) -> &TilingKernels {
        &self.sets[*self.chosen.get(class).unwrap_or(&self.fallback)]
    }

    /// The adapter's tiling: what a class without a choice takes.
    pub fn tiling(&self) -> MatmulTiling {
        self.sets[self.fallback].tiling()
    }

    /// The entry point and tiling these sizes dispatch, as `matmul::<entry>[<tiling>]`.
    pub fn kernel_for(&self, d: MatmulDims, spec: &Matmul) -> String {
        self.set_for(&ShapeClass::of(d, spec)).kernel_for(d, spec)
    }

    /// Whether tilings `a` and `b` (both candidates here) dispatch the same pipeline for these
    /// sizes in f32.
    pub fn alike(&self, a: MatmulTiling, b: MatmulTiling, d: MatmulDims, spec: &Matmul) -> bool {
        let set = |t| self.sets.iter().find(|s| s.tiling() == t);
        match (set(a), set(b)) {
            (Some(a), Some(b)) => a.dispatches_like(b, d, spec, Storage::F32),
            _ => a == b,
        }
    }

    /// The tiling that takes these sizes now.
    pub fn tiling_for(&self, d: MatmulDims, spec: &Matmul) -> MatmulTiling {
        self.set_for(&ShapeClass::of(d, spec)).tiling()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_share_a_class_within_a_factor_of_four() {
        let cases =
            [(0, 0), (1, 0), (2, 1), (4, 1), (5, 2), (16, 2), (17, 3), (256, 4), (257, 5), (2048, 6), (4096, 6)];
        for (x, e) in cases {
            assert_eq!(log4_ceil(x), e, "{x}");
        }
        let class = |m, k, n, spec: Matmul| ShapeClass::of(MatmulDims { m, k, n }, &spec);
        // An MLP's first layer and a wide net's are different classes; batch 100 and 128 alike.
        assert_ne!(class(128, 784, 300, Matmul::nn()), class(128, 784, 2048, Matmul::nn()));
        assert_eq!(class(100, 784, 300, Matmul::nn()), class(128, 784, 300, Matmul::nn()));
        assert_ne!(class(128, 784, 300, Matmul::nn()), class(128, 784, 300, Matmul::nt()));
        assert_ne!(class(128, 784, 300, Matmul::nn()), class(128, 784, 301, Matmul::nn()), "alignment");
        assert_ne!(class(4, 784, 300, Matmul::nn()), class(12, 784, 300, Matmul::nn()), "few rows");
        assert_eq!(class(128, 2048, 2048, Matmul::nt()).label(), "nt vec4 M≤256 K≤4096 N≤4096");
        assert_eq!(class(1, 784, 12, Matmul::nn()).label(), "nn vec4 rows<8 M≤1 K≤1024 N≤16");
        assert_eq!(class(1, 784, 10, Matmul::nn()).label(), "nn strided rows<8 M≤1 K≤1024 N≤16");
        // A forward with its activation is another class than the plain product.
        let relu = Matmul::nn().with_activation(Activation::Relu);
        assert_ne!(class(128, 784, 300, relu), class(128, 784, 300, Matmul::nn()));
        assert_eq!(class(128, 784, 300, relu).label(), "nn vec4 M≤256 K≤1024 N≤1024 epilogue");
    }
}
