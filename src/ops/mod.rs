//! Op host code: for each kernel family, its pipelines and how to dispatch them. Ops record
//! into a `gpu::Recorder`; they never poll or map.

pub mod activation;
pub mod batchnorm;
pub mod data;
pub mod dropout;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod random;
pub mod reduce;

use crate::error::{Error, Result};

/// Workgroup size of the elementwise kernels (their WGSL `override WG`).
pub(crate) const WG: u32 = 256;

/// Workgroups for `n` invocations of an elementwise kernel. The kernels number elements
/// `gid.x + gid.y·groups.x·WG`, so the grid grows in y past 65,535 workgroups.
pub(crate) fn grid(n: usize) -> [u32; 3] {
    let groups = n.div_ceil(WG as usize).max(1);
    let x = groups.min(65_535);
    [x as u32, groups.div_ceil(x) as u32, 1]
}

/// `v` as a u32 kernel parameter, or an error naming the op.
pub(crate) fn to_u32(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::LimitExceeded {
        op,
        what: what.into(),
        needed: v as u64,
        limit_name: "u32 index range",
        limit: u32::MAX as u64,
    })
}
