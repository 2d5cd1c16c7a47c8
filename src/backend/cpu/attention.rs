//! Scaled dot-product attention as one fused op: tiles of 64 queries × 64 keys with a running
//! maximum and sum (an online softmax), so the `L×S` score matrix is never materialised —
//! memory grows with `L + S`, not `L·S`. The backward pass recomputes each tile's weights from
//! the saved log-sum-exp of every query row.
//!
//! Layouts: `q (B, L, E)`, `k (B, S, E)`, `v (B, S, Ev)`, dense; an optional additive mask
//! `(L, S)` per batch entry, at `mask[b·mask_stride ..]` (stride 0 broadcasts one mask). Causal
//! masking is top-left aligned (query `i` sees keys `j ≤ i`). A query row that sees no key gives
//! a zero output and zero gradients (PyTorch's safe softmax).

use super::matmul::{gemm_into, Strides};
use super::pool::{self, SendPtr};
use super::view_slice;
use crate::backend::AttnDims;
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// Queries and keys per tile.
const TILE: usize = 64;

/// An additive mask: its values and the distance between batch entries (0: one for all).
type Mask<'a, T> = Option<(&'a [T], usize)>;

/// Scores of the tile (queries `i0..i0 + bq`, keys `j0..j0 + bk`) of batch entry `b`, scaled,
/// masked, into `sblk (bq, bk)`.
#[allow(clippy::too_many_arguments)]
fn scores<T: Float>(
    (q, k): (&[T], &[T]),
    mask: Mask<'_, T>,
    d: AttnDims,
    b: usize,
    (i0, bq): (usize, usize),
    (j0, bk): (usize, usize),
    causal: bool,
    scale: T,
    sblk: &mut [T],
) {
    gemm_into(
        [bq, bk, d.e],
        sblk,
        bk,
        (&q[(b * d.l + i0) * d.e..], Strides::rows(d.e)),
        (&k[(b * d.s + j0) * d.e..], Strides::transposed(d.e)),
        false,
    );
    for (r, row) in sblk[..bq * bk].chunks_exact_mut(bk).enumerate() {
        let i = i0 + r;
        match mask {
            Some((m, stride)) => {
                let at = b * stride + i * d.s + j0;
                for (sv, &mv) in row.iter_mut().zip(&m[at..at + bk]) {
                    *sv = *sv * scale + mv;
                }
            }
            None => row.iter_mut().for_each(|sv| *sv = *sv * scale),
        }
        if causal {
            // keys past the query's own position
            row[(i + 1).saturating_sub(j0).min(bk)..].fill(T::NEG_INF);
        }
    }
}

