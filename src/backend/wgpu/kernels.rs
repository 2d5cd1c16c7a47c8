//! Host side of every GPU primitive: argument checks, layout packing into parameter blocks,
//! and the dispatch of the kernels in `shaders/`.
//!
//! Layouts are merged before dispatch (size-1 dims dropped, dims that are contiguous for every
//! operand fused), so most views reach the shaders with one or two dims and plain contiguous
//! ones take the shaders' `CONTIG` fast path.

use std::sync::Arc;

use super::context::{bump, context, GpuContext, COUNTERS};
use super::pipelines::{Kernel, Shader};
use super::GpuStorage;
use crate::backend::{BinaryOp, Conv2dGeom, OptimStep, RandKind, ReduceOp, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{contiguous_strides, Layout};
use crate::storage::CpuStorage;

/// Dims a shader walks after merging.
const MAX_DIMS: usize = 8;
/// Batch dims the matmul shader walks after merging.
const MAX_BATCH_DIMS: usize = 6;
/// Invocations per workgroup of the 1-D kernels.
const WG: usize = 256;
/// Reductions of at most this many rows of at least `LONG_ROW` elements take two passes.
const LONG_ROWS_MAX: usize = 64;
const LONG_ROW: usize = 16384;
/// Elements per workgroup in the first pass of a two-pass reduction.
const CHUNK: usize = 4096;

/// The error for float64 on the GPU.
pub(crate) fn f64_unsupported(op: &str) -> Error {
    Error::DType(format!(
        "{op}: float64 is not supported on the GPU; convert to float32 first"
    ))
}

/// The shaders' dtype code: 0 = f32, 1 = int64 held as i32, 2 = bool as u32.
fn dt_code(dt: DType, op: &str) -> Result<u32> {
    match dt {
        DType::F32 => Ok(0),
        DType::I64 => Ok(1),
        DType::Bool => Ok(2),
        DType::F64 => Err(f64_unsupported(op)),
    }
}

fn u32_of(op: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::Gpu(format!(
            "{op}: {v} exceeds the 32-bit sizes of the GPU kernels"
        ))
    })
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Workgroup grid for `groups` workgroups, folded into y when x would exceed the limit
/// (the shaders linearise it as `wid.y * nwg.x + wid.x`).
fn grid(ctx: &GpuContext, groups: usize, op: &str) -> Result<[u32; 3]> {
    let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
    if groups <= max {
        return Ok([groups as u32, 1, 1]);
    }
    let y = groups.div_ceil(max);
    if y > max {
        return Err(Error::Gpu(format!(
            "{op}: {groups} workgroups exceed the adapter's grid"
        )));
    }
    Ok([max as u32, y as u32, 1])
}

fn grid_threads(ctx: &GpuContext, n: usize, op: &str) -> Result<[u32; 3]> {
    grid(ctx, n.div_ceil(WG), op)
}

/// Fails unless `l` stays inside the storage (a broken layout must not reach a shader).
fn check_span(op: &str, x: &GpuStorage, l: &Layout) -> Result<()> {
    if l.span() > x.len {
        return Err(Error::Shape(format!(
            "{op}: view of shape {:?} (strides {:?}, offset {}) exceeds a storage of {} elements",
            l.shape, l.strides, l.offset, x.len
        )));
    }
    Ok(())
}

/// Drops size-1 dims and fuses neighbours that are contiguous for every operand.
fn merge(shape: &[usize], strides: &[&[usize]]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut ms: Vec<usize> = Vec::new();
    let mut mst: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let fuse = !ms.is_empty()
            && strides
                .iter()
                .zip(&mst)
                .all(|(s, m)| m[m.len() - 1] == s[d] * shape[d]);
        if fuse {
            let last = ms.len() - 1;
            ms[last] *= shape[d];
            for (k, s) in strides.iter().enumerate() {
                mst[k][last] = s[d];
            }
        } else {
            ms.push(shape[d]);
            for (k, s) in strides.iter().enumerate() {
                mst[k].push(s[d]);
            }
        }
    }
    (ms, mst)
}

fn too_many_dims(op: &str, shape: &[usize]) -> Error {
    Error::Gpu(format!(
        "{op}: the view of shape {shape:?} has more than {MAX_DIMS} dims that cannot be merged; call contiguous() first"
    ))
}

// word positions of elementwise.wgsl
const EW_SHAPE: usize = 2;
const EW_STR: usize = 10;
const EW_OFF: usize = 34;
const EW_S0: usize = 37;
const EW_S1: usize = 38;
const EW_WORDS: usize = 39;

/// Parameter block of elementwise.wgsl for `shape` with up to three operand layouts
/// (strides, offset) at slots A, B, C; and whether every operand is contiguous.
fn ew_params(
    op: &str,
    shape: &[usize],
    operands: &[(&[usize], usize)],
) -> Result<(Vec<u32>, bool)> {
    let strides: Vec<&[usize]> = operands.iter().map(|o| o.0).collect();
    let (ms, mst) = merge(shape, &strides);
    if ms.len() > MAX_DIMS {
        return Err(too_many_dims(op, shape));
    }
    let mut p = vec![0u32; EW_WORDS];
    p[0] = u32_of(op, shape.iter().product())?;
    p[1] = ms.len() as u32;
    for (d, &s) in ms.iter().enumerate() {
        p[EW_SHAPE + d] = u32_of(op, s)?;
    }
    for (k, st) in mst.iter().enumerate() {
        for (d, &s) in st.iter().enumerate() {
            p[EW_STR + 8 * k + d] = u32_of(op, s)?;
        }
        p[EW_OFF + k] = u32_of(op, operands[k].1)?;
    }
    let contig = ms.is_empty() || (ms.len() == 1 && mst.iter().all(|s| s[0] == 1));
    Ok((p, contig))
}

fn ew_kernel(entry: &'static str, contig: bool) -> Kernel {
    Kernel::new(Shader::Elementwise, entry).with("CONTIG", flag(contig))
}

fn ctx_of(x: &GpuStorage) -> &Arc<GpuContext> {
    &x.ctx
}

// ---------------------------------------------------------------- copies, casts, fills

/// Contiguous copy of a view (a plain buffer copy when the view is dense).
pub fn copy(x: &GpuStorage, l: &Layout) -> Result<GpuStorage> {
    check_span("copy", x, l)?;
    let n = l.numel();
    let ctx = ctx_of(x);
    let mut out = GpuStorage::alloc(ctx, x.dtype, n, false, "copy")?;
    out.range = x.range;
    if n == 0 {
        return Ok(out);
    }
    if l.is_contiguous() {
        ctx.copy(&x.buf, l.offset as u64 * 4, &out.buf, 0, n as u64 * 4)?;
        return Ok(out);
    }
    let (p, contig) = ew_params("copy", &l.shape, &[(&l.strides, l.offset)])?;
    ctx.dispatch(
        &ew_kernel("copy_view", contig),
        &p,
        &[(1, &x.buf), (4, &out.buf)],
        grid_threads(ctx, n, "copy")?,
    )?;
    Ok(out)
}

