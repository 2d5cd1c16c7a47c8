//! Backend dispatch: the primitive kernels every op is built from, routed to the CPU or the GPU.
//!
//! Each primitive takes storages with their layouts (already broadcast where it says so) and
//! returns a fresh contiguous storage. Ops in `crate::ops` compose these; the autograd rules are
//! written with ops too, so a backend that implements these primitives runs forward and backward.

pub mod cpu;
mod optim;
pub mod wgpu;

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::Storage;

pub use optim::{OptimCoefficients, OptimStep};

/// Elementwise functions of one tensor (floating, except where noted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    /// exact (erf) GELU
    Gelu,
    /// derivative of exact GELU
    GeluGrad,
    Sign,
    Recip,
    Square,
    Floor,
    /// x > 0 ? 1 : 0
    Step,
    AddScalar(f64),
    MulScalar(f64),
    /// c - x
    RSubScalar(f64),
    /// c / x
    RDivScalar(f64),
    /// x ^ p
    PowScalar(f64),
    /// c ^ x
    RPowScalar(f64),
    Clamp(f64, f64),
    /// 1 where min <= x <= max else 0
    ClampMask(f64, f64),
    LeakyRelu(f64),
    /// 1 where x > 0 else slope
    LeakyReluGrad(f64),
    Elu(f64),
    /// derivative of ELU: 1 where x > 0 else alpha * exp(x)
    EluGrad(f64),
    Silu,
    SiluGrad,
    Log1p,
    /// logical not, bool in bool out
    Not,
    /// round half to even
    Round,
    Ceil,
    Trunc,
    Erf,
    /// exp(x) - 1, accurate near 0
    Expm1,
    /// 1 where x is NaN else 0 (float in, float out)
    IsNan,
    /// 1 where x is ±inf else 0
    IsInf,
    /// 1 where x is neither NaN nor ±inf else 0
    IsFinite,
}

impl UnaryOp {
    /// Piecewise-constant ops and derivative helpers: their gradient is zero almost everywhere.
    pub fn is_piecewise_constant(self) -> bool {
        matches!(
            self,
            UnaryOp::Sign
                | UnaryOp::Floor
                | UnaryOp::Step
                | UnaryOp::ClampMask(..)
                | UnaryOp::LeakyReluGrad(_)
                | UnaryOp::GeluGrad
                | UnaryOp::EluGrad(_)
                | UnaryOp::SiluGrad
                | UnaryOp::Not
                | UnaryOp::Round
                | UnaryOp::Ceil
                | UnaryOp::Trunc
                | UnaryOp::IsNan
                | UnaryOp::IsInf
                | UnaryOp::IsFinite
        )
    }

    /// Ops that also make sense on integer tensors, computed in integers.
    pub fn is_integral_ok(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Sign
                | UnaryOp::Square
                | UnaryOp::Relu
                | UnaryOp::Clamp(..)
                | UnaryOp::AddScalar(_)
                | UnaryOp::MulScalar(_)
                | UnaryOp::RSubScalar(_)
        )
    }
}

/// Elementwise functions of two tensors of one dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    /// `a` where `b > 0`, else 0 (and `a` where `b` is NaN): ReLU's backward, `a` the output
    /// gradient and `b` the input, in one pass.
    ReluGrad,
    /// floor(a / b) (Python's `//`); 0 for an integer division by zero
    FloorDiv,
    /// a - b * floor(a / b), the sign of `b` (Python's `%`)
    Remainder,
    /// a - b * trunc(a / b), the sign of `a` (C's fmod)
    Fmod,
}

impl BinaryOp {
    /// True for the ops whose result is a bool tensor.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::And => "logical_and",
            BinaryOp::Or => "logical_or",
            BinaryOp::ReluGrad => "relu_backward",
            BinaryOp::FloorDiv => "floor_divide",
            BinaryOp::Remainder => "remainder",
            BinaryOp::Fmod => "fmod",
        }
    }
}

