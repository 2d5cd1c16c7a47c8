//! 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
//! Algorithms for Convolutional Neural Networks", 2016).
//!
//! Every 2×2 block of output positions (a *tile*) is computed from the 4×4 input patch under it
//! with 16 multiplications per (input, output) channel pair instead of 36:
//! `Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A`. The sum over the input channels is, for each
//! of the 16 positions ξ of the transformed tile, one product
//! `M_ξ (O, tiles) = U_ξ (O, C) @ V_ξ (C, tiles)` — 16 products of depth C that together do
//! 4/9 of the arithmetic of the direct convolution. The transforms only add and subtract
//! (and scale the weights by ½), so the result matches the direct sum to a few ulps.
//!
//! The weight gradient runs the transposed algorithm F(3×3, 2×2) over the same transformed
//! input (see [`weight_grad`]); the input gradient is a forward convolution of the output
//! gradient (see `image_conv`), so it takes [`forward`] too.
//!
//! The input is read and the output written in NCHW, a row of tiles at a time, so no
//! channels-last copies are needed. Each thread works through a run of images, several to a
//! product when the images are small, with its own buffers for the transformed tiles. The
//! transforms work on blocks of 8 tiles held in fixed-size arrays, which the compiler keeps in
//! AVX2 registers (the callers run them under `simd::wide`). A row of tiles that does not fill
//! its last block is still transformed 8 at a time: the extra lanes read whatever follows in
//! the scratch buffers (every buffer has a block's worth of slack at its end, and the values
//! there are inputs or zeros: finite), and write past the row into the next row of tiles,
//! which is written afterwards, or into the slack that ends every row of the transformed
//! tiles (`tg` counts it: the products read only the columns before it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::matmul::{gemm_into, Strides};
use super::pool::{self, SendPtr};
use crate::backend::Conv2dGeom;
use crate::dtype::Float;

/// Tiles one product should span at least (below it the gemm's packing of the 16 small
/// products outweighs their arithmetic, so small images go several to a product).
const MIN_TILES: usize = 256;

/// Elements from one transformed position's `(rows, tg)` block to the next: the block plus
/// one cache line, so that the 16 blocks a transform writes (or reads) side by side fall in
/// different sets of the L1 cache (blocks a power of two apart would all share one set).
fn stride16(rows: usize, tg: usize) -> usize {
    rows * tg + 16
}

/// Whether a forward convolution runs as Winograd products: a 3×3 kernel at stride 1 without
/// dilation, with 64 or more channels each side (the transforms cost per channel, the products
/// per pair of channels: with 16 or 32 channels the direct algorithms were faster), on outputs
/// at least 4 rows high and 8 columns wide (4×4 outputs of 512 channels and 7×7 of 256 were
/// faster or no slower direct, on the 2-core AMD EPYC VM). `RUSTDL_CONV_WINOGRAD=0` turns it off
/// (read once per process; for comparing paths).
pub fn winograd_fits(g: &Conv2dGeom, o: usize) -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    let off = *OFF.get_or_init(|| std::env::var("RUSTDL_CONV_WINOGRAD").is_ok_and(|v| v == "0"));
    let tw = g.ow.div_ceil(2);
    !off && g.kh == 3
        && g.kw == 3
        && g.sh == 1
        && g.sw == 1
        && g.dh == 1
        && g.dw == 1
        && g.c >= 64
        && o >= 64
        && g.oh >= 4
        && g.ow >= 8
        && g.oh.div_ceil(2) * tw * (g.c + o) <= MAX_TILE_CHANNELS
}

/// Tiles of one image times the channels each side, at most: a thread's transformed tiles of
/// one image take 16 values per tile and channel (64 MB in f32 at this bound); larger images
/// keep the shifted products, whose buffers hold one copy of the image.
const MAX_TILE_CHANNELS: usize = 1 << 20;

