//! Direct 2-D convolution on the CPU (stride 1, no dilation, few taps): forward and weight
//! gradient accumulate blocks of 8 outputs × 8 channels in registers over every tap, without
//! building columns (see `conv` for the im2col path the other geometries take).
//!
//! f32 has hand-written AVX2+FMA kernels, picked at run time; the portable loops serve f64,
//! processors without AVX2, and `RUSTDL_CPU_SIMD=portable` (see `simd`). One task per (image,
//! channel group) forward and per (output, input channel) pair backward, on the thread pool.

use super::conv::pad_planes;
use super::pool::{self, SendPtr};
use super::simd::Isa;
use super::view_slice;
use crate::backend::Conv2dGeom;
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;
/// Lanes of the direct convolution's output blocks.
const DX: usize = 8;
/// Output channels computed together by the direct convolution (independent chains).
const DO: usize = 8;

/// Whether [`conv2d_direct`] handles a geometry: stride 1, no dilation, and few taps per
/// output (`C·kh·kw ≤ 64`), where building columns would cost more than the product itself.
pub fn direct_conv_fits(g: &Conv2dGeom) -> bool {
    g.sh == 1
        && g.sw == 1
        && g.dh == 1
        && g.dw == 1
        && g.c * g.kh * g.kw <= 64
        && g.oh > 0
        && g.ow > 0
        && g.oh + g.kh - 1 <= g.h + 2 * g.ph
        && g.ow + g.kw - 1 <= g.w + 2 * g.pw
}

/// The input zero-padded to `(N, C, hp, wp)` planes, `wp` rounded so that every 8-lane block
/// of an output row reads inside its row.
struct Padded<T> {
    data: Vec<T>,
    hp: usize,
    wp: usize,
}

impl<T: Float> Padded<T> {
    fn new(x: &[T], g: &Conv2dGeom) -> Self {
        let owp = g.ow.div_ceil(DX) * DX;
        let (hp, wp) = (g.h + 2 * g.ph, (g.w + 2 * g.pw).max(owp + g.kw - 1));
        Padded {
            data: pad_planes(x, g, hp, wp, T::ZERO),
            hp,
            wp,
        }
    }

    /// Planes `first .. first + count` (plane `n·C + c` is channel `c` of image `n`).
    #[inline(always)]
    fn planes(&self, first: usize, count: usize) -> &[T] {
        let p = self.hp * self.wp;
        &self.data[first * p..(first + count) * p]
    }
}

/// The output gradient `(N, O, oh, ow)` with rows padded to `owp` (whole 8-lane blocks, zeros
/// past `ow`).
struct GradRows<T> {
    data: Vec<T>,
    owp: usize,
    o: usize,
    oh: usize,
}

impl<T: Float> GradRows<T> {
    fn new(gv: &[T], g: &Conv2dGeom, o: usize) -> Self {
        let owp = g.ow.div_ceil(DX) * DX;
        let mut data = vec![T::ZERO; g.n * o * g.oh * owp];
        for (dr, sr) in data.chunks_exact_mut(owp).zip(gv.chunks_exact(g.ow)) {
            dr[..g.ow].copy_from_slice(sr);
        }
        GradRows {
            data,
            owp,
            o,
            oh: g.oh,
        }
    }

    /// The rows of output channel `oc` of image `n`.
    #[inline(always)]
    fn plane(&self, n: usize, oc: usize) -> &[T] {
        let p = self.oh * self.owp;
        &self.data[(n * self.o + oc) * p..(n * self.o + oc + 1) * p]
    }
}