/// Contiguous copy converted to `dtype`.
pub fn cast(x: &GpuStorage, l: &Layout, dtype: DType) -> Result<GpuStorage> {
    if dtype == DType::F64 {
        return Err(f64_unsupported("to"));
    }
    if dtype == x.dtype {
        return copy(x, l);
    }
    check_span("cast", x, l)?;
    let n = l.numel();
    let ctx = ctx_of(x);
    let mut out = GpuStorage::alloc(ctx, dtype, n, false, "cast")?;
    if dtype == DType::I64 && x.dtype == DType::Bool {
        out.range = Some((0, 1));
    }
    if n == 0 {
        return Ok(out);
    }
    let (p, contig) = ew_params("cast", &l.shape, &[(&l.strides, l.offset)])?;
    let k = ew_kernel("cast_to", contig)
        .with("DT", dt_code(x.dtype, "cast")?)
        .with("DT_OUT", dt_code(dtype, "cast")?);
    ctx.dispatch(
        &k,
        &p,
        &[(1, &x.buf), (4, &out.buf)],
        grid_threads(ctx, n, "cast")?,
    )?;
    Ok(out)
}

/// The bits of `value` in the GPU representation of `dtype`.
fn value_bits(op: &str, value: f64, dtype: DType) -> Result<u32> {
    Ok(match dtype {
        DType::F32 => (value as f32).to_bits(),
        DType::I64 => {
            let v = value as i64;
            i32::try_from(v).map_err(|_| {
                Error::Value(format!(
                    "{op}: {v} does not fit an int64 tensor on the GPU, which holds 32-bit values"
                ))
            })? as u32
        }
        DType::Bool => (value != 0.0) as u32,
        DType::F64 => return Err(f64_unsupported(op)),
    })
}

/// `n` elements equal to `value` on adapter `dev`.
pub fn full(dev: usize, n: usize, value: f64, dtype: DType) -> Result<GpuStorage> {
    let bits = value_bits("full", value, dtype)?;
    let ctx = context(dev)?;
    let mut out = GpuStorage::alloc(&ctx, dtype, n, false, "full")?;
    if dtype == DType::I64 {
        let v = bits as i32 as i64;
        out.range = Some((v, v));
    }
    if n == 0 {
        return Ok(out);
    }
    if bits == 0 {
        ctx.clear(&out.buf, n as u64 * 4)?;
        return Ok(out);
    }
    let mut p = vec![0u32; EW_WORDS];
    p[0] = u32_of("full", n)?;
    p[EW_S0] = bits;
    ctx.dispatch(
        &ew_kernel("fill_value", true),
        &p,
        &[(4, &out.buf)],
        grid_threads(&ctx, n, "full")?,
    )?;
    Ok(out)
}

// ---------------------------------------------------------------- elementwise maps

/// The shader's op code of a unary op and its scalar parameters.
fn unary_code(op: UnaryOp) -> (u32, f64, f64) {
    use UnaryOp::*;
    match op {
        Neg => (0, 0.0, 0.0),
        Abs => (1, 0.0, 0.0),
        Exp => (2, 0.0, 0.0),
        Log => (3, 0.0, 0.0),
        Sqrt => (4, 0.0, 0.0),
        Rsqrt => (5, 0.0, 0.0),
        Sin => (6, 0.0, 0.0),
        Cos => (7, 0.0, 0.0),
        Tanh => (8, 0.0, 0.0),
        Sigmoid => (9, 0.0, 0.0),
        Relu => (10, 0.0, 0.0),
        Gelu => (11, 0.0, 0.0),
        GeluGrad => (12, 0.0, 0.0),
        Sign => (13, 0.0, 0.0),
        Recip => (14, 0.0, 0.0),
        Square => (15, 0.0, 0.0),
        Floor => (16, 0.0, 0.0),
        Step => (17, 0.0, 0.0),
        AddScalar(c) => (18, c, 0.0),
        MulScalar(c) => (19, c, 0.0),
        RSubScalar(c) => (20, c, 0.0),
        RDivScalar(c) => (21, c, 0.0),
        PowScalar(p) => (22, p, 0.0),
        RPowScalar(c) => (23, c, 0.0),
        Clamp(lo, hi) => (24, lo, hi),
        ClampMask(lo, hi) => (25, lo, hi),
        LeakyRelu(s) => (26, s, 0.0),
        LeakyReluGrad(s) => (27, s, 0.0),
        Elu(a) => (28, a, 0.0),
        EluGrad(a) => (29, a, 0.0),
        Silu => (30, 0.0, 0.0),
        SiluGrad => (31, 0.0, 0.0),
        Log1p => (32, 0.0, 0.0),
        Not => (33, 0.0, 0.0),
        Round => (34, 0.0, 0.0),
        Ceil => (35, 0.0, 0.0),
        Trunc => (36, 0.0, 0.0),
        Erf => (37, 0.0, 0.0),
        Expm1 => (38, 0.0, 0.0),
        IsNan => (39, 0.0, 0.0),
        IsInf => (40, 0.0, 0.0),
        IsFinite => (41, 0.0, 0.0),
    }
}

/// An integer scalar as the CPU backend uses it (`c as i64`), wrapped to the GPU's i32.
fn int_scalar(c: f64) -> u32 {
    (c as i64) as i32 as u32
}

/// An integer clamp bound, saturated to the i32 range.
fn int_bound(c: f64) -> u32 {
    (c as i64).clamp(i32::MIN as i64, i32::MAX as i64) as i32 as u32
}

/// Unary elementwise op into a contiguous result of the same dtype.
pub fn unary(op: UnaryOp, x: &GpuStorage, l: &Layout) -> Result<GpuStorage> {
    let ok = match x.dtype {
        DType::F32 => true,
        DType::I64 => op.is_integral_ok(),
        DType::Bool => op == UnaryOp::Not,
        DType::F64 => false,
    };
    if !ok {
        return Err(Error::DType(format!(
            "{op:?}: not supported for dtype {}",
            x.dtype
        )));
    }
    check_span("unary", x, l)?;
    let n = l.numel();
    let ctx = ctx_of(x);
    let out = GpuStorage::alloc(ctx, x.dtype, n, false, "unary")?;
    if n == 0 {
        return Ok(out);
    }
    let (code, s0, s1) = unary_code(op);
    let (p, contig) = ew_params("unary", &l.shape, &[(&l.strides, l.offset)])?;
    let mut p = p;
    if x.dtype == DType::I64 {
        if let UnaryOp::Clamp(lo, hi) = op {
            p[EW_S0] = int_bound(lo.ceil());
            p[EW_S1] = int_bound(hi.floor());
        } else {
            p[EW_S0] = int_scalar(s0);
        }
    } else {
        p[EW_S0] = (s0 as f32).to_bits();
        p[EW_S1] = (s1 as f32).to_bits();
    }
    let k = ew_kernel("unary_map", contig)
        .with("OP", code)
        .with("DT", dt_code(x.dtype, "unary")?);
    ctx.dispatch(
        &k,
        &p,
        &[(1, &x.buf), (4, &out.buf)],
        grid_threads(ctx, n, "unary")?,
    )?;
    Ok(out)
}

fn binary_code(op: BinaryOp) -> u32 {
    use BinaryOp::*;
    match op {
        Add => 0,
        Sub => 1,
        Mul => 2,
        Div => 3,
        Pow => 4,
        Maximum => 5,
        Minimum => 6,
        Eq => 7,
        Ne => 8,
        Lt => 9,
        Le => 10,
        Gt => 11,
        Ge => 12,
        And => 13,
        Or => 14,
        ReluGrad => 15,
        FloorDiv => 16,
        Remainder => 17,
        Fmod => 18,
    }
}

