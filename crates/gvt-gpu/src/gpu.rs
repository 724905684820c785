//! The device the engine runs on: a wgpu device and queue, what the adapter offers, and
//! the pipelines compiled so far.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::kernels::{Dispatch, Family, Step};
use crate::{GpuError, Result, WeightFormat};

/// What the adapter offers that the kernels can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    pub adapter: String,
    pub backend: String,
    /// A software adapter (lavapipe, llvmpipe, SwiftShader): it runs a workgroup's
    /// invocations as SIMD lanes on a CPU thread, where a barrier costs a context switch,
    /// so the kernels that reduce take their barrier-free variants.
    pub software: bool,
    /// The largest subgroup the adapter may use (0 where it does not say).
    pub subgroup_max: u32,
    /// Cache positions from which decode splits its attention over workgroups (on hardware:
    /// one workgroup per head would leave most of the GPU idle over a long cache).
    pub split_from: usize,
    pub shader_f16: bool,
    pub subgroups: bool,
    /// `max_storage_buffer_binding_size`: the largest piece of a buffer one kernel binds.
    pub max_binding: u64,
    /// `max_buffer_size`.
    pub max_buffer: u64,
    /// `max_compute_workgroups_per_dimension`.
    pub max_groups: u32,
}

impl Caps {
    /// Decode's mat-vec: its entry point and rows per workgroup.
    pub fn matvec(&self) -> (&'static str, u32) {
        if self.software {
            ("matvec_rows", 64)
        } else if self.subgroups && (1..=64).contains(&self.subgroup_max) {
            ("matvec_subgroup", 4)
        } else {
            ("matvec", 4)
        }
    }

    /// Prefill's and the vision tower's tiled product: its entry point and tile (rows,
    /// positions).
    pub fn matmul(&self) -> (&'static str, [u32; 2]) {
        use crate::kernels::linear::{ROWS_TILE, TILE_ROWS, TILE_T};
        if self.software {
            ("matmul_rows", ROWS_TILE)
        } else if self.shader_f16 {
            ("matmul_f16", [TILE_ROWS, TILE_T])
        } else {
            ("matmul", [TILE_ROWS, TILE_T])
        }
    }

    /// Which kernel variants run, for `gvt bench` and the model panel.
    pub fn variant(&self) -> String {
        if self.software {
            return "WGSL, f32, barrier-free kernels for a software adapter".into();
        }
        let matvec = match self.matvec().0 {
            "matvec_subgroup" => "subgroup mat-vec",
            _ => "workgroup mat-vec",
        };
        let matmul = match self.matmul().0 {
            "matmul_f16" => "f16 tiles",
            _ => "f32 tiles",
        };
        format!(
            "WGSL, {matvec}, {matmul}, decode attention split from {} positions",
            self.split_from
        )
    }
}

