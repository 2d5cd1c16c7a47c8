//! Matmul family (`shaders/matmul.wgsl`): batched, register-blocked, tiled f32 products.

use super::elementwise::{binary, copy};
use super::launch::{check_span, merge};
use super::params::{dims, param_block, u32_of, Dims};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::reduce::reduce;
use super::tiles::{self, ShapeClass, SQUARE, WIDE};
use super::GpuStorage;
use crate::backend::{BinaryOp, Conv2dGeom, ReduceOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

/// Batch dims the matmul shader walks after merging.
const MAX_BATCH_DIMS: usize = 6;
/// Rows and columns of C per workgroup of `matmul` (the split-K kernel).
const TILE: usize = SQUARE as usize;
/// Depth of one k-slice the shader stages through workgroup memory.
const TK: usize = 16;
/// When K is split across workgroups (split-K: partial products over runs of k-slices, then one
/// reduction over the runs), per kind of adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SplitPolicy {
    /// A product on fewer workgroups than this, with more k-slices than `max_serial` each, is
    /// split.
    min_workgroups: usize,
    /// k-slices one workgroup walks at most in a split product.
    max_serial: usize,
    /// Workgroups a split product aims for at most (beyond it the partial sums cost more
    /// memory and reduction than the extra parallelism buys).
    split_workgroups: usize,
}

/// A device that runs its workgroups on a few CPU cores (lavapipe, SwiftShader, WARP): a
/// product on 64 workgroups already fills it.
const CPU_SPLIT: SplitPolicy = SplitPolicy {
    min_workgroups: 64,
    max_serial: 64,
    split_workgroups: 256,
};
/// A GPU, where hundreds of resident workgroups hide memory latency: measured on an NVIDIA
/// H200 (2026-12-04), against `CPU_SPLIT` there, LeNet-5's training step went from 0.81 to
/// 0.52 ms of device time and a VGG block's convolutions forward and backward from 1.85 to
/// 1.52 ms (`benchmarks/kernel_sweep.py`).
const GPU_SPLIT: SplitPolicy = SplitPolicy {
    min_workgroups: 256,
    max_serial: 16,
    split_workgroups: 2048,
};

param_block! {
    /// Parameters of `matmul`: sizes, `nb` merged batch dims (`bshape` with the batch strides
    /// of A and B), operand offsets, row/column strides, the first batch of the dispatch, and
    /// `splits`, the runs of k-slices K is split into (1: no split; else C holds `splits`
    /// partial products per batch, run after run); `conv_*`, the geometry of an operand read
    /// as a convolution's column matrix (`im2col_at` of the prelude).
    pub struct MatmulParams {
        pub m: u32,
        pub n: u32,
        pub k: u32,
        pub nb: u32,
        pub a_off: u32,
        pub b_off: u32,
        pub ars: u32,
        pub acs: u32,
        pub brs: u32,
        pub bcs: u32,
        pub batch_base: u32,
        pub splits: u32,
        pub bshape: Dims,
        pub a_bstr: Dims,
        pub b_bstr: Dims,
        pub conv_shape: [u32; 4],
        pub conv_taps: [u32; 4],
        pub conv_steps: [u32; 4],
        pub conv_pads: [u32; 4],
        pub conv_strides: [u32; 4],
        pub a_group: [u32; 4],
    }
}

/// `matmul`: a 64x64 tile of C per 16x16 workgroup; A and B are bound twice (scalar and vec4),
/// then the bias (a placeholder without one).
pub static MATMUL: Entry = Entry::new::<MatmulParams>(
    Shader::Matmul,
    "matmul",
    [16, 16, 1],
    &[
        "A_VEC", "B_VEC", "A_T", "B_T", "BIAS", "C_T", "A_CONV", "B_IM2COL", "A_GROUP",
    ],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::ReadWrite),
        (4, Access::Read),
        (5, Access::Read),
        (6, Access::Read),
    ],
);

/// `matmul_wide`: a 128x128 tile of C per 16x16 workgroup (8x8 per invocation, double-buffered
/// k-slices of 8), with `matmul`'s parameters, bindings and overrides; K never split.
pub static MATMUL_WIDE: Entry = Entry::new::<MatmulParams>(
    Shader::MatmulWide,
    "matmul_wide",
    [16, 16, 1],
    MATMUL.overrides,
    MATMUL.bindings,
);