/// The tiling of one image: `th × tw` tiles, read from a zero-padded plane of `hp` rows and
/// 2·`tw` + 2 columns (every patch lies whole inside it).
#[derive(Clone, Copy)]
struct Tiles {
    th: usize,
    tw: usize,
    hp: usize,
}

impl Tiles {
    fn of(g: &Conv2dGeom) -> Tiles {
        let (th, tw) = (g.oh.div_ceil(2), g.ow.div_ceil(2));
        Tiles {
            th,
            tw,
            hp: 2 * th + 2,
        }
    }

    fn per_image(&self) -> usize {
        self.th * self.tw
    }
}

/// How a batch is shared out: runs of `per` images a task, `gs` images a product, and rows of
/// `tg` columns of transformed tiles (a group's `gs · tpi` tiles, then a block of slack).
#[derive(Clone, Copy)]
struct Plan {
    tl: Tiles,
    tpi: usize,
    per: usize,
    gs: usize,
    tg: usize,
}

impl Plan {
    fn of(g: &Conv2dGeom) -> Plan {
        let tl = Tiles::of(g);
        let tpi = tl.per_image();
        let per = g.n.div_ceil(pool::threads().clamp(1, g.n.max(1))).max(1);
        let gs = MIN_TILES.div_ceil(tpi).clamp(1, per);
        Plan {
            tl,
            tpi,
            per,
            gs,
            tg: gs * tpi + L,
        }
    }

    fn tasks(&self, n: usize) -> usize {
        n.div_ceil(self.per)
    }

    /// Task `t`'s images of a batch of `n`, as groups `g0..g1` of at most `gs`.
    fn groups(&self, t: usize, n: usize) -> impl Iterator<Item = (usize, usize)> {
        let (first, last, gs) = (t * self.per, ((t + 1) * self.per).min(n), self.gs);
        (first..last)
            .step_by(gs)
            .map(move |g0| (g0, (g0 + gs).min(last)))
    }

    /// A task's buffers for the input transform: the transformed tiles `(16, C, tg)` (with the
    /// skew of [`stride16`]) and one channel's plane split by column parity, with slack.
    fn input_buffers<T: Float>(&self, c: usize) -> (Vec<T>, Vec<T>, Vec<T>) {
        let split = self.tl.hp * (self.tl.tw + 1) + L;
        let v = vec![T::ZERO; 16 * stride16(c, self.tg)];
        (v, vec![T::ZERO; split], vec![T::ZERO; split])
    }
}

/// `U (16, O, C)`: each weight `g (3, 3)` as `G g Gᵀ`, with
/// `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`.
fn weight_transform<T: Float>(w: &[T], c: usize, o: usize) -> Vec<T> {
    let half = T::from_f64(0.5);
    let spread = |a: T, b: T, d: T| [a, (a + b + d) * half, (a - b + d) * half, d];
    let mut u = vec![T::ZERO; 16 * o * c];
    for (oc, wo) in w.chunks_exact(9 * c).enumerate() {
        for (ci, k) in wo.chunks_exact(9).enumerate() {
            // down the kernel's columns, then along the rows of the result
            let cols: [[T; 4]; 3] = std::array::from_fn(|j| spread(k[j], k[3 + j], k[6 + j]));
            for a in 0..4 {
                let row = spread(cols[0][a], cols[1][a], cols[2][a]);
                for (b, &v) in row.iter().enumerate() {
                    u[((4 * a + b) * o + oc) * c + ci] = v;
                }
            }
        }
    }
    u
}

/// Lanes of the fixed-width blocks the transforms work in (one AVX2 register of f32).
const L: usize = 8;

