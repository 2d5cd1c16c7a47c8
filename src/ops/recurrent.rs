//! Fused recurrent layers: one layer direction of RNN (tanh / relu), LSTM or GRU over a whole
//! sequence as ONE autograd node, with PyTorch's equations and gate order.
//!
//! On the CPU the forward and BPTT are host kernels (`backend::cpu::recurrent`): the input
//! projection of all steps is one product, only the recurrent product walks the steps, the
//! weight gradients are one product each over all steps. The node's output is one flat tensor
//! `[output | h_n | c_n]`; the three results are views of it, so the whole layer direction is
//! a single recorded op. On other devices the same algorithm is composed from Tensor ops (a few
//! elementwise kernels per step, no host readback).

use crate::autograd::NoGradGuard;
use crate::backend::cpu::recurrent::{rnn_backward, rnn_forward, RnnHost, RnnTape};
use crate::backend::cpu::IntoStorage;
pub use crate::backend::{RnnDims as Dims, RnnMode};
use crate::device::Device;
use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::storage::CpuStorage;
use crate::tensor::Tensor;

/// The name of a layer's graph node.
fn node_name(mode: RnnMode) -> &'static str {
    match mode {
        RnnMode::RnnTanh | RnnMode::RnnRelu => "RnnLayer",
        RnnMode::Lstm => "LstmLayer",
        RnnMode::Gru => "GruLayer",
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

/// A layer node's inputs in the order x, h0, c0, w_ih, w_hh, b_ih, b_hh: the present ones,
/// which of the seven are present, and which need a gradient.
struct NodeInputs<'a> {
    inputs: Vec<&'a Tensor>,
    present: Vec<bool>,
    need: Vec<bool>,
}

fn node_inputs<'a>(x: &'a Tensor, p: &RnnParams<'a>) -> NodeInputs<'a> {
    let ins = [
        Some(x),
        p.h0,
        p.c0,
        Some(p.w_ih),
        Some(p.w_hh),
        p.b_ih,
        p.b_hh,
    ];
    NodeInputs {
        inputs: ins.iter().flatten().copied().collect(),
        present: ins.iter().map(Option::is_some).collect(),
        need: ins
            .iter()
            .map(|t| t.is_some_and(|t| t.requires_grad()))
            .collect(),
    }
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
    /// `rnn_layer` composed from Tensor ops (the GPU path), on any device; for tests.
    pub fn rnn_layer_composed(&self, p: &RnnParams) -> Result<RnnOutput> {
        let d = check(self, p)?;
        rnn_device(self, p, d)
    }

    /// One recurrent layer direction over `self` `(L, N, H_in)`, as one autograd node.
    pub fn rnn_layer(&self, p: &RnnParams) -> Result<RnnOutput> {
        let d = check(self, p)?;
        if self.device() != Device::Cpu {
            return rnn_device(self, p, d);
        }
        match self.dtype() {
            DType::F32 => rnn_cpu::<f32>(self, p, d),
            _ => rnn_cpu::<f64>(self, p, d),
        }
    }
}

fn step_time(k: usize, l: usize, reverse: bool) -> usize {
    if reverse {
        l - 1 - k
    } else {
        k
    }
}

/// What the CPU node keeps: host copies of its operands and the forward tape.
struct CpuSaved<T> {
    mode: RnnMode,
    dims: Dims,
    reverse: bool,
    x: Vec<T>,
    w_ih: Vec<T>,
    w_hh: Vec<T>,
    lens: Vec<usize>,
    tape: RnnTape<T>,
}

impl<T> CpuSaved<T> {
    fn operands(&self) -> RnnHost<'_, T> {
        RnnHost {
            mode: self.mode,
            dims: self.dims,
            x: &self.x,
            w_ih: &self.w_ih,
            w_hh: &self.w_hh,
            reverse: self.reverse,
            lens: &self.lens,
        }
    }
}

