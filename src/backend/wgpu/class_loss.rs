//! Classification-loss family (`shaders/class_loss.wgsl`): cross-entropy and negative
//! log-likelihood over dense `(rows, classes)` scores, fused. The forward is one dispatch per
//! row (the result itself for `reduction='none'`) plus one workgroup that sums the rows; the
//! backward is one dispatch over the scores. The composed form of the same loss (log-softmax,
//! gather, where, weights, sums) took about 25 dispatches.

use super::launch::{dispatch_threads, f64_unsupported, grid, grid_threads};
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::transfer::download;
use super::GpuStorage;
use crate::backend::{ClassLossSpec, LossReduction};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::CpuStorage;

param_block! {
    /// Parameters of the class-loss kernels: `rows` rows of `classes` scores, the target value
    /// that marks an ignored row (an i32's bits) and the label smoothing.
    pub struct LossParams {
        pub rows: u32,
        pub classes: u32,
        pub ignore: u32,
        pub smoothing: f32,
    }
}

const OVERRIDES: &[&str] = &["LOGITS", "WEIGHTED", "REDUCTION"];
const ROW_BINDINGS: &[(u32, Access)] = &[
    (1, Access::Read),
    (2, Access::Read),
    (3, Access::Read),
    (4, Access::ReadWrite),
    (5, Access::ReadWrite),
    (6, Access::ReadWrite),
];

/// `class_loss_rows_wg`: one workgroup per row (many classes).
pub static ROWS_WG: Entry = Entry::threads::<LossParams>(
    Shader::ClassLoss,
    "class_loss_rows_wg",
    OVERRIDES,
    ROW_BINDINGS,
);
/// `class_loss_rows_thread`: one invocation per row (few classes).
pub static ROWS_THREAD: Entry = Entry::threads::<LossParams>(
    Shader::ClassLoss,
    "class_loss_rows_thread",
    OVERRIDES,
    ROW_BINDINGS,
);
/// `class_loss_total`: one workgroup summing the rows.
pub static TOTAL: Entry = Entry::threads::<LossParams>(
    Shader::ClassLoss,
    "class_loss_total",
    OVERRIDES,
    &[
        (4, Access::ReadWrite),
        (5, Access::ReadWrite),
        (6, Access::ReadWrite),
    ],
);
/// `class_loss_grad`: one invocation per score.
pub static GRAD: Entry = Entry::threads::<LossParams>(
    Shader::ClassLoss,
    "class_loss_grad",
    OVERRIDES,
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::ReadWrite),
        (6, Access::ReadWrite),
        (7, Access::Read),
    ],
);

/// Every class-loss entry point.
pub(crate) static ENTRIES: [&Entry; 4] = [&ROWS_WG, &ROWS_THREAD, &TOTAL, &GRAD];

/// The kernel `e` specialised for `d` and a weight or none.
fn kernel(e: &'static Entry, d: &ClassLossSpec, weighted: bool) -> Kernel {
    let r = match d.reduction {
        LossReduction::None => 0u32,
        LossReduction::Sum => 1,
        LossReduction::Mean => 2,
    };
    Kernel::new(e)
        .flag("LOGITS", d.logits)
        .flag("WEIGHTED", weighted)
        .with("REDUCTION", r)
}

fn params(op: &str, d: &ClassLossSpec) -> Result<LossParams> {
    u32_of(op, d.rows.saturating_mul(d.classes))?;
    let ignore = i32::try_from(d.ignore).map_or(i32::MIN, |v| v);
    Ok(LossParams {
        rows: u32_of(op, d.rows)?,
        classes: u32_of(op, d.classes)?,
        ignore: ignore as u32,
        smoothing: d.smoothing as f32,
    })
}