/// Whether every value is finite and small enough that the transforms' sums of a few values
/// cannot overflow (|v| ≤ 1e30 in f32, 1e300 in f64). Other inputs take the direct
/// algorithms: an infinity that they carry into one output could meet itself with the
/// opposite sign inside a transform and become NaN.
#[inline(always)]
fn tame<T: Float>(s: &[T]) -> bool {
    let limit = T::from_f64(if std::mem::size_of::<T>() == 4 {
        1e30
    } else {
        1e300
    });
    // per lane: the largest |v| so far, NaN once a NaN is seen
    let mut acc = [T::ZERO; L];
    let mut chunks = s.chunks_exact(L);
    let mut take = |i: usize, v: T| {
        let a = v.abs();
        #[allow(clippy::eq_op)]
        let nan = a != a;
        if nan || a > acc[i] {
            acc[i] = a;
        }
    };
    for ch in &mut chunks {
        for (i, &v) in ch.iter().enumerate() {
            take(i, v);
        }
    }
    for (i, &v) in chunks.remainder().iter().enumerate() {
        take(i, v);
    }
    acc.iter().all(|&a| a <= limit)
}

/// `N` consecutive elements of `s` from `at` on.
#[inline(always)]
fn load<T: Float, const N: usize>(s: &[T], at: usize) -> [T; N] {
    let mut r = [T::ZERO; N];
    r.copy_from_slice(&s[at..at + N]);
    r
}

#[inline(always)]
fn add<T: Float, const N: usize>(mut a: [T; N], b: [T; N]) -> [T; N] {
    for i in 0..N {
        a[i] += b[i];
    }
    a
}

#[inline(always)]
fn sub<T: Float, const N: usize>(mut a: [T; N], b: [T; N]) -> [T; N] {
    for i in 0..N {
        a[i] = a[i] - b[i];
    }
    a
}

/// `Bᵀ u B`'s combination `[u0 − u2, u1 + u2, u2 − u1, u1 − u3]` of four values (rows or
/// columns of a patch), each a block of `N` tiles.
#[inline(always)]
fn btb<T: Float, const N: usize>(u: [[T; N]; 4]) -> [[T; N]; 4] {
    [
        sub(u[0], u[2]),
        add(u[1], u[2]),
        sub(u[2], u[1]),
        sub(u[1], u[3]),
    ]
}

/// `src` (2·n long) split into its even elements `ev` and its odd ones `od` (n each), in
/// blocks of `L` pairs.
#[inline(always)]
fn deinterleave<T: Float>(src: &[T], ev: &mut [T], od: &mut [T]) {
    const L2: usize = 2 * L;
    let n = ev.len();
    let (src, od) = (&src[..2 * n], &mut od[..n]);
    let full = n / L * L;
    for j0 in (0..full).step_by(L) {
        let a = load::<T, L2>(src, 2 * j0);
        let (mut e, mut o) = ([T::ZERO; L], [T::ZERO; L]);
        for i in 0..L {
            e[i] = a[2 * i];
            o[i] = a[2 * i + 1];
        }
        ev[j0..j0 + L].copy_from_slice(&e);
        od[j0..j0 + L].copy_from_slice(&o);
    }
    for j in full..n {
        ev[j] = src[2 * j];
        od[j] = src[2 * j + 1];
    }
}

/// Whether the plane is [`tame`]. The padded plane of one channel split by column parity: `even (hp, tw + 1)` holds the
/// padded columns 0, 2, 4, …, `odd` the columns 1, 3, 5, …. Each image row goes through
/// `line` (2·`tw` + 2 long, its padding zero), so that every split starts on an even column;
/// the padding rows stay zero from one channel to the next.
#[inline(always)]
fn split_columns<T: Float>(
    plane: &[T],
    g: &Conv2dGeom,
    tl: Tiles,
    line: &mut [T],
    (even, odd): (&mut [T], &mut [T]),
) -> bool {
    let half = tl.tw + 1;
    let mut ok = true;
    for (iy, row) in plane.chunks_exact(g.w).enumerate() {
        let r = (iy + g.ph) * half;
        line[g.pw..g.pw + g.w].copy_from_slice(row);
        ok &= tame(row);
        deinterleave(line, &mut even[r..r + half], &mut odd[r..r + half]);
    }
    ok
}