/// `row[j] = exp(row[j] - shift)`, returning their sum (vectorised: `exp_fast`, and the sum in
/// eight lanes).
#[inline(always)]
fn exp_shifted<T: Float>(row: &mut [T], shift: T) -> T {
    row.iter_mut().for_each(|x| *x = (*x - shift).exp_fast());
    let mut lanes = [T::ZERO; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    chunks
        .remainder()
        .iter()
        .fold(lanes.iter().fold(T::ZERO, |a, &x| a + x), |a, &x| a + x)
}

/// The keys a causal query tile ending before `i1` can see: `0..min(s, i1)`.
fn key_end(d: AttnDims, i1: usize, causal: bool) -> usize {
    if causal {
        d.s.min(i1)
    } else {
        d.s
    }
}

fn forward_t<T: Float>(
    (q, k, v): (&[T], &[T], &[T]),
    mask: Mask<'_, T>,
    d: AttnDims,
    causal: bool,
    scale: T,
) -> (Vec<T>, Vec<T>) {
    let mut out = vec![T::ZERO; d.batch * d.l * d.ev];
    let mut lse = vec![T::ZERO; d.batch * d.l];
    let tiles = d.l.div_ceil(TILE);
    let (po, pl) = (SendPtr(out.as_mut_ptr()), SendPtr(lse.as_mut_ptr()));
    pool::run(d.batch * tiles, |task| {
        super::simd::wide(|| {
            let (b, t) = (task / tiles, task % tiles);
            let i0 = t * TILE;
            let bq = TILE.min(d.l - i0);
            // SAFETY: each task writes only its own query rows of `out` and `lse`
            let (o_rows, l_rows) = unsafe {
                (
                    std::slice::from_raw_parts_mut(po.get().add((b * d.l + i0) * d.ev), bq * d.ev),
                    std::slice::from_raw_parts_mut(pl.get().add(b * d.l + i0), bq),
                )
            };
            let mut m = vec![T::NEG_INF; bq];
            let mut sum = vec![T::ZERO; bq];
            let mut sblk = vec![T::ZERO; bq * TILE];
            let kend = key_end(d, i0 + bq, causal);
            for j0 in (0..kend).step_by(TILE) {
                let bk = TILE.min(kend - j0);
                scores(
                    (q, k),
                    mask,
                    d,
                    b,
                    (i0, bq),
                    (j0, bk),
                    causal,
                    scale,
                    &mut sblk,
                );
                for r in 0..bq {
                    let row = &mut sblk[r * bk..(r + 1) * bk];
                    // a NaN score makes the row's maximum NaN, so the output row is NaN (as
                    // PyTorch's), not a zero taken for a row that sees no key
                    let nan_max = |a: T, x: T| {
                        if a.is_nan_() {
                            a
                        } else if x.is_nan_() || x > a {
                            x
                        } else {
                            a
                        }
                    };
                    let top = row.iter().fold(T::NEG_INF, |a, &x| nan_max(a, x));
                    let mnew = nan_max(m[r], top);
                    if mnew == T::NEG_INF {
                        // no key seen yet by this row: nothing to add
                        row.fill(T::ZERO);
                        continue;
                    }
                    let corr = (m[r] - mnew).exp();
                    let s = exp_shifted(row, mnew);
                    sum[r] = sum[r] * corr + s;
                    m[r] = mnew;
                    if corr != T::ONE {
                        o_rows[r * d.ev..(r + 1) * d.ev]
                            .iter_mut()
                            .for_each(|a| *a = *a * corr);
                    }
                }
                gemm_into(
                    [bq, d.ev, bk],
                    o_rows,
                    d.ev,
                    (&sblk, Strides::rows(bk)),
                    (&v[(b * d.s + j0) * d.ev..], Strides::rows(d.ev)),
                    true,
                );
            }
            for r in 0..bq {
                let row = &mut o_rows[r * d.ev..(r + 1) * d.ev];
                if sum[r] > T::ZERO {
                    let inv = T::ONE / sum[r];
                    row.iter_mut().for_each(|a| *a = *a * inv);
                    l_rows[r] = m[r] + sum[r].ln();
                } else if sum[r].is_nan_() || m[r].is_nan_() {
                    row.fill(sum[r] + m[r]);
                    l_rows[r] = sum[r] + m[r];
                } else {
                    row.fill(T::ZERO);
                    l_rows[r] = T::NEG_INF;
                }
            }
        })
    });
    (out, lse)
}

#[allow(clippy::too_many_arguments)]
fn backward_t<T: Float>(
    (q, k, v): (&[T], &[T], &[T]),
    (out, lse, dout): (&[T], &[T], &[T]),
    mask: Mask<'_, T>,
    d: AttnDims,
    causal: bool,
    scale: T,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut dq = vec![T::ZERO; d.batch * d.l * d.e];
    let mut dk = vec![T::ZERO; d.batch * d.s * d.e];
    let mut dv = vec![T::ZERO; d.batch * d.s * d.ev];
    let (pq, pk, pv) = (
        SendPtr(dq.as_mut_ptr()),
        SendPtr(dk.as_mut_ptr()),
        SendPtr(dv.as_mut_ptr()),
    );
    pool::run(d.batch, |b| {
        super::simd::wide(|| {
            // SAFETY: each task (batch entry) writes only its own rows of dq, dk and dv
            let (dq, dk, dv) = unsafe {
                (
                    std::slice::from_raw_parts_mut(pq.get().add(b * d.l * d.e), d.l * d.e),
                    std::slice::from_raw_parts_mut(pk.get().add(b * d.s * d.e), d.s * d.e),
                    std::slice::from_raw_parts_mut(pv.get().add(b * d.s * d.ev), d.s * d.ev),
                )
            };
            // D_i = Σ dO_i · O_i
            let dsum: Vec<T> = (0..d.l)
                .map(|i| {
                    let at = (b * d.l + i) * d.ev;
                    out[at..at + d.ev]
                        .iter()
                        .zip(&dout[at..at + d.ev])
                        .fold(T::ZERO, |a, (&o, &g)| a + o * g)
                })
                .collect();
            let mut p = vec![T::ZERO; TILE * TILE];
            let mut dp = vec![T::ZERO; TILE * TILE];
            for i0 in (0..d.l).step_by(TILE) {
                let bq = TILE.min(d.l - i0);
                let kend = key_end(d, i0 + bq, causal);
                for j0 in (0..kend).step_by(TILE) {
                    let bk = TILE.min(kend - j0);
                    scores(
                        (q, k),
                        mask,
                        d,
                        b,
                        (i0, bq),
                        (j0, bk),
                        causal,
                        scale,
                        &mut p,
                    );
                    for (r, row) in p[..bq * bk].chunks_exact_mut(bk).enumerate() {
                        let l = lse[b * d.l + i0 + r];
                        if l == T::NEG_INF {
                            row.fill(T::ZERO);
                        } else {
                            row.iter_mut().for_each(|x| *x = (*x - l).exp_fast());
                        }
                    }
                    let g_rows = &dout[(b * d.l + i0) * d.ev..];
                    // dV_j += Pᵀ dO_i
                    gemm_into(
                        [bk, d.ev, bq],
                        &mut dv[j0 * d.ev..],
                        d.ev,
                        (&p, Strides::transposed(bk)),
                        (g_rows, Strides::rows(d.ev)),
                        true,
                    );
                    // dP = dO_i V_jᵀ, then dS = P ∘ (dP − D_i) · scale (in place of dP)
                    gemm_into(
                        [bq, bk, d.ev],
                        &mut dp,
                        bk,
                        (g_rows, Strides::rows(d.ev)),
                        (&v[(b * d.s + j0) * d.ev..], Strides::transposed(d.ev)),
                        false,
                    );
                    for r in 0..bq {
                        let di = dsum[i0 + r];
                        for jj in 0..bk {
                            let at = r * bk + jj;
                            dp[at] = p[at] * (dp[at] - di) * scale;
                        }
                    }
                    // dQ_i += dS K_j ; dK_j += dSᵀ Q_i
                    gemm_into(
                        [bq, d.e, bk],
                        &mut dq[i0 * d.e..],
                        d.e,
                        (&dp, Strides::rows(bk)),
                        (&k[(b * d.s + j0) * d.e..], Strides::rows(d.e)),
                        true,
                    );
                    gemm_into(
                        [bk, d.e, bq],
                        &mut dk[j0 * d.e..],
                        d.e,
                        (&dp, Strides::transposed(bk)),
                        (&q[(b * d.l + i0) * d.e..], Strides::rows(d.e)),
                        true,
                    );
                }
            }
        })
    });
    (dq, dk, dv)
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::Shape(format!(
            "scaled_dot_product_attention: {what} holds {got} elements, expected {want}"
        )));
    }
    Ok(())
}

