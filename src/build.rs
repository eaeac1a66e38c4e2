//! Which build this is, as reports and `--version` state it.

/// The crate's version and the commit it was built from (`+dirty` when the working tree
/// differed from it; `unknown` outside a git checkout), recorded by `build.rs`.
pub const BUILD: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("WGTRAIN_COMMIT"), ")");
