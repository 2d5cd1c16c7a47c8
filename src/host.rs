//! Copies between tensors and host buffers their caller owns (a numpy array, an MPI message),
//! and lending a CPU tensor's own memory out: what `rustdl.distributed` moves data with.
//!
//! Every copy here is one pass over the elements: a tensor's elements are gathered straight into
//! the caller's slice (a GPU tensor is read back first), and a slice is scattered straight into a
//! tensor's storage in its layout (a GPU tensor gets one upload). Lending skips even that: a
//! contiguous CPU tensor's elements are handed out as a raw pointer under a [`StoragePin`], which
//! keeps the buffer alive and in place until dropped.

use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, RwLock};

use crate::autograd::NoGradGuard;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{for_each_row, Layout};
use crate::storage::{CpuStorage, Storage};
use crate::tensor::Tensor;

/// An element type a host buffer can hold: one of the storage dtypes that MPI reduces.
pub trait HostElem: Copy + Send + Sync + 'static {
    /// The tensor dtype of this element type.
    const DTYPE: DType;
    /// Zero of this type (a missing gradient's value).
    const ZERO: Self;
    /// The elements of `c` when it holds this type.
    fn slice(c: &CpuStorage) -> Option<&[Self]>;
    /// The elements of `c`, writable, when it holds this type.
    fn slice_mut(c: &mut CpuStorage) -> Option<&mut [Self]>;
    /// Host storage over `v`.
    fn wrap(v: Vec<Self>) -> CpuStorage;
    /// `x / d` (the average of a sum over `d` ranks).
    fn div(x: Self, d: usize) -> Self;
}