/// Binary elementwise op over two views already broadcast to one shape.
pub fn binary(
    op: BinaryOp,
    a: &GpuStorage,
    la: &Layout,
    b: &GpuStorage,
    lb: &Layout,
) -> Result<GpuStorage> {
    if a.dtype != b.dtype {
        return Err(Error::DType(format!(
            "{}: dtypes {} and {} differ (internal promotion missing)",
            op.name(),
            a.dtype,
            b.dtype
        )));
    }
    if a.dtype == DType::Bool && matches!(op, BinaryOp::Sub | BinaryOp::Div | BinaryOp::Pow) {
        return Err(Error::DType(format!(
            "{}: not supported for bool tensors",
            op.name()
        )));
    }
    if la.shape != lb.shape {
        return Err(Error::Shape(format!(
            "{}: operand shapes {:?} and {:?} differ",
            op.name(),
            la.shape,
            lb.shape
        )));
    }
    check_span(op.name(), a, la)?;
    check_span(op.name(), b, lb)?;
    let out_dt = if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
        DType::Bool
    } else {
        a.dtype
    };
    let n = la.numel();
    let ctx = ctx_of(a);
    let out = GpuStorage::alloc(ctx, out_dt, n, false, op.name())?;
    if n == 0 {
        return Ok(out);
    }
    let (p, contig) = ew_params(
        op.name(),
        &la.shape,
        &[(&la.strides, la.offset), (&lb.strides, lb.offset)],
    )?;
    let k = ew_kernel("binary_map", contig)
        .with("OP", binary_code(op))
        .with("DT", dt_code(a.dtype, op.name())?);
    ctx.dispatch(
        &k,
        &p,
        &[(1, &a.buf), (2, &b.buf), (4, &out.buf)],
        grid_threads(ctx, n, op.name())?,
    )?;
    Ok(out)
}

fn union(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        _ => None,
    }
}

/// `c ? a : b` over three views broadcast to one shape.
pub fn where_(
    c: &GpuStorage,
    lc: &Layout,
    a: &GpuStorage,
    la: &Layout,
    b: &GpuStorage,
    lb: &Layout,
) -> Result<GpuStorage> {
    if c.dtype != DType::Bool {
        return Err(Error::DType(format!(
            "where: condition must be bool, got {}",
            c.dtype
        )));
    }
    if a.dtype != b.dtype {
        return Err(Error::DType(format!(
            "where: dtypes {} and {} differ",
            a.dtype, b.dtype
        )));
    }
    if lc.shape != la.shape || la.shape != lb.shape {
        return Err(Error::Shape(format!(
            "where: operand shapes {:?}, {:?} and {:?} differ",
            lc.shape, la.shape, lb.shape
        )));
    }
    check_span("where", c, lc)?;
    check_span("where", a, la)?;
    check_span("where", b, lb)?;
    let n = la.numel();
    let ctx = ctx_of(a);
    let mut out = GpuStorage::alloc(ctx, a.dtype, n, false, "where")?;
    out.range = union(a.range, b.range);
    if n == 0 {
        return Ok(out);
    }
    let (p, contig) = ew_params(
        "where",
        &la.shape,
        &[
            (&lc.strides, lc.offset),
            (&la.strides, la.offset),
            (&lb.strides, lb.offset),
        ],
    )?;
    ctx.dispatch(
        &ew_kernel("where_select", contig),
        &p,
        &[(1, &c.buf), (2, &a.buf), (3, &b.buf), (4, &out.buf)],
        grid_threads(ctx, n, "where")?,
    )?;
    Ok(out)
}

/// Writes `src` (broadcast to `ld.shape`) into the view `ld` of `dst`, casting to dst's dtype.
pub fn assign(dst: &mut GpuStorage, ld: &Layout, src: &GpuStorage, ls: &Layout) -> Result<()> {
    if ld.shape != ls.shape {
        return Err(Error::Shape(format!(
            "copy_: source of shape {:?} for a destination of shape {:?}",
            ls.shape, ld.shape
        )));
    }
    check_span("copy_", dst, ld)?;
    check_span("copy_", src, ls)?;
    let n = ld.numel();
    if n == 0 {
        return Ok(());
    }
    let src_range = match src.dtype {
        DType::I64 => src.range,
        DType::Bool => Some((0, 1)),
        _ => None,
    };
    dst.range = if dst.dtype == DType::I64 {
        union(dst.range, src_range)
    } else {
        None
    };
    let ctx = ctx_of(dst).clone();
    // slot B is unused by the kernel; the source layout fills it
    let (p, contig) = ew_params(
        "copy_",
        &ld.shape,
        &[
            (&ls.strides, ls.offset),
            (&ls.strides, ls.offset),
            (&ld.strides, ld.offset),
        ],
    )?;
    let k = ew_kernel("assign_view", contig)
        .with("DT", dt_code(src.dtype, "copy_")?)
        .with("DT_OUT", dt_code(dst.dtype, "copy_")?);
    ctx.dispatch(
        &k,
        &p,
        &[(1, &src.buf), (4, &dst.buf)],
        grid_threads(&ctx, n, "copy_")?,
    )
}

// ---------------------------------------------------------------- reductions

/// Reduction over sorted unique `dims`; the result has `l.shape` without them.
pub fn reduce(op: ReduceOp, x: &GpuStorage, l: &Layout, dims: &[usize]) -> Result<GpuStorage> {
    let name = format!("{op:?}");
    let dt = dt_code(x.dtype, &name)?;
    if dims.iter().any(|&d| d >= l.ndim()) {
        return Err(Error::Shape(format!(
            "{op:?}: dims {dims:?} out of range for shape {:?}",
            l.shape
        )));
    }
    check_span(&name, x, l)?;
    let keep: Vec<usize> = (0..l.ndim()).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = keep.iter().chain(dims.iter()).copied().collect();
    let pl = l.permute(&perm);
    let red: usize = dims.iter().map(|&d| l.shape[d]).product();
    let outer: usize = keep.iter().map(|&d| l.shape[d]).product();
    if red == 0 && op != ReduceOp::Sum {
        return Err(Error::Shape(format!(
            "{op:?}: cannot reduce over an empty dimension (shape {:?}, dims {dims:?})",
            l.shape
        )));
    }
    let (out_dt, code) = match op {
        ReduceOp::Sum => (
            if x.dtype == DType::Bool {
                DType::I64
            } else {
                x.dtype
            },
            0,
        ),
        ReduceOp::Max => (x.dtype, 1),
        ReduceOp::Min => (x.dtype, 2),
        ReduceOp::ArgMax => (DType::I64, 3),
        ReduceOp::ArgMin => (DType::I64, 4),
    };
    let ctx = ctx_of(x);
    let mut out = GpuStorage::alloc(ctx, out_dt, outer, false, &name)?;
    out.range = match op {
        ReduceOp::ArgMax | ReduceOp::ArgMin => Some((0, red as i64 - 1)),
        ReduceOp::Max | ReduceOp::Min => x.range,
        ReduceOp::Sum => None,
    };
    if outer == 0 {
        return Ok(out);
    }
    if red == 0 {
        ctx.clear(&out.buf, outer as u64 * 4)?;
        return Ok(out);
    }
    let (ms, mst) = merge(&pl.shape, &[&pl.strides]);
    if ms.len() > MAX_DIMS {
        return Err(too_many_dims(&name, &l.shape));
    }
    let mut p = vec![0u32; 22];
    p[0] = u32_of(&name, outer)?;
    p[1] = u32_of(&name, red)?;
    // the shaders index the (possibly broadcast) view with 32-bit flat indices
    u32_of(&name, outer * red)?;
    p[2] = ms.len() as u32;
    for d in 0..ms.len() {
        p[3 + d] = u32_of(&name, ms[d])?;
        p[11 + d] = u32_of(&name, mst[0][d])?;
    }
    p[19] = u32_of(&name, pl.offset)?;
    let contig = ms.is_empty() || (ms.len() == 1 && mst[0][0] == 1);
    let kernel = |entry| {
        Kernel::new(Shader::Reduce, entry)
            .with("OP", code)
            .with("DT", dt)
            .with("CONTIG", flag(contig))
    };
    if outer <= LONG_ROWS_MAX && red >= LONG_ROW {
        // a few long rows: many workgroups reduce chunks, then one per row reduces the chunks
        let chunks = red.div_ceil(CHUNK);
        p[20] = u32_of(&name, chunks)?;
        p[21] = CHUNK as u32;
        let part = GpuStorage::alloc(ctx, DType::F32, 2 * outer * chunks, false, &name)?;
        let groups = grid(ctx, outer * chunks, &name)?;
        ctx.dispatch(
            &kernel("reduce_partial"),
            &p,
            &[(1, &x.buf), (4, &part.buf)],
            groups,
        )?;
        ctx.dispatch(
            &kernel("reduce_final"),
            &p,
            &[(2, &out.buf), (3, &part.buf)],
            grid(ctx, outer, &name)?,
        )?;
        return Ok(out);
    }
    // many short rows: one invocation per row; otherwise a workgroup per row
    let (entry, groups) = if red <= 64 && outer >= 64 {
        ("reduce_thread", grid_threads(ctx, outer, &name)?)
    } else {
        ("reduce_wg", grid(ctx, outer, &name)?)
    };
    ctx.dispatch(&kernel(entry), &p, &[(1, &x.buf), (2, &out.buf)], groups)?;
    Ok(out)
}

