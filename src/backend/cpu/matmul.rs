//! Matrix products on the CPU through the `gemm` crate: strided operands, no copies for views.

use gemm::Parallelism;

use super::pool::{self, SendPtr};

use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// Work (m·n·k) above which one product uses every thread.
const PAR_FLOPS: usize = 96 * 96 * 96;

/// Offsets of each batch matrix of a `[B.., r, c]` layout, in row-major batch order.
fn batch_offsets(l: &Layout) -> Vec<usize> {
    let nb = l.ndim() - 2;
    let shape = &l.shape[..nb];
    let strides = &l.strides[..nb];
    let count: usize = shape.iter().product();
    let mut out = Vec::with_capacity(count);
    let mut idx = vec![0usize; nb];
    for _ in 0..count {
        out.push(l.offset + idx.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>());
        for d in (0..nb).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// A strided matrix: its first element and its row and column strides.
#[derive(Clone, Copy)]
struct Mat<T> {
    ptr: *mut T,
    rs: usize,
    cs: usize,
}

/// One strided `dst[m,n] = lhs[m,k] @ rhs[k,n]`; `units` is the element type's (0, 1).
///
/// # Safety
/// `dst`, `lhs` and `rhs` must cover every element the strides address.
unsafe fn gemm_one<T: 'static + Copy>(
    [m, n, k]: [usize; 3],
    dst: Mat<T>,
    lhs: Mat<T>,
    rhs: Mat<T>,
    (zero, one): (T, T),
) {
    gemm::gemm(
        m,
        n,
        k,
        dst.ptr,
        dst.cs as isize,
        dst.rs as isize,
        false,
        lhs.ptr,
        lhs.cs as isize,
        lhs.rs as isize,
        rhs.ptr,
        rhs.cs as isize,
        rhs.rs as isize,
        zero,
        one,
        false,
        false,
        false,
        Parallelism::None,
    );
}

/// A matrix inside a host slice: its row and column strides (in elements).
#[derive(Clone, Copy, Debug)]
pub struct Strides {
    pub rs: usize,
    pub cs: usize,
}

impl Strides {
    /// A dense row-major matrix with `cols` columns.
    pub fn rows(cols: usize) -> Strides {
        Strides { rs: cols, cs: 1 }
    }

    /// The transpose of a dense row-major matrix with `cols` columns.
    pub fn transposed(cols: usize) -> Strides {
        Strides { rs: 1, cs: cols }
    }

    /// One past the last element an `r`×`c` matrix with these strides addresses.
    fn extent(self, r: usize, c: usize) -> usize {
        if r == 0 || c == 0 {
            0
        } else {
            (r - 1) * self.rs + (c - 1) * self.cs + 1
        }
    }
}

/// `dst[m,n] = lhs[m,k] @ rhs[k,n]` (or `+=` when `accumulate`) on host slices, one thread;
/// `dst` is row-major with row stride `dst_rs`.
///
/// # Panics
/// Panics if a matrix reaches past its slice (a caller bug, not a user error).
#[allow(clippy::too_many_arguments)]
pub fn gemm_into<T: Float>(
    [m, n, k]: [usize; 3],
    dst: &mut [T],
    dst_rs: usize,
    lhs: (&[T], Strides),
    rhs: (&[T], Strides),
    accumulate: bool,
) {
    assert!(
        Strides::rows(dst_rs).extent(m, n) <= dst.len()
            && lhs.1.extent(m, k) <= lhs.0.len()
            && rhs.1.extent(k, n) <= rhs.0.len(),
        "gemm_into: a {m}x{n}x{k} product reaches past its operands"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(T::ZERO);
            }
        }
        return;
    }
    // SAFETY: the extents checked above keep every addressed element inside its slice; gemm
    // only reads `lhs` and `rhs` (the casts to *mut are what its signature asks for).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.0.as_ptr() as *mut T,
            lhs.1.cs as isize,
            lhs.1.rs as isize,
            rhs.0.as_ptr() as *mut T,
            rhs.1.cs as isize,
            rhs.1.rs as isize,
            if accumulate { T::ONE } else { T::ZERO },
            T::ONE,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// [`gemm_into`] for a dense row-major `dst` (row stride `n`), its rows split over the pool's
/// threads when the product is large enough to pay for them.
pub fn par_gemm_into<T: Float>(
    [m, n, k]: [usize; 3],
    dst: &mut [T],
    lhs: (&[T], Strides),
    rhs: (&[T], Strides),
    accumulate: bool,
) {
    let threads = pool::threads();
    if threads <= 1 || m * n * k < PAR_FLOPS || m < 16 {
        return gemm_into([m, n, k], dst, n, lhs, rhs, accumulate);
    }
    let per = m.div_ceil(threads).div_ceil(8) * 8;
    let (la, ls) = lhs;
    pool::chunks_mut(&mut dst[..m * n], per * n, |ti, part| {
        let r0 = ti * per;
        let rows = part.len() / n;
        gemm_into(
            [rows, n, k],
            part,
            n,
            (&la[r0 * ls.rs..], ls),
            rhs,
            accumulate,
        )
    });
}

