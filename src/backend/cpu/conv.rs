//! im2col / col2im and max pooling on the CPU: convolution becomes one large matrix product.
//! The direct kernel for few taps lives in `direct_conv` (re-exported here).
//!
//! Columns are laid out patch-major, `(N·oh·ow, C·kh·kw)`: one row per output position, so a
//! convolution is the single tall gemm `cols @ Wᵀ` — the orientation the gemm kernels run
//! fastest (a 32-channel layer runs about 2.5× faster than as `W @ colsᵀ`).

use std::mem::MaybeUninit;

use super::pool::{self, SendPtr};
use super::{view_slice, PAR_MIN};
use crate::backend::Conv2dGeom;
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

pub use super::direct_conv::{conv2d_direct, conv2d_direct_weight_grad, direct_conv_fits};

/// Calls `$f::<KW>` with the kernel width as a constant for the common widths (the tap loops
/// then unroll), else with 0 (the width read at run time).
macro_rules! by_width {
    ($kw:expr, $f:ident, $($arg:expr),*) => {
        match $kw {
            1 => $f::<_, 1>($($arg),*),
            2 => $f::<_, 2>($($arg),*),
            3 => $f::<_, 3>($($arg),*),
            4 => $f::<_, 4>($($arg),*),
            5 => $f::<_, 5>($($arg),*),
            7 => $f::<_, 7>($($arg),*),
            _ => $f::<_, 0>($($arg),*),
        }
    };
}

/// Writes `s` into `d` (the taps of one kernel row); with a constant width the loop unrolls
/// into a few moves instead of a `memcpy` call.
#[inline(always)]
fn copy_run<T: Copy, const KW: usize>(d: &mut [MaybeUninit<T>], s: &[T]) {
    if KW > 0 {
        let d: &mut [MaybeUninit<T>; KW] = (&mut d[..KW]).try_into().expect("KW taps");
        let s: &[T; KW] = s[..KW].try_into().expect("KW taps");
        for j in 0..KW {
            d[j].write(s[j]);
        }
    } else {
        for (d, &v) in d.iter_mut().zip(s) {
            d.write(v);
        }
    }
}

/// The `(H, W)` planes of `x` copied into `(hp, wp)` planes filled with `pad`, each image at
/// row `ph`, column `pw`.
pub(super) fn pad_planes<T: Copy>(x: &[T], g: &Conv2dGeom, hp: usize, wp: usize, pad: T) -> Vec<T> {
    let mut p = vec![pad; g.n * g.c * hp * wp];
    for (dst, src) in p.chunks_exact_mut(hp * wp).zip(x.chunks_exact(g.h * g.w)) {
        for (dr, sr) in dst[g.ph * wp..]
            .chunks_exact_mut(wp)
            .zip(src.chunks_exact(g.w))
        {
            dr[g.pw..g.pw + g.w].copy_from_slice(sr);
        }
    }
    p
}

/// Height and width of the padded image that holds every tap of every window: the image plus
/// its padding, extended to the farthest tap when a window reaches past the padding.
fn padded_extent(g: &Conv2dGeom) -> (usize, usize) {
    let reach = |o: usize, s: usize, k: usize, d: usize| {
        if o == 0 || k == 0 {
            0
        } else {
            (o - 1) * s + (k - 1) * d + 1
        }
    };
    (
        (g.h + 2 * g.ph).max(reach(g.oh, g.sh, g.kh, g.dh)),
        (g.w + 2 * g.pw).max(reach(g.ow, g.sw, g.kw, g.dw)),
    )
}

