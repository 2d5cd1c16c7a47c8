//! Index kernels on the CPU: index_select / index_add and gather / scatter_add, bounds-checked.

use super::{gather_view, view_slice, IntoStorage};
use crate::error::{Error, Result};
use crate::shape::{contiguous_strides, for_each_row, Layout};
use crate::storage::CpuStorage;

fn indices(idx: &CpuStorage, li: &Layout, op: &str) -> Result<Vec<i64>> {
    match idx {
        CpuStorage::I64(v) => Ok(gather_view(v, li)),
        other => Err(Error::DType(format!(
            "{op}: indices must be int64, got {}",
            other.dtype()
        ))),
    }
}

fn check(i: i64, size: usize, op: &str, dim: usize) -> Result<usize> {
    if i < 0 || i >= size as i64 {
        return Err(Error::Index(format!(
            "{op}: index {i} is out of bounds for dimension {dim} with size {size}"
        )));
    }
    Ok(i as usize)
}

fn split3(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    (
        shape[..dim].iter().product(),
        shape[dim],
        shape[dim + 1..].iter().product(),
    )
}

/// Rows `idx` of `x` along `dim`.
pub fn index_select(
    x: &CpuStorage,
    l: &Layout,
    dim: usize,
    idx: &CpuStorage,
    li: &Layout,
) -> Result<CpuStorage> {
    let ids = indices(idx, li, "index_select")?;
    let (outer, d, inner) = split3(&l.shape, dim);
    let ids: Vec<usize> = ids
        .iter()
        .map(|&i| check(i, d, "index_select", dim))
        .collect::<Result<_>>()?;
    fn go<T: Copy + Send + Sync + Default>(
        v: &[T],
        outer: usize,
        d: usize,
        inner: usize,
        ids: &[usize],
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(outer * ids.len() * inner);
        for o in 0..outer {
            for &i in ids {
                let s = (o * d + i) * inner;
                out.extend_from_slice(&v[s..s + inner]);
            }
        }
        out
    }
    Ok(
        crate::with_cpu!(x, v => IntoStorage::into_storage(go(&view_slice(v, l), outer, d, inner, &ids))),
    )
}

/// Zeros of `shape` with row `i` of `src` (along `dim`) added at row `idx[i]`.
pub fn index_add(
    shape: &[usize],
    dim: usize,
    idx: &CpuStorage,
    li: &Layout,
    src: &CpuStorage,
    ls: &Layout,
) -> Result<CpuStorage> {
    let ids = indices(idx, li, "index_add")?;
    let (outer, d, inner) = split3(shape, dim);
    let ids: Vec<usize> = ids
        .iter()
        .map(|&i| check(i, d, "index_add", dim))
        .collect::<Result<_>>()?;
    fn go<T: Copy + Default + std::ops::AddAssign>(
        s: &[T],
        outer: usize,
        d: usize,
        inner: usize,
        ids: &[usize],
    ) -> Vec<T> {
        let mut out = vec![T::default(); outer * d * inner];
        let k = ids.len();
        for o in 0..outer {
            for (j, &i) in ids.iter().enumerate() {
                let src = &s[(o * k + j) * inner..(o * k + j + 1) * inner];
                let dst = &mut out[(o * d + i) * inner..(o * d + i + 1) * inner];
                for (a, &b) in dst.iter_mut().zip(src) {
                    *a += b;
                }
            }
        }
        out
    }
    Ok(match src {
        CpuStorage::F32(v) => CpuStorage::F32(go(&view_slice(v, ls), outer, d, inner, &ids)),
        CpuStorage::F64(v) => CpuStorage::F64(go(&view_slice(v, ls), outer, d, inner, &ids)),
        CpuStorage::I64(v) => CpuStorage::I64(go(&view_slice(v, ls), outer, d, inner, &ids)),
        other => {
            return Err(Error::DType(format!(
                "index_add: not supported for {}",
                other.dtype()
            )))
        }
    })
}

