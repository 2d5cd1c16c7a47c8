//! Index kernels on the CPU: index_select / index_add and gather / scatter_add, bounds-checked.

use super::{dense, gather_view, view_slice, IntoStorage};
use crate::ensure;
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

/// The values of a gather/scatter index, which has as many dims as the `what` tensor of `shape`.
fn elementwise_indices(
    idx: &CpuStorage,
    li: &Layout,
    op: &str,
    shape: &[usize],
    what: &str,
) -> Result<Vec<i64>> {
    let ids = indices(idx, li, op)?;
    ensure!(
        li.ndim() == shape.len(),
        Shape,
        "{op}: index must have as many dims as the {what}, got {:?} and {shape:?}",
        li.shape
    );
    Ok(ids)
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
    /// A strided view larger than the selection (a broadcast `expand`, a slice of a big
    /// tensor) is read one selected index at a time, never copied whole.
    fn go_strided<T: Copy + Send + Sync + Default>(
        v: &[T],
        l: &Layout,
        dim: usize,
        ids: &[usize],
    ) -> Vec<T> {
        let (outer, _, inner) = split3(&l.shape, dim);
        let mut shape = l.shape.clone();
        let mut strides = l.strides.clone();
        shape.remove(dim);
        let step = strides.remove(dim);
        let mut out = vec![T::default(); outer * ids.len() * inner];
        for (k, &i) in ids.iter().enumerate() {
            let sub = Layout {
                shape: shape.clone(),
                strides: strides.clone(),
                offset: l.offset + i * step,
            };
            let block = gather_view(v, &sub);
            for o in 0..outer {
                let at = (o * ids.len() + k) * inner;
                out[at..at + inner].copy_from_slice(&block[o * inner..(o + 1) * inner]);
            }
        }
        out
    }
    let selected = outer * ids.len() * inner;
    Ok(crate::with_cpu!(x, v => IntoStorage::into_storage(
        if dense(v, l).is_none() && l.numel() > selected {
            go_strided(v, l, dim, &ids)
        } else {
            go(&view_slice(v, l), outer, d, inner, &ids)
        }
    )))
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
    let rows = IndexRows {
        ids: &ids,
        outer,
        d,
        inner,
    };
    scatter_add_runs("index_add", src, ls, outer * d * inner, inner, &rows)
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
    if let Some(out) = scatter_add_last_axis(shape, dim, idx, li, src, ls)? {
        return Ok(out);
    }
    let ids = elementwise_indices(idx, li, "scatter_add", shape, "output")?;
    let target = Layout::contiguous(shape);
    let walk = IndexWalk {
        op: "scatter_add",
        ids: &ids,
        ishape: &li.shape,
        target: &target,
        dim,
    };
    scatter_add_runs("scatter_add", src, ls, target.numel(), 1, &walk)
}

/// [`scatter_add`] along the last axis with an index as tall as the output (every axis but the
/// last of the same size; max-pool's backward): each output row gathers its own index row, so
/// the rows run in parallel and the indices are read in place. `None` where that does not
/// apply.
fn scatter_add_last_axis(
    shape: &[usize],
    dim: usize,
    idx: &CpuStorage,
    li: &Layout,
    src: &CpuStorage,
    ls: &Layout,
) -> Result<Option<CpuStorage>> {
    let CpuStorage::I64(iv) = idx else {
        return Ok(None);
    };
    if dim + 1 != shape.len()
        || li.shape != ls.shape
        || li.shape.len() != shape.len()
        || li.shape[..dim] != shape[..dim]
        || !li.is_contiguous()
        || !ls.is_contiguous()
        || li.numel() == 0
    {
        return Ok(None);
    }
    let (width, l) = (shape[dim], li.shape[dim]);
    let ids = &iv[li.dense_range()];
    // every index checked first, so an error leaves nothing half done
    if let Some(&bad) = ids.iter().find(|&&i| i < 0 || i >= width as i64) {
        check(bad, width, "scatter_add", dim)?;
    }
    fn go<T: Copy + Send + Sync + Default + std::ops::AddAssign>(
        v: &[T],
        ids: &[i64],
        rows: usize,
        (width, l): (usize, usize),
    ) -> Vec<T> {
        let mut out = vec![T::default(); rows * width];
        if width > 0 {
            // a few runs of rows per thread
            let per = rows.div_ceil(4 * super::pool::threads().max(1)).max(1);
            super::pool::chunks_mut(&mut out, per * width, |t, part| {
                for (j, row) in part.chunks_exact_mut(width).enumerate() {
                    let r = t * per + j;
                    for (&i, &x) in ids[r * l..(r + 1) * l].iter().zip(&v[r * l..(r + 1) * l]) {
                        row[i as usize] += x;
                    }
                }
            });
        }
        out
    }
    let rows: usize = shape[..dim].iter().product();
    let at = ls.dense_range();
    Ok(Some(match src {
        CpuStorage::F32(v) => CpuStorage::F32(go(&v[at], ids, rows, (width, l))),
        CpuStorage::F64(v) => CpuStorage::F64(go(&v[at], ids, rows, (width, l))),
        CpuStorage::I64(v) => CpuStorage::I64(go(&v[at], ids, rows, (width, l))),
        _ => return Ok(None),
    }))
}

