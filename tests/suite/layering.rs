//! The house's one-way data flow, checked over the `use` lines: each top-level module of the
//! library may import only the modules below it (src/lib.rs: CLI → train/infer → nn/optim →
//! backend → gpu|cpu → shaders). A `crate::X` path anywhere in a module's files counts.

use std::collections::BTreeSet;
use std::path::Path;

/// What each module may import (besides itself).
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("limits", &["error"]),
    ("files", &["limits"]),
    ("tensor", &["error"]),
    ("shaders", &[]),
    ("build", &[]),
    ("backend", &["error", "tensor"]),
    // The two implementations of the op set, side by side: neither knows the other.
    ("cpu", &["backend", "error", "tensor"]),
    ("gpu", &["backend", "error", "tensor", "shaders", "files"]),
    ("nn", &["backend", "error", "tensor", "limits"]),
    ("optim", &["backend", "error", "tensor", "nn"]),
    ("data", &["backend", "error", "tensor", "limits", "files"]),
    ("sparse", &["backend", "error", "tensor", "nn", "optim"]),
    ("infer", &["backend", "error", "tensor", "nn", "data"]),
    ("train", &["backend", "error", "tensor", "nn", "optim", "data", "infer", "sparse", "limits", "files"]),
    ("dist", &["error", "train"]),
    ("run", &["dist", "backend", "error", "tensor", "nn", "optim", "data", "infer", "train", "sparse", "limits", "files"]),
    ("bench", &["backend", "error", "tensor", "nn", "optim", "data", "infer", "train"]),
    ("experiment", &["dist", "backend", "error", "tensor", "nn", "optim", "data", "infer", "train", "sparse", "limits", "run", "files", "build"]),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::X` modules named in `text`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        // `#[macro_export]` macros live at the crate root: `fail!` is the error module's.
        found.insert(if name == "fail" { "error".to_string() } else { name });
    }
    found
}

fn module_imports(name: &str) -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let dir = src.join(name);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    } else {
        files.push(src.join(format!("{name}.rs")));
    }
    files.iter().flat_map(|f| imports(&std::fs::read_to_string(f).unwrap())).collect()
}

#[test]
fn no_module_imports_one_above_it() {
    let mut violations = Vec::new();
    for &(module, allowed) in ALLOWED {
        for used in module_imports(module) {
            if used != module && !allowed.contains(&used.as_str()) {
                violations.push(format!("{module} imports {used}"));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the flow: {violations:?}");
}

#[test]
fn every_library_module_has_a_place_in_the_order() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")) {
        let name = line.trim_end_matches(';');
        assert!(ALLOWED.iter().any(|(m, _)| *m == name), "module {name} is missing from ALLOWED");
    }
}

#[test]
fn the_import_scan_finds_paths() {
    let found = imports("use crate::backend::{Backend};\nlet x = crate::gpu::grid(3);");
    assert_eq!(found, BTreeSet::from(["backend".to_string(), "gpu".to_string()]));
}

#[test]
fn only_the_gpu_module_names_wgpu() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let outside: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with(src.join("gpu")))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("wgpu::"))
        .collect();
    assert!(outside.is_empty(), "wgpu used outside src/gpu: {outside:?}");
}

#[test]
fn the_command_line_holds_no_training_policy() {
    // The run's policy (the loop, resume, divergence, pruning, what is saved) belongs to the
    // library's `run`: the command line parses, calls it and prints, and never builds or
    // drives a model, an optimizer or a training loop itself.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join("cli"), &mut files);
    files.push(root.join("main.rs"));
    let forbidden = ["Trainer", "run_epoch", ".fit(", "Sequential::new", "Optimizer::new", "checkpoint::save"];
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for needle in forbidden.iter().filter(|n| text.contains(**n)) {
            found.push(format!("{} uses {needle}", f.strip_prefix(&root).unwrap().display()));
        }
    }
    assert!(found.is_empty(), "training policy in the command line: {found:?}");
}