/// The transformed tiles `t0 .. t0 + N` of tile row `ty`: 16 blocks, written to `v` at
/// `at(ξ) + t0` (whole blocks, past the end of the row of tiles: see the module notes).
#[inline(always)]
fn input_block<T: Float, const N: usize>(
    (even, odd, half): (&[T], &[T], usize),
    ty: usize,
    t0: usize,
    v: &mut [T],
    at: impl Fn(usize) -> usize,
) {
    // patch row k, column l (a block of N tiles): the even and odd padded columns of tile t
    // and of tile t + 1
    let cell = |k: usize, l: usize| {
        let r = (2 * ty + k) * half + t0 + l / 2;
        load::<T, N>(if l.is_multiple_of(2) { even } else { odd }, r)
    };
    // row a of Bᵀ d is the sum or difference of two rows of the patch; then along it
    let rows: [(usize, usize, bool); 4] =
        [(0, 2, false), (1, 2, true), (2, 1, false), (1, 3, false)];
    for (a, &(p, q, plus)) in rows.iter().enumerate() {
        let mut za = [[T::ZERO; N]; 4];
        for (l, zl) in za.iter_mut().enumerate() {
            *zl = if plus {
                add(cell(p, l), cell(q, l))
            } else {
                sub(cell(p, l), cell(q, l))
            };
        }
        for (b, vb) in btb(za).iter().enumerate() {
            let at = at(4 * a + b) + t0;
            v[at..at + N].copy_from_slice(vb);
        }
    }
}

/// Whether the image is [`tame`]. `V (16, C, ·)`: the transformed tiles of image `x (C, H, W)`, written to columns
/// `col0 ..` of each `(C, tg)` block. `even` and `odd` (`hp × (tw + 1)` each) are scratch.
#[inline(always)]
fn input_transform<T: Float>(
    x: &[T],
    g: &Conv2dGeom,
    tl: Tiles,
    (v, tg, col0): (&mut [T], usize, usize),
    (even, odd): (&mut [T], &mut [T]),
) -> bool {
    let (c, plane) = (g.c, g.h * g.w);
    let mut ok = true;
    let Tiles { th, tw, .. } = tl;
    let half = tw + 1;
    even.fill(T::ZERO);
    odd.fill(T::ZERO);
    let line = &mut vec![T::ZERO; 2 * tw + 2][..];
    for ci in 0..c {
        ok &= split_columns(&x[ci * plane..(ci + 1) * plane], g, tl, line, (even, odd));
        let planes = (&*even, &*odd, half);
        for ty in 0..th {
            let at = |xi: usize| xi * stride16(c, tg) + ci * tg + col0 + ty * tw;
            for t0 in (0..tw).step_by(L) {
                input_block::<T, L>(planes, ty, t0, v, at);
            }
        }
    }
    ok
}

/// Output tiles `t0 .. t0 + N` of tile row `ty` of channel `oc` from `m` (block `ξ` at
/// `at(ξ) + t0`): `Aᵀ m A` with `Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]`, plus `b`, as the two
/// output rows' `2·N` values with even and odd columns interleaved.
#[inline(always)]
fn output_block<T: Float, const N: usize>(
    m: &[T],
    at: impl Fn(usize) -> usize,
    t0: usize,
    b: T,
) -> [[T; N]; 4] {
    let mr = |xi: usize| load::<T, N>(m, at(xi) + t0);
    // along the rows of each transformed tile (s0, s1), then down the columns: the top row
    // sums rows 0..3 of s, the bottom one takes 1 − 2 − 3
    let bias = [b; N];
    let (mut te, mut to, mut be, mut bo) = (bias, bias, bias, bias);
    for a in 0..4 {
        let (m0, m1, m2, m3) = (mr(4 * a), mr(4 * a + 1), mr(4 * a + 2), mr(4 * a + 3));
        let (s0, s1) = (add(add(m0, m1), m2), sub(sub(m1, m2), m3));
        match a {
            0 => (te, to) = (add(te, s0), add(to, s1)),
            1 => (te, to, be, bo) = (add(te, s0), add(to, s1), add(be, s0), add(bo, s1)),
            2 => (te, to, be, bo) = (add(te, s0), add(to, s1), sub(be, s0), sub(bo, s1)),
            _ => (be, bo) = (sub(be, s0), sub(bo, s1)),
        }
    }
    [te, to, be, bo]
}