/// Reductions over a set of dims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
    Min,
    /// index (int64) of the first maximum, over exactly one dim
    ArgMax,
    /// index (int64) of the first minimum, over exactly one dim
    ArgMin,
}

/// Geometry of an im2col / col2im for 2-D convolution and pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Conv2dGeom {
    /// Rows of the column matrix: `c * kh * kw`.
    pub fn col_rows(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Columns of the column matrix: `oh * ow`.
    pub fn col_cols(&self) -> usize {
        self.oh * self.ow
    }
}

/// Distributions for random fills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RandKind {
    /// uniform in [low, high)
    Uniform(f64, f64),
    /// normal with mean, std
    Normal(f64, f64),
}

fn same_device(op: &str, a: &Storage, b: &Storage) -> Result<()> {
    if a.device() != b.device() {
        return Err(Error::Device(format!(
            "{op}: expected all tensors on one device, got {} and {}",
            a.device(),
            b.device()
        )));
    }
    Ok(())
}

macro_rules! route {
    ($op:literal, $first:expr; $cpu:expr; $gpu:expr) => {
        guard($op, || match $first {
            Storage::Cpu(_) => $cpu,
            Storage::Gpu(_) => $gpu,
        })
    };
}

/// Runs a kernel, turning a panic (a bug: kernels check their inputs) into an error naming the
/// op, so the process and the library survive it.
pub(crate) fn guard<T>(op: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::Runtime(format!(
            "internal error in {op}: {msg}; please report this as a rustdl bug"
        )))
    })
}

/// int64 tensors on the GPU hold 32-bit values: their sums and products are computed exactly
/// on the host, and a result outside the 32-bit range is an error, never a wrapped value.
fn int_result_to_gpu(
    op: &str,
    dev: usize,
    r: Result<crate::storage::CpuStorage>,
) -> Result<Storage> {
    let r = r?;
    wgpu::upload(dev, &r).map(Storage::Gpu).map_err(|e| match e {
        Error::Value(m) => Error::Value(format!(
            "{op}: the int64 result overflows the GPU's 32-bit integers; move the tensor to the CPU for 64-bit range ({m})"
        )),
        other => other,
    })
}

/// `r` when it lies in the GPU's 32-bit integer range.
fn fits_i32(r: (i64, i64)) -> Option<(i64, i64)> {
    (r.0 >= i32::MIN as i64 && r.1 <= i32::MAX as i64).then_some(r)
}

/// The value range of an integer unary op's result from its input's range, when it is sure to
/// fit 32 bits (then the GPU kernel is exact).
fn unary_int_range(op: UnaryOp, (lo, hi): (i64, i64)) -> Option<(i64, i64)> {
    let int = |c: f64| (c.fract() == 0.0 && c.abs() < 2f64.powi(31)).then_some(c as i64);
    let span = |a: i64, b: i64| (a.min(b), a.max(b));
    let r = match op {
        UnaryOp::Neg => (hi.checked_neg()?, lo.checked_neg()?),
        UnaryOp::Abs => {
            let m = lo.checked_abs()?.max(hi.checked_abs()?);
            (
                if lo <= 0 && hi >= 0 {
                    0
                } else {
                    lo.abs().min(hi.abs())
                },
                m,
            )
        }
        UnaryOp::Square => {
            let m = lo.checked_abs()?.max(hi.checked_abs()?);
            (0, m.checked_mul(m)?)
        }
        UnaryOp::AddScalar(c) => (lo.checked_add(int(c)?)?, hi.checked_add(int(c)?)?),
        UnaryOp::RSubScalar(c) => (int(c)?.checked_sub(hi)?, int(c)?.checked_sub(lo)?),
        UnaryOp::MulScalar(c) => span(lo.checked_mul(int(c)?)?, hi.checked_mul(int(c)?)?),
        _ => return None,
    };
    fits_i32(r)
}

