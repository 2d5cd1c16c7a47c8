//! Indexing family (`shaders/index.wgsl`): index_select, index_add, gather and scatter_add,
//! with the host-side check that every index is in range.

use super::context::{bump, COUNTERS};
use super::launch::{check_span, dispatch_threads};
use super::params::{dims, param_block, u32_of, Dims, MAX_DIMS};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::reduce::reduce;
use super::GpuStorage;
use crate::backend::ReduceOp;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{contiguous_strides, Layout};

param_block! {
    /// Parameters of the index kernels: `n` invocations over `shape` (`ndim` dims: the output
    /// of index_select, the source of index_add, the index of gather / scatter_add); the
    /// indexed `dim` and its `size`; the index view (`ioff`, `istr` for 1-D indices,
    /// `istrides`); the input / source view (`xoff`, `xstrides`); the output's `ostrides`.
    pub struct IndexParams {
        pub n: u32,
        pub ndim: u32,
        pub dim: u32,
        pub size: u32,
        pub ioff: u32,
        pub xoff: u32,
        pub istr: u32,
        pub pad0: u32,
        pub shape: Dims,
        pub istrides: Dims,
        pub xstrides: Dims,
        pub ostrides: Dims,
    }
}

/// A reading kernel (output `O` at 3) or an accumulating one (atomic output `OA` at 4, with
/// the `DT` override).
const fn entry(name: &'static str, accumulate: bool) -> Entry {
    const READ: &[(u32, Access)] = &[(1, Access::Read), (2, Access::Read), (3, Access::ReadWrite)];
    const ADD: &[(u32, Access)] = &[(1, Access::Read), (2, Access::Read), (4, Access::ReadWrite)];
    Entry::threads::<IndexParams>(
        Shader::Index,
        name,
        if accumulate { &["DT"] } else { &[] },
        if accumulate { ADD } else { READ },
    )
}

/// `index_select`: `out[.., j, ..] = x[.., idx[j], ..]`.
pub static INDEX_SELECT: Entry = entry("index_select", false);
/// `index_add`: `out[.., idx[j], ..] += src[.., j, ..]` (atomic).
pub static INDEX_ADD: Entry = entry("index_add", true);
/// `gather`: `out[p] = x[p with coordinate dim = idx[p]]`.
pub static GATHER: Entry = entry("gather", false);
/// `scatter_add`: `out[p with coordinate dim = idx[p]] += src[p]` (atomic).
pub static SCATTER_ADD: Entry = entry("scatter_add", true);

/// Every index entry point.
pub(crate) static ENTRIES: [&Entry; 4] = [&INDEX_SELECT, &INDEX_ADD, &GATHER, &SCATTER_ADD];

impl IndexParams {
    /// `n` invocations over `shape`, indexing `dim` of size `size`, reading the view `lx`
    /// (strides, offset).
    fn new(
        op: &str,
        shape: &[usize],
        dim: usize,
        size: usize,
        lx: (&[usize], usize),
    ) -> Result<IndexParams> {
        let mut p: IndexParams = bytemuck::Zeroable::zeroed();
        p.n = u32_of(op, shape.iter().product())?;
        p.ndim = shape.len() as u32;
        p.dim = dim as u32;
        p.size = u32_of(op, size)?;
        p.shape = dims(op, shape)?;
        p.xstrides = dims(op, lx.0)?;
        p.xoff = u32_of(op, lx.1)?;
        Ok(p)
    }
}

fn index_dtype(op: &str, idx: &GpuStorage) -> Result<()> {
    if idx.dtype != DType::I64 {
        return Err(Error::DType(format!(
            "{op}: indices must be int64, got {}",
            idx.dtype
        )));
    }
    Ok(())
}