/// Writes `(even, odd)` interleaved into `dst` from output column `2·t0` on, up to its end.
#[inline(always)]
fn store_interleaved<T: Float, const N: usize>(
    dst: &mut [T],
    t0: usize,
    even: [T; N],
    odd: [T; N],
) {
    let mut both = [[T::ZERO; 2]; N];
    for (i, p) in both.iter_mut().enumerate() {
        *p = [even[i], odd[i]];
    }
    let flat = both.as_flattened();
    let from = 2 * t0;
    if dst.len() - from >= 2 * N {
        dst[from..from + 2 * N].copy_from_slice(flat);
    } else {
        let n = dst.len() - from;
        dst[from..].copy_from_slice(&flat[..n]);
    }
}

/// Image `y (O, oh, ow)` from `M (16, O, ·)` (columns `col0 ..` of each `(O, tg)` block), plus
/// the bias.
#[inline(always)]
fn output_transform<T: Float>(
    (m, tg, col0): (&[T], usize, usize),
    g: &Conv2dGeom,
    o: usize,
    tl: Tiles,
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let Tiles { th, tw, .. } = tl;
    let (l, ow) = (g.oh * g.ow, g.ow);
    for oc in 0..o {
        let b = bias.map_or(T::ZERO, |b| b[oc]);
        let yo = &mut y[oc * l..(oc + 1) * l];
        for ty in 0..th {
            let at = |xi: usize| xi * stride16(o, tg) + oc * tg + col0 + ty * tw;
            let oy = 2 * ty;
            let two = oy + 1 < g.oh;
            let (top, bottom) = yo[oy * ow..].split_at_mut(ow);
            let bottom = &mut bottom[..if two { ow } else { 0 }];
            for t0 in (0..tw).step_by(L) {
                let [te, to, be, bo] = output_block::<T, L>(m, at, t0, b);
                store_interleaved(top, t0, te, to);
                if two {
                    store_interleaved(bottom, t0, be, bo);
                }
            }
        }
    }
}

/// The convolution of `x (N, C, H, W)` with `w (O, C, 3, 3)` plus an optional bias, into
/// `(N, O, oh, ow)`; `g` must pass [`winograd_fits`]. `None` when the input or the weight is
/// not [`tame`].
pub fn forward<T: Float>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeom,
    o: usize,
) -> Option<Vec<T>> {
    if !tame(w) {
        return None;
    }
    let wild = AtomicBool::new(false);
    let c = g.c;
    let plan = Plan::of(g);
    let Plan { tl, tpi, tg, .. } = plan;
    let (img_in, img_out) = (c * g.h * g.w, o * g.oh * g.ow);
    let u = weight_transform(w, c, o);
    let total = g.n * img_out;
    let mut out: Vec<T> = Vec::with_capacity(total);
    let base = SendPtr(out.as_mut_ptr());
    pool::run(plan.tasks(g.n), |t| {
        let (mut v, mut even, mut odd) = plan.input_buffers::<T>(c);
        let mut m = vec![T::ZERO; 16 * stride16(o, tg)];
        for (g0, g1) in plan.groups(t, g.n) {
            let cols = (g1 - g0) * tpi;
            super::simd::wide(
                #[inline(always)]
                || {
                    for n in g0..g1 {
                        let xn = &x[n * img_in..(n + 1) * img_in];
                        let vt = (&mut v[..], tg, (n - g0) * tpi);
                        if !input_transform(xn, g, tl, vt, (&mut even, &mut odd)) {
                            wild.store(true, Ordering::Relaxed);
                        }
                    }
                },
            );
            for xi in 0..16 {
                gemm_into(
                    [o, cols, c],
                    &mut m[xi * stride16(o, tg)..],
                    tg,
                    (&u[xi * o * c..(xi + 1) * o * c], Strides::rows(c)),
                    (&v[xi * stride16(c, tg)..], Strides::rows(tg)),
                    false,
                );
            }
            super::simd::wide(
                #[inline(always)]
                || {
                    for n in g0..g1 {
                        // SAFETY: image `n`'s output block belongs to this task alone, and the
                        // output transform writes every element of it before anything reads it
                        let y = unsafe {
                            std::slice::from_raw_parts_mut(base.get().add(n * img_out), img_out)
                        };
                        let mt = (&m[..], tg, (n - g0) * tpi);
                        output_transform(mt, g, o, tl, bias, y);
                    }
                },
            );
        }
    });
    // SAFETY: the tasks covered every image, and each wrote its whole output block
    unsafe { out.set_len(total) };
    (!wild.into_inner()).then_some(out)
}

