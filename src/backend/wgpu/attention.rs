//! Attention family (`shaders/attention.wgsl`): fused scaled-dot-product attention, forward and
//! backward, tiled through workgroup memory with an online softmax, so memory grows with
//! `L + S` and the `L×S` scores are never stored.
//!
//! The forward writes the output and each query's log-sum-exp (the layout the CPU kernel saves).
//! The backward runs three kernels into one workspace `[dQ | dK | dV | (lse, D) per query]`:
//! a per-query prologue, dQ per query block and dK/dV per key block (each block owns its rows,
//! so no float atomics), then copies the three gradients out.

use super::elementwise::copy;
use super::launch::{f64_unsupported, grid_threads};
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::AttnDims;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

/// Rows of the block one workgroup owns (queries; keys for dK/dV), four per invocation group of
/// eight: `ATTN_ROWS` in WGSL.
pub const ROWS: u32 = 32;
/// The widest query/key and value rows the kernels hold in registers: `ATTN_MAX_DIM` in WGSL.
/// Wider heads are composed from matmul and softmax by `F.scaled_dot_product_attention`.
pub const MAX_DIM: u32 = 128;

param_block! {
    /// Parameters of the attention kernels: sizes (`l` queries, `s` keys, widths `e` and `ev`),
    /// the first batch entry of the dispatch, the prologue's `rows` (`B·L`), the mask's batch
    /// stride (0: one mask for all), the score scale, and the workspace offsets of dK, dV and the
    /// per-query (lse, D) pairs.
    pub struct AttnParams {
        pub l: u32,
        pub s: u32,
        pub e: u32,
        pub ev: u32,
        pub batch_base: u32,
        pub rows: u32,
        pub mstride: u32,
        pub scale: f32,
        pub x_dk: u32,
        pub x_dv: u32,
        pub x_st: u32,
        pub pad0: u32,
    }
}

/// Invocations of the block kernels (`@workgroup_size(64)` in WGSL).
const BLOCK_WG: [u32; 3] = [64, 1, 1];

/// `attn_forward`: Q, K, V, mask (read), output and log-sum-exp (written).
pub static ATTN_FORWARD: Entry = Entry::new::<AttnParams>(
    Shader::Attention,
    "attn_forward",
    BLOCK_WG,
    &["MASK", "CAUSAL"],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::Read),
        (5, Access::ReadWrite),
        (6, Access::ReadWrite),
    ],
);
/// `attn_backward_prep`: dO, saved output, log-sum-exp (read), workspace (written).
pub static ATTN_BACKWARD_PREP: Entry = Entry::threads::<AttnParams>(
    Shader::Attention,
    "attn_backward_prep",
    &[],
    &[
        (7, Access::Read),
        (9, Access::Read),
        (10, Access::Read),
        (8, Access::ReadWrite),
    ],
);

const BACKWARD_BINDINGS: &[(u32, Access)] = &[
    (1, Access::Read),
    (2, Access::Read),
    (3, Access::Read),
    (4, Access::Read),
    (7, Access::Read),
    (8, Access::ReadWrite),
];
/// `attn_backward_dq`: Q, K, V, mask, dO (read), workspace (dQ written).
pub static ATTN_BACKWARD_DQ: Entry = Entry::new::<AttnParams>(
    Shader::Attention,
    "attn_backward_dq",
    BLOCK_WG,
    &["MASK", "CAUSAL"],
    BACKWARD_BINDINGS,
);
/// `attn_backward_dkv`: Q, K, V, mask, dO (read), workspace (dK, dV written).
pub static ATTN_BACKWARD_DKV: Entry = Entry::new::<AttnParams>(
    Shader::Attention,
    "attn_backward_dkv",
    BLOCK_WG,
    &["MASK", "CAUSAL"],
    BACKWARD_BINDINGS,
);

/// Every attention entry point.
pub(crate) static ENTRIES: [&Entry; 4] = [
    &ATTN_FORWARD,
    &ATTN_BACKWARD_PREP,
    &ATTN_BACKWARD_DQ,
    &ATTN_BACKWARD_DKV,
];

/// Fails unless `x` is float32 and its view holds `want` elements.
fn check(op: &str, what: &str, x: &GpuStorage, l: &Layout, want: usize) -> Result<()> {
    match x.dtype {
        DType::F32 => {}
        DType::F64 => return Err(f64_unsupported(op)),
        dt => {
            return Err(Error::DType(format!(
                "{op}: {what} must be float32 on the GPU, got {dt}"
            )))
        }
    }
    if l.numel() != want {
        return Err(Error::Shape(format!(
            "{op}: {what} holds {} elements, expected {want}",
            l.numel()
        )));
    }
    if l.span() > x.len {
        return Err(Error::Shape(format!(
            "{op}: the view of {what} (shape {:?}, offset {}) exceeds its storage of {} elements",
            l.shape, l.offset, x.len
        )));
    }
    Ok(())
}