fn rnn_cpu<T: Elem>(x: &Tensor, p: &RnnParams, d: Dims) -> Result<RnnOutput> {
    let Dims { l, n, i, h, .. } = d;
    let lstm = p.mode == RnnMode::Lstm;
    let opt = |t: Option<&Tensor>| t.map(host::<T>).transpose();
    let (b_ih, b_hh, h0, c0) = (opt(p.b_ih)?, opt(p.b_hh)?, opt(p.h0)?, opt(p.c0)?);
    let mut s = CpuSaved {
        mode: p.mode,
        dims: d,
        reverse: p.reverse,
        x: host::<T>(x)?,
        w_ih: host::<T>(p.w_ih)?,
        w_hh: host::<T>(p.w_hh)?,
        lens: p.lengths.map_or_else(|| vec![l; n], |v| v.to_vec()),
        tape: RnnTape::default(),
    };
    let (packed, tape) = crate::backend::guard("rnn_layer", || {
        Ok(rnn_forward(
            &s.operands(),
            b_ih.as_deref(),
            b_hh.as_deref(),
            h0.as_deref(),
            c0.as_deref(),
        ))
    })?;
    s.tape = tape;
    let (lnh, nh) = (l * n * h, n * h);
    let total = packed.len();
    let storage = crate::storage::Storage::Cpu(T::into_storage(packed));
    let NodeInputs {
        inputs,
        present,
        need,
    } = node_inputs(x, p);
    let saved = [x, p.w_ih, p.w_hh];
    let need: [bool; 7] = need.try_into().expect("seven node inputs");
    let gh = d.g * h;
    let packed = Tensor::from_op(
        storage,
        &[total],
        node_name(p.mode),
        &inputs,
        &saved,
        move |gr| {
            let gv = host::<T>(gr)?;
            let grads = crate::backend::guard("rnn_layer backward", || {
                Ok(rnn_backward(&s.operands(), &s.tape, &gv, need))
            })?;
            let shapes: [&[usize]; 7] = [
                &[l, n, i],
                &[n, h],
                &[n, h],
                &[gh, i],
                &[gh, h],
                &[gh],
                &[gh],
            ];
            grads
                .into_iter()
                .zip(shapes)
                .zip(&present)
                .filter(|(_, p)| **p)
                .map(|((g, shape), _)| g.map(|v| tensor(v, shape)).transpose())
                .collect()
        },
    );
    let output = packed.narrow(0, 0, lnh)?.reshape(&[l, n, h])?;
    let h_n = packed.narrow(0, lnh, nh)?.reshape(&[n, h])?;
    let c_n = if lstm {
        Some(packed.narrow(0, lnh + nh, nh)?.reshape(&[n, h])?)
    } else {
        None
    };
    Ok(RnnOutput { output, h_n, c_n })
}

/// `1 - t`
fn one_minus(t: &Tensor) -> Result<Tensor> {
    t.neg()?.add_scalar(1.0)
}

/// Columns `[q·h, (q+1)·h)` of a `(N, G·H)` tensor.
fn block(t: &Tensor, q: usize, h: usize) -> Result<Tensor> {
    t.narrow(1, q * h, h)
}

/// What the device path keeps per step (time order).
struct DevStep {
    hprev: Tensor,
    /// activated gates `(N, G·H)` (GRU: r, z, n)
    gates: Tensor,
    cprev: Option<Tensor>,
    tanh_c: Option<Tensor>,
    hn: Option<Tensor>,
}