/// As [`unary_int_range`] for a binary op's two input ranges.
fn binary_int_range(op: BinaryOp, a: (i64, i64), b: (i64, i64)) -> Option<(i64, i64)> {
    let r = match op {
        BinaryOp::Add => (a.0.checked_add(b.0)?, a.1.checked_add(b.1)?),
        BinaryOp::Sub => (a.0.checked_sub(b.1)?, a.1.checked_sub(b.0)?),
        BinaryOp::Mul => {
            let p = [
                a.0.checked_mul(b.0)?,
                a.0.checked_mul(b.1)?,
                a.1.checked_mul(b.0)?,
                a.1.checked_mul(b.1)?,
            ];
            (*p.iter().min()?, *p.iter().max()?)
        }
        _ => return None,
    };
    fits_i32(r)
}

/// Size above which an output allocation is tried fallibly before the kernel runs.
const PROBE_BYTES: usize = 16 << 20;

/// Checks that `n` elements of `dtype` can be allocated for `op` on `device`: an impossible
/// size is a `MemoryError` naming the op and the bytes, never an abort.
pub fn reserve(n: usize, dtype: DType, device: Device, op: &str) -> Result<()> {
    let bytes = n
        .checked_mul(dtype.size())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::Memory(format!(
                "{op}: cannot allocate {n} elements of {dtype} (the byte count overflows)"
            ))
        })?;
    if device == Device::Cpu && bytes >= PROBE_BYTES {
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| {
            Error::Memory(format!(
                "{op}: cannot allocate {bytes} bytes ({n} elements of {dtype}) on the CPU"
            ))
        })?;
    }
    Ok(())
}

/// Contiguous copy of a strided view.
pub fn copy(x: &Storage, l: &Layout) -> Result<Storage> {
    reserve(l.numel(), x.dtype(), x.device(), "copy")?;
    match x {
        Storage::Cpu(c) => Ok(Storage::Cpu(cpu::copy(c, l))),
        Storage::Gpu(g) => Ok(Storage::Gpu(wgpu::copy(g, l)?)),
    }
}

/// Contiguous copy converted to `dtype`.
pub fn cast(x: &Storage, l: &Layout, dtype: DType) -> Result<Storage> {
    reserve(l.numel(), dtype, x.device(), "to")?;
    match x {
        Storage::Cpu(c) => Ok(Storage::Cpu(cpu::cast(c, l, dtype))),
        Storage::Gpu(g) => Ok(Storage::Gpu(wgpu::cast(g, l, dtype)?)),
    }
}

/// `n` elements equal to `value`.
pub fn full(n: usize, value: f64, dtype: DType, device: Device) -> Result<Storage> {
    reserve(n, dtype, device, "full")?;
    match device {
        Device::Cpu => Ok(Storage::Cpu(crate::storage::CpuStorage::full(
            n, value, dtype,
        ))),
        Device::Gpu(i) => Ok(Storage::Gpu(wgpu::full(i, n, value, dtype)?)),
    }
}

