//! The kernel families (one WGSL file each in `shaders/`) and how they are launched.
//!
//! Every launch is a [`Dispatch`]: a pipeline, a bind group built once, and a [`Grid`]
//! that gives the workgroup counts for a step of `t` positions. A model builds its
//! dispatches once; each step only writes the [`Step`] uniform and encodes them.

pub mod argmax;
pub mod attention;
pub mod embed;
pub mod full_attention;
pub mod linear;
pub mod norm;
pub mod rope;
pub mod sample;

use crate::format::FormatWgsl;
use crate::{Gpu, WeightFormat};

/// A kernel family: one file in `shaders/`, one bind group layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Linear,
    Norm,
    Rope,
    Attention,
    FullAttention,
    Embed,
    Argmax,
    Sample,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Access {
    Read,
    ReadWrite,
    Uniform,
}

impl Access {
    pub(crate) fn binding_type(self) -> wgpu::BindingType {
        let storage = |read_only| wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        match self {
            Access::Read => storage(true),
            Access::ReadWrite => storage(false),
            Access::Uniform => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
        }
    }
}

impl Family {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::Linear => "linear",
            Family::Norm => "norm",
            Family::Rope => "rope",
            Family::Attention => "attention",
            Family::FullAttention => "full_attention",
            Family::Embed => "embed",
            Family::Argmax => "argmax",
            Family::Sample => "sample",
        }
    }

    /// The bindings, in order, as the WGSL file declares them.
    pub(crate) fn bindings(self) -> &'static [Access] {
        use Access::*;
        match self {
            Family::Linear => &[Read, Read, ReadWrite, Read, Read, Uniform, Uniform],
            Family::Norm => &[Read, ReadWrite, Read, Read, Uniform, Uniform],
            Family::Rope => &[
                ReadWrite, Read, Read, ReadWrite, ReadWrite, Read, Uniform, Uniform,
            ],
            Family::Attention => &[Read, Read, Read, ReadWrite, ReadWrite, Uniform, Uniform],
            Family::FullAttention => &[Read, Read, Read, ReadWrite, ReadWrite, Uniform],
            Family::Embed => &[Read, Read, ReadWrite, Uniform, Uniform],
            Family::Argmax => &[Read, ReadWrite, Uniform, Uniform],
            Family::Sample => &[Read, ReadWrite, ReadWrite, Uniform, Uniform],
        }
    }

    fn wgsl(self) -> &'static str {
        match self {
            Family::Linear => include_str!("../../../../shaders/linear.wgsl"),
            Family::Norm => include_str!("../../../../shaders/norm.wgsl"),
            Family::Rope => include_str!("../../../../shaders/rope.wgsl"),
            Family::Attention => include_str!("../../../../shaders/attention.wgsl"),
            Family::FullAttention => include_str!("../../../../shaders/full_attention.wgsl"),
            Family::Embed => include_str!("../../../../shaders/embed.wgsl"),
            Family::Argmax => include_str!("../../../../shaders/argmax.wgsl"),
            Family::Sample => include_str!("../../../../shaders/sample.wgsl"),
        }
    }

    /// The file of an entry point that needs an adapter feature, appended to the family's
    /// file, and the extension its `enable` directive names (WGSL asks for `enable f16;`
    /// everywhere; naga takes subgroups from the device, WebGPU wants them enabled too).
    fn variant(self, entry: &str) -> Option<(&'static str, &'static str)> {
        match (self, entry) {
            (Family::Linear, "matvec_subgroup") => Some((
                include_str!("../../../../shaders/linear_subgroup.wgsl"),
                "subgroups",
            )),
            (Family::Linear, "matmul_f16") => {
                Some((include_str!("../../../../shaders/linear_f16.wgsl"), "f16"))
            }
            _ => None,
        }
    }

    /// The module's source for `entry`: the `Step` uniform, the workgroup reduction for the
    /// families that reduce, the block reader and the format's file for the families that
    /// read weights, then the family, and the variant's file when the entry point is one.
    pub(crate) fn source(self, format: Option<WeightFormat>, entry: &str) -> String {
        let mut parts = Vec::new();
        let variant = self.variant(entry);
        let directive;
        if let Some((_, feature)) = variant
            && (feature == "f16" || cfg!(target_arch = "wasm32"))
        {
            directive = format!("enable {feature};");
            parts.push(directive.as_str());
        }
        parts.push(include_str!("../../../../shaders/step.wgsl"));
        if matches!(
            self,
            Family::Norm | Family::Attention | Family::FullAttention | Family::Sample
        ) {
            parts.push(include_str!("../../../../shaders/reduce.wgsl"));
        }
        if let Some(format) = format {
            parts.push(include_str!("../../../../shaders/formats/blocks.wgsl"));
            parts.push(format.wgsl());
        }
        parts.push(self.wgsl());
        if let (Family::Linear, Some(format)) = (self, format) {
            parts.push(format.dot_wgsl());
        }
        parts.extend(variant.map(|(file, _)| file));
        parts.join("\n")
    }
}