/// Softmax or log-softmax over the last dim of a view.
pub fn softmax(x: &GpuStorage, l: &Layout, log: bool) -> Result<GpuStorage> {
    if x.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "softmax: expected a floating tensor, got {}",
            x.dtype
        )));
    }
    check_span("softmax", x, l)?;
    let n = l.numel();
    let len = *l.shape.last().unwrap_or(&1);
    let ctx = ctx_of(x);
    let out = GpuStorage::alloc(ctx, DType::F32, n, false, "softmax")?;
    if n == 0 {
        return Ok(out);
    }
    let rows = n / len;
    u32_of("softmax", n)?;
    let (ms, mst) = merge(&l.shape, &[&l.strides]);
    if ms.len() > MAX_DIMS {
        return Err(too_many_dims("softmax", &l.shape));
    }
    let mut p = vec![0u32; 20];
    p[0] = u32_of("softmax", rows)?;
    p[1] = u32_of("softmax", len)?;
    p[2] = ms.len() as u32;
    for d in 0..ms.len() {
        p[3 + d] = u32_of("softmax", ms[d])?;
        p[11 + d] = u32_of("softmax", mst[0][d])?;
    }
    p[19] = u32_of("softmax", l.offset)?;
    let contig = ms.is_empty() || (ms.len() == 1 && mst[0][0] == 1);
    let (entry, groups) = if len <= 64 {
        ("softmax_thread", grid_threads(ctx, rows, "softmax")?)
    } else {
        ("softmax_wg", grid(ctx, rows, "softmax")?)
    };
    let k = Kernel::new(Shader::Softmax, entry)
        .with("LOG", flag(log))
        .with("CONTIG", flag(contig));
    ctx.dispatch(&k, &p, &[(1, &x.buf), (2, &out.buf)], groups)?;
    Ok(out)
}

// ---------------------------------------------------------------- matmul

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

/// Batched matmul of `[B.., m, k]` and `[B.., k, n]` (equal batch dims) into `[B.., m, n]`.
pub fn matmul(a: &GpuStorage, la: &Layout, b: &GpuStorage, lb: &Layout) -> Result<GpuStorage> {
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
    check_span("matmul", a, la)?;
    check_span("matmul", b, lb)?;
    let (m, k, n) = (la.shape[nd - 2], la.shape[nd - 1], lb.shape[nd - 1]);
    let count: usize = la.shape[..nd - 2].iter().product();
    let ctx = ctx_of(a);
    let out = GpuStorage::alloc(ctx, DType::F32, count * m * n, false, "matmul")?;
    if count * m * n == 0 {
        return Ok(out);
    }
    if k == 0 {
        ctx.clear(&out.buf, (count * m * n) as u64 * 4)?;
        return Ok(out);
    }
    // A dense copy costs one pass over an operand, cheap next to the product once it is big:
    // it buys vec4 loads (and coalesced reads of transposed operands).
    let big = m * n * k >= 1 << 18;
    let mut a_copy = None;
    let mut b_copy = None;
    let mut la2 = la.clone();
    let mut lb2 = lb.clone();
    if big && !vec4_ok(la, k, m) && k.is_multiple_of(4) {
        a_copy = Some(copy(a, la)?);
        la2 = Layout::contiguous(&la.shape);
    }
    if big && !vec4_ok(lb, n, k) && n.is_multiple_of(4) {
        b_copy = Some(copy(b, lb)?);
        lb2 = Layout::contiguous(&lb.shape);
    }
    let (mut bs, mut bst) = merge(
        &la.shape[..nd - 2],
        &[&la2.strides[..nd - 2], &lb2.strides[..nd - 2]],
    );
    if bs.len() > MAX_BATCH_DIMS {
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
    let a_vec = vec4_ok(&la2, k, m);
    let b_vec = vec4_ok(&lb2, n, k);

    let mut p = vec![0u32; 29];
    p[0] = u32_of("matmul", m)?;
    p[1] = u32_of("matmul", n)?;
    p[2] = u32_of("matmul", k)?;
    p[3] = bs.len() as u32;
    p[4] = u32_of("matmul", la2.offset)?;
    p[5] = u32_of("matmul", lb2.offset)?;
    p[6] = u32_of("matmul", la2.strides[nd - 2])?;
    p[7] = u32_of("matmul", la2.strides[nd - 1])?;
    p[8] = u32_of("matmul", lb2.strides[nd - 2])?;
    p[9] = u32_of("matmul", lb2.strides[nd - 1])?;
    for d in 0..bs.len() {
        p[11 + d] = u32_of("matmul", bs[d])?;
        p[17 + d] = u32_of("matmul", bst[0][d])?;
        p[23 + d] = u32_of("matmul", bst[1][d])?;
    }
    u32_of("matmul", count * m * n)?;
    let kernel = Kernel::new(Shader::Matmul, "matmul")
        .with("A_VEC", flag(a_vec))
        .with("B_VEC", flag(b_vec));
    let gx = u32_of("matmul", n.div_ceil(64))?;
    let gy = u32_of("matmul", m.div_ceil(64))?;
    let zmax = ctx.limits.max_compute_workgroups_per_dimension as usize;
    let mut base = 0;
    while base < count {
        let z = (count - base).min(zmax);
        p[10] = base as u32;
        ctx.dispatch(
            &kernel,
            &p,
            &[
                (1, &a_use.buf),
                (2, &b_use.buf),
                (3, &out.buf),
                (4, &a_use.buf),
                (5, &b_use.buf),
            ],
            [gx, gy, z as u32],
        )?;
        base += z;
    }
    Ok(out)
}

// ---------------------------------------------------------------- convolution

fn geom_words(g: &Conv2dGeom) -> Result<Vec<u32>> {
    [
        g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow,
    ]
    .iter()
    .map(|&v| u32_of("conv", v))
    .collect()
}

/// `(N,C,H,W)` → columns `(N·oh·ow, C·kh·kw)`, `pad_value` outside the image.
pub fn im2col(x: &GpuStorage, l: &Layout, g: &Conv2dGeom, pad_value: f64) -> Result<GpuStorage> {
    if x.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "im2col: expected a floating tensor, got {}",
            x.dtype
        )));
    }
    if l.shape != [g.n, g.c, g.h, g.w] {
        return Err(Error::Shape(format!(
            "im2col: input of shape {:?} for geometry {g:?}",
            l.shape
        )));
    }
    check_span("im2col", x, l)?;
    let total = g.n * g.col_rows() * g.col_cols();
    let ctx = ctx_of(x);
    let out = GpuStorage::alloc(ctx, DType::F32, total, false, "im2col")?;
    if total == 0 {
        return Ok(out);
    }
    let mut p = vec![u32_of("im2col", total)?];
    p.extend(geom_words(g)?);
    for &s in &l.strides {
        p.push(u32_of("im2col", s)?);
    }
    p.push(u32_of("im2col", l.offset)?);
    p.push((pad_value as f32).to_bits());
    ctx.dispatch(
        &Kernel::new(Shader::Conv, "im2col"),
        &p,
        &[(1, &x.buf), (2, &out.buf)],
        grid_threads(ctx, total, "im2col")?,
    )?;
    Ok(out)
}