/// Walks every position of `idx` (contiguous) with the matching offset into a tensor of
/// `target` shape/strides whose `dim` coordinate is replaced by the index value.
#[allow(clippy::too_many_arguments)]
fn walk_gather(
    op: &str,
    ids: &[i64],
    ishape: &[usize],
    tshape: &[usize],
    tstrides: &[usize],
    toffset: usize,
    dim: usize,
    mut f: impl FnMut(usize, usize),
) -> Result<()> {
    for d in 0..ishape.len() {
        if d != dim && ishape[d] > tshape[d] {
            return Err(Error::Shape(format!(
                "{op}: index shape {ishape:?} exceeds tensor shape {tshape:?} at dim {d}"
            )));
        }
    }
    let n: usize = ishape.iter().product();
    if n == 0 {
        return Ok(());
    }
    let mut st = tstrides.to_vec();
    st[dim] = 0;
    let istr = contiguous_strides(ishape);
    let inner = *ishape.last().unwrap_or(&1);
    let last = ishape.len().saturating_sub(1);
    let step = if ishape.is_empty() || last == dim {
        0
    } else {
        tstrides[last]
    };
    let mut err = None;
    for_each_row(
        ishape,
        [&st, &istr],
        [toffset, 0],
        0,
        n / inner,
        |_, [to, io]| {
            if err.is_some() {
                return;
            }
            for j in 0..inner {
                let raw = ids[io + j];
                match check(raw, tshape[dim], op, dim) {
                    Ok(i) => f(io + j, to + j * step + i * tstrides[dim]),
                    Err(e) => {
                        err = Some(e);
                        return;
                    }
                }
            }
        },
    );
    err.map_or(Ok(()), Err)
}

/// `out[p] = x[p with coordinate dim = idx[p]]`; the result has idx's shape.
pub fn gather(
    x: &CpuStorage,
    l: &Layout,
    dim: usize,
    idx: &CpuStorage,
    li: &Layout,
) -> Result<CpuStorage> {
    let ids = indices(idx, li, "gather")?;
    if li.ndim() != l.ndim() {
        return Err(Error::Shape(format!(
            "gather: index must have as many dims as the input, got {:?} and {:?}",
            li.shape, l.shape
        )));
    }
    Ok(crate::with_cpu!(x, v => {
        let mut out = vec![Default::default(); ids.len()];
        walk_gather("gather", &ids, &li.shape, &l.shape, &l.strides, l.offset, dim, |p, o| out[p] = v[o])?;
        IntoStorage::into_storage(out)
    }))
}

/// Zeros of `shape` with `src[p]` added at `p with coordinate dim = idx[p]`.
pub fn scatter_add(
    shape: &[usize],
    dim: usize,
    idx: &CpuStorage,
    li: &Layout,
    src: &CpuStorage,
    ls: &Layout,
) -> Result<CpuStorage> {
    let ids = indices(idx, li, "scatter_add")?;
    if li.ndim() != shape.len() {
        return Err(Error::Shape(format!(
            "scatter_add: index must have as many dims as the output, got {:?} and {:?}",
            li.shape, shape
        )));
    }
    let strides = contiguous_strides(shape);
    let n: usize = shape.iter().product();
    macro_rules! go {
        ($v:expr) => {{
            let s = gather_view($v, ls);
            let mut out = zeroed(&s, n);
            walk_gather(
                "scatter_add",
                &ids,
                &li.shape,
                shape,
                &strides,
                0,
                dim,
                |p, o| out[o] += s[p],
            )?;
            IntoStorage::into_storage(out)
        }};
    }
    Ok(match src {
        CpuStorage::F32(v) => go!(v),
        CpuStorage::F64(v) => go!(v),
        CpuStorage::I64(v) => go!(v),
        other => {
            return Err(Error::DType(format!(
                "scatter_add: not supported for {}",
                other.dtype()
            )))
        }
    })
}

/// A vector of `n` default values of the element type of `_like`.
fn zeroed<T: Default + Clone>(_like: &[T], n: usize) -> Vec<T> {
    vec![T::default(); n]
}
