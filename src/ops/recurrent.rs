//! Fused recurrent layers: one layer direction of RNN (tanh / relu), LSTM or GRU over a whole
//! sequence as ONE autograd node, with PyTorch's equations and gate order.
//!
//! Forward: the input projection of every step is one product `(L·N, H_in) @ W_ihᵀ`; only the
//! recurrent product `(N, H) @ W_hhᵀ` walks the steps, and each step's gate math is one fused
//! host pass over `(N, G·H)`. The gate activations (and the previous states) are kept for
//! backward, which walks the steps in reverse (BPTT) and then forms the weight gradients with one
//! product over all steps each: `dW_ih = dGᵀ X`, `dW_hh = dGᵀ H_prev`, `dx = dG W_ih`.
//!
//! The node's output is one flat tensor `[output | h_n | c_n]`; the three results are views of it,
//! so the whole layer direction is a single recorded op. GPU tensors are computed on the host
//! (a transfer each way, differentiable) — the fused kernel is CPU only for now.

use crate::autograd::NoGradGuard;
use crate::backend::cpu::IntoStorage;
use crate::device::Device;
use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::storage::CpuStorage;
use crate::tensor::Tensor;

/// The cell of a recurrent layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RnnMode {
    RnnTanh,
    RnnRelu,
    Lstm,
    Gru,
}

impl RnnMode {
    /// `"RNN_TANH"`, `"RNN_RELU"`, `"LSTM"`, `"GRU"` (any case).
    pub fn parse(s: &str) -> Result<RnnMode> {
        match s.to_ascii_uppercase().as_str() {
            "RNN_TANH" | "TANH" => Ok(RnnMode::RnnTanh),
            "RNN_RELU" | "RELU" => Ok(RnnMode::RnnRelu),
            "LSTM" => Ok(RnnMode::Lstm),
            "GRU" => Ok(RnnMode::Gru),
            _ => Err(Error::Value(format!(
                "rnn_layer: unknown mode {s:?} (expected RNN_TANH, RNN_RELU, LSTM or GRU)"
            ))),
        }
    }

    /// Gates per hidden unit: the row blocks of `W_ih` / `W_hh`.
    pub fn gates(self) -> usize {
        match self {
            RnnMode::RnnTanh | RnnMode::RnnRelu => 1,
            RnnMode::Lstm => 4,
            RnnMode::Gru => 3,
        }
    }
}

/// Everything but the input of one recurrent layer direction.
#[derive(Clone, Copy)]
pub struct RnnParams<'a> {
    pub mode: RnnMode,
    /// `(N, H)`; zeros when absent
    pub h0: Option<&'a Tensor>,
    /// `(N, H)`, LSTM only; zeros when absent
    pub c0: Option<&'a Tensor>,
    /// `(G·H, H_in)`
    pub w_ih: &'a Tensor,
    /// `(G·H, H)`
    pub w_hh: &'a Tensor,
    /// `(G·H)`
    pub b_ih: Option<&'a Tensor>,
    /// `(G·H)`
    pub b_hh: Option<&'a Tensor>,
    /// walk the sequence from its end (the reverse direction of a bidirectional layer)
    pub reverse: bool,
    /// per batch element, the number of valid steps (1..=L); all L when absent
    pub lengths: Option<&'a [usize]>,
}

/// `output (L, N, H)`, `h_n (N, H)` and, for LSTM, `c_n (N, H)`.
pub struct RnnOutput {
    pub output: Tensor,
    pub h_n: Tensor,
    pub c_n: Option<Tensor>,
}

/// The host element types of the fused kernel.
trait Elem: Float + IntoStorage {
    fn take(c: CpuStorage) -> Vec<Self>;
}
impl Elem for f32 {
    fn take(c: CpuStorage) -> Vec<f32> {
        match c {
            CpuStorage::F32(v) => v,
            c => (0..c.len()).map(|i| c.get_f64(i) as f32).collect(),
        }
    }
}
impl Elem for f64 {
    fn take(c: CpuStorage) -> Vec<f64> {
        match c {
            CpuStorage::F64(v) => v,
            c => (0..c.len()).map(|i| c.get_f64(i)).collect(),
        }
    }
}

