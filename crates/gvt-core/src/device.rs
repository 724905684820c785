//! Choosing where the model runs: a GPU through wgpu (Vulkan, Metal, DX12, WebGPU), or the
//! CPU through burn's `flex` backend. "Auto" tries the GPU and falls back to the CPU with a
//! reason the user can read.

use std::sync::OnceLock;

use burn::tensor::Device;

use crate::{Error, Result};

/// Where a person switches to the CPU.
#[cfg(not(target_arch = "wasm32"))]
const CHOOSE_CPU: &str =
    "`--device cpu` on the command line, or Run on CPU in the app's model panel";
#[cfg(target_arch = "wasm32")]
const CHOOSE_CPU: &str = "Run on CPU in the model panel, or ?device=cpu in the address";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum DeviceChoice {
    /// The GPU when one works, else the CPU.
    #[default]
    Auto,
    /// The GPU only (an error when none works).
    Gpu,
    /// The CPU.
    Cpu,
}

/// A device ready for tensors, and what it is.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub device: Device,
    pub is_gpu: bool,
    /// For people: adapter name and API, or "CPU (flex)".
    pub name: String,
    /// Why the GPU was not used, when `Auto` fell back to the CPU.
    pub fallback_reason: Option<String>,
}

impl ComputeDevice {
    pub fn cpu() -> Self {
        Self {
            device: Device::flex(),
            is_gpu: false,
            name: "CPU (burn flex)".into(),
            fallback_reason: None,
        }
    }

    fn gpu(device: Device) -> Self {
        let name = gpu_name(&device);
        Self {
            device,
            is_gpu: true,
            name,
            fallback_reason: None,
        }
    }

    fn resolve(choice: DeviceChoice, gpu: std::result::Result<Device, String>) -> Result<Self> {
        match (choice, gpu) {
            (DeviceChoice::Cpu, _) => Ok(Self::cpu()),
            (_, Ok(device)) => Ok(Self::gpu(device)),
            (DeviceChoice::Gpu, Err(reason)) => Err(Error::Device(format!(
                "no usable GPU: {reason}. Choose the CPU instead ({CHOOSE_CPU})."
            ))),
            (DeviceChoice::Auto, Err(reason)) => Ok(Self {
                fallback_reason: Some(reason),
                ..Self::cpu()
            }),
        }
    }
}

fn gpu_name(device: &Device) -> String {
    // Browsers may hide the adapter's name.
    let api = if cfg!(target_arch = "wasm32") {
        "WebGPU"
    } else {
        "wgpu"
    };
    match device.as_dispatch().identity() {
        Some(identity) if !identity.name.trim().is_empty() => {
            format!("{} ({api})", identity.name)
        }
        _ => format!("GPU ({api})"),
    }
}

/// The wgpu runtime can be initialised once per process; later requests reuse it.
static GPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();

/// Picks a device (native; blocks while the GPU initialises).
#[cfg(not(target_arch = "wasm32"))]
pub fn select(choice: DeviceChoice) -> Result<ComputeDevice> {
    if choice == DeviceChoice::Cpu {
        return Ok(ComputeDevice::cpu());
    }
    let gpu = GPU.get_or_init(init_gpu_native).clone();
    ComputeDevice::resolve(choice, gpu)
}

#[cfg(not(target_arch = "wasm32"))]
fn init_gpu_native() -> std::result::Result<Device, String> {
    // wgpu panics instead of returning errors in a few driver situations; contain them.
    let device = std::panic::catch_unwind(|| Device::wgpu_options().init())
        .map_err(|_| "the GPU driver failed while starting".to_string())?
        .map_err(|e| e.to_string())?;
    // A tiny computation proves the adapter really runs kernels.
    let probe = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], &device).sum();
    match probe.try_into_data() {
        Ok(_) => Ok(device),
        Err(e) => Err(format!("the GPU failed a test computation: {e:?}")),
    }
}

/// Picks a device without blocking (browser and native).
pub async fn select_async(choice: DeviceChoice) -> Result<ComputeDevice> {
    if choice == DeviceChoice::Cpu {
        return Ok(ComputeDevice::cpu());
    }
    if let Some(gpu) = GPU.get() {
        return ComputeDevice::resolve(choice, gpu.clone());
    }
    let gpu = match webgpu_missing() {
        Some(why) => Err(why),
        None => Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| readable_gpu_error(e.to_string())),
    };
    let gpu = GPU.get_or_init(|| gpu).clone();
    ComputeDevice::resolve(choice, gpu)
}

/// Why the browser cannot offer WebGPU at all, if it cannot.
#[cfg(target_arch = "wasm32")]
fn webgpu_missing() -> Option<String> {
    let navigator = web_sys::window()?.navigator();
    let gpu = js_sys::Reflect::get(&navigator, &"gpu".into()).ok()?;
    gpu.is_undefined()
        .then(|| "this browser has no WebGPU (navigator.gpu is missing)".to_string())
}

#[cfg(not(target_arch = "wasm32"))]
fn webgpu_missing() -> Option<String> {
    None
}

/// wgpu's "no adapter" error lists every graphics API it did not try; in the browser only
/// WebGPU matters.
fn readable_gpu_error(error: String) -> String {
    if cfg!(target_arch = "wasm32") && error.contains("No adapter available") {
        "WebGPU offers no usable adapter here (no GPU, or the browser blocks it)".into()
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_falls_back_to_the_cpu_with_a_reason() {
        let d = ComputeDevice::resolve(DeviceChoice::Auto, Err("no adapter".into())).unwrap();
        assert!(!d.is_gpu);
        assert_eq!(d.fallback_reason.as_deref(), Some("no adapter"));
        let err = ComputeDevice::resolve(DeviceChoice::Gpu, Err("no adapter".into())).unwrap_err();
        assert!(err.to_string().contains("--device cpu"), "{err}");
        let cpu = ComputeDevice::resolve(DeviceChoice::Cpu, Err("x".into())).unwrap();
        assert!(!cpu.is_gpu && cpu.fallback_reason.is_none());
    }
}
