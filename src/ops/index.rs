//! Index ops: index_select, gather, scatter_add, masked_fill, masked_select.

use crate::backend;
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::{norm_dim, Layout};
use crate::storage::Storage;
use crate::tensor::Tensor;

use super::check_device;

/// A backend primitive that adds `src` at `idx` along `dim` into a zero tensor of `shape`
/// (`backend::index_add`, `backend::scatter_add`).
type AddAt = fn(&[usize], usize, &Storage, &Layout, &Storage, &Layout) -> Result<Storage>;

/// The zero tensor of `shape` with `src` added at `idx` along `dim` by `add`, without history.
fn added_at(add: AddAt, shape: &[usize], dim: usize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
    let s = add(
        shape,
        dim,
        &idx.storage(),
        idx.layout(),
        &src.storage(),
        src.layout(),
    )?;
    // sums in the source's dtype (a narrow integer's wrap at the caller's add)
    Ok(Tensor::from_contiguous(s, shape).tagged(src.dtype()))
}

fn check_index(op: &str, idx: &Tensor) -> Result<()> {
    ensure!(
        idx.dtype().is_int(),
        DType,
        "{op}: expected an integer (int64) index tensor, got {} of shape {:?}",
        idx.dtype(),
        idx.shape()
    );
    Ok(())
}

impl Tensor {
    /// Entries `idx` (1-D int64) along `dim`.
    pub fn index_select(&self, dim: isize, idx: &Tensor) -> Result<Tensor> {
        check_index("index_select", idx)?;
        check_device("index_select", self, idx)?;
        let idx = if idx.ndim() == 0 {
            idx.reshape(&[1])?
        } else {
            idx.clone()
        };
        ensure!(
            idx.ndim() == 1,
            Shape,
            "index_select: index must be 1-D, got shape {:?}",
            idx.shape()
        );
        let x = if self.ndim() == 0 {
            self.reshape(&[1])?
        } else {
            self.clone()
        };
        let d = norm_dim(dim, x.ndim(), "index_select")?;
        if self.ndim() == 0 && idx.numel() == 1 {
            // PyTorch keeps a scalar a scalar
            return x.index_select(d as isize, &idx)?.reshape(&[]);
        }
        let s = backend::index_select(&x.storage(), x.layout(), d, &idx.storage(), idx.layout())?;
        let mut shape = x.shape().to_vec();
        shape[d] = idx.numel();
        let in_shape = x.shape().to_vec();
        let i = idx.detach();
        Ok(
            Tensor::from_op(s, &shape, "index_select", &[&x], &[&idx], move |g| {
                if crate::autograd::is_creating_graph() {
                    // differentiable again: the adjoint as an op with its own rule
                    let z = Tensor::zeros(&in_shape, g.dtype(), g.device())?;
                    return Ok(vec![Some(z.index_add(d as isize, &i, g)?)]);
                }
                Ok(vec![Some(added_at(
                    backend::index_add,
                    &in_shape,
                    d,
                    &i,
                    g,
                )?)])
            })
            .tagged(self.dtype()),
        )
    }

    /// `out[p] = self[p with dim replaced by idx[p]]` (idx has self's rank).
    pub fn gather(&self, dim: isize, idx: &Tensor) -> Result<Tensor> {
        check_index("gather", idx)?;
        check_device("gather", self, idx)?;
        let d = norm_dim(dim, self.ndim(), "gather")?;
        if self.ndim() == 0 || idx.ndim() == 0 {
            // a scalar input or index: gather over the one-element 1-d views, as PyTorch
            ensure!(
                self.ndim() == idx.ndim(),
                Shape,
                "gather: index of shape {:?} must have as many dims as the input {:?}",
                idx.shape(),
                self.shape()
            );
            return self
                .reshape(&[1])?
                .gather(0, &idx.reshape(&[1])?)?
                .reshape(&[]);
        }
        let s = backend::gather(
            &self.storage(),
            self.layout(),
            d,
            &idx.storage(),
            idx.layout(),
        )?;
        let in_shape = self.shape().to_vec();
        let i = idx.detach();
        Ok(
            Tensor::from_op(s, idx.shape(), "gather", &[self], &[idx], move |g| {
                if crate::autograd::is_creating_graph() {
                    let z = Tensor::zeros(&in_shape, g.dtype(), g.device())?;
                    return Ok(vec![Some(z.scatter_add(d as isize, &i, g)?)]);
                }
                Ok(vec![Some(added_at(
                    backend::scatter_add,
                    &in_shape,
                    d,
                    &i,
                    g,
                )?)])
            })
            .tagged(self.dtype()),
        )
    }