/// Every matmul entry point.
pub(crate) static ENTRIES: [&Entry; 2] = [&MATMUL, &MATMUL_WIDE];

/// Whether operand rows can be read as vec4: unit inner stride, 16-byte aligned rows/batches.
fn vec4_ok(l: &Layout, inner: usize, rows: usize) -> bool {
    let nd = l.ndim();
    let batch_ok = (0..nd - 2).all(|d| l.shape[d] == 1 || l.strides[d].is_multiple_of(4));
    l.strides[nd - 1] == 1
        && inner.is_multiple_of(4)
        && (rows == 1 || l.strides[nd - 2].is_multiple_of(4))
        && l.offset.is_multiple_of(4)
        && batch_ok
}

/// Whether a column-major operand (unit row stride) can be read as vec4 down its columns:
/// 16-byte aligned columns and batches, and `rows` a multiple of 4.
fn vec4_t_ok(l: &Layout, rows: usize) -> bool {
    let nd = l.ndim();
    let batch_ok = (0..nd - 2).all(|d| l.shape[d] == 1 || l.strides[d].is_multiple_of(4));
    l.strides[nd - 2] == 1
        && l.strides[nd - 1].is_multiple_of(4)
        && rows.is_multiple_of(4)
        && l.offset.is_multiple_of(4)
        && batch_ok
}

/// Batched matmul of `[B.., m, k]` and `[B.., k, n]` (equal batch dims) into `[B.., m, n]`.
pub fn matmul(a: &GpuStorage, la: &Layout, b: &GpuStorage, lb: &Layout) -> Result<GpuStorage> {
    matmul_bias(a, la, b, lb, None)
}

/// [`matmul`] plus a dense `(n)` bias added to every row, in the product's own epilogue.
pub fn matmul_bias(
    a: &GpuStorage,
    la: &Layout,
    b: &GpuStorage,
    lb: &Layout,
    bias: Option<&GpuStorage>,
) -> Result<GpuStorage> {
    matmul_into(a, la, b, lb, bias, false, Implicit::default())
}

/// How an operand of a product is read in place from a convolution's tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColsSide {
    /// A is the column matrix `(positions, C·kh·kw)` of the input image (implicit im2col)
    A,
    /// B is the column matrix `(N·positions, C·kh·kw)` of the input images
    B,
    /// A is the input gradient's left operand `(H·W, O·kh·kw)`, read from the output gradient
    /// `(N, O, oh, ow)` (implicit GEMM for the input gradient)
    Dgrad,
}

/// An operand read in place from a convolution's tensor: `side`, the geometry, and the view
/// the operand's storage holds (the input `(N, C, H, W)`, or for [`ColsSide::Dgrad`] the output
/// gradient `(N, O, oh, ow)`). The operand's own layout then gives only the matrix's shape and
/// the stride between batches.
#[derive(Clone, Copy)]
pub(crate) struct ImplicitCols<'a> {
    pub side: ColsSide,
    pub g: &'a Conv2dGeom,
    pub image: &'a Layout,
}

/// A left operand whose columns run in groups: column `j` of row `i` lies at
/// `offset + i·rows_stride + (j / len)·stride + (j % len)·col_stride` (the layout passed for A
/// gives `rows_stride` and `col_stride`). A convolution's output gradient `(N, O, oh, ow)` is the
/// `(O, N·oh·ow)` operand of its weight gradient this way, without a copy; `view` is that
/// tensor's own view, checked against the storage.
#[derive(Clone, Copy)]
pub(crate) struct GroupedCols<'a> {
    pub len: usize,
    pub stride: usize,
    pub view: &'a Layout,
}

/// How a product's operands are read beyond their layouts (see [`ImplicitCols`] and
/// [`GroupedCols`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct Implicit<'a> {
    pub cols: Option<ImplicitCols<'a>>,
    pub a_groups: Option<GroupedCols<'a>>,
}

