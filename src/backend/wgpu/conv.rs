//! Convolution family (`shaders/conv.wgsl`): im2col, col2im and 2-D max pooling.

use super::launch::{check_span, dispatch_threads};
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::Conv2dGeom;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

param_block! {
    /// Parameters of the conv kernels: `total` invocations, the geometry, the input view's
    /// strides (4 for an image, 2 for columns) and offset, and im2col's padding value.
    pub struct ConvParams {
        pub total: u32,
        pub n: u32,
        pub c: u32,
        pub h: u32,
        pub w: u32,
        pub kh: u32,
        pub kw: u32,
        pub sh: u32,
        pub sw: u32,
        pub ph: u32,
        pub pw: u32,
        pub dh: u32,
        pub dw: u32,
        pub oh: u32,
        pub ow: u32,
        pub offset: u32,
        pub strides: [u32; 4],
        pub pad_value: f32,
        pub pad0: u32,
        pub pad1: u32,
        pub pad2: u32,
    }
}

const fn entry(name: &'static str, bindings: &'static [(u32, Access)]) -> Entry {
    Entry::threads::<ConvParams>(Shader::Conv, name, &[], bindings)
}

const IN_OUT: &[(u32, Access)] = &[(1, Access::Read), (2, Access::ReadWrite)];

/// `im2col`: one invocation per column-matrix entry.
pub static IM2COL: Entry = entry("im2col", IN_OUT);
/// `col2im`: one invocation per image pixel, summing its taps.
pub static COL2IM: Entry = entry("col2im", IN_OUT);
/// `max_pool`: one invocation per output, writing the value and the argmax.
pub static MAX_POOL: Entry = entry(
    "max_pool",
    &[
        (1, Access::Read),
        (2, Access::ReadWrite),
        (3, Access::ReadWrite),
    ],
);

/// Every conv entry point.
pub(crate) static ENTRIES: [&Entry; 3] = [&IM2COL, &COL2IM, &MAX_POOL];

impl ConvParams {
    /// `total` invocations over the geometry `g` reading the view `l`.
    fn new(op: &str, total: usize, g: &Conv2dGeom, l: &Layout) -> Result<ConvParams> {
        let w = |v: usize| u32_of(op, v);
        let mut strides = [0; 4];
        for (s, &v) in strides.iter_mut().zip(&l.strides) {
            *s = w(v)?;
        }
        Ok(ConvParams {
            total: w(total)?,
            n: w(g.n)?,
            c: w(g.c)?,
            h: w(g.h)?,
            w: w(g.w)?,
            kh: w(g.kh)?,
            kw: w(g.kw)?,
            sh: w(g.sh)?,
            sw: w(g.sw)?,
            ph: w(g.ph)?,
            pw: w(g.pw)?,
            dh: w(g.dh)?,
            dw: w(g.dw)?,
            oh: w(g.oh)?,
            ow: w(g.ow)?,
            offset: w(l.offset)?,
            strides,
            pad_value: 0.0,
            pad0: 0,
            pad1: 0,
            pad2: 0,
        })
    }
}

/// Fails unless `x` is float32 and `l` has the expected shape.
fn check_input(
    op: &str,
    x: &GpuStorage,
    l: &Layout,
    shape: &[usize],
    g: &Conv2dGeom,
) -> Result<()> {
    if x.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "{op}: expected a floating tensor, got {}",
            x.dtype
        )));
    }
    if l.shape != shape {
        let what = if op == "col2im" { "columns" } else { "input" };
        return Err(Error::Shape(format!(
            "{op}: {what} of shape {:?} for geometry {g:?}",
            l.shape
        )));
    }
    check_span(op, x, l)
}

/// Runs the conv-family kernel `entry` for `total` invocations over the view `(x, l)` with the
/// geometry `g`, writing `outs`.
fn launch(
    op: &str,
    entry: &'static Entry,
    (x, l): (&GpuStorage, &Layout),
    g: &Conv2dGeom,
    total: usize,
    pad_value: f32,
    outs: &[&wgpu::Buffer],
) -> Result<()> {
    if total == 0 {
        return Ok(());
    }
    let mut p = ConvParams::new(op, total, g, l)?;
    p.pad_value = pad_value;
    let mut bufs = vec![&x.buf];
    bufs.extend_from_slice(outs);
    dispatch_threads(&x.ctx, &Kernel::new(entry), &p, &bufs, total, op)
}

/// `(N,C,H,W)` → columns `(N·oh·ow, C·kh·kw)`, `pad_value` outside the image.
pub fn im2col(x: &GpuStorage, l: &Layout, g: &Conv2dGeom, pad_value: f64) -> Result<GpuStorage> {
    check_input("im2col", x, l, &[g.n, g.c, g.h, g.w], g)?;
    let total = g.n * g.col_rows() * g.col_cols();
    let out = GpuStorage::alloc(&x.ctx, DType::F32, total, false, "im2col")?;
    let pad = pad_value as f32;
    launch("im2col", &IM2COL, (x, l), g, total, pad, &[&out.buf])?;
    Ok(out)
}

