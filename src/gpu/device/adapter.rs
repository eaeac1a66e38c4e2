//! Adapter choice, honouring wgpu's environment conventions:
//! `WGPU_BACKEND` (comma list: vulkan, metal, dx12, gl), `WGPU_ADAPTER_NAME` (substring,
//! case-insensitive) and `WGPU_POWER_PREF` (low | high | none).

use crate::error::{Error, Result};

/// What the user asked for; `from_env` reads wgpu's variables.
#[derive(Debug, Clone, Default)]
pub struct AdapterRequest {
    /// Backend list in `WGPU_BACKEND` syntax; `None` means wgpu's primary backends
    /// (Vulkan, Metal, DX12). GL is opt-in (`WGPU_BACKEND=gl`): it is a fallback, and probing
    /// it on a headless Linux box makes Mesa's EGL print warnings.
    pub backends: Option<String>,
    /// Substring of the adapter name to pick (case-insensitive).
    pub name: Option<String>,
    /// `low`, `high` or `none`.
    pub power: Option<String>,
    /// The k-th adapter wgpu lists (wrapping round when there are fewer): one replica per
    /// adapter in a data-parallel run. A name, when given, wins.
    pub index: Option<usize>,
}

/// The facts about an adapter that a user needs to know which one ran their work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.backend, self.device_type)?;
        if !self.driver.is_empty() {
            write!(f, ", {} {}", self.driver, self.driver_info)?;
        }
        write!(f, ")")
    }
}

impl AdapterRequest {
    /// The request described by `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and `WGPU_POWER_PREF`.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self { backends: var("WGPU_BACKEND"), name: var("WGPU_ADAPTER_NAME"), power: var("WGPU_POWER_PREF"), index: None }
    }

    pub(crate) fn backend_bits(&self) -> Result<wgpu::Backends> {
        match &self.backends {
            None => Ok(wgpu::Backends::PRIMARY),
            Some(list) => {
                let bits = wgpu::Backends::from_comma_list(list);
                if bits.is_empty() {
                    return Err(Error::BadEnv {
                        var: "WGPU_BACKEND",
                        value: list.clone(),
                        expected: "a comma list of vulkan, metal, dx12, gl, webgpu",
                    });
                }
                Ok(bits)
            }
        }
    }

    fn power_preference(&self) -> Result<wgpu::PowerPreference> {
        match self.power.as_deref().map(str::to_lowercase).as_deref() {
            None | Some("none") => Ok(wgpu::PowerPreference::None),
            Some("low") => Ok(wgpu::PowerPreference::LowPower),
            Some("high") => Ok(wgpu::PowerPreference::HighPerformance),
            Some(other) => {
                Err(Error::BadEnv { var: "WGPU_POWER_PREF", value: other.into(), expected: "low, high or none" })
            }
        }
    }

    pub(crate) fn instance(&self) -> Result<wgpu::Instance> {
        quiet_device_select_when_headless();
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        desc.backends = self.backend_bits()?;
        Ok(wgpu::Instance::new(desc))
    }

    /// Pick the adapter: by name if asked, else wgpu's choice under the power preference.
    pub(crate) fn choose(&self, instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
        let backends = self.backend_bits()?;
        if let Some(wanted) = &self.name {
            let adapters = pollster::block_on(instance.enumerate_adapters(backends));
            let needle = wanted.to_lowercase();
            let names: Vec<String> = adapters.iter().map(|a| summarize(a).to_string()).collect();
            return adapters.into_iter().find(|a| a.get_info().name.to_lowercase().contains(&needle)).ok_or_else(
                || Error::AdapterNotFound {
                    wanted: wanted.clone(),
                    available: if names.is_empty() { "none".into() } else { names.join("; ") },
                },
            );
        }
        if let Some(k) = self.index {
            let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
            if adapters.is_empty() {
                return Err(no_adapter(backends));
            }
            let k = k % adapters.len();
            return Ok(adapters.swap_remove(k));
        }
        let options = wgpu::RequestAdapterOptions {
            power_preference: self.power_preference()?,
            force_fallback_adapter: false,
            compatible_surface: None,
            // Bucketing hides the adapter's real limits; we want them all.
            apply_limit_buckets: false,
        };
        pollster::block_on(instance.request_adapter(&options)).map_err(|_| no_adapter(backends))
    }
}

/// Every adapter visible under the request's backends, in wgpu's enumeration order.
pub fn list_adapters(request: &AdapterRequest) -> Result<Vec<AdapterSummary>> {
    let instance = request.instance()?;
    let adapters = pollster::block_on(instance.enumerate_adapters(request.backend_bits()?));
    Ok(adapters.iter().map(summarize).collect())
}

pub(crate) fn summarize(adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    AdapterSummary {
        name: info.name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver,
        driver_info: info.driver_info,
    }
}

/// The error for "no adapter": says how to get one on a machine without a GPU driver.
pub(crate) fn no_adapter(backends: wgpu::Backends) -> Error {
    Error::NoAdapter {
        backends: format!("{backends:?}"),
        hint: "Install a Vulkan driver. On a machine without a GPU, Mesa's lavapipe (a software \
               Vulkan driver) works: on Debian/Ubuntu run `apt-get install mesa-vulkan-drivers`. \
               If WGPU_BACKEND is set, unset it so every backend is tried."
            .into(),
    }
}

/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` asks the window system (Wayland,
/// then X) which GPU drives the display, and libwayland prints "error: XDG_RUNTIME_DIR is
/// invalid or not set" twice on a machine that has none — lines a new user reads as wgtrain
/// failing. The layer only reorders the adapters, and wgtrain chooses its own (WGPU_ADAPTER_NAME,
/// WGPU_POWER_PREF), so where no window system is there to ask, the layer is switched off with
/// the switch its manifest declares. Left on where a display exists, or where the user asked
/// the layer for a device (`MESA_VK_DEVICE_SELECT`) or set the switch themselves.
fn quiet_device_select_when_headless() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        let headless = !set("WAYLAND_DISPLAY") && !set("DISPLAY");
        if headless && !set("NODEVICE_SELECT") && !set("MESA_VK_DEVICE_SELECT") {
            // Every instance is created after this `Once`, so no Vulkan loader of this process
            // reads the environment while it changes; Rust's own readers take its lock.
            std::env::set_var("NODEVICE_SELECT", "1");
        }
    });
}