/// The per-step uniform every kernel reads (`struct Step` in the WGSL files).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Step {
    /// Positions in this step.
    pub t: u32,
    /// Positions already in the KV cache.
    pub past: u32,
    /// Tokens generated so far.
    pub index: u32,
    pub _pad: u32,
}

/// Workgroup counts for a step of `t` positions.
#[derive(Debug, Clone, Copy)]
pub enum Grid {
    Fixed([u32; 3]),
    /// `(x, t, 1)`.
    PerPosition(u32),
    /// `(ceil(t * per_position / 64), 1, 1)`: an invocation per (position, item) in
    /// workgroups of 64.
    Flat {
        per_position: u32,
    },
    /// A linear layer with `rows` outputs: mat-vec for a few positions (`per_group` rows
    /// to a workgroup), tiles beyond.
    Linear {
        rows: u32,
        per_group: u32,
    },
}

/// Positions from which a linear layer runs as tiled matrix products.
pub const MATMUL_FROM: u32 = 5;

/// One kernel launch, ready to encode.
pub struct Dispatch {
    pub(crate) pipeline: wgpu::ComputePipeline,
    /// The tiled pipeline of a linear layer, and its tile: rows and positions.
    pub(crate) tiled: Option<(wgpu::ComputePipeline, [u32; 2])>,
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) grid: Grid,
}

impl Dispatch {
    pub(crate) fn new(
        gpu: &Gpu,
        family: Family,
        format: Option<WeightFormat>,
        entry: &'static str,
        buffers: &[&wgpu::Buffer],
        grid: Grid,
    ) -> Self {
        debug_assert_eq!(buffers.len(), family.bindings().len());
        let entries: Vec<_> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = gpu.device().create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(entry),
            layout: &gpu.layout(family),
            entries: &entries,
        });
        Self {
            pipeline: gpu.pipeline(family, format, entry),
            tiled: None,
            bind_group,
            grid,
        }
    }

    /// Records this launch for a step of `t` positions.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, t: u32) {
        let (pipeline, [x, y, z]) = match self.grid {
            Grid::Fixed(groups) => (&self.pipeline, groups),
            Grid::PerPosition(x) => (&self.pipeline, [x, t, 1]),
            Grid::Flat { per_position } => {
                (&self.pipeline, [(t * per_position).div_ceil(64), 1, 1])
            }
            Grid::Linear { rows, per_group } => match &self.tiled {
                Some((tiled, [tile_rows, tile_t])) if t >= MATMUL_FROM => {
                    (tiled, [rows.div_ceil(*tile_rows), t.div_ceil(*tile_t), 1])
                }
                _ => (&self.pipeline, [rows.div_ceil(per_group), t, 1]),
            },
        };
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Bytes of a `#[repr(C)]` parameter block.
pub(crate) fn bytes_of<T: bytemuck::Pod>(params: &T) -> &[u8] {
    bytemuck::bytes_of(params)
}