/// Where the runs of a scatter-add go: `add(output offset, source offset)` once per run.
trait Runs {
    fn each(&self, add: impl FnMut(usize, usize)) -> Result<()>;
}

/// The one scatter-add kernel behind [`index_add`] and [`scatter_add`]: zeros of `n` elements
/// into which each run of `run` elements of `src` (read in row-major order) is added where
/// `runs` places it.
fn scatter_add_runs(
    op: &str,
    src: &CpuStorage,
    ls: &Layout,
    n: usize,
    run: usize,
    runs: &impl Runs,
) -> Result<CpuStorage> {
    fn go<T: Copy + Send + Sync + Default + std::ops::AddAssign>(
        v: &[T],
        ls: &Layout,
        n: usize,
        run: usize,
        runs: &impl Runs,
    ) -> Result<Vec<T>> {
        let s = view_slice(v, ls);
        let mut out = vec![T::default(); n];
        if run == 1 {
            // single elements (scatter_add): no inner loop
            runs.each(|o, p| out[o] += s[p])?;
        } else {
            runs.each(|o, p| {
                for (a, &b) in out[o..o + run].iter_mut().zip(&s[p..p + run]) {
                    *a += b;
                }
            })?;
        }
        Ok(out)
    }
    Ok(match src {
        CpuStorage::F32(v) => CpuStorage::F32(go(v, ls, n, run, runs)?),
        CpuStorage::F64(v) => CpuStorage::F64(go(v, ls, n, run, runs)?),
        CpuStorage::I64(v) => CpuStorage::I64(go(v, ls, n, run, runs)?),
        other => {
            return Err(Error::DType(format!(
                "{op}: not supported for {}",
                other.dtype()
            )))
        }
    })
}

/// index_add's runs: row `j` of each outer block of the source (`inner` elements) goes to row
/// `ids[j]` of the same block of the output.
struct IndexRows<'a> {
    ids: &'a [usize],
    outer: usize,
    d: usize,
    inner: usize,
}

impl Runs for IndexRows<'_> {
    fn each(&self, mut add: impl FnMut(usize, usize)) -> Result<()> {
        let (k, inner) = (self.ids.len(), self.inner);
        for o in 0..self.outer {
            for (j, &i) in self.ids.iter().enumerate() {
                add((o * self.d + i) * inner, (o * k + j) * inner);
            }
        }
        Ok(())
    }
}

/// The positions of a contiguous index tensor of shape `ishape`, each paired with the offset
/// into `target` whose `dim` coordinate is replaced by the index value (gather's reads,
/// scatter_add's writes).
struct IndexWalk<'a> {
    op: &'a str,
    ids: &'a [i64],
    ishape: &'a [usize],
    target: &'a Layout,
    dim: usize,
}

impl IndexWalk<'_> {
    /// Calls `f(index position, target offset)` for every position, bounds-checked.
    fn walk(&self, mut f: impl FnMut(usize, usize)) -> Result<()> {
        let (op, ids, ishape, dim) = (self.op, self.ids, self.ishape, self.dim);
        let (tshape, tstrides) = (&self.target.shape, &self.target.strides);
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
            [self.target.offset, 0],
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
}

impl Runs for IndexWalk<'_> {
    fn each(&self, mut add: impl FnMut(usize, usize)) -> Result<()> {
        self.walk(|p, o| add(o, p))
    }
}

/// `out[p] = x[p with coordinate dim = idx[p]]`; the result has idx's shape.
pub fn gather(
    x: &CpuStorage,
    l: &Layout,
    dim: usize,
    idx: &CpuStorage,
    li: &Layout,
) -> Result<CpuStorage> {
    let ids = elementwise_indices(idx, li, "gather", &l.shape, "input")?;
    let walk = IndexWalk {
        op: "gather",
        ids: &ids,
        ishape: &li.shape,
        target: l,
        dim,
    };
    Ok(crate::with_cpu!(x, v => {
        let mut out = vec![Default::default(); ids.len()];
        walk.walk(|p, o| out[p] = v[o])?;
        IntoStorage::into_storage(out)
    }))
}
