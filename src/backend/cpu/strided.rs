//! Strided iteration shared by every CPU op family: dense fast paths, `f` mapped over one or two
//! views into a contiguous result, and the row-parallel split behind them.
//!
//! Maps run on the threads of [`pool`] only above [`PAR_MIN`] elements, in tasks of
//! `PAR_CHUNK` elements (dense views) or of whole rows (strided views).

use std::mem::MaybeUninit;

use super::{pool, simd, PAR_CHUNK, PAR_MIN};
use crate::shape::{for_each_row, Layout};

/// The contiguous slice of a view when it is dense, else None.
pub fn dense<'a, T>(v: &'a [T], l: &Layout) -> Option<&'a [T]> {
    if l.is_contiguous() {
        Some(&v[l.dense_range()])
    } else {
        None
    }
}

/// The elements of a view in row-major order: borrowed when the view is one dense block, else
/// gathered into a new vector.
pub fn view_slice<'a, T: Copy + Send + Sync + Default>(
    v: &'a [T],
    l: &Layout,
) -> std::borrow::Cow<'a, [T]> {
    match dense(v, l) {
        Some(d) => std::borrow::Cow::Borrowed(d),
        None => std::borrow::Cow::Owned(gather_view(v, l)),
    }
}

/// Gathers a strided view into a new contiguous vector.
pub fn gather_view<T: Copy + Send + Sync + Default>(v: &[T], l: &Layout) -> Vec<T> {
    if let Some(d) = dense(v, l) {
        return d.to_vec();
    }
    map1(v, l, |x| x)
}

/// `f` over every element of a strided view, into a contiguous vector.
pub fn map1<A: Copy + Send + Sync, O: Copy + Send + Sync + Default>(
    a: &[A],
    la: &Layout,
    f: impl Fn(A) -> O + Sync + Send,
) -> Vec<O> {
    let n = la.numel();
    if let Some(d) = dense(a, la) {
        let mut out: Vec<O> = Vec::with_capacity(n);
        let buf = &mut out.spare_capacity_mut()[..n];
        if n >= PAR_MIN {
            pool::chunks_mut(buf, PAR_CHUNK, |ci, o| {
                let i0 = ci * PAR_CHUNK;
                simd::map1(o, &d[i0..i0 + o.len()], &f)
            });
        } else {
            simd::map1(buf, d, &f);
        }
        // SAFETY: `simd::map1` wrote all `n` elements (the chunks cover `buf`)
        unsafe { out.set_len(n) };
        return out;
    }
    // no zero fill first: the rows below write every element (rows · inner = n)
    let mut out: Vec<O> = Vec::with_capacity(n);
    let inner = *la.shape.last().unwrap_or(&1);
    let is = *la.strides.last().unwrap_or(&0);
    let rows = n.checked_div(inner).unwrap_or(0);
    let work = |r0: usize, r1: usize, out: &mut [MaybeUninit<O>]| {
        for_each_row(&la.shape, [&la.strides], [la.offset], r0, r1, |r, [oa]| {
            let o = &mut out[(r - r0) * inner..(r - r0 + 1) * inner];
            if is == 1 {
                // a contiguous row: the vectorised loop
                simd::map1(o, &a[oa..oa + inner], &f);
            } else if is == 0 {
                // one value broadcast along the row
                let v = f(a[oa]);
                for slot in o.iter_mut() {
                    slot.write(v);
                }
            } else {
                for (j, slot) in o.iter_mut().enumerate() {
                    slot.write(f(a[oa + j * is]));
                }
            }
        })
    };
    par_rows(&mut out.spare_capacity_mut()[..n], rows, inner, work);
    // SAFETY: `for_each_row` visited rows 0..rows, each writing its `inner` slots
    unsafe { out.set_len(n) };
    out
}

/// `f` over paired elements of two strided views of one shape, into a contiguous vector.
pub fn map2<A: Copy + Send + Sync, B: Copy + Send + Sync, O: Copy + Send + Sync + Default>(
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Vec<O> {
    let n = la.numel();
    if let (Some(da), Some(db)) = (dense(a, la), dense(b, lb)) {
        let mut out: Vec<O> = Vec::with_capacity(n);
        let buf = &mut out.spare_capacity_mut()[..n];
        if n >= PAR_MIN {
            pool::chunks_mut(buf, PAR_CHUNK, |ci, o| {
                let i0 = ci * PAR_CHUNK;
                let i1 = i0 + o.len();
                simd::map2(o, &da[i0..i1], &db[i0..i1], &f)
            });
        } else {
            simd::map2(buf, da, db, &f);
        }
        // SAFETY: `simd::map2` wrote all `n` elements (the chunks cover `buf`)
        unsafe { out.set_len(n) };
        return out;
    }
    // no zero fill first: the rows below write every element (rows · inner = n)
    let mut out: Vec<O> = Vec::with_capacity(n);
    let inner = *la.shape.last().unwrap_or(&1);
    let (ia, ib) = (
        *la.strides.last().unwrap_or(&0),
        *lb.strides.last().unwrap_or(&0),
    );
    let rows = n.checked_div(inner).unwrap_or(0);
    let work = |r0: usize, r1: usize, out: &mut [MaybeUninit<O>]| {
        for_each_row(
            &la.shape,
            [&la.strides, &lb.strides],
            [la.offset, lb.offset],
            r0,
            r1,
            |r, [oa, ob]| {
                let o = &mut out[(r - r0) * inner..(r - r0 + 1) * inner];
                // contiguous rows (or a row against one broadcast value) take the vectorised
                // loops
                if ib == 0 && ia == 1 {
                    let y = b[ob];
                    simd::map1(o, &a[oa..oa + inner], &|x| f(x, y));
                } else if ia == 0 && ib == 1 {
                    let x = a[oa];
                    simd::map1(o, &b[ob..ob + inner], &|y| f(x, y));
                } else if ib == 0 {
                    let y = b[ob];
                    for (j, slot) in o.iter_mut().enumerate() {
                        slot.write(f(a[oa + j * ia], y));
                    }
                } else if ia == 1 && ib == 1 {
                    simd::map2(o, &a[oa..oa + inner], &b[ob..ob + inner], &f);
                } else {
                    for (j, slot) in o.iter_mut().enumerate() {
                        slot.write(f(a[oa + j * ia], b[ob + j * ib]));
                    }
                }
            },
        )
    };
    par_rows(&mut out.spare_capacity_mut()[..n], rows, inner, work);
    // SAFETY: `for_each_row` visited rows 0..rows, each writing its `inner` slots
    unsafe { out.set_len(n) };
    out
}

/// Runs `work(r0, r1, out_rows)` over row ranges, in parallel when the output is large.
fn par_rows<O: Send>(
    out: &mut [O],
    rows: usize,
    inner: usize,
    work: impl Fn(usize, usize, &mut [O]) + Sync,
) {
    if rows == 0 {
        return;
    }
    if rows * inner < PAR_MIN || rows < 2 {
        work(0, rows, out);
        return;
    }
    let chunk_rows = (rows / (pool::threads() * 4))
        .max(1)
        .max(PAR_MIN / 4 / inner.max(1));
    pool::chunks_mut(out, chunk_rows * inner, |ci, o| {
        let r0 = ci * chunk_rows;
        let r1 = (r0 + chunk_rows).min(rows);
        work(r0, r1, o);
    });
}
