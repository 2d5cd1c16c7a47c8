//! Backend dispatch: the primitives every op is built from, routed to the backend that owns
//! the storage.
//!
//! [`Backend`] (in `contract`) lists what a device provides; [`Cpu`] and [`Gpu`] implement it.
//! The functions here are the op layer's entry: each checks that its operands share a device
//! and that the output can be allocated, then hands the typed storages to the owning backend
//! under a panic guard. Ops in `crate::ops` compose these; the autograd rules are written with
//! ops too, so a backend that implements the contract runs forward and backward.

pub mod contract;
pub mod cpu;
mod elementwise;
mod optim;
mod recurrent;
pub mod wgpu;

pub use contract::{Backend, Operand, Scan};
pub use cpu::Cpu;
pub use wgpu::Gpu;

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::{CpuStorage, Storage};

pub use elementwise::{BinaryOp, UnaryOp};
pub use optim::{OptimCoefficients, OptimStep};
pub use recurrent::{RnnCellGradIn, RnnCellIn, RnnDims, RnnMode, RnnStep};

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

/// The sizes of one fused attention: `batch` entries of `l` queries and `s` keys, query/key
/// width `e`, value width `ev` (see [`Backend::attention_forward`]).
#[derive(Clone, Copy, Debug)]
pub struct AttnDims {
    pub batch: usize,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
}

/// How a fused classification loss reduces its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossReduction {
    None,
    Sum,
    /// the weighted mean: the sum over the sum of the counted rows' class weights
    Mean,
}

/// One fused classification loss over dense `(rows, classes)` scores (see
/// [`Backend::class_loss_forward`]): log-softmax first when `logits`, rows whose target is
/// `ignore` left out, label `smoothing` in [0, 1].
#[derive(Clone, Copy, Debug)]
pub struct ClassLossSpec {
    pub rows: usize,
    pub classes: usize,
    pub ignore: i64,
    pub smoothing: f64,
    pub logits: bool,
    pub reduction: LossReduction,
}

/// Batch normalisation's per-channel arithmetic, one pass over `C` channels of dense `(C)`
/// operands of one float dtype (see [`Backend::channel_coeffs`]); `istd = 1/√(var + eps)`.
#[derive(Clone, Copy, Debug)]
pub enum ChannelCoeffs {
    /// inputs `mean, var[, weight][, bias]` → `a = weight·istd` (`istd` without a weight) and
    /// `shift = bias − mean·a` (`−mean·a` without a bias)
    Affine { eps: f64, weight: bool, bias: bool },
    /// inputs `running_mean, running_var, mean, var` → `(1−m)·running_mean + m·mean` and
    /// `(1−m)·running_var + m·unbias·var`
    Running { momentum: f64, unbias: f64 },
    /// inputs `a, var, mean, Σdy, Σdy·(x−mean)` over `count` values per channel → the input
    /// gradient's `q = −a·istd²·Σdy(x−mean)/count` and `r = −(q·mean + a·Σdy/count)` (so that
    /// `dx = dy·a + x·q + r`) and the weight gradient `Σdy(x−mean)·istd`
    Grad { eps: f64, count: f64 },
}