/// Fails unless every target is a class or `ignore` (read back only when the targets' known
/// range does not settle it).
fn check_targets(op: &str, t: &GpuStorage, d: &ClassLossSpec) -> Result<()> {
    if t.dtype != DType::I64 {
        return Err(Error::DType(format!(
            "{op}: expected int64 class targets, got {}",
            t.dtype
        )));
    }
    if d.rows == 0 {
        return Ok(());
    }
    if let Some((lo, hi)) = t.range {
        if lo >= 0 && (hi as i128) < d.classes as i128 {
            return Ok(());
        }
    }
    let host = match download(t)? {
        CpuStorage::I64(v) => v,
        _ => return Ok(()),
    };
    let bad = host
        .iter()
        .take(d.rows)
        .find(|&&v| v != d.ignore && (v < 0 || v as u64 >= d.classes as u64));
    match bad {
        None => Ok(()),
        Some(v) => Err(Error::Index(format!(
            "{op}: target {v} is out of range for {} classes (expected values in [0, {}) or ignore_index={})",
            d.classes, d.classes, d.ignore
        ))),
    }
}

fn check_scores(op: &str, x: &GpuStorage, d: &ClassLossSpec) -> Result<()> {
    if x.dtype != DType::F32 {
        return Err(if x.dtype == DType::F64 {
            f64_unsupported(op)
        } else {
            Error::DType(format!("{op}: expected float scores, got {}", x.dtype))
        });
    }
    if x.len < d.rows * d.classes {
        return Err(Error::Shape(format!(
            "{op}: {} scores for {} rows of {} classes",
            x.len, d.rows, d.classes
        )));
    }
    Ok(())
}

/// The loss (`rows` values for `reduction='none'`, else one) and the rows' log-sum-exps with
/// the mean's denominator and the weights' sum, `rows + 2` values the backward reads.
pub fn class_loss_forward(
    x: &GpuStorage,
    t: &GpuStorage,
    w: Option<&GpuStorage>,
    d: &ClassLossSpec,
) -> Result<(GpuStorage, GpuStorage)> {
    let op = if d.logits {
        "cross_entropy"
    } else {
        "nll_loss"
    };
    check_scores(op, x, d)?;
    check_targets(op, t, d)?;
    let ctx = &x.ctx;
    let p = params(op, d)?;
    let mut out = GpuStorage::alloc(ctx, DType::F32, d.rows.max(1), false, op)?;
    let roww = GpuStorage::alloc(ctx, DType::F32, d.rows.max(1), false, op)?;
    let aux = GpuStorage::alloc(ctx, DType::F32, d.rows + 2, false, op)?;
    let wbuf = w.map_or(&ctx.dummies[0], |w| &w.buf);
    let bufs = [&x.buf, &t.buf, wbuf, &out.buf, &roww.buf, &aux.buf];
    let (entry, groups) = if d.classes <= 64 {
        (&ROWS_THREAD, grid_threads(ctx, d.rows, op)?)
    } else {
        (&ROWS_WG, grid(ctx, d.rows, op)?)
    };
    ctx.dispatch(&kernel(entry, d, w.is_some()), &p, &bufs, groups)?;
    if d.reduction == LossReduction::None {
        out.len = d.rows;
    } else {
        let k = kernel(&TOTAL, d, w.is_some());
        ctx.dispatch(&k, &p, &[&out.buf, &roww.buf, &aux.buf], [1, 1, 1])?;
        out.len = 1;
    }
    Ok((out, aux))
}

/// The gradient `(rows, classes)` of [`class_loss_forward`]'s loss from its output gradient
/// `g` (`rows` values for `reduction='none'`, else one).
pub fn class_loss_backward(
    x: &GpuStorage,
    t: &GpuStorage,
    w: Option<&GpuStorage>,
    aux: &GpuStorage,
    g: &GpuStorage,
    d: &ClassLossSpec,
) -> Result<GpuStorage> {
    let op = if d.logits {
        "cross_entropy backward"
    } else {
        "nll_loss backward"
    };
    check_scores(op, x, d)?;
    let n = d.rows * d.classes;
    let ctx = &x.ctx;
    let out = GpuStorage::alloc(ctx, DType::F32, n, false, op)?;
    if n == 0 {
        return Ok(out);
    }
    let p = params(op, d)?;
    let wbuf = w.map_or(&ctx.dummies[0], |w| &w.buf);
    let bufs = [&x.buf, &t.buf, wbuf, &out.buf, &aux.buf, &g.buf];
    dispatch_threads(ctx, &kernel(&GRAD, d, w.is_some()), &p, &bufs, n, op)?;
    Ok(out)
}