/// Unary elementwise op into a contiguous result of the same dtype.
pub fn unary(op: UnaryOp, x: &Storage, l: &Layout) -> Result<Storage> {
    reserve(l.numel(), x.dtype(), x.device(), "elementwise op")?;
    if let (Storage::Gpu(g), UnaryOp::PowScalar(p)) = (x, op) {
        let p32 = p as f32;
        // exponents whose float32 rounding changes the result's kind: to 0 or ∞, or onto an
        // integer (a negative base then gives a number instead of NaN)
        let changes_kind =
            p32 == 0.0 || !p32.is_finite() || (p32.fract() == 0.0 && p.fract() != 0.0);
        if x.dtype() == DType::F32 && p.is_finite() && p != 0.0 && changes_kind {
            // the shaders' float32 parameter cannot hold this exponent: exact on the host
            let h = wgpu::download(&wgpu::copy(g, l)?)?;
            let r = cpu::unary(op, &h, &Layout::contiguous(&l.shape))?;
            return Ok(Storage::Gpu(wgpu::upload(g.device_index(), &r)?));
        }
    }
    if let Storage::Gpu(g) = x {
        if x.dtype() == DType::I64
            && matches!(
                op,
                UnaryOp::Neg
                    | UnaryOp::Abs
                    | UnaryOp::Square
                    | UnaryOp::AddScalar(_)
                    | UnaryOp::MulScalar(_)
                    | UnaryOp::RSubScalar(_)
                    | UnaryOp::PowScalar(_)
            )
        {
            if let Some(r) = g.range.and_then(|r| unary_int_range(op, r)) {
                let mut out = wgpu::unary(op, g, l)?;
                out.range = Some(r);
                return Ok(Storage::Gpu(out));
            }
            let h = wgpu::download(&wgpu::copy(g, l)?)?;
            let lh = Layout::contiguous(&l.shape);
            return int_result_to_gpu("elementwise op", g.device_index(), cpu::unary(op, &h, &lh));
        }
    }
    route!("unary", x; Ok(Storage::Cpu(cpu::unary(op, cpu_of(x), l)?)); Ok(Storage::Gpu(wgpu::unary(op, gpu_of(x), l)?)))
}

/// Binary elementwise op; both layouts already broadcast to the output shape, both one dtype.
pub fn binary(op: BinaryOp, a: &Storage, la: &Layout, b: &Storage, lb: &Layout) -> Result<Storage> {
    same_device(op.name(), a, b)?;
    reserve(la.numel(), a.dtype(), a.device(), op.name())?;
    if let (Storage::Gpu(ga), Storage::Gpu(gb)) = (a, b) {
        if a.dtype() == DType::I64
            && matches!(
                op,
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Pow
            )
        {
            let known = ga.range.zip(gb.range);
            if let Some(r) = known.and_then(|(x, y)| binary_int_range(op, x, y)) {
                let mut out = wgpu::binary(op, ga, la, gb, lb)?;
                out.range = Some(r);
                return Ok(Storage::Gpu(out));
            }
            let ha = wgpu::download(&wgpu::copy(ga, la)?)?;
            let hb = wgpu::download(&wgpu::copy(gb, lb)?)?;
            let lc = Layout::contiguous(&la.shape);
            return int_result_to_gpu(
                op.name(),
                ga.device_index(),
                cpu::binary(op, &ha, &lc, &hb, &lc),
            );
        }
    }
    route!("binary", a;
        Ok(Storage::Cpu(cpu::binary(op, cpu_of(a), la, cpu_of(b), lb)?));
        Ok(Storage::Gpu(wgpu::binary(op, gpu_of(a), la, gpu_of(b), lb)?)))
}

/// `cond ? a : b`; all layouts broadcast to the output shape; `cond` is bool.
pub fn where_(
    c: &Storage,
    lc: &Layout,
    a: &Storage,
    la: &Layout,
    b: &Storage,
    lb: &Layout,
) -> Result<Storage> {
    same_device("where", c, a)?;
    same_device("where", a, b)?;
    reserve(la.numel(), a.dtype(), a.device(), "where")?;
    route!("where", a;
        Ok(Storage::Cpu(cpu::where_(cpu_of(c), lc, cpu_of(a), la, cpu_of(b), lb)?));
        Ok(Storage::Gpu(wgpu::where_(gpu_of(c), lc, gpu_of(a), la, gpu_of(b), lb)?)))
}

