//! Fused recurrent layers: one layer direction of RNN (tanh / relu), LSTM or GRU over a whole
//! sequence as ONE autograd node, with PyTorch's equations and gate order.
//!
//! On the CPU the forward and BPTT are host kernels (`backend::cpu::recurrent`): the input
//! projection of all steps is one product, only the recurrent product walks the steps, the
//! weight gradients are one product each over all steps. The node's output is one flat tensor
//! `[output | h_n | c_n]`; the three results are views of it, so the whole layer direction is
//! a single recorded op. On other devices the same algorithm runs as one recurrent product and
//! one fused cell kernel per step and direction (`Backend::rnn_cell_forward` /
//! `rnn_cell_backward`), with no host readback.

use crate::autograd::NoGradGuard;
use crate::backend::cpu::recurrent::{rnn_backward, rnn_forward, RnnHost, RnnTape};
use crate::backend::cpu::IntoStorage;
use crate::backend::{self, RnnCellGradIn, RnnCellIn, RnnStep};
pub use crate::backend::{RnnDims as Dims, RnnMode};
use crate::device::Device;
use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::shape::Layout;
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
    /// the flat tensor the three are views of (`output`, `h_n`, `c_n` one after another): its
    /// history is the layer's node
    pub packed: Tensor,
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
        reserve_working_set(d, self.dtype(), self.device(), "rnn_layer")?;
        if self.device() != Device::Cpu {
            return rnn_device(self, p, d);
        }
        match self.dtype() {
            DType::F32 => rnn_cpu::<f32>(self, p, d),
            _ => rnn_cpu::<f64>(self, p, d),
        }
    }
}

/// A `MemoryError` (not an abort) when one pass of a layer direction cannot get its buffers:
/// per step and batch row the input, the gates and their gradients, and a few state vectors.
fn reserve_working_set(d: Dims, dtype: DType, device: Device, op: &str) -> Result<()> {
    let per_row = d.g.checked_mul(d.h).and_then(|gh| {
        gh.checked_mul(2)?
            .checked_add(d.i)?
            .checked_add(d.h.checked_mul(5)?)
    });
    let n = per_row
        .and_then(|r| r.checked_mul(d.l)?.checked_mul(d.n))
        .unwrap_or(usize::MAX);
    crate::backend::reserve(n, dtype, device, op)
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
            reserve_working_set(d, gr.dtype(), Device::Cpu, "rnn_layer backward")?;
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
    Ok(RnnOutput {
        output,
        h_n,
        c_n,
        packed,
    })
}

/// The `(rows, cols)` row-major view at `offset` of a flat storage.
fn rows_at(rows: usize, cols: usize, offset: usize) -> Layout {
    Layout {
        shape: vec![rows, cols],
        strides: vec![cols, 1],
        offset,
    }
}

/// `t` when its storage holds it densely from element 0, else a dense copy.
fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.layout().offset == 0 {
        return Ok(t.clone());
    }
    let s = backend::copy(&t.storage(), t.layout())?;
    Ok(Tensor::from_contiguous(s, t.shape()))
}

/// A fresh flat tensor holding `parts` one after another (each flattened).
fn packed(parts: &[&Tensor], dt: DType, dev: Device) -> Result<Tensor> {
    let total = parts.iter().map(|p| p.numel()).sum();
    let out = Tensor::zeros(&[total], dt, dev)?;
    {
        let mut o = out.storage_mut();
        let mut at = 0;
        for p in parts {
            let dst = Layout {
                shape: p.shape().to_vec(),
                strides: crate::shape::contiguous_strides(p.shape()),
                offset: at,
            };
            backend::assign(&mut o, &dst, &p.storage(), p.layout())?;
            at += p.numel();
        }
    }
    Ok(out)
}