impl ChannelCoeffs {
    /// How many `(C)` operands it reads and writes.
    pub fn arity(&self) -> (usize, usize) {
        match *self {
            ChannelCoeffs::Affine { weight, bias, .. } => {
                (2 + usize::from(weight) + usize::from(bias), 2)
            }
            ChannelCoeffs::Running { .. } => (4, 2),
            ChannelCoeffs::Grad { .. } => (5, 3),
        }
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
    crate::error::same_device(op, a.device(), b.device())
}

/// Runs `$body` with `$b` bound to the backend that owns `$first` and `$s` to the function
/// that views a `Storage` of that device as the backend's own type (operands were checked
/// to share the device), wrapping the result back into a `Storage`.
macro_rules! on_device {
    ($op:expr, $first:expr, |$b:ident, $s:ident| $body:expr) => {
        guard($op, || match $first {
            Storage::Cpu(_) => {
                let $b = &Cpu;
                let $s = cpu_of;
                $body.map(Storage::Cpu)
            }
            Storage::Gpu(g) => {
                let $b = &Gpu::of(g);
                let $s = gpu_of;
                $body.map(Storage::Gpu)
            }
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
        // the system may promise more than it has (overcommit) and kill the process when the
        // pages are touched: a request past half the memory the machine can still give is
        // refused, leaving the other half for the buffers the same op makes next (a result
        // converted, a mask, a gradient), so an op that cannot finish fails here, cleanly
        if let Some(avail) = available_bytes().filter(|&a| bytes as u64 > a / 2) {
            return Err(Error::Memory(format!(
                "{op}: cannot allocate {bytes} bytes ({n} elements of {dtype}) on the CPU: \
                 only {avail} bytes of memory are available (one allocation may take at most \
                 half of them)"
            )));
        }
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| {
            Error::Memory(format!(
                "{op}: cannot allocate {bytes} bytes ({n} elements of {dtype}) on the CPU"
            ))
        })?;
    }
    Ok(())
}

/// Bytes of memory this process can still be given (Linux: `MemAvailable` plus free swap,
/// bounded by the cgroup's limit); `None` where the system does not say. Read only for
/// requests of at least [`PROBE_BYTES`].
fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| {
        meminfo.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kb.saturating_mul(1024))
        })
    };
    let mut avail = field("MemAvailable")?.saturating_add(field("SwapFree").unwrap_or(0));
    let cgroup = |f: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{f}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    if let (Some(max), Some(cur)) = (cgroup("memory.max"), cgroup("memory.current")) {
        avail = avail.min(max.saturating_sub(cur));
    }
    Some(avail)
}

/// The product of `dims`, or a `MemoryError` naming `what` when it overflows.
pub(crate) fn checked_count(dims: &[usize], what: &str) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or_else(|| Error::Memory(format!("{what}: the output size overflows")))
}

/// Contiguous copy of a strided view.
pub fn copy(x: &Storage, l: &Layout) -> Result<Storage> {
    reserve(l.numel(), x.dtype(), x.device(), "copy")?;
    on_device!("copy", x, |b, s| b.copy(s(x), l))
}

/// Contiguous copy converted to `dtype`.
pub fn cast(x: &Storage, l: &Layout, dtype: DType) -> Result<Storage> {
    reserve(l.numel(), dtype, x.device(), "to")?;
    on_device!("to", x, |b, s| b.cast(s(x), l, dtype))
}

/// `n` elements equal to `value`.
pub fn full(n: usize, value: f64, dtype: DType, device: Device) -> Result<Storage> {
    reserve(n, dtype, device, "full")?;
    guard("full", || match device {
        Device::Cpu => Cpu.full(n, value, dtype).map(Storage::Cpu),
        Device::Gpu(i) => Gpu(i).full(n, value, dtype).map(Storage::Gpu),
    })
}

/// The elements of a view, row-major, in host memory (a GPU readback when on the GPU).
pub fn to_host(x: &Storage, l: &Layout) -> Result<CpuStorage> {
    // an expanded view reads back as its full size
    reserve(l.numel(), x.dtype(), Device::Cpu, "copy to the host")?;
    guard("to_host", || match x {
        Storage::Cpu(c) => Cpu.to_host(c, l),
        Storage::Gpu(g) => Gpu::of(g).to_host(g, l),
    })
}

/// Unary elementwise op into a contiguous result of the same dtype.
pub fn unary(op: UnaryOp, x: &Storage, l: &Layout) -> Result<Storage> {
    reserve(l.numel(), x.dtype(), x.device(), "elementwise op")?;
    on_device!("unary", x, |b, s| b.unary(op, s(x), l))
}

/// Binary elementwise op; both layouts already broadcast to the output shape, both one dtype.
pub fn binary(op: BinaryOp, a: &Storage, la: &Layout, b: &Storage, lb: &Layout) -> Result<Storage> {
    same_device(op.name(), a, b)?;
    reserve(la.numel(), a.dtype(), a.device(), op.name())?;
    on_device!(op.name(), a, |be, s| be.binary(op, s(a), la, s(b), lb))
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
    on_device!("where", a, |be, s| be.where_(
        (s(c), lc),
        (s(a), la),
        (s(b), lb)
    ))
}