/// Reduction over `dims` (sorted, unique); the result has `l.shape` with those dims removed.
pub fn reduce(op: ReduceOp, x: &Storage, l: &Layout, dims: &[usize]) -> Result<Storage> {
    if let Storage::Gpu(g) = x {
        if op == ReduceOp::Sum && matches!(x.dtype(), DType::I64 | DType::Bool) {
            let count: usize = dims
                .iter()
                .map(|&d| l.shape.get(d).copied().unwrap_or(1))
                .product();
            let known = match x.dtype() {
                DType::Bool => Some((0, 1)),
                _ => g.range,
            };
            let k = i64::try_from(count).ok();
            let summed = known.zip(k).and_then(|((lo, hi), k)| {
                fits_i32((lo.checked_mul(k)?.min(0), hi.checked_mul(k)?.max(0)))
            });
            if let Some(r) = summed {
                let mut out = wgpu::reduce(op, g, l, dims)?;
                out.range = Some(r);
                return Ok(Storage::Gpu(out));
            }
            let h = wgpu::download(&wgpu::copy(g, l)?)?;
            let lh = Layout::contiguous(&l.shape);
            return int_result_to_gpu("sum", g.device_index(), cpu::reduce(op, &h, &lh, dims));
        }
    }
    route!("reduce", x; Ok(Storage::Cpu(cpu::reduce(op, cpu_of(x), l, dims)?)); Ok(Storage::Gpu(wgpu::reduce(op, gpu_of(x), l, dims)?)))
}

/// Batched matmul: `a` is `[B.., m, k]`, `b` is `[B.., k, n]` with equal batch dims; result `[B.., m, n]`.
pub fn matmul(a: &Storage, la: &Layout, b: &Storage, lb: &Layout) -> Result<Storage> {
    same_device("matmul", a, b)?;
    let rows: usize = la.shape[..la.ndim().saturating_sub(1)].iter().product();
    let out = rows
        .checked_mul(lb.shape.last().copied().unwrap_or(1))
        .ok_or_else(|| Error::Memory("matmul: the output size overflows".into()))?;
    reserve(out, a.dtype(), a.device(), "matmul")?;
    route!("matmul", a;
        Ok(Storage::Cpu(cpu::matmul::matmul(cpu_of(a), la, cpu_of(b), lb)?));
        Ok(Storage::Gpu(wgpu::matmul(gpu_of(a), la, gpu_of(b), lb)?)))
}

/// The convolution product `cols (N·L, K) @ wᵀ (K, O)` (+ bias) laid out as `(N, O, L)`.
/// `w` is a dense `(O, K)` weight; `bias`, when given, a dense `(O)`: one gemm, then the bias
/// added while the product is transposed into place (one pass).
pub fn conv_product(
    cols: &Storage,
    w: &Storage,
    bias: Option<&Storage>,
    n: usize,
    l: usize,
    o: usize,
) -> Result<Storage> {
    let k = w.len() / o.max(1);
    let lc = Layout::contiguous(&[n * l, k]);
    let lw = Layout::contiguous(&[o, k]).permute(&[1, 0]);
    let y = matmul(cols, &lc, w, &lw)?;
    let ly = Layout::contiguous(&[n, l, o]).permute(&[0, 2, 1]);
    match bias {
        Some(b) => {
            let lb = Layout {
                shape: vec![n, o, l],
                strides: vec![0, 1, 0],
                offset: 0,
            };
            binary(BinaryOp::Add, &y, &ly, b, &lb)
        }
        None => copy(&y, &ly),
    }
}

/// Direct convolution for stride 1 and few taps per output (see
/// `cpu::conv::direct_conv_fits`): input view `x`, dense weight `(O, K)`, dense bias. CPU only.
pub fn conv2d_direct(
    x: &Storage,
    lx: &Layout,
    w: &Storage,
    bias: Option<&Storage>,
    g: &Conv2dGeom,
    o: usize,
) -> Result<Storage> {
    same_device("conv2d", x, w)?;
    if let Some(b) = bias {
        same_device("conv2d", x, b)?;
    }
    let out =
        g.n.checked_mul(o)
            .and_then(|v| v.checked_mul(g.oh))
            .and_then(|v| v.checked_mul(g.ow))
            .ok_or_else(|| Error::Memory("conv2d: the output size overflows".into()))?;
    reserve(out, x.dtype(), x.device(), "conv2d")?;
    match (x, w) {
        (Storage::Cpu(xc), Storage::Cpu(wc)) => Ok(Storage::Cpu(cpu::conv::conv2d_direct(
            xc,
            lx,
            wc,
            bias.map(cpu_of),
            g,
            o,
        )?)),
        _ => Err(Error::Device(
            "conv2d: the direct convolution runs on the CPU only".into(),
        )),
    }
}