/// Whether the gradient is [`tame`]. `H (16, O, ·)`: each 2×2 tile `h` of the output gradient `gy (O, oh, ow)` of one image as
/// `A h Aᵀ` with `A = [[1, 0], [1, 1], [1, −1], [0, −1]]`, written to columns `col0 ..` of each
/// `(O, tg)` block (positions past the last output row or column count as zero). `rows
/// (4, tw)` is scratch.
#[inline(always)]
fn grad_transform<T: Float>(
    gy: &[T],
    g: &Conv2dGeom,
    o: usize,
    tl: Tiles,
    (h, tg, col0): (&mut [T], usize, usize),
    rows: &mut [T],
) -> bool {
    let Tiles { th, tw, .. } = tl;
    let (l, ow) = (g.oh * g.ow, g.ow);
    let mut ok = true;
    rows.fill(T::ZERO);
    for oc in 0..o {
        let plane = &gy[oc * l..(oc + 1) * l];
        for ty in 0..th {
            // the tile row's two output rows, split into even and odd columns
            for p in 0..2 {
                let oy = 2 * ty + p;
                let (ev, od) = rows[2 * p * tw..(2 * p + 2) * tw].split_at_mut(tw);
                if oy < g.oh {
                    let row = &plane[oy * ow..(oy + 1) * ow];
                    ok &= tame(row);
                    let n = ow / 2;
                    deinterleave(&row[..2 * n], &mut ev[..n], &mut od[..n]);
                    if ow % 2 == 1 {
                        ev[n] = row[ow - 1];
                        od[n] = T::ZERO;
                    }
                } else {
                    ev.fill(T::ZERO);
                    od.fill(T::ZERO);
                }
            }
            let at = |xi: usize| xi * stride16(o, tg) + oc * tg + col0 + ty * tw;
            for t0 in (0..tw).step_by(L) {
                grad_block::<T, L>(rows, tw, t0, h, at);
            }
        }
    }
    ok
}

/// `A u` for the two values `u` of a tile's row or column: `[u0, u0 + u1, u0 − u1, −u1]`.
#[inline(always)]
fn a2<T: Float, const N: usize>(u0: [T; N], u1: [T; N]) -> [[T; N]; 4] {
    [u0, add(u0, u1), sub(u0, u1), sub([T::ZERO; N], u1)]
}

/// Tiles `t0 .. t0 + N` of one tile row: `rows` holds the row's even and odd columns of its
/// two output rows (`tw` each, in that order).
#[inline(always)]
fn grad_block<T: Float, const N: usize>(
    rows: &[T],
    tw: usize,
    t0: usize,
    h: &mut [T],
    at: impl Fn(usize) -> usize,
) {
    let r = |k: usize| load::<T, N>(rows, k * tw + t0);
    let (even, odd) = (a2(r(0), r(2)), a2(r(1), r(3)));
    for a in 0..4 {
        for (b, hb) in a2(even[a], odd[a]).iter().enumerate() {
            let at = at(4 * a + b) + t0;
            h[at..at + N].copy_from_slice(hb);
        }
    }
}

