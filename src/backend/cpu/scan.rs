//! Scans along one dim (the linear recurrence behind cumsum / cumprod) and stable argsort.

use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

use super::{gather_view, IntoStorage};

/// `(outer, n, inner)` of a shape around `dim`.
fn split(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    let outer = shape[..dim].iter().product();
    let inner = shape[dim + 1..].iter().product();
    (outer, shape[dim], inner)
}

/// The direction of a scan: along `dim`, from the end when `reverse`.
#[derive(Clone, Copy)]
struct Axis {
    dim: usize,
    reverse: bool,
}

/// `y = step(a, y, b)` along the axis from `init`, every `y` kept.
fn scan_typed<T: Copy + Default + Send + Sync + IntoStorage>(
    a: (&[T], &Layout),
    b: (&[T], &Layout),
    axis: Axis,
    init: T,
    step: impl Fn(T, T, T) -> T,
) -> CpuStorage {
    scan_wide(a, b, axis, init, step, |v| v, |v| v)
}

/// [`scan_typed`] with `y` held in a wider type `U` (`widen` / `narrow` convert), so that float32
/// running sums accumulate in float64, as PyTorch's CPU cumsum does.
fn scan_wide<T: Copy + Default + Send + Sync + IntoStorage, U: Copy>(
    (a, la): (&[T], &Layout),
    (b, lb): (&[T], &Layout),
    Axis { dim, reverse }: Axis,
    init: U,
    step: impl Fn(U, U, U) -> U,
    widen: impl Fn(T) -> U,
    narrow: impl Fn(U) -> T,
) -> CpuStorage {
    let a = gather_view(a, la);
    let b = gather_view(b, lb);
    let (outer, n, inner) = split(&la.shape, dim);
    let mut out = vec![T::default(); a.len()];
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let mut y = init;
            for k in 0..n {
                let kk = if reverse { n - 1 - k } else { k };
                let j = base + kk * inner;
                y = step(widen(a[j]), y, widen(b[j]));
                out[j] = narrow(y);
            }
        }
    }
    T::into_storage(out)
}

/// `y_k = a_k * y_(k-1) + b_k` along `dim` starting from `init` (from the end when `reverse`);
/// `a` and `b` are views of one shape and dtype.
pub fn linear_scan(
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
    dim: usize,
    reverse: bool,
    init: f64,
) -> Result<CpuStorage> {
    if la.shape != lb.shape || dim >= la.shape.len().max(1) {
        return Err(Error::Shape(format!(
            "scan: operands of shapes {:?} and {:?} along dim {dim}",
            la.shape, lb.shape
        )));
    }
    if la.shape.is_empty() {
        // a 0-d scan is one step
        let l1 = |l: &Layout| Layout {
            shape: vec![1],
            strides: vec![1],
            offset: l.offset,
        };
        return linear_scan(a, &l1(la), b, &l1(lb), 0, reverse, init);
    }
    let axis = Axis { dim, reverse };
    Ok(match (a, b) {
        (CpuStorage::F32(a), CpuStorage::F32(b)) => scan_wide(
            (a, la),
            (b, lb),
            axis,
            init,
            |a, y, b| a * y + b,
            f64::from,
            |y| y as f32,
        ),
        (CpuStorage::F64(a), CpuStorage::F64(b)) => {
            scan_typed((a, la), (b, lb), axis, init, |a, y, b| a * y + b)
        }
        (CpuStorage::I64(a), CpuStorage::I64(b)) => scan_typed(
            (a, la),
            (b, lb),
            axis,
            init as i64,
            |a: i64, y: i64, b: i64| a.wrapping_mul(y).wrapping_add(b),
        ),
        (a, b) => {
            return Err(Error::DType(format!(
                "scan: unsupported dtypes {} and {}",
                a.dtype(),
                b.dtype()
            )))
        }
    })
}

/// Ascending order with NaN after every number (PyTorch's sort order).
fn cmp_f(x: f64, y: f64) -> std::cmp::Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn argsort_rows<T: Copy + Default + Send + Sync>(
    v: &[T],
    l: &Layout,
    descending: bool,
    key: impl Fn(T) -> f64,
    cmp_i: Option<fn(&T, &T) -> std::cmp::Ordering>,
) -> Vec<i64> {
    let data = gather_view(v, l);
    let n = *l.shape.last().unwrap_or(&1);
    let mut out = vec![0i64; data.len()];
    if n == 0 {
        return out;
    }
    let mut idx: Vec<usize> = Vec::with_capacity(n);
    for (row, o) in data.chunks(n).zip(out.chunks_mut(n)) {
        idx.clear();
        idx.extend(0..n);
        // a stable sort keeps equal elements in their order, both ways
        idx.sort_by(|&i, &j| {
            let c = match cmp_i {
                Some(c) => c(&row[i], &row[j]),
                None => cmp_f(key(row[i]), key(row[j])),
            };
            if descending {
                c.reverse()
            } else {
                c
            }
        });
        for (slot, &i) in o.iter_mut().zip(&idx) {
            *slot = i as i64;
        }
    }
    out
}

/// Stable argsort (int64 indices) along the last dim of a view; NaN sorts above every number.
pub fn argsort(x: &CpuStorage, l: &Layout, descending: bool) -> Result<CpuStorage> {
    Ok(CpuStorage::I64(match x {
        CpuStorage::F32(v) => argsort_rows(v, l, descending, |x| x as f64, None),
        CpuStorage::F64(v) => argsort_rows(v, l, descending, |x| x, None),
        CpuStorage::I64(v) => argsort_rows(v, l, descending, |_| 0.0, Some(i64::cmp)),
        CpuStorage::Bool(v) => argsort_rows(v, l, descending, |_| 0.0, Some(bool::cmp)),
    }))
}