    /// A copy of self with `src[p]` added at `p with dim replaced by idx[p]` (out of place).
    pub fn scatter_add(&self, dim: isize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            // bools add as a logical or (as PyTorch): counted in int64
            let sum =
                self.to_dtype(DType::I64)?
                    .scatter_add(dim, idx, &src.to_dtype(DType::I64)?)?;
            return sum.to_dtype(DType::Bool);
        }
        check_index("scatter_add", idx)?;
        check_device("scatter_add", self, idx)?;
        check_device("scatter_add", self, src)?;
        let d = norm_dim(dim, self.ndim(), "scatter_add")?;
        if self.ndim() == 0 && idx.ndim() == 0 && src.ndim() <= 1 && src.numel() >= 1 {
            let src1 = src.reshape(&[src.numel()])?.narrow(0, 0, 1)?;
            return self
                .reshape(&[1])?
                .scatter_add(0, &idx.reshape(&[1])?, &src1)?
                .reshape(&[]);
        }
        // as PyTorch: same rank, the index no larger than the source (which is read over the
        // index's extent) nor than self outside `dim`
        if idx.ndim() != src.ndim()
            || idx.ndim() != self.ndim()
            || idx.shape().iter().zip(src.shape()).any(|(i, s)| i > s)
            || idx
                .shape()
                .iter()
                .zip(self.shape())
                .enumerate()
                .any(|(k, (i, s))| k != d && i > s)
        {
            return Err(Error::Shape(format!(
                "scatter_add: index of shape {:?} must have the rank of self {:?} and source {:?} and be no larger than the source (nor than self outside dim {d})",
                idx.shape(),
                self.shape(),
                src.shape()
            )));
        }
        let mut src = src.to_dtype(self.dtype())?;
        for (k, (&i, &s)) in idx
            .shape()
            .iter()
            .zip(src.shape().to_vec().iter())
            .enumerate()
        {
            if i < s {
                src = src.narrow(k as isize, 0, i)?;
            }
        }
        let src = src.contiguous()?;
        let added = added_at(backend::scatter_add, self.shape(), d, idx, &src)?;
        let i = idx.detach();
        let added = added.with_rule("scatter_add", &[&src], &[idx], move |g| {
            Ok(vec![Some(g.gather(d as isize, &i)?)])
        });
        self.add(&added)
    }

    /// A copy of self with the rows `src` (1-D int64 `idx` along `dim`) added, as PyTorch's
    /// `index_add` (duplicate indices add up).
    pub fn index_add(&self, dim: isize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            // bools add as a logical or (as PyTorch): counted in int64
            let sum = self
                .to_dtype(DType::I64)?
                .index_add(dim, idx, &src.to_dtype(DType::I64)?)?;
            return sum.to_dtype(DType::Bool);
        }
        check_index("index_add", idx)?;
        check_device("index_add", self, idx)?;
        check_device("index_add", self, src)?;
        let d = norm_dim(dim, self.ndim().max(1), "index_add")?;
        let idx = if idx.ndim() == 0 {
            idx.reshape(&[1])?
        } else {
            idx.clone()
        };
        let mut want = self.shape().to_vec();
        if want.is_empty() {
            want.push(1);
        }
        ensure!(
            idx.ndim() == 1,
            Shape,
            "index_add: index must be 1-D, got shape {:?}",
            idx.shape()
        );
        want[d] = idx.numel();
        let src_shape: Vec<usize> = if src.ndim() == 0 {
            vec![1]
        } else {
            src.shape().to_vec()
        };
        ensure!(
            src_shape == want,
            Shape,
            "index_add: source of shape {:?} does not match {want:?} (self {:?}, {} indices along dim {d})",
            src.shape(),
            self.shape(),
            idx.numel()
        );
        let size = self.shape().get(d).copied().unwrap_or(1) as i64;
        if idx.to_i64_vec()?.iter().any(|&i| i < 0 || i >= size) {
            return Err(Error::Index(format!(
                "index_add: index out of range for dimension {d} with size {size}"
            )));
        }
        let src = src.to_dtype(self.dtype())?.reshape(&want)?;
        let mut full = self.shape().to_vec();
        if full.is_empty() {
            full.push(1);
        }
        let i = idx.detach();
        let added = added_at(backend::index_add, &full, d, &idx, &src)?.with_rule(
            "index_add",
            &[&src],
            &[&idx],
            move |g| Ok(vec![Some(g.index_select(d as isize, &i)?)]),
        );
        self.add(&added.reshape(self.shape())?)
    }

    /// A copy of self with the elements at row-major positions `pos` replaced by `vals` (1-D,
    /// one per position), or incremented by them with `accumulate`. Differentiable in both.
    /// A position given twice takes its last value, as a sequential assignment would.
    pub fn index_put_flat(&self, pos: &[i64], vals: &Tensor, accumulate: bool) -> Result<Tensor> {
        let n = self.numel();
        if let Some(&bad) = pos.iter().find(|&&p| p < 0 || p as usize >= n) {
            return Err(Error::Index(format!(
                "index_put: position {bad} is out of range for a tensor of shape {:?}",
                self.shape()
            )));
        }
        ensure!(
            vals.shape() == [pos.len()],
            Shape,
            "index_put: {} values for {} positions",
            vals.numel(),
            pos.len()
        );
        let flat = self.reshape(&[n])?;
        let dev = self.device();
        if accumulate {
            let idx = Tensor::from_i64(pos.to_vec(), &[pos.len()])?.to_device(dev)?;
            return flat.index_add(0, &idx, vals)?.reshape(self.shape());
        }
        // the last write to each position wins
        let mut last = vec![usize::MAX; n];
        for (k, &p) in pos.iter().enumerate() {
            last[p as usize] = k;
        }
        // each position reads the value that wins it (a copy: the values keep their sign bits,
        // -0.0 included); positions nobody writes read value 0 and are not taken below
        let src: Vec<i64> = last
            .iter()
            .map(|&k| if k == usize::MAX { 0 } else { k as i64 })
            .collect();
        let hit: Vec<bool> = last.iter().map(|&k| k != usize::MAX).collect();
        // every value's gradient is the output's gradient at its position, a value overwritten
        // by a later one at the same position included (PyTorch's index_put backward)
        let put = if pos.is_empty() {
            Tensor::zeros(&[n], self.dtype(), dev)?
        } else {
            let _g = crate::autograd::NoGradGuard::new();
            vals.index_select(0, &Tensor::from_i64(src, &[n])?.to_device(dev)?)?
        };
        // the positions become a tensor only when a backward runs (no upload on the forward)
        let all = pos.to_vec();
        let put = put.with_rule("index_put", &[vals], &[], move |g| {
            let at = Tensor::from_i64(all.clone(), &[all.len()])?.to_device(g.device())?;
            Ok(vec![Some(g.index_select(0, &at)?)])
        });
        let hit = Tensor::from_cpu(crate::storage::CpuStorage::Bool(hit), &[n])?.to_device(dev)?;
        Tensor::where_cond(&hit, &put, &flat)?.reshape(self.shape())
    }

    /// Makes this tensor a leaf that needs no gradient, in place (PyTorch's `detach_`).
    pub fn detach_in_place(&self) -> Result<()> {
        if self.view_base().is_some() && self.grad_fn().is_some() {
            return Err(Error::Runtime(
                "detach_: can't detach views in-place; use detach() instead".into(),
            ));
        }
        self.set_history(None);
        Ok(())
    }

    /// `value` where `mask` is true, self elsewhere (the two broadcast together).
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        crate::dtype::check_fits("masked_fill", value, self.dtype())?;
        let out = {
            ensure!(
                mask.dtype() == DType::Bool,
                DType,
                "masked_fill: mask must be bool, got {}",
                mask.dtype()
            );
            crate::ops::check_device("masked_fill", self, mask)?;
            // out of place, self and mask broadcast together, as PyTorch's
            crate::shape::broadcast_shapes(self.shape(), mask.shape(), "masked_fill")?;
            let v = self.scalar_like(value)?;
            let out = Tensor::where_cond(mask, &v, self)?;
            Ok(out)
        }?;
        Ok(out.label_grad_fn("MaskedFillBackward0", &[self]))
    }

    /// The elements where `mask` (broadcast to self's shape) is true, as a 1-D tensor.
    pub fn masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        ensure!(
            mask.dtype() == DType::Bool,
            DType,
            "masked_select: mask must be bool, got {}",
            mask.dtype()
        );
        let shape = crate::shape::broadcast_shapes(self.shape(), mask.shape(), "masked_select")?;
        let m = mask.expand(&shape)?.to_f64_vec()?;
        let idx: Vec<i64> = m
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != 0.0)
            .map(|(i, _)| i as i64)
            .collect();
        let n = idx.len();
        let it = Tensor::from_i64(idx, &[n])?.to_device(self.device())?;
        self.expand(&shape)?
            .reshape(&[shape.iter().product()])?
            .index_select(0, &it)
    }

    /// Indices of nonzero elements, shape `(count, ndim)`.
    pub fn nonzero(&self) -> Result<Tensor> {
        let v = self.to_f64_vec()?;
        let strides = crate::shape::contiguous_strides(self.shape());
        let mut out = Vec::new();
        let mut count = 0;
        for (i, &x) in v.iter().enumerate() {
            if x != 0.0 {
                count += 1;
                for (d, &s) in strides.iter().enumerate() {
                    out.push(((i / s) % self.shape()[d].max(1)) as i64);
                }
            }
        }
        Tensor::from_i64(out, &[count, self.ndim()])?.to_device(self.device())
    }
}
