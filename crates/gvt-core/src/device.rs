//! Choosing where the model runs: a GPU through wgpu (Vulkan, Metal, DX12, WebGPU), or the
//! CPU through the CPU engine (`gvt-cpu`; `Flex` runs everything on burn's `flex` backend,
//! the reference). "Auto" tries the GPU and falls back to the CPU with a
//! reason the user can read; natively it also passes over a software rasterizer (llvmpipe,
//! lavapipe), which runs the model far slower than the CPU path.

use std::sync::OnceLock;

use burn::tensor::Device;
use burn::tensor::wgpu::{WgpuSetup, wgpu};

use crate::model::DeviceMemory;
use crate::{Error, Result};

/// Where a person switches to the CPU.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const CHOOSE_CPU: &str =
    "`--device cpu` on the command line, or Run on CPU in the app's model panel";
#[cfg(target_arch = "wasm32")]
pub(crate) const CHOOSE_CPU: &str = "Run on CPU in the model panel, or ?device=cpu in the address";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum DeviceChoice {
    /// The GPU when one works, else the CPU.
    #[default]
    Auto,
    /// The GPU only (an error when none works).
    Gpu,
    /// The CPU: the LLM on the CPU engine.
    Cpu,
    /// The CPU with everything on burn flex, weights dequantized to f32: the reference the
    /// engines are checked against.
    Flex,
}

/// A device ready for tensors, and what it is.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub device: Device,
    pub is_gpu: bool,
    /// For people: adapter name and API, or "CPU (GVT Lens engine)".
    pub name: String,
    /// Why the GPU was not used, when `Auto` fell back to the CPU.
    pub fallback_reason: Option<String>,
    /// What the device can hold, checked before a model is loaded.
    pub memory: DeviceMemory,
    /// The wgpu device under burn's, on a GPU.
    wgpu: Option<wgpu::Device>,
    /// The GPU engine on that same device.
    engine: Option<gvt_gpu::Gpu>,
    /// The CPU engine, on the CPU unless burn flex runs everything.
    cpu_engine: Option<gvt_cpu::Cpu>,
}

