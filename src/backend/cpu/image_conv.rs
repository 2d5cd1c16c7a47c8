//! 2-D convolution as one gemm per image (the CPU's path for many-tap layers when the batch
//! can keep every thread busy).
//!
//! Each task works through a run of images with one column buffer (a few MB, reused image
//! after image, so it stays in cache) — never a batch-sized column matrix:
//! - forward: the patch-major columns `cols_n (oh·ow, C·kh·kw)` times `Wᵀ` (the orientation
//!   the gemm kernels run fastest), transposed into the NCHW output with the bias added;
//! - weight gradient: each task accumulates `g_n (O, oh·ow) @ cols_n` over its images, the
//!   columns rebuilt from the input (cheaper than keeping a batch of them), and the partial
//!   sums are added at the end;
//! - input gradient: `Wᵀ @ g_n` gives channel-major columns `(C·kh·kw, oh·ow)`, folded onto
//!   the image by runs of whole output rows.
//!
//! Stride-1 layers skip the columns in the forward pass and the weight gradient (see
//! [`forward_shifted_t`]): each image is copied once, zero-padded and channels-last, and every
//! kernel row's taps are a product over that copy shifted by a fixed offset — the columns cost
//! about as much as the product's packing, and they were written to memory twice over.
//!
//! 3×3 stride-1 layers with 16 or more channels each side go to Winograd's algorithm instead
//! (`winograd`: forward, weight gradient, and the input gradient as a forward convolution).
//!
//! Images are split over the threads in equal runs; each product runs on one thread.

use std::mem::MaybeUninit;

use super::conv::im2col_image;
use super::matmul::{gemm_into, Strides};
use super::pool::{self, SendPtr};
use super::view_slice;
use crate::backend::Conv2dGeom;
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// Whether the per-image path serves a geometry on `threads` threads: enough images to give
/// every thread a run of them (else the batch-wide product, split inside, is better).
pub fn image_conv_fits(g: &Conv2dGeom, threads: usize) -> bool {
    g.n >= threads.max(1) && g.oh > 0 && g.ow > 0 && g.c > 0 && g.kh > 0 && g.kw > 0
}