/// Reduction over `dims` (sorted, unique); the result has `l.shape` with those dims removed.
pub fn reduce(op: ReduceOp, x: &Storage, l: &Layout, dims: &[usize]) -> Result<Storage> {
    if !l.is_contiguous() {
        // a strided view may be gathered first (an expanded one can be far larger than its
        // memory): an impossible size is a MemoryError, not an abort
        reserve(l.numel(), x.dtype(), x.device(), "reduce")?;
    }
    // the result (and a float64 accumulator of its size) can be far larger than the input: an
    // empty `(2^40, 0)` tensor summed over its empty dim asks for 2^40 elements
    let kept: usize = (0..l.ndim())
        .filter(|d| !dims.contains(d))
        .map(|d| l.shape[d])
        .try_fold(1usize, |acc, n| acc.checked_mul(n))
        .unwrap_or(usize::MAX);
    reserve(kept, DType::F64, x.device(), "reduce")?;
    on_device!("reduce", x, |b, s| b.reduce(op, s(x), l, dims))
}

/// Batched matmul: `a` is `[B.., m, k]`, `b` is `[B.., k, n]` with equal batch dims; result `[B.., m, n]`.
pub fn matmul(a: &Storage, la: &Layout, b: &Storage, lb: &Layout) -> Result<Storage> {
    same_device("matmul", a, b)?;
    let rows: usize = la.shape[..la.ndim().saturating_sub(1)].iter().product();
    let out = checked_count(&[rows, lb.shape.last().copied().unwrap_or(1)], "matmul")?;
    reserve(out, a.dtype(), a.device(), "matmul")?;
    on_device!("matmul", a, |be, s| be.matmul(s(a), la, s(b), lb))
}

/// `a @ b` plus the dense `(n)` storage `bias` added to every row (a linear layer's forward).
pub fn matmul_bias(
    a: &Storage,
    la: &Layout,
    b: &Storage,
    lb: &Layout,
    bias: Option<&Storage>,
) -> Result<Storage> {
    same_device("linear", a, b)?;
    if let Some(bv) = bias {
        same_device("linear", a, bv)?;
    }
    let rows: usize = la.shape[..la.ndim().saturating_sub(1)].iter().product();
    let out = checked_count(&[rows, lb.shape.last().copied().unwrap_or(1)], "linear")?;
    reserve(out, a.dtype(), a.device(), "linear")?;
    on_device!("linear", a, |be, s| be.matmul_bias(
        s(a),
        la,
        s(b),
        lb,
        bias.map(s)
    ))
}

/// Whether `dst`'s memory may be exchanged for another buffer by an in-place write (see
/// `Tensor::move_from`): not host memory shared with other processes, not a GPU buffer a
/// captured graph uses.
pub(crate) fn replaceable(dst: &Storage) -> bool {
    match dst {
        Storage::Cpu(c) => {
            let ptr: *const u8 = match c {
                CpuStorage::F32(v) => v.as_ptr().cast(),
                CpuStorage::F64(v) => v.as_ptr().cast(),
                CpuStorage::I64(v) => v.as_ptr().cast(),
                CpuStorage::Bool(v) => v.as_ptr().cast(),
            };
            !crate::shm::in_shared(ptr)
        }
        Storage::Gpu(g) => wgpu::replaceable(g),
    }
}

/// Per-channel mean and biased variance of the dense `(N, C, S)` view `x`.
pub fn channel_moments(x: &Storage, l: &Layout) -> Result<(Storage, Storage)> {
    guard("batch_norm", || match x {
        Storage::Cpu(xc) => {
            let (m, v) = Cpu.channel_moments(xc, l)?;
            Ok((Storage::Cpu(m), Storage::Cpu(v)))
        }
        Storage::Gpu(xg) => {
            let (m, v) = Gpu::of(xg).channel_moments(xg, l)?;
            Ok((Storage::Gpu(m), Storage::Gpu(v)))
        }
    })
}

/// `x·a[c] + b[c]` (plus `y·d[c]` for `y = Some((y, d))`) over the dense `(N, C, S)` view `l`
/// of `x` (and `y`); `a`, `b`, `d` are dense `(C)`.
pub fn channel_affine(
    x: &Storage,
    l: &Layout,
    a: &Storage,
    b: &Storage,
    y: Option<(&Storage, &Storage)>,
) -> Result<Storage> {
    for t in [a, b]
        .into_iter()
        .chain(y.into_iter().flat_map(|(y, d)| [y, d]))
    {
        same_device("batch_norm", x, t)?;
    }
    reserve(l.numel(), x.dtype(), x.device(), "batch_norm")?;
    on_device!("batch_norm", x, |be, s| be.channel_affine(
        s(x),
        l,
        s(a),
        s(b),
        y.map(|(y, d)| (s(y), s(d)))
    ))
}

