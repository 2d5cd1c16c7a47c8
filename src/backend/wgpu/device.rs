//! The GPU backend's side of the [`Backend`] contract: WGSL kernels recorded into the device's
//! batched submission, and the GPU's own choices — int64 tensors hold 32-bit values, so their
//! sums and products run on the GPU only when the known value ranges prove the result fits,
//! and otherwise exactly on the host (a result outside the 32-bit range is an error, never a
//! wrapped value); float exponents that float32 cannot hold are applied on the host.

use super::GpuStorage;
use crate::backend::contract::{forward_kernels, Backend, Operand};
use crate::backend::cpu::Cpu;
use crate::backend::{
    AttnDims, BinaryOp, ChannelCoeffs, ClassLossSpec, Conv2dGeom, OptimStep, RandKind, ReduceOp,
    RnnCellGradIn, RnnCellIn, RnnStep, UnaryOp,
};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// One GPU, by adapter index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gpu(pub usize);

impl Gpu {
    /// The GPU that holds `g`.
    pub fn of(g: &GpuStorage) -> Gpu {
        Gpu(g.device_index())
    }

    /// Runs `f` on the host copy of `x` and brings an int64 result back, failing when it
    /// leaves the GPU's 32-bit range.
    fn int_on_host(
        &self,
        op: &str,
        x: &GpuStorage,
        l: &Layout,
        f: impl FnOnce(&CpuStorage, &Layout) -> Result<CpuStorage>,
    ) -> Result<GpuStorage> {
        let h = self.to_host(x, l)?;
        let r = f(&h, &Layout::contiguous(&l.shape))?;
        self.upload(&r).map_err(|e| match e {
            Error::Value(m) => Error::Value(format!(
                "{op}: the int64 result overflows the GPU's 32-bit integers; move the tensor to the CPU for 64-bit range ({m})"
            )),
            other => other,
        })
    }
}

/// `r` when it lies in the GPU's 32-bit integer range.
fn fits_i32(r: (i64, i64)) -> Option<(i64, i64)> {
    (r.0 >= i32::MIN as i64 && r.1 <= i32::MAX as i64).then_some(r)
}

/// The value range of an integer unary op's result from its input's range, when it is sure to
/// fit 32 bits (then the GPU kernel is exact).
fn unary_int_range(op: UnaryOp, (lo, hi): (i64, i64)) -> Option<(i64, i64)> {
    let int = |c: f64| (c.fract() == 0.0 && c.abs() < 2f64.powi(31)).then_some(c as i64);
    let span = |a: i64, b: i64| (a.min(b), a.max(b));
    let r = match op {
        UnaryOp::Neg => (hi.checked_neg()?, lo.checked_neg()?),
        UnaryOp::Abs => {
            let m = lo.checked_abs()?.max(hi.checked_abs()?);
            let least = if lo <= 0 && hi >= 0 {
                0
            } else {
                lo.abs().min(hi.abs())
            };
            (least, m)
        }
        UnaryOp::Square => {
            let m = lo.checked_abs()?.max(hi.checked_abs()?);
            (0, m.checked_mul(m)?)
        }
        UnaryOp::AddScalar(c) => (lo.checked_add(int(c)?)?, hi.checked_add(int(c)?)?),
        UnaryOp::RSubScalar(c) => (int(c)?.checked_sub(hi)?, int(c)?.checked_sub(lo)?),
        UnaryOp::MulScalar(c) => span(lo.checked_mul(int(c)?)?, hi.checked_mul(int(c)?)?),
        _ => return None,
    };
    fits_i32(r)
}