/// The weight gradient of [`conv2d_direct`] from the input view and the output gradient view.
pub fn conv2d_direct_weight_grad(
    x: &Storage,
    lx: &Layout,
    gout: &Storage,
    lg: &Layout,
    g: &Conv2dGeom,
    o: usize,
) -> Result<Storage> {
    same_device("conv2d backward", x, gout)?;
    match (x, gout) {
        (Storage::Cpu(xc), Storage::Cpu(gc)) => Ok(Storage::Cpu(
            cpu::conv::conv2d_direct_weight_grad(xc, lx, gc, lg, g, o)?,
        )),
        _ => Err(Error::Device(
            "conv2d backward: the direct convolution runs on the CPU only".into(),
        )),
    }
}

/// Softmax (or log-softmax) over the last dim of a view.
pub fn softmax(x: &Storage, l: &Layout, log: bool) -> Result<Storage> {
    route!("softmax", x; Ok(Storage::Cpu(cpu::softmax(cpu_of(x), l, log)?)); Ok(Storage::Gpu(wgpu::softmax(gpu_of(x), l, log)?)))
}

/// Selects `idx` (1-D int64) along `dim` of `x`.
pub fn index_select(
    x: &Storage,
    l: &Layout,
    dim: usize,
    idx: &Storage,
    li: &Layout,
) -> Result<Storage> {
    same_device("index_select", x, idx)?;
    route!("index_select", x;
        Ok(Storage::Cpu(cpu::index::index_select(cpu_of(x), l, dim, cpu_of(idx), li)?));
        Ok(Storage::Gpu(wgpu::index_select(gpu_of(x), l, dim, gpu_of(idx), li)?)))
}

/// Adds rows of `src` into a zero tensor of `shape` at `idx` along `dim` (the adjoint of index_select).
pub fn index_add(
    shape: &[usize],
    dim: usize,
    idx: &Storage,
    li: &Layout,
    src: &Storage,
    ls: &Layout,
) -> Result<Storage> {
    same_device("index_add", src, idx)?;
    route!("index_add", src;
        Ok(Storage::Cpu(cpu::index::index_add(shape, dim, cpu_of(idx), li, cpu_of(src), ls)?));
        Ok(Storage::Gpu(wgpu::index_add(shape, dim, gpu_of(idx), li, gpu_of(src), ls)?)))
}

/// `out[i][j] = x[i][idx[i][j]]` along `dim` (idx has x's rank).
pub fn gather(x: &Storage, l: &Layout, dim: usize, idx: &Storage, li: &Layout) -> Result<Storage> {
    same_device("gather", x, idx)?;
    route!("gather", x;
        Ok(Storage::Cpu(cpu::index::gather(cpu_of(x), l, dim, cpu_of(idx), li)?));
        Ok(Storage::Gpu(wgpu::gather(gpu_of(x), l, dim, gpu_of(idx), li)?)))
}

/// Zero tensor of `shape` with `src` added at `idx` along `dim` (the adjoint of gather).
pub fn scatter_add(
    shape: &[usize],
    dim: usize,
    idx: &Storage,
    li: &Layout,
    src: &Storage,
    ls: &Layout,
) -> Result<Storage> {
    same_device("scatter_add", src, idx)?;
    route!("scatter_add", src;
        Ok(Storage::Cpu(cpu::index::scatter_add(shape, dim, cpu_of(idx), li, cpu_of(src), ls)?));
        Ok(Storage::Gpu(wgpu::scatter_add(shape, dim, gpu_of(idx), li, gpu_of(src), ls)?)))
}

