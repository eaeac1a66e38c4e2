//! The integration tests that each run in about a second, as one test binary: one link
//! instead of twenty-three (a cold `cargo test` linked each against wgpu and the engine), and
//! one GPU device, whose compiled pipelines they share. Each file is a module, named as it
//! was when it was a binary of its own; `cargo test --test suite loss::` runs one.
//! Tests that time things, set environment variables or take minutes stay binaries of their
//! own in `tests/`, so that none of them shares a process with these.

#[path = "../common/mod.rs"]
mod common;

mod adapter;
mod batchnorm;
mod data;
mod datasets;
mod deferred;
mod input_in_update;
mod dropout;
mod experiment;
mod f16_copy;
mod gradcheck;
mod hostile_inputs;
mod layering;
mod loss;
mod lr_find;
mod nn;
mod optim;
mod packed;
mod pipes_and_counts;
mod random;
mod reduce;
mod resume_paths;
mod settings_refused;
mod shaders;
mod sparse;
mod sparse_cli;