/// As [`unary_int_range`] for a binary op's two input ranges.
fn binary_int_range(op: BinaryOp, a: (i64, i64), b: (i64, i64)) -> Option<(i64, i64)> {
    let r = match op {
        BinaryOp::Add => (a.0.checked_add(b.0)?, a.1.checked_add(b.1)?),
        BinaryOp::Sub => (a.0.checked_sub(b.1)?, a.1.checked_sub(b.0)?),
        BinaryOp::Mul => {
            let p = [
                a.0.checked_mul(b.0)?,
                a.0.checked_mul(b.1)?,
                a.1.checked_mul(b.0)?,
                a.1.checked_mul(b.1)?,
            ];
            (*p.iter().min()?, *p.iter().max()?)
        }
        _ => return None,
    };
    fits_i32(r)
}

/// True when float32 rounding of the exponent `p` changes the kind of `x ^ p`: to 0 or ∞, or
/// onto an integer (a negative base then gives a number instead of NaN).
fn pow_needs_host(p: f64) -> bool {
    let p32 = p as f32;
    let changes_kind = p32 == 0.0 || !p32.is_finite() || (p32.fract() == 0.0 && p.fract() != 0.0);
    p.is_finite() && p != 0.0 && changes_kind
}

/// A copy of a gradient view that is not one dense run of its storage (`None`: use it as is).
fn dense_grad(g: Operand<'_, Gpu>) -> Result<Option<GpuStorage>> {
    let (x, l) = g;
    if l.is_contiguous() && l.offset == 0 && l.numel() == x.len {
        return Ok(None);
    }
    super::copy(x, l).map(Some)
}

impl Backend for Gpu {
    type Storage = GpuStorage;

    fn device(&self) -> Device {
        Device::Gpu(self.0)
    }
    fn dtype(&self, x: &GpuStorage) -> DType {
        x.dtype()
    }

    forward_kernels!(copy, cast, assign);