/// Per-channel `Σ y` and `Σ y·(x − m[c])` over the dense `(N, C, S)` view `l` of `y` and `x`.
pub fn channel_dot(
    y: &Storage,
    x: &Storage,
    l: &Layout,
    m: &Storage,
) -> Result<(Storage, Storage)> {
    same_device("batch_norm backward", y, x)?;
    same_device("batch_norm backward", y, m)?;
    guard("batch_norm backward", || match y {
        Storage::Cpu(yc) => {
            let (a, b) = Cpu.channel_dot(yc, cpu_of(x), l, cpu_of(m))?;
            Ok((Storage::Cpu(a), Storage::Cpu(b)))
        }
        Storage::Gpu(yg) => {
            let (a, b) = Gpu::of(yg).channel_dot(yg, gpu_of(x), l, gpu_of(m))?;
            Ok((Storage::Gpu(a), Storage::Gpu(b)))
        }
    })
}

/// Batch normalisation's per-channel arithmetic (see [`ChannelCoeffs`]) on dense `(C)`
/// storages of one device and float dtype.
pub fn channel_coeffs(spec: &ChannelCoeffs, ins: &[&Storage]) -> Result<Vec<Storage>> {
    let op = "batch_norm";
    let first = ins
        .first()
        .ok_or_else(|| Error::Value(format!("{op}: no per-channel operands")))?;
    for t in &ins[1..] {
        same_device(op, first, t)?;
    }
    guard(op, || match first {
        Storage::Cpu(_) => {
            let v: Vec<&CpuStorage> = ins.iter().map(|s| cpu_of(s)).collect();
            Ok(Cpu
                .channel_coeffs(spec, &v)?
                .into_iter()
                .map(Storage::Cpu)
                .collect())
        }
        Storage::Gpu(g) => {
            let v: Vec<&wgpu::GpuStorage> = ins.iter().map(|s| gpu_of(s)).collect();
            Ok(Gpu::of(g)
                .channel_coeffs(spec, &v)?
                .into_iter()
                .map(Storage::Gpu)
                .collect())
        }
    })
}

/// Ungrouped 2-D convolution of the input view `x` with a dense weight `(O, C·kh·kw)` and a
/// dense bias `(O)`: the output `(N, O, oh, ow)` and the workspace its weight gradient reads
/// (the backend chooses the algorithm; see [`Backend::conv2d`]).
pub fn conv2d(
    x: &Storage,
    lx: &Layout,
    w: &Storage,
    bias: Option<&Storage>,
    g: &Conv2dGeom,
    o: usize,
) -> Result<(Storage, Option<Storage>)> {
    same_device("conv2d", x, w)?;
    if let Some(b) = bias {
        same_device("conv2d", x, b)?;
    }
    let out = checked_count(&[g.n, o, g.oh, g.ow], "conv2d")?;
    reserve(out, x.dtype(), x.device(), "conv2d")?;
    guard("conv2d", || match x {
        Storage::Cpu(xc) => {
            let (y, ws) = Cpu.conv2d((xc, lx), cpu_of(w), bias.map(cpu_of), g, o)?;
            Ok((Storage::Cpu(y), ws.map(Storage::Cpu)))
        }
        Storage::Gpu(xg) => {
            let (y, ws) = Gpu::of(xg).conv2d((xg, lx), gpu_of(w), bias.map(gpu_of), g, o)?;
            Ok((Storage::Gpu(y), ws.map(Storage::Gpu)))
        }
    })
}

/// The weight gradient `(O, C·kh·kw)` of [`conv2d`] from the input view, the forward's
/// workspace and the output gradient view.
pub fn conv2d_weight_grad(
    x: &Storage,
    lx: &Layout,
    workspace: Option<&Storage>,
    gout: &Storage,
    lg: &Layout,
    g: &Conv2dGeom,
    o: usize,
) -> Result<Storage> {
    same_device("conv2d backward", x, gout)?;
    on_device!("conv2d backward", x, |b, s| b.conv2d_weight_grad(
        (s(x), lx),
        workspace.map(s),
        (s(gout), lg),
        g,
        o
    ))
}

/// The input gradient `(N, C, H, W)` of [`conv2d`] from the output gradient view and the dense
/// weight.
pub fn conv2d_input_grad(
    gout: &Storage,
    lg: &Layout,
    w: &Storage,
    g: &Conv2dGeom,
    o: usize,
) -> Result<Storage> {
    same_device("conv2d backward", gout, w)?;
    reserve(
        checked_count(&[g.n, g.c, g.h, g.w], "conv2d backward")?,
        gout.dtype(),
        gout.device(),
        "conv2d backward",
    )?;
    on_device!("conv2d backward", gout, |b, s| b.conv2d_input_grad(
        (s(gout), lg),
        s(w),
        g,
        o
    ))
}