/// Unfolds `(N,C,H,W)` patches into columns `(N*oh*ow, C*kh*kw)` (one row per output position,
/// so a convolution is one tall gemm), padding with `pad_value`.
pub fn im2col(x: &Storage, l: &Layout, g: &Conv2dGeom, pad_value: f64) -> Result<Storage> {
    let cols =
        g.n.checked_mul(g.col_cols())
            .and_then(|v| v.checked_mul(g.col_rows()))
            .ok_or_else(|| Error::Memory("conv2d: the column buffer size overflows".into()))?;
    reserve(cols, x.dtype(), x.device(), "conv2d (im2col columns)")?;
    route!("im2col", x; Ok(Storage::Cpu(cpu::conv::im2col(cpu_of(x), l, g, pad_value)?)); Ok(Storage::Gpu(wgpu::im2col(gpu_of(x), l, g, pad_value)?)))
}

/// Folds `(N*oh*ow, C*kh*kw)` columns back into `(N,C,H,W)`, summing overlaps (adjoint of im2col).
pub fn col2im(x: &Storage, l: &Layout, g: &Conv2dGeom) -> Result<Storage> {
    let n = [g.n, g.c, g.h, g.w]
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or_else(|| Error::Memory("col2im: the output size overflows".into()))?;
    reserve(n, x.dtype(), x.device(), "conv2d (col2im)")?;
    route!("col2im", x; Ok(Storage::Cpu(cpu::conv::col2im(cpu_of(x), l, g)?)); Ok(Storage::Gpu(wgpu::col2im(gpu_of(x), l, g)?)))
}

/// Max pooling of each `(H, W)` plane of `(N,C,H,W)`: values `(N,C,oh,ow)` and the int64 flat
/// index `h*W + w` of each window's maximum (first one on ties; NaN wins).
pub fn max_pool2d(x: &Storage, l: &Layout, g: &Conv2dGeom) -> Result<(Storage, Storage)> {
    let n = [g.n, g.c, g.oh, g.ow]
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or_else(|| Error::Memory("max_pool2d: the output size overflows".into()))?;
    reserve(n, DType::I64, x.device(), "max_pool2d")?;
    match x {
        Storage::Cpu(c) => {
            let (v, i) = cpu::conv::max_pool2d(c, l, g)?;
            Ok((Storage::Cpu(v), Storage::Cpu(i)))
        }
        Storage::Gpu(x) => {
            let (v, i) = wgpu::max_pool2d(x, l, g)?;
            Ok((Storage::Gpu(v), Storage::Gpu(i)))
        }
    }
}

/// `n` random numbers from the counter-based generator at (`seed`, `offset`).
pub fn rand(
    kind: RandKind,
    n: usize,
    seed: u64,
    offset: u64,
    dtype: DType,
    device: Device,
) -> Result<Storage> {
    reserve(n, dtype, device, "rand")?;
    match device {
        Device::Cpu => Ok(Storage::Cpu(cpu::rand(kind, n, seed, offset, dtype)?)),
        Device::Gpu(i) => Ok(Storage::Gpu(wgpu::rand(i, kind, n, seed, offset, dtype)?)),
    }
}

/// Writes `src` (broadcast to `ld.shape`) into the view `ld` of `dst`, in place.
pub fn assign(dst: &mut Storage, ld: &Layout, src: &Storage, ls: &Layout) -> Result<()> {
    same_device("copy_", dst, src)?;
    match (dst, src) {
        (Storage::Cpu(d), Storage::Cpu(s)) => cpu::assign(d, ld, s, ls),
        (Storage::Gpu(d), Storage::Gpu(s)) => wgpu::assign(d, ld, s, ls),
        _ => unreachable!("device checked above"),
    }
}