/// Writes the patch-major columns `(N·oh·ow, C·kh·kw)` of `x` into `out` (every element),
/// split over the threads when `parallel`.
fn im2col_rows<T: Copy + Send + Sync, const KW: usize>(
    x: &[T],
    g: &Conv2dGeom,
    pad: T,
    out: &mut [MaybeUninit<T>],
    parallel: bool,
) {
    let kw = if KW > 0 { KW } else { g.kw };
    let k = g.col_rows();
    let l = g.col_cols();
    let total = g.n * l * k;
    if total == 0 {
        return;
    }
    // a padded copy of the input (small next to the columns), so no tap needs a bounds test;
    // it reaches the farthest tap, which may lie past the padding (ceil-mode pooling)
    let (hp, wp) = padded_extent(g);
    let padded: std::borrow::Cow<'_, [T]> = if hp == g.h && wp == g.w {
        std::borrow::Cow::Borrowed(x)
    } else {
        std::borrow::Cow::Owned(pad_planes(x, g, hp, wp, pad))
    };
    let xp = &*padded;
    let planep = hp * wp;
    // offset of each (channel, kernel row) run from the window's corner
    let offsets: Vec<usize> = (0..g.c)
        .flat_map(|c| (0..g.kh).map(move |ki| c * planep + ki * g.dh * wp))
        .collect();
    // one row per output position (n, oy, ox): its C·kh·kw taps, each written exactly once
    let fill = |row: usize, dst: &mut [MaybeUninit<T>]| {
        let n = row / l;
        let (oy, ox) = ((row % l) / g.ow, (row % l) % g.ow);
        let corner = n * g.c * planep + oy * g.sh * wp + ox * g.sw;
        for (d, &off) in dst.chunks_exact_mut(kw).zip(&offsets) {
            let s0 = corner + off;
            if g.dw == 1 {
                copy_run::<T, KW>(d, &xp[s0..s0 + kw]);
            } else {
                for (kj, v) in d.iter_mut().enumerate() {
                    v.write(xp[s0 + kj * g.dw]);
                }
            }
        }
    };
    let buf = &mut out[..total];
    if parallel {
        // many rows per task: one patch row is only C·kh·kw elements
        let rows = (1usize << 13).div_ceil(k);
        pool::chunks_mut(buf, rows * k, |ci, o| {
            super::simd::wide(|| {
                o.chunks_exact_mut(k)
                    .enumerate()
                    .for_each(|(j, d)| fill(ci * rows + j, d))
            })
        });
    } else {
        super::simd::wide(|| {
            buf.chunks_exact_mut(k)
                .enumerate()
                .for_each(|(r, d)| fill(r, d))
        });
    }
}

fn im2col_t<T: Copy + Send + Sync, const KW: usize>(x: &[T], g: &Conv2dGeom, pad: T) -> Vec<T> {
    let total = g.n * g.col_cols() * g.col_rows();
    let mut out: Vec<T> = Vec::with_capacity(total);
    im2col_rows::<T, KW>(x, g, pad, out.spare_capacity_mut(), total >= PAR_MIN);
    // SAFETY: `im2col_rows` wrote every tap of every row (C·kh runs of kw per row, g.n·l rows)
    unsafe { out.set_len(total) };
    out
}

/// The patch-major columns `(oh·ow, C·kh·kw)` of one image `x (C, H, W)` (`g.n` is ignored)
/// written into `out`, every element, on this thread.
pub(super) fn im2col_image<T: Copy + Send + Sync>(
    x: &[T],
    g: &Conv2dGeom,
    out: &mut [MaybeUninit<T>],
    zero: T,
) {
    let g1 = Conv2dGeom { n: 1, ..*g };
    by_width!(g.kw, im2col_rows, x, &g1, zero, out, false)
}

/// `d[i] += s[i]` over the taps of one kernel row (unrolled for a constant width).
#[inline(always)]
fn add_run<T: Copy + std::ops::AddAssign, const KW: usize>(d: &mut [T], s: &[T]) {
    if KW > 0 {
        let d: &mut [T; KW] = (&mut d[..KW]).try_into().expect("KW taps");
        let s: &[T; KW] = s[..KW].try_into().expect("KW taps");
        for j in 0..KW {
            d[j] += s[j];
        }
    } else {
        for (d, &v) in d.iter_mut().zip(s) {
            *d += v;
        }
    }
}

fn col2im_t<T: Copy + Send + Sync + Default + std::ops::AddAssign, const KW: usize>(
    cols: &[T],
    g: &Conv2dGeom,
) -> Vec<T> {
    let kw = if KW > 0 { KW } else { g.kw };
    let k = g.col_rows();
    let l = g.col_cols();
    let plane = g.h * g.w;
    let mut out = vec![T::default(); g.n * g.c * plane];
    if out.is_empty() || k == 0 {
        return out;
    }
    // taps are added into a padded image (no bounds tests), whose interior is the result
    let (hp, wp) = padded_extent(g);
    let planep = hp * wp;
    let padded = hp != g.h || wp != g.w;
    let offsets: Vec<usize> = (0..g.c)
        .flat_map(|c| (0..g.kh).map(move |ki| c * planep + ki * g.dh * wp))
        .collect();
    // one image per task: its patch rows are read in order
    let fold = |n: usize, dst: &mut [T]| {
        let mut scratch = if padded {
            vec![T::default(); g.c * planep]
        } else {
            Vec::new()
        };
        let acc: &mut [T] = if padded { &mut scratch } else { &mut *dst };
        for p in 0..l {
            let (oy, ox) = (p / g.ow, p % g.ow);
            let corner = oy * g.sh * wp + ox * g.sw;
            let row = &cols[(n * l + p) * k..(n * l + p + 1) * k];
            for (t, &off) in row.chunks_exact(kw).zip(&offsets) {
                let s0 = corner + off;
                if g.dw == 1 {
                    add_run::<T, KW>(&mut acc[s0..s0 + kw], t);
                } else {
                    for (kj, &v) in t.iter().enumerate() {
                        acc[s0 + kj * g.dw] += v;
                    }
                }
            }
        }
        if padded {
            for (dp, sp) in dst
                .chunks_exact_mut(plane)
                .zip(scratch.chunks_exact(planep))
            {
                for (dr, sr) in dp
                    .chunks_exact_mut(g.w)
                    .zip(sp[g.ph * wp..].chunks_exact(wp))
                {
                    dr.copy_from_slice(&sr[g.pw..g.pw + g.w]);
                }
            }
        }
    };
    let img = g.c * plane;
    if out.len() >= PAR_MIN {
        pool::chunks_mut(&mut out, img, |n, d| super::simd::wide(|| fold(n, d)));
    } else {
        super::simd::wide(|| {
            out.chunks_mut(img)
                .enumerate()
                .for_each(|(n, d)| fold(n, d))
        });
    }
    out
}