/// Fused scaled-dot-product attention: `(out (B, L, Ev), lse (B, L))` from dense `q`, `k`, `v`
/// and an optional dense additive mask `(L, S)` or `(B, L, S)` (see
/// [`Backend::attention_forward`]).
pub fn attention_forward(
    (q, k, v): (&Storage, &Storage, &Storage),
    ls: (&Layout, &Layout, &Layout),
    mask: Option<(&Storage, &Layout)>,
    d: AttnDims,
    causal: bool,
    scale: f64,
) -> Result<(Storage, Storage)> {
    const OP: &str = "scaled_dot_product_attention";
    same_device(OP, q, k)?;
    same_device(OP, q, v)?;
    if let Some((m, _)) = mask {
        same_device(OP, q, m)?;
    }
    // the output can be far larger than every input (many queries, wide values)
    reserve(
        checked_count(&[d.batch, d.l, d.ev.max(1)], OP)?,
        q.dtype(),
        q.device(),
        OP,
    )?;
    guard(OP, || match q {
        Storage::Cpu(qc) => {
            let (o, l) = Cpu.attention_forward(
                (qc, cpu_of(k), cpu_of(v)),
                ls,
                mask.map(|(m, lm)| (cpu_of(m), lm)),
                d,
                causal,
                scale,
            )?;
            Ok((Storage::Cpu(o), Storage::Cpu(l)))
        }
        Storage::Gpu(qg) => {
            let (o, l) = Gpu::of(qg).attention_forward(
                (qg, gpu_of(k), gpu_of(v)),
                ls,
                mask.map(|(m, lm)| (gpu_of(m), lm)),
                d,
                causal,
                scale,
            )?;
            Ok((Storage::Gpu(o), Storage::Gpu(l)))
        }
    })
}

/// The backward of [`attention_forward`]: `(dq, dk, dv)` from its inputs, output, log-sum-exp
/// and the dense output gradient.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    (q, k, v): (&Storage, &Storage, &Storage),
    ls: (&Layout, &Layout, &Layout),
    (out, lse, dout, lg): (&Storage, &Storage, &Storage, &Layout),
    mask: Option<(&Storage, &Layout)>,
    d: AttnDims,
    causal: bool,
    scale: f64,
) -> Result<(Storage, Storage, Storage)> {
    const OP: &str = "scaled_dot_product_attention backward";
    for t in [k, v, out, lse, dout] {
        same_device(OP, q, t)?;
    }
    guard(OP, || match q {
        Storage::Cpu(qc) => {
            let (a, b, c) = Cpu.attention_backward(
                (qc, cpu_of(k), cpu_of(v)),
                ls,
                (cpu_of(out), cpu_of(lse), cpu_of(dout), lg),
                mask.map(|(m, lm)| (cpu_of(m), lm)),
                d,
                causal,
                scale,
            )?;
            Ok((Storage::Cpu(a), Storage::Cpu(b), Storage::Cpu(c)))
        }
        Storage::Gpu(qg) => {
            let (a, b, c) = Gpu::of(qg).attention_backward(
                (qg, gpu_of(k), gpu_of(v)),
                ls,
                (gpu_of(out), gpu_of(lse), gpu_of(dout), lg),
                mask.map(|(m, lm)| (gpu_of(m), lm)),
                d,
                causal,
                scale,
            )?;
            Ok((Storage::Gpu(a), Storage::Gpu(b), Storage::Gpu(c)))
        }
    })
}

/// Fused classification loss (see [`Backend::class_loss_forward`]): the loss and what its
/// backward reads.
pub fn class_loss_forward(
    x: &Storage,
    t: &Storage,
    w: Option<&Storage>,
    d: &ClassLossSpec,
) -> Result<(Storage, Storage)> {
    let op = if d.logits {
        "cross_entropy"
    } else {
        "nll_loss"
    };
    same_device(op, x, t)?;
    if let Some(w) = w {
        same_device(op, x, w)?;
    }
    guard(op, || match x {
        Storage::Cpu(xc) => {
            let (a, b) = Cpu.class_loss_forward(xc, cpu_of(t), w.map(cpu_of), d)?;
            Ok((Storage::Cpu(a), Storage::Cpu(b)))
        }
        Storage::Gpu(xg) => {
            let (a, b) = Gpu::of(xg).class_loss_forward(xg, gpu_of(t), w.map(gpu_of), d)?;
            Ok((Storage::Gpu(a), Storage::Gpu(b)))
        }
    })
}