/// The device path: the same algorithm as the CPU kernels, each step one product
/// `h W_hhᵀ` and one fused cell kernel forward (`Backend::rnn_cell_forward`), one cell kernel
/// and one product `dG_h W_hh` backward, so GPU tensors never come back to the host; one
/// recorded node. The states live in one buffer of `L + 1` slots in time order (forward: slot
/// `t` before step `t`, slot `t + 1` after it; reverse: the other way round), so the states
/// before each step are one contiguous view for the weight gradient. Layouts in [`RnnStep`].
fn rnn_device(x: &Tensor, p: &RnnParams, d: Dims) -> Result<RnnOutput> {
    let Dims { l, n, i, h, g } = d;
    let gh = g * h;
    let (nh, lnh) = (n * h, l * n * h);
    let mode = p.mode;
    let (lstm, gru) = (mode == RnnMode::Lstm, mode == RnnMode::Gru);
    let reverse = p.reverse;
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
    let xp = dense(&xp)?;
    let lens = match p.lengths {
        Some(v) => Some(
            Tensor::from_f64(v.iter().map(|&b| b as f64).collect(), &[n])?
                .to_dtype(dt)?
                .to_device(dev)?,
        ),
        None => None,
    };
    let bhh = p.b_hh.map(|b| b.detach());
    let const_parts: Vec<&Tensor> = bhh.iter().chain(lens.iter()).collect();
    let consts = if const_parts.is_empty() {
        None
    } else {
        Some(packed(&const_parts, dt, dev)?)
    };
    let base = RnnStep {
        mode,
        n,
        h,
        t: 0,
        slot_in: 0,
        slot_out: 0,
        c_base: (l + 1) * nh,
        has_bhh: bhh.is_some(),
        has_lens: lens.is_some(),
        lens_at: if bhh.is_some() { gh } else { 0 },
        has_dhm: false,
        dgh_at: if gru { l * n * gh } else { 0 },
    };
    // (slot read, slot written) at time t
    let slots = move |t: usize| if reverse { (t + 1, t) } else { (t, t + 1) };
    let (first, last) = if reverse { (l, 0) } else { (0, l) };
    let state = Tensor::zeros(&[(l + 1) * nh * if lstm { 2 } else { 1 }], dt, dev)?;
    let tape = Tensor::zeros(&[l * n * base.tape_width()], dt, dev)?;
    let total = lnh + if lstm { 2 * nh } else { nh };
    let out = Tensor::zeros(&[total], dt, dev)?;
    {
        let mut st = state.storage_mut();
        let mut tp = tape.storage_mut();
        let mut o = out.storage_mut();
        for (s0, at) in [(p.h0, 0), (p.c0, base.c_base)] {
            if let Some(s0) = s0 {
                let dst = rows_at(n, h, at + first * nh);
                backend::assign(&mut st, &dst, &s0.storage(), s0.layout())?;
            }
        }
        let xs = xp.storage();
        let cs = consts.as_ref().map(|c| c.storage());
        let ws = whh.storage();
        let wt = whh.layout().permute(&[1, 0]);
        for k in 0..l {
            let t = step_time(k, l, reverse);
            let (slot_in, slot_out) = slots(t);
            let hh = backend::matmul(&st, &rows_at(n, h, slot_in * nh), &ws, &wt)?;
            let s = RnnStep {
                t,
                slot_in,
                slot_out,
                ..base
            };
            let ins = RnnCellIn {
                xp: &*xs,
                hh: &hh,
                consts: cs.as_deref(),
            };
            backend::rnn_cell_forward(&s, ins, &mut st, &mut tp, &mut o)?;
        }
        // h_n and c_n after the output
        for (k, at) in [(0, 0), (1, base.c_base)]
            .into_iter()
            .take(if lstm { 2 } else { 1 })
        {
            let src = rows_at(1, nh, at + last * nh);
            backend::assign(&mut o, &rows_at(1, nh, lnh + k * nh), &st, &src)?;
        }
    }
    drop(ng);
    let NodeInputs {
        inputs,
        present,
        need,
    } = node_inputs(x, p);
    let saved = [x, p.w_ih, p.w_hh];
    let name = node_name(mode);
    let packed_out = out.with_rule(name, &inputs, &saved, move |gr| {
        let _ng = NoGradGuard::new();
        let gr = dense(gr)?;
        let dh_n = gr.narrow(0, lnh, nh)?;
        let dc_n = if lstm {
            Some(gr.narrow(0, lnh + nh, nh)?)
        } else {
            None
        };
        // [dh | dc, LSTM | lengths]: what reaches the state beside the product, updated per step
        let carry_parts: Vec<&Tensor> = [Some(&dh_n), dc_n.as_ref(), lens.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        let carry = packed(&carry_parts, dt, dev)?;
        let step_rows = l * n * gh;
        let dg = Tensor::zeros(&[if gru { 2 * step_rows } else { step_rows }], dt, dev)?;
        let bstep = RnnStep {
            lens_at: if lstm { 2 * nh } else { nh },
            ..base
        };
        let mut dhm: Option<crate::storage::Storage> = None;
        {
            let (gs, ts, ss, ws) = (gr.storage(), tape.storage(), state.storage(), whh.storage());
            let mut cy = carry.storage_mut();
            let mut dgs = dg.storage_mut();
            for k in (0..l).rev() {
                let t = step_time(k, l, reverse);
                let (slot_in, slot_out) = slots(t);
                let s = RnnStep {
                    t,
                    slot_in,
                    slot_out,
                    has_dhm: dhm.is_some(),
                    ..bstep
                };
                let ins = RnnCellGradIn {
                    gout: &*gs,
                    tape: &*ts,
                    state: &*ss,
                    dhm: dhm.as_ref(),
                };
                backend::rnn_cell_backward(&s, ins, &mut cy, &mut dgs)?;
                let rows = rows_at(n, gh, bstep.dgh_at + t * n * gh);
                dhm = Some(backend::matmul(&dgs, &rows, &ws, whh.layout())?);
            }
        }
        let dhm = dhm.ok_or_else(|| Error::Runtime("rnn_layer backward: no steps".into()))?;
        let dgx = dg.narrow(0, 0, step_rows)?.reshape(&[l * n, gh])?;
        let dgh = if gru {
            dg.narrow(0, step_rows, step_rows)?.reshape(&[l * n, gh])?
        } else {
            dgx.clone()
        };
        let gx = if need[0] {
            Some(dgx.matmul(&wih)?.reshape(&[l, n, i])?)
        } else {
            None
        };
        let gh0 = if need[1] {
            let dhm = Tensor::from_contiguous(dhm, &[n, h]);
            Some(dhm.add(&carry.narrow(0, 0, nh)?.reshape(&[n, h])?)?)
        } else {
            None
        };
        let gc0 = if need[2] {
            Some(carry.narrow(0, nh, nh)?.reshape(&[n, h])?)
        } else {
            None
        };
        let gwih = if need[3] {
            Some(dgx.t()?.matmul(&xd.reshape(&[l * n, i])?)?)
        } else {
            None
        };
        let gwhh = if need[4] {
            let hprev = state
                .narrow(0, if reverse { nh } else { 0 }, lnh)?
                .reshape(&[l * n, h])?;
            Some(dgh.t()?.matmul(&hprev)?)
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
    let output = packed_out.narrow(0, 0, lnh)?.reshape(&[l, n, h])?;
    let h_n = packed_out.narrow(0, lnh, nh)?.reshape(&[n, h])?;
    let c_n = if lstm {
        Some(packed_out.narrow(0, lnh + nh, nh)?.reshape(&[n, h])?)
    } else {
        None
    };
    Ok(RnnOutput {
        output,
        h_n,
        c_n,
        packed: packed_out,
    })
}