/// Direct 2-D convolution (stride 1, no dilation) of dense `x (N,C,H,W)` with dense
/// `w (O,C,kh,kw)` plus `bias`, into `(N,O,oh,ow)`: each block of 8 outputs of 8 channels is
/// accumulated in registers over every tap — no columns are built.
/// `x` is read through its layout `lx`; `w` (and `bias`) must be dense.
pub fn conv2d_direct(
    x: &CpuStorage,
    lx: &Layout,
    w: &CpuStorage,
    bias: Option<&CpuStorage>,
    g: &Conv2dGeom,
    o: usize,
) -> Result<CpuStorage> {
    let k = g.c * g.kh * g.kw;
    if lx.numel() != g.n * g.c * g.h * g.w || w.len() != o * k || bias.is_some_and(|b| b.len() != o)
    {
        return Err(Error::Shape(format!(
            "conv2d: input {:?}, weight of {} and bias of {:?} elements do not fit {o} output channels",
            lx.shape,
            w.len(),
            bias.map(|b| b.len())
        )));
    }
    let isa = Isa::detected();
    Ok(match (x, w, bias) {
        (CpuStorage::F32(x), CpuStorage::F32(w), None) => {
            CpuStorage::F32(direct_fwd_t(&view_slice(x, lx), w, None, g, o, isa))
        }
        (CpuStorage::F32(x), CpuStorage::F32(w), Some(CpuStorage::F32(b))) => {
            CpuStorage::F32(direct_fwd_t(&view_slice(x, lx), w, Some(b), g, o, isa))
        }
        (CpuStorage::F64(x), CpuStorage::F64(w), None) => {
            CpuStorage::F64(direct_fwd_t(&view_slice(x, lx), w, None, g, o, isa))
        }
        (CpuStorage::F64(x), CpuStorage::F64(w), Some(CpuStorage::F64(b))) => {
            CpuStorage::F64(direct_fwd_t(&view_slice(x, lx), w, Some(b), g, o, isa))
        }
        _ => {
            return Err(Error::DType(
                "conv2d: input, weight and bias must be one floating dtype".into(),
            ))
        }
    })
}

/// One image's output rows of output channels `o0..o0+DO` (zero weights past `o`).
#[inline(always)]
fn direct_fwd_rows<T: Float>(
    xp: &Padded<T>,
    wt: &[[T; DO]],
    b: [T; DO],
    g: &Conv2dGeom,
    n: usize,
    dst: &mut [[T; DX]],
) {
    // dst: (oh, ceil(ow/8)) blocks of DO×DX outputs, stored as DO·blocks arrays
    let blocks = g.ow.div_ceil(DX);
    let (hp, wp) = (xp.hp, xp.wp);
    let img = xp.planes(n * g.c, g.c);
    for oy in 0..g.oh {
        for xb in 0..blocks {
            let mut acc = [[T::ZERO; DX]; DO];
            for (j, a) in acc.iter_mut().enumerate() {
                *a = [b[j]; DX];
            }
            let mut t = 0;
            for c in 0..g.c {
                for ki in 0..g.kh {
                    let row = &img[(c * hp + oy + ki) * wp + xb * DX..];
                    for kj in 0..g.kw {
                        let xs: &[T; DX] = row[kj..kj + DX].try_into().expect("8 lanes");
                        let wv = wt[t];
                        for j in 0..DO {
                            for q in 0..DX {
                                acc[j][q] += wv[j] * xs[q];
                            }
                        }
                        t += 1;
                    }
                }
            }
            for (j, a) in acc.iter().enumerate() {
                dst[(j * g.oh + oy) * blocks + xb] = *a;
            }
        }
    }
}