/// [`matmul_bias`], each batch's `(m, n)` result stored transposed (`[B.., n, m]`) when
/// `transposed`, operands read in place from convolution tensors as `implicit` says.
pub(crate) fn matmul_into(
    a: &GpuStorage,
    la: &Layout,
    b: &GpuStorage,
    lb: &Layout,
    bias: Option<&GpuStorage>,
    transposed: bool,
    implicit: Implicit<'_>,
) -> Result<GpuStorage> {
    let cols = implicit.cols;
    let groups = implicit.a_groups;
    if a.dtype != DType::F32 || b.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "matmul: the GPU multiplies float32 matrices, got {} and {}",
            a.dtype, b.dtype
        )));
    }
    let nd = la.ndim();
    if nd < 2
        || lb.ndim() != nd
        || la.shape[..nd - 2] != lb.shape[..nd - 2]
        || la.shape[nd - 1] != lb.shape[nd - 2]
    {
        return Err(Error::Shape(format!(
            "matmul: shapes {:?} and {:?} do not fit",
            la.shape, lb.shape
        )));
    }
    let (m, k, n) = (la.shape[nd - 2], la.shape[nd - 1], lb.shape[nd - 1]);
    match groups {
        Some(gc) => {
            check_span("matmul", a, gc.view)?;
            // the grouped columns cover exactly the view's elements
            let v = &gc.view.shape;
            if nd != 2
                || gc.len == 0
                || v.len() != 4
                || k != v[0] * gc.len
                || m != v[1]
                || gc.len != v[2] * v[3]
                || gc.view.strides[2] != v[3] * gc.view.strides[3]
                || la.strides[0] != gc.view.strides[1]
                || la.strides[1] != gc.view.strides[3]
                || gc.stride != gc.view.strides[0]
                || la.offset != gc.view.offset
            {
                return Err(Error::Shape(format!(
                    "matmul: a {m}x{k} operand grouped by {} does not match the view {v:?}",
                    gc.len
                )));
            }
        }
        None => check_span("matmul", a, la)?,
    }
    check_span("matmul", b, lb)?;
    if let Some(c) = cols {
        let (x, rows, ncols) = match c.side {
            ColsSide::A | ColsSide::Dgrad => (a, m, k),
            ColsSide::B => (b, k, n),
        };
        check_span("conv2d", x, c.image)?;
        let g = c.g;
        let taps = g.kh * g.kw;
        let fits = match c.side {
            // one image's positions per batch (A), or every image's (B)
            ColsSide::A | ColsSide::B => {
                let images = if c.side == ColsSide::A { 1 } else { g.n };
                c.image.shape == [g.n, g.c, g.h, g.w]
                    && ncols == g.col_rows()
                    && rows == images * g.col_cols()
            }
            ColsSide::Dgrad => {
                c.image.shape.len() == 4
                    && c.image.shape == [g.n, c.image.shape[1], g.oh, g.ow]
                    && taps > 0
                    && ncols == c.image.shape[1] * taps
                    && rows == g.h * g.w
                    && g.sh > 0
                    && g.sw > 0
            }
        };
        if !fits {
            return Err(Error::Shape(format!(
                "conv2d: a {rows}x{ncols} implicit operand ({:?}) of a tensor {:?} for geometry {g:?}",
                c.side, c.image.shape
            )));
        }
    }
    let implicit = |side: ColsSide| {
        cols.filter(|c| match side {
            ColsSide::A => c.side != ColsSide::B,
            _ => c.side == side,
        })
    };
    let count: usize = la.shape[..nd - 2].iter().product();
    let ctx = &a.ctx;
    // a convolution's products are named as the convolution in an allocation error
    let op = if cols.is_some() || groups.is_some() {
        "conv2d"
    } else {
        "matmul"
    };
    let out =
        GpuStorage::alloc(ctx, DType::F32, count * m * n, false, op).map_err(|e| match e {
            Error::Memory(msg) => Error::Memory(format!(
                "{msg} (a product of {:?} by {:?}: {count} of {m}x{n})",
                la.shape, lb.shape
            )),
            e => e,
        })?;
    if count * m * n == 0 {
        return Ok(out);
    }
    if let Some(bv) = bias {
        if bv.dtype != DType::F32 || bv.len < n {
            return Err(Error::Shape(format!(
                "linear: a bias of {} {} values for {n} outputs",
                bv.len, bv.dtype
            )));
        }
    }
    if k == 0 {
        ctx.clear(&out.buf, (count * m * n) as u64 * 4)?;
        return add_bias(out, bias, count, m, n, transposed);
    }
    // A dense copy costs one pass over an operand, cheap next to the product once it is big:
    // it buys vec4 loads (and coalesced reads of transposed operands).
    let big = m * n * k >= 1 << 18;
    let mut a_copy = None;
    let mut b_copy = None;
    let mut la2 = la.clone();
    let mut lb2 = lb.clone();
    // (never an operand broadcast over the batch: its copy would repeat it per batch)
    let broadcast = |l: &Layout| l.strides[..nd - 2].contains(&0);
    let (a_cols, b_cols) = (implicit(ColsSide::A), implicit(ColsSide::B));
    if big
        && a_cols.is_none()
        && groups.is_none()
        && !vec4_ok(la, k, m)
        && !vec4_t_ok(la, m)
        && k.is_multiple_of(4)
        && !broadcast(la)
    {
        a_copy = Some(copy(a, la)?);
        la2 = Layout::contiguous(&la.shape);
    }
    if big
        && b_cols.is_none()
        && !vec4_ok(lb, n, k)
        && !vec4_t_ok(lb, k)
        && n.is_multiple_of(4)
        && !broadcast(lb)
    {
        b_copy = Some(copy(b, lb)?);
        lb2 = Layout::contiguous(&lb.shape);
    }
    let (mut bs, mut bst) = merge(
        &la.shape[..nd - 2],
        &[&la2.strides[..nd - 2], &lb2.strides[..nd - 2]],
    );
    if bs.len() > MAX_BATCH_DIMS {
        if cols.is_some() {
            return Err(Error::Shape(format!(
                "conv2d: {} batch dims for an implicit column matrix",
                bs.len()
            )));
        }
        if a_copy.is_none() {
            a_copy = Some(copy(a, la)?);
            la2 = Layout::contiguous(&la.shape);
        }
        if b_copy.is_none() {
            b_copy = Some(copy(b, lb)?);
            lb2 = Layout::contiguous(&lb.shape);
        }
        (bs, bst) = merge(
            &la.shape[..nd - 2],
            &[&la2.strides[..nd - 2], &lb2.strides[..nd - 2]],
        );
    }
    let a_use = a_copy.as_ref().unwrap_or(a);
    let b_use = b_copy.as_ref().unwrap_or(b);
    // the A_CONV override: 0 a plain A, 1 a column matrix, 2 an input gradient's left operand
    let a_conv = match a_cols.map(|c| c.side) {
        None => 0u32,
        Some(ColsSide::Dgrad) => 2,
        Some(_) => 1,
    };
    let plain_a = a_cols.is_none() && groups.is_none();
    let a_vec = plain_a && vec4_ok(&la2, k, m);
    let b_vec = b_cols.is_none() && vec4_ok(&lb2, n, k);
    let a_t = plain_a && !a_vec && vec4_t_ok(&la2, m);
    let b_t = b_cols.is_none() && !b_vec && vec4_t_ok(&lb2, k);

    let w = |v: usize| u32_of("matmul", v);
    let mut p = MatmulParams {
        m: w(m)?,
        n: w(n)?,
        k: w(k)?,
        nb: bs.len() as u32,
        a_off: w(la2.offset)?,
        b_off: w(lb2.offset)?,
        ars: w(la2.strides[nd - 2])?,
        acs: w(la2.strides[nd - 1])?,
        brs: w(lb2.strides[nd - 2])?,
        bcs: w(lb2.strides[nd - 1])?,
        batch_base: 0,
        splits: 1,
        bshape: dims("matmul", &bs)?,
        a_bstr: dims("matmul", &bst[0])?,
        b_bstr: dims("matmul", &bst[1])?,
        conv_shape: [0; 4],
        conv_taps: [0; 4],
        conv_steps: [0; 4],
        conv_pads: [0; 4],
        conv_strides: [0; 4],
        a_group: [0; 4],
    };
    if let Some(gc) = groups {
        p.a_group = [w(gc.len)?, w(gc.stride)?, 0, 0];
    }
    if let Some(c) = cols {
        let g = c.g;
        let s = &c.image.strides;
        p.conv_shape = [w(g.c)?, w(g.h)?, w(g.w)?, w(g.ow)?];
        // im2col: positions per image; dgrad: output rows
        let third = if c.side == ColsSide::Dgrad {
            g.oh
        } else {
            g.col_cols()
        };
        p.conv_taps = [w(g.kh)?, w(g.kw)?, w(third)?, 0];
        p.conv_steps = [w(g.sh)?, w(g.sw)?, w(g.dh)?, w(g.dw)?];
        p.conv_pads = [w(g.ph)?, w(g.pw)?, 0, 0];
        p.conv_strides = [w(s[0])?, w(s[1])?, w(s[2])?, w(s[3])?];
    }
    w(count * m * n)?;
    let zmax = ctx.limits.max_compute_workgroups_per_dimension as usize;
    let policy = split_policy(ctx.info.device_type);
    let splits = split_k(
        policy,
        n.div_ceil(TILE) * m.div_ceil(TILE) * count,
        k.div_ceil(TK),
    )
    .min(zmax);
    // the epilogue adds the bias unless K is split (then it follows the partial sums' reduction)
    let epilogue = bias.filter(|_| splits == 1);
    let bias_buf = epilogue.map_or(&ctx.dummies[0], |b| &b.buf);
    let target = if splits > 1 {
        w(count * splits * m * n)?;
        GpuStorage::alloc(ctx, DType::F32, count * splits * m * n, false, op)?
    } else {
        out
    };
    p.splits = splits as u32;
    // records the product with the `tile` kernel, in runs of batches the grid's z allows
    let run = |tile: u32| -> Result<()> {
        let entry = if tile == WIDE { &MATMUL_WIDE } else { &MATMUL };
        let kernel = Kernel::new(entry)
            .flag("A_VEC", a_vec)
            .flag("B_VEC", b_vec)
            .flag("A_T", a_t)
            .flag("B_T", b_t)
            .flag("BIAS", epilogue.is_some())
            .flag("C_T", transposed)
            .with("A_CONV", a_conv)
            .flag("B_IM2COL", b_cols.is_some())
            .flag("A_GROUP", groups.is_some());
        let t = tile as usize;
        let (tx, ty) = (w(n.div_ceil(t))?, w(m.div_ceil(t))?);
        let per = (zmax / splits).max(1);
        let mut q = p;
        let mut base = 0;
        while base < count {
            let z = (count - base).min(per);
            q.batch_base = base as u32;
            ctx.dispatch(
                &kernel,
                &q,
                &[
                    &a_use.buf,
                    &b_use.buf,
                    &target.buf,
                    &a_use.buf,
                    &b_use.buf,
                    bias_buf,
                ],
                [tx, ty, (z * splits) as u32],
            )?;
            base += z;
        }
        Ok(())
    };
    let tile = if splits == 1 {
        let class = ShapeClass::new(
            m,
            n,
            k,
            count,
            [
                a_vec,
                b_vec,
                a_t,
                b_t,
                transposed,
                a_conv == 1,
                b_cols.is_some(),
                a_conv == 2,
                groups.is_some(),
            ],
        );
        tiles::choose(ctx, (m, n, k, count), class, run)?
    } else {
        SQUARE
    };
    run(tile)?;
    if splits == 1 {
        return Ok(target);
    }
    // the sum of each batch's partial products
    let partial = Layout::contiguous(&[count, splits, m * n]);
    let summed = reduce(ReduceOp::Sum, &target, &partial, &[1])?;
    add_bias(summed, bias, count, m, n, transposed)
}