/// The backward of [`class_loss_forward`]: the scores' gradient `(rows, classes)` from the
/// dense output gradient `g`.
pub fn class_loss_backward(
    x: &Storage,
    t: &Storage,
    w: Option<&Storage>,
    aux: &Storage,
    g: &Storage,
    d: &ClassLossSpec,
) -> Result<Storage> {
    let op = "cross_entropy backward";
    for s in [t, aux, g].into_iter().chain(w) {
        same_device(op, x, s)?;
    }
    reserve(d.rows.saturating_mul(d.classes), x.dtype(), x.device(), op)?;
    on_device!(op, x, |b, s| b.class_loss_backward(
        s(x),
        s(t),
        w.map(s),
        s(aux),
        s(g),
        d
    ))
}

/// Softmax (or log-softmax) over the last dim of a view.
pub fn softmax(x: &Storage, l: &Layout, log: bool) -> Result<Storage> {
    reserve(l.numel(), x.dtype(), x.device(), "softmax")?;
    on_device!("softmax", x, |b, s| b.softmax(s(x), l, log))
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
    let mut out = l.shape.clone();
    if let Some(d) = out.get_mut(dim) {
        *d = li.numel();
    }
    let n = checked_count(&out, "index_select")?;
    if n == 0 {
        // nothing to gather (the kernels would still walk 2^40 empty rows)
        return full(0, 0.0, x.dtype(), x.device());
    }
    reserve(n, x.dtype(), x.device(), "index_select")?;
    on_device!("index_select", x, |b, s| b.index_select(
        (s(x), l),
        dim,
        (s(idx), li)
    ))
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
    reserve(
        checked_count(shape, "index_add")?,
        src.dtype(),
        src.device(),
        "index_add",
    )?;
    on_device!("index_add", src, |b, s| b.index_add(
        shape,
        dim,
        (s(idx), li),
        (s(src), ls)
    ))
}

/// `out[i][j] = x[i][idx[i][j]]` along `dim` (idx has x's rank).
pub fn gather(x: &Storage, l: &Layout, dim: usize, idx: &Storage, li: &Layout) -> Result<Storage> {
    same_device("gather", x, idx)?;
    reserve(li.numel(), x.dtype(), x.device(), "gather")?;
    on_device!("gather", x, |b, s| b.gather((s(x), l), dim, (s(idx), li)))
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
    reserve(
        checked_count(shape, "scatter_add")?,
        src.dtype(),
        src.device(),
        "scatter_add",
    )?;
    on_device!("scatter_add", src, |b, s| b.scatter_add(
        shape,
        dim,
        (s(idx), li),
        (s(src), ls)
    ))
}

/// Unfolds `(N,C,H,W)` patches into columns `(N*oh*ow, C*kh*kw)` (one row per output position,
/// so a convolution is one tall gemm), padding with `pad_value`.
pub fn im2col(x: &Storage, l: &Layout, g: &Conv2dGeom, pad_value: f64) -> Result<Storage> {
    let cols = checked_count(&[g.n, g.col_cols(), g.col_rows()], "conv2d (columns)")?;
    reserve(cols, x.dtype(), x.device(), "conv2d (im2col columns)")?;
    on_device!("im2col", x, |b, s| b.im2col(s(x), l, g, pad_value))
}

/// Folds `(N*oh*ow, C*kh*kw)` columns back into `(N,C,H,W)`, summing overlaps (adjoint of im2col).
pub fn col2im(x: &Storage, l: &Layout, g: &Conv2dGeom) -> Result<Storage> {
    reserve(
        checked_count(&[g.n, g.c, g.h, g.w], "col2im")?,
        x.dtype(),
        x.device(),
        "conv2d (col2im)",
    )?;
    on_device!("col2im", x, |b, s| b.col2im(s(x), l, g))
}

