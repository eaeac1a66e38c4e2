//! Every WGSL uniform struct against its Rust mirror: the same members, in the same order, at
//! the same byte offsets, and the same size, as naga lays the WGSL out. A field moved, added
//! or retyped on one side only fails here rather than as garbage parameters on the device.

use crate::backend::Hyper;
use crate::shaders::{self, Shader};
use std::mem::{offset_of, size_of};

/// (member, offset) of struct `name` in `shader`, and its size, as naga lays it out.
fn wgsl_layout(shader: Shader, name: &str) -> (Vec<(String, usize)>, usize) {
    let module = naga::front::wgsl::parse_str(shader.source)
        .unwrap_or_else(|e| panic!("{}: {}", shader.family, e.emit_to_string(shader.source)));
    let ty = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(name));
    let (_, ty) = ty.unwrap_or_else(|| panic!("{} has no struct {name}", shader.family));
    let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{name} is not a struct") };
    let fields = members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize)).collect();
    (fields, *span as usize)
}

fn check(shader: Shader, name: &str, rust: &[(&str, usize)], rust_size: usize) {
    let (wgsl, wgsl_size) = wgsl_layout(shader, name);
    let rust: Vec<(String, usize)> = rust.iter().map(|&(n, o)| (n.to_string(), o)).collect();
    assert_eq!(rust, wgsl, "{}: {name} members (name, offset), Rust vs WGSL", shader.family);
    assert_eq!(rust_size, wgsl_size, "{}: size of {name}, Rust vs WGSL", shader.family);
}

#[test]
fn every_params_struct_matches_its_wgsl_layout() {
    use super::*;
    type Mirror = (Shader, &'static [(&'static str, usize)], usize);
    let table: [Mirror; 9] = [
        (shaders::ACTIVATION, activation::Params::LAYOUT, size_of::<activation::Params>()),
        (shaders::BATCHNORM, batchnorm::Params::LAYOUT, size_of::<batchnorm::Params>()),
        (shaders::DATA, data::Params::LAYOUT, size_of::<data::Params>()),
        (shaders::DROPOUT, dropout::Params::LAYOUT, size_of::<dropout::Params>()),
        (shaders::LOSS, loss::Params::LAYOUT, size_of::<loss::Params>()),
        (shaders::MATMUL, matmul::Params::LAYOUT, size_of::<matmul::Params>()),
        (shaders::OPTIM, optim::Params::LAYOUT, size_of::<optim::Params>()),
        (shaders::RANDOM, random::Params::LAYOUT, size_of::<random::Params>()),
        (shaders::REDUCE, reduce::Params::LAYOUT, size_of::<reduce::Params>()),
    ];
    for (shader, layout, size) in table {
        check(shader, "Params", layout, size);
    }
}

#[test]
fn the_optimizer_hyperparameters_match_their_wgsl_layout() {
    macro_rules! offsets {
        ($($f:ident),*) => { vec![$((stringify!($f).to_string(), offset_of!(Hyper, $f))),*] };
    }
    let rust = offsets!(lr, beta1, beta2, eps, weight_decay, l1, l2, clip_value, clip_norm, c1, c2, k_g, k_m);
    let (wgsl, wgsl_size) = wgsl_layout(shaders::OPTIM, "Hyper");
    // The named members; after them both sides pad to 16 floats (Rust `_pad: [f32; 3]`,
    // WGSL `_pad0.._pad2`), so the sizes are compared instead.
    assert_eq!(rust, wgsl[..rust.len()], "optim: Hyper members (name, offset), Rust vs WGSL");
    assert!(wgsl[rust.len()..].iter().all(|(n, _)| n.starts_with("_pad")), "WGSL Hyper: {wgsl:?}");
    assert_eq!(size_of::<Hyper>(), wgsl_size, "optim: size of Hyper, Rust vs WGSL");
}

#[test]
fn a_moved_field_fails_the_layout_check() {
    // The check itself must be able to fail: swap two members of a real layout.
    let mut moved = super::matmul::Params::LAYOUT.to_vec();
    moved.swap(0, 1);
    let size = size_of::<super::matmul::Params>();
    let result = std::panic::catch_unwind(|| check(shaders::MATMUL, "Params", &moved, size));
    assert!(result.is_err(), "a reordered layout passed");
}