/// `(N,C,H,W)` → columns `(N·oh·ow, C·kh·kw)`, `pad_value` outside the image.
pub fn im2col(x: &CpuStorage, l: &Layout, g: &Conv2dGeom, pad_value: f64) -> Result<CpuStorage> {
    Ok(match x {
        CpuStorage::F32(v) => CpuStorage::F32(by_width!(
            g.kw,
            im2col_t,
            &view_slice(v, l),
            g,
            pad_value as f32
        )),
        CpuStorage::F64(v) => {
            CpuStorage::F64(by_width!(g.kw, im2col_t, &view_slice(v, l), g, pad_value))
        }
        other => {
            return Err(Error::DType(format!(
                "im2col: expected a floating tensor, got {}",
                other.dtype()
            )))
        }
    })
}

/// Columns `(N·oh·ow, C·kh·kw)` → `(N,C,H,W)`, overlapping taps summed.
pub fn col2im(x: &CpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<CpuStorage> {
    Ok(match x {
        CpuStorage::F32(v) => CpuStorage::F32(by_width!(g.kw, col2im_t, &view_slice(v, l), g)),
        CpuStorage::F64(v) => CpuStorage::F64(by_width!(g.kw, col2im_t, &view_slice(v, l), g)),
        other => {
            return Err(Error::DType(format!(
                "col2im: expected a floating tensor, got {}",
                other.dtype()
            )))
        }
    })
}

/// Whether `val` replaces `best` as a window's maximum, for a branch-free select; with `NAN`
/// a NaN wins, as in PyTorch.
#[inline(always)]
fn pool_takes<T: Float, const NAN: bool>(val: T, best: T) -> bool {
    if NAN {
        // a NaN always takes the window, so the last NaN wins (PyTorch's kernels)
        (val > best) | val.is_nan_()
    } else {
        val > best
    }
}

/// `NAN` selects the NaN-propagating comparison, which is several times slower: it is used
/// only when the input holds a NaN.
fn max_pool_t<T: Float + Default, const NAN: bool>(x: &[T], g: &Conv2dGeom) -> (Vec<T>, Vec<i64>) {
    let plane = g.h * g.w;
    let l = g.oh * g.ow;
    let mut vals = vec![T::default(); g.n * g.c * l];
    let mut idx = vec![0i64; g.n * g.c * l];
    // clipped tap ranges per output row / column (a dilated window can miss the image
    // altogether: such a window is handled below)
    let span = |o: usize, s: usize, d: usize, p: usize, k: usize, size: usize| -> (usize, usize) {
        let start = (o * s) as isize - p as isize;
        let lo = if start >= 0 {
            0
        } else {
            ((-start) as usize).div_ceil(d)
        };
        let hi = if start >= size as isize {
            0
        } else {
            ((size as isize - start) as usize).div_ceil(d).min(k)
        };
        (lo, hi.max(lo))
    };
    let rows: Vec<(usize, usize)> = (0..g.oh)
        .map(|oy| span(oy, g.sh, g.dh, g.ph, g.kh, g.h))
        .collect();
    let cols: Vec<(usize, usize)> = (0..g.ow)
        .map(|ox| span(ox, g.sw, g.dw, g.pw, g.kw, g.w))
        .collect();
    let (oh, ow, w) = (g.oh, g.ow, g.w as isize);
    let (sh, sw, dh, dw, ph, pw) = (
        g.sh as isize,
        g.sw as isize,
        g.dh as isize,
        g.dw as isize,
        g.ph as isize,
        g.pw as isize,
    );
    // the common 2×2 window, stride 2, no padding or dilation: four taps in scan order, the
    // first maximum kept on ties (as the general loop)
    let two_by_two = g.kh == 2
        && g.kw == 2
        && g.sh == 2
        && g.sw == 2
        && g.ph == 0
        && g.pw == 0
        && g.dh == 1
        && g.dw == 1
        && 2 * oh <= g.h
        && 2 * ow <= g.w;
    let work = |(p, (v, ix)): (usize, (&mut [T], &mut [i64]))| {
        let src = &x[p * plane..(p + 1) * plane];
        if two_by_two {
            let wu = g.w;
            for oy in 0..oh {
                let r0 = &src[2 * oy * wu..(2 * oy + 1) * wu];
                let r1 = &src[(2 * oy + 1) * wu..(2 * oy + 2) * wu];
                let (vo, io) = (
                    &mut v[oy * ow..(oy + 1) * ow],
                    &mut ix[oy * ow..(oy + 1) * ow],
                );
                let base = (2 * oy * wu) as i64;
                for ox in 0..ow {
                    let taps = [r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]];
                    let offs = [0, 1, wu as i64, wu as i64 + 1];
                    let (mut best, mut at) = (taps[0], 0usize);
                    for (q, &val) in taps.iter().enumerate().skip(1) {
                        let take = pool_takes::<T, NAN>(val, best);
                        best = if take { val } else { best };
                        at = if take { q } else { at };
                    }
                    vo[ox] = best;
                    io[ox] = base + 2 * ox as i64 + offs[at];
                }
            }
            return;
        }
        for oy in 0..oh {
            let (k0, k1) = rows[oy];
            for ox in 0..ow {
                let (j0, j1) = cols[ox];
                if k0 >= k1 || j0 >= j1 {
                    // a dilated window whose taps all fall in the padding: -inf at index 0,
                    // as the GPU kernel (this used to read outside the plane)
                    v[oy * ow + ox] = T::NEG_INF;
                    ix[oy * ow + ox] = 0;
                    continue;
                }
                let origin = (oy as isize * sh - ph) * w + ox as isize * sw - pw;
                let first = (origin + k0 as isize * dh * w + j0 as isize * dw) as usize;
                let mut best = src[first];
                let mut at = first;
                for ki in k0..k1 {
                    for kj in j0..j1 {
                        let pos = (origin + ki as isize * dh * w + kj as isize * dw) as usize;
                        let val = src[pos];
                        let take = pool_takes::<T, NAN>(val, best);
                        best = if take { val } else { best };
                        at = if take { pos } else { at };
                    }
                }
                v[oy * ow + ox] = best;
                ix[oy * ow + ox] = at as i64;
            }
        }
    };
    let lp = l.max(1);
    if x.len() >= PAR_MIN {
        let (pv, pi) = (SendPtr(vals.as_mut_ptr()), SendPtr(idx.as_mut_ptr()));
        pool::run(vals.len() / lp, |p| {
            // SAFETY: plane `p` of both outputs belongs to this task alone
            let (v, ix) = unsafe {
                (
                    std::slice::from_raw_parts_mut(pv.get().add(p * lp), lp),
                    std::slice::from_raw_parts_mut(pi.get().add(p * lp), lp),
                )
            };
            work((p, (v, ix)))
        });
    } else {
        let planes = vals.chunks_mut(lp).zip(idx.chunks_mut(lp));
        planes.enumerate().for_each(work);
    }
    (vals, idx)
}

fn max_pool_nan_aware<T: Float + Default>(x: &[T], g: &Conv2dGeom) -> (Vec<T>, Vec<i64>) {
    if x.iter().any(|v| v.is_nan_()) {
        max_pool_t::<T, true>(x, g)
    } else {
        max_pool_t::<T, false>(x, g)
    }
}

/// Max pooling over each `(H, W)` plane: values and the flat `h·W + w` index of each maximum.
pub fn max_pool2d(x: &CpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<(CpuStorage, CpuStorage)> {
    Ok(match x {
        CpuStorage::F32(v) => {
            let (a, i) = max_pool_nan_aware(&view_slice(v, l), g);
            (CpuStorage::F32(a), CpuStorage::I64(i))
        }
        CpuStorage::F64(v) => {
            let (a, i) = max_pool_nan_aware(&view_slice(v, l), g);
            (CpuStorage::F64(a), CpuStorage::I64(i))
        }
        other => {
            return Err(Error::DType(format!(
                "max_pool2d: expected a floating tensor, got {}",
                other.dtype()
            )))
        }
    })
}