/// Max pooling of each `(H, W)` plane of `(N,C,H,W)`: values `(N,C,oh,ow)` and the int64 flat
/// index `h*W + w` of each window's maximum (first one on ties; NaN wins).
pub fn max_pool2d(x: &Storage, l: &Layout, g: &Conv2dGeom) -> Result<(Storage, Storage)> {
    let n = checked_count(&[g.n, g.c, g.oh, g.ow], "max_pool2d")?;
    reserve(n, DType::I64, x.device(), "max_pool2d")?;
    guard("max_pool2d", || match x {
        Storage::Cpu(c) => {
            let (v, i) = Cpu.max_pool2d(c, l, g)?;
            Ok((Storage::Cpu(v), Storage::Cpu(i)))
        }
        Storage::Gpu(x) => {
            let (v, i) = Gpu::of(x).max_pool2d(x, l, g)?;
            Ok((Storage::Gpu(v), Storage::Gpu(i)))
        }
    })
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
    guard("rand", || match device {
        Device::Cpu => Cpu.rand(kind, n, seed, offset, dtype).map(Storage::Cpu),
        Device::Gpu(i) => Gpu(i).rand(kind, n, seed, offset, dtype).map(Storage::Gpu),
    })
}

/// Writes `src` (broadcast to `ld.shape`) into the view `ld` of `dst`, in place.
pub fn assign(dst: &mut Storage, ld: &Layout, src: &Storage, ls: &Layout) -> Result<()> {
    same_device("copy_", dst, src)?;
    guard("copy_", || match dst {
        Storage::Cpu(d) => Cpu.assign(d, ld, cpu_of(src), ls),
        Storage::Gpu(d) => Gpu::of(d).assign(d, ld, gpu_of(src), ls),
    })
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
    guard("optimizer step", || match param {
        Storage::Cpu(p) => {
            let mut st: Vec<_> = state.iter_mut().map(|s| cpu_mut(s)).collect();
            Cpu.optim_step(step, p, (cpu_of(grad), lg), &mut st)
        }
        Storage::Gpu(p) => {
            let mut st: Vec<_> = state.iter_mut().map(|s| gpu_mut(s)).collect();
            Gpu::of(p).optim_step(step, p, (gpu_of(grad), lg), &mut st)
        }
    })
}

/// Fused updates of several contiguous parameters of one device with one hyper-parameter set
/// (per parameter: its storage, gradient view and state buffers; see
/// [`Backend::optim_step_many`]).
pub fn optim_step_many(
    step: &OptimStep,
    params: &mut [&mut Storage],
    grads: &[(&Storage, &Layout)],
    states: &mut [Vec<&mut Storage>],
) -> Result<()> {
    let Some(first) = params.first() else {
        return Ok(());
    };
    let device = first.device();
    for p in params.iter() {
        if p.device() != device {
            return Err(Error::Device(format!(
                "optimizer step: parameters on {device} and {}",
                p.device()
            )));
        }
    }
    for (g, _) in grads {
        same_device("optimizer step", first, g)?;
    }
    for st in states.iter() {
        for s in st {
            same_device("optimizer step", first, s)?;
        }
    }
    guard("optimizer step", || match device {
        Device::Cpu => {
            let mut ps: Vec<_> = params.iter_mut().map(|p| cpu_mut(p)).collect();
            let gs: Vec<_> = grads.iter().map(|&(g, l)| (cpu_of(g), l)).collect();
            let mut sts: Vec<Vec<_>> = states
                .iter_mut()
                .map(|st| st.iter_mut().map(|s| cpu_mut(s)).collect())
                .collect();
            Cpu.optim_step_many(step, &mut ps, &gs, &mut sts)
        }
        Device::Gpu(i) => {
            let mut ps: Vec<_> = params.iter_mut().map(|p| gpu_mut(p)).collect();
            let gs: Vec<_> = grads.iter().map(|&(g, l)| (gpu_of(g), l)).collect();
            let mut sts: Vec<Vec<_>> = states
                .iter_mut()
                .map(|st| st.iter_mut().map(|s| gpu_mut(s)).collect())
                .collect();
            Gpu(i).optim_step_many(step, &mut ps, &gs, &mut sts)
        }
    })
}