/// The device path: the same algorithm composed from Tensor ops (each step's gate math a few
/// elementwise kernels), so GPU tensors never come back to the host; one recorded node.
fn rnn_device(x: &Tensor, p: &RnnParams, d: Dims) -> Result<RnnOutput> {
    let Dims { l, n, i, h, g } = d;
    let gh = g * h;
    let mode = p.mode;
    let lstm = mode == RnnMode::Lstm;
    let dev = x.device();
    let dt = x.dtype();
    let xd = x.detach();
    let wih = p.w_ih.detach();
    let whh = p.w_hh.detach();
    let ng = NoGradGuard::new();
    let mut xp = xd.reshape(&[l * n, i])?.matmul(&wih.t()?)?;
    if let Some(b) = p.b_ih {
        xp = xp.add(&b.detach())?;
    }
    let xp = xp.reshape(&[l, n, gh])?;
    let wht = whh.t()?;
    let bhh = p.b_hh.map(|b| b.detach());
    // per step (N, 1) masks of the elements still running, one transfer
    let masks: Option<Vec<Tensor>> = match p.lengths {
        Some(lens) => {
            let v: Vec<f64> = (0..l)
                .flat_map(|t| lens.iter().map(move |&lb| if t < lb { 1.0 } else { 0.0 }))
                .collect();
            let m = Tensor::from_f64(v, &[l, n, 1])?
                .to_dtype(dt)?
                .to_device(dev)?;
            Some(
                (0..l)
                    .map(|t| m.select(0, t as isize))
                    .collect::<Result<_>>()?,
            )
        }
        None => None,
    };
    let mut hs = match p.h0 {
        Some(t) => t.detach(),
        None => Tensor::zeros(&[n, h], dt, dev)?,
    };
    let mut cs = match (lstm, p.c0) {
        (true, Some(t)) => Some(t.detach()),
        (true, None) => Some(Tensor::zeros(&[n, h], dt, dev)?),
        _ => None,
    };
    let mut steps: Vec<Option<DevStep>> = (0..l).map(|_| None).collect();
    let mut outs: Vec<Option<Tensor>> = vec![None; l];
    for k in 0..l {
        let t = step_time(k, l, p.reverse);
        let mut hh = hs.matmul(&wht)?;
        if let Some(b) = &bhh {
            hh = hh.add(b)?;
        }
        let xt = xp.select(0, t as isize)?;
        let (gates, hnew, cnew, tanh_c, hn) = match mode {
            RnnMode::RnnTanh | RnnMode::RnnRelu => {
                let a = xt.add(&hh)?;
                let v = if mode == RnnMode::RnnTanh {
                    a.tanh()?
                } else {
                    a.relu()?
                };
                (v.clone(), v, None, None, None)
            }
            RnnMode::Lstm => {
                let a = xt.add(&hh)?;
                let ig = block(&a, 0, h)?.sigmoid()?;
                let fg = block(&a, 1, h)?.sigmoid()?;
                let gg = block(&a, 2, h)?.tanh()?;
                let og = block(&a, 3, h)?.sigmoid()?;
                let c = fg
                    .mul(cs.as_ref().expect("lstm state"))?
                    .add(&ig.mul(&gg)?)?;
                let tc = c.tanh()?;
                let hv = og.mul(&tc)?;
                let gates = Tensor::cat(&[ig, fg, gg, og], 1)?;
                (gates, hv, Some(c), Some(tc), None)
            }
            RnnMode::Gru => {
                let r = block(&xt, 0, h)?.add(&block(&hh, 0, h)?)?.sigmoid()?;
                let z = block(&xt, 1, h)?.add(&block(&hh, 1, h)?)?.sigmoid()?;
                let hn = block(&hh, 2, h)?;
                let nn = block(&xt, 2, h)?.add(&r.mul(&hn)?)?.tanh()?;
                let hv = one_minus(&z)?.mul(&nn)?.add(&z.mul(&hs)?)?;
                let gates = Tensor::cat(&[r, z, nn], 1)?;
                (gates, hv, None, None, Some(hn.contiguous()?))
            }
        };
        let cprev = cs.clone();
        let hprev = hs.clone();
        match &masks {
            Some(ms) => {
                let m = &ms[t];
                // state = old + m·(new − old); output rows of finished elements are zero
                hs = hprev.add(&m.mul(&hnew.sub(&hprev)?)?)?;
                if let (Some(cn), Some(cp)) = (&cnew, &cprev) {
                    cs = Some(cp.add(&m.mul(&cn.sub(cp)?)?)?);
                }
                outs[t] = Some(m.mul(&hnew)?);
            }
            None => {
                hs = hnew.clone();
                if cnew.is_some() {
                    cs = cnew;
                }
                outs[t] = Some(hnew);
            }
        }
        steps[t] = Some(DevStep {
            hprev,
            gates,
            cprev,
            tanh_c,
            hn,
        });
    }
    let outs: Vec<Tensor> = outs.into_iter().flatten().collect();
    let mut parts = vec![
        Tensor::cat(&outs, 0)?.reshape(&[l * n * h])?,
        hs.reshape(&[n * h])?,
    ];
    if let Some(c) = &cs {
        parts.push(c.reshape(&[n * h])?);
    }
    let packed = Tensor::cat(&parts, 0)?;
    drop(ng);
    let steps: Vec<DevStep> = steps.into_iter().flatten().collect();
    let NodeInputs {
        inputs,
        present,
        need,
    } = node_inputs(x, p);
    let saved = [x, p.w_ih, p.w_hh];
    let reverse = p.reverse;
    let name = node_name(mode);
    let total = packed.numel();
    let packed = packed.with_rule(name, &inputs, &saved, move |gr| {
        let _ng = NoGradGuard::new();
        let (lnh, nh) = (l * n * h, n * h);
        let gout = gr.narrow(0, 0, lnh)?.reshape(&[l, n, h])?;
        let mut dh = gr.narrow(0, lnh, nh)?.reshape(&[n, h])?;
        let mut dc = if lstm {
            Some(gr.narrow(0, lnh + nh, nh)?.reshape(&[n, h])?)
        } else {
            None
        };
        let mut dgx: Vec<Option<Tensor>> = vec![None; l];
        let mut dgh: Vec<Option<Tensor>> = vec![None; l];
        for k in (0..l).rev() {
            let t = step_time(k, l, reverse);
            let s = &steps[t];
            let m = masks.as_ref().map(|ms| &ms[t]);
            let mask = |v: Tensor| -> Result<Tensor> {
                match m {
                    Some(m) => v.mul(m),
                    None => Ok(v),
                }
            };
            // the active part of this step's incoming gradients
            let dht = mask(dh.add(&gout.select(0, t as isize)?)?)?;
            let keep = |old: &Tensor| -> Result<Option<Tensor>> {
                match m {
                    Some(m) => Ok(Some(old.mul(&one_minus(m)?)?)),
                    None => Ok(None),
                }
            };
            let keep_h = keep(&dh)?;
            let (gx, ghh, direct) = match mode {
                RnnMode::RnnTanh => {
                    let gs = &s.gates;
                    let v = dht.mul(&one_minus(&gs.mul(gs)?)?)?;
                    (v.clone(), v, None)
                }
                RnnMode::RnnRelu => {
                    let v = dht.mul(&s.gates.unary(crate::backend::UnaryOp::Sign)?)?;
                    (v.clone(), v, None)
                }
                RnnMode::Lstm => {
                    let gs = &s.gates;
                    let (ig, fg, gg, og) = (
                        block(gs, 0, h)?,
                        block(gs, 1, h)?,
                        block(gs, 2, h)?,
                        block(gs, 3, h)?,
                    );
                    let tc = s.tanh_c.as_ref().expect("lstm tape");
                    let cp = s.cprev.as_ref().expect("lstm tape");
                    let dcin = dc.as_ref().expect("lstm grad");
                    let dct =
                        mask(dcin.clone())?.add(&dht.mul(&og)?.mul(&one_minus(&tc.mul(tc)?)?)?)?;
                    let sd = |a: &Tensor| -> Result<Tensor> { a.mul(&one_minus(a)?) };
                    let di = dct.mul(&gg)?.mul(&sd(&ig)?)?;
                    let df = dct.mul(cp)?.mul(&sd(&fg)?)?;
                    let dg = dct.mul(&ig)?.mul(&one_minus(&gg.mul(&gg)?)?)?;
                    let dout = dht.mul(tc)?.mul(&sd(&og)?)?;
                    let newdc = dct.mul(&fg)?;
                    dc = Some(match keep(dcin)? {
                        Some(kc) => kc.add(&newdc)?,
                        None => newdc,
                    });
                    let v = Tensor::cat(&[di, df, dg, dout], 1)?;
                    (v.clone(), v, None)
                }
                RnnMode::Gru => {
                    let gs = &s.gates;
                    let (r, z, nn) = (block(gs, 0, h)?, block(gs, 1, h)?, block(gs, 2, h)?);
                    let hn = s.hn.as_ref().expect("gru tape");
                    let dn = dht.mul(&one_minus(&z)?)?;
                    let dz = dht.mul(&s.hprev.sub(&nn)?)?;
                    let dan = dn.mul(&one_minus(&nn.mul(&nn)?)?)?;
                    let dar = dan.mul(hn)?.mul(&r.mul(&one_minus(&r)?)?)?;
                    let daz = dz.mul(&z.mul(&one_minus(&z)?)?)?;
                    let gx = Tensor::cat(&[dar.clone(), daz.clone(), dan.clone()], 1)?;
                    let ghh = Tensor::cat(&[dar, daz, dan.mul(&r)?], 1)?;
                    (gx, ghh, Some(dht.mul(&z)?))
                }
            };
            let mut ndh = ghh.matmul(&whh)?;
            if let Some(dd) = direct {
                ndh = ndh.add(&dd)?;
            }
            if let Some(kh) = keep_h {
                ndh = ndh.add(&kh)?;
            }
            dh = ndh;
            dgx[t] = Some(gx);
            dgh[t] = Some(ghh);
        }
        let dgx = Tensor::cat(&dgx.into_iter().flatten().collect::<Vec<_>>(), 0)?;
        let dgh = Tensor::cat(&dgh.into_iter().flatten().collect::<Vec<_>>(), 0)?;
        let gx = if need[0] {
            Some(dgx.matmul(&wih)?.reshape(&[l, n, i])?)
        } else {
            None
        };
        let gh0 = if need[1] { Some(dh) } else { None };
        let gc0 = if need[2] { dc } else { None };
        let gwih = if need[3] {
            Some(dgx.t()?.matmul(&xd.reshape(&[l * n, i])?)?)
        } else {
            None
        };
        let gwhh = if need[4] {
            let hp: Vec<Tensor> = steps.iter().map(|s| s.hprev.clone()).collect();
            Some(dgh.t()?.matmul(&Tensor::cat(&hp, 0)?)?)
        } else {
            None
        };
        let gbih = if need[5] {
            Some(dgx.sum(&[0], false)?)
        } else {
            None
        };
        let gbhh = if need[6] {
            Some(dgh.sum(&[0], false)?)
        } else {
            None
        };
        Ok([gx, gh0, gc0, gwih, gwhh, gbih, gbhh]
            .into_iter()
            .zip(&present)
            .filter(|(_, p)| **p)
            .map(|(g, _)| g)
            .collect())
    });
    debug_assert_eq!(packed.numel(), total);
    let (lnh, nh) = (l * n * h, n * h);
    let output = packed.narrow(0, 0, lnh)?.reshape(&[l, n, h])?;
    let h_n = packed.narrow(0, lnh, nh)?.reshape(&[n, h])?;
    let c_n = if lstm {
        Some(packed.narrow(0, lnh + nh, nh)?.reshape(&[n, h])?)
    } else {
        None
    };
    Ok(RnnOutput { output, h_n, c_n })
}