/// A dense copy of the view, or `None` when the storage already is it from its start.
fn dense(x: &GpuStorage, l: &Layout) -> Result<Option<GpuStorage>> {
    if l.is_contiguous() && l.offset == 0 {
        Ok(None)
    } else {
        copy(x, l).map(Some)
    }
}

/// The mask's batch stride: 0 for one `(L, S)` mask, `L·S` for one per batch entry.
fn mask_stride(op: &str, len: usize, d: AttnDims) -> Result<usize> {
    let one = d.l * d.s;
    if len == one {
        Ok(0)
    } else if len == one * d.batch {
        Ok(one)
    } else {
        Err(Error::Shape(format!(
            "{op}: the mask holds {len} elements, expected {one} or {}",
            one * d.batch
        )))
    }
}

/// The checks shared by forward and backward: sizes the kernels can index and hold.
fn params(op: &str, d: AttnDims, mask_len: Option<usize>, scale: f64) -> Result<AttnParams> {
    if d.e > MAX_DIM as usize || d.ev > MAX_DIM as usize {
        return Err(Error::Device(format!(
            "{op}: the GPU kernel takes query/key and value widths up to {MAX_DIM}, got {} and {}",
            d.e, d.ev
        )));
    }
    let w = |v: usize| u32_of(op, v);
    let (nq, nk, nv) = (
        d.batch * d.l * d.e,
        d.batch * d.s * d.e,
        d.batch * d.s * d.ev,
    );
    // every flat index of the kernels, the workspace's included, fits 32 bits
    w(nq + nk + nv + 2 * d.batch * d.l)?;
    w(d.batch * d.l * d.ev)?;
    let mstride = match mask_len {
        Some(n) => mask_stride(op, w(n)? as usize, d)?,
        None => 0,
    };
    Ok(AttnParams {
        l: w(d.l)?,
        s: w(d.s)?,
        e: w(d.e)?,
        ev: w(d.ev)?,
        batch_base: 0,
        rows: w(d.batch * d.l)?,
        mstride: w(mstride)?,
        scale: scale as f32,
        x_dk: w(nq)?,
        x_dv: w(nq + nk)?,
        x_st: w(nq + nk + nv)?,
        pad0: 0,
    })
}

/// Dispatches a block kernel over `rows` rows per batch entry (`ROWS` per workgroup) for every
/// batch entry, in slices of batch entries that fit the grid.
fn dispatch_blocks(
    x: &GpuStorage,
    k: &Kernel,
    mut p: AttnParams,
    buffers: &[&wgpu::Buffer],
    rows: usize,
    batch: usize,
    op: &str,
) -> Result<()> {
    let ctx = &x.ctx;
    let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
    let blocks = rows.div_ceil(ROWS as usize);
    if blocks > max {
        return Err(Error::Gpu(format!(
            "{op}: {rows} rows need {blocks} workgroups, beyond the adapter's {max} per dimension"
        )));
    }
    let mut base = 0;
    while base < batch {
        let z = (batch - base).min(max);
        p.batch_base = base as u32;
        ctx.dispatch(k, &p, buffers, [blocks as u32, z as u32, 1])?;
        base += z;
    }
    Ok(())
}

/// Fused attention forward on the GPU: `(out (B, L, Ev), lse (B, L))`.
pub fn attention_forward(
    (q, k, v): (&GpuStorage, &GpuStorage, &GpuStorage),
    (lq, lk, lv): (&Layout, &Layout, &Layout),
    mask: Option<(&GpuStorage, &Layout)>,
    d: AttnDims,
    causal: bool,
    scale: f64,
) -> Result<(GpuStorage, GpuStorage)> {
    const OP: &str = "scaled_dot_product_attention";
    check(OP, "the query", q, lq, d.batch * d.l * d.e)?;
    check(OP, "the key", k, lk, d.batch * d.s * d.e)?;
    check(OP, "the value", v, lv, d.batch * d.s * d.ev)?;
    if let Some((m, lm)) = mask {
        check(OP, "the mask", m, lm, lm.numel())?;
    }
    let p = params(OP, d, mask.map(|(_, lm)| lm.numel()), scale)?;
    let ctx = &q.ctx;
    let out = GpuStorage::alloc(ctx, DType::F32, d.batch * d.l * d.ev, false, OP)?;
    let lse = GpuStorage::alloc(ctx, DType::F32, d.batch * d.l, false, OP)?;
    if d.batch * d.l == 0 {
        return Ok((out, lse));
    }
    let (qd, kd, vd) = (dense(q, lq)?, dense(k, lk)?, dense(v, lv)?);
    let md = mask.map(|(m, lm)| dense(m, lm)).transpose()?.flatten();
    let mbuf = match (&md, mask) {
        (Some(c), _) => &c.buf,
        (None, Some((m, _))) => &m.buf,
        (None, None) => &ctx.dummies[0],
    };
    let kernel = Kernel::new(&ATTN_FORWARD)
        .flag("MASK", mask.is_some())
        .flag("CAUSAL", causal);
    let bufs = [
        &qd.as_ref().unwrap_or(q).buf,
        &kd.as_ref().unwrap_or(k).buf,
        &vd.as_ref().unwrap_or(v).buf,
        mbuf,
        &out.buf,
        &lse.buf,
    ];
    dispatch_blocks(q, &kernel, p, &bufs, d.l, d.batch, OP)?;
    Ok((out, lse))
}

