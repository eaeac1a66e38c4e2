//! The GPU path, and the only code that calls wgpu. It mirrors `src/cpu/`: each kernel
//! family's host half (`<family>.rs`: its Params, bindings and dispatch) stands beside the
//! twin's file of the same name, and the device plumbing lives under `device/`. Families
//! record dispatches into the `Recorder`; they never poll or map.

/// A `#[repr(C)]` Pod struct mirroring a WGSL uniform struct, with its field offsets as
/// `LAYOUT` so a test can hold them against naga's layout of the WGSL.
macro_rules! params_struct {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        pub(crate) struct $name {
            $($(#[$fmeta])* $field: $ty,)*
        }

        impl $name {
            /// (field, byte offset) in declaration order.
            #[cfg(test)]
            pub(crate) const LAYOUT: &'static [(&'static str, usize)] =
                &[$((stringify!($field), std::mem::offset_of!($name, $field)),)*];
        }
    };
}

mod backend;
mod device;
#[cfg(test)]
mod layout;
mod op_set;

mod activation;
mod batchnorm;
mod data;
mod dropout;
mod loss;
mod matmul;
mod optim;
mod update;
mod random;
mod reduce;
pub mod tune;

pub use backend::GpuBackend;
pub use device::adapter::{list_adapters, AdapterRequest, AdapterSummary};
pub use device::buffer::GpuBuffer;
pub use device::context::{DeviceKind, DeviceLimits, GpuContext};
pub use device::recorder::{GpuStats, MAX_BINDINGS, MAX_PARAMS};
pub use matmul::{MatmulTiling, ShapeClass, Storage};

pub(crate) use device::buffer::BufferPool;
pub(crate) use device::kernel::{Kernel, Specialized};
pub(crate) use device::recorder::{Call, Recorder};

use crate::error::{Error, Result};

/// Workgroup size of the elementwise kernels (their WGSL `override WG`, shaders/lib/grid.wgsl).
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