/// The weight gradient `(O, C·3·3)` of [`forward`] by Winograd's F(3×3, 2×2), the transpose
/// of the forward algorithm: every 2×2 tile `h` of the output gradient meets the 4×4 input
/// patch `d` under it, and `dW = Gᵀ [ Σ_tiles (A h Aᵀ) ⊙ (Bᵀ d B) ] G` — 16 products
/// `(O, tiles) @ (tiles, C)` whose depth is the number of tiles, over the same transformed
/// input as the forward pass. `g` must pass [`winograd_fits`]. `None` when the input or the
/// output gradient is not [`tame`].
pub fn weight_grad<T: Float>(x: &[T], gy: &[T], g: &Conv2dGeom, o: usize) -> Option<Vec<T>> {
    let wild = AtomicBool::new(false);
    let c = g.c;
    let plan = Plan::of(g);
    let Plan { tl, tpi, tg, .. } = plan;
    let (img_in, img_out) = (c * g.h * g.w, o * g.oh * g.ow);
    let block = 16 * o * c;
    let mut partial = vec![T::ZERO; plan.tasks(g.n) * block];
    pool::chunks_mut(&mut partial, block, |t, acc| {
        let (mut v, mut even, mut odd) = plan.input_buffers::<T>(c);
        let mut hg = vec![T::ZERO; 16 * stride16(o, tg)];
        let mut rows = vec![T::ZERO; 4 * tl.tw + L];
        for (g0, g1) in plan.groups(t, g.n) {
            let cols = (g1 - g0) * tpi;
            super::simd::wide(
                #[inline(always)]
                || {
                    for n in g0..g1 {
                        let col0 = (n - g0) * tpi;
                        let xn = &x[n * img_in..(n + 1) * img_in];
                        let vt = (&mut v[..], tg, col0);
                        let gn = &gy[n * img_out..(n + 1) * img_out];
                        let ht = (&mut hg[..], tg, col0);
                        if !(input_transform(xn, g, tl, vt, (&mut even, &mut odd))
                            & grad_transform(gn, g, o, tl, ht, &mut rows))
                        {
                            wild.store(true, Ordering::Relaxed);
                        }
                    }
                },
            );
            for xi in 0..16 {
                gemm_into(
                    [c, o, cols],
                    &mut acc[xi * o * c..(xi + 1) * o * c],
                    o,
                    (&v[xi * stride16(c, tg)..], Strides::rows(tg)),
                    (&hg[xi * stride16(o, tg)..], Strides::transposed(tg)),
                    true,
                );
            }
        }
    });
    if wild.into_inner() {
        return None;
    }
    let (first, rest) = partial.split_at_mut(block);
    for p in rest.chunks_exact(block) {
        first.iter_mut().zip(p).for_each(|(a, &b)| *a += b);
    }
    // Gᵀ m G for every (O, C) pair: (Gᵀ m)_j = [m0 + ½(m1 + m2), ½(m1 − m2), ½(m1 + m2) + m3]
    let half = T::from_f64(0.5);
    let spread = |m: [T; 4]| {
        let (p, q) = ((m[1] + m[2]) * half, (m[1] - m[2]) * half);
        [m[0] + p, q, p + m[3]]
    };
    let mut dw = vec![T::ZERO; o * c * 9];
    for oc in 0..o {
        for ci in 0..c {
            let m = |a: usize, b: usize| first[((4 * a + b) * c + ci) * o + oc];
            let rows: [[T; 3]; 4] = [0, 1, 2, 3].map(|a| spread([0, 1, 2, 3].map(|b| m(a, b))));
            let k = &mut dw[(oc * c + ci) * 9..(oc * c + ci + 1) * 9];
            for j in 0..3 {
                let col = spread([rows[0][j], rows[1][j], rows[2][j], rows[3][j]]);
                for i in 0..3 {
                    k[3 * i + j] = col[i];
                }
            }
        }
    }
    Some(dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct sum, in f64.
    fn reference(x: &[f64], w: &[f64], b: Option<&[f64]>, g: &Conv2dGeom, o: usize) -> Vec<f64> {
        let mut y = vec![0.0; g.n * o * g.oh * g.ow];
        for n in 0..g.n {
            for oc in 0..o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut acc = b.map_or(0.0, |b| b[oc]);
                        for ci in 0..g.c {
                            for i in 0..3 {
                                for j in 0..3 {
                                    let (iy, ix) = (oy + i, ox + j);
                                    if iy < g.ph || ix < g.pw {
                                        continue;
                                    }
                                    let (iy, ix) = (iy - g.ph, ix - g.pw);
                                    if iy >= g.h || ix >= g.w {
                                        continue;
                                    }
                                    acc += x[((n * g.c + ci) * g.h + iy) * g.w + ix]
                                        * w[((oc * g.c + ci) * 3 + i) * 3 + j];
                                }
                            }
                        }
                        y[((n * o + oc) * g.oh + oy) * g.ow + ox] = acc;
                    }
                }
            }
        }
        y
    }

    fn geom(n: usize, c: usize, h: usize, w: usize, p: usize) -> Conv2dGeom {
        Conv2dGeom {
            n,
            c,
            h,
            w,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            ph: p,
            pw: p,
            dh: 1,
            dw: 1,
            oh: h + 2 * p - 2,
            ow: w + 2 * p - 2,
        }
    }

    #[test]
    fn matches_the_direct_sum_on_odd_and_even_images_and_paddings() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        for &(n, c, h, w, p, o) in &[
            (3, 16, 8, 8, 1, 16),
            (2, 17, 7, 9, 1, 19),
            (5, 16, 5, 6, 0, 16),
            (1, 16, 4, 11, 2, 18),
            (4, 20, 13, 4, 3, 16),
            // several images to a product, rows of 5 tiles: blocks past the row's end
            (6, 64, 5, 9, 1, 64),
        ] {
            let g = geom(n, c, h, w, p);
            let x: Vec<f64> = (0..n * c * h * w).map(|_| next()).collect();
            let wt: Vec<f64> = (0..o * c * 9).map(|_| next()).collect();
            let b: Vec<f64> = (0..o).map(|_| next()).collect();
            let want = reference(&x, &wt, Some(&b), &g, o);
            let got = forward(&x, &wt, Some(&b), &g, o).unwrap();
            assert_eq!(got.len(), want.len());
            for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - e).abs() < 1e-12,
                    "{n} {c} {h} {w} {p} {o} at {i}: {a} vs {e}"
                );
            }
            let gy: Vec<f64> = (0..want.len()).map(|_| next()).collect();
            let dw = weight_grad(&x, &gy, &g, o).unwrap();
            for oc in 0..o {
                for ci in 0..c {
                    for i in 0..3 {
                        for j in 0..3 {
                            let mut e = 0.0;
                            for nn in 0..n {
                                for oy in 0..g.oh {
                                    for ox in 0..g.ow {
                                        let (iy, ix) = (oy + i, ox + j);
                                        if iy < p || ix < p || iy - p >= h || ix - p >= w {
                                            continue;
                                        }
                                        e += gy[((nn * o + oc) * g.oh + oy) * g.ow + ox]
                                            * x[((nn * c + ci) * h + iy - p) * w + ix - p];
                                    }
                                }
                            }
                            let a = dw[((oc * c + ci) * 3 + i) * 3 + j];
                            assert!((a - e).abs() < 1e-11, "dW {n} {c} {h} {w} {p}: {a} vs {e}");
                        }
                    }
                }
            }
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let wf: Vec<f32> = wt.iter().map(|&v| v as f32).collect();
            let got = forward(&xf, &wf, None, &g, o).unwrap();
            let want = reference(&x, &wt, None, &g, o);
            for (a, e) in got.iter().zip(&want) {
                assert!((*a as f64 - e).abs() < 2e-5, "f32 {a} vs {e}");
            }
        }
    }
}
