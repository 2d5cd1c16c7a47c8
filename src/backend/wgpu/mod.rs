//! GPU backend on wgpu (WGSL compute shaders). Interface used by `backend::mod`.
//! (Being implemented: every entry point currently reports that the GPU backend is unavailable.)

use crate::backend::{BinaryOp, Conv2dGeom, OptimStep, RandKind, ReduceOp, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// A tensor's elements in a GPU buffer.
#[derive(Debug)]
pub struct GpuStorage {
    dtype: DType,
    len: usize,
    device: usize,
}

impl GpuStorage {
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn device_index(&self) -> usize {
        self.device
    }
}

fn unavailable<T>() -> Result<T> {
    Err(Error::Gpu("GPU backend unavailable in this build".into()))
}

pub fn is_available() -> bool {
    false
}
pub fn copy(_x: &GpuStorage, _l: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn cast(_x: &GpuStorage, _l: &Layout, _d: DType) -> Result<GpuStorage> { unavailable() }
pub fn full(_dev: usize, _n: usize, _v: f64, _d: DType) -> Result<GpuStorage> { unavailable() }
pub fn unary(_op: UnaryOp, _x: &GpuStorage, _l: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn binary(_op: BinaryOp, _a: &GpuStorage, _la: &Layout, _b: &GpuStorage, _lb: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn where_(_c: &GpuStorage, _lc: &Layout, _a: &GpuStorage, _la: &Layout, _b: &GpuStorage, _lb: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn reduce(_op: ReduceOp, _x: &GpuStorage, _l: &Layout, _dims: &[usize]) -> Result<GpuStorage> { unavailable() }
pub fn matmul(_a: &GpuStorage, _la: &Layout, _b: &GpuStorage, _lb: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn softmax(_x: &GpuStorage, _l: &Layout, _log: bool) -> Result<GpuStorage> { unavailable() }
pub fn index_select(_x: &GpuStorage, _l: &Layout, _dim: usize, _i: &GpuStorage, _li: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn index_add(_shape: &[usize], _dim: usize, _i: &GpuStorage, _li: &Layout, _s: &GpuStorage, _ls: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn gather(_x: &GpuStorage, _l: &Layout, _dim: usize, _i: &GpuStorage, _li: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn scatter_add(_shape: &[usize], _dim: usize, _i: &GpuStorage, _li: &Layout, _s: &GpuStorage, _ls: &Layout) -> Result<GpuStorage> { unavailable() }
pub fn im2col(_x: &GpuStorage, _l: &Layout, _g: &Conv2dGeom, _pad: f64) -> Result<GpuStorage> { unavailable() }
pub fn col2im(_x: &GpuStorage, _l: &Layout, _g: &Conv2dGeom) -> Result<GpuStorage> { unavailable() }
pub fn rand(_dev: usize, _k: RandKind, _n: usize, _seed: u64, _off: u64, _d: DType) -> Result<GpuStorage> { unavailable() }
pub fn assign(_d: &mut GpuStorage, _ld: &Layout, _s: &GpuStorage, _ls: &Layout) -> Result<()> { unavailable() }
pub fn optim_step(_s: &OptimStep, _p: &mut GpuStorage, _g: &GpuStorage, _st: &mut [&mut GpuStorage]) -> Result<()> { unavailable() }
pub fn upload(_dev: usize, _h: &CpuStorage) -> Result<GpuStorage> { unavailable() }
pub fn download(_g: &GpuStorage) -> Result<CpuStorage> { unavailable() }
