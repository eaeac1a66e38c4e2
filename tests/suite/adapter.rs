//! Adapter choice and its errors. The no-adapter path is exercised for real by asking only
//! for a backend this operating system does not have.

use crate::common;

use wgtrain::gpu::{list_adapters, AdapterRequest, GpuContext};
use wgtrain::Error;

#[cfg(target_os = "linux")]
const ABSENT_BACKEND: &str = "dx12,metal";
#[cfg(target_os = "windows")]
const ABSENT_BACKEND: &str = "metal";
#[cfg(target_os = "macos")]
const ABSENT_BACKEND: &str = "dx12";

#[test]
fn no_adapter_error_says_how_to_install_lavapipe() {
    let request = AdapterRequest { backends: Some(ABSENT_BACKEND.into()), ..Default::default() };
    let err = GpuContext::new(&request).err().expect("no adapter can exist for an absent backend");
    assert!(matches!(err, Error::NoAdapter { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("apt-get install mesa-vulkan-drivers"), "{text}");
    assert!(text.contains("lavapipe"), "{text}");
    assert!(text.contains("WGPU_BACKEND"), "{text}");
}

#[test]
fn an_adapter_name_that_matches_nothing_lists_the_adapters_present() {
    let request = AdapterRequest { name: Some("no-such-adapter-xyz".into()), ..Default::default() };
    let err = GpuContext::new(&request).err().expect("the name matches nothing");
    let text = err.to_string();
    assert!(matches!(err, Error::AdapterNotFound { .. }), "{text}");
    let present = list_adapters(&AdapterRequest::default()).unwrap();
    assert!(!present.is_empty(), "the test machine needs an adapter (install mesa-vulkan-drivers)");
    assert!(text.contains(&present[0].name), "{text}");
}

#[test]
fn an_adapter_can_be_chosen_by_part_of_its_name_in_any_case() {
    let present = list_adapters(&AdapterRequest::default()).unwrap();
    let first = present.first().expect("the test machine needs an adapter (install mesa-vulkan-drivers)");
    let part: String = first.name.chars().take(5).collect::<String>().to_uppercase();
    let ctx = GpuContext::new(&AdapterRequest { name: Some(part), ..Default::default() }).unwrap();
    assert!(ctx.adapter().name.to_uppercase().contains(&first.name.chars().take(5).collect::<String>().to_uppercase()));
}

#[test]
fn unknown_backend_and_power_preference_are_rejected_by_name() {
    let err =
        GpuContext::new(&AdapterRequest { backends: Some("quantum".into()), ..Default::default() }).err().unwrap();
    assert!(err.to_string().contains("WGPU_BACKEND=\"quantum\""), "{err}");
    let err = GpuContext::new(&AdapterRequest { power: Some("max".into()), ..Default::default() }).err().unwrap();
    assert!(err.to_string().contains("WGPU_POWER_PREF"), "{err}");
}

#[test]
fn the_device_uses_the_adapters_real_limits() {
    let ctx = common::context();
    let l = ctx.limits();
    // wgpu's defaults are 128 MiB, 256 invocations and 16 KiB; the device must carry the
    // adapter's own values, which are at least those.
    assert!(l.max_storage_buffer_binding_size >= 128 << 20, "{l:?}");
    assert!(l.max_compute_invocations_per_workgroup >= 256, "{l:?}");
    assert!(l.max_compute_workgroup_storage_size >= 16 << 10, "{l:?}");
}

#[test]
fn a_buffer_over_the_binding_limit_is_a_clear_error() {
    use wgtrain::Backend;
    let mut g = common::gpu();
    let limit = g.context().limits().max_storage_buffer_binding_size;
    let cols = 1024usize;
    let rows = (limit / 4 / cols as u64) as usize + 1;
    let err = g.zeros(rows, cols).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { limit_name: "max_storage_buffer_binding_size", .. }), "{err}");
}