    fn full(&self, n: usize, value: f64, dtype: DType) -> Result<GpuStorage> {
        super::full(self.0, n, value, dtype)
    }
    fn max_buffer_bytes(&self) -> usize {
        super::context::context(self.0).map_or(usize::MAX, |c| {
            let l = &c.limits;
            let bytes = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
            usize::try_from(bytes).unwrap_or(usize::MAX)
        })
    }
    fn conv2d(
        &self,
        x: Operand<'_, Self>,
        w: &GpuStorage,
        bias: Option<&GpuStorage>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<(GpuStorage, Option<GpuStorage>)> {
        super::conv::products::conv2d(self, x, w, bias, g, o)
    }
    fn conv2d_weight_grad(
        &self,
        x: Operand<'_, Self>,
        workspace: Option<&GpuStorage>,
        gout: Operand<'_, Self>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<GpuStorage> {
        super::conv::products::conv2d_weight_grad(self, x, workspace, gout, g, o)
    }
    fn conv2d_input_grad(
        &self,
        gout: Operand<'_, Self>,
        w: &GpuStorage,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<GpuStorage> {
        super::conv::products::conv2d_input_grad(self, gout, w, g, o)
    }
    fn to_host(&self, x: &GpuStorage, l: &Layout) -> Result<CpuStorage> {
        super::download(&super::copy(x, l)?)
    }
    fn upload(&self, h: &CpuStorage) -> Result<GpuStorage> {
        super::upload(self.0, h)
    }

    fn unary(&self, op: UnaryOp, x: &GpuStorage, l: &Layout) -> Result<GpuStorage> {
        match (x.dtype(), op) {
            (DType::F32, UnaryOp::PowScalar(p)) if pow_needs_host(p) => {
                // the shaders' float32 parameter cannot hold this exponent: exact on the host
                let h = self.to_host(x, l)?;
                self.upload(&Cpu.unary(op, &h, &Layout::contiguous(&l.shape))?)
            }
            (
                DType::I64,
                UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Square
                | UnaryOp::AddScalar(_)
                | UnaryOp::MulScalar(_)
                | UnaryOp::RSubScalar(_)
                | UnaryOp::PowScalar(_),
            ) => match x.range.and_then(|r| unary_int_range(op, r)) {
                Some(r) => {
                    let mut out = super::unary(op, x, l)?;
                    out.range = Some(r);
                    Ok(out)
                }
                None => self.int_on_host("elementwise op", x, l, |h, lh| Cpu.unary(op, h, lh)),
            },
            _ => super::unary(op, x, l),
        }
    }

    fn binary(
        &self,
        op: BinaryOp,
        a: &GpuStorage,
        la: &Layout,
        b: &GpuStorage,
        lb: &Layout,
    ) -> Result<GpuStorage> {
        let exact_int = matches!(
            op,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Pow
        );
        if a.dtype() != DType::I64 || !exact_int {
            return super::binary(op, a, la, b, lb);
        }
        let known = a.range.zip(b.range);
        if let Some(r) = known.and_then(|(x, y)| binary_int_range(op, x, y)) {
            let mut out = super::binary(op, a, la, b, lb)?;
            out.range = Some(r);
            return Ok(out);
        }
        let hb = self.to_host(b, lb)?;
        self.int_on_host(op.name(), a, la, |ha, lc| Cpu.binary(op, ha, lc, &hb, lc))
    }

    forward_kernels!(where_);

    fn reduce(
        &self,
        op: ReduceOp,
        x: &GpuStorage,
        l: &Layout,
        dims: &[usize],
    ) -> Result<GpuStorage> {
        if op != ReduceOp::Sum || !matches!(x.dtype(), DType::I64 | DType::Bool) {
            return super::reduce(op, x, l, dims);
        }
        let count: usize = dims
            .iter()
            .map(|&d| l.shape.get(d).copied().unwrap_or(1))
            .product();
        let known = match x.dtype() {
            DType::Bool => Some((0, 1)),
            _ => x.range,
        };
        let k = i64::try_from(count).ok();
        let summed = known.zip(k).and_then(|((lo, hi), k)| {
            fits_i32((lo.checked_mul(k)?.min(0), hi.checked_mul(k)?.max(0)))
        });
        match summed {
            Some(r) => {
                let mut out = super::reduce(op, x, l, dims)?;
                out.range = Some(r);
                Ok(out)
            }
            None => self.int_on_host("sum", x, l, |h, lh| Cpu.reduce(op, h, lh, dims)),
        }
    }
    forward_kernels!(
        softmax,
        linear_scan,
        argsort,
        matmul,
        index_select,
        index_add,
        gather,
        scatter_add,
        im2col,
        col2im,
        max_pool2d,
    );

    fn attention_forward(
        &self,
        qkv: (&GpuStorage, &GpuStorage, &GpuStorage),
        ls: (&Layout, &Layout, &Layout),
        mask: Option<(&GpuStorage, &Layout)>,
        d: AttnDims,
        causal: bool,
        scale: f64,
    ) -> Result<(GpuStorage, GpuStorage)> {
        super::attention_forward(qkv, ls, mask, d, causal, scale)
    }

    #[allow(clippy::too_many_arguments)]
    fn attention_backward(
        &self,
        qkv: (&GpuStorage, &GpuStorage, &GpuStorage),
        ls: (&Layout, &Layout, &Layout),
        saved: (&GpuStorage, &GpuStorage, &GpuStorage, &Layout),
        mask: Option<(&GpuStorage, &Layout)>,
        d: AttnDims,
        causal: bool,
        scale: f64,
    ) -> Result<(GpuStorage, GpuStorage, GpuStorage)> {
        super::attention_backward(qkv, ls, saved, mask, d, causal, scale)
    }

    fn matmul_bias(
        &self,
        a: &GpuStorage,
        la: &Layout,
        b: &GpuStorage,
        lb: &Layout,
        bias: Option<&GpuStorage>,
    ) -> Result<GpuStorage> {
        super::matmul::matmul_bias(a, la, b, lb, bias)
    }

    fn channel_moments(&self, x: &GpuStorage, l: &Layout) -> Result<(GpuStorage, GpuStorage)> {
        super::channel_moments(x, l)
    }

    fn channel_affine(
        &self,
        x: &GpuStorage,
        l: &Layout,
        a: &GpuStorage,
        b: &GpuStorage,
        y: Option<(&GpuStorage, &GpuStorage)>,
    ) -> Result<GpuStorage> {
        super::channel_affine(x, l, a, b, y)
    }

    fn channel_coeffs(&self, spec: &ChannelCoeffs, ins: &[&GpuStorage]) -> Result<Vec<GpuStorage>> {
        super::channel::channel_coeffs(spec, ins)
    }

    fn channel_dot(
        &self,
        y: &GpuStorage,
        x: &GpuStorage,
        l: &Layout,
        m: &GpuStorage,
    ) -> Result<(GpuStorage, GpuStorage)> {
        super::channel_dot(y, x, l, m)
    }

    fn class_loss_forward(
        &self,
        x: &GpuStorage,
        t: &GpuStorage,
        w: Option<&GpuStorage>,
        d: &ClassLossSpec,
    ) -> Result<(GpuStorage, GpuStorage)> {
        super::class_loss_forward(x, t, w, d)
    }

    fn class_loss_backward(
        &self,
        x: &GpuStorage,
        t: &GpuStorage,
        w: Option<&GpuStorage>,
        aux: &GpuStorage,
        g: &GpuStorage,
        d: &ClassLossSpec,
    ) -> Result<GpuStorage> {
        super::class_loss_backward(x, t, w, aux, g, d)
    }

    fn rand(
        &self,
        kind: RandKind,
        n: usize,
        seed: u64,
        offset: u64,
        dtype: DType,
    ) -> Result<GpuStorage> {
        super::rand(self.0, kind, n, seed, offset, dtype)
    }

    fn optim_step(
        &self,
        step: &OptimStep,
        param: &mut GpuStorage,
        grad: Operand<'_, Self>,
        state: &mut [&mut GpuStorage],
    ) -> Result<()> {
        let g = dense_grad(grad)?;
        super::optim_step(step, param, g.as_ref().unwrap_or(grad.0), state)
    }

    fn optim_step_many(
        &self,
        step: &OptimStep,
        params: &mut [&mut GpuStorage],
        grads: &[Operand<'_, Self>],
        states: &mut [Vec<&mut GpuStorage>],
    ) -> Result<()> {
        use super::optim::{multi_fits, optim_step_multi, SLOTS};
        let copies: Vec<Option<GpuStorage>> = grads
            .iter()
            .map(|&g| dense_grad(g))
            .collect::<Result<_>>()?;
        let gs: Vec<&GpuStorage> = copies
            .iter()
            .zip(grads)
            .map(|(c, g)| c.as_ref().unwrap_or(g.0))
            .collect();
        let fits = params.first().is_some_and(|p| multi_fits(&p.ctx));
        let mut a = 0;
        while a < params.len() {
            let b = (a + SLOTS).min(params.len());
            if fits && b - a > 1 {
                optim_step_multi(step, &mut params[a..b], &gs[a..b], &mut states[a..b])?;
            } else {
                for ((p, g), st) in params[a..b]
                    .iter_mut()
                    .zip(&gs[a..b])
                    .zip(states[a..b].iter_mut())
                {
                    super::optim_step(step, p, g, st)?;
                }
            }
            a = b;
        }
        Ok(())
    }

    fn rnn_cell_forward(
        &self,
        s: &RnnStep,
        i: RnnCellIn<'_, GpuStorage>,
        state: &mut GpuStorage,
        tape: &mut GpuStorage,
        out: &mut GpuStorage,
    ) -> Result<()> {
        super::rnn_cell_forward(s, i, state, tape, out)
    }

    fn rnn_cell_backward(
        &self,
        s: &RnnStep,
        i: RnnCellGradIn<'_, GpuStorage>,
        carry: &mut GpuStorage,
        dg: &mut GpuStorage,
    ) -> Result<()> {
        super::rnn_cell_backward(s, i, carry, dg)
    }
}