/// The direct convolution of dense `x` with dense `w`, on the instruction set `isa`.
fn direct_fwd_t<T: Float + DirectKernels>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeom,
    o: usize,
    isa: Isa,
) -> Vec<T> {
    let xp = Padded::new(x, g);
    let k = g.c * g.kh * g.kw;
    let groups = o.div_ceil(DO);
    let blocks = g.ow.div_ceil(DX);
    let plane = g.oh * g.ow;
    let mut out = vec![T::ZERO; g.n * o * plane];
    // weights of each group of DO output channels, tap-major, zero past the last channel
    let wts: Vec<Vec<[T; DO]>> = (0..groups)
        .map(|gi| {
            (0..k)
                .map(|t| {
                    let mut v = [T::ZERO; DO];
                    for (j, slot) in v.iter_mut().enumerate() {
                        if gi * DO + j < o {
                            *slot = w[(gi * DO + j) * k + t];
                        }
                    }
                    v
                })
                .collect()
        })
        .collect();
    let bs: Vec<[T; DO]> = (0..groups)
        .map(|gi| {
            let mut v = [T::ZERO; DO];
            if let Some(b) = bias {
                for (j, slot) in v.iter_mut().enumerate() {
                    if gi * DO + j < o {
                        *slot = b[gi * DO + j];
                    }
                }
            }
            v
        })
        .collect();
    // one task per (image, channel group): blocks into a scratch, then the valid lanes out
    let task = |ti: usize, dst: &mut [T]| {
        let (n, gi) = (ti / groups, ti % groups);
        let mut scratch = vec![[T::ZERO; DX]; DO * g.oh * blocks];
        if !T::direct_fwd_fast(isa, &xp, &wts[gi], bs[gi], g, n, &mut scratch) {
            isa.wide(|| direct_fwd_rows(&xp, &wts[gi], bs[gi], g, n, &mut scratch));
        }
        for j in 0..DO.min(o - gi * DO) {
            let d = &mut dst[j * plane..(j + 1) * plane];
            for oy in 0..g.oh {
                for (xb, blk) in scratch[(j * g.oh + oy) * blocks..][..blocks]
                    .iter()
                    .enumerate()
                {
                    let x0 = xb * DX;
                    let m = DX.min(g.ow - x0);
                    d[oy * g.ow + x0..oy * g.ow + x0 + m].copy_from_slice(&blk[..m]);
                }
            }
        }
    };
    // a task's output: the planes of its channel group (contiguous within the image)
    let tasks = g.n * groups;
    let outp = SendPtr(out.as_mut_ptr());
    let per_image = o * plane;
    pool::run(tasks, |ti| {
        let (n, gi) = (ti / groups, ti % groups);
        let chans = DO.min(o - gi * DO);
        // SAFETY: the planes of (image n, channels gi·DO..gi·DO+chans) belong to this task
        let dst = unsafe {
            std::slice::from_raw_parts_mut(
                outp.get().add(n * per_image + gi * DO * plane),
                chans * plane,
            )
        };
        task(ti, dst)
    });
    out
}

/// The weight gradient of [`conv2d_direct`]: `dW[o,c,ki,kj] = Σ g[n,o,y,x]·x[n,c,y+ki,x+kj]`
/// (padded input), for dense `x` and dense `g (N,O,oh,ow)`; `(O, C, kh, kw)`.
pub fn conv2d_direct_weight_grad(
    x: &CpuStorage,
    lx: &Layout,
    gout: &CpuStorage,
    lg: &Layout,
    g: &Conv2dGeom,
    o: usize,
) -> Result<CpuStorage> {
    if lx.numel() != g.n * g.c * g.h * g.w || lg.numel() != g.n * o * g.oh * g.ow {
        return Err(Error::Shape(format!(
            "conv2d backward: input {:?} and output gradient {:?} do not fit the convolution",
            lx.shape, lg.shape
        )));
    }
    let isa = Isa::detected();
    Ok(match (x, gout) {
        (CpuStorage::F32(x), CpuStorage::F32(gv)) => CpuStorage::F32(direct_dw_t(
            &view_slice(x, lx),
            &view_slice(gv, lg),
            g,
            o,
            isa,
        )),
        (CpuStorage::F64(x), CpuStorage::F64(gv)) => CpuStorage::F64(direct_dw_t(
            &view_slice(x, lx),
            &view_slice(gv, lg),
            g,
            o,
            isa,
        )),
        _ => {
            return Err(Error::DType(
                "conv2d backward: input and gradient must be one floating dtype".into(),
            ))
        }
    })
}

/// The `kh·kw` taps of one (output channel, input channel) pair, summed over every image and
/// output row: for each kernel row, the `kw` taps are `kw` independent 8-lane accumulators
/// (kept in registers when the width is a constant `KW`).
#[inline(always)]
fn direct_dw_pair<T: Float, const KW: usize>(
    xp: &Padded<T>,
    gp: &GradRows<T>,
    g: &Conv2dGeom,
    (oc, c): (usize, usize),
    out: &mut [T],
) {
    let kw = if KW > 0 { KW } else { g.kw };
    let (wp, owp) = (xp.wp, gp.owp);
    let blocks = owp / DX;
    let mut fixed = [[T::ZERO; DX]; 8];
    let mut dynamic = vec![[T::ZERO; DX]; if KW > 0 { 0 } else { kw }];
    for ki in 0..g.kh {
        let acc: &mut [[T; DX]] = if KW > 0 {
            &mut fixed[..KW]
        } else {
            &mut dynamic
        };
        acc.iter_mut().for_each(|a| *a = [T::ZERO; DX]);
        for n in 0..g.n {
            let img = xp.planes(n * g.c + c, 1);
            let gpl = gp.plane(n, oc);
            for oy in 0..g.oh {
                let grow = &gpl[oy * owp..(oy + 1) * owp];
                let xrow = &img[(oy + ki) * wp..(oy + ki + 1) * wp];
                for xb in 0..blocks {
                    let gs: &[T; DX] = grow[xb * DX..xb * DX + DX].try_into().expect("8");
                    for (kj, a) in acc.iter_mut().enumerate().take(kw) {
                        let xs: &[T; DX] =
                            xrow[kj + xb * DX..kj + xb * DX + DX].try_into().expect("8");
                        for q in 0..DX {
                            a[q] += gs[q] * xs[q];
                        }
                    }
                }
            }
        }
        for (kj, a) in acc.iter().enumerate().take(kw) {
            out[ki * kw + kj] = a.iter().fold(T::ZERO, |s, &v| s + v);
        }
    }
}