type PipelineKey = (Family, Option<WeightFormat>, &'static str);

/// f32 values a kernel left on the GPU, read only when they are wanted: another kernel can
/// take them as they are (the visual tokens, into the LLM's prompt).
#[derive(Clone)]
pub struct GpuValues {
    gpu: Gpu,
    pub(crate) buffer: wgpu::Buffer,
    len: usize,
}

impl GpuValues {
    pub(crate) fn new(gpu: &Gpu, buffer: &wgpu::Buffer, len: usize) -> Self {
        Self {
            gpu: gpu.clone(),
            buffer: buffer.clone(),
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the values back (waits for the kernels that write them).
    pub async fn read(&self) -> Result<Vec<f32>> {
        self.gpu.read_f32(&self.buffer, 0, self.len).await
    }
}

/// Validation errors being watched for (see [`Gpu::watch`]).
pub(crate) struct Watch {
    gpu: Gpu,
    doing: &'static str,
    scope: wgpu::ErrorScopeGuard,
}

impl Watch {
    /// Stops watching. The future says whether an error came; it resolves without waiting
    /// for the GPU, so it can be awaited along with the results' read-back.
    pub(crate) fn done(self) -> impl Future<Output = Result<()>> + use<> {
        let Self { gpu, doing, scope } = self;
        let popped = scope.pop();
        async move { gpu.no_error(doing, popped.await).await }
    }
}

struct Shared {
    device: wgpu::Device,
    queue: wgpu::Queue,
    caps: Caps,
    layouts: Mutex<HashMap<Family, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>>,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    /// Bound where a kernel's optional input is absent.
    empty: wgpu::Buffer,
    /// Bound where a kernel's entry point leaves outputs unused: WebGPU lets no buffer be
    /// bound writable twice, or writable and read-only, in one dispatch.
    scratch: [wgpu::Buffer; 2],
    /// Why the device was lost, once a poll has said so (wgpu says it once).
    lost: Mutex<Option<String>>,
    /// Bytes of the buffers created so far (weights, activations, caches, parameters).
    allocated: AtomicU64,
    /// Bytes written through the queue since its staging copies were last flushed.
    staged: AtomicU64,
}

/// A GPU the engine runs on. Cheap to clone; clones share pipelines.
#[derive(Clone)]
pub struct Gpu(Arc<Shared>);

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Gpu").field(&self.0.caps).finish()
    }
}

impl Gpu {
    /// Wraps a device that is already running (natively, burn's: one device per process).
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, info: &wgpu::AdapterInfo) -> Self {
        let limits = device.limits();
        let features = device.features();
        let named = |needle: &str| {
            [&info.name, &info.driver, &info.driver_info]
                .iter()
                .any(|s| s.to_lowercase().contains(needle))
        };
        let caps = Caps {
            adapter: info.name.clone(),
            backend: format!("{:?}", info.backend),
            // Browsers report no device type; SwiftShader names itself.
            software: info.device_type == wgpu::DeviceType::Cpu || named("swiftshader"),
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            subgroup_max: info.subgroup_max_size,
            split_from: 256,
            max_binding: limits.max_storage_buffer_binding_size,
            max_buffer: limits.max_buffer_size,
            max_groups: limits.max_compute_workgroups_per_dimension,
        };
        Self::from_parts(device, queue, caps)
    }

    fn from_parts(device: wgpu::Device, queue: wgpu::Queue, caps: Caps) -> Self {
        let small = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        let empty = small("gvt-gpu empty");
        let scratch = [small("gvt-gpu scratch 0"), small("gvt-gpu scratch 1")];
        Self(Arc::new(Shared {
            device,
            queue,
            caps,
            layouts: Mutex::default(),
            pipelines: Mutex::default(),
            empty,
            scratch,
            lost: Mutex::default(),
            allocated: AtomicU64::new(0),
            staged: AtomicU64::new(0),
        }))
    }

    /// Starts a device of its own on the first adapter wgpu finds (tests, benchmarks).
    pub async fn headless() -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::all(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions::default())
            .await
            .map_err(|e| GpuError::DeviceLost(format!("no GPU adapter: {e}")))?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("gvt-gpu"),
                required_features: adapter.features() & wanted_features(),
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::DeviceLost(format!("the adapter refused a device: {e}")))?;
        Ok(Self::new(device, queue, &adapter.get_info()))
    }

    pub fn caps(&self) -> &Caps {
        &self.0.caps
    }

    /// Bytes of the buffers the engine has created on this device so far. Models and
    /// sessions keep theirs until dropped, so while they live this is their GPU memory.
    pub fn allocated(&self) -> u64 {
        self.0.allocated.load(Ordering::Relaxed)
    }

    /// The same device with other capabilities (tests of each kernel variant): pipelines
    /// are compiled afresh.
    pub fn with_caps(&self, caps: Caps) -> Self {
        let s = &self.0;
        Self::from_parts(s.device.clone(), s.queue.clone(), caps)
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.0.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.0.queue
    }

    pub(crate) fn empty(&self) -> &wgpu::Buffer {
        &self.0.empty
    }

    /// Two distinct unused outputs.
    pub(crate) fn scratch(&self) -> [&wgpu::Buffer; 2] {
        let [a, b] = &self.0.scratch;
        [a, b]
    }

    /// Checks `bytes` against the adapter's limits for one buffer that kernels bind whole.
    pub(crate) fn check_binding(&self, what: &str, bytes: u64) -> Result<()> {
        let caps = &self.0.caps;
        let (limit, limit_name) = if caps.max_binding < caps.max_buffer {
            (caps.max_binding, "max_storage_buffer_binding_size")
        } else {
            (caps.max_buffer, "max_buffer_size")
        };
        if bytes > limit {
            return Err(GpuError::BufferTooLarge {
                what: what.into(),
                bytes,
                limit,
                limit_name,
            });
        }
        Ok(())
    }

    /// A zeroed storage buffer that kernels bind whole, checked against the limits first.
    pub fn storage(&self, what: &str, bytes: u64) -> Result<wgpu::Buffer> {
        let bytes = bytes.max(4).next_multiple_of(4);
        self.check_binding(what, bytes)?;
        self.0.allocated.fetch_add(bytes, Ordering::Relaxed);
        Ok(self.0.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        }))
    }

    /// A storage buffer holding `contents`, padded with zeros to a multiple of 4 bytes.
    pub fn storage_with(&self, what: &str, contents: &[u8]) -> Result<wgpu::Buffer> {
        let buffer = self.storage(what, contents.len() as u64)?;
        let whole = contents.len() / 4 * 4;
        if whole > 0 {
            self.0.queue.write_buffer(&buffer, 0, &contents[..whole]);
        }
        if whole < contents.len() {
            let mut tail = [0u8; 4];
            tail[..contents.len() - whole].copy_from_slice(&contents[whole..]);
            self.0.queue.write_buffer(&buffer, whole as u64, &tail);
        }
        self.staged(contents.len() as u64);
        Ok(buffer)
    }

    /// Counts bytes written through the queue. wgpu keeps a staging copy of each write until
    /// a submission carries it and the GPU is done with it, so a model's upload flushes
    /// every `STAGING_LIMIT` bytes: RAM holds at most that much besides the mapped file.
    fn staged(&self, bytes: u64) {
        const STAGING_LIMIT: u64 = 256 << 20;
        let staged = self.0.staged.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if staged >= STAGING_LIMIT {
            self.0.staged.store(0, Ordering::Relaxed);
            self.0.queue.submit([]);
            // In the browser the copies go to the GPU process as they are written.
            #[cfg(not(target_arch = "wasm32"))]
            let _ = self.0.device.poll(wgpu::PollType::wait_indefinitely());
        }
    }

    /// A uniform buffer of kernel parameters. Written through the queue rather than mapped
    /// at creation, which panics on a lost device.
    pub fn uniform(&self, what: &str, contents: &[u8]) -> wgpu::Buffer {
        let size = (contents.len() as u64).next_multiple_of(16).max(16);
        self.0.allocated.fetch_add(size, Ordering::Relaxed);
        let buffer = self.0.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.0.queue.write_buffer(&buffer, 0, contents);
        buffer
    }

    /// Runs `work` (allocations, pipeline builds) and turns an out-of-memory or validation
    /// error on the way into an error that names `what`, instead of wgpu's panic.
    pub async fn checked<T>(&self, what: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let device = &self.0.device;
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let out = work();
        let memory = memory.pop().await;
        let validation = validation.pop().await;
        self.no_error(&format!("allocating {what}"), validation)
            .await?;
        let out = out?;
        if let Some(e) = memory {
            return Err(GpuError::OutOfMemory {
                what: format!("{what} ({e})"),
            });
        }
        Ok(out)
    }

    /// Watches for validation errors from here until [`Watch::done`]: encoding and
    /// submitting kernels. `doing` names the work in the error.
    pub(crate) fn watch(&self, doing: &'static str) -> Watch {
        Watch {
            scope: self
                .0
                .device
                .push_error_scope(wgpu::ErrorFilter::Validation),
            gpu: self.clone(),
            doing,
        }
    }

    /// `Ok` unless `validation` holds an error: then the device's loss, if that was the
    /// cause, or the error, naming what was being done.
    async fn no_error(&self, doing: &str, validation: Option<wgpu::Error>) -> Result<()> {
        let Some(e) = validation else {
            return Ok(());
        };
        // On a lost device every call fails validation; a read is what reports the loss
        // (it fails and is remembered).
        let _ = self.read(&self.0.empty, 0, 4).await;
        if let Some(lost) = self.lost() {
            return Err(GpuError::DeviceLost(format!("{lost}, while {doing}")));
        }
        Err(GpuError::Validation {
            what: doing.into(),
            message: e.to_string(),
        })
    }

    /// The bind group layout of a kernel family.
    pub(crate) fn layout(&self, family: Family) -> wgpu::BindGroupLayout {
        self.family_layouts(family).0
    }

    fn family_layouts(&self, family: Family) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        let mut layouts = self.0.layouts.lock().unwrap_or_else(|e| e.into_inner());
        layouts
            .entry(family)
            .or_insert_with(|| {
                let device = &self.0.device;
                let entries: Vec<_> = family
                    .bindings()
                    .iter()
                    .enumerate()
                    .map(|(i, access)| wgpu::BindGroupLayoutEntry {
                        binding: i as u32,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: access.binding_type(),
                        count: None,
                    })
                    .collect();
                let group = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(family.name()),
                    entries: &entries,
                });
                let pipeline = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(family.name()),
                    bind_group_layouts: &[Some(&group)],
                    immediate_size: 0,
                });
                (group, pipeline)
            })
            .clone()
    }

    /// The pipeline of `entry` in `family` (for `format`, in the families that read
    /// weights), compiled on first use.
    pub(crate) fn pipeline(
        &self,
        family: Family,
        format: Option<WeightFormat>,
        entry: &'static str,
    ) -> wgpu::ComputePipeline {
        let key = (family, format, entry);
        if let Some(p) = self
            .0
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return p.clone();
        }
        let (_, layout) = self.family_layouts(family);
        let source = family.source(format, entry);
        let label = match format {
            Some(f) => format!("{}.{entry} ({f})", family.name()),
            None => format!("{}.{entry}", family.name()),
        };
        let device = &self.0.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(&layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        self.0
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, pipeline.clone());
        pipeline
    }

    /// Encodes `dispatches` for a step of `t` positions into one compute pass and submits it.
    pub fn run<'a>(&self, dispatches: impl IntoIterator<Item = &'a Dispatch>, t: u32) {
        let mut encoder = self.0.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for d in dispatches {
                d.encode(&mut pass, t);
            }
        }
        self.0.queue.submit([encoder.finish()]);
    }

    /// Writes the per-step uniform before the next submission.
    pub fn write_step(&self, buffer: &wgpu::Buffer, step: Step) {
        self.0
            .queue
            .write_buffer(buffer, 0, bytemuck::bytes_of(&step));
    }

    /// Reads `bytes` bytes at `offset` of `buffer` back to the CPU, without blocking the
    /// browser: natively the device is polled, in the browser the map resolves on its own.
    pub async fn read(&self, buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        self.read_regions(buffer, &[(offset, bytes)]).await
    }

    /// Reads `(offset, bytes)` regions of `buffer` back to back through one staging buffer
    /// (wgpu copies whole 4-byte words at 4-aligned offsets).
    pub async fn read_regions(
        &self,
        buffer: &wgpu::Buffer,
        regions: &[(u64, u64)],
    ) -> Result<Vec<u8>> {
        let bytes: u64 = regions.iter().map(|r| r.1).sum();
        let device = &self.0.device;
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gvt-gpu readback"),
            size: bytes.next_multiple_of(4).max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        let mut at = 0;
        for &(offset, size) in regions {
            let size = size.next_multiple_of(4);
            encoder.copy_buffer_to_buffer(buffer, offset, &staging, at, size);
            at += size;
        }
        self.0.queue.submit([encoder.finish()]);
        self.map_read(&staging, bytes).await
    }

    /// Maps `staging` (after the submission that filled it) and copies out its first bytes.
    pub(crate) async fn map_read(&self, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let (send, receive) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = send.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.wait()?;
        let mapped = match receive.await {
            Ok(Ok(())) => Ok(()),
            // wgpu's error says no more than that the map failed.
            Ok(Err(_)) => Err("a read-back failed".to_string()),
            Err(_) => Err("the read-back was dropped".to_string()),
        };
        if let Err(why) = mapped {
            let mut lost = self.0.lost.lock().unwrap_or_else(|p| p.into_inner());
            let why = lost.get_or_insert(why).clone();
            return Err(GpuError::DeviceLost(why));
        }
        let out = staging
            .get_mapped_range(..)
            .map_err(|e| GpuError::Validation {
                what: "a read-back".into(),
                message: e.to_string(),
            })?[..bytes as usize]
            .to_vec();
        staging.unmap();
        Ok(out)
    }

    /// Waits for the queue natively; a lost device is remembered for later calls.
    #[cfg(not(target_arch = "wasm32"))]
    fn wait(&self) -> Result<()> {
        if let Err(e) = self.0.device.poll(wgpu::PollType::wait_indefinitely()) {
            *self.0.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        match self.lost() {
            Some(lost) => Err(GpuError::DeviceLost(lost)),
            None => Ok(()),
        }
    }

    /// Why the device was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.0
            .lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads f32 values back (tests and logits for sampling on the CPU).
    pub async fn read_f32(&self, buffer: &wgpu::Buffer, offset: u64, n: usize) -> Result<Vec<f32>> {
        let bytes = self.read(buffer, offset, 4 * n as u64).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}

/// Features the kernels can use when the adapter has them (burn's device asks for all).
fn wanted_features() -> wgpu::Features {
    wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP
}