/// Raises `Error::Index` unless every index of the view is in `[0, size)`.
///
/// Free when the index tensor's value range is known on the host (it was uploaded, filled, or
/// produced by argmax / where / a copy of such); otherwise a min and a max reduction run on the
/// GPU and their two values are read back (one submit and wait).
fn check_indices(op: &str, idx: &GpuStorage, li: &Layout, size: usize, dim: usize) -> Result<()> {
    if li.numel() == 0 {
        return Ok(());
    }
    if let Some((lo, hi)) = idx.range {
        if lo >= 0 && (hi as i128) < size as i128 {
            return Ok(());
        }
    }
    bump(&COUNTERS.index_checks);
    let all: Vec<usize> = (0..li.ndim()).collect();
    let mn = reduce(ReduceOp::Min, idx, li, &all)?;
    let mx = reduce(ReduceOp::Max, idx, li, &all)?;
    let vals = idx.ctx.read_back(&[(&mn.buf, 0, 4), (&mx.buf, 0, 4)])?;
    let word = |v: &Vec<u8>| {
        v.get(..4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    let (lo, hi) = (word(&vals[0]), word(&vals[1]));
    let bad = if lo < 0 {
        lo
    } else if hi as usize >= size {
        hi
    } else {
        return Ok(());
    };
    Err(Error::Index(format!(
        "{op}: index {bad} is out of bounds for dimension {dim} with size {size}"
    )))
}

fn check_rank(op: &str, shape: &[usize]) -> Result<()> {
    if shape.len() > MAX_DIMS {
        return Err(Error::Gpu(format!("{op}: tensors of more than {MAX_DIMS} dims are not supported on the GPU, got {shape:?}")));
    }
    Ok(())
}

/// Entries `idx` (1-D int64) along `dim` of `x`.
pub fn index_select(
    x: &GpuStorage,
    l: &Layout,
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
) -> Result<GpuStorage> {
    index_dtype("index_select", idx)?;
    if li.ndim() != 1 || dim >= l.ndim() {
        return Err(Error::Shape(format!(
            "index_select: expected a 1-D index and dim < {}, got index shape {:?} and dim {dim}",
            l.ndim(),
            li.shape
        )));
    }
    let op = "index_select";
    let mut shape = l.shape.clone();
    shape[dim] = li.numel();
    let n: usize = shape.iter().product();
    select(&INDEX_SELECT, (x, l), dim, (idx, li), n, || {
        let mut p = IndexParams::new(op, &shape, dim, l.shape[dim], (&l.strides, l.offset))?;
        p.ioff = u32_of(op, li.offset)?;
        p.istr = u32_of(op, li.strides[0])?;
        Ok(p)
    })
}

/// The shared part of index_select and gather once their shapes are checked: checks the
/// views and indices, then runs `entry` (named as its op) for the `n` outputs, each reading an
/// element of `x` (the kernel's parameters from `params`).
fn select(
    entry: &'static Entry,
    (x, l): (&GpuStorage, &Layout),
    dim: usize,
    (idx, li): (&GpuStorage, &Layout),
    n: usize,
    params: impl FnOnce() -> Result<IndexParams>,
) -> Result<GpuStorage> {
    let op = entry.name;
    check_rank(op, &l.shape)?;
    check_span(op, x, l)?;
    check_span(op, idx, li)?;
    check_indices(op, idx, li, l.shape[dim], dim)?;
    let mut out = GpuStorage::alloc(&x.ctx, x.dtype, n, false, op)?;
    out.range = x.range;
    if n == 0 {
        return Ok(out);
    }
    let p = params()?;
    let k = Kernel::new(entry);
    dispatch_threads(&x.ctx, &k, &p, &[&x.buf, &idx.buf, &out.buf], n, op)?;
    Ok(out)
}

fn accumulate_dtype(op: &str, src: &GpuStorage) -> Result<u32> {
    match src.dtype.storage() {
        DType::F64 => Err(super::launch::f64_unsupported(op)),
        DType::Bool => Err(Error::DType(format!(
            "{op}: not supported for {}",
            src.dtype
        ))),
        _ => super::codes::dt_code(src.dtype, op),
    }
}

/// Zero-filled output of `shape` (src's dtype) for an accumulating kernel.
fn zeroed_output(op: &str, src: &GpuStorage, shape: &[usize]) -> Result<GpuStorage> {
    let total: usize = shape.iter().product();
    let out = GpuStorage::alloc(&src.ctx, src.dtype, total, false, op)?;
    if total > 0 {
        src.ctx.clear(&out.buf, total as u64 * 4)?;
    }
    Ok(out)
}

/// Zeros of `shape` with slice `i` of `src` (along `dim`) added at slice `idx[i]`.
pub fn index_add(
    shape: &[usize],
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
    src: &GpuStorage,
    ls: &Layout,
) -> Result<GpuStorage> {
    let op = "index_add";
    index_dtype(op, idx)?;
    let dt = accumulate_dtype(op, src)?;
    let fits = li.ndim() == 1
        && dim < shape.len()
        && ls.ndim() == shape.len()
        && (0..shape.len()).all(|d| {
            if d == dim {
                ls.shape[d] == li.numel()
            } else {
                ls.shape[d] == shape[d]
            }
        });
    if !fits {
        return Err(Error::Shape(format!(
            "index_add: source of shape {:?} and index of shape {:?} do not fit a result of shape {shape:?} along dim {dim}",
            ls.shape, li.shape
        )));
    }
    let k = Kernel::new(&INDEX_ADD).with("DT", dt);
    accumulate(k, shape, dim, (idx, li), (src, ls), || {
        let mut p = IndexParams::new(op, &ls.shape, dim, shape[dim], (&ls.strides, ls.offset))?;
        p.ioff = u32_of(op, li.offset)?;
        p.istr = u32_of(op, li.strides[0])?;
        Ok(p)
    })
}

/// The shared part of index_add and scatter_add once their shapes are checked: checks the
/// views and indices, then runs `k` (named as its op) over the source elements, adding them
/// into zeros of `shape` (contiguous, strides set here in the `params` it is given).
fn accumulate(
    k: Kernel,
    shape: &[usize],
    dim: usize,
    (idx, li): (&GpuStorage, &Layout),
    (src, ls): (&GpuStorage, &Layout),
    params: impl FnOnce() -> Result<IndexParams>,
) -> Result<GpuStorage> {
    let op = k.entry.name;
    check_rank(op, shape)?;
    check_span(op, src, ls)?;
    check_span(op, idx, li)?;
    check_indices(op, idx, li, shape[dim], dim)?;
    let n = ls.numel();
    let out = zeroed_output(op, src, shape)?;
    if out.len == 0 || n == 0 {
        return Ok(out);
    }
    let mut p = params()?;
    p.ostrides = dims(op, &contiguous_strides(shape))?;
    dispatch_threads(&src.ctx, &k, &p, &[&src.buf, &idx.buf, &out.buf], n, op)?;
    Ok(out)
}

/// Fails unless `idx` fits `shape` on every dim but `dim` (as the CPU backend requires).
fn check_gather_shape(op: &str, ishape: &[usize], tshape: &[usize], dim: usize) -> Result<()> {
    for d in 0..ishape.len() {
        if d != dim && ishape[d] > tshape[d] {
            return Err(Error::Shape(format!(
                "{op}: index shape {ishape:?} exceeds tensor shape {tshape:?} at dim {d}"
            )));
        }
    }
    Ok(())
}

/// Parameters of gather / scatter_add: over the index view `li`, reading `lx` (strides,
/// offset) with `dim` of size `size`.
fn gather_params(
    op: &str,
    li: &Layout,
    dim: usize,
    size: usize,
    lx: (&[usize], usize),
) -> Result<IndexParams> {
    let mut p = IndexParams::new(op, &li.shape, dim, size, lx)?;
    p.istrides = dims(op, &li.strides)?;
    p.ioff = u32_of(op, li.offset)?;
    Ok(p)
}

/// `out[p] = x[p with coordinate dim = idx[p]]`; the result has idx's shape.
pub fn gather(
    x: &GpuStorage,
    l: &Layout,
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
) -> Result<GpuStorage> {
    index_dtype("gather", idx)?;
    if li.ndim() != l.ndim() || dim >= l.ndim() {
        return Err(Error::Shape(format!(
            "gather: index must have as many dims as the input, got {:?} and {:?}",
            li.shape, l.shape
        )));
    }
    check_gather_shape("gather", &li.shape, &l.shape, dim)?;
    select(&GATHER, (x, l), dim, (idx, li), li.numel(), || {
        gather_params("gather", li, dim, l.shape[dim], (&l.strides, l.offset))
    })
}

/// Zeros of `shape` with `src[p]` added at `p with coordinate dim = idx[p]`.
pub fn scatter_add(
    shape: &[usize],
    dim: usize,
    idx: &GpuStorage,
    li: &Layout,
    src: &GpuStorage,
    ls: &Layout,
) -> Result<GpuStorage> {
    let op = "scatter_add";
    index_dtype(op, idx)?;
    let dt = accumulate_dtype(op, src)?;
    if li.ndim() != shape.len() || dim >= shape.len() {
        return Err(Error::Shape(format!(
            "scatter_add: index must have as many dims as the output, got {:?} and {shape:?}",
            li.shape
        )));
    }
    if ls.shape != li.shape {
        return Err(Error::Shape(format!(
            "scatter_add: index shape {:?} and source shape {:?} must match",
            li.shape, ls.shape
        )));
    }
    check_gather_shape(op, &li.shape, shape, dim)?;
    // the source has the index's shape: one invocation per index entry
    let k = Kernel::new(&SCATTER_ADD).with("DT", dt);
    accumulate(k, shape, dim, (idx, li), (src, ls), || {
        gather_params(op, li, dim, shape[dim], (&ls.strides, ls.offset))
    })
}