/// Columns `(N·oh·ow, C·kh·kw)` → `(N,C,H,W)`, overlapping taps summed.
pub fn col2im(x: &GpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<GpuStorage> {
    if x.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "col2im: expected a floating tensor, got {}",
            x.dtype
        )));
    }
    if l.shape != [g.n * g.col_cols(), g.col_rows()] {
        return Err(Error::Shape(format!(
            "col2im: columns of shape {:?} for geometry {g:?}",
            l.shape
        )));
    }
    check_span("col2im", x, l)?;
    let total = g.n * g.c * g.h * g.w;
    let ctx = ctx_of(x);
    let out = GpuStorage::alloc(ctx, DType::F32, total, false, "col2im")?;
    if total == 0 {
        return Ok(out);
    }
    let mut p = vec![u32_of("col2im", total)?];
    p.extend(geom_words(g)?);
    for &s in &l.strides {
        p.push(u32_of("col2im", s)?);
    }
    p.extend([0, 0]);
    p.push(u32_of("col2im", l.offset)?);
    ctx.dispatch(
        &Kernel::new(Shader::Conv, "col2im"),
        &p,
        &[(1, &x.buf), (2, &out.buf)],
        grid_threads(ctx, total, "col2im")?,
    )?;
    Ok(out)
}

/// Max pooling of each `(H, W)` plane: values `(N,C,oh,ow)` and the int64 flat index
/// `h·W + w` of each window's maximum (first on ties; NaN wins), as the CPU backend.
pub fn max_pool2d(x: &GpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<(GpuStorage, GpuStorage)> {
    if x.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "max_pool2d: expected a floating tensor, got {}",
            x.dtype
        )));
    }
    if l.shape != [g.n, g.c, g.h, g.w] {
        return Err(Error::Shape(format!(
            "max_pool2d: input of shape {:?} for geometry {g:?}",
            l.shape
        )));
    }
    check_span("max_pool2d", x, l)?;
    let total = g.n * g.c * g.oh * g.ow;
    let ctx = ctx_of(x);
    let vals = GpuStorage::alloc(ctx, DType::F32, total, false, "max_pool2d")?;
    let mut idx = GpuStorage::alloc(ctx, DType::I64, total, false, "max_pool2d")?;
    idx.range = Some((0, (g.h * g.w) as i64 - 1));
    if total == 0 {
        return Ok((vals, idx));
    }
    let mut p = vec![u32_of("max_pool2d", total)?];
    p.extend(geom_words(g)?);
    for &s in &l.strides {
        p.push(u32_of("max_pool2d", s)?);
    }
    p.push(u32_of("max_pool2d", l.offset)?);
    ctx.dispatch(
        &Kernel::new(Shader::Conv, "max_pool"),
        &p,
        &[(1, &x.buf), (2, &vals.buf), (3, &idx.buf)],
        grid_threads(ctx, total, "max_pool2d")?,
    )?;
    Ok((vals, idx))
}

// ---------------------------------------------------------------- indexing

fn index_dtype(op: &str, idx: &GpuStorage) -> Result<()> {
    if idx.dtype != DType::I64 {
        return Err(Error::DType(format!(
            "{op}: indices must be int64, got {}",
            idx.dtype
        )));
    }
    Ok(())
}