/// One forward step of a recurrent layer direction (see [`RnnStep`]): the gate math of every
/// batch row at time `s.t`, in place on `state`, `tape` and the packed output `out`.
pub fn rnn_cell_forward(
    s: &RnnStep,
    i: RnnCellIn<'_, Storage>,
    state: &mut Storage,
    tape: &mut Storage,
    out: &mut Storage,
) -> Result<()> {
    for x in i.all().into_iter().chain([&*tape, &*out]) {
        same_device("rnn_layer", state, x)?;
    }
    guard("rnn_layer", || match (state, tape, out) {
        (Storage::Cpu(st), Storage::Cpu(tp), Storage::Cpu(o)) => {
            Cpu.rnn_cell_forward(s, i.map(cpu_of), st, tp, o)
        }
        (Storage::Gpu(st), Storage::Gpu(tp), Storage::Gpu(o)) => {
            Gpu::of(st).rnn_cell_forward(s, i.map(gpu_of), st, tp, o)
        }
        _ => unreachable!("devices checked"),
    })
}

/// One backward step of [`rnn_cell_forward`]: updates `carry` and writes the step's gate
/// gradients into `dg` (see [`RnnStep`]).
pub fn rnn_cell_backward(
    s: &RnnStep,
    i: RnnCellGradIn<'_, Storage>,
    carry: &mut Storage,
    dg: &mut Storage,
) -> Result<()> {
    for x in i.all().into_iter().chain([&*dg]) {
        same_device("rnn_layer backward", carry, x)?;
    }
    guard("rnn_layer backward", || match (carry, dg) {
        (Storage::Cpu(c), Storage::Cpu(d)) => Cpu.rnn_cell_backward(s, i.map(cpu_of), c, d),
        (Storage::Gpu(c), Storage::Gpu(d)) => Gpu::of(c).rnn_cell_backward(s, i.map(gpu_of), c, d),
        _ => unreachable!("devices checked"),
    })
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
    reserve(la.numel(), a.dtype(), a.device(), "scan")?;
    let scan = Scan { dim, reverse, init };
    on_device!("scan", a, |be, s| be.linear_scan(
        (s(a), la),
        (s(b), lb),
        scan
    ))
}

/// Stable argsort (int64) along the last dim of a view; NaN sorts above every number.
pub fn argsort(x: &Storage, l: &Layout, descending: bool) -> Result<Storage> {
    reserve(l.numel(), DType::I64, x.device(), "sort")?;
    // The GPU kernel ranks each element against its whole row: n² work per row, quick for the
    // short rows of top-k over classes, a stall for long ones. Those sort on the host (n log n)
    // and the indices go back to the device.
    if let Storage::Gpu(g) = x {
        let row = l.shape.last().copied().unwrap_or(1);
        if row > GPU_SORT_MAX_ROW {
            let host = to_host(x, l)?;
            let idx = guard("sort", || {
                Cpu.argsort(&host, &Layout::contiguous(&l.shape), descending)
            })?;
            return guard("sort", || Gpu::of(g).upload(&idx).map(Storage::Gpu));
        }
    }
    on_device!("sort", x, |b, s| b.argsort(s(x), l, descending))
}

/// The longest row the GPU sorts itself (see [`argsort`]).
const GPU_SORT_MAX_ROW: usize = 4096;

/// Moves a storage to `device` (a contiguous copy when it is already there).
pub fn to_device(x: &Storage, l: &Layout, device: Device) -> Result<Storage> {
    reserve(l.numel(), x.dtype(), device, "to")?;
    if x.device() == device {
        return copy(x, l);
    }
    let host = to_host(x, l)?;
    guard("to", || match device {
        Device::Cpu => Ok(Storage::Cpu(host)),
        Device::Gpu(i) => Gpu(i).upload(&host).map(Storage::Gpu),
    })
}

/// A storage the router has matched as a CPU one.
fn cpu_of(s: &Storage) -> &CpuStorage {
    match s {
        Storage::Cpu(c) => c,
        Storage::Gpu(_) => unreachable!("routed by device"),
    }
}

/// [`cpu_of`], mutable.
fn cpu_mut(s: &mut Storage) -> &mut CpuStorage {
    match s {
        Storage::Cpu(c) => c,
        Storage::Gpu(_) => unreachable!("routed by device"),
    }
}

/// [`gpu_of`], mutable.
fn gpu_mut(s: &mut Storage) -> &mut wgpu::GpuStorage {
    match s {
        Storage::Gpu(g) => g,
        Storage::Cpu(_) => unreachable!("routed by device"),
    }
}

/// A storage the router has matched as a GPU one.
fn gpu_of(s: &Storage) -> &wgpu::GpuStorage {
    match s {
        Storage::Gpu(g) => g,
        Storage::Cpu(_) => unreachable!("routed by device"),
    }
}
