//! Host-side helpers every kernel family uses: argument checks, layout merging and the
//! workgroup grid of a dispatch.
//!
//! Layouts are merged before dispatch (size-1 dims dropped, dims that are contiguous for every
//! operand fused), so most views reach the shaders with one or two dims and plain contiguous
//! ones take the shaders' `CONTIG` fast path.

use super::codes::WG;
use super::context::GpuContext;
use super::params::{ParamBlock, MAX_DIMS};
use super::pipelines::Kernel;
use super::GpuStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

/// The error for float64 on the GPU.
pub(crate) fn f64_unsupported(op: &str) -> Error {
    Error::DType(format!(
        "{op}: float64 is not supported on the GPU; convert to float32 first"
    ))
}

/// Workgroup grid for `groups` workgroups, folded into y when x would exceed the limit
/// (the shaders linearise it as `wid.y * nwg.x + wid.x`).
pub(crate) fn grid(ctx: &GpuContext, groups: usize, op: &str) -> Result<[u32; 3]> {
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

/// Grid of `n` invocations of a 1-D kernel (`WG` per workgroup).
pub(crate) fn grid_threads(ctx: &GpuContext, n: usize, op: &str) -> Result<[u32; 3]> {
    grid(ctx, n.div_ceil(WG as usize), op)
}

/// Dispatches the 1-D kernel `k` over `n` invocations (the grid of [`grid_threads`]).
pub(crate) fn dispatch_threads<P: ParamBlock>(
    ctx: &GpuContext,
    k: &Kernel,
    params: &P,
    buffers: &[&wgpu::Buffer],
    n: usize,
    op: &str,
) -> Result<()> {
    ctx.dispatch(k, params, buffers, grid_threads(ctx, n, op)?)
}

/// Fails unless `l` stays inside the storage (a broken layout must not reach a shader).
pub(crate) fn check_span(op: &str, x: &GpuStorage, l: &Layout) -> Result<()> {
    if l.span() > x.len {
        return Err(Error::Shape(format!(
            "{op}: view of shape {:?} (strides {:?}, offset {}) exceeds a storage of {} elements",
            l.shape, l.strides, l.offset, x.len
        )));
    }
    Ok(())
}

/// Drops size-1 dims and fuses neighbours that are contiguous for every operand.
pub(crate) fn merge(shape: &[usize], strides: &[&[usize]]) -> (Vec<usize>, Vec<Vec<usize>>) {
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

/// [`merge`] that fails when more than [`MAX_DIMS`] dims remain; also says whether every
/// operand is then plainly contiguous (the shaders' `CONTIG` fast path).
pub(crate) fn merge_checked(
    op: &str,
    shape: &[usize],
    strides: &[&[usize]],
) -> Result<(Vec<usize>, Vec<Vec<usize>>, bool)> {
    let (ms, mst) = merge(shape, strides);
    if ms.len() > MAX_DIMS {
        return Err(Error::Gpu(format!(
            "{op}: the view of shape {shape:?} has more than {MAX_DIMS} dims that cannot be merged; call contiguous() first"
        )));
    }
    let contig = ms.is_empty() || (ms.len() == 1 && mst.iter().all(|s| s[0] == 1));
    Ok((ms, mst, contig))
}

/// The bits of `value` in the GPU representation of `dtype`.
pub(crate) fn value_bits(op: &str, value: f64, dtype: DType) -> Result<u32> {
    Ok(match dtype.storage() {
        DType::F32 => (value as f32).to_bits(),
        DType::I64 | DType::U8 | DType::I8 | DType::I16 | DType::I32 => {
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