/// Raises `Error::Index` unless every index of the view is in `[0, size)`.
///
/// Free when the index tensor's value range is known on the host (it was uploaded, filled, or
/// produced by argmax / where / a copy of such); otherwise a min and a max reduction run on the
/// GPU and their two values are read back (one submit and wait).
fn check_indices(op: &str, idx: &GpuStorage, li: &Layout, size: usize, dim: usize) -> Result<()> {
    if li.numel() == 0 {
        return Ok(());
    }
    if let Some((lo, hi)) = idx.range {
        if lo >= 0 && (hi as i128) < size as i128 {
            return Ok(());
        }
    }
    bump(&COUNTERS.index_checks);
    let all: Vec<usize> = (0..li.ndim()).collect();
    let mn = reduce(ReduceOp::Min, idx, li, &all)?;
    let mx = reduce(ReduceOp::Max, idx, li, &all)?;
    let vals = idx.ctx.read_back(&[(&mn.buf, 0, 4), (&mx.buf, 0, 4)])?;
    let word = |v: &Vec<u8>| {
        v.get(..4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    let (lo, hi) = (word(&vals[0]), word(&vals[1]));
    let bad = if lo < 0 {
        lo
    } else if hi as usize >= size {
        hi
    } else {
        return Ok(());
    };
    Err(Error::Index(format!(
        "{op}: index {bad} is out of bounds for dimension {dim} with size {size}"
    )))
}

fn check_rank(op: &str, shape: &[usize]) -> Result<()> {
    if shape.len() > MAX_DIMS {
        return Err(Error::Gpu(format!("{op}: tensors of more than {MAX_DIMS} dims are not supported on the GPU, got {shape:?}")));
    }
    Ok(())
}

/// Entries `idx` (1-D int64) along `dim` of `x`.
pub fn index_select(
    x: &GpuStorage,
    l: &Layout,
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
) -> Result<GpuStorage> {
    index_dtype("index_select", idx)?;
    if li.ndim() != 1 || dim >= l.ndim() {
        return Err(Error::Shape(format!(
            "index_select: expected a 1-D index and dim < {}, got index shape {:?} and dim {dim}",
            l.ndim(),
            li.shape
        )));
    }
    check_rank("index_select", &l.shape)?;
    check_span("index_select", x, l)?;
    check_span("index_select", idx, li)?;
    let size = l.shape[dim];
    check_indices("index_select", idx, li, size, dim)?;
    let mut shape = l.shape.clone();
    shape[dim] = li.numel();
    let n: usize = shape.iter().product();
    let ctx = ctx_of(x);
    let mut out = GpuStorage::alloc(ctx, x.dtype, n, false, "index_select")?;
    out.range = x.range;
    if n == 0 {
        return Ok(out);
    }
    let mut p = vec![0u32; 23];
    p[0] = u32_of("index_select", n)?;
    p[1] = shape.len() as u32;
    for d in 0..shape.len() {
        p[2 + d] = u32_of("index_select", shape[d])?;
        p[10 + d] = u32_of("index_select", l.strides[d])?;
    }
    p[18] = u32_of("index_select", l.offset)?;
    p[19] = dim as u32;
    p[20] = u32_of("index_select", size)?;
    p[21] = u32_of("index_select", li.offset)?;
    p[22] = u32_of("index_select", li.strides[0])?;
    let k = Kernel::new(Shader::Index, "index_select");
    ctx.dispatch(
        &k,
        &p,
        &[(1, &x.buf), (2, &idx.buf), (3, &out.buf)],
        grid_threads(ctx, n, "index_select")?,
    )?;
    Ok(out)
}

fn accumulate_dtype(op: &str, src: &GpuStorage) -> Result<u32> {
    match src.dtype {
        DType::F32 => Ok(0),
        DType::I64 => Ok(1),
        DType::F64 => Err(f64_unsupported(op)),
        DType::Bool => Err(Error::DType(format!(
            "{op}: not supported for {}",
            src.dtype
        ))),
    }
}

/// Zeros of `shape` with slice `i` of `src` (along `dim`) added at slice `idx[i]`.
pub fn index_add(
    shape: &[usize],
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
    src: &GpuStorage,
    ls: &Layout,
) -> Result<GpuStorage> {
    index_dtype("index_add", idx)?;
    let dt = accumulate_dtype("index_add", src)?;
    let fits = li.ndim() == 1
        && dim < shape.len()
        && ls.ndim() == shape.len()
        && (0..shape.len()).all(|d| {
            if d == dim {
                ls.shape[d] == li.numel()
            } else {
                ls.shape[d] == shape[d]
            }
        });
    if !fits {
        return Err(Error::Shape(format!(
            "index_add: source of shape {:?} and index of shape {:?} do not fit a result of shape {shape:?} along dim {dim}",
            ls.shape, li.shape
        )));
    }
    check_rank("index_add", shape)?;
    check_span("index_add", src, ls)?;
    check_span("index_add", idx, li)?;
    check_indices("index_add", idx, li, shape[dim], dim)?;
    let total: usize = shape.iter().product();
    let ctx = ctx_of(src);
    let out = GpuStorage::alloc(ctx, src.dtype, total, false, "index_add")?;
    if total == 0 {
        return Ok(out);
    }
    ctx.clear(&out.buf, total as u64 * 4)?;
    let n = ls.numel();
    if n == 0 {
        return Ok(out);
    }
    let ostr = contiguous_strides(shape);
    let mut p = vec![0u32; 31];
    p[0] = u32_of("index_add", n)?;
    p[1] = shape.len() as u32;
    for d in 0..shape.len() {
        p[2 + d] = u32_of("index_add", ls.shape[d])?;
        p[10 + d] = u32_of("index_add", ls.strides[d])?;
        p[23 + d] = u32_of("index_add", ostr[d])?;
    }
    p[18] = u32_of("index_add", ls.offset)?;
    p[19] = dim as u32;
    p[20] = u32_of("index_add", shape[dim])?;
    p[21] = u32_of("index_add", li.offset)?;
    p[22] = u32_of("index_add", li.strides[0])?;
    let k = Kernel::new(Shader::Index, "index_add").with("DT", dt);
    ctx.dispatch(
        &k,
        &p,
        &[(1, &src.buf), (2, &idx.buf), (4, &out.buf)],
        grid_threads(ctx, n, "index_add")?,
    )?;
    Ok(out)
}

/// Parameter block of the gather / scatter_add kernels.
#[allow(clippy::too_many_arguments)]
fn gather_params(
    op: &str,
    li: &Layout,
    xstrides: &[usize],
    ostrides: &[usize],
    xoff: usize,
    dim: usize,
    size: usize,
) -> Result<Vec<u32>> {
    let nd = li.ndim();
    let mut p = vec![0u32; 38];
    p[0] = u32_of(op, li.numel())?;
    p[1] = nd as u32;
    for d in 0..nd {
        p[2 + d] = u32_of(op, li.shape[d])?;
        p[10 + d] = u32_of(op, li.strides[d])?;
        p[18 + d] = u32_of(op, xstrides[d])?;
        p[26 + d] = u32_of(op, ostrides.get(d).copied().unwrap_or(0))?;
    }
    p[34] = u32_of(op, li.offset)?;
    p[35] = u32_of(op, xoff)?;
    p[36] = dim as u32;
    p[37] = u32_of(op, size)?;
    Ok(p)
}

/// Fails unless `idx` fits `shape` on every dim but `dim` (as the CPU backend requires).
fn check_gather_shape(op: &str, ishape: &[usize], tshape: &[usize], dim: usize) -> Result<()> {
    for d in 0..ishape.len() {
        if d != dim && ishape[d] > tshape[d] {
            return Err(Error::Shape(format!(
                "{op}: index shape {ishape:?} exceeds tensor shape {tshape:?} at dim {d}"
            )));
        }
    }
    Ok(())
}

/// `out[p] = x[p with coordinate dim = idx[p]]`; the result has idx's shape.
pub fn gather(
    x: &GpuStorage,
    l: &Layout,
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
) -> Result<GpuStorage> {
    index_dtype("gather", idx)?;
    if li.ndim() != l.ndim() || dim >= l.ndim() {
        return Err(Error::Shape(format!(
            "gather: index must have as many dims as the input, got {:?} and {:?}",
            li.shape, l.shape
        )));
    }
    check_gather_shape("gather", &li.shape, &l.shape, dim)?;
    check_rank("gather", &l.shape)?;
    check_span("gather", x, l)?;
    check_span("gather", idx, li)?;
    check_indices("gather", idx, li, l.shape[dim], dim)?;
    let n = li.numel();
    let ctx = ctx_of(x);
    let mut out = GpuStorage::alloc(ctx, x.dtype, n, false, "gather")?;
    out.range = x.range;
    if n == 0 {
        return Ok(out);
    }
    let p = gather_params("gather", li, &l.strides, &[], l.offset, dim, l.shape[dim])?;
    ctx.dispatch(
        &Kernel::new(Shader::Index, "gather"),
        &p,
        &[(1, &x.buf), (2, &idx.buf), (3, &out.buf)],
        grid_threads(ctx, n, "gather")?,
    )?;
    Ok(out)
}

/// Zeros of `shape` with `src[p]` added at `p with coordinate dim = idx[p]`.
pub fn scatter_add(
    shape: &[usize],
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
    src: &GpuStorage,
    ls: &Layout,
) -> Result<GpuStorage> {
    index_dtype("scatter_add", idx)?;
    let dt = accumulate_dtype("scatter_add", src)?;
    if li.ndim() != shape.len() || dim >= shape.len() {
        return Err(Error::Shape(format!(
            "scatter_add: index must have as many dims as the output, got {:?} and {shape:?}",
            li.shape
        )));
    }
    if ls.shape != li.shape {
        return Err(Error::Shape(format!(
            "scatter_add: index shape {:?} and source shape {:?} must match",
            li.shape, ls.shape
        )));
    }
    check_gather_shape("scatter_add", &li.shape, shape, dim)?;
    check_rank("scatter_add", shape)?;
    check_span("scatter_add", src, ls)?;
    check_span("scatter_add", idx, li)?;
    check_indices("scatter_add", idx, li, shape[dim], dim)?;
    let total: usize = shape.iter().product();
    let ctx = ctx_of(src);
    let out = GpuStorage::alloc(ctx, src.dtype, total, false, "scatter_add")?;
    if total == 0 {
        return Ok(out);
    }
    ctx.clear(&out.buf, total as u64 * 4)?;
    let n = li.numel();
    if n == 0 {
        return Ok(out);
    }
    let p = gather_params(
        "scatter_add",
        li,
        &ls.strides,
        &contiguous_strides(shape),
        ls.offset,
        dim,
        shape[dim],
    )?;
    let k = Kernel::new(Shader::Index, "scatter_add").with("DT", dt);
    ctx.dispatch(
        &k,
        &p,
        &[(1, &src.buf), (2, &idx.buf), (4, &out.buf)],
        grid_threads(ctx, n, "scatter_add")?,
    )?;
    Ok(out)
}

// ---------------------------------------------------------------- random

/// `n` numbers from the counter-based generator at (`seed`, `offset`), as the CPU's `rand`.
pub fn rand(
    dev: usize,
    kind: RandKind,
    n: usize,
    seed: u64,
    offset: u64,
    dtype: DType,
) -> Result<GpuStorage> {
    match dtype {
        DType::F32 => {}
        DType::F64 => return Err(f64_unsupported("rand")),
        d => {
            return Err(Error::DType(format!(
                "rand: expected a floating dtype, got {d}"
            )))
        }
    }
    let ctx = context(dev)?;
    let out = GpuStorage::alloc(&ctx, DType::F32, n, false, "rand")?;
    if n == 0 {
        return Ok(out);
    }
    let (normal, a, b) = match kind {
        RandKind::Uniform(lo, hi) => (false, lo, hi - lo),
        RandKind::Normal(mean, std) => (true, mean, std),
    };
    let p = vec![
        u32_of("rand", n)?,
        seed as u32,
        (seed >> 32) as u32,
        offset as u32,
        (offset >> 32) as u32,
        (a as f32).to_bits(),
        (b as f32).to_bits(),
    ];
    let k = Kernel::new(Shader::Random, "rand").with("NORMAL", flag(normal));
    ctx.dispatch(&k, &p, &[(1, &out.buf)], grid_threads(&ctx, n, "rand")?)?;
    Ok(out)
}

// ---------------------------------------------------------------- optimizers

fn f(v: f64) -> u32 {
    (v as f32).to_bits()
}

/// One fused optimizer update of `p` (contiguous) with gradient `g` and its state buffers.
pub fn optim_step(
    step: &OptimStep,
    p: &mut GpuStorage,
    g: &GpuStorage,
    st: &mut [&mut GpuStorage],
) -> Result<()> {
    if p.dtype != DType::F32 || g.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "optimizer step: parameter {} and gradient {} must be float32 on the GPU",
            p.dtype, g.dtype
        )));
    }
    if p.len != g.len {
        return Err(Error::Shape(format!(
            "optimizer step: gradient of {} elements for a parameter of {}",
            g.len, p.len
        )));
    }
    for s in st.iter() {
        if s.dtype != DType::F32 {
            return Err(Error::DType(format!(
                "optimizer step: state buffer has dtype {}, unlike its parameter",
                s.dtype
            )));
        }
        if s.len != p.len {
            return Err(Error::Shape(format!(
                "optimizer step: state of {} elements for a parameter of {}",
                s.len, p.len
            )));
        }
    }
    let n = p.len;
    let mut w = vec![0u32; 16];
    w[0] = u32_of("optimizer step", n)?;
    let (entry, need, maximize) = match *step {
        OptimStep::Sgd {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            first,
            maximize,
        } => {
            w[2] = f(lr);
            w[3] = f(weight_decay);
            w[4] = f(momentum);
            w[5] = f(1.0 - dampening);
            w[8] = (momentum != 0.0) as u32;
            w[9] = nesterov as u32;
            w[10] = first as u32;
            ("sgd", usize::from(momentum != 0.0), maximize)
        }
        OptimStep::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            amsgrad,
            t,
            maximize,
        } => {
            let bc1 = 1.0 - beta1.powi(t as i32);
            let bc2_sqrt = (1.0 - beta2.powi(t as i32)).sqrt();
            w[2] = f(lr / bc1);
            w[3] = f(weight_decay);
            w[4] = f(beta1);
            w[5] = f(beta2);
            w[6] = f(bc2_sqrt);
            w[7] = f(eps);
            w[11] = f(1.0 - lr * weight_decay);
            w[8] = decoupled as u32;
            w[9] = amsgrad as u32;
            ("adam", 2 + usize::from(amsgrad), maximize)
        }
        OptimStep::RmsProp {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => {
            w[2] = f(lr);
            w[3] = f(weight_decay);
            w[4] = f(alpha);
            w[5] = f(eps);
            w[6] = f(momentum);
            w[8] = (momentum > 0.0) as u32;
            w[9] = centered as u32;
            (
                "rmsprop",
                1 + usize::from(momentum > 0.0) + usize::from(centered),
                maximize,
            )
        }
        OptimStep::Adagrad {
            lr,
            lr_decay,
            weight_decay,
            eps,
            t,
            maximize,
        } => {
            w[2] = f(lr / (1.0 + (t as f64 - 1.0) * lr_decay));
            w[3] = f(weight_decay);
            w[4] = f(eps);
            ("adagrad", 1, maximize)
        }
        OptimStep::Adamax {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            t,
            maximize,
        } => {
            w[2] = f(lr / (1.0 - beta1.powf(t as f64)));
            w[3] = f(weight_decay);
            w[4] = f(beta1);
            w[5] = f(beta2);
            w[6] = f(eps);
            ("adamax", 2, maximize)
        }
        OptimStep::NAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            maximize,
            ..
        } => {
            let (cg, cm, inv_bc2) = step.nadam_coefficients().unwrap_or((0.0, 0.0, 1.0));
            w[2] = f(cg);
            w[3] = f(weight_decay);
            w[4] = f(beta1);
            w[5] = f(beta2);
            w[6] = f(inv_bc2);
            w[7] = f(eps);
            w[11] = f(1.0 - lr * weight_decay);
            w[12] = f(cm);
            w[8] = decoupled as u32;
            ("nadam", 2, maximize)
        }
        OptimStep::RAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            maximize,
            ..
        } => {
            let (step_size, adaptive) = step.radam_coefficients().unwrap_or((0.0, false));
            w[2] = f(step_size);
            w[3] = f(weight_decay);
            w[4] = f(beta1);
            w[5] = f(beta2);
            w[6] = f(eps);
            w[11] = f(1.0 - lr * weight_decay);
            w[8] = decoupled as u32;
            w[9] = adaptive as u32;
            ("radam", 2, maximize)
        }
        OptimStep::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => {
            w[2] = f(lr);
            w[3] = f(weight_decay);
            w[4] = f(rho);
            w[5] = f(eps);
            ("adadelta", 2, maximize)
        }
    };
    w[1] = maximize as u32;
    if st.len() < need {
        return Err(Error::Value(format!(
            "optimizer step: {entry} needs {need} state buffers, got {}",
            st.len()
        )));
    }
    if n == 0 {
        return Ok(());
    }
    let ctx = ctx_of(p).clone();
    let slot = |i: usize| -> &wgpu::Buffer { st.get(i).map(|s| &s.buf).unwrap_or(&ctx.dummies[i]) };
    let mut bufs: Vec<(u32, &wgpu::Buffer)> = vec![(1, &g.buf), (2, &p.buf), (3, slot(0))];
    match entry {
        "adam" | "rmsprop" => {
            bufs.push((4, slot(1)));
            bufs.push((5, slot(2)));
        }
        "adamax" | "nadam" | "radam" | "adadelta" => bufs.push((4, slot(1))),
        _ => {}
    }
    ctx.dispatch(
        &Kernel::new(Shader::Optim, entry),
        &w,
        &bufs,
        grid_threads(&ctx, n, "optimizer step")?,
    )
}