/// One fused optimizer update of a contiguous parameter, in place, with its state buffers.
pub fn optim_step(
    step: &OptimStep,
    param: &mut Storage,
    grad: &Storage,
    lg: &Layout,
    state: &mut [&mut Storage],
) -> Result<()> {
    same_device("optimizer step", param, grad)?;
    for s in state.iter() {
        same_device("optimizer step", param, s)?;
    }
    match param {
        Storage::Cpu(p) => {
            // a gradient that is already one dense block is read in place
            let gs = cpu_of(grad);
            let copied;
            let g = if lg.is_contiguous() && lg.offset == 0 && gs.len() == lg.numel() {
                gs
            } else {
                copied = cpu::copy(gs, lg);
                &copied
            };
            let mut st: Vec<&mut crate::storage::CpuStorage> = state
                .iter_mut()
                .map(|s| match &mut **s {
                    Storage::Cpu(c) => c,
                    Storage::Gpu(_) => unreachable!("device checked above"),
                })
                .collect();
            cpu::optim::step(step, p, g, &mut st)
        }
        Storage::Gpu(p) => {
            let g = wgpu::copy(gpu_of(grad), lg)?;
            let mut st: Vec<&mut wgpu::GpuStorage> = state
                .iter_mut()
                .map(|s| match &mut **s {
                    Storage::Gpu(c) => c,
                    Storage::Cpu(_) => unreachable!("device checked above"),
                })
                .collect();
            wgpu::optim_step(step, p, &g, &mut st)
        }
    }
}

/// `y_k = a_k * y_(k-1) + b_k` along `dim` from `y_(-1) = init` (from the last element when
/// `reverse`): cumsum (`a = 1`), cumprod (`b = 0`, `init = 1`) and both gradients. `a` and `b`
/// are views of one shape and dtype; the result is contiguous.
pub fn linear_scan(
    a: &Storage,
    la: &Layout,
    b: &Storage,
    lb: &Layout,
    dim: usize,
    reverse: bool,
    init: f64,
) -> Result<Storage> {
    same_device("scan", a, b)?;
    route!("scan", a;
        Ok(Storage::Cpu(cpu::scan::linear_scan(cpu_of(a), la, cpu_of(b), lb, dim, reverse, init)?));
        Ok(Storage::Gpu(wgpu::linear_scan(gpu_of(a), la, gpu_of(b), lb, dim, reverse, init)?)))
}

/// Stable argsort (int64) along the last dim of a view; NaN sorts above every number.
pub fn argsort(x: &Storage, l: &Layout, descending: bool) -> Result<Storage> {
    route!("sort", x;
        Ok(Storage::Cpu(cpu::scan::argsort(cpu_of(x), l, descending)?));
        Ok(Storage::Gpu(wgpu::argsort(gpu_of(x), l, descending)?)))
}

/// Moves a storage to `device` (a no-op copy of the handle when it is already there).
pub fn to_device(x: &Storage, l: &Layout, device: Device) -> Result<Storage> {
    reserve(l.numel(), x.dtype(), device, "to")?;
    match (x, device) {
        (Storage::Cpu(c), Device::Cpu) => Ok(Storage::Cpu(cpu::copy(c, l))),
        (Storage::Cpu(c), Device::Gpu(i)) => Ok(Storage::Gpu(wgpu::upload(i, &cpu::copy(c, l))?)),
        (Storage::Gpu(g), Device::Cpu) => Ok(Storage::Cpu(wgpu::download(&wgpu::copy(g, l)?)?)),
        (Storage::Gpu(g), Device::Gpu(i)) => {
            if g.device_index() == i {
                Ok(Storage::Gpu(wgpu::copy(g, l)?))
            } else {
                let host = wgpu::download(&wgpu::copy(g, l)?)?;
                Ok(Storage::Gpu(wgpu::upload(i, &host)?))
            }
        }
    }
}

fn cpu_of(s: &Storage) -> &crate::storage::CpuStorage {
    match s {
        Storage::Cpu(c) => c,
        Storage::Gpu(_) => unreachable!("routed by device"),
    }
}

fn gpu_of(s: &Storage) -> &wgpu::GpuStorage {
    match s {
        Storage::Gpu(g) => g,
        Storage::Cpu(_) => unreachable!("routed by device"),
    }
}
