//! The CPU backend's side of the [`Backend`] contract: host vectors, the kernels of this
//! module's family files, and the CPU's own algorithm choices (direct convolution for few taps).

use super::conv::{conv2d_direct, conv2d_direct_weight_grad, direct_conv_fits};
use crate::backend::contract::{provided, Backend, Operand, Scan};
use crate::backend::{BinaryOp, Conv2dGeom, OptimStep, RandKind, ReduceOp, UnaryOp};
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
    fn assign(
        &self,
        dst: &mut CpuStorage,
        ld: &Layout,
        src: &CpuStorage,
        ls: &Layout,
    ) -> Result<()> {
        super::assign(dst, ld, src, ls)
    }

    fn unary(&self, op: UnaryOp, x: &CpuStorage, l: &Layout) -> Result<CpuStorage> {
        super::unary(op, x, l)
    }
    fn binary(
        &self,
        op: BinaryOp,
        a: &CpuStorage,
        la: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> Result<CpuStorage> {
        super::binary(op, a, la, b, lb)
    }
    fn where_(
        &self,
        c: Operand<'_, Self>,
        a: Operand<'_, Self>,
        b: Operand<'_, Self>,
    ) -> Result<CpuStorage> {
        super::where_(c.0, c.1, a.0, a.1, b.0, b.1)
    }

    fn reduce(
        &self,
        op: ReduceOp,
        x: &CpuStorage,
        l: &Layout,
        dims: &[usize],
    ) -> Result<CpuStorage> {
        super::reduce(op, x, l, dims)
    }
    fn softmax(&self, x: &CpuStorage, l: &Layout, log: bool) -> Result<CpuStorage> {
        super::softmax(x, l, log)
    }
    fn linear_scan(
        &self,
        a: Operand<'_, Self>,
        b: Operand<'_, Self>,
        s: Scan,
    ) -> Result<CpuStorage> {
        super::scan::linear_scan(a.0, a.1, b.0, b.1, s.dim, s.reverse, s.init)
    }
    fn argsort(&self, x: &CpuStorage, l: &Layout, descending: bool) -> Result<CpuStorage> {
        super::scan::argsort(x, l, descending)
    }

    fn matmul(
        &self,
        a: &CpuStorage,
        la: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> Result<CpuStorage> {
        super::matmul::matmul(a, la, b, lb)
    }

    fn index_select(
        &self,
        x: Operand<'_, Self>,
        dim: usize,
        idx: Operand<'_, Self>,
    ) -> Result<CpuStorage> {
        super::index::index_select(x.0, x.1, dim, idx.0, idx.1)
    }
    fn index_add(
        &self,
        shape: &[usize],
        dim: usize,
        idx: Operand<'_, Self>,
        src: Operand<'_, Self>,
    ) -> Result<CpuStorage> {
        super::index::index_add(shape, dim, idx.0, idx.1, src.0, src.1)
    }
    fn gather(
        &self,
        x: Operand<'_, Self>,
        dim: usize,
        idx: Operand<'_, Self>,
    ) -> Result<CpuStorage> {
        super::index::gather(x.0, x.1, dim, idx.0, idx.1)
    }
    fn scatter_add(
        &self,
        shape: &[usize],
        dim: usize,
        idx: Operand<'_, Self>,
        src: Operand<'_, Self>,
    ) -> Result<CpuStorage> {
        super::index::scatter_add(shape, dim, idx.0, idx.1, src.0, src.1)
    }

    fn im2col(
        &self,
        x: &CpuStorage,
        l: &Layout,
        g: &Conv2dGeom,
        pad_value: f64,
    ) -> Result<CpuStorage> {
        super::conv::im2col(x, l, g, pad_value)
    }
    fn col2im(&self, x: &CpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<CpuStorage> {
        super::conv::col2im(x, l, g)
    }
    fn max_pool2d(
        &self,
        x: &CpuStorage,
        l: &Layout,
        g: &Conv2dGeom,
    ) -> Result<(CpuStorage, CpuStorage)> {
        super::conv::max_pool2d(x, l, g)
    }

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
        provided::conv2d_weight_grad(self, x, workspace, gout, g, o)
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
}
