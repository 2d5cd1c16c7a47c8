//! Elementwise family (`shaders/elementwise.wgsl`): strided copies, casts, fills, unary and
//! binary maps, `where` and strided assignment.

use super::codes::{code_table, dt_code, wgsl_name};
use super::context::context;
use super::launch::{check_span, dispatch_threads, f64_unsupported, merge_checked, value_bits};
use super::params::{dims, param_block, u32_of, Dims};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::{BinaryOp, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

code_table!(
    /// Unary maps of `elementwise.wgsl` (`UN_*`).
    UnaryCode,
    "UN",
    [
        Neg, Abs, Exp, Log, Sqrt, Rsqrt, Sin, Cos, Tanh, Sigmoid, Relu, Gelu, GeluGrad, Sign,
        Recip, Square, Floor, Step, AddScalar, MulScalar, RSubScalar, RDivScalar, PowScalar,
        RPowScalar, Clamp, ClampMask, LeakyRelu, LeakyReluGrad, Elu, EluGrad, Silu, SiluGrad,
        Log1p, Not, Round, Ceil, Trunc, Erf, Expm1, IsNan, IsInf, IsFinite, Erfinv,
    ]
);

code_table!(
    /// Binary maps of `elementwise.wgsl` (`BIN_*`).
    BinaryCode,
    "BIN",
    [
        Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, And, Or, ReluGrad,
        FloorDiv, Remainder, Fmod, TanhGrad, SigmoidGrad,
    ]
);

param_block! {
    /// Parameters of every elementwise kernel: `n` elements of the merged `shape` (`ndim`
    /// dims); `strides[k]` and `off[k]` of operand k = A, B, C (C: the output view of
    /// `assign_view`); scalar operands `s0`, `s1` as bits of the dtype.
    pub struct EwParams {
        pub n: u32,
        pub ndim: u32,
        pub s0: u32,
        pub s1: u32,
        pub off: [u32; 4],
        pub shape: Dims,
        pub strides: [Dims; 3],
    }
}

const fn entry(
    name: &'static str,
    overrides: &'static [&'static str],
    bindings: &'static [(u32, Access)],
) -> Entry {
    Entry::threads::<EwParams>(Shader::Elementwise, name, overrides, bindings)
}

const IN_OUT: &[(u32, Access)] = &[(1, Access::Read), (4, Access::ReadWrite)];

/// `unary_map`: `O[i] = op(A[view i])`.
pub static UNARY_MAP: Entry = entry("unary_map", &["OP", "DT", "CONTIG"], IN_OUT);
/// `binary_map`: `O[i] = op(A[view i], B[view i])`.
pub static BINARY_MAP: Entry = entry(
    "binary_map",
    &["OP", "DT", "CONTIG"],
    &[(1, Access::Read), (2, Access::Read), (4, Access::ReadWrite)],
);
/// `where_select`: `O[i] = A ? B : C`.
pub static WHERE_SELECT: Entry = entry(
    "where_select",
    &["CONTIG"],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::ReadWrite),
    ],
);
/// `cast_to`: contiguous copy converted from `DT` to `DT_OUT`.
pub static CAST_TO: Entry = entry("cast_to", &["DT", "DT_OUT", "CONTIG"], IN_OUT);
/// `copy_view`: contiguous copy of a strided view.
pub static COPY_VIEW: Entry = entry("copy_view", &["CONTIG"], IN_OUT);
/// `assign_view`: writes view A into view C of the output, casting.
pub static ASSIGN_VIEW: Entry = entry("assign_view", &["DT", "DT_OUT", "CONTIG"], IN_OUT);
/// `fill_value`: every element set to `s0`.
pub static FILL_VALUE: Entry = entry("fill_value", &[], &[(4, Access::ReadWrite)]);