// ---------------------------------------------------------------- host transfers

/// Copies host data to adapter `dev`. int64 values must fit in 32 bits (see the module doc).
pub fn upload(dev: usize, h: &CpuStorage) -> Result<GpuStorage> {
    let ctx = context(dev)?;
    let mut range = None;
    // f32 data goes up as it is; int64 and bool are narrowed to one 32-bit word each
    let (dtype, bytes): (DType, std::borrow::Cow<[u8]>) = match h {
        CpuStorage::F32(v) => (DType::F32, bytemuck::cast_slice(v).into()),
        CpuStorage::F64(_) => return Err(f64_unsupported("to")),
        CpuStorage::I64(v) => {
            let mut out = Vec::with_capacity(v.len() * 4);
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for (i, &x) in v.iter().enumerate() {
                let Ok(y) = i32::try_from(x) else {
                    return Err(Error::Value(format!(
                        "to(gpu): int64 value {x} at position {i} does not fit: int64 tensors on the GPU hold 32-bit values \
                         (range [{}, {}])",
                        i32::MIN,
                        i32::MAX
                    )));
                };
                lo = lo.min(x);
                hi = hi.max(x);
                out.extend_from_slice(&y.to_le_bytes());
            }
            if !v.is_empty() {
                range = Some((lo, hi));
            }
            (DType::I64, out.into())
        }
        CpuStorage::Bool(v) => (
            DType::Bool,
            v.iter()
                .flat_map(|&b| (b as u32).to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        ),
    };
    let mut out = GpuStorage::alloc(&ctx, dtype, h.len(), true, "to(gpu)")?;
    out.range = range;
    ctx.write(&out.buf, &bytes)?;
    Ok(out)
}

/// Copies a GPU storage back to the host (int64 widened from 32 bits, bools from 0/1 words).
pub fn download(g: &GpuStorage) -> Result<CpuStorage> {
    let bytes = if g.len == 0 {
        Vec::new()
    } else {
        g.ctx
            .read_back(&[(&g.buf, 0, g.len as u64 * 4)])?
            .pop()
            .unwrap_or_default()
    };
    let words = bytes.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]);
    Ok(match g.dtype {
        DType::F32 => CpuStorage::F32(words.map(f32::from_le_bytes).collect()),
        DType::I64 => CpuStorage::I64(words.map(|w| i32::from_le_bytes(w) as i64).collect()),
        DType::Bool => CpuStorage::Bool(words.map(|w| u32::from_le_bytes(w) != 0).collect()),
        DType::F64 => return Err(f64_unsupported("cpu")),
    })
}

