//! Host kernels of the fused recurrent layers (RNN tanh / relu, LSTM, GRU with PyTorch's
//! equations and gate order), over plain slices.
//!
//! Forward: the input projection of every step is one product `(L·N, H_in) @ W_ihᵀ` written
//! straight into the gate buffer (biases folded in first); each step then adds the recurrent
//! product `(N, H) @ W_hhᵀ` into its own rows and runs the gate math in place. Batch rows never
//! interact, so the rows are split into one block per thread and each thread walks every step
//! of its block: one fork-join per layer direction, not one per step. The gate activations and
//! the previous states are kept for backward.
//!
//! Backward (BPTT) walks the steps in reverse in the same row blocks (`dh_{t-1} = dG_t W_hh`
//! plus the direct terms, accumulated by one product per step), then forms each weight gradient
//! with one product over all steps: `dW_ih = dGᵀ X`, `dW_hh = dGᵀ H_prev`, `dx = dG W_ih`.

use super::matmul::{gemm_into, par_gemm_into, Strides};
use super::pool::{self, SendPtr};
use super::simd::Isa;
use crate::backend::{RnnCellGradIn, RnnCellIn, RnnDims, RnnMode, RnnStep};
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::storage::CpuStorage;

/// Work (steps · rows · gate columns · hidden) above which the rows are split over threads.
const PAR_WORK: usize = 1 << 20;

/// The operands of one layer direction on the host.
pub struct RnnHost<'a, T> {
    pub mode: RnnMode,
    pub dims: RnnDims,
    /// `(L, N, H_in)`
    pub x: &'a [T],
    /// `(G·H, H_in)`
    pub w_ih: &'a [T],
    /// `(G·H, H)`
    pub w_hh: &'a [T],
    /// walk the sequence from its end
    pub reverse: bool,
    /// per batch row, its number of valid steps (1..=L)
    pub lens: &'a [usize],
}

/// What forward keeps for backward, each `(L, N, ·)` in time order.
pub struct RnnTape<T> {
    /// the state before each step `(L, N, H)`
    hprev: Vec<T>,
    /// gate activations `(L, N, G·H)` (GRU: r, z, n)
    gates: Vec<T>,
    /// LSTM: the cell before each step and tanh of the cell after it
    cprev: Vec<T>,
    tanh_c: Vec<T>,
    /// GRU: `W_hn h + b_hn` of each step
    hn: Vec<T>,
}

impl<T> Default for RnnTape<T> {
    /// An empty tape (nothing recorded yet).
    fn default() -> Self {
        RnnTape {
            hprev: Vec::new(),
            gates: Vec::new(),
            cprev: Vec::new(),
            tanh_c: Vec::new(),
            hn: Vec::new(),
        }
    }
}

/// Gradients of `[x, h0, c0, w_ih, w_hh, b_ih, b_hh]`, each present where asked for.
pub type RnnGrads<T> = [Option<Vec<T>>; 7];

/// Rows `(t, b0..b1)` of an `(·, N, w)` buffer that several tasks write.
#[derive(Clone, Copy)]
struct Rows<T> {
    base: SendPtr<T>,
    len: usize,
    n: usize,
    w: usize,
}

impl<T> Rows<T> {
    fn new(v: &mut [T], n: usize, w: usize) -> Rows<T> {
        Rows {
            base: SendPtr(v.as_mut_ptr()),
            len: v.len(),
            n,
            w,
        }
    }

    /// # Safety
    /// No two slices alive at once may overlap: each task asks only for its own rows, and
    /// the buffer outlives them.
    #[allow(clippy::mut_from_ref)]
    unsafe fn at<'s>(&self, t: usize, b0: usize, b1: usize) -> &'s mut [T] {
        let start = (t * self.n + b0) * self.w;
        let len = (b1 - b0) * self.w;
        assert!(start + len <= self.len, "rnn rows out of range");
        std::slice::from_raw_parts_mut(self.base.get().add(start), len)
    }
}