macro_rules! host_elem {
    ($t:ty, $variant:ident, $zero:expr, $div:expr) => {
        impl HostElem for $t {
            const DTYPE: DType = DType::$variant;
            const ZERO: Self = $zero;
            fn slice(c: &CpuStorage) -> Option<&[Self]> {
                match c {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(c: &mut CpuStorage) -> Option<&mut [Self]> {
                match c {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
            fn div(x: Self, d: usize) -> Self {
                $div(x, d)
            }
        }
    };
}

// the division is the one numpy does on the array (`flat /= n`): bit for bit the same average
host_elem!(f32, F32, 0.0, |x: f32, d: usize| x / d as f32);
host_elem!(f64, F64, 0.0, |x: f64, d: usize| x / d as f64);
host_elem!(i64, I64, 0, |x: i64, d: usize| x / d as i64);
host_elem!(bool, Bool, false, |x: bool, _d: usize| x);

/// Storages whose memory is lent out (keyed by the address of their shared cell), with a count:
/// their buffer must not be replaced while any borrower may still read or write it.
static PINNED: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

fn pins() -> std::sync::MutexGuard<'static, Option<HashMap<usize, usize>>> {
    PINNED.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(s: &Arc<RwLock<Storage>>) -> usize {
    Arc::as_ptr(s) as usize
}

/// Keeps a storage's host buffer alive and where it is while memory of it is lent out:
/// `Tensor::set_data` (the one write that replaces a buffer) refuses a pinned storage.
pub struct StoragePin {
    storage: Arc<RwLock<Storage>>,
}

impl StoragePin {
    /// Pins `storage`; the caller holds its write lock, so no replacement can slip in between.
    fn new(storage: Arc<RwLock<Storage>>) -> StoragePin {
        *pins()
            .get_or_insert_with(HashMap::new)
            .entry(key(&storage))
            .or_insert(0) += 1;
        StoragePin { storage }
    }
}

impl Drop for StoragePin {
    fn drop(&mut self) {
        let mut guard = pins();
        if let Some(map) = guard.as_mut() {
            let k = key(&self.storage);
            if let Some(n) = map.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&k);
                }
            }
        }
    }
}

/// True while memory of `storage` is lent out.
pub(crate) fn is_pinned(storage: &Arc<RwLock<Storage>>) -> bool {
    pins()
        .as_ref()
        .is_some_and(|m| m.get(&key(storage)).is_some_and(|&n| n > 0))
}

/// Calls `f(i, storage_index)` for the `i`-th element (row-major) of `l`, in order.
fn walk(l: &Layout, mut f: impl FnMut(usize, usize)) {
    let n = l.numel();
    if n == 0 {
        return;
    }
    if l.is_contiguous() {
        for i in 0..n {
            f(i, l.offset + i);
        }
        return;
    }
    let nd = l.ndim();
    let (inner, step) = (l.shape[nd - 1], l.strides[nd - 1]);
    for_each_row(
        &l.shape,
        [&l.strides],
        [l.offset],
        0,
        n / inner,
        |r, [o]| {
            for j in 0..inner {
                f(r * inner + j, o + j * step);
            }
        },
    );
}

impl Tensor {
    fn check_host_dtype<T: HostElem>(&self, op: &str) -> Result<()> {
        if self.dtype() != T::DTYPE {
            return Err(Error::DType(format!(
                "{op}: a {} tensor of shape {:?} does not fit a {} buffer",
                self.dtype(),
                self.shape(),
                T::DTYPE
            )));
        }
        Ok(())
    }

    fn check_host_len(&self, len: usize, op: &str) -> Result<()> {
        if len != self.numel() {
            return Err(Error::Shape(format!(
                "{op}: a buffer of {len} elements for a tensor of shape {:?} ({} elements)",
                self.shape(),
                self.numel()
            )));
        }
        Ok(())
    }

    /// Copies the elements, row-major, into `dst` (one pass on the CPU; a GPU tensor is read
    /// back first). `dst` holds exactly `numel()` elements of this dtype.
    pub fn read_into<T: HostElem>(&self, dst: &mut [T], op: &str) -> Result<()> {
        self.check_host_dtype::<T>(op)?;
        self.check_host_len(dst.len(), op)?;
        let storage = self.storage();
        let Storage::Cpu(c) = &*storage else {
            drop(storage);
            let host = self.to_cpu_storage()?;
            let src = T::slice(&host).ok_or_else(|| dtype_mismatch(op))?;
            dst.copy_from_slice(src);
            return Ok(());
        };
        let src = T::slice(c).ok_or_else(|| dtype_mismatch(op))?;
        let l = self.layout();
        if l.span() > src.len() {
            return Err(out_of_storage(l, src.len(), op));
        }
        if l.is_contiguous() {
            dst.copy_from_slice(&src[l.dense_range()]);
        } else {
            walk(l, |i, s| dst[i] = src[s]);
        }
        Ok(())
    }

    /// Writes `src` (row-major, `numel()` elements of this dtype) into this tensor's memory in
    /// place, as a `copy_` under `no_grad` does: views of the storage see it, and the version
    /// counter is bumped. One pass on the CPU; one upload to a GPU tensor.
    pub fn write_host<T: HostElem>(&self, src: &[T], op: &'static str) -> Result<()> {
        self.check_host_dtype::<T>(op)?;
        self.check_host_len(src.len(), op)?;
        {
            let _no_grad = NoGradGuard::new();
            self.check_inplace(op)?;
        }
        if self.device().is_gpu() {
            let staged = Tensor::from_cpu(T::wrap(src.to_vec()), self.shape())?;
            let _no_grad = NoGradGuard::new();
            return self.write_from(&staged.to_device(self.device())?, op);
        }
        {
            let mut storage = self.storage_mut();
            let Storage::Cpu(c) = &mut *storage else {
                return Err(Error::Device(format!(
                    "{op}: the tensor moved off the CPU during the write"
                )));
            };
            let dst = T::slice_mut(c).ok_or_else(|| dtype_mismatch(op))?;
            let l = self.layout();
            if l.span() > dst.len() {
                return Err(out_of_storage(l, dst.len(), op));
            }
            if l.is_contiguous() {
                dst[l.dense_range()].copy_from_slice(src);
            } else {
                walk(l, |i, s| dst[s] = src[i]);
            }
        }
        self.version().bump(op);
        Ok(())
    }

    /// A new tensor of `shape` on `device` holding `src / divisor`, computed in the one copy
    /// out of `src` (an averaged gradient out of a reduced bucket).
    pub fn from_host_divided<T: HostElem>(
        src: &[T],
        divisor: usize,
        shape: &[usize],
        device: crate::Device,
    ) -> Result<Tensor> {
        crate::backend::reserve(src.len(), T::DTYPE, crate::Device::Cpu, "gradient unpack")?;
        let v: Vec<T> = if divisor == 1 {
            src.to_vec()
        } else {
            src.iter().map(|&x| T::div(x, divisor)).collect()
        };
        Tensor::from_cpu(T::wrap(v), shape)?.to_device(device)
    }

    /// Lends this tensor's memory: a pin and a pointer to its first element, when it is a CPU
    /// tensor of `T` whose elements are one dense row-major run; `None` otherwise (and for an
    /// empty tensor).
    ///
    /// The pointer stays valid for `numel()` elements while the pin lives: the pin keeps the
    /// storage alive and [`Tensor::set_data`] refuses to replace its buffer. Writes through the
    /// pointer bypass the storage lock, so the borrower must be the only one touching these
    /// elements meanwhile (the same contract as a numpy view of a PyTorch tensor), and calls
    /// [`crate::autograd::Version`]'s bump (`mark_written`) after writing.
    pub fn lend_host<T: HostElem>(&self) -> Option<(StoragePin, NonNull<T>)> {
        if !self.is_contiguous() {
            return None;
        }
        self.lend_host_strided::<T>()
            .map(|(pin, ptr, _)| (pin, ptr))
    }

    /// [`Tensor::lend_host`] for any layout: the pinned storage, the address of the tensor's
    /// first element and its strides (in elements), for a non-empty CPU tensor of `T`.
    pub fn lend_host_strided<T: HostElem>(&self) -> Option<(StoragePin, NonNull<T>, Vec<usize>)> {
        if self.numel() == 0 || self.dtype() != T::DTYPE {
            return None;
        }
        let mut storage = self.storage_mut();
        let Storage::Cpu(c) = &mut *storage else {
            return None;
        };
        let l = self.layout();
        let data = T::slice_mut(c)?;
        if l.span() > data.len() {
            return None;
        }
        let ptr = NonNull::new(data[l.offset..].as_mut_ptr())?;
        // pinned under the write lock: `set_data` cannot replace the buffer after we read it
        let pin = StoragePin::new(self.storage_arc());
        drop(storage);
        Some((pin, ptr, l.strides.clone()))
    }

    /// Records a write made through lent memory (bumps the version counter, as every in-place
    /// write does, so autograd refuses a graph that saved the old values).
    pub fn mark_written(&self, op: &'static str) {
        self.version().bump(op);
    }

    /// Moves this CPU tensor's storage into shared memory, in place (views and every other
    /// handle see it; the values are unchanged): a child process made by `fork` then writes the
    /// same memory, and another process can map it from [`Tensor::shared_handle`]. A no-op for
    /// a GPU tensor, an empty one, or one already shared.
    pub fn share_memory(&self) -> Result<()> {
        if self.device().is_gpu() {
            return Ok(());
        }
        let mut storage = self.storage_mut();
        let Storage::Cpu(c) = &mut *storage else {
            return Ok(());
        };
        if crate::host::is_pinned(&self.storage_arc()) {
            return Err(Error::Runtime(format!(
                "share_memory_: the storage of this tensor (shape {:?}) is lent out (a numpy view \
                 or a collective in progress); share it before lending it",
                self.shape()
            )));
        }
        macro_rules! move_to_shared {
            ($v:expr) => {{
                let v = $v;
                if v.is_empty() || crate::shm::shared_handle(v.as_ptr().cast()).is_some() {
                    return Ok(());
                }
                let Some(mut fresh) = crate::shm::shared_vec(v.len()) else {
                    return Err(Error::Memory(format!(
                        "share_memory_: cannot map {} shared elements for a tensor of shape {:?}",
                        v.len(),
                        self.shape()
                    )));
                };
                fresh.copy_from_slice(v);
                *v = fresh;
            }};
        }
        match c {
            CpuStorage::F32(v) => move_to_shared!(v),
            CpuStorage::F64(v) => move_to_shared!(v),
            CpuStorage::I64(v) => move_to_shared!(v),
            CpuStorage::Bool(v) => move_to_shared!(v),
        }
        Ok(())
    }

    /// `(pid, fd, storage elements)` naming this tensor's shared storage for another process,
    /// None when it is not in shared memory (see [`Tensor::share_memory`]).
    pub fn shared_handle(&self) -> Option<(i32, i32, usize)> {
        let storage = self.storage();
        let Storage::Cpu(c) = &*storage else {
            return None;
        };
        let (ptr, len): (*const u8, usize) = match c {
            CpuStorage::F32(v) => (v.as_ptr().cast(), v.len()),
            CpuStorage::F64(v) => (v.as_ptr().cast(), v.len()),
            CpuStorage::I64(v) => (v.as_ptr().cast(), v.len()),
            CpuStorage::Bool(v) => (v.as_ptr().cast(), v.len()),
        };
        if len == 0 {
            return None;
        }
        crate::shm::shared_handle(ptr).map(|(pid, fd, _)| (pid, fd, len))
    }

    /// A tensor over process `pid`'s shared storage `fd` of `len` elements of `dtype`, viewed with
    /// `layout` (checked against the storage), as [`Tensor::shared_handle`] named it.
    pub fn from_shared(
        pid: i32,
        fd: i32,
        dtype: DType,
        len: usize,
        layout: Layout,
    ) -> Result<Tensor> {
        if layout.numel() > 0 && layout.span() > len {
            return Err(Error::Value(format!(
                "from_shared: a view of shape {:?}, strides {:?} and offset {} reaches past the {len} \
                 elements of the shared storage",
                layout.shape, layout.strides, layout.offset
            )));
        }
        let c = match dtype.storage() {
            DType::F32 => CpuStorage::F32(crate::shm::attach_vec(len, pid, fd)?),
            DType::F64 => CpuStorage::F64(crate::shm::attach_vec(len, pid, fd)?),
            DType::I64 | DType::U8 | DType::I8 | DType::I16 | DType::I32 => {
                CpuStorage::I64(crate::shm::attach_vec(len, pid, fd)?)
            }
            DType::Bool => CpuStorage::Bool(crate::shm::attach_vec(len, pid, fd)?),
        };
        Ok(Tensor::from_storage(Storage::Cpu(c), layout))
    }
}

fn dtype_mismatch(op: &str) -> Error {
    Error::DType(format!(
        "{op}: the storage does not hold the tensor's dtype"
    ))
}

fn out_of_storage(l: &Layout, len: usize, op: &str) -> Error {
    Error::Runtime(format!(
        "{op}: layout {:?} (strides {:?}, offset {}) reaches past its storage of {len} elements",
        l.shape, l.strides, l.offset
    ))
}

/// Packs the gradients of `params` into `dst`, one after another in row-major order (zeros for
/// a parameter without a gradient): one pass per gradient. `dst` must hold exactly the
/// parameters' elements, and every gradient must have `T`'s dtype.
pub fn pack_grads<T: HostElem>(params: &[Tensor], dst: &mut [T], op: &str) -> Result<()> {
    let total = params
        .iter()
        .try_fold(0usize, |acc, p| acc.checked_add(p.numel()));
    if total != Some(dst.len()) {
        return Err(Error::Shape(format!(
            "{op}: a buffer of {} elements for gradients of shapes {:?}",
            dst.len(),
            params
                .iter()
                .map(|p| p.shape().to_vec())
                .collect::<Vec<_>>()
        )));
    }
    let mut rest = dst;
    for p in params {
        let (part, tail) = rest.split_at_mut(p.numel());
        rest = tail;
        match p.grad() {
            Some(g) => {
                if g.shape() != p.shape() {
                    return Err(Error::Shape(format!(
                        "{op}: a gradient of shape {:?} for a parameter of shape {:?}",
                        g.shape(),
                        p.shape()
                    )));
                }
                g.read_into(part, op)?;
            }
            None => {
                p.check_host_dtype::<T>(op)?;
                part.fill(T::ZERO);
            }
        }
    }
    Ok(())
}

/// Gives every parameter of `params` whose `used` flag is set a new gradient: its slice of
/// `src` (laid out as [`pack_grads`] packs) divided by `divisor`, on the parameter's device, in
/// one copy out of `src`. The others keep theirs.
pub fn unpack_grads<T: HostElem>(
    params: &[Tensor],
    src: &[T],
    divisor: usize,
    used: &[bool],
    op: &str,
) -> Result<()> {
    let total = params
        .iter()
        .try_fold(0usize, |acc, p| acc.checked_add(p.numel()));
    if total != Some(src.len()) || used.len() != params.len() {
        return Err(Error::Shape(format!(
            "{op}: a buffer of {} elements and {} flags for {} gradients of shapes {:?}",
            src.len(),
            used.len(),
            params.len(),
            params
                .iter()
                .map(|p| p.shape().to_vec())
                .collect::<Vec<_>>()
        )));
    }
    if divisor == 0 {
        return Err(Error::Value(format!("{op}: cannot divide by 0 ranks")));
    }
    let mut offset = 0;
    for (p, &on) in params.iter().zip(used) {
        let n = p.numel();
        if on {
            p.check_host_dtype::<T>(op)?;
            let g = Tensor::from_host_divided(
                &src[offset..offset + n],
                divisor,
                p.shape(),
                p.device(),
            )?;
            p.set_grad(Some(g))?;
        }
        offset += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;

    fn grid() -> Tensor {
        let v: Vec<f32> = (0..12).map(|i| i as f32).collect();
        Tensor::from_f32(v, &[3, 4]).unwrap()
    }

    #[test]
    fn read_into_gathers_strided_views() {
        let t = grid().transpose(0, 1).unwrap();
        let mut out = vec![0f32; 12];
        t.read_into(&mut out, "test").unwrap();
        assert_eq!(out, t.contiguous().unwrap().to_f32_vec().unwrap());
        let mut wrong = vec![0f64; 12];
        assert!(matches!(
            t.read_into(&mut wrong, "test"),
            Err(Error::DType(_))
        ));
        let mut short = vec![0f32; 5];
        assert!(matches!(
            t.read_into(&mut short, "test"),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn write_host_scatters_in_place_and_bumps_the_version() {
        let base = grid();
        let col = base.select(1, 2).unwrap(); // strided: elements 2, 6, 10
        let before = base.version().get();
        col.write_host(&[-1f32, -2.0, -3.0], "test").unwrap();
        let v = base.to_f32_vec().unwrap();
        assert_eq!((v[2], v[6], v[10], v[3]), (-1.0, -2.0, -3.0, 3.0));
        assert!(base.version().get() > before);
    }

    #[test]
    fn pack_and_unpack_round_trip_with_zeros_for_missing_grads() {
        let p = Tensor::zeros(&[2, 2], DType::F32, Device::Cpu).unwrap();
        let q = Tensor::zeros(&[3], DType::F32, Device::Cpu).unwrap();
        p.set_grad(Some(
            Tensor::full(&[2, 2], 4.0, DType::F32, Device::Cpu).unwrap(),
        ))
        .unwrap();
        let params = [p.clone(), q.clone()];
        let mut flat = vec![f32::NAN; 7];
        pack_grads(&params, &mut flat, "test").unwrap();
        assert_eq!(flat, [4.0, 4.0, 4.0, 4.0, 0.0, 0.0, 0.0]);
        assert!(pack_grads(&params, &mut [0f32; 6], "test").is_err());
        unpack_grads(&params, &flat, 2, &[true, false], "test").unwrap();
        assert_eq!(p.grad().unwrap().to_f32_vec().unwrap(), [2.0; 4]);
        assert!(q.grad().is_none());
        assert!(unpack_grads(&params, &flat, 0, &[true, true], "test").is_err());
    }

    #[test]
    fn lent_memory_is_pinned_until_the_pin_drops() {
        let base = grid();
        let row = base.select(0, 1).unwrap(); // contiguous at offset 4
        let (pin, ptr) = row.lend_host::<f32>().unwrap();
        // SAFETY: 4 elements lent, pinned by `pin`, and nothing else touches them here
        unsafe { *ptr.as_ptr() = 99.0 };
        assert_eq!(base.to_f32_vec().unwrap()[4], 99.0);
        let fresh = Tensor::zeros(&[3, 4], DType::F32, Device::Cpu).unwrap();
        assert!(base.set_data(&fresh).is_err());
        drop(pin);
        base.set_data(&fresh).unwrap();
        assert!(base.transpose(0, 1).unwrap().lend_host::<f32>().is_none());
        assert!(base.lend_host::<f64>().is_none());
    }
}