/// The mask's batch stride: `0` for one `(L, S)` mask, `L·S` for one per batch entry.
fn mask_stride(len: usize, d: AttnDims) -> Result<usize> {
    let one = d.l * d.s;
    if len == one {
        Ok(0)
    } else if len == one * d.batch {
        Ok(one)
    } else {
        Err(Error::Shape(format!(
            "scaled_dot_product_attention: the mask holds {len} elements, expected {one} or {}",
            one * d.batch
        )))
    }
}

/// Fused attention forward: `(out (B, L, Ev), lse (B, L))` from dense views of `q`, `k`, `v`
/// and an optional dense additive mask.
pub fn attention_forward(
    (q, k, v): (&CpuStorage, &CpuStorage, &CpuStorage),
    (lq, lk, lv): (&Layout, &Layout, &Layout),
    mask: Option<(&CpuStorage, &Layout)>,
    d: AttnDims,
    causal: bool,
    scale: f64,
) -> Result<(CpuStorage, CpuStorage)> {
    check_len("the query", lq.numel(), d.batch * d.l * d.e)?;
    check_len("the key", lk.numel(), d.batch * d.s * d.e)?;
    check_len("the value", lv.numel(), d.batch * d.s * d.ev)?;
    macro_rules! go {
        ($var:ident, $ty:ty) => {{
            let (CpuStorage::$var(q), CpuStorage::$var(k), CpuStorage::$var(v)) = (q, k, v) else {
                unreachable!()
            };
            let mk = match mask {
                Some((CpuStorage::$var(m), lm)) => {
                    Some((view_slice(m, lm), mask_stride(lm.numel(), d)?))
                }
                Some(_) => {
                    return Err(Error::DType(
                        "scaled_dot_product_attention: the mask must have the query's dtype".into(),
                    ))
                }
                None => None,
            };
            let (o, l) = forward_t(
                (&view_slice(q, lq), &view_slice(k, lk), &view_slice(v, lv)),
                mk.as_ref().map(|(m, s)| (&m[..], *s)),
                d,
                causal,
                scale as $ty,
            );
            (CpuStorage::$var(o), CpuStorage::$var(l))
        }};
    }
    Ok(match (q, k, v) {
        (CpuStorage::F32(_), CpuStorage::F32(_), CpuStorage::F32(_)) => go!(F32, f32),
        (CpuStorage::F64(_), CpuStorage::F64(_), CpuStorage::F64(_)) => go!(F64, f64),
        _ => {
            return Err(Error::DType(
                "scaled_dot_product_attention: query, key and value must be floating tensors of one dtype"
                    .into(),
            ))
        }
    })
}