fn step_time(k: usize, l: usize, reverse: bool) -> usize {
    if reverse {
        l - 1 - k
    } else {
        k
    }
}

/// The row blocks `[b0, b1)` the walk is split into: one per thread when there is enough work.
fn row_blocks(n: usize, work: usize) -> Vec<(usize, usize)> {
    let tasks = if work >= PAR_WORK {
        pool::threads().min(n).max(1)
    } else {
        1
    };
    (0..tasks)
        .map(|t| (t * n / tasks, (t + 1) * n / tasks))
        .collect()
}

/// Runs `f` on every block (in parallel when there are several).
fn for_blocks(blocks: &[(usize, usize)], f: impl Fn(usize, (usize, usize)) + Sync) {
    pool::run(blocks.len(), |ti| f(ti, blocks[ti]));
}

#[inline(always)]
fn sigmoid<T: Float>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp_fast())
}

/// `tanh` through `exp_fast` (vectorises): `sign(x)·(1 − e)/(1 + e)` with `e = exp(−2|x|)`,
/// which neither overflows nor cancels.
#[inline(always)]
fn tanh_fast<T: Float>(x: T) -> T {
    let e = (T::from_f64(-2.0) * x.abs()).exp_fast();
    let t = (T::ONE - e) / (T::ONE + e);
    if x < T::ZERO {
        -t
    } else {
        t
    }
}

/// One LSTM row: `g` holds the pre-activations `[i f g o]` and receives their activations;
/// the cell `c` and state `hout` are updated in place, `tc` receives tanh of the new cell.
#[inline(always)]
fn lstm_row<T: Float>(g: &mut [T], c: &mut [T], hout: &mut [T], tc: &mut [T]) {
    let h = c.len();
    let (ifg, rest) = g.split_at_mut(2 * h);
    let (gg, og) = rest.split_at_mut(h);
    for v in ifg.iter_mut() {
        *v = sigmoid(*v);
    }
    for v in og.iter_mut() {
        *v = sigmoid(*v);
    }
    for v in gg.iter_mut() {
        *v = tanh_fast(*v);
    }
    let (ig, fg) = ifg.split_at(h);
    let (ig, fg, gg, og, hout, tc) = (
        &ig[..h],
        &fg[..h],
        &gg[..h],
        &og[..h],
        &mut hout[..h],
        &mut tc[..h],
    );
    for j in 0..h {
        let cn = fg[j] * c[j] + ig[j] * gg[j];
        c[j] = cn;
        let t = tanh_fast(cn);
        tc[j] = t;
        hout[j] = og[j] * t;
    }
}

/// One GRU row: `g` holds `[x_r + b_r, x_z + b_z, x_n + b_in]` and receives `[r, z, n]`; `hh` is
/// `W_hh h` of the row, `hn` receives `W_hn h + b_hn`, the state `hb` is updated in place.
#[inline(always)]
fn gru_row<T: Float>(g: &mut [T], hh: &[T], b_hn: Option<&[T]>, hn: &mut [T], hb: &mut [T]) {
    let h = hb.len();
    let (rz, ng) = g.split_at_mut(2 * h);
    for (v, a) in rz.iter_mut().zip(&hh[..2 * h]) {
        *v = sigmoid(*v + *a);
    }
    hn.copy_from_slice(&hh[2 * h..3 * h]);
    if let Some(b) = b_hn {
        for (v, bb) in hn.iter_mut().zip(b) {
            *v += *bb;
        }
    }
    let (r, z) = rz.split_at(h);
    let (r, z, ng, hn) = (&r[..h], &z[..h], &mut ng[..h], &hn[..h]);
    for j in 0..h {
        let nn = tanh_fast(ng[j] + r[j] * hn[j]);
        ng[j] = nn;
        hb[j] = (T::ONE - z[j]) * nn + z[j] * hb[j];
    }
}