/// The CPU engine's threads, started once per process: one per core, or `GVT_THREADS`.
pub fn shared_cpu() -> gvt_cpu::Cpu {
    static CPU: OnceLock<gvt_cpu::Cpu> = OnceLock::new();
    CPU.get_or_init(|| {
        let threads = std::env::var("GVT_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .filter(|&t: &usize| t > 0);
        gvt_cpu::Cpu::new(threads)
    })
    .clone()
}

/// A GPU that started, and what its adapter says about itself.
#[derive(Debug, Clone)]
struct Gpu {
    device: Device,
    /// `None` only in tests of the choice between devices.
    wgpu: Option<wgpu::Device>,
    engine: Option<gvt_gpu::Gpu>,
    /// wgpu's `DeviceType::Cpu`: a software rasterizer.
    software: bool,
    adapter: String,
    max_buffer: u64,
}

impl Gpu {
    fn new(device: Device, setup: &WgpuSetup) -> Self {
        let info = setup.adapter.get_info();
        let limits = setup.adapter.limits();
        Self {
            device,
            wgpu: Some(setup.device.clone()),
            engine: Some(gvt_gpu::Gpu::new(
                setup.device.clone(),
                setup.queue.clone(),
                &info,
            )),
            software: info.device_type == wgpu::DeviceType::Cpu,
            adapter: info.name,
            max_buffer: limits
                .max_buffer_size
                .min(limits.max_storage_buffer_binding_size),
        }
    }
}

impl ComputeDevice {
    /// The CPU: the LLM on the CPU engine (weights in their blocks), the visual path on
    /// burn flex.
    pub fn cpu() -> Self {
        Self {
            name: "CPU (GVT Lens engine)".into(),
            cpu_engine: Some(shared_cpu()),
            ..Self::flex()
        }
    }

    /// The CPU with everything on burn flex, weights dequantized to f32: the reference the
    /// engines are tested against.
    pub fn flex() -> Self {
        Self {
            device: Device::flex(),
            is_gpu: false,
            name: "CPU (burn flex)".into(),
            fallback_reason: None,
            memory: DeviceMemory {
                available: host_memory_available(),
                max_buffer: None,
            },
            wgpu: None,
            engine: None,
            cpu_engine: None,
        }
    }

    fn gpu(gpu: Gpu) -> Self {
        let name = gpu_name(&gpu.device);
        Self {
            device: gpu.device,
            is_gpu: true,
            name,
            fallback_reason: None,
            memory: DeviceMemory {
                available: None,
                max_buffer: Some(gpu.max_buffer),
            },
            wgpu: gpu.wgpu,
            engine: gpu.engine,
            cpu_engine: None,
        }
    }

    /// The wgpu device that burn runs on, on a GPU: one device per process, shared by every
    /// `ComputeDevice` that `select` returns. Losing it (`wgpu::Device::destroy`, a driver
    /// reset) loses the GPU for the rest of the process.
    pub fn wgpu_device(&self) -> Option<&wgpu::Device> {
        self.wgpu.as_ref()
    }

    /// The GPU engine on this device's wgpu device, on a GPU.
    pub fn engine(&self) -> Option<&gvt_gpu::Gpu> {
        self.engine.as_ref()
    }

    /// The CPU engine, on the CPU unless everything runs on burn flex.
    pub fn cpu_engine(&self) -> Option<&gvt_cpu::Cpu> {
        self.cpu_engine.as_ref()
    }

    /// Runs `work` on this device. On a GPU, a panic from the driver stack becomes
    /// [`Error::GpuFailed`]: wgpu's default uncaptured-error handler panics (cubecl keeps it
    /// until the device is lost), and a failing GPU must not take the CLI or the app down.
    /// Panics abort in the browser, so there this cannot help.
    pub async fn guard<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        if !self.is_gpu {
            return work.await;
        }
        CatchUnwind(std::pin::pin!(work))
            .await
            .unwrap_or_else(|panic| Err(Error::GpuFailed(panic_message(&*panic))))
    }

    /// [`ComputeDevice::guard`] for work that does not wait.
    pub fn guard_sync<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        if !self.is_gpu {
            return work();
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .unwrap_or_else(|panic| Err(Error::GpuFailed(panic_message(&*panic))))
    }

    fn resolve(choice: DeviceChoice, gpu: std::result::Result<Gpu, String>) -> Result<Self> {
        match (choice, gpu) {
            (DeviceChoice::Cpu, _) => Ok(Self::cpu()),
            (DeviceChoice::Flex, _) => Ok(Self::flex()),
            (DeviceChoice::Auto, Ok(gpu)) if gpu.software && !cfg!(target_arch = "wasm32") => {
                Ok(Self {
                    fallback_reason: Some(format!(
                        "the only GPU adapter, {}, is a software rasterizer, slower than the \
                         CPU path; `--device gpu` still uses it",
                        gpu.adapter
                    )),
                    ..Self::cpu()
                })
            }
            (_, Ok(gpu)) => Ok(Self::gpu(gpu)),
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

/// Polls `F` and turns a panic during a poll into an `Err` of its payload.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::pin::Pin::new(inner).poll(cx)
        })) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(value)) => std::task::Poll::Ready(Ok(value)),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

/// The text of a panic's payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "an unknown driver error".into())
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

/// Bytes of memory the host can still give: Linux's `MemAvailable`; in the browser, what
/// is left of wasm32's 4 GiB address space. `None` where the system does not say.
fn host_memory_available() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        let used = core::arch::wasm32::memory_size(0) as u64 * 65_536;
        Some((4u64 << 30).saturating_sub(used))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

/// The wgpu runtime can be initialised once per process; later requests reuse it.
static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();