/// Fused attention backward on the GPU: `(dq, dk, dv)` from the forward's inputs, its output and
/// log-sum-exp (dense, as the forward wrote them) and the output gradient.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    (q, k, v): (&GpuStorage, &GpuStorage, &GpuStorage),
    (lq, lk, lv): (&Layout, &Layout, &Layout),
    (out, lse, dout, lg): (&GpuStorage, &GpuStorage, &GpuStorage, &Layout),
    mask: Option<(&GpuStorage, &Layout)>,
    d: AttnDims,
    causal: bool,
    scale: f64,
) -> Result<(GpuStorage, GpuStorage, GpuStorage)> {
    const OP: &str = "scaled_dot_product_attention backward";
    check(OP, "the query", q, lq, d.batch * d.l * d.e)?;
    check(OP, "the key", k, lk, d.batch * d.s * d.e)?;
    check(OP, "the value", v, lv, d.batch * d.s * d.ev)?;
    check(OP, "the output gradient", dout, lg, d.batch * d.l * d.ev)?;
    let rows = d.batch * d.l;
    let (lo, ll) = (
        Layout::contiguous(&[rows * d.ev]),
        Layout::contiguous(&[rows]),
    );
    check(OP, "the saved output", out, &lo, rows * d.ev)?;
    check(OP, "the saved log-sum-exp", lse, &ll, rows)?;
    if let Some((m, lm)) = mask {
        check(OP, "the mask", m, lm, lm.numel())?;
    }
    let p = params(OP, d, mask.map(|(_, lm)| lm.numel()), scale)?;
    let ctx = &q.ctx;
    let (nq, nk, nv) = (
        d.batch * d.l * d.e,
        d.batch * d.s * d.e,
        d.batch * d.s * d.ev,
    );
    let dq = GpuStorage::alloc(ctx, DType::F32, nq, false, OP)?;
    let dk = GpuStorage::alloc(ctx, DType::F32, nk, false, OP)?;
    let dv = GpuStorage::alloc(ctx, DType::F32, nv, false, OP)?;
    if nq + nk + nv == 0 {
        return Ok((dq, dk, dv));
    }
    let work = GpuStorage::alloc(ctx, DType::F32, nq + nk + nv + 2 * rows, false, OP)?;
    let (qd, kd, vd, gd) = (
        dense(q, lq)?,
        dense(k, lk)?,
        dense(v, lv)?,
        dense(dout, lg)?,
    );
    let md = mask.map(|(m, lm)| dense(m, lm)).transpose()?.flatten();
    let mbuf = match (&md, mask) {
        (Some(c), _) => &c.buf,
        (None, Some((m, _))) => &m.buf,
        (None, None) => &ctx.dummies[0],
    };
    let gbuf = &gd.as_ref().unwrap_or(dout).buf;
    if rows > 0 {
        let prep = Kernel::new(&ATTN_BACKWARD_PREP);
        let bufs = [gbuf, &out.buf, &lse.buf, &work.buf];
        ctx.dispatch(&prep, &p, &bufs, grid_threads(ctx, rows, OP)?)?;
    }
    let bufs = [
        &qd.as_ref().unwrap_or(q).buf,
        &kd.as_ref().unwrap_or(k).buf,
        &vd.as_ref().unwrap_or(v).buf,
        mbuf,
        gbuf,
        &work.buf,
    ];
    for (entry, rows_of) in [(&ATTN_BACKWARD_DQ, d.l), (&ATTN_BACKWARD_DKV, d.s)] {
        let kernel = Kernel::new(entry)
            .flag("MASK", mask.is_some())
            .flag("CAUSAL", causal);
        dispatch_blocks(q, &kernel, p, &bufs, rows_of, d.batch, OP)?;
    }
    let f = 4u64;
    ctx.copy(&work.buf, 0, &dq.buf, 0, nq as u64 * f)?;
    ctx.copy(&work.buf, nq as u64 * f, &dk.buf, 0, nk as u64 * f)?;
    ctx.copy(&work.buf, (nq + nk) as u64 * f, &dv.buf, 0, nv as u64 * f)?;
    Ok((dq, dk, dv))
}