/// Runs one layer direction: returns `[output (L, N, H) | h_n (N, H) | c_n (N, H), LSTM]` as one
/// buffer, and the tape for [`rnn_backward`]. `h0` / `c0` are `(N, H)` (zeros when absent).
pub fn rnn_forward<T: Float>(
    a: &RnnHost<T>,
    b_ih: Option<&[T]>,
    b_hh: Option<&[T]>,
    h0: Option<&[T]>,
    c0: Option<&[T]>,
) -> (Vec<T>, RnnTape<T>) {
    let RnnDims { l, n, i, h, g } = a.dims;
    let gh = g * h;
    let mode = a.mode;
    let (lstm, gru) = (mode == RnnMode::Lstm, mode == RnnMode::Gru);
    // every bias that is a plain sum joins the input projection (the GRU's b_hn cannot: r scales it)
    let folded = if b_ih.is_none() && b_hh.is_none() {
        None
    } else {
        let mut b = vec![T::ZERO; gh];
        for src in [b_ih, b_hh].into_iter().flatten() {
            for (v, s) in b.iter_mut().zip(src) {
                *v += *s;
            }
        }
        if let (true, Some(bh)) = (gru, b_hh) {
            for (v, s) in b[2 * h..].iter_mut().zip(&bh[2 * h..]) {
                *v = *v - *s;
            }
        }
        Some(b)
    };
    let b_hn = if gru { b_hh.map(|b| &b[2 * h..]) } else { None };
    let mut gates = vec![T::ZERO; l * n * gh];
    if let (Some(b), true) = (&folded, gh > 0) {
        for row in gates.chunks_mut(gh) {
            row.copy_from_slice(b);
        }
    }
    par_gemm_into(
        [l * n, gh, i],
        &mut gates,
        (a.x, Strides::rows(i)),
        (a.w_ih, Strides::transposed(i)),
        folded.is_some(),
    );
    let per_step = |on: bool| {
        if on {
            vec![T::ZERO; l * n * h]
        } else {
            Vec::new()
        }
    };
    let mut tape = RnnTape {
        hprev: per_step(true),
        gates,
        cprev: per_step(lstm),
        tanh_c: per_step(lstm),
        hn: per_step(gru),
    };
    let nh = n * h;
    let mut packed = vec![T::ZERO; l * nh + if lstm { 2 * nh } else { nh }];
    let blocks = row_blocks(n, l * n * gh * h);
    let out = Rows::new(&mut packed, n, h);
    let gates = Rows::new(&mut tape.gates, n, gh);
    let hprev = Rows::new(&mut tape.hprev, n, h);
    let cprev = Rows::new(&mut tape.cprev, n, h);
    let tanh_c = Rows::new(&mut tape.tanh_c, n, h);
    let hn = Rows::new(&mut tape.hn, n, h);
    // W_hhᵀ stored densely `(H, G·H)`, so the per-step product reads its operand in the order
    // the product's kernel packs it
    let mut wt = vec![T::ZERO; gh * h];
    for (j, row) in a.w_hh.chunks(h.max(1)).enumerate().take(gh) {
        for (p, v) in row.iter().enumerate() {
            wt[p * gh + j] = *v;
        }
    }
    let w_hh = (&wt[..], Strides::rows(gh));
    let isa = Isa::detected();
    for_blocks(&blocks, |_, (b0, b1)| {
        let nb = b1 - b0;
        let init = |s: Option<&[T]>| {
            s.map_or_else(|| vec![T::ZERO; nb * h], |v| v[b0 * h..b1 * h].to_vec())
        };
        let mut hs = init(h0);
        let mut cs = if lstm { init(c0) } else { Vec::new() };
        let mut hh = if gru {
            vec![T::ZERO; nb * gh]
        } else {
            Vec::new()
        };
        for k in 0..l {
            let t = step_time(k, l, a.reverse);
            // SAFETY (every `at` in this task): rows b0..b1 belong to this task alone.
            let gt = unsafe { gates.at(t, b0, b1) };
            unsafe { hprev.at(t, b0, b1) }.copy_from_slice(&hs);
            if lstm {
                unsafe { cprev.at(t, b0, b1) }.copy_from_slice(&cs);
            }
            if gru {
                gemm_into(
                    [nb, gh, h],
                    &mut hh,
                    gh,
                    (&hs, Strides::rows(h)),
                    w_hh,
                    false,
                );
            } else {
                gemm_into([nb, gh, h], gt, gh, (&hs, Strides::rows(h)), w_hh, true);
            }
            let ot = unsafe { out.at(t, b0, b1) };
            let tct = if lstm {
                unsafe { tanh_c.at(t, b0, b1) }
            } else {
                &mut []
            };
            let hnt = if gru {
                unsafe { hn.at(t, b0, b1) }
            } else {
                &mut []
            };
            for r in 0..nb {
                if t >= a.lens[b0 + r] {
                    continue;
                }
                let (gr, hb) = (&mut gt[r * gh..(r + 1) * gh], &mut hs[r * h..(r + 1) * h]);
                // each row's gate math compiled for AVX2 where the processor has it
                isa.wide(|| match mode {
                    RnnMode::RnnTanh => {
                        for (v, hv) in gr.iter_mut().zip(hb.iter_mut()) {
                            *v = tanh_fast(*v);
                            *hv = *v;
                        }
                    }
                    RnnMode::RnnRelu => {
                        for (v, hv) in gr.iter_mut().zip(hb.iter_mut()) {
                            *v = v.max_(T::ZERO);
                            *hv = *v;
                        }
                    }
                    RnnMode::Lstm => lstm_row(
                        gr,
                        &mut cs[r * h..(r + 1) * h],
                        hb,
                        &mut tct[r * h..(r + 1) * h],
                    ),
                    RnnMode::Gru => gru_row(
                        gr,
                        &hh[r * gh..(r + 1) * gh],
                        b_hn,
                        &mut hnt[r * h..(r + 1) * h],
                        hb,
                    ),
                });
                ot[r * h..(r + 1) * h].copy_from_slice(hb);
            }
        }
        // h_n and c_n sit right after the output: "steps" l and l + 1 of the same rows
        unsafe { out.at(l, b0, b1) }.copy_from_slice(&hs);
        if lstm {
            unsafe { out.at(l + 1, b0, b1) }.copy_from_slice(&cs);
        }
    });
    (packed, tape)
}

