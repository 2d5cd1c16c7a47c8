//! The CPU backend's side of the [`Backend`] contract: host vectors, the kernels of this
//! module's family files, and the CPU's own algorithm choices (direct convolution for few taps).

use super::conv::{conv2d_direct, conv2d_direct_weight_grad, direct_conv_fits};
use super::image_conv::{
    conv2d_images, conv2d_images_input_grad, conv2d_images_weight_grad, image_conv_fits,
};
use crate::backend::contract::{forward_kernels, provided, Backend, Operand};
use crate::backend::{
    AttnDims, ChannelCoeffs, Conv2dGeom, OptimStep, RandKind, RnnCellGradIn, RnnCellIn, RnnStep,
};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// The host CPU: kernels split over the backend's own thread pool above a size threshold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu;

impl Backend for Cpu {
    type Storage = CpuStorage;

    fn device(&self) -> Device {
        Device::Cpu
    }
    fn dtype(&self, x: &CpuStorage) -> DType {
        x.dtype()
    }

    fn copy(&self, x: &CpuStorage, l: &Layout) -> Result<CpuStorage> {
        Ok(super::copy(x, l))
    }
    fn cast(&self, x: &CpuStorage, l: &Layout, dtype: DType) -> Result<CpuStorage> {
        Ok(super::cast(x, l, dtype))
    }
    fn full(&self, n: usize, value: f64, dtype: DType) -> Result<CpuStorage> {
        Ok(CpuStorage::full(n, value, dtype))
    }
    fn to_host(&self, x: &CpuStorage, l: &Layout) -> Result<CpuStorage> {
        Ok(super::copy(x, l))
    }
    fn upload(&self, h: &CpuStorage) -> Result<CpuStorage> {
        Ok(h.clone())
    }
    forward_kernels!(
        assign,
        unary,
        binary,
        where_,
        reduce,
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

    /// Few taps per output at stride 1: the direct kernel (no columns, and the weight gradient
    /// reads the input); otherwise the provided im2col + gemm.
    fn conv2d(
        &self,
        x: Operand<'_, Self>,
        w: &CpuStorage,
        bias: Option<&CpuStorage>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<(CpuStorage, Option<CpuStorage>)> {
        if direct_conv_fits(g) {
            return Ok((conv2d_direct(x.0, x.1, w, bias, g, o)?, None));
        }
        if image_conv_fits(g, super::pool::threads()) {
            return Ok((conv2d_images(x.0, x.1, w, bias, g, o)?, None));
        }
        provided::conv2d(self, x, w, bias, g, o)
    }

    fn conv2d_weight_grad(
        &self,
        x: Operand<'_, Self>,
        workspace: Option<&CpuStorage>,
        gout: Operand<'_, Self>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<CpuStorage> {
        if workspace.is_none() && direct_conv_fits(g) {
            return conv2d_direct_weight_grad(x.0, x.1, gout.0, gout.1, g, o);
        }
        if workspace.is_none() && image_conv_fits(g, super::pool::threads()) {
            return conv2d_images_weight_grad(x.0, x.1, gout.0, gout.1, g, o);
        }
        provided::conv2d_weight_grad(self, x, workspace, gout, g, o)
    }

    fn conv2d_input_grad(
        &self,
        gout: Operand<'_, Self>,
        w: &CpuStorage,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<CpuStorage> {
        if image_conv_fits(g, super::pool::threads()) {
            return conv2d_images_input_grad(gout.0, gout.1, w, g, o);
        }
        provided::conv2d_input_grad(self, gout, w, g, o)
    }

    fn attention_forward(
        &self,
        qkv: (&CpuStorage, &CpuStorage, &CpuStorage),
        ls: (&Layout, &Layout, &Layout),
        mask: Option<(&CpuStorage, &Layout)>,
        d: AttnDims,
        causal: bool,
        scale: f64,
    ) -> Result<(CpuStorage, CpuStorage)> {
        super::attention::attention_forward(qkv, ls, mask, d, causal, scale)
    }

    fn attention_backward(
        &self,
        qkv: (&CpuStorage, &CpuStorage, &CpuStorage),
        ls: (&Layout, &Layout, &Layout),
        saved: (&CpuStorage, &CpuStorage, &CpuStorage, &Layout),
        mask: Option<(&CpuStorage, &Layout)>,
        d: AttnDims,
        causal: bool,
        scale: f64,
    ) -> Result<(CpuStorage, CpuStorage, CpuStorage)> {
        super::attention::attention_backward(qkv, ls, saved, mask, d, causal, scale)
    }

    fn channel_moments(&self, x: &CpuStorage, l: &Layout) -> Result<(CpuStorage, CpuStorage)> {
        super::norm::channel_moments(x, l)
    }

    fn channel_affine(
        &self,
        x: &CpuStorage,
        l: &Layout,
        a: &CpuStorage,
        b: &CpuStorage,
        y: Option<(&CpuStorage, &CpuStorage)>,
    ) -> Result<CpuStorage> {
        super::norm::channel_affine(x, l, a, b, y)
    }

    fn channel_coeffs(&self, spec: &ChannelCoeffs, ins: &[&CpuStorage]) -> Result<Vec<CpuStorage>> {
        super::norm::channel_coeffs(spec, ins)
    }

    fn channel_dot(
        &self,
        y: &CpuStorage,
        x: &CpuStorage,
        l: &Layout,
        m: &CpuStorage,
    ) -> Result<(CpuStorage, CpuStorage)> {
        super::norm::channel_dot(y, x, l, m)
    }

    fn rand(
        &self,
        kind: RandKind,
        n: usize,
        seed: u64,
        offset: u64,
        dtype: DType,
    ) -> Result<CpuStorage> {
        super::rand(kind, n, seed, offset, dtype)
    }

    fn optim_step(
        &self,
        step: &OptimStep,
        param: &mut CpuStorage,
        grad: Operand<'_, Self>,
        state: &mut [&mut CpuStorage],
    ) -> Result<()> {
        // a gradient that is already one dense block is read in place
        let (gs, lg) = grad;
        let copied;
        let g = if lg.is_contiguous() && lg.offset == 0 && gs.len() == lg.numel() {
            gs
        } else {
            copied = super::copy(gs, lg);
            &copied
        };
        super::optim::step(step, param, g, state)
    }

    fn rnn_cell_forward(
        &self,
        s: &RnnStep,
        i: RnnCellIn<'_, CpuStorage>,
        state: &mut CpuStorage,
        tape: &mut CpuStorage,
        out: &mut CpuStorage,
    ) -> Result<()> {
        super::recurrent::cell_forward(s, i, state, tape, out)
    }

    fn rnn_cell_backward(
        &self,
        s: &RnnStep,
        i: RnnCellGradIn<'_, CpuStorage>,
        carry: &mut CpuStorage,
        dg: &mut CpuStorage,
    ) -> Result<()> {
        super::recurrent::cell_backward(s, i, carry, dg)
    }
}