/// Every elementwise entry point.
pub(crate) static ENTRIES: [&Entry; 7] = [
    &UNARY_MAP,
    &BINARY_MAP,
    &WHERE_SELECT,
    &CAST_TO,
    &COPY_VIEW,
    &ASSIGN_VIEW,
    &FILL_VALUE,
];

impl EwParams {
    /// Parameters for `shape` with up to three operand layouts (strides, offset) for A, B, C;
    /// and whether every operand is plainly contiguous.
    fn new(op: &str, shape: &[usize], operands: &[(&[usize], usize)]) -> Result<(Self, bool)> {
        let strides: Vec<&[usize]> = operands.iter().map(|o| o.0).collect();
        let (ms, mst, contig) = merge_checked(op, shape, &strides)?;
        let mut p: EwParams = bytemuck::Zeroable::zeroed();
        p.n = u32_of(op, shape.iter().product())?;
        p.ndim = ms.len() as u32;
        p.shape = dims(op, &ms)?;
        for (k, st) in mst.iter().enumerate() {
            p.strides[k] = dims(op, st)?;
            p.off[k] = u32_of(op, operands[k].1)?;
        }
        Ok((p, contig))
    }
}

/// Dispatches one elementwise kernel over `n` outputs.
fn run(
    x: &GpuStorage,
    k: Kernel,
    p: &EwParams,
    bufs: &[&wgpu::Buffer],
    n: usize,
    op: &str,
) -> Result<()> {
    dispatch_threads(&x.ctx, &k, p, bufs, n, op)
}

// ---------------------------------------------------------------- copies, casts, fills

/// Contiguous copy of a view (a plain buffer copy when the view is dense).
pub fn copy(x: &GpuStorage, l: &Layout) -> Result<GpuStorage> {
    check_span("copy", x, l)?;
    let n = l.numel();
    let ctx = &x.ctx;
    let mut out = GpuStorage::alloc(ctx, x.dtype, n, false, "copy")?;
    out.range = x.range;
    if n == 0 {
        return Ok(out);
    }
    if l.is_contiguous() {
        ctx.copy(&x.buf, l.offset as u64 * 4, &out.buf, 0, n as u64 * 4)?;
        return Ok(out);
    }
    let (p, contig) = EwParams::new("copy", &l.shape, &[(&l.strides, l.offset)])?;
    let k = Kernel::new(&COPY_VIEW).flag("CONTIG", contig);
    run(x, k, &p, &[&x.buf, &out.buf], n, "copy")?;
    Ok(out)
}

/// Contiguous copy converted to `dtype`.
pub fn cast(x: &GpuStorage, l: &Layout, dtype: DType) -> Result<GpuStorage> {
    // a narrow integer is held as the GPU's integer storage; the caller wraps its values
    let dtype = dtype.storage();
    if dtype == DType::F64 {
        return Err(f64_unsupported("to"));
    }
    if dtype == x.dtype {
        return copy(x, l);
    }
    check_span("cast", x, l)?;
    let n = l.numel();
    let mut out = GpuStorage::alloc(&x.ctx, dtype, n, false, "cast")?;
    if dtype == DType::I64 && x.dtype == DType::Bool {
        out.range = Some((0, 1));
    }
    if n == 0 {
        return Ok(out);
    }
    let (p, contig) = EwParams::new("cast", &l.shape, &[(&l.strides, l.offset)])?;
    let k = Kernel::new(&CAST_TO)
        .flag("CONTIG", contig)
        .with("DT", dt_code(x.dtype, "cast")?)
        .with("DT_OUT", dt_code(dtype, "cast")?);
    run(x, k, &p, &[&x.buf, &out.buf], n, "cast")?;
    Ok(out)
}

