//! Every WGSL module parses and validates with naga — on the CPU, no adapter needed.

use std::collections::BTreeSet;

use wgtrain::shaders;

#[test]
fn every_registry_shader_parses_and_validates_with_naga() {
    for shader in shaders::ALL {
        let module = naga::front::wgsl::parse_str(shader.source)
            .unwrap_or_else(|e| panic!("{}.wgsl does not parse:\n{}", shader.family, e.emit_to_string(shader.source)));
        let mut validator =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
        validator
            .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
            .subgroup_operations(naga::valid::SubgroupOperationSet::all());
        validator.validate(&module).unwrap_or_else(|e| {
            panic!("{}.wgsl does not validate:\n{}", shader.family, e.emit_to_string(shader.source))
        });
    }
}

#[test]
fn registry_lists_exactly_the_files_in_the_shaders_folder() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .expect("shaders/ is readable")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".wgsl").map(str::to_string)
        })
        .collect();
    let registered: BTreeSet<String> = shaders::ALL.iter().map(|s| s.family.to_string()).collect();
    assert_eq!(on_disk, registered, "shaders/*.wgsl and shaders::ALL disagree");
}

#[test]
fn every_helper_in_shaders_lib_is_part_of_some_module() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/lib");
    for entry in std::fs::read_dir(dir).expect("shaders/lib is readable") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            shaders::ALL.iter().any(|s| s.source.contains(&text)),
            "{} is prepended to no module in shaders::ALL",
            path.display()
        );
    }
}

#[test]
fn helpers_in_shaders_lib_are_defined_once() {
    // A kernel file that redefines a lib function (say element()) would drift from it.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let names = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim_start().strip_prefix("fn "))
            .map(|rest| rest.split('(').next().unwrap().trim().to_string())
            .collect()
    };
    let mut lib = Vec::new();
    for entry in std::fs::read_dir(format!("{root}/lib")).unwrap() {
        lib.extend(names(&std::fs::read_to_string(entry.unwrap().path()).unwrap()));
    }
    let unique: BTreeSet<&String> = lib.iter().collect();
    assert_eq!(unique.len(), lib.len(), "a function is defined twice in shaders/lib: {lib:?}");
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            for f in names(&std::fs::read_to_string(&path).unwrap()) {
                assert!(!lib.contains(&f), "{} redefines {f} from shaders/lib", path.display());
            }
        }
    }
}