/// `count` products `(m, n)` (stored `(n, m)` when `transposed`) plus the `(n)` bias on every
/// row, as a separate elementwise pass (`y` itself without a bias).
fn add_bias(
    y: GpuStorage,
    bias: Option<&GpuStorage>,
    count: usize,
    m: usize,
    n: usize,
    transposed: bool,
) -> Result<GpuStorage> {
    let Some(bv) = bias else {
        return Ok(y);
    };
    let (shape, bstrides) = if transposed {
        (vec![count, n, m], vec![0, 1, 0])
    } else {
        (vec![count, m, n], vec![0, 0, 1])
    };
    let ly = Layout::contiguous(&shape);
    let lb = Layout {
        shape,
        strides: bstrides,
        offset: 0,
    };
    binary(BinaryOp::Add, &y, &ly, bv, &lb)
}

/// Runs of k-slices to split K into, for a product on `workgroups` workgroups whose K spans
/// `slices` k-slices: 1 when there are workgroups enough or K is short; else enough runs that
/// none walks more than the policy's `max_serial`, within its `split_workgroups` workgroups in
/// all where that allows `min_workgroups`.
fn split_k(policy: SplitPolicy, workgroups: usize, slices: usize) -> usize {
    let SplitPolicy {
        min_workgroups,
        max_serial,
        split_workgroups,
    } = policy;
    if workgroups >= min_workgroups || slices <= max_serial {
        return 1;
    }
    let needed = slices.div_ceil(max_serial);
    let room = (split_workgroups / workgroups.max(1)).max(min_workgroups.div_ceil(workgroups));
    needed.min(room).max(1)
}