/// Fused attention backward: `(dq, dk, dv)` from the forward's inputs, output, log-sum-exp and
/// the output gradient (all dense).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    (q, k, v): (&CpuStorage, &CpuStorage, &CpuStorage),
    (lq, lk, lv): (&Layout, &Layout, &Layout),
    (out, lse, dout, lg): (&CpuStorage, &CpuStorage, &CpuStorage, &Layout),
    mask: Option<(&CpuStorage, &Layout)>,
    d: AttnDims,
    causal: bool,
    scale: f64,
) -> Result<(CpuStorage, CpuStorage, CpuStorage)> {
    check_len("the output gradient", lg.numel(), d.batch * d.l * d.ev)?;
    macro_rules! go {
        ($var:ident, $ty:ty) => {{
            let (
                CpuStorage::$var(q),
                CpuStorage::$var(k),
                CpuStorage::$var(v),
                CpuStorage::$var(o),
                CpuStorage::$var(l),
                CpuStorage::$var(g),
            ) = (q, k, v, out, lse, dout)
            else {
                return Err(Error::DType(
                    "scaled_dot_product_attention backward: expected one floating dtype".into(),
                ));
            };
            let mk = match mask {
                Some((CpuStorage::$var(m), lm)) => {
                    Some((view_slice(m, lm), mask_stride(lm.numel(), d)?))
                }
                Some(_) => {
                    return Err(Error::DType(
                        "scaled_dot_product_attention: the mask must have the query's dtype".into(),
                    ))
                }
                None => None,
            };
            let (a, b, c) = backward_t(
                (&view_slice(q, lq), &view_slice(k, lk), &view_slice(v, lv)),
                (o, l, &view_slice(g, lg)),
                mk.as_ref().map(|(m, s)| (&m[..], *s)),
                d,
                causal,
                scale as $ty,
            );
            (
                CpuStorage::$var(a),
                CpuStorage::$var(b),
                CpuStorage::$var(c),
            )
        }};
    }
    Ok(match q {
        CpuStorage::F32(_) => go!(F32, f32),
        CpuStorage::F64(_) => go!(F64, f64),
        _ => {
            return Err(Error::DType(
                "scaled_dot_product_attention backward: expected floating tensors".into(),
            ))
        }
    })
}
