//! Reductions on the CPU: sum / max / min / argmax / argmin over any set of dims.
//!
//! Sums of floats run in one pass over the input in its own order, accumulating in f64; the
//! dense edge cases (column, channel and row sums) split over threads above `PAR_MIN`
//! elements, in tasks of about `PAR_CHUNK` elements.

use super::{dense, gather_view, pool, simd, IntoStorage, PAR_CHUNK, PAR_MIN};
use crate::backend::ReduceOp;
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::{for_each_row, Layout};
use crate::storage::CpuStorage;

/// Moves the reduced dims last and returns (outer count, reduced length, contiguous data layout).
fn reduce_layout(l: &Layout, dims: &[usize]) -> (Layout, usize, usize) {
    let keep: Vec<usize> = (0..l.ndim()).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = keep.iter().chain(dims.iter()).copied().collect();
    let pl = l.permute(&perm);
    let red: usize = dims.iter().map(|&d| l.shape[d]).product();
    let outer: usize = keep.iter().map(|&d| l.shape[d]).product();
    (pl, outer, red)
}

trait ReduceElem: Copy + Send + Sync + PartialOrd + Default {
    fn acc(x: Self) -> f64;
    fn from_acc(v: f64) -> Self;
    fn is_nan(self) -> bool;
    /// The sum of a row: in f64 with four partial sums (keeps f32 error small and lets the loop
    /// vectorise); integers override it with an exact one.
    fn sum_row(r: &[Self]) -> Self {
        let mut s = [0f64; 4];
        let mut ch = r.chunks_exact(4);
        for c in &mut ch {
            s[0] += Self::acc(c[0]);
            s[1] += Self::acc(c[1]);
            s[2] += Self::acc(c[2]);
            s[3] += Self::acc(c[3]);
        }
        let mut t = s[0] + s[1] + s[2] + s[3];
        for &x in ch.remainder() {
            t += Self::acc(x);
        }
        Self::from_acc(t)
    }
}
impl ReduceElem for f32 {
    fn acc(x: Self) -> f64 {
        x as f64
    }
    fn from_acc(v: f64) -> Self {
        v as f32
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}
impl ReduceElem for f64 {
    fn acc(x: Self) -> f64 {
        x
    }
    fn from_acc(v: f64) -> Self {
        v
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}
impl ReduceElem for i64 {
    fn acc(x: Self) -> f64 {
        x as f64
    }
    fn from_acc(v: f64) -> Self {
        v as i64
    }
    fn is_nan(self) -> bool {
        false
    }
    /// exact, and wrapping on overflow as PyTorch's integer sum (an f64 sum rounds above 2^53)
    fn sum_row(r: &[Self]) -> Self {
        r.iter().fold(0i64, |a, &x| a.wrapping_add(x))
    }
}
impl ReduceElem for bool {
    fn acc(x: Self) -> f64 {
        x as u8 as f64
    }
    fn from_acc(v: f64) -> Self {
        v != 0.0
    }
    fn is_nan(self) -> bool {
        false
    }
}

fn reduce_rows<T: ReduceElem + IntoStorage + 'static>(
    op: ReduceOp,
    data: &[T],
    outer: usize,
    red: usize,
) -> CpuStorage {
    fn pick<T: ReduceElem>(row: &[T], better: impl Fn(T, T) -> bool) -> (T, i64) {
        let mut best = row[0];
        let mut bi = 0;
        for (i, &x) in row.iter().enumerate().skip(1) {
            if best.is_nan() {
                break;
            }
            if x.is_nan() || better(x, best) {
                best = x;
                bi = i;
            }
        }
        (best, bi as i64)
    }
    let rows = |f: &(dyn Fn(&[T]) -> T + Sync)| -> Vec<T> {
        if outer * red >= PAR_MIN && outer > 1 {
            let rows_per_task = (PAR_CHUNK / red.max(1)).max(1);
            pool::map_collect(outer, rows_per_task, |r| f(&data[r * red..(r + 1) * red]))
        } else {
            data.chunks(red).map(f).collect()
        }
    };
    let idx = |f: &(dyn Fn(&[T]) -> i64 + Sync)| -> Vec<i64> { data.chunks(red).map(f).collect() };
    match op {
        ReduceOp::Sum => {
            if red == 0 {
                return T::into_storage(vec![T::from_acc(0.0); outer]);
            }
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<bool>() {
                // sum of bools counts them, as int64
                return CpuStorage::I64(
                    data.chunks(red)
                        .map(|r| r.iter().map(|&x| T::acc(x) as i64).sum())
                        .collect(),
                );
            }
            T::into_storage(rows(&|r: &[T]| T::sum_row(r)))
        }
        ReduceOp::Max => T::into_storage(rows(&|r: &[T]| pick(r, |x, b| x > b).0)),
        ReduceOp::Min => T::into_storage(rows(&|r: &[T]| pick(r, |x, b| x < b).0)),
        ReduceOp::ArgMax => CpuStorage::I64(idx(&|r: &[T]| pick(r, |x, b| x > b).1)),
        ReduceOp::ArgMin => CpuStorage::I64(idx(&|r: &[T]| pick(r, |x, b| x < b).1)),
    }
}

/// Reduction over sorted unique `dims`; result shape is `l.shape` without them.
pub fn reduce(op: ReduceOp, x: &CpuStorage, l: &Layout, dims: &[usize]) -> Result<CpuStorage> {
    let (pl, outer, red) = reduce_layout(l, dims);
    if red == 0 && op != ReduceOp::Sum {
        return Err(Error::Shape(format!(
            "{op:?}: cannot reduce over an empty dimension (shape {:?}, dims {dims:?})",
            l.shape
        )));
    }
    if op == ReduceOp::Sum && red > 0 {
        match x {
            CpuStorage::F32(v) => return Ok(CpuStorage::F32(sum_in_place(v, l, dims))),
            CpuStorage::F64(v) => return Ok(CpuStorage::F64(sum_in_place(v, l, dims))),
            _ => {}
        }
    }
    Ok(crate::with_cpu!(x, v => {
        let data = gather_view(v, &pl);
        reduce_rows(op, &data, outer, red)
    }))
}

/// Sum over `dims` in one pass over the input in its own order (no transposing copy): each
/// innermost run is either summed into one output (last dim reduced) or added elementwise into
/// a row of outputs (last dim kept). Accumulates in f64.
fn sum_in_place<T: Float + Default + Send + Sync>(v: &[T], l: &Layout, dims: &[usize]) -> Vec<T> {
    if let Some(out) = sum_dense_edge(v, l, dims) {
        return out;
    }
    let nd = l.ndim();
    let kept: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    let out_strides = {
        let mut st = vec![0usize; nd];
        let mut acc = 1;
        for &d in kept.iter().rev() {
            st[d] = acc;
            acc *= l.shape[d];
        }
        st
    };
    let out_len: usize = kept.iter().map(|&d| l.shape[d]).product();
    let mut acc = vec![0f64; out_len];
    let n = l.numel();
    if n > 0 {
        let inner = *l.shape.last().unwrap_or(&1);
        let (is, os) = (
            *l.strides.last().unwrap_or(&0),
            *out_strides.last().unwrap_or(&0),
        );
        let rows = n / inner;
        for_each_row(
            &l.shape,
            [&l.strides, &out_strides],
            [l.offset, 0],
            0,
            rows,
            |_, [xo, oo]| {
                if os == 0 {
                    // last dim reduced: sum the run with independent lanes, then accumulate
                    let mut lanes = [0f64; 8];
                    if is == 1 {
                        lane_sum(&v[xo..xo + inner], &mut lanes);
                    } else {
                        for j in 0..inner {
                            lanes[j % 8] += v[xo + j * is].to_f64();
                        }
                    }
                    acc[oo] += lanes.iter().sum::<f64>();
                } else {
                    let dst = &mut acc[oo..oo + inner];
                    if is == 1 {
                        for (a, &x) in dst.iter_mut().zip(&v[xo..xo + inner]) {
                            *a += x.to_f64();
                        }
                    } else {
                        for (j, a) in dst.iter_mut().enumerate() {
                            *a += v[xo + j * is].to_f64();
                        }
                    }
                }
            },
        );
    }
    acc.into_iter().map(T::from_f64).collect()
}

/// Sum of a dense tensor over leading dims (column sums of an `[R, C]` view, as for bias
/// gradients) or trailing dims (row sums), split over threads; `None` for other cases.
fn sum_dense_edge<T: Float + Default + Send + Sync>(
    v: &[T],
    l: &Layout,
    dims: &[usize],
) -> Option<Vec<T>> {
    let d = dense(v, l)?;
    let (nd, p) = (l.ndim(), dims.len());
    let mut sorted = dims.to_vec();
    sorted.sort_unstable();
    let n = d.len();
    if n == 0 || p == 0 {
        return None;
    }
    if sorted.iter().copied().eq(0..p) {
        // column sums: rows are taken `k` at a time as one wide row of `w = k·c` lanes (so
        // narrow rows still vectorise), each task summing a block into its own f64 partial
        let c: usize = l.shape[p..].iter().product();
        let r = n / c;
        let k = (64 / c).max(1);
        let w = k * c;
        let wide_rows = r / k;
        let per = if n >= PAR_MIN {
            wide_rows
                .div_ceil(pool::threads() * 2)
                .max(PAR_CHUNK.div_ceil(w))
        } else {
            wide_rows.max(1)
        };
        let tasks = wide_rows.div_ceil(per);
        let mut part = vec![0f64; tasks * w];
        pool::chunks_mut(&mut part, w, |t, acc| {
            simd::wide(|| {
                let rows = &d[t * per * w..((t + 1) * per).min(wide_rows) * w];
                for row in rows.chunks_exact(w) {
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a += x.to_f64();
                    }
                }
            })
        });
        let mut out = vec![0f64; c];
        for pc in part.chunks_exact(c) {
            for (o, &x) in out.iter_mut().zip(pc) {
                *o += x;
            }
        }
        for row in d[wide_rows * w..].chunks_exact(c) {
            for (o, &x) in out.iter_mut().zip(row) {
                *o += x.to_f64();
            }
        }
        return Some(out.into_iter().map(T::from_f64).collect());
    }
    // kept dims one block in the middle, `[A, C, B]` summed over A and B (per-channel sums
    // of NCHW, as batch-norm statistics and bias gradients): one task per kept index
    let kept: Vec<usize> = (0..nd).filter(|x| !sorted.contains(x)).collect();
    if n >= PAR_MIN && !kept.is_empty() && kept.windows(2).all(|w| w[1] == w[0] + 1) {
        let (k0, k1) = (kept[0], kept[kept.len() - 1] + 1);
        let a: usize = l.shape[..k0].iter().product();
        let c: usize = l.shape[k0..k1].iter().product();
        let b: usize = l.shape[k1..].iter().product();
        if b >= 16 && a > 1 {
            let chan = |ci: usize| -> T {
                let mut lanes = [0f64; 8];
                for ai in 0..a {
                    lane_sum(&d[(ai * c + ci) * b..(ai * c + ci + 1) * b], &mut lanes);
                }
                T::from_f64(lanes.iter().sum::<f64>())
            };
            let mut out = vec![T::ZERO; c];
            pool::chunks_mut(&mut out, 1, |ci, o| o[0] = simd::wide(|| chan(ci)));
            return Some(out);
        }
    }
    if sorted.iter().copied().eq(nd - p..nd) && n >= PAR_MIN {
        // row sums, split over threads (small ones take the serial loop below)
        let c: usize = l.shape[nd - p..].iter().product();
        let r = n / c;
        if r > 1 {
            let per = PAR_CHUNK.div_ceil(c).max(1);
            let mut out = vec![T::ZERO; r];
            pool::chunks_mut(&mut out, per, |t, o| {
                simd::wide(|| row_sums(&d[t * per * c..(t * per + o.len()) * c], c, o))
            });
            return Some(out);
        }
    }
    None
}

/// Adds a run into eight f64 lanes.
#[inline(always)]
fn lane_sum<T: Float>(run: &[T], lanes: &mut [f64; 8]) {
    let mut ch = run.chunks_exact(8);
    for q in &mut ch {
        for k in 0..8 {
            lanes[k] += q[k].to_f64();
        }
    }
    for &x in ch.remainder() {
        lanes[0] += x.to_f64();
    }
}

/// `out[i] = Σ rows[i·c .. (i+1)·c]` with eight f64 lanes per row.
#[inline(always)]
fn row_sums<T: Float>(rows: &[T], c: usize, out: &mut [T]) {
    for (o, run) in out.iter_mut().zip(rows.chunks_exact(c)) {
        let mut lanes = [0f64; 8];
        lane_sum(run, &mut lanes);
        *o = T::from_f64(lanes.iter().sum::<f64>());
    }
}