/// BPTT for [`rnn_forward`]: `grad` is the gradient of its packed result; `need` says which of
/// `[x, h0, c0, w_ih, w_hh, b_ih, b_hh]` to return.
pub fn rnn_backward<T: Float>(
    a: &RnnHost<T>,
    tape: &RnnTape<T>,
    grad: &[T],
    need: [bool; 7],
) -> RnnGrads<T> {
    let RnnDims { l, n, i, h, g } = a.dims;
    let gh = g * h;
    let mode = a.mode;
    let (lstm, gru) = (mode == RnnMode::Lstm, mode == RnnMode::Gru);
    let (lnh, nh) = (l * n * h, n * h);
    let mut dgx = vec![T::ZERO; l * n * gh];
    let mut dgh = if gru {
        vec![T::ZERO; l * n * gh]
    } else {
        Vec::new()
    };
    let mut gh0 = vec![T::ZERO; nh];
    let mut gc0 = if lstm { vec![T::ZERO; nh] } else { Vec::new() };
    let blocks = row_blocks(n, l * n * gh * h);
    // per block, its partial column sums of dG (input side, then recurrent side)
    let mut partial = vec![T::ZERO; blocks.len() * 2 * gh];
    let want_bias = need[5] || need[6];
    let isa = Isa::detected();
    {
        let dx_rows = Rows::new(&mut dgx, n, gh);
        let dh_rows = Rows::new(&mut dgh, n, gh);
        let h0_rows = Rows::new(&mut gh0, n, h);
        let c0_rows = Rows::new(&mut gc0, n, h);
        let part_rows = Rows::new(&mut partial, blocks.len(), 2 * gh);
        let gout = &grad[..lnh];
        for_blocks(&blocks, |ti, (b0, b1)| {
            let nb = b1 - b0;
            let mut dh = grad[lnh + b0 * h..lnh + b1 * h].to_vec();
            let mut dc = if lstm {
                grad[lnh + nh + b0 * h..lnh + nh + b1 * h].to_vec()
            } else {
                Vec::new()
            };
            let mut direct = vec![T::ZERO; nb * h];
            // SAFETY (every `at` in this task): rows b0..b1 (and partial row ti) are this task's.
            let sums = unsafe { part_rows.at(0, ti, ti + 1) };
            for k in (0..l).rev() {
                let t = step_time(k, l, a.reverse);
                let dx = unsafe { dx_rows.at(t, b0, b1) };
                let dhh: &mut [T] = if gru {
                    unsafe { dh_rows.at(t, b0, b1) }
                } else {
                    &mut []
                };
                for r in 0..nb {
                    let b = b0 + r;
                    let db = &mut dh[r * h..(r + 1) * h];
                    let dr = &mut direct[r * h..(r + 1) * h];
                    if t >= a.lens[b] {
                        // a finished row: its state passes through this step unchanged
                        dr.copy_from_slice(db);
                        continue;
                    }
                    let o = (t * n + b) * h;
                    for (v, go) in db.iter_mut().zip(&gout[o..o + h]) {
                        *v += *go;
                    }
                    let gs = &tape.gates[(t * n + b) * gh..(t * n + b + 1) * gh];
                    let dxr = &mut dx[r * gh..(r + 1) * gh];
                    isa.wide(|| match mode {
                        RnnMode::RnnTanh => {
                            for j in 0..h {
                                dxr[j] = db[j] * (T::ONE - gs[j] * gs[j]);
                                dr[j] = T::ZERO;
                            }
                        }
                        RnnMode::RnnRelu => {
                            for j in 0..h {
                                dxr[j] = if gs[j] > T::ZERO { db[j] } else { T::ZERO };
                                dr[j] = T::ZERO;
                            }
                        }
                        RnnMode::Lstm => {
                            let dcb = &mut dc[r * h..(r + 1) * h];
                            let (tc, cp) = (&tape.tanh_c[o..o + h], &tape.cprev[o..o + h]);
                            let (ig, rest) = gs.split_at(h);
                            let (fg, rest) = rest.split_at(h);
                            let (gg, og) = rest.split_at(h);
                            let (di, rest) = dxr.split_at_mut(h);
                            let (df, rest) = rest.split_at_mut(h);
                            let (dg, dout) = rest.split_at_mut(h);
                            for j in 0..h {
                                let (iv, fv, gv, ov) = (ig[j], fg[j], gg[j], og[j]);
                                let dct = dcb[j] + db[j] * ov * (T::ONE - tc[j] * tc[j]);
                                di[j] = dct * gv * iv * (T::ONE - iv);
                                df[j] = dct * cp[j] * fv * (T::ONE - fv);
                                dg[j] = dct * iv * (T::ONE - gv * gv);
                                dout[j] = db[j] * tc[j] * ov * (T::ONE - ov);
                                dcb[j] = dct * fv;
                                dr[j] = T::ZERO;
                            }
                        }
                        RnnMode::Gru => {
                            let dhr = &mut dhh[r * gh..(r + 1) * gh];
                            let (hp, hnv) = (&tape.hprev[o..o + h], &tape.hn[o..o + h]);
                            for j in 0..h {
                                let (rv, z, nn) = (gs[j], gs[h + j], gs[2 * h + j]);
                                let dn = db[j] * (T::ONE - z);
                                let dz = db[j] * (hp[j] - nn);
                                let dan = dn * (T::ONE - nn * nn);
                                let dar = dan * hnv[j] * rv * (T::ONE - rv);
                                let daz = dz * z * (T::ONE - z);
                                dxr[j] = dar;
                                dxr[h + j] = daz;
                                dxr[2 * h + j] = dan;
                                dhr[j] = dar;
                                dhr[h + j] = daz;
                                dhr[2 * h + j] = dan * rv;
                                dr[j] = db[j] * z;
                            }
                        }
                    });
                }
                let step: &[T] = if gru { dhh } else { dx };
                if want_bias {
                    let (sx, sh) = sums.split_at_mut(gh);
                    for row in dx.chunks(gh.max(1)) {
                        for (s, v) in sx.iter_mut().zip(row) {
                            *s += *v;
                        }
                    }
                    if gru {
                        for row in step.chunks(gh.max(1)) {
                            for (s, v) in sh.iter_mut().zip(row) {
                                *s += *v;
                            }
                        }
                    }
                }
                // dh_{t-1} = direct + dG_t W_hh (rows of finished elements are zero in dG_t)
                dh.copy_from_slice(&direct);
                gemm_into(
                    [nb, h, gh],
                    &mut dh,
                    h,
                    (step, Strides::rows(gh)),
                    (a.w_hh, Strides::rows(h)),
                    true,
                );
            }
            unsafe { h0_rows.at(0, b0, b1) }.copy_from_slice(&dh);
            if lstm {
                unsafe { c0_rows.at(0, b0, b1) }.copy_from_slice(&dc);
            }
        });
    }
    let dg_h: &[T] = if gru { &dgh } else { &dgx };
    let product = |[m, nn, k]: [usize; 3], lhs, rhs| {
        let mut v = vec![T::ZERO; m * nn];
        par_gemm_into([m, nn, k], &mut v, lhs, rhs, false);
        v
    };
    let gx = need[0].then(|| {
        product(
            [l * n, i, gh],
            (&dgx[..], Strides::rows(gh)),
            (a.w_ih, Strides::rows(i)),
        )
    });
    let gwih = need[3].then(|| {
        product(
            [gh, i, l * n],
            (&dgx[..], Strides::transposed(gh)),
            (a.x, Strides::rows(i)),
        )
    });
    let gwhh = need[4].then(|| {
        product(
            [gh, h, l * n],
            (dg_h, Strides::transposed(gh)),
            (&tape.hprev[..], Strides::rows(h)),
        )
    });
    let col_sum = |side: usize| {
        let mut s = vec![T::ZERO; gh];
        for blk in partial.chunks((2 * gh).max(1)).filter(|c| !c.is_empty()) {
            let src = if gru || side == 0 {
                &blk[side * gh..(side + 1) * gh]
            } else {
                &blk[..gh]
            };
            for (a, b) in s.iter_mut().zip(src) {
                *a += *b;
            }
        }
        s
    };
    let gbih = need[5].then(|| col_sum(0));
    let gbhh = need[6].then(|| col_sum(1));
    [
        gx,
        need[1].then_some(gh0),
        need[2].then_some(gc0),
        gwih,
        gwhh,
        gbih,
        gbhh,
    ]
}