/// `n` elements equal to `value` on adapter `dev`.
pub fn full(dev: usize, n: usize, value: f64, dtype: DType) -> Result<GpuStorage> {
    let bits = value_bits("full", value, dtype)?;
    let ctx = context(dev)?;
    // a few values (a backward's seed, a scalar) are written from the host: an upload costs
    // less than a kernel launch
    let small = n > 0 && n <= 64 && bits != 0;
    // a small fill is a staged upload, copied in command order: any pooled buffer will do
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
    if small {
        let bytes: Vec<u8> = std::iter::repeat_n(bits.to_le_bytes(), n)
            .flatten()
            .collect();
        ctx.write(&out.buf, &bytes)?;
        return Ok(out);
    }
    let mut p: EwParams = bytemuck::Zeroable::zeroed();
    p.n = u32_of("full", n)?;
    p.s0 = bits;
    let k = Kernel::new(&FILL_VALUE);
    run(&out, k, &p, &[&out.buf], n, "full")?;
    Ok(out)
}

// ---------------------------------------------------------------- elementwise maps

/// The shader's op code of a unary op and its scalar parameters.
fn unary_code(op: UnaryOp) -> (UnaryCode, f64, f64) {
    use UnaryCode as C;
    use UnaryOp::*;
    match op {
        Neg => (C::Neg, 0.0, 0.0),
        Abs => (C::Abs, 0.0, 0.0),
        Exp => (C::Exp, 0.0, 0.0),
        Log => (C::Log, 0.0, 0.0),
        Sqrt => (C::Sqrt, 0.0, 0.0),
        Rsqrt => (C::Rsqrt, 0.0, 0.0),
        Sin => (C::Sin, 0.0, 0.0),
        Cos => (C::Cos, 0.0, 0.0),
        Tanh => (C::Tanh, 0.0, 0.0),
        Sigmoid => (C::Sigmoid, 0.0, 0.0),
        Relu => (C::Relu, 0.0, 0.0),
        Gelu => (C::Gelu, 0.0, 0.0),
        GeluGrad => (C::GeluGrad, 0.0, 0.0),
        Sign => (C::Sign, 0.0, 0.0),
        Recip => (C::Recip, 0.0, 0.0),
        Square => (C::Square, 0.0, 0.0),
        Floor => (C::Floor, 0.0, 0.0),
        Step => (C::Step, 0.0, 0.0),
        AddScalar(c) => (C::AddScalar, c, 0.0),
        MulScalar(c) => (C::MulScalar, c, 0.0),
        RSubScalar(c) => (C::RSubScalar, c, 0.0),
        RDivScalar(c) => (C::RDivScalar, c, 0.0),
        PowScalar(p) => (C::PowScalar, p, 0.0),
        RPowScalar(c) => (C::RPowScalar, c, 0.0),
        Clamp(lo, hi) => (C::Clamp, lo, hi),
        ClampMask(lo, hi) => (C::ClampMask, lo, hi),
        LeakyRelu(s) => (C::LeakyRelu, s, 0.0),
        LeakyReluGrad(s) => (C::LeakyReluGrad, s, 0.0),
        Elu(a) => (C::Elu, a, 0.0),
        EluGrad(a) => (C::EluGrad, a, 0.0),
        Silu => (C::Silu, 0.0, 0.0),
        SiluGrad => (C::SiluGrad, 0.0, 0.0),
        Log1p => (C::Log1p, 0.0, 0.0),
        Not => (C::Not, 0.0, 0.0),
        Round => (C::Round, 0.0, 0.0),
        Ceil => (C::Ceil, 0.0, 0.0),
        Trunc => (C::Trunc, 0.0, 0.0),
        Erf => (C::Erf, 0.0, 0.0),
        Erfinv => (C::Erfinv, 0.0, 0.0),
        Expm1 => (C::Expm1, 0.0, 0.0),
        IsNan => (C::IsNan, 0.0, 0.0),
        IsInf => (C::IsInf, 0.0, 0.0),
        IsFinite => (C::IsFinite, 0.0, 0.0),
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
    let ok = match x.dtype.storage() {
        DType::F32 => true,
        DType::Bool => op == UnaryOp::Not,
        DType::F64 => false,
        _ => op.is_integral_ok(),
    };
    if !ok {
        return Err(Error::DType(format!(
            "{op:?}: not supported for dtype {}",
            x.dtype
        )));
    }
    check_span("unary", x, l)?;
    let n = l.numel();
    let out = GpuStorage::alloc(&x.ctx, x.dtype, n, false, "unary")?;
    if n == 0 {
        return Ok(out);
    }
    let (code, s0, s1) = unary_code(op);
    let (mut p, contig) = EwParams::new("unary", &l.shape, &[(&l.strides, l.offset)])?;
    if x.dtype == DType::I64 {
        if let UnaryOp::Clamp(lo, hi) = op {
            p.s0 = int_bound(lo.ceil());
            p.s1 = int_bound(hi.floor());
        } else {
            p.s0 = int_scalar(s0);
        }
    } else {
        p.s0 = (s0 as f32).to_bits();
        p.s1 = (s1 as f32).to_bits();
    }
    let k = Kernel::new(&UNARY_MAP)
        .flag("CONTIG", contig)
        .with("OP", code.code())
        .with("DT", dt_code(x.dtype, "unary")?);
    run(x, k, &p, &[&x.buf, &out.buf], n, "unary")?;
    Ok(out)
}

fn binary_code(op: BinaryOp) -> BinaryCode {
    use BinaryCode as C;
    use BinaryOp::*;
    match op {
        Add => C::Add,
        Sub => C::Sub,
        Mul => C::Mul,
        Div => C::Div,
        Pow => C::Pow,
        Maximum => C::Maximum,
        Minimum => C::Minimum,
        Eq => C::Eq,
        Ne => C::Ne,
        Lt => C::Lt,
        Le => C::Le,
        Gt => C::Gt,
        Ge => C::Ge,
        And => C::And,
        Or => C::Or,
        ReluGrad => C::ReluGrad,
        TanhGrad => C::TanhGrad,
        SigmoidGrad => C::SigmoidGrad,
        FloorDiv => C::FloorDiv,
        Remainder => C::Remainder,
        Fmod => C::Fmod,
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
    let out = GpuStorage::alloc(&a.ctx, out_dt, n, false, op.name())?;
    if n == 0 {
        return Ok(out);
    }
    let (p, contig) = EwParams::new(
        op.name(),
        &la.shape,
        &[(&la.strides, la.offset), (&lb.strides, lb.offset)],
    )?;
    let k = Kernel::new(&BINARY_MAP)
        .flag("CONTIG", contig)
        .with("OP", binary_code(op).code())
        .with("DT", dt_code(a.dtype, op.name())?);
    run(a, k, &p, &[&a.buf, &b.buf, &out.buf], n, op.name())?;
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
    let mut out = GpuStorage::alloc(&a.ctx, a.dtype, n, false, "where")?;
    out.range = union(a.range, b.range);
    if n == 0 {
        return Ok(out);
    }
    let (p, contig) = EwParams::new(
        "where",
        &la.shape,
        &[
            (&lc.strides, lc.offset),
            (&la.strides, la.offset),
            (&lb.strides, lb.offset),
        ],
    )?;
    let k = Kernel::new(&WHERE_SELECT).flag("CONTIG", contig);
    run(a, k, &p, &[&c.buf, &a.buf, &b.buf, &out.buf], n, "where")?;
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
    // slot B is unused by the kernel; the source layout fills it
    let (p, contig) = EwParams::new(
        "copy_",
        &ld.shape,
        &[
            (&ls.strides, ls.offset),
            (&ls.strides, ls.offset),
            (&ld.strides, ld.offset),
        ],
    )?;
    let k = Kernel::new(&ASSIGN_VIEW)
        .flag("CONTIG", contig)
        .with("DT", dt_code(src.dtype, "copy_")?)
        .with("DT_OUT", dt_code(dst.dtype, "copy_")?);
    run(dst, k, &p, &[&src.buf, &dst.buf], n, "copy_")
}