/// The split-K policy for an adapter of this type.
fn split_policy(device_type: wgpu::DeviceType) -> SplitPolicy {
    #[cfg(feature = "shader-dev")]
    if let Some(p) = dev_split_policy() {
        return p;
    }
    if device_type == wgpu::DeviceType::Cpu {
        CPU_SPLIT
    } else {
        GPU_SPLIT
    }
}

/// Kernel tuning builds: `RUSTDL_SPLITK=min_workgroups,max_serial_slices,split_workgroups`
/// overrides the policy.
#[cfg(feature = "shader-dev")]
fn dev_split_policy() -> Option<SplitPolicy> {
    let v: Vec<usize> = std::env::var("RUSTDL_SPLITK")
        .ok()?
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    match v[..] {
        [a, b, c] if a > 0 && b > 0 && c > 0 => Some(SplitPolicy {
            min_workgroups: a,
            max_serial: b,
            split_workgroups: c,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_k_leaves_no_product_on_few_workgroups_with_a_long_serial_k() {
        for policy in [CPU_SPLIT, GPU_SPLIT] {
            let SplitPolicy {
                min_workgroups,
                max_serial,
                split_workgroups,
            } = policy;
            for workgroups in [1, 2, 3, 5, 8, 13, 31, 63, 64, 100, 255, 256, 1000] {
                for slices in [1, 16, 17, 64, 65, 200, 401, 3136, 100_000] {
                    let s = split_k(policy, workgroups, slices);
                    assert!(s >= 1);
                    let serial = slices.div_ceil(s);
                    assert!(
                        workgroups * s >= min_workgroups || serial <= max_serial,
                        "{policy:?}: {workgroups} workgroups, {slices} slices: {s} runs of {serial}"
                    );
                    if workgroups >= min_workgroups || slices <= max_serial {
                        assert_eq!(s, 1);
                    } else {
                        // never more runs than K has slices, nor (beyond the minimum) more
                        // workgroups than the policy aims for
                        assert!(s <= slices);
                        assert!(
                            workgroups * s <= split_workgroups.max(min_workgroups + workgroups)
                        );
                    }
                }
            }
        }
        // LeNet's first convolution's weight gradient: one 64x64 tile, K = 50,176
        assert_eq!(split_k(CPU_SPLIT, 1, 50_176usize.div_ceil(TK)), 49);
        assert_eq!(split_k(GPU_SPLIT, 1, 50_176usize.div_ceil(TK)), 196);
        // a VGG block's weight gradient (64 x 576 over 32 images of 32x32): 9 tiles
        assert_eq!(split_k(GPU_SPLIT, 9, 32_768usize.div_ceil(TK)), 128);
        assert_eq!(split_k(CPU_SPLIT, 9, 32_768usize.div_ceil(TK)), 28);
    }
}
