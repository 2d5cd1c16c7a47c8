//! Per-channel family (`shaders/channel.wgsl`): the statistics and affine maps of batch
//! normalisation over a dense `(N, C, S)` view, one dispatch each. Composed from reductions
//! and broadcast elementwise ops they took 2–5 dispatches apiece, and a training batch-norm
//! layer about 25 forward and 20 backward.

use super::launch::{check_span, f64_unsupported, grid, grid_threads};
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::ChannelCoeffs;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

param_block! {
    /// Parameters of the per-channel kernels: the view's `n`, `c`, `s` and storage offset
    /// `off`, and `total = n * c * s`.
    pub struct ChanParams {
        pub n: u32,
        pub c: u32,
        pub s: u32,
        pub off: u32,
        pub total: u32,
        pub eps: f32,
        pub momentum: f32,
        pub unbias: f32,
        pub count: f32,
        pub pad0: u32,
        pub pad1: u32,
        pub pad2: u32,
    }
}

/// `channel_moments`: one workgroup per channel, its mean and biased variance.
pub static MOMENTS: Entry = Entry::threads::<ChanParams>(
    Shader::Channel,
    "channel_moments",
    &[],
    &[
        (1, Access::Read),
        (6, Access::ReadWrite),
        (7, Access::ReadWrite),
    ],
);
/// `channel_dot`: one workgroup per channel, `Σ y` and `Σ y·(x − m)`.
pub static DOT: Entry = Entry::threads::<ChanParams>(
    Shader::Channel,
    "channel_dot",
    &[],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (6, Access::ReadWrite),
        (7, Access::ReadWrite),
    ],
);
/// `channel_affine`: one invocation per element, `x·a + b (+ y·d)`.
pub static AFFINE: Entry = Entry::threads::<ChanParams>(
    Shader::Channel,
    "channel_affine",
    &["HAS_Y"],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::Read),
        (5, Access::Read),
        (6, Access::ReadWrite),
    ],
);

/// `channel_coeffs`: one invocation per channel, batch normalisation's per-channel arithmetic.
pub static COEFFS: Entry = Entry::threads::<ChanParams>(
    Shader::Channel,
    "channel_coeffs",
    &["MODE", "HAS_W", "HAS_B"],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::Read),
        (5, Access::Read),
        (6, Access::ReadWrite),
    ],
);

/// Every per-channel entry point.
pub(crate) static ENTRIES: [&Entry; 4] = [&MOMENTS, &DOT, &AFFINE, &COEFFS];

/// The parameters of the dense `(N, C, S)` view `l` of `x` (and of each of `also`, laid out
/// as `x`), after checking dtypes, the view and the per-channel operands `per`.
fn params(
    op: &str,
    x: &GpuStorage,
    l: &Layout,
    also: &[&GpuStorage],
    per: &[&GpuStorage],
) -> Result<ChanParams> {
    for t in std::iter::once(x)
        .chain(also.iter().copied())
        .chain(per.iter().copied())
    {
        match t.dtype {
            DType::F32 => {}
            DType::F64 => return Err(f64_unsupported(op)),
            d => {
                return Err(Error::DType(format!(
                    "{op}: expected float32 tensors, got {d}"
                )))
            }
        }
    }
    let [n, c, s] = match l.shape[..] {
        [n, c, s] if l.is_contiguous() => [n, c, s],
        _ => {
            return Err(Error::Shape(format!(
                "{op}: expected a dense (N, C, S) view, got shape {:?} with strides {:?}",
                l.shape, l.strides
            )))
        }
    };
    for t in std::iter::once(x).chain(also.iter().copied()) {
        check_span(op, t, l)?;
    }
    if let Some(t) = per.iter().find(|t| t.len != c) {
        return Err(Error::Shape(format!(
            "{op}: a per-channel operand of {} elements for {c} channels",
            t.len
        )));
    }
    let total = n * c * s;
    u32_of(op, l.offset + total)?;
    Ok(ChanParams {
        n: n as u32,
        c: c as u32,
        s: s as u32,
        off: l.offset as u32,
        total: total as u32,
        ..bytemuck::Zeroable::zeroed()
    })
}

/// Two `(C)` outputs of a per-channel reduction.
fn pair(x: &GpuStorage, c: usize, op: &str) -> Result<(GpuStorage, GpuStorage)> {
    let mut a = GpuStorage::alloc(&x.ctx, DType::F32, c.max(1), false, op)?;
    let mut b = GpuStorage::alloc(&x.ctx, DType::F32, c.max(1), false, op)?;
    (a.len, b.len) = (c, c);
    Ok((a, b))
}

