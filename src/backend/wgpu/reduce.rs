//! Reduction family (`shaders/reduce.wgsl`): sum, max, min, argmax and argmin over dims.

use super::codes::{dt_code, ReduceCode};
use super::launch::{check_span, grid, grid_threads};
use super::params::{u32_of, RowParams};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::ReduceOp;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

/// Reductions of at most this many rows of at least `LONG_ROW` elements take two passes.
const LONG_ROWS_MAX: usize = 64;
const LONG_ROW: usize = 16384;
/// Elements per workgroup in the first pass of a two-pass reduction.
const CHUNK: usize = 4096;

const fn entry(name: &'static str, bindings: &'static [(u32, Access)]) -> Entry {
    Entry::threads::<RowParams>(Shader::Reduce, name, &["OP", "DT", "CONTIG"], bindings)
}

const ROWS: &[(u32, Access)] = &[(1, Access::Read), (2, Access::ReadWrite)];

/// `reduce_wg`: one workgroup per row.
pub static REDUCE_WG: Entry = entry("reduce_wg", ROWS);
/// `reduce_thread`: one invocation per row (many short rows).
pub static REDUCE_THREAD: Entry = entry("reduce_thread", ROWS);
/// `reduce_partial`: first pass of a long-row reduction, chunks to (value, index) pairs.
pub static REDUCE_PARTIAL: Entry = entry(
    "reduce_partial",
    &[(1, Access::Read), (4, Access::ReadWrite)],
);
/// `reduce_final`: second pass, each row's pairs to one result.
pub static REDUCE_FINAL: Entry =
    entry("reduce_final", &[(2, Access::ReadWrite), (3, Access::Read)]);

/// Every reduction entry point.
pub(crate) static ENTRIES: [&Entry; 4] =
    [&REDUCE_WG, &REDUCE_THREAD, &REDUCE_PARTIAL, &REDUCE_FINAL];

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
            ReduceCode::Sum,
        ),
        ReduceOp::Max => (x.dtype, ReduceCode::Max),
        ReduceOp::Min => (x.dtype, ReduceCode::Min),
        ReduceOp::ArgMax => (DType::I64, ReduceCode::ArgMax),
        ReduceOp::ArgMin => (DType::I64, ReduceCode::ArgMin),
    };
    let ctx = &x.ctx;
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
    let (mut p, contig) = RowParams::new(&name, outer, red, &pl)?;
    let kernel = |e| {
        Kernel::new(e)
            .with("OP", code.code())
            .with("DT", dt)
            .flag("CONTIG", contig)
    };
    if outer <= LONG_ROWS_MAX && red >= LONG_ROW {
        // a few long rows: many workgroups reduce chunks, then one per row reduces the chunks
        let chunks = red.div_ceil(CHUNK);
        p.chunks = u32_of(&name, chunks)?;
        p.chunk = CHUNK as u32;
        let part = GpuStorage::alloc(ctx, DType::F32, 2 * outer * chunks, false, &name)?;
        let groups = grid(ctx, outer * chunks, &name)?;
        ctx.dispatch(&kernel(&REDUCE_PARTIAL), &p, &[&x.buf, &part.buf], groups)?;
        ctx.dispatch(
            &kernel(&REDUCE_FINAL),
            &p,
            &[&out.buf, &part.buf],
            grid(ctx, outer, &name)?,
        )?;
        return Ok(out);
    }
    // many short rows: one invocation per row; otherwise a workgroup per row
    let (entry, groups) = if red <= 64 && outer >= 64 {
        (&REDUCE_THREAD, grid_threads(ctx, outer, &name)?)
    } else {
        (&REDUCE_WG, grid(ctx, outer, &name)?)
    };
    ctx.dispatch(&kernel(entry), &p, &[&x.buf, &out.buf], groups)?;
    Ok(out)
}