fn host<T: Elem>(t: &Tensor) -> Result<Vec<T>> {
    Ok(T::take(t.to_cpu_storage()?))
}

fn tensor<T: Elem>(v: Vec<T>, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_cpu(T::into_storage(v), shape)
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

/// Sizes of a checked call.
#[derive(Clone, Copy)]
struct Dims {
    l: usize,
    n: usize,
    i: usize,
    h: usize,
    g: usize,
}

fn check(x: &Tensor, p: &RnnParams) -> Result<Dims> {
    let op = "rnn_layer";
    let bad = |m: String| Err(Error::Value(format!("{op}: {m}")));
    if x.ndim() != 3 {
        return bad(format!(
            "expected input of shape (L, N, H_in), got shape {:?}",
            x.shape()
        ));
    }
    let (l, n, i) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    if l == 0 {
        return bad(format!(
            "expected a non-empty sequence, got input of shape {:?}",
            x.shape()
        ));
    }
    let g = p.mode.gates();
    if p.w_hh.ndim() != 2 || p.w_hh.shape()[0] != g * p.w_hh.shape()[1] {
        return bad(format!(
            "expected weight_hh of shape ({g}*H, H), got shape {:?}",
            p.w_hh.shape()
        ));
    }
    let h = p.w_hh.shape()[1];
    if p.w_ih.shape() != [g * h, i] {
        return bad(format!(
            "expected weight_ih of shape ({}, {i}) for input of shape {:?} and hidden size {h}, got shape {:?}",
            g * h,
            x.shape(),
            p.w_ih.shape()
        ));
    }
    for (name, b) in [("bias_ih", p.b_ih), ("bias_hh", p.b_hh)] {
        if let Some(b) = b {
            if b.shape() != [g * h] {
                return bad(format!(
                    "expected {name} of shape ({},), got shape {:?}",
                    g * h,
                    b.shape()
                ));
            }
        }
    }
    if p.c0.is_some() && p.mode != RnnMode::Lstm {
        return bad(format!("c0 is only used by LSTM, not {:?}", p.mode));
    }
    for (name, s) in [("h0", p.h0), ("c0", p.c0)] {
        if let Some(s) = s {
            if s.shape() != [n, h] {
                return bad(format!(
                    "expected {name} of shape ({n}, {h}) for input of shape {:?}, got shape {:?}",
                    x.shape(),
                    s.shape()
                ));
            }
        }
    }
    if let Some(lens) = p.lengths {
        if lens.len() != n {
            return bad(format!(
                "expected {n} lengths for input of shape {:?}, got {}",
                x.shape(),
                lens.len()
            ));
        }
        if let Some(&b) = lens.iter().find(|&&v| v == 0 || v > l) {
            return bad(format!(
                "lengths must be in 1..={l} for input of shape {:?}, got {b}",
                x.shape()
            ));
        }
    }
    let all: Vec<&Tensor> = [
        Some(x),
        p.h0,
        p.c0,
        Some(p.w_ih),
        Some(p.w_hh),
        p.b_ih,
        p.b_hh,
    ]
    .into_iter()
    .flatten()
    .collect();
    for t in &all {
        if !matches!(t.dtype(), DType::F32 | DType::F64) || t.dtype() != x.dtype() {
            return Err(Error::DType(format!(
                "{op}: expected all tensors float32 or float64 of one dtype, got {} (shape {:?}) with input {}",
                t.dtype(),
                t.shape(),
                x.dtype()
            )));
        }
        crate::error::same_device(op, x.device(), t.device())?;
    }
    Ok(Dims { l, n, i, h, g })
}

impl Tensor {
    /// One recurrent layer direction over `self` `(L, N, H_in)`, as one autograd node.
    pub fn rnn_layer(&self, p: &RnnParams) -> Result<RnnOutput> {
        let d = check(self, p)?;
        let dev = self.device();
        if dev != Device::Cpu {
            let c = |t: Option<&Tensor>| t.map(|t| t.to_device(Device::Cpu)).transpose();
            let (x, h0, c0) = (self.to_device(Device::Cpu)?, c(p.h0)?, c(p.c0)?);
            let (wi, wh) = (
                p.w_ih.to_device(Device::Cpu)?,
                p.w_hh.to_device(Device::Cpu)?,
            );
            let (bi, bh) = (c(p.b_ih)?, c(p.b_hh)?);
            let q = RnnParams {
                h0: h0.as_ref(),
                c0: c0.as_ref(),
                w_ih: &wi,
                w_hh: &wh,
                b_ih: bi.as_ref(),
                b_hh: bh.as_ref(),
                ..*p
            };
            let r = x.rnn_layer(&q)?;
            return Ok(RnnOutput {
                output: r.output.to_device(dev)?,
                h_n: r.h_n.to_device(dev)?,
                c_n: r.c_n.map(|c| c.to_device(dev)).transpose()?,
            });
        }
        match self.dtype() {
            DType::F32 => rnn_cpu::<f32>(self, p, d),
            _ => rnn_cpu::<f64>(self, p, d),
        }
    }
}

/// What forward keeps for backward (host copies, indexed by time step).
struct Tape<T> {
    /// state before each step `(L, N, H)`
    hprev: Vec<T>,
    /// gate activations `(L, N, G·H)`
    gates: Vec<T>,
    /// LSTM: cell before each step and tanh of the cell after it `(L, N, H)`
    cprev: Vec<T>,
    tanh_c: Vec<T>,
    /// GRU: `W_hn h + b_hn` of each step `(L, N, H)`
    hn: Vec<T>,
}

fn step_time(k: usize, l: usize, reverse: bool) -> usize {
    if reverse {
        l - 1 - k
    } else {
        k
    }
}

fn rnn_cpu<T: Elem>(x: &Tensor, p: &RnnParams, d: Dims) -> Result<RnnOutput> {
    let Dims { l, n, i, h, g } = d;
    let gh = g * h;
    let mode = p.mode;
    let lens: Vec<usize> = p.lengths.map_or_else(|| vec![l; n], |v| v.to_vec());
    let xd = x.detach();
    let wih = p.w_ih.detach();
    let whh = p.w_hh.detach();
    let (xp, wht) = {
        let _ng = NoGradGuard::new();
        let xp = xd.reshape(&[l * n, i])?.matmul(&wih.t()?)?;
        (host::<T>(&xp)?, whh.t()?.contiguous()?)
    };
    let bih: Option<Vec<T>> = p.b_ih.map(host::<T>).transpose()?;
    let bhh: Option<Vec<T>> = p.b_hh.map(host::<T>).transpose()?;
    let mut xp = xp;
    if let Some(b) = &bih {
        for row in xp.chunks_mut(gh.max(1)) {
            for (v, bb) in row.iter_mut().zip(b) {
                *v += *bb;
            }
        }
    }
    let mut hs: Vec<T> = match p.h0 {
        Some(t) => host(t)?,
        None => vec![T::ZERO; n * h],
    };
    let mut cs: Vec<T> = match (mode, p.c0) {
        (RnnMode::Lstm, Some(t)) => host(t)?,
        (RnnMode::Lstm, None) => vec![T::ZERO; n * h],
        _ => Vec::new(),
    };
    let lstm = mode == RnnMode::Lstm;
    let gru = mode == RnnMode::Gru;
    let mut tape = Tape {
        hprev: vec![T::ZERO; l * n * h],
        gates: vec![T::ZERO; l * n * gh],
        cprev: if lstm {
            vec![T::ZERO; l * n * h]
        } else {
            Vec::new()
        },
        tanh_c: if lstm {
            vec![T::ZERO; l * n * h]
        } else {
            Vec::new()
        },
        hn: if gru {
            vec![T::ZERO; l * n * h]
        } else {
            Vec::new()
        },
    };
    let mut out = vec![T::ZERO; l * n * h];
    for k in 0..l {
        let t = step_time(k, l, p.reverse);
        let mut hh: Vec<T> = if h > 0 {
            let _ng = NoGradGuard::new();
            host(&tensor(hs.clone(), &[n, h])?.matmul(&wht)?)?
        } else {
            vec![T::ZERO; n * gh]
        };
        if let Some(b) = &bhh {
            for row in hh.chunks_mut(gh.max(1)) {
                for (v, bb) in row.iter_mut().zip(b) {
                    *v += *bb;
                }
            }
        }
        let sh = t * n * h;
        tape.hprev[sh..sh + n * h].copy_from_slice(&hs);
        if lstm {
            tape.cprev[sh..sh + n * h].copy_from_slice(&cs);
        }
        for b in 0..n {
            if t >= lens[b] {
                continue;
            }
            let xr = &xp[(t * n + b) * gh..(t * n + b + 1) * gh];
            let hr = &hh[b * gh..(b + 1) * gh];
            let gr = &mut tape.gates[(t * n + b) * gh..(t * n + b + 1) * gh];
            let hb = &mut hs[b * h..(b + 1) * h];
            let o = sh + b * h;
            // pre-activations (the GRU's n block: its input part only)
            let sum_to = if gru { 2 * h } else { gh };
            for ((v, a), c) in gr[..sum_to].iter_mut().zip(xr).zip(hr) {
                *v = *a + *c;
            }
            match mode {
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
                RnnMode::Lstm => {
                    let cb = &mut cs[b * h..(b + 1) * h];
                    let (ifg, rest) = gr.split_at_mut(2 * h);
                    let (gg, og) = rest.split_at_mut(h);
                    for v in ifg.iter_mut().chain(og.iter_mut()) {
                        *v = sigmoid(*v);
                    }
                    for v in gg.iter_mut() {
                        *v = tanh_fast(*v);
                    }
                    let (ig, fg) = ifg.split_at(h);
                    let tcs = &mut tape.tanh_c[o..o + h];
                    for j in 0..h {
                        let c = fg[j] * cb[j] + ig[j] * gg[j];
                        cb[j] = c;
                        tcs[j] = tanh_fast(c);
                        hb[j] = og[j] * tcs[j];
                    }
                }
                RnnMode::Gru => {
                    let (rz, ng) = gr.split_at_mut(2 * h);
                    for v in rz.iter_mut() {
                        *v = sigmoid(*v);
                    }
                    let hns = &mut tape.hn[o..o + h];
                    hns.copy_from_slice(&hr[2 * h..]);
                    let (r, z) = rz.split_at(h);
                    for j in 0..h {
                        let nn = tanh_fast(xr[2 * h + j] + r[j] * hns[j]);
                        ng[j] = nn;
                        hb[j] = (T::ONE - z[j]) * nn + z[j] * hb[j];
                    }
                }
            }
            out[o..o + h].copy_from_slice(hb);
        }
    }
    // one flat result [output | h_n | c_n], viewed as the three outputs
    let (lnh, nh) = (l * n * h, n * h);
    let mut packed = out;
    packed.extend_from_slice(&hs);
    if lstm {
        packed.extend_from_slice(&cs);
    }
    let total = packed.len();
    let storage = crate::storage::Storage::Cpu(T::into_storage(packed));
    let ins: [Option<&Tensor>; 7] = [
        Some(x),
        p.h0,
        p.c0,
        Some(p.w_ih),
        Some(p.w_hh),
        p.b_ih,
        p.b_hh,
    ];
    let inputs: Vec<&Tensor> = ins.iter().flatten().copied().collect();
    let present: Vec<bool> = ins.iter().map(Option::is_some).collect();
    let need: Vec<bool> = ins
        .iter()
        .map(|t| t.is_some_and(|t| t.requires_grad()))
        .collect();
    let saved = [x, p.w_ih, p.w_hh];
    let reverse = p.reverse;
    let name = match mode {
        RnnMode::RnnTanh | RnnMode::RnnRelu => "RnnLayer",
        RnnMode::Lstm => "LstmLayer",
        RnnMode::Gru => "GruLayer",
    };
    let whh_bw = whh.clone();
    let packed = Tensor::from_op(storage, &[total], name, &inputs, &saved, move |gr| {
        let grads = backward::<T>(
            mode, d, reverse, &lens, &tape, &xd, &wih, &whh_bw, gr, &need,
        )?;
        Ok(grads
            .into_iter()
            .zip(&present)
            .filter(|(_, p)| **p)
            .map(|(g, _)| g)
            .collect())
    });
    let output = packed.narrow(0, 0, lnh)?.reshape(&[l, n, h])?;
    let h_n = packed.narrow(0, lnh, nh)?.reshape(&[n, h])?;
    let c_n = if lstm {
        Some(packed.narrow(0, lnh + nh, nh)?.reshape(&[n, h])?)
    } else {
        None
    };
    Ok(RnnOutput { output, h_n, c_n })
}

/// BPTT: gradients for `[x, h0, c0, w_ih, w_hh, b_ih, b_hh]` (`None` where not needed).
#[allow(clippy::too_many_arguments)]
fn backward<T: Elem>(
    mode: RnnMode,
    d: Dims,
    reverse: bool,
    lens: &[usize],
    tape: &Tape<T>,
    x: &Tensor,
    wih: &Tensor,
    whh: &Tensor,
    gr: &Tensor,
    need: &[bool],
) -> Result<Vec<Option<Tensor>>> {
    let _ng = NoGradGuard::new();
    let Dims { l, n, i, h, g } = d;
    let gh = g * h;
    let (lnh, nh) = (l * n * h, n * h);
    let gv: Vec<T> = host(gr)?;
    let gout = &gv[..lnh];
    let mut dh: Vec<T> = gv[lnh..lnh + nh].to_vec();
    let lstm = mode == RnnMode::Lstm;
    let gru = mode == RnnMode::Gru;
    let mut dc: Vec<T> = if lstm {
        gv[lnh + nh..lnh + 2 * nh].to_vec()
    } else {
        Vec::new()
    };
    let mut dgx = vec![T::ZERO; l * n * gh];
    let mut dgh = if gru {
        vec![T::ZERO; l * n * gh]
    } else {
        Vec::new()
    };
    let mut direct = vec![T::ZERO; nh];
    for k in (0..l).rev() {
        let t = step_time(k, l, reverse);
        let sh = t * n * h;
        for b in 0..n {
            let db = &mut dh[b * h..(b + 1) * h];
            let dr = &mut direct[b * h..(b + 1) * h];
            if t >= lens[b] {
                dr.copy_from_slice(db);
                continue;
            }
            let o = sh + b * h;
            let go = &gout[o..o + h];
            for j in 0..h {
                db[j] += go[j];
            }
            let gs = &tape.gates[(t * n + b) * gh..(t * n + b + 1) * gh];
            let dx = &mut dgx[(t * n + b) * gh..(t * n + b + 1) * gh];
            match mode {
                RnnMode::RnnTanh => {
                    for j in 0..h {
                        dx[j] = db[j] * (T::ONE - gs[j] * gs[j]);
                        dr[j] = T::ZERO;
                    }
                }
                RnnMode::RnnRelu => {
                    for j in 0..h {
                        dx[j] = if gs[j] > T::ZERO { db[j] } else { T::ZERO };
                        dr[j] = T::ZERO;
                    }
                }
                RnnMode::Lstm => {
                    let dcb = &mut dc[b * h..(b + 1) * h];
                    for j in 0..h {
                        let (ig, fg, gg, og) = (gs[j], gs[h + j], gs[2 * h + j], gs[3 * h + j]);
                        let tc = tape.tanh_c[o + j];
                        let cp = tape.cprev[o + j];
                        let dct = dcb[j] + db[j] * og * (T::ONE - tc * tc);
                        dx[j] = dct * gg * ig * (T::ONE - ig);
                        dx[h + j] = dct * cp * fg * (T::ONE - fg);
                        dx[2 * h + j] = dct * ig * (T::ONE - gg * gg);
                        dx[3 * h + j] = db[j] * tc * og * (T::ONE - og);
                        dcb[j] = dct * fg;
                        dr[j] = T::ZERO;
                    }
                }
                RnnMode::Gru => {
                    let dhh = &mut dgh[(t * n + b) * gh..(t * n + b + 1) * gh];
                    for j in 0..h {
                        let (r, z, nn) = (gs[j], gs[h + j], gs[2 * h + j]);
                        let hp = tape.hprev[o + j];
                        let hn = tape.hn[o + j];
                        let dn = db[j] * (T::ONE - z);
                        let dz = db[j] * (hp - nn);
                        let dan = dn * (T::ONE - nn * nn);
                        let dar = dan * hn * r * (T::ONE - r);
                        let daz = dz * z * (T::ONE - z);
                        dx[j] = dar;
                        dx[h + j] = daz;
                        dx[2 * h + j] = dan;
                        dhh[j] = dar;
                        dhh[h + j] = daz;
                        dhh[2 * h + j] = dan * r;
                        dr[j] = db[j] * z;
                    }
                }
            }
        }
        // dh_{t-1} = direct + dG_t @ W_hh (rows of finished elements are zero in dG_t)
        let step = if gru { &dgh } else { &dgx };
        let dgt = step[t * n * gh..(t + 1) * n * gh].to_vec();
        if h > 0 {
            let m = host::<T>(&tensor(dgt, &[n, gh])?.matmul(whh)?)?;
            for ((v, a), b) in dh.iter_mut().zip(&direct).zip(&m) {
                *v = *a + *b;
            }
        } else {
            dh.copy_from_slice(&direct);
        }
    }
    let dgh_all = if gru { dgh } else { dgx.clone() };
    let col_sum = |v: &[T]| -> Result<Tensor> {
        let mut s = vec![T::ZERO; gh];
        for row in v.chunks(gh.max(1)) {
            for (a, b) in s.iter_mut().zip(row) {
                *a += *b;
            }
        }
        tensor(s, &[gh])
    };
    let gx_t = tensor(dgx.clone(), &[l * n, gh])?;
    let gx = if need[0] {
        Some(gx_t.matmul(wih)?.reshape(&[l, n, i])?)
    } else {
        None
    };
    let gh0 = if need[1] {
        Some(tensor(dh, &[n, h])?)
    } else {
        None
    };
    let gc0 = if need[2] {
        Some(tensor(dc, &[n, h])?)
    } else {
        None
    };
    let gwih = if need[3] {
        Some(gx_t.t()?.matmul(&x.reshape(&[l * n, i])?)?)
    } else {
        None
    };
    let gwhh = if need[4] {
        let hp = tensor(tape.hprev.clone(), &[l * n, h])?;
        Some(tensor(dgh_all.clone(), &[l * n, gh])?.t()?.matmul(&hp)?)
    } else {
        None
    };
    let gbih = if need[5] { Some(col_sum(&dgx)?) } else { None };
    let gbhh = if need[6] {
        Some(col_sum(&dgh_all)?)
    } else {
        None
    };
    Ok(vec![gx, gh0, gc0, gwih, gwhh, gbih, gbhh])
}