/// The weight gradient of the direct convolution, on the instruction set `isa`.
fn direct_dw_t<T: Float + DirectKernels>(
    x: &[T],
    gv: &[T],
    g: &Conv2dGeom,
    o: usize,
    isa: Isa,
) -> Vec<T> {
    let xp = Padded::new(x, g);
    let gp = GradRows::new(gv, g, o);
    let taps = g.kh * g.kw;
    // one task per (output channel, input channel): its taps summed over every image
    let pairs = o * g.c;
    let mut out = vec![T::ZERO; pairs * taps];
    pool::chunks_mut(&mut out, taps, |p, dst| {
        let pair = (p / g.c, p % g.c);
        if T::direct_dw_fast(isa, &xp, &gp, g, pair, dst) {
            return;
        }
        isa.wide(|| match g.kw {
            3 => direct_dw_pair::<T, 3>(&xp, &gp, g, pair, dst),
            5 => direct_dw_pair::<T, 5>(&xp, &gp, g, pair, dst),
            7 => direct_dw_pair::<T, 7>(&xp, &gp, g, pair, dst),
            _ => direct_dw_pair::<T, 0>(&xp, &gp, g, pair, dst),
        });
    });
    out
}

/// Hand-vectorised direct-convolution kernels where the instruction set and the type have them
/// (f32 with AVX2+FMA); each returns false when it did nothing, and the portable loops run.
trait DirectKernels: Sized {
    fn direct_fwd_fast(
        _isa: Isa,
        _xp: &Padded<Self>,
        _wt: &[[Self; DO]],
        _b: [Self; DO],
        _g: &Conv2dGeom,
        _n: usize,
        _dst: &mut [[Self; DX]],
    ) -> bool {
        false
    }
    fn direct_dw_fast(
        _isa: Isa,
        _xp: &Padded<Self>,
        _gp: &GradRows<Self>,
        _g: &Conv2dGeom,
        _pair: (usize, usize),
        _out: &mut [Self],
    ) -> bool {
        false
    }
}

impl DirectKernels for f64 {}

impl DirectKernels for f32 {
    fn direct_fwd_fast(
        isa: Isa,
        xp: &Padded<f32>,
        wt: &[[f32; DO]],
        b: [f32; DO],
        g: &Conv2dGeom,
        n: usize,
        dst: &mut [[f32; DX]],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if isa.avx2() {
            // SAFETY: AVX2 and FMA are present (`isa` says so); see the function for bounds.
            unsafe { direct_fwd_avx2(xp, wt, b, g, n, dst) };
            return true;
        }
        let _ = (isa, xp, wt, b, g, n, dst);
        false
    }

    fn direct_dw_fast(
        isa: Isa,
        xp: &Padded<f32>,
        gp: &GradRows<f32>,
        g: &Conv2dGeom,
        pair: (usize, usize),
        out: &mut [f32],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if isa.avx2() && g.kw <= 8 {
            // SAFETY: AVX2 and FMA are present (`isa` says so); see the function for bounds.
            unsafe { direct_dw_avx2(xp, gp, g, pair, out) };
            return true;
        }
        let _ = (isa, xp, gp, g, pair, out);
        false
    }
}

