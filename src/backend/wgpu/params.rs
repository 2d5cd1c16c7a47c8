//! Typed parameter blocks: each kernel's uniform parameters are one `#[repr(C)]` Pod struct,
//! the single source of the WGSL struct of the same name.
//!
//! Structs are declared with [`param_block!`], which also records each field's name, offset
//! and WGSL type: [`wgsl_structs`] writes the WGSL declarations that are prepended to every
//! shader at load (no shader declares its own copy), and `tests/shader_contract.rs` compares
//! naga's layout of them with Rust's. Uniform layout rules apply: per-dim arrays are [`Dims`] (`array<vec4<u32>, 2>` in
//! WGSL, 16-byte aligned), scalars come in groups of four, and explicit `pad*` fields round
//! every struct to a multiple of 16 bytes.

use crate::error::{Error, Result};

/// Most dims a shader walks (a layout's dims after merging).
pub(crate) const MAX_DIMS: usize = 8;
/// `vec4<u32>`s of a [`Dims`].
pub(crate) const DIM_VEC4S: usize = MAX_DIMS / 4;

/// Up to [`MAX_DIMS`] per-dim values (shape or strides); `Dims` in WGSL, read with `dim(a, d)`.
pub type Dims = [[u32; 4]; DIM_VEC4S];

/// A kernel parameter block: Pod bytes with a WGSL mirror.
pub trait ParamBlock: bytemuck::Pod {
    /// Name of the mirroring WGSL struct.
    const WGSL_NAME: &'static str;
    /// (name, byte offset) of each field, in declaration order.
    fn fields() -> Vec<(&'static str, usize)>;
    /// (name, WGSL type) of each field, in declaration order.
    fn wgsl_fields() -> Vec<(&'static str, &'static str)>;

    /// The WGSL declaration of the struct.
    fn wgsl() -> String {
        let mut s = format!("struct {} {{\n", Self::WGSL_NAME);
        for (name, ty) in Self::wgsl_fields() {
            s += &format!("    {name}: {ty},\n");
        }
        s + "}\n"
    }
}

/// A Rust field type of a parameter block and the WGSL type with the same uniform layout.
pub trait WgslType {
    /// The WGSL spelling of the type.
    const WGSL: &'static str;
}

impl WgslType for u32 {
    const WGSL: &'static str = "u32";
}

impl WgslType for f32 {
    const WGSL: &'static str = "f32";
}

impl WgslType for [u32; 4] {
    const WGSL: &'static str = "vec4<u32>";
}

impl WgslType for Dims {
    const WGSL: &'static str = "Dims";
}

impl WgslType for [Dims; 3] {
    const WGSL: &'static str = "array<Dims, 3>";
}

/// Declares a parameter block struct and its [`ParamBlock`] impl.
macro_rules! param_block {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $crate::backend::wgpu::params::ParamBlock for $name {
            const WGSL_NAME: &'static str = stringify!($name);
            fn fields() -> Vec<(&'static str, usize)> {
                vec![$((stringify!($f), std::mem::offset_of!($name, $f))),*]
            }
            fn wgsl_fields() -> Vec<(&'static str, &'static str)> {
                vec![$((
                    stringify!($f),
                    <$t as $crate::backend::wgpu::params::WgslType>::WGSL,
                )),*]
            }
        }
    };
}
pub(crate) use param_block;

param_block! {
    /// Parameters of the row kernels (`reduce.wgsl`, `softmax.wgsl`): `rows` rows of `len` elements of a strided view, element (r, j) at flat index
    /// `r * len + j`; `chunks` and `chunk` split long rows of a two-pass reduction.
    pub struct RowParams {
        pub rows: u32,
        pub len: u32,
        pub ndim: u32,
        pub offset: u32,
        pub chunks: u32,
        pub chunk: u32,
        pub pad0: u32,
        pub pad1: u32,
        pub shape: Dims,
        pub strides: Dims,
    }
}

impl RowParams {
    /// `rows` rows of `len` elements of the view `l`, merged (fails beyond [`MAX_DIMS`]); and
    /// whether it is plainly contiguous.
    pub(crate) fn new(
        op: &str,
        rows: usize,
        len: usize,
        l: &crate::shape::Layout,
    ) -> Result<(RowParams, bool)> {
        let (ms, mst, contig) = super::launch::merge_checked(op, &l.shape, &[&l.strides])?;
        // the shaders index the (possibly broadcast) view with 32-bit flat indices
        u32_of(op, rows * len)?;
        let p = RowParams {
            rows: u32_of(op, rows)?,
            len: u32_of(op, len)?,
            ndim: ms.len() as u32,
            offset: u32_of(op, l.offset)?,
            chunks: 0,
            chunk: 0,
            pad0: 0,
            pad1: 0,
            shape: dims(op, &ms)?,
            strides: dims(op, &mst[0])?,
        };
        Ok((p, contig))
    }
}

/// `v` as a 32-bit kernel word, or an error naming `op`.
pub(crate) fn u32_of(op: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::Gpu(format!(
            "{op}: {v} exceeds the 32-bit sizes of the GPU kernels"
        ))
    })
}

/// Per-dim values packed into a [`Dims`] (unused dims are 0).
pub(crate) fn dims(op: &str, v: &[usize]) -> Result<Dims> {
    if v.len() > MAX_DIMS {
        return Err(Error::Gpu(format!(
            "{op}: {} dims exceed the {MAX_DIMS} of the GPU kernels",
            v.len()
        )));
    }
    let mut out: Dims = [[0; 4]; DIM_VEC4S];
    for (d, &x) in v.iter().enumerate() {
        out[d / 4][d % 4] = u32_of(op, x)?;
    }
    Ok(out)
}

/// A parameter block's layout as Rust lays it out.
#[derive(Debug, Clone)]
pub struct ParamLayout {
    /// name of the struct (the same in Rust and WGSL)
    pub name: &'static str,
    /// `size_of`
    pub size: usize,
    /// (field, `offset_of!`) in declaration order
    pub fields: Vec<(&'static str, usize)>,
    /// the generated WGSL declaration
    pub wgsl: String,
}

/// The WGSL declarations of every parameter block, prepended to every shader.
pub(crate) fn wgsl_structs() -> String {
    let mut s = String::from("// generated from the param_block! structs of src/backend/wgpu\n");
    for l in layouts() {
        s += &l.wgsl;
    }
    s
}

/// All parameter blocks with their layouts and WGSL declarations.
pub(crate) fn layouts() -> Vec<ParamLayout> {
    fn of<P: ParamBlock>() -> ParamLayout {
        ParamLayout {
            name: P::WGSL_NAME,
            size: std::mem::size_of::<P>(),
            fields: P::fields(),
            wgsl: P::wgsl(),
        }
    }
    vec![
        of::<super::elementwise::EwParams>(),
        of::<RowParams>(),
        of::<super::matmul::MatmulParams>(),
        of::<super::conv::ConvParams>(),
        of::<super::index::IndexParams>(),
        of::<super::random::RandParams>(),
        of::<super::optim::OptimParams>(),
        of::<super::scan::ScanParams>(),
        of::<super::recurrent::RnnParams>(),
        of::<super::attention::AttnParams>(),
        of::<super::class_loss::LossParams>(),
        of::<super::channel::ChanParams>(),
    ]
}