/// Host element types of the step kernels.
trait Host: Float {
    fn of(c: &CpuStorage) -> Option<&[Self]>;
    fn of_mut(c: &mut CpuStorage) -> Option<&mut [Self]>;
}
/// `Host` for the storage variant holding `$t`.
macro_rules! host_slices {
    ($($t:ty => $variant:ident),*) => {
        $(impl Host for $t {
            fn of(c: &CpuStorage) -> Option<&[$t]> {
                match c {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(c: &mut CpuStorage) -> Option<&mut [$t]> {
                match c {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        })*
    };
}
host_slices!(f32 => F32, f64 => F64);

fn dtype_error(op: &str) -> Error {
    Error::DType(format!(
        "{op}: expected every operand float32 or float64 of one dtype"
    ))
}

fn read<'a, T: Host>(c: &'a CpuStorage, op: &str) -> Result<&'a [T]> {
    T::of(c).ok_or_else(|| dtype_error(op))
}

/// Whether batch row `b` still runs at time `t` (lengths as floats at `lens`).
fn running<T: Float>(lens: Option<&[T]>, b: usize, t: usize) -> bool {
    lens.is_none_or(|l| (t as f64) < l[b].to_f64())
}

/// [`crate::backend::Backend::rnn_cell_forward`] on the host (the device algorithm, used by
/// `Tensor::rnn_layer_composed`; `rnn_layer` itself runs [`rnn_forward`] on the CPU).
pub fn cell_forward(
    s: &RnnStep,
    i: RnnCellIn<'_, CpuStorage>,
    state: &mut CpuStorage,
    tape: &mut CpuStorage,
    out: &mut CpuStorage,
) -> Result<()> {
    match state {
        CpuStorage::F32(_) => cell_forward_t::<f32>(s, i, state, tape, out),
        _ => cell_forward_t::<f64>(s, i, state, tape, out),
    }
}

fn cell_forward_t<T: Host>(
    s: &RnnStep,
    i: RnnCellIn<'_, CpuStorage>,
    state: &mut CpuStorage,
    tape: &mut CpuStorage,
    out: &mut CpuStorage,
) -> Result<()> {
    let op = "rnn_layer";
    let rd = |c| read::<T>(c, op);
    let (xp, hh) = (rd(i.xp)?, rd(i.hh)?);
    let consts = i.consts.map(rd).transpose()?;
    let st = T::of_mut(state).ok_or_else(|| dtype_error(op))?;
    let tp = T::of_mut(tape).ok_or_else(|| dtype_error(op))?;
    let o = T::of_mut(out).ok_or_else(|| dtype_error(op))?;
    let (n, h, t) = (s.n, s.h, s.t);
    let gh = s.mode.gates() * h;
    let (nh, tw) = (n * h, s.tape_width());
    let bias = |q: usize, j: usize| match (s.has_bhh, consts) {
        (true, Some(c)) => c[q * h + j],
        _ => T::ZERO,
    };
    let lens = consts
        .filter(|_| s.has_lens)
        .map(|c| &c[s.lens_at..s.lens_at + n]);
    for b in 0..n {
        let active = running(lens, b, t);
        let (xr, hr) = (&xp[(t * n + b) * gh..][..gh], &hh[b * gh..][..gh]);
        let tr = (t * n + b) * tw;
        for j in 0..h {
            let e = b * h + j;
            let hp = st[s.slot_in * nh + e];
            let a = |q: usize| xr[q * h + j] + hr[q * h + j] + bias(q, j);
            let (hv, cv) = match s.mode {
                RnnMode::RnnTanh | RnnMode::RnnRelu => {
                    let v = if s.mode == RnnMode::RnnTanh {
                        a(0).tanh()
                    } else {
                        a(0).max_(T::ZERO)
                    };
                    tp[tr + j] = v;
                    (v, None)
                }
                RnnMode::Lstm => {
                    let (ig, fg, gg, og) =
                        (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                    let cp = st[s.c_base + s.slot_in * nh + e];
                    let c = fg * cp + ig * gg;
                    let tc = c.tanh();
                    for (q, v) in [ig, fg, gg, og, tc].into_iter().enumerate() {
                        tp[tr + q * h + j] = v;
                    }
                    (og * tc, Some((c, cp)))
                }
                RnnMode::Gru => {
                    let r = sigmoid(a(0));
                    let z = sigmoid(a(1));
                    let hn = hr[2 * h + j] + bias(2, j);
                    let nn = (xr[2 * h + j] + r * hn).tanh();
                    for (q, v) in [r, z, nn, hn].into_iter().enumerate() {
                        tp[tr + q * h + j] = v;
                    }
                    ((T::ONE - z) * nn + z * hp, None)
                }
            };
            st[s.slot_out * nh + e] = if active { hv } else { hp };
            if let Some((c, cp)) = cv {
                st[s.c_base + s.slot_out * nh + e] = if active { c } else { cp };
            }
            o[t * nh + e] = if active { hv } else { T::ZERO };
        }
    }
    Ok(())
}

/// [`crate::backend::Backend::rnn_cell_backward`] on the host.
pub fn cell_backward(
    s: &RnnStep,
    i: RnnCellGradIn<'_, CpuStorage>,
    carry: &mut CpuStorage,
    dg: &mut CpuStorage,
) -> Result<()> {
    match carry {
        CpuStorage::F32(_) => cell_backward_t::<f32>(s, i, carry, dg),
        _ => cell_backward_t::<f64>(s, i, carry, dg),
    }
}

fn cell_backward_t<T: Host>(
    s: &RnnStep,
    i: RnnCellGradIn<'_, CpuStorage>,
    carry: &mut CpuStorage,
    dg: &mut CpuStorage,
) -> Result<()> {
    let op = "rnn_layer backward";
    let rd = |c| read::<T>(c, op);
    let (gout, tape, st) = (rd(i.gout)?, rd(i.tape)?, rd(i.state)?);
    let dhm = i.dhm.map(rd).transpose()?;
    let cy = T::of_mut(carry).ok_or_else(|| dtype_error(op))?;
    let d = T::of_mut(dg).ok_or_else(|| dtype_error(op))?;
    let (n, h, t) = (s.n, s.h, s.t);
    let gh = s.mode.gates() * h;
    let (nh, tw) = (n * h, s.tape_width());
    let lens = s.has_lens.then(|| cy[s.lens_at..s.lens_at + n].to_vec());
    for b in 0..n {
        let active = running(lens.as_deref(), b, t);
        let tr = (t * n + b) * tw;
        let gr = (t * n + b) * gh;
        for j in 0..h {
            let e = b * h + j;
            let mut dh = cy[e] + dhm.map_or(T::ZERO, |m| m[e]);
            if !active {
                // a finished row: its state passes through this step unchanged
                cy[e] = dh;
                for q in 0..s.mode.gates() {
                    d[gr + q * h + j] = T::ZERO;
                    d[s.dgh_at + gr + q * h + j] = T::ZERO;
                }
                continue;
            }
            dh += gout[t * nh + e];
            let g = |q: usize| tape[tr + q * h + j];
            let one = T::ONE;
            match s.mode {
                RnnMode::RnnTanh => {
                    d[gr + j] = dh * (one - g(0) * g(0));
                    cy[e] = T::ZERO;
                }
                RnnMode::RnnRelu => {
                    d[gr + j] = if g(0) > T::ZERO { dh } else { T::ZERO };
                    cy[e] = T::ZERO;
                }
                RnnMode::Lstm => {
                    let (iv, fv, gv, ov, tc) = (g(0), g(1), g(2), g(3), g(4));
                    let cp = st[s.c_base + s.slot_in * nh + e];
                    let dct = cy[nh + e] + dh * ov * (one - tc * tc);
                    d[gr + j] = dct * gv * iv * (one - iv);
                    d[gr + h + j] = dct * cp * fv * (one - fv);
                    d[gr + 2 * h + j] = dct * iv * (one - gv * gv);
                    d[gr + 3 * h + j] = dh * tc * ov * (one - ov);
                    cy[nh + e] = dct * fv;
                    cy[e] = T::ZERO;
                }
                RnnMode::Gru => {
                    let (rv, z, nn, hn) = (g(0), g(1), g(2), g(3));
                    let hp = st[s.slot_in * nh + e];
                    let dan = dh * (one - z) * (one - nn * nn);
                    let dar = dan * hn * rv * (one - rv);
                    let daz = dh * (hp - nn) * z * (one - z);
                    for (q, v) in [dar, daz, dan].into_iter().enumerate() {
                        d[gr + q * h + j] = v;
                    }
                    let gh_at = s.dgh_at + gr;
                    for (q, v) in [dar, daz, dan * rv].into_iter().enumerate() {
                        d[gh_at + q * h + j] = v;
                    }
                    cy[e] = dh * z;
                }
            }
        }
    }
    Ok(())
}