/// Columns `(N·oh·ow, C·kh·kw)` → `(N,C,H,W)`, overlapping taps summed.
pub fn col2im(x: &GpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<GpuStorage> {
    check_input("col2im", x, l, &[g.n * g.col_cols(), g.col_rows()], g)?;
    let total = g.n * g.c * g.h * g.w;
    let out = GpuStorage::alloc(&x.ctx, DType::F32, total, false, "col2im")?;
    launch("col2im", &COL2IM, (x, l), g, total, 0.0, &[&out.buf])?;
    Ok(out)
}

/// Max pooling of each `(H, W)` plane: values `(N,C,oh,ow)` and the int64 flat index
/// `h·W + w` of each window's maximum (first on ties; NaN wins), as the CPU backend.
pub fn max_pool2d(x: &GpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<(GpuStorage, GpuStorage)> {
    check_input("max_pool2d", x, l, &[g.n, g.c, g.h, g.w], g)?;
    let total = g.n * g.c * g.oh * g.ow;
    let ctx = &x.ctx;
    let vals = GpuStorage::alloc(ctx, DType::F32, total, false, "max_pool2d")?;
    let mut idx = GpuStorage::alloc(ctx, DType::I64, total, false, "max_pool2d")?;
    idx.range = Some((0, (g.h * g.w) as i64 - 1));
    let outs = [&vals.buf, &idx.buf];
    launch("max_pool2d", &MAX_POOL, (x, l), g, total, 0.0, &outs)?;
    Ok((vals, idx))
}

/// Convolutions as products without transposing copies or column matrices in memory (implicit
/// GEMM): the matmul kernels read their convolution operand in place. The forward multiplies
/// each image's columns, read from the image, by the weight and stores the product transposed,
/// which is the NCHW output, with the bias in the product's epilogue; the input gradient
/// multiplies each image's `(H·W, O·kh·kw)` taps of the output gradient, read from it, by the
/// weight rearranged to `(O·kh·kw, C)` and stores that transposed, the NCHW input gradient
/// (or, for layers with few input channels, where that product would be mostly tile padding,
/// goes through a column gradient and col2im); the
/// weight gradient multiplies the output gradient, read in place as `(O, N·positions)` (its
/// columns in groups of one image's positions), by the columns of all images, read from the
/// input.
pub(crate) mod products {
    use super::super::device::Gpu;
    use super::super::matmul::{
        matmul, matmul_into, ColsSide, GroupedCols, Implicit, ImplicitCols,
    };
    use super::super::GpuStorage;
    use super::col2im;
    use crate::backend::contract::provided;
    use crate::backend::Conv2dGeom;
    use crate::dtype::DType;
    use crate::error::Result;
    use crate::shape::Layout;

    /// Whether the column matrices of the whole batch fit one chunk of the provided algorithms.
    fn fits(b: &Gpu, g: &Conv2dGeom) -> bool {
        provided::images_per_chunk(b, DType::F32, g) >= g.n
    }

    /// Whether the input gradient is better taken as an implicit GEMM than through a column
    /// gradient: the products' multiply-adds with their tiles rounded up to 64 (an implicit
    /// product has only C columns, so a layer with few input channels wastes most of a tile)
    /// against the explicit product's plus its col2im pass.
    fn implicit_dgrad(g: &Conv2dGeom, o: usize) -> bool {
        let pad = |v: usize| v.div_ceil(64) * 64;
        let (l, k) = (g.col_cols(), g.col_rows());
        let implicit = pad(g.h * g.w)
            .saturating_mul(pad(g.c))
            .saturating_mul(o * g.kh * g.kw);
        let explicit = pad(l)
            .saturating_mul(pad(k))
            .saturating_mul(o)
            .saturating_add(l.saturating_mul(k));
        implicit <= explicit
    }

    /// Rows of a product rounded up to the matmul kernels' smallest tile.
    fn tile_rows(v: usize) -> usize {
        v.div_ceil(64).saturating_mul(64)
    }

    /// Whether the batch is better folded into the rows of one product (the provided im2col
    /// algorithm) than multiplied image by image: an image with few output positions (the deep
    /// layers of a ResNet on small inputs, down to 1x1) fills a tile's 64 rows with a handful,
    /// so per-image products would do up to 64 times the work.
    fn fold_batch(b: &Gpu, g: &Conv2dGeom) -> bool {
        let (n, l) = (g.n, g.col_cols());
        n > 1 && n.saturating_mul(tile_rows(l)) > 2 * tile_rows(n.saturating_mul(l)) && fits(b, g)
    }

    /// The dense weight `(O, k)` as the `(k, O)` right operand of every image's product.
    fn weight_t(n: usize, k: usize, o: usize) -> Layout {
        Layout {
            shape: vec![n, k, o],
            strides: vec![0, 1, k],
            offset: 0,
        }
    }

    pub fn conv2d(
        b: &Gpu,
        x: (&GpuStorage, &Layout),
        w: &GpuStorage,
        bias: Option<&GpuStorage>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<(GpuStorage, Option<GpuStorage>)> {
        if fold_batch(b, g) {
            // the columns it returns are the weight gradient's operand
            return provided::conv2d(b, x, w, bias, g, o);
        }
        let (n, l, k) = (g.n, g.col_cols(), g.col_rows());
        // the image as the left operand: (n, l, k), one image per batch
        let lc = Layout {
            shape: vec![n, l, k],
            strides: vec![x.1.strides[0], 0, 0],
            offset: x.1.offset,
        };
        let cols = ImplicitCols {
            side: ColsSide::A,
            g,
            image: x.1,
        };
        let implicit = Implicit {
            cols: Some(cols),
            a_groups: None,
        };
        let y = matmul_into(x.0, &lc, w, &weight_t(n, k, o), bias, true, implicit)?;
        Ok((y, None))
    }

    pub fn conv2d_input_grad(
        b: &Gpu,
        gout: (&GpuStorage, &Layout),
        w: &GpuStorage,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<GpuStorage> {
        if fold_batch(b, g) {
            return provided::conv2d_input_grad(b, gout, w, g, o);
        }
        if !implicit_dgrad(g, o) {
            return input_grad_by_columns(b, gout, w, g, o);
        }
        let k = o * g.kh * g.kw;
        // the weight (O, C, kh, kw) as the (O·kh·kw, C) right operand of every image: one
        // small copy
        let wl = Layout::contiguous(&[o, g.c, g.kh, g.kw]).permute(&[0, 2, 3, 1]);
        let wt = super::super::elementwise::copy(w, &wl)?;
        // each image's (H·W, O·kh·kw) left operand read in place from the output gradient; the
        // (H·W, C) product stored transposed is the image's NCHW input gradient
        let la = Layout {
            shape: vec![g.n, g.h * g.w, k],
            strides: vec![gout.1.strides[0], 0, 0],
            offset: gout.1.offset,
        };
        let lb = Layout {
            shape: vec![g.n, k, g.c],
            strides: vec![0, g.c, 1],
            offset: 0,
        };
        let cols = ImplicitCols {
            side: ColsSide::Dgrad,
            g,
            image: gout.1,
        };
        let implicit = Implicit {
            cols: Some(cols),
            a_groups: None,
        };
        matmul_into(gout.0, &la, &wt, &lb, None, true, implicit)
    }

    /// The input gradient through a column gradient: each image's output gradient read as a
    /// column-major `(positions, O)` matrix times the weight, folded back by col2im (chunked by
    /// the provided algorithm when the batch's columns exceed a chunk).
    fn input_grad_by_columns(
        b: &Gpu,
        gout: (&GpuStorage, &Layout),
        w: &GpuStorage,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<GpuStorage> {
        let lg = gout.1;
        // the output positions of one image must be one run of equal strides
        if !fits(b, g) || lg.strides[2] != g.ow * lg.strides[3] {
            return provided::conv2d_input_grad(b, gout, w, g, o);
        }
        let (l, k) = (g.col_cols(), g.col_rows());
        let la = Layout {
            shape: vec![g.n, l, o],
            strides: vec![lg.strides[0], lg.strides[3], lg.strides[1]],
            offset: lg.offset,
        };
        let lw = Layout {
            shape: vec![g.n, o, k],
            strides: vec![0, k, 1],
            offset: 0,
        };
        let cols = matmul(gout.0, &la, w, &lw)?;
        col2im(&cols, &Layout::contiguous(&[g.n * l, k]), g)
    }

    pub fn conv2d_weight_grad(
        _b: &Gpu,
        x: (&GpuStorage, &Layout),
        workspace: Option<&GpuStorage>,
        gout: (&GpuStorage, &Layout),
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<GpuStorage> {
        let rows = g.n * g.col_cols();
        let k = g.col_rows();
        let lg = gout.1;
        // the output gradient as the (O, N·oh·ow) left operand: read in place, its columns in
        // groups of one image's positions, when those are one run of equal strides; else
        // copied once into (O, N, oh, ow)
        let copied;
        let (a, la, a_groups) = if lg.strides[2] == g.ow * lg.strides[3] {
            let la = Layout {
                shape: vec![o, rows],
                strides: vec![lg.strides[1], lg.strides[3]],
                offset: lg.offset,
            };
            let groups = GroupedCols {
                len: g.col_cols(),
                stride: lg.strides[0],
                view: lg,
            };
            (gout.0, la, Some(groups))
        } else {
            copied = super::super::elementwise::copy(gout.0, &lg.permute(&[1, 0, 2, 3]))?;
            (&copied, Layout::contiguous(&[o, rows]), None)
        };
        let implicit = Implicit {
            // the columns of the input, read in place unless a provided forward made them
            cols: workspace.is_none().then_some(ImplicitCols {
                side: ColsSide::B,
                g,
                image: x.1,
            }),
            a_groups,
        };
        let (b, lb) = match workspace {
            Some(cols) => (cols, Layout::contiguous(&[rows, k])),
            None => (
                x.0,
                Layout {
                    shape: vec![rows, k],
                    strides: vec![0, 0],
                    offset: x.1.offset,
                },
            ),
        };
        matmul_into(a, &la, b, &lb, None, false, implicit)
    }
}