/// [`direct_fwd_rows`] for f32 with eight 8-lane accumulators (one per output channel of the
/// group) and a fused multiply-add per channel and tap.
///
/// # Safety
/// AVX2 and FMA must be available. Every load reads `row[kj + 8·xb .. +8]` of a padded row of
/// `wp ≥ 8·ceil(ow/8) + kw − 1` elements (see `Padded::new`), so all reads are in bounds;
/// the slices are indexed (and checked) before the raw loads.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn direct_fwd_avx2(
    xp: &Padded<f32>,
    wt: &[[f32; DO]],
    b: [f32; DO],
    g: &Conv2dGeom,
    n: usize,
    dst: &mut [[f32; DX]],
) {
    use std::arch::x86_64::*;
    let blocks = g.ow.div_ceil(DX);
    let (hp, wp) = (xp.hp, xp.wp);
    let img = xp.planes(n * g.c, g.c);
    for oy in 0..g.oh {
        for xb in 0..blocks {
            let mut acc = [_mm256_setzero_ps(); DO];
            for (j, a) in acc.iter_mut().enumerate() {
                *a = _mm256_set1_ps(b[j]);
            }
            let mut t = 0;
            for c in 0..g.c {
                for ki in 0..g.kh {
                    let row = &img[(c * hp + oy + ki) * wp + xb * DX..][..g.kw - 1 + DX];
                    for kj in 0..g.kw {
                        let xs = _mm256_loadu_ps(row[kj..kj + DX].as_ptr());
                        let w = &wt[t];
                        for j in 0..DO {
                            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), xs, acc[j]);
                        }
                        t += 1;
                    }
                }
            }
            for (j, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(dst[(j * g.oh + oy) * blocks + xb].as_mut_ptr(), *a);
            }
        }
    }
}