// ---------------------------------------------------------------- scans and sorting

fn scan_dtype(op: &str, dt: DType) -> Result<u32> {
    match dt {
        DType::F32 => Ok(0),
        DType::I64 => Ok(1),
        DType::F64 => Err(f64_unsupported(op)),
        DType::Bool => Err(Error::DType(format!(
            "{op}: not supported for bool tensors"
        ))),
    }
}

/// `y_k = a_k * y_(k-1) + b_k` along `dim` from `init` (from the end when `reverse`), one
/// invocation per line; `a` and `b` are views of one shape and dtype.
pub fn linear_scan(
    a: &GpuStorage,
    la: &Layout,
    b: &GpuStorage,
    lb: &Layout,
    dim: usize,
    reverse: bool,
    init: f64,
) -> Result<GpuStorage> {
    if a.dtype != b.dtype || la.shape != lb.shape || dim >= la.shape.len().max(1) {
        return Err(Error::Shape(format!(
            "scan: operands of shapes {:?} and {:?} along dim {dim}",
            la.shape, lb.shape
        )));
    }
    let code = scan_dtype("scan", a.dtype)?;
    check_span("scan", a, la)?;
    check_span("scan", b, lb)?;
    let n_all = la.numel();
    let ctx = ctx_of(a);
    let out = GpuStorage::alloc(ctx, a.dtype, n_all, false, "scan")?;
    if n_all == 0 {
        return Ok(out);
    }
    let ac = copy(a, la)?;
    let bc = copy(b, lb)?;
    let shape: &[usize] = if la.shape.is_empty() { &[1] } else { &la.shape };
    let n = shape[dim];
    let inner: usize = shape[dim + 1..].iter().product();
    let lines = n_all / n;
    let mut p = vec![0u32; 4];
    p[0] = u32_of("scan", lines)?;
    p[1] = u32_of("scan", n)?;
    p[2] = u32_of("scan", inner)?;
    p[3] = value_bits("scan", init, a.dtype)?;
    let k = Kernel::new(Shader::Scan, "linear_scan")
        .with("DT", code)
        .with("REVERSE", flag(reverse));
    ctx.dispatch(
        &k,
        &p,
        &[(1, &ac.buf), (2, &bc.buf), (3, &out.buf)],
        grid_threads(ctx, lines, "scan")?,
    )?;
    Ok(out)
}

/// Stable argsort (int64) along the last dim of a view; NaN sorts above every number.
pub fn argsort(x: &GpuStorage, l: &Layout, descending: bool) -> Result<GpuStorage> {
    let code = match x.dtype {
        DType::Bool => 1,
        dt => scan_dtype("sort", dt)?,
    };
    check_span("sort", x, l)?;
    let total = l.numel();
    let n = *l.shape.last().unwrap_or(&1);
    let ctx = ctx_of(x);
    let mut out = GpuStorage::alloc(ctx, DType::I64, total, false, "sort")?;
    out.range = Some((0, n.saturating_sub(1) as i64));
    if total == 0 {
        return Ok(out);
    }
    let xc = copy(x, l)?;
    let p = vec![u32_of("sort", total)?, u32_of("sort", n)?];
    let k = Kernel::new(Shader::Scan, "argsort")
        .with("DT", code)
        .with("DESCENDING", flag(descending));
    ctx.dispatch(
        &k,
        &p,
        &[(1, &xc.buf), (3, &out.buf)],
        grid_threads(ctx, total, "sort")?,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::merge;

    #[test]
    fn merge_fuses_contiguous_runs_and_drops_unit_dims() {
        let (s, st) = merge(&[2, 3, 4], &[&[12, 4, 1]]);
        assert_eq!((s, st), (vec![24], vec![vec![1]]));
        // transposed last two dims stay apart
        let (s, st) = merge(&[2, 4, 3], &[&[12, 1, 4]]);
        assert_eq!((s, st), (vec![2, 4, 3], vec![vec![12, 1, 4]]));
        // a broadcast operand keeps its dims apart from the dense one
        let (s, st) = merge(&[5, 1, 7], &[&[7, 7, 1], &[0, 0, 1]]);
        assert_eq!((s, st), (vec![5, 7], vec![vec![7, 1], vec![0, 1]]));
        let (s, _) = merge(&[1, 1], &[&[1, 1]]);
        assert!(s.is_empty());
    }
}