fn matmul_t<T: 'static + Copy + Send + Sync + Default>(
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
    zero: T,
    one: T,
) -> Vec<T> {
    let nd = la.ndim();
    let (m, k, n) = (la.shape[nd - 2], la.shape[nd - 1], lb.shape[nd - 1]);
    let (ars, acs) = (la.strides[nd - 2], la.strides[nd - 1]);
    let (brs, bcs) = (lb.strides[nd - 2], lb.strides[nd - 1]);
    let oa = batch_offsets(la);
    let ob = batch_offsets(lb);
    let batches = oa.len();
    let total = batches * m * n;
    if total == 0 || k == 0 {
        // nothing to multiply: an empty product, or one over an empty inner dim (all zeros)
        return vec![T::default(); total];
    }
    // the products write every element of the output (read_dst is off): no zero fill first
    let mut out: Vec<T> = Vec::with_capacity(total);
    let threads = pool::threads();
    let work = m * n * k;
    let (pa, pb, po) = (
        SendPtr(a.as_ptr() as *mut T),
        SendPtr(b.as_ptr() as *mut T),
        SendPtr(out.as_mut_ptr()),
    );
    // SAFETY (all calls below): the offsets and strides come from layouts that address only
    // elements of `a` and `b`; every task writes its own block of `out`.
    let block = |bi: usize, r0: usize, r1: usize, c0: usize, c1: usize| unsafe {
        let mat = |ptr, rs, cs| Mat { ptr, rs, cs };
        gemm_one(
            [r1 - r0, c1 - c0, k],
            mat(po.get().add(bi * m * n + r0 * n + c0), n, 1),
            mat(pa.get().add(oa[bi] + r0 * ars), ars, acs),
            mat(pb.get().add(ob[bi] + c0 * bcs), brs, bcs),
            (zero, one),
        )
    };
    if threads > 1 && batches >= threads && batches * work >= PAR_FLOPS {
        // whole products per task
        pool::run(batches, |bi| block(bi, 0, m, 0, n));
    } else if threads > 1 && work >= PAR_FLOPS {
        // each product split into one block per thread along the longer side of the output
        // (each task packs its share of one operand and all of the other: the other is the
        // smaller one), in multiples of 8
        let split_rows = m >= n;
        let len = if split_rows { m } else { n };
        let per = len.div_ceil(threads).div_ceil(8) * 8;
        let tasks = len.div_ceil(per);
        for bi in 0..batches {
            pool::run(tasks, |t| {
                let (s0, s1) = (t * per, ((t + 1) * per).min(len));
                if split_rows {
                    block(bi, s0, s1, 0, n)
                } else {
                    block(bi, 0, m, s0, s1)
                }
            });
        }
    } else {
        for bi in 0..batches {
            block(bi, 0, m, 0, n);
        }
    }
    // SAFETY: the blocks above tile the `batches` m×n outputs exactly, and gemm wrote each
    // element (k > 0, read_dst off)
    unsafe { out.set_len(total) };
    out
}

/// Batched matmul of `[B.., m, k]` and `[B.., k, n]` (equal batch dims) into `[B.., m, n]`.
pub fn matmul(a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout) -> Result<CpuStorage> {
    Ok(match (a, b) {
        (CpuStorage::F32(a), CpuStorage::F32(b)) => {
            CpuStorage::F32(matmul_t(a, la, b, lb, 0.0, 1.0))
        }
        (CpuStorage::F64(a), CpuStorage::F64(b)) => {
            CpuStorage::F64(matmul_t(a, la, b, lb, 0.0, 1.0))
        }
        (CpuStorage::I64(a), CpuStorage::I64(b)) => {
            let nd = la.ndim();
            let (m, k, n) = (la.shape[nd - 2], la.shape[nd - 1], lb.shape[nd - 1]);
            let (oa, ob) = (batch_offsets(la), batch_offsets(lb));
            let mut out = vec![0i64; oa.len() * m * n];
            for (bi, dst) in out.chunks_mut((m * n).max(1)).enumerate().take(oa.len()) {
                for i in 0..m {
                    for j in 0..n {
                        let mut s = 0i64;
                        for p in 0..k {
                            s = s.wrapping_add(
                                a[oa[bi] + i * la.strides[nd - 2] + p * la.strides[nd - 1]]
                                    .wrapping_mul(
                                        b[ob[bi] + p * lb.strides[nd - 2] + j * lb.strides[nd - 1]],
                                    ),
                            );
                        }
                        dst[i * n + j] = s;
                    }
                }
            }
            CpuStorage::I64(out)
        }
        (a, b) => {
            return Err(Error::DType(format!(
                "matmul: expected two floating tensors of one dtype, got {} and {}",
                a.dtype(),
                b.dtype()
            )))
        }
    })
}