/// The range `lo..hi` of output positions along one axis whose tap `t` (already scaled by the
/// dilation) falls inside an input of `size` (stride `s`, padding `p`), for `out` outputs.
#[inline]
fn valid_range(out: usize, s: usize, p: usize, t: usize, size: usize) -> (usize, usize) {
    // input index = o·s + t - p must lie in 0..size
    let lo = if t >= p { 0 } else { (p - t).div_ceil(s) };
    let hi = if size + p > t {
        ((size + p - t - 1) / s + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Adds channel-major columns `(C·kh·kw, oh·ow)` onto one image `dx (C, H, W)` (zeroed here
/// first).
/// Row `r` of the columns is `cols[r·rs .. r·rs + oh·ow]`.
fn col2im_image<T: Float>(cols: &[T], rs: usize, g: &Conv2dGeom, dx: &mut [T]) {
    dx.fill(T::ZERO);
    let l = g.oh * g.ow;
    let cols_x: Vec<(usize, usize)> = (0..g.kw)
        .map(|kj| valid_range(g.ow, g.sw, g.pw, kj * g.dw, g.w))
        .collect();
    let mut rows = (0..).map(|r: usize| &cols[r * rs..r * rs + l]);
    for c in 0..g.c {
        let plane = &mut dx[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            let (y0, y1) = valid_range(g.oh, g.sh, g.ph, ki * g.dh, g.h);
            for (kj, &(x0, x1)) in cols_x.iter().enumerate() {
                let row = rows.next().expect("one row per tap");
                if x1 <= x0 {
                    continue;
                }
                let ix0 = x0 * g.sw + kj * g.dw - g.pw;
                for oy in y0..y1 {
                    let iy = oy * g.sh + ki * g.dh - g.ph;
                    let dst = &mut plane[iy * g.w..(iy + 1) * g.w];
                    let src = &row[oy * g.ow + x0..oy * g.ow + x1];
                    if g.sw == 1 {
                        for (d, &v) in dst[ix0..ix0 + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (j, &v) in src.iter().enumerate() {
                            dst[ix0 + j * g.sw] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Images per task: equal runs, one per thread.
fn images_per_task(n: usize) -> usize {
    n.div_ceil(pool::threads().clamp(1, n.max(1))).max(1)
}

/// Output positions one product should span at least: below it the operand packing the gemm
/// repeats per product outweighs the arithmetic, so small images go several to a product.
const MIN_PRODUCT_COLS: usize = 512;

/// Images per product: enough for [`MIN_PRODUCT_COLS`] positions, at most a task's run.
fn images_per_product(l: usize, per_task: usize) -> usize {
    MIN_PRODUCT_COLS
        .div_ceil(l.max(1))
        .clamp(1, per_task.max(1))
}

/// The consecutive groups of at most `size` images in `range`.
fn groups(
    range: std::ops::Range<usize>,
    size: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    let end = range.end;
    range.step_by(size).map(move |a| a..(a + size).min(end))
}

/// `dst (O, G·L)` gathered from the `G` images `g_n (O, L)` of `gy` from image `first` on.
fn gather_images<T: Float>(
    gy: &[T],
    first: usize,
    count: usize,
    o: usize,
    l: usize,
    dst: &mut [T],
) {
    let gl = count * l;
    for j in 0..count {
        let gn = &gy[(first + j) * o * l..(first + j + 1) * o * l];
        for (oc, row) in gn.chunks_exact(l).enumerate() {
            dst[oc * gl + j * l..oc * gl + (j + 1) * l].copy_from_slice(row);
        }
    }
}

/// A task's column buffer: `len` elements, written by [`im2col_image`] before every read.
fn scratch<T>(len: usize) -> Vec<MaybeUninit<T>> {
    let mut v = Vec::with_capacity(len);
    // SAFETY: MaybeUninit elements need no initialisation.
    unsafe { v.set_len(len) };
    v
}

/// # Safety
/// Every element of `v` must have been written.
unsafe fn assume_init<T>(v: &[MaybeUninit<T>]) -> &[T] {
    std::slice::from_raw_parts(v.as_ptr() as *const T, v.len())
}

/// `dst[j·dst_rs + i] = src[i·src_rs + j] + add[j]` for `i < rows`, `j < cols` (`add`
/// absent: nothing added), through 8×8 tiles held in registers: every read and every write
/// runs along a row.
#[inline(always)]
fn transpose_into<T: Float>(
    (src, src_rs): (&[T], usize),
    (dst, dst_rs): (&mut [T], usize),
    rows: usize,
    cols: usize,
    add: Option<&[T]>,
) {
    const B: usize = 8;
    let plus = |j: usize| add.map_or(T::ZERO, |a| a[j]);
    let (full_r, full_c) = (rows / B * B, cols / B * B);
    let tiled = super::simd::transpose_tiles((src, src_rs), (&mut *dst, dst_rs), rows, cols, add);
    for i0 in (0..full_r).step_by(B).filter(|_| !tiled) {
        for j0 in (0..full_c).step_by(B) {
            let mut t = [[T::ZERO; B]; B];
            for (i, ti) in t.iter_mut().enumerate() {
                ti.copy_from_slice(&src[(i0 + i) * src_rs + j0..(i0 + i) * src_rs + j0 + B]);
            }
            for j in 0..B {
                let a = plus(j0 + j);
                let d = &mut dst[(j0 + j) * dst_rs + i0..(j0 + j) * dst_rs + i0 + B];
                for (i, v) in d.iter_mut().enumerate() {
                    *v = t[i][j] + a;
                }
            }
        }
    }
    // the ragged edges: the last rows, and the last columns of the full rows
    for i in full_r..rows {
        for j in 0..cols {
            dst[j * dst_rs + i] = src[i * src_rs + j] + plus(j);
        }
    }
    for j in full_c..cols {
        let a = plus(j);
        for i in 0..full_r {
            dst[j * dst_rs + i] = src[i * src_rs + j] + a;
        }
    }
}

/// `dst (O, L) = src (L, O)ᵀ`, plus `bias[o]` on row `o`; row `o` of `dst` starts at
/// `o·dst_rs`.
#[inline(always)]
fn transpose_bias<T: Float>(
    src: &[T],
    dst: &mut [T],
    (l, dst_rs): (usize, usize),
    o: usize,
    bias: Option<&[T]>,
) {
    transpose_into((src, o), (dst, dst_rs), l, o, bias);
}

fn forward_t<T: Float>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Conv2dGeom, o: usize) -> Vec<T> {
    let (k, l) = (g.c * g.kh * g.kw, g.oh * g.ow);
    let (img_in, img_out) = (g.c * g.h * g.w, o * l);
    let total = g.n * img_out;
    let mut out: Vec<T> = Vec::with_capacity(total);
    let per = images_per_task(g.n);
    let gs = images_per_product(l, per);
    let base = SendPtr(out.as_mut_ptr());
    pool::run(g.n.div_ceil(per), |t| {
        let mut cols = scratch::<T>(gs * l * k);
        let mut yt = vec![T::ZERO; gs * l * o];
        for grp in groups(t * per..((t + 1) * per).min(g.n), gs) {
            let rows = grp.len() * l;
            for (j, n) in grp.clone().enumerate() {
                let dst = &mut cols[j * l * k..(j + 1) * l * k];
                im2col_image(&x[n * img_in..(n + 1) * img_in], g, dst, T::ZERO);
            }
            // SAFETY: im2col_image wrote every column element of the group's rows
            let c = unsafe { assume_init(&cols[..rows * k]) };
            // (G·L, K) @ Wᵀ: the orientation the gemm kernels run fastest
            gemm_into(
                [rows, o, k],
                &mut yt,
                o,
                (c, Strides::rows(k)),
                (w, Strides::transposed(k)),
                false,
            );
            for (j, n) in grp.enumerate() {
                // SAFETY: image `n`'s output block belongs to this task alone, and is written
                // whole before anything reads it (zeroing it first would cost a pass)
                let y =
                    unsafe { std::slice::from_raw_parts_mut(base.get().add(n * img_out), img_out) };
                let src = &yt[j * l * o..(j + 1) * l * o];
                super::simd::wide(|| transpose_bias(src, y, (l, l), o, bias));
            }
        }
    });
    // SAFETY: the tasks covered every image, and each wrote its whole output block
    unsafe { out.set_len(total) };
    out
}

/// Height and width of a stride-1 layer's zero-padded image.
fn padded_plane(g: &Conv2dGeom) -> (usize, usize) {
    (g.h + 2 * g.ph, g.w + 2 * g.pw)
}

/// Rows of one shifted product over `count` padded images laid end to end: every position of
/// the padded grid from the first output to the last (the `wp - ow` positions past the end of
/// each output row, and the padding rows between images, are computed and thrown away).
fn shifted_rows(g: &Conv2dGeom, count: usize) -> usize {
    let (hp, wp) = padded_plane(g);
    (count - 1) * hp * wp + (g.oh - 1) * wp + g.ow
}

/// Whether a forward convolution runs as shifted products (see [`forward_shifted_t`]): stride
/// 1, and few enough thrown-away positions that they cost less than building the columns
/// (measured on 3×3 layers: the columns cost about 15% of the product; shifted products won at
/// 28×28 and 32×32, tied at 16×16 and lost by a third at 8×8).
fn shifted_fits(g: &Conv2dGeom) -> bool {
    if g.sh != 1 || g.sw != 1 || g.oh == 0 || g.ow == 0 || g.kh * g.kw < 2 {
        return false;
    }
    let l = g.oh * g.ow;
    let count = images_per_product(l, images_per_task(g.n));
    100 * count * l >= 85 * shifted_rows(g, count)
}

/// [`shifted_fits`], unless the environment variable `RUSTDL_CONV_COLUMNS=1` asks for the
/// columns everywhere (read once per process; for comparing the two paths).
fn use_shifted(g: &Conv2dGeom) -> bool {
    static COLUMNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let columns =
        *COLUMNS.get_or_init(|| std::env::var("RUSTDL_CONV_COLUMNS").is_ok_and(|v| v == "1"));
    !columns && shifted_fits(g)
}

/// Writes image `x (C, H, W)` into the interior of its zero-padded channels-last copy
/// `xp (hp, wp, C)` (the border is left as it is: zero).
#[inline(always)]
fn to_padded_channels_last<T: Float>(x: &[T], g: &Conv2dGeom, xp: &mut [T]) {
    let (_, wp) = padded_plane(g);
    let (c, plane) = (g.c, g.h * g.w);
    for iy in 0..g.h {
        // row iy: the (C, W) slice of the planes, transposed into (W, C)
        let row = &mut xp[((iy + g.ph) * wp + g.pw) * c..((iy + g.ph) * wp + g.pw + g.w) * c];
        transpose_into((&x[iy * g.w..], plane), (row, c), c, g.w, None);
    }
}

/// Stride-1 forward convolution without columns: on the zero-padded channels-last image, the
/// tap `(i, j)` of every output position sits a fixed number of positions further on, so the
/// output `(positions, O)` is the sum over the taps of one product each — the image shifted by
/// the tap's offset `(positions, C)` times the tap's weights `(C, O)`. The products run over
/// the padded grid's positions (a few more than the outputs), and the useful ones are
/// transposed into NCHW with the bias added.
fn forward_shifted_t<T: Float>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeom,
    o: usize,
) -> Vec<T> {
    let (c, taps, l) = (g.c, g.kh * g.kw, g.oh * g.ow);
    let k = c * taps;
    let (hp, wp) = padded_plane(g);
    let plane = hp * wp;
    let (img_in, img_out) = (c * g.h * g.w, o * l);
    // the weight as one (C, O) matrix per tap
    let mut wt = vec![T::ZERO; taps * c * o];
    for (oc, wo) in w.chunks_exact(k).enumerate() {
        for (ci, wc) in wo.chunks_exact(taps).enumerate() {
            for (t, &v) in wc.iter().enumerate() {
                wt[(t * c + ci) * o + oc] = v;
            }
        }
    }
    let total = g.n * img_out;
    let mut out: Vec<T> = Vec::with_capacity(total);
    let per = images_per_task(g.n);
    let gs = images_per_product(l, per);
    let base = SendPtr(out.as_mut_ptr());
    pool::run(g.n.div_ceil(per), |t| {
        let mut xp = vec![T::ZERO; gs * plane * c];
        let mut yt = vec![T::ZERO; shifted_rows(g, gs) * o];
        for grp in groups(t * per..((t + 1) * per).min(g.n), gs) {
            for (j, n) in grp.clone().enumerate() {
                let dst = &mut xp[j * plane * c..(j + 1) * plane * c];
                super::simd::wide(|| {
                    to_padded_channels_last(&x[n * img_in..(n + 1) * img_in], g, dst)
                });
            }
            let rows = shifted_rows(g, grp.len());
            // without dilation along a row, a kernel row's taps are neighbouring positions,
            // whose channels lie end to end: one product of depth kw·C per kernel row, over
            // rows of the image that overlap
            let (run, per_row) = if g.dw == 1 { (g.kw, 1) } else { (1, g.kw) };
            for ki in 0..g.kh {
                for r in 0..per_row {
                    let tap = ki * g.kw + r;
                    let off = ki * g.dh * wp + r * g.dw;
                    gemm_into(
                        [rows, o, run * c],
                        &mut yt,
                        o,
                        (&xp[off * c..], Strides { rs: c, cs: 1 }),
                        (&wt[tap * c * o..(tap + run) * c * o], Strides::rows(o)),
                        tap > 0,
                    );
                }
            }
            for (j, n) in grp.enumerate() {
                // SAFETY: image `n`'s output block belongs to this task alone, and is written
                // whole (every output row) before anything reads it
                let y =
                    unsafe { std::slice::from_raw_parts_mut(base.get().add(n * img_out), img_out) };
                super::simd::wide(|| {
                    for oy in 0..g.oh {
                        let src = &yt[(j * plane + oy * wp) * o..];
                        transpose_bias(src, &mut y[oy * g.ow..], (g.ow, l), o, bias);
                    }
                });
            }
        }
    });
    // SAFETY: the tasks covered every image, and each wrote its whole output block
    unsafe { out.set_len(total) };
    out
}

/// The forward convolution: Winograd products for 3×3 stride-1 layers with enough channels,
/// else shifted products where they fit, else columns.
fn forward<T: Float>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Conv2dGeom, o: usize) -> Vec<T> {
    let winograd = super::winograd::winograd_fits(g, o);
    if let Some(y) = winograd
        .then(|| super::winograd::forward(x, w, bias, g, o))
        .flatten()
    {
        y
    } else if use_shifted(g) {
        forward_shifted_t(x, w, bias, g, o)
    } else {
        forward_t(x, w, bias, g, o)
    }
}

/// Stride-1 weight gradient without columns (the adjoint of [`forward_shifted_t`]): kernel row
/// `i`'s gradient `(O, kw·C)` is the output gradient laid on the padded grid `(O, positions)`
/// (zero on the thrown-away positions) times the image shifted by the row's offset
/// `(positions, kw·C)`; per-task partial sums as in [`weight_grad_t`].
fn weight_grad_shifted_t<T: Float>(x: &[T], gy: &[T], g: &Conv2dGeom, o: usize) -> Vec<T> {
    let (c, l) = (g.c, g.oh * g.ow);
    let (hp, wp) = padded_plane(g);
    let plane = hp * wp;
    let img_in = c * g.h * g.w;
    let (run, per_row) = if g.dw == 1 { (g.kw, 1) } else { (1, g.kw) };
    let per = images_per_task(g.n);
    let gs = images_per_product(l, per);
    let tasks = g.n.div_ceil(per);
    // per task: the gradient as (taps, O, C) — a tap's (O, C) block, or a kernel row's
    // (O, kw·C) block when its taps go together
    let block = g.kh * g.kw * o * c;
    let mut partial = vec![T::ZERO; tasks * block];
    pool::chunks_mut(&mut partial, block, |t, acc| {
        let mut xp = vec![T::ZERO; gs * plane * c];
        let mut gp = vec![T::ZERO; o * shifted_rows(g, gs)];
        for grp in groups(t * per..((t + 1) * per).min(g.n), gs) {
            let rows = shifted_rows(g, grp.len());
            let full = shifted_rows(g, gs);
            for (j, n) in grp.clone().enumerate() {
                let dst = &mut xp[j * plane * c..(j + 1) * plane * c];
                super::simd::wide(|| {
                    to_padded_channels_last(&x[n * img_in..(n + 1) * img_in], g, dst)
                });
            }
            gradient_on_grid(gy, g, o, (grp.start, grp.len()), &mut gp, full);
            for ki in 0..g.kh {
                for r in 0..per_row {
                    let tap = ki * g.kw + r;
                    let off = ki * g.dh * wp + r * g.dw;
                    gemm_into(
                        [o, run * c, rows],
                        &mut acc[tap * o * c..(tap + run) * o * c],
                        run * c,
                        (&gp, Strides::rows(full)),
                        (&xp[off * c..], Strides { rs: c, cs: 1 }),
                        true,
                    );
                }
            }
        }
    });
    let (first, rest) = partial.split_at_mut(block);
    for p in rest.chunks_exact(block) {
        first.iter_mut().zip(p).for_each(|(a, &b)| *a += b);
    }
    // (kernel rows, O, runs of taps, C) → (O, C, kh, kw)
    let taps = g.kh * g.kw;
    let mut dw = vec![T::ZERO; block];
    for ki in 0..g.kh {
        for r in 0..per_row {
            let tap0 = ki * g.kw + r;
            let blk = &first[tap0 * o * c..(tap0 + run) * o * c];
            for oc in 0..o {
                for q in 0..run {
                    let tap = tap0 + q;
                    for ci in 0..c {
                        dw[(oc * c + ci) * taps + tap] = blk[(oc * run + q) * c + ci];
                    }
                }
            }
        }
    }
    dw
}

fn weight_grad_t<T: Float>(x: &[T], gy: &[T], g: &Conv2dGeom, o: usize) -> Vec<T> {
    let (k, l) = (g.c * g.kh * g.kw, g.oh * g.ow);
    let img_in = g.c * g.h * g.w;
    let per = images_per_task(g.n);
    let gs = images_per_product(l, per);
    let tasks = g.n.div_ceil(per);
    // one (O, K) partial sum per task
    let mut partial = vec![T::ZERO; tasks * o * k];
    pool::chunks_mut(&mut partial, o * k, |t, acc| {
        let mut cols = scratch::<T>(gs * l * k);
        let mut gcat = if gs > 1 {
            vec![T::ZERO; o * gs * l]
        } else {
            Vec::new()
        };
        for grp in groups(t * per..((t + 1) * per).min(g.n), gs) {
            let rows = grp.len() * l;
            for (j, n) in grp.clone().enumerate() {
                let dst = &mut cols[j * l * k..(j + 1) * l * k];
                im2col_image(&x[n * img_in..(n + 1) * img_in], g, dst, T::ZERO);
            }
            // SAFETY: im2col_image wrote every column element of the group's rows
            let c = unsafe { assume_init(&cols[..rows * k]) };
            let gn: &[T] = if gs > 1 {
                gather_images(gy, grp.start, grp.len(), o, l, &mut gcat);
                &gcat[..o * rows]
            } else {
                &gy[grp.start * o * l..grp.end * o * l]
            };
            gemm_into(
                [o, k, rows],
                acc,
                k,
                (gn, Strides::rows(rows)),
                (c, Strides::rows(k)),
                true,
            );
        }
    });
    let (first, rest) = partial.split_at_mut(o * k);
    for p in rest.chunks_exact(o * k) {
        first.iter_mut().zip(p).for_each(|(a, &b)| *a += b);
    }
    partial.truncate(o * k);
    partial
}

/// The output gradient of images `first..first + count` laid on their padded grids, channel
/// by channel: `gp (O, positions)` with row stride `full`; positions that are not outputs are
/// left as they are (zero).
fn gradient_on_grid<T: Float>(
    gy: &[T],
    g: &Conv2dGeom,
    o: usize,
    (first, count): (usize, usize),
    gp: &mut [T],
    full: usize,
) {
    let (hp, wp) = padded_plane(g);
    let l = g.oh * g.ow;
    for j in 0..count {
        let n = first + j;
        for oc in 0..o {
            let src = &gy[(n * o + oc) * l..(n * o + oc + 1) * l];
            for (oy, r) in src.chunks_exact(g.ow).enumerate() {
                let at = oc * full + j * hp * wp + oy * wp;
                gp[at..at + g.ow].copy_from_slice(r);
            }
        }
    }
}

/// Stride-1 input gradient without columns: tap `t`'s share of the zero-padded input gradient
/// `(C, positions)`, starting `t`'s offset further on, is the tap's transposed weights
/// `(C, O)` times the output gradient on the padded grid `(O, positions)`; the interior of the
/// padded planes is the result.
fn input_grad_shifted_t<T: Float>(gy: &[T], w: &[T], g: &Conv2dGeom, o: usize) -> Vec<T> {
    let (c, taps, l) = (g.c, g.kh * g.kw, g.oh * g.ow);
    let k = c * taps;
    let (hp, wp) = padded_plane(g);
    let plane = hp * wp;
    let img_in = c * g.h * g.w;
    let mut dx = vec![T::ZERO; g.n * img_in];
    let per = images_per_task(g.n);
    let gs = images_per_product(l, per);
    let full = shifted_rows(g, gs);
    pool::chunks_mut(&mut dx, per * img_in, |t, part| {
        // the padded gradient of a group: (C, gs·plane), channel-major over the group
        let mut dxp = vec![T::ZERO; c * gs * plane];
        let mut gp = vec![T::ZERO; o * full];
        let first = t * per;
        for grp in groups(first..first + part.len() / img_in, gs) {
            let rows = shifted_rows(g, grp.len());
            gradient_on_grid(gy, g, o, (grp.start, grp.len()), &mut gp, full);
            dxp.fill(T::ZERO);
            for ki in 0..g.kh {
                for kj in 0..g.kw {
                    let tap = ki * g.kw + kj;
                    let off = ki * g.dh * wp + kj * g.dw;
                    gemm_into(
                        [c, rows, o],
                        &mut dxp[off..],
                        gs * plane,
                        (&w[tap..], Strides { rs: taps, cs: k }),
                        (&gp, Strides::rows(full)),
                        true,
                    );
                }
            }
            for (j, n) in grp.enumerate() {
                let dxn = &mut part[(n - first) * img_in..(n - first + 1) * img_in];
                for (ci, plane_out) in dxn.chunks_exact_mut(g.h * g.w).enumerate() {
                    for (iy, r) in plane_out.chunks_exact_mut(g.w).enumerate() {
                        let at = ci * gs * plane + j * plane + (iy + g.ph) * wp + g.pw;
                        r.copy_from_slice(&dxp[at..at + g.w]);
                    }
                }
            }
        }
    });
    dx
}

/// The geometry of the stride-1 input gradient seen as a forward convolution: the output
/// gradient `(N, O, oh, ow)` convolved, with padding `d·(k − 1) − p`, by the weight flipped in
/// both kernel dims with its channel axes swapped, gives `(N, C, H, W)`. `None` when the
/// padding would be negative or neither Winograd nor the shifted products would pay there.
fn input_grad_as_forward(g: &Conv2dGeom, o: usize) -> Option<Conv2dGeom> {
    let (sh, sw) = (g.dh * (g.kh.checked_sub(1)?), g.dw * (g.kw.checked_sub(1)?));
    let gf = Conv2dGeom {
        c: o,
        h: g.oh,
        w: g.ow,
        ph: sh.checked_sub(g.ph)?,
        pw: sw.checked_sub(g.pw)?,
        oh: g.h,
        ow: g.w,
        ..*g
    };
    // the forward convolution's output must be the input exactly: a transposed convolution's
    // output_padding leaves extra rows and columns past the last window, which this symmetric
    // padding does not reach (the column path handles them)
    let exact = g.oh + 2 * gf.ph == g.h + sh && g.ow + 2 * gf.pw == g.w + sw;
    (exact
        && g.sh == 1
        && g.sw == 1
        && (super::winograd::winograd_fits(&gf, g.c) || use_shifted(&gf)))
    .then_some(gf)
}

/// The input gradient as the forward convolution [`input_grad_as_forward`] describes: the same
/// few deep products as the forward pass (depth kw·O per kernel row) instead of one shallow
/// product (depth O) per tap.
fn input_grad_forward_t<T: Float>(gy: &[T], w: &[T], gf: &Conv2dGeom, c: usize) -> Vec<T> {
    let (o, taps) = (gf.c, gf.kh * gf.kw);
    // w (O, C, kh, kw) → wf (C, O, kh, kw) flipped in both kernel dims
    let mut wf = vec![T::ZERO; c * o * taps];
    for oc in 0..o {
        for ci in 0..c {
            let src = &w[(oc * c + ci) * taps..(oc * c + ci + 1) * taps];
            let dst = &mut wf[(ci * o + oc) * taps..(ci * o + oc + 1) * taps];
            for (t, v) in src.iter().enumerate() {
                dst[taps - 1 - t] = *v;
            }
        }
    }
    forward(gy, &wf, None, gf, c)
}

fn input_grad_t<T: Float>(gy: &[T], w: &[T], g: &Conv2dGeom, o: usize) -> Vec<T> {
    let (k, l) = (g.c * g.kh * g.kw, g.oh * g.ow);
    let img_in = g.c * g.h * g.w;
    let mut dx = vec![T::ZERO; g.n * img_in];
    let per = images_per_task(g.n);
    let gs = images_per_product(l, per);
    pool::chunks_mut(&mut dx, per * img_in, |t, part| {
        let mut cols = vec![T::ZERO; k * gs * l];
        let mut gcat = if gs > 1 {
            vec![T::ZERO; o * gs * l]
        } else {
            Vec::new()
        };
        let first = t * per;
        for grp in groups(first..first + part.len() / img_in, gs) {
            let rows = grp.len() * l;
            let gn: &[T] = if gs > 1 {
                gather_images(gy, grp.start, grp.len(), o, l, &mut gcat);
                &gcat[..o * rows]
            } else {
                &gy[grp.start * o * l..grp.end * o * l]
            };
            // channel-major columns of the group: (K, G·L)
            gemm_into(
                [k, rows, o],
                &mut cols,
                rows,
                (w, Strides::transposed(k)),
                (gn, Strides::rows(rows)),
                false,
            );
            for (j, n) in grp.enumerate() {
                let dxn = &mut part[(n - first) * img_in..(n - first + 1) * img_in];
                super::simd::wide(|| col2im_image(&cols[j * l..], rows, g, dxn));
            }
        }
    });
    dx
}

/// Checks that every task's column buffer can be allocated: a `MemoryError` naming the op for
/// an impossible size (e.g. a huge kernel over a large image), never an abort inside a task.
fn reserve_columns(g: &Conv2dGeom, dtype: crate::dtype::DType, op: &str) -> Result<()> {
    let per = images_per_task(g.n);
    let tasks = g.n.div_ceil(per);
    let count = [
        tasks,
        images_per_product(g.col_cols(), per),
        g.col_rows(),
        g.col_cols(),
    ]
    .iter()
    .try_fold(1usize, |a, &b| a.checked_mul(b))
    .unwrap_or(usize::MAX);
    crate::backend::reserve(count, dtype, crate::device::Device::Cpu, op)
}

fn check(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::Shape(format!(
            "conv2d: {what} holds {got} elements, expected {want}"
        )));
    }
    Ok(())
}

macro_rules! typed {
    ($op:literal, ($($s:ident),*) => |$($v:ident),*| $body:expr) => {
        match ($($s),*) {
            ($(CpuStorage::F32($v)),*) => CpuStorage::F32($body),
            ($(CpuStorage::F64($v)),*) => CpuStorage::F64($body),
            _ => {
                return Err(Error::DType(format!(
                    concat!($op, ": expected floating tensors of one dtype")
                )))
            }
        }
    };
}

/// Convolution of `x (N, C, H, W)` (read through `lx`) with a dense weight `(O, C·kh·kw)` plus
/// an optional dense bias `(O)`, into `(N, O, oh, ow)`.
pub fn conv2d_images(
    x: &CpuStorage,
    lx: &Layout,
    w: &CpuStorage,
    bias: Option<&CpuStorage>,
    g: &Conv2dGeom,
    o: usize,
) -> Result<CpuStorage> {
    check("the input", lx.numel(), g.n * g.c * g.h * g.w)?;
    check("the weight", w.len(), o * g.col_rows())?;
    if let Some(b) = bias {
        check("the bias", b.len(), o)?;
    }
    reserve_columns(g, x.dtype(), "conv2d (columns of each image)")?;
    Ok(match bias {
        None => typed!("conv2d", (x, w) => |xv, wv| forward(&view_slice(xv, lx), wv, None, g, o)),
        Some(b) => typed!("conv2d", (x, w, b) => |xv, wv, bv| {
            forward(&view_slice(xv, lx), wv, Some(bv), g, o)
        }),
    })
}

/// The weight gradient `(O, C·kh·kw)` of [`conv2d_images`] from the input and the output
/// gradient.
pub fn conv2d_images_weight_grad(
    x: &CpuStorage,
    lx: &Layout,
    gout: &CpuStorage,
    lg: &Layout,
    g: &Conv2dGeom,
    o: usize,
) -> Result<CpuStorage> {
    check("the input", lx.numel(), g.n * g.c * g.h * g.w)?;
    check("the output gradient", lg.numel(), g.n * o * g.oh * g.ow)?;
    reserve_columns(g, x.dtype(), "conv2d backward (columns of each image)")?;
    Ok(typed!("conv2d backward", (x, gout) => |xv, gv| {
        let (x, gy) = (view_slice(xv, lx), view_slice(gv, lg));
        let winograd = super::winograd::winograd_fits(g, o);
        if let Some(dw) = winograd.then(|| super::winograd::weight_grad(&x, &gy, g, o)).flatten() {
            dw
        } else if use_shifted(g) {
            weight_grad_shifted_t(&x, &gy, g, o)
        } else {
            weight_grad_t(&x, &gy, g, o)
        }
    }))
}

/// The input gradient `(N, C, H, W)` of [`conv2d_images`] from the output gradient and the
/// dense weight.
pub fn conv2d_images_input_grad(
    gout: &CpuStorage,
    lg: &Layout,
    w: &CpuStorage,
    g: &Conv2dGeom,
    o: usize,
) -> Result<CpuStorage> {
    check("the output gradient", lg.numel(), g.n * o * g.oh * g.ow)?;
    check("the weight", w.len(), o * g.col_rows())?;
    reserve_columns(g, gout.dtype(), "conv2d backward (columns of each image)")?;
    let as_forward = input_grad_as_forward(g, o);
    Ok(typed!("conv2d backward", (gout, w) => |gv, wv| {
        if let Some(gf) = &as_forward {
            input_grad_forward_t(&view_slice(gv, lg), wv, gf, g.c)
        } else if use_shifted(g) {
            input_grad_shifted_t(&view_slice(gv, lg), wv, g, o)
        } else {
            input_grad_t(&view_slice(gv, lg), wv, g, o)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition of the convolution, for checking the per-image path.
    fn reference(x: &[f64], w: &[f64], g: &Conv2dGeom, o: usize) -> Vec<f64> {
        let mut y = vec![0.0; g.n * o * g.oh * g.ow];
        for n in 0..g.n {
            for oc in 0..o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut s = 0.0;
                        for c in 0..g.c {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                                    let ix = (ox * g.sw + kj * g.dw) as isize - g.pw as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xi =
                                        ((n * g.c + c) * g.h + iy as usize) * g.w + ix as usize;
                                    let wi = ((oc * g.c + c) * g.kh + ki) * g.kw + kj;
                                    s += x[xi] * w[wi];
                                }
                            }
                        }
                        y[((n * o + oc) * g.oh + oy) * g.ow + ox] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn tile_transpose_covers_full_tiles_and_ragged_edges() {
        for &(rows, cols) in &[(16, 8), (19, 21), (3, 17), (8, 5), (0, 4)] {
            let (src_rs, dst_rs) = (cols + 3, rows + 2);
            let src: Vec<f32> = (0..rows * src_rs).map(|v| v as f32).collect();
            let add: Vec<f32> = (0..cols).map(|j| 1000.0 * j as f32).collect();
            let mut dst = vec![-1.0f32; cols * dst_rs];
            transpose_into((&src, src_rs), (&mut dst, dst_rs), rows, cols, Some(&add));
            for j in 0..cols {
                for i in 0..dst_rs {
                    let want = if i < rows {
                        src[i * src_rs + j] + add[j]
                    } else {
                        -1.0
                    };
                    assert_eq!(dst[j * dst_rs + i], want, "{rows}x{cols} at ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn matches_the_definition_with_stride_padding_dilation() {
        let (h, w, kh, kw) = (7usize, 6usize, 3usize, 2usize);
        for &(sh, sw, ph, pw, dh, dw) in &[
            (1, 1, 1, 1, 1, 1),
            (2, 3, 0, 1, 1, 2),
            (1, 2, 2, 0, 2, 1),
            (3, 1, 3, 2, 1, 1),
            (1, 1, 0, 0, 1, 1),
            (1, 1, 2, 3, 2, 1),
        ] {
            let oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
            let ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
            let g = Conv2dGeom {
                n: 3,
                c: 2,
                h,
                w,
                kh,
                kw,
                sh,
                sw,
                ph,
                pw,
                dh,
                dw,
                oh,
                ow,
            };
            let o = 4;
            let x: Vec<f64> = (0..g.n * g.c * h * w)
                .map(|i| ((i * 7) % 11) as f64 - 5.0)
                .collect();
            let wt: Vec<f64> = (0..o * g.col_rows())
                .map(|i| ((i * 5) % 7) as f64 - 3.0)
                .collect();
            let y = forward_t(&x, &wt, None, &g, o);
            let want = reference(&x, &wt, &g, o);
            assert_eq!(y, want, "forward {sh} {sw} {ph} {pw} {dh} {dw}");
            if sh == 1 && sw == 1 {
                assert_eq!(
                    forward_shifted_t(&x, &wt, None, &g, o),
                    want,
                    "shifted forward {ph} {pw} {dh} {dw}"
                );
                let b: Vec<f64> = (0..o).map(|i| i as f64 - 1.5).collect();
                assert_eq!(
                    forward_shifted_t(&x, &wt, Some(&b), &g, o),
                    forward_t(&x, &wt, Some(&b), &g, o),
                    "shifted forward with bias {ph} {pw} {dh} {dw}"
                );
            }
            // <conv(x), gy> is linear in x and in w: the gradients satisfy the adjoint identity
            let gy: Vec<f64> = (0..y.len()).map(|i| ((i * 3) % 5) as f64 - 2.0).collect();
            let dx = input_grad_t(&gy, &wt, &g, o);
            if sh == 1 && sw == 1 {
                assert_eq!(
                    input_grad_shifted_t(&gy, &wt, &g, o),
                    dx,
                    "shifted input gradient {ph} {pw} {dh} {dw}"
                );
            }
            let dwt = weight_grad_t(&x, &gy, &g, o);
            if sh == 1 && sw == 1 {
                assert_eq!(
                    weight_grad_shifted_t(&x, &gy, &g, o),
                    dwt,
                    "shifted weight gradient {ph} {pw} {dh} {dw}"
                );
            }
            let lhs: f64 = y.iter().zip(&gy).map(|(a, b)| a * b).sum();
            let via_x: f64 = dx.iter().zip(&x).map(|(a, b)| a * b).sum();
            let via_w: f64 = dwt.iter().zip(&wt).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, via_x);
            assert_eq!(lhs, via_w);
        }
    }
}