/// Picks a device (native; blocks while the GPU initialises).
#[cfg(not(target_arch = "wasm32"))]
pub fn select(choice: DeviceChoice) -> Result<ComputeDevice> {
    match choice {
        DeviceChoice::Cpu => return Ok(ComputeDevice::cpu()),
        DeviceChoice::Flex => return Ok(ComputeDevice::flex()),
        DeviceChoice::Auto | DeviceChoice::Gpu => {}
    }
    let gpu = GPU.get_or_init(init_gpu_native).clone();
    ComputeDevice::resolve(choice, gpu)
}

#[cfg(not(target_arch = "wasm32"))]
fn init_gpu_native() -> std::result::Result<Gpu, String> {
    // wgpu panics instead of returning errors in a few driver situations; contain them.
    // Graphics loaders probe display servers on the way and print to stderr when there is
    // none (libwayland's "XDG_RUNTIME_DIR is invalid"); errors come back as values anyway.
    let (device, setup) =
        quiet_stderr(|| std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup()))
            .map_err(|_| "the GPU driver failed while starting".to_string())?
            .map_err(|e| e.to_string())?;
    // A tiny computation proves the adapter really runs kernels.
    let probe = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], &device).sum();
    match probe.try_into_data() {
        Ok(_) => Ok(Gpu::new(device, &setup)),
        Err(e) => Err(format!("the GPU failed a test computation: {e:?}")),
    }
}

/// Runs `f` with the process's stderr sent to /dev/null (file descriptor 2, which C
/// libraries write to), then restores it.
#[cfg(unix)]
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    use std::os::fd::AsRawFd;
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return f();
    };
    // SAFETY: plain descriptor calls; the saved copy is restored and closed below.
    let saved = unsafe { libc::dup(2) };
    if saved < 0 || unsafe { libc::dup2(null.as_raw_fd(), 2) } < 0 {
        return f();
    }
    let out = f();
    // SAFETY: `saved` is the descriptor dup'ed above.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    out
}

#[cfg(all(not(unix), not(target_arch = "wasm32")))]
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// Picks a device without blocking (browser and native).
pub async fn select_async(choice: DeviceChoice) -> Result<ComputeDevice> {
    match choice {
        DeviceChoice::Cpu => return Ok(ComputeDevice::cpu()),
        DeviceChoice::Flex => return Ok(ComputeDevice::flex()),
        DeviceChoice::Auto | DeviceChoice::Gpu => {}
    }
    if let Some(gpu) = GPU.get() {
        return ComputeDevice::resolve(choice, gpu.clone());
    }
    let gpu = match webgpu_missing() {
        Some(why) => Err(why),
        None => Device::wgpu_options()
            .init_with_setup_async()
            .await
            .map(|(device, setup)| Gpu::new(device, &setup))
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
    fn auto_passes_over_a_software_rasterizer() {
        // Resolving never touches the device, so the CPU's stands in for the GPU's.
        let software = Gpu {
            device: Device::flex(),
            wgpu: None,
            engine: None,
            software: true,
            adapter: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            max_buffer: 1 << 30,
        };
        let auto = ComputeDevice::resolve(DeviceChoice::Auto, Ok(software.clone())).unwrap();
        assert!(!auto.is_gpu);
        assert_eq!(
            auto.fallback_reason.as_deref(),
            Some(
                "the only GPU adapter, llvmpipe (LLVM 15.0.6, 256 bits), is a software \
                 rasterizer, slower than the CPU path; `--device gpu` still uses it"
            )
        );
        let gpu = ComputeDevice::resolve(DeviceChoice::Gpu, Ok(software.clone())).unwrap();
        assert!(gpu.is_gpu);
        assert_eq!(gpu.memory.max_buffer, Some(1 << 30));
        let hardware = Gpu {
            software: false,
            ..software
        };
        assert!(
            ComputeDevice::resolve(DeviceChoice::Auto, Ok(hardware))
                .unwrap()
                .is_gpu
        );
    }

    #[test]
    fn the_cpu_reports_the_memory_it_has() {
        if cfg!(target_os = "linux") {
            let available = ComputeDevice::cpu().memory.available.unwrap();
            assert!(available > 1 << 20, "{available}");
        }
    }

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