/// [`direct_dw_pair`] for f32: per kernel row, up to eight 8-lane accumulators (one per tap of
/// the row), each a fused multiply-add of the gradient row with the shifted input row.
///
/// # Safety
/// AVX2 and FMA must be available and `g.kw ≤ 8`. Gradient rows are padded to `owp` (whole
/// blocks) and input rows to `wp ≥ owp + kw − 1`; the slices are indexed (and checked) before
/// the raw loads.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn direct_dw_avx2(
    xp: &Padded<f32>,
    gp: &GradRows<f32>,
    g: &Conv2dGeom,
    (oc, c): (usize, usize),
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let kw = g.kw;
    let (wp, owp) = (xp.wp, gp.owp);
    let blocks = owp / DX;
    for ki in 0..g.kh {
        let mut acc = [_mm256_setzero_ps(); 8];
        for n in 0..g.n {
            let img = xp.planes(n * g.c + c, 1);
            let gpl = gp.plane(n, oc);
            for oy in 0..g.oh {
                let grow = &gpl[oy * owp..(oy + 1) * owp];
                let xrow = &img[(oy + ki) * wp..(oy + ki) * wp + owp + kw - 1];
                for xb in 0..blocks {
                    let gs = _mm256_loadu_ps(grow[xb * DX..xb * DX + DX].as_ptr());
                    let xr = &xrow[xb * DX..xb * DX + DX + kw - 1];
                    for (kj, a) in acc.iter_mut().enumerate().take(kw) {
                        let xs = _mm256_loadu_ps(xr[kj..kj + DX].as_ptr());
                        *a = _mm256_fmadd_ps(gs, xs, *a);
                    }
                }
            }
        }
        for (kj, a) in acc.iter().enumerate().take(kw) {
            let mut lanes = [0f32; DX];
            _mm256_storeu_ps(lanes.as_mut_ptr(), *a);
            out[ki * kw + kj] = lanes.iter().sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(n, c, h, w, o, kh, kw, ph, pw)`: odd widths leave partial 8-lane blocks, `o` not a
    /// multiple of 8 leaves a partial channel group, kw = 4 takes the run-time-width loops.
    const CASES: [[usize; 9]; 6] = [
        [2, 3, 7, 13, 5, 3, 3, 1, 1],
        [1, 2, 5, 9, 9, 5, 5, 2, 2],
        [3, 4, 6, 6, 8, 1, 1, 0, 0],
        [1, 1, 9, 21, 3, 7, 7, 3, 3],
        [2, 2, 5, 11, 4, 3, 4, 1, 0],
        [1, 3, 4, 3, 2, 2, 2, 0, 1],
    ];

    fn geom([n, c, h, w, _, kh, kw, ph, pw]: [usize; 9]) -> Conv2dGeom {
        let g = Conv2dGeom {
            n,
            c,
            h,
            w,
            kh,
            kw,
            sh: 1,
            sw: 1,
            ph,
            pw,
            dh: 1,
            dw: 1,
            oh: h + 2 * ph + 1 - kh,
            ow: w + 2 * pw + 1 - kw,
        };
        assert!(direct_conv_fits(&g), "{g:?}");
        g
    }

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// Calls `f(n, oc, c, y, x, ki, kj, input index)` for every tap that lands in the image.
    fn each_tap(g: &Conv2dGeom, o: usize, mut f: impl FnMut([usize; 7], usize)) {
        for n in 0..g.n {
            for oc in 0..o {
                for c in 0..g.c {
                    for y in 0..g.oh {
                        for x in 0..g.ow {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    let (iy, ix) = (y + ki, x + kj);
                                    if iy < g.ph || ix < g.pw {
                                        continue;
                                    }
                                    let (iy, ix) = (iy - g.ph, ix - g.pw);
                                    if iy < g.h && ix < g.w {
                                        let at = ((n * g.c + c) * g.h + iy) * g.w + ix;
                                        f([n, oc, c, y, x, ki, kj], at);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Plain forward and weight gradient in f64, with the sum of |products| of each output
    /// (the scale of its rounding error).
    fn reference(
        g: &Conv2dGeom,
        o: usize,
        x: &[f64],
        w: &[f64],
        b: &[f64],
        gout: &[f64],
    ) -> [(Vec<f64>, Vec<f64>); 2] {
        let plane = g.oh * g.ow;
        let mut y: Vec<f64> = (0..g.n * o * plane).map(|i| b[(i / plane) % o]).collect();
        let mut ys = vec![1.0; y.len()];
        let mut dw = vec![0.0; o * g.c * g.kh * g.kw];
        let mut dws = vec![1.0; dw.len()];
        each_tap(g, o, |[n, oc, c, oy, ox, ki, kj], at| {
            let out = (n * o + oc) * plane + oy * g.ow + ox;
            let wi = ((oc * g.c + c) * g.kh + ki) * g.kw + kj;
            y[out] += x[at] * w[wi];
            ys[out] += (x[at] * w[wi]).abs();
            dw[wi] += gout[out] * x[at];
            dws[wi] += (gout[out] * x[at]).abs();
        });
        [(y, ys), (dw, dws)]
    }

    fn close<T: Float>(what: &str, got: &[T], (want, scale): &(Vec<f64>, Vec<f64>), tol: f64) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, ((&a, &b), &s)) in got.iter().zip(want).zip(scale).enumerate() {
            let err = (a.to_f64() - b).abs();
            assert!(err <= tol * s, "{what}[{i}]: {} vs {b}", a.to_f64());
        }
    }

    fn check<T: Float + DirectKernels>(tol: f64) {
        let cast = |v: Vec<f64>| -> Vec<T> { v.into_iter().map(T::from_f64).collect() };
        for (ci, case) in CASES.into_iter().enumerate() {
            let (g, o) = (geom(case), case[4]);
            let x = values(g.n * g.c * g.h * g.w, 1 + ci as u64);
            let w = values(o * g.c * g.kh * g.kw, 101 + ci as u64);
            let b = values(o, 201 + ci as u64);
            let gout = values(g.n * o * g.oh * g.ow, 301 + ci as u64);
            let [want_y, want_dw] = reference(&g, o, &x, &w, &b, &gout);
            let (x, w, b, gout) = (cast(x), cast(w), cast(b), cast(gout));
            for isa in [Isa::PORTABLE, Isa::detected()] {
                let what = format!("case {case:?} on {isa:?}");
                let y = direct_fwd_t(&x, &w, Some(&b), &g, o, isa);
                close(&format!("forward, {what}"), &y, &want_y, tol);
                let dw = direct_dw_t(&x, &gout, &g, o, isa);
                close(&format!("weight grad, {what}"), &dw, &want_dw, tol);
            }
        }
    }

    #[test]
    fn portable_and_simd_direct_conv_match_a_plain_reference_f32() {
        check::<f32>(1e-6);
    }

    #[test]
    fn portable_and_simd_direct_conv_match_a_plain_reference_f64() {
        check::<f64>(1e-13);
    }
}