/// Per-channel mean and biased variance of the dense `(N, C, S)` view `l` of `x` (0 for an
/// empty channel).
pub fn channel_moments(x: &GpuStorage, l: &Layout) -> Result<(GpuStorage, GpuStorage)> {
    let op = "batch_norm";
    let p = params(op, x, l, &[], &[])?;
    let (m, v) = pair(x, p.c as usize, op)?;
    let groups = grid(&x.ctx, p.c as usize, op)?;
    x.ctx.dispatch(
        &Kernel::new(&MOMENTS),
        &p,
        &[&x.buf, &m.buf, &v.buf],
        groups,
    )?;
    Ok((m, v))
}

/// Per-channel `Σ y` and `Σ y·(x − m[c])` over the dense `(N, C, S)` view `l` of `y` and `x`.
pub fn channel_dot(
    y: &GpuStorage,
    x: &GpuStorage,
    l: &Layout,
    m: &GpuStorage,
) -> Result<(GpuStorage, GpuStorage)> {
    let op = "batch_norm backward";
    let p = params(op, x, l, &[y], &[m])?;
    let (sy, syx) = pair(x, p.c as usize, op)?;
    let groups = grid(&x.ctx, p.c as usize, op)?;
    let bufs = [&x.buf, &y.buf, &m.buf, &sy.buf, &syx.buf];
    x.ctx.dispatch(&Kernel::new(&DOT), &p, &bufs, groups)?;
    Ok((sy, syx))
}

/// `x·a[c] + b[c]` (plus `y·d[c]`) over the dense `(N, C, S)` view `l` of `x` and `y`, dense.
pub fn channel_affine(
    x: &GpuStorage,
    l: &Layout,
    a: &GpuStorage,
    b: &GpuStorage,
    y: Option<(&GpuStorage, &GpuStorage)>,
) -> Result<GpuStorage> {
    let op = "batch_norm";
    let (also, per): (Vec<&GpuStorage>, Vec<&GpuStorage>) = match y {
        Some((y, d)) => (vec![y], vec![a, b, d]),
        None => (vec![], vec![a, b]),
    };
    let p = params(op, x, l, &also, &per)?;
    let total = p.total as usize;
    let mut out = GpuStorage::alloc(&x.ctx, DType::F32, total.max(1), false, op)?;
    out.len = total;
    if total == 0 {
        return Ok(out);
    }
    let ctx = &x.ctx;
    let (ybuf, dbuf) = y.map_or((&ctx.dummies[0], &ctx.dummies[1]), |(y, d)| {
        (&y.buf, &d.buf)
    });
    let bufs = [&x.buf, ybuf, &a.buf, &b.buf, dbuf, &out.buf];
    let k = Kernel::new(&AFFINE).flag("HAS_Y", y.is_some());
    ctx.dispatch(&k, &p, &bufs, grid_threads(ctx, total, op)?)?;
    Ok(out)
}

/// Batch normalisation's per-channel arithmetic (see [`ChannelCoeffs`]): one dispatch writing
/// the outputs packed, then copied apart.
pub fn channel_coeffs(spec: &ChannelCoeffs, ins: &[&GpuStorage]) -> Result<Vec<GpuStorage>> {
    let op = "batch_norm";
    let (n_in, n_out) = spec.arity();
    let first = match ins.first() {
        Some(f) if ins.len() == n_in => *f,
        _ => {
            return Err(Error::Value(format!(
                "{op}: {} per-channel operands for {spec:?}",
                ins.len()
            )))
        }
    };
    let c = first.len;
    let l = Layout::contiguous(&[1, c, 1]);
    let mut p = params(op, first, &l, &[], ins)?;
    let k = Kernel::new(&COEFFS);
    let k = match *spec {
        ChannelCoeffs::Affine { eps, weight, bias } => {
            p.eps = eps as f32;
            k.with("MODE", 0u32)
                .flag("HAS_W", weight)
                .flag("HAS_B", bias)
        }
        ChannelCoeffs::Running { momentum, unbias } => {
            p.momentum = momentum as f32;
            p.unbias = unbias as f32;
            k.with("MODE", 1u32)
        }
        ChannelCoeffs::Grad { eps, count } => {
            p.eps = eps as f32;
            p.count = count as f32;
            k.with("MODE", 2u32)
        }
    };
    let ctx = &first.ctx;
    let packed = GpuStorage::alloc(ctx, DType::F32, (n_out * c).max(1), false, op)?;
    let mut bufs: Vec<&wgpu::Buffer> = ins.iter().map(|s| &s.buf).collect();
    bufs.extend(ctx.dummies[..5 - n_in].iter());
    bufs.push(&packed.buf);
    if c > 0 {
        ctx.dispatch(&k, &p, &bufs, grid_threads(ctx, c, op)?)?;
    }
    (0..n_out)
        .map(|i| {
            let mut o = GpuStorage::alloc(ctx, DType::F32, c.max(1), false, op)?;
            o.len = c;
            ctx.copy(&packed.buf, (i * c * 4) as u64, &o.buf, 0, (c * 4) as u64)?;
            Ok(o)
        })
        .collect()
}
