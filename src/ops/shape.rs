//! Shape ops: views that share storage (reshape, permute, expand, slice, ...) and copies (cat, repeat).

use crate::device::Device;
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::{norm_dim, Layout};
use crate::tensor::Tensor;

impl Tensor {
    /// Resolves one `-1` in a requested shape; the error names both shapes.
    pub fn infer_shape(&self, shape: &[isize], op: &str) -> Result<Vec<usize>> {
        let n = self.numel();
        let mut known = 1usize;
        let mut free = None;
        for (i, &s) in shape.iter().enumerate() {
            if s == -1 {
                if free.is_some() {
                    return Err(Error::Shape(format!(
                        "{op}: only one dimension can be inferred, got {shape:?}"
                    )));
                }
                free = Some(i);
            } else if s < 0 {
                return Err(Error::Shape(format!(
                    "{op}: invalid shape dimension {s} in {shape:?}"
                )));
            } else {
                known = known.checked_mul(s as usize).ok_or_else(|| {
                    Error::Shape(format!(
                        "{op}: shape {shape:?} has too many elements (the element count overflows)"
                    ))
                })?;
            }
        }
        let mut out: Vec<usize> = shape.iter().map(|&s| s.max(0) as usize).collect();
        if let Some(i) = free {
            if known == 0 || !n.is_multiple_of(known) {
                return Err(Error::Shape(format!(
                    "{op}: shape {shape:?} is invalid for input of shape {:?} ({n} elements)",
                    self.shape()
                )));
            }
            out[i] = n / known;
        } else if known != n {
            return Err(Error::Shape(format!(
                "{op}: shape {shape:?} is invalid for input of shape {:?} ({n} elements)",
                self.shape()
            )));
        }
        Ok(out)
    }

    /// Fails unless `shape` holds as many elements as `self` (`op` names the op).
    fn check_numel_for(&self, shape: &[usize], op: &str) -> Result<()> {
        let n = crate::shape::checked_numel(shape, op)?;
        ensure!(
            n == self.numel(),
            Shape,
            "{op}: shape {shape:?} is invalid for input of shape {:?} ({} elements)",
            self.shape(),
            self.numel()
        );
        Ok(())
    }

    /// Reshape to `shape` (a view when the layout allows, else a copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        self.check_numel_for(shape, "reshape")?;
        if shape == self.shape() {
            return Ok(self.clone());
        }
        match self.layout().reshape_view(shape) {
            Some(l) => self.view_layout(l),
            None => {
                // a copy, not a view of one (PyTorch's `_unsafe_view`): no `_base`, so
                // `detach_()` and the in-place shape ops treat it as the new tensor it is
                let c = self.contiguous()?;
                let in_shape = c.shape().to_vec();
                let out = c.with_layout(Layout::contiguous(shape));
                Ok(out.with_rule("view", &[&c], &[], move |g| {
                    Ok(vec![Some(g.reshape(&in_shape)?)])
                }))
            }
        }
    }

    /// Reshape that must be a view (PyTorch's `view`).
    pub fn view(&self, shape: &[usize]) -> Result<Tensor> {
        self.check_numel_for(shape, "view")?;
        match self.layout().reshape_view(shape) {
            Some(l) => self.view_layout(l),
            None => Err(Error::Runtime(format!(
                "view: size {shape:?} is not compatible with input of shape {:?} and strides {:?}; use reshape",
                self.shape(),
                self.strides()
            ))),
        }
    }

    fn view_layout(&self, l: Layout) -> Result<Tensor> {
        let in_shape = self.shape().to_vec();
        Ok(self.view_op(l, "view", move |g| Ok(vec![Some(g.reshape(&in_shape)?)])))
    }

    /// Reorders the dims (a view).
    pub fn permute(&self, dims: &[isize]) -> Result<Tensor> {
        ensure!(
            dims.len() == self.ndim(),
            Shape,
            "permute: got {} dims {dims:?} for a tensor of shape {:?}",
            dims.len(),
            self.shape()
        );
        let mut perm = Vec::with_capacity(dims.len());
        for &d in dims {
            let d = norm_dim(d, self.ndim(), "permute")?;
            if perm.contains(&d) {
                return Err(Error::Value(format!(
                    "permute: repeated dim {d} in {dims:?}"
                )));
            }
            perm.push(d);
        }
        let mut inv = vec![0isize; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i as isize;
        }
        let l = self.layout().permute(&perm);
        Ok(self.view_op(l, "permute", move |g| Ok(vec![Some(g.permute(&inv)?)])))
    }

    /// Swaps two dims (a view).
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let out = {
            // a 0-d tensor takes dims 0 and -1 only, as PyTorch
            let a = norm_dim(d0, self.ndim(), "transpose")?;
            let b = norm_dim(d1, self.ndim(), "transpose")?;
            // a 0-d tensor's transpose is still a view of its own (its node, hooks, grad)
            let mut perm: Vec<isize> = (0..self.ndim() as isize).collect();
            if self.ndim() > 0 {
                perm.swap(a, b);
            }
            self.permute(&perm)
        }?;
        Ok(out.label_grad_fn("TransposeBackward0", &[self]))
    }

    /// Transpose of a matrix (`.t()`); 0-d and 1-d tensors are returned as they are.
    pub fn t(&self) -> Result<Tensor> {
        let out = {
            if self.ndim() > 2 {
                return Err(Error::Shape(format!(
                    "t: expects a tensor with <= 2 dims, got shape {:?}",
                    self.shape()
                )));
            }
            if self.ndim() < 2 {
                // the identity view, with a node of its own, as PyTorch's TBackward0
                let same: Vec<isize> = (0..self.ndim() as isize).collect();
                self.permute(&same)
            } else {
                self.transpose(0, 1)
            }
        }?;
        Ok(out.label_grad_fn("TBackward0", &[self]))
    }

    /// Flattens dims `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        let s = norm_dim(start, self.ndim(), "flatten")?;
        let e = norm_dim(end, self.ndim(), "flatten")?;
        if self.ndim() == 0 {
            // dims 0 and -1 name the one element (checked above), as PyTorch
            return self.reshape(&[1]);
        }
        if s > e {
            return Err(Error::Value(format!(
                "flatten: start_dim {start} comes after end_dim {end}"
            )));
        }
        let mut shape: Vec<usize> = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }

    /// Removes every size-1 dim.
    pub fn squeeze_all(&self) -> Result<Tensor> {
        let shape: Vec<usize> = self.shape().iter().copied().filter(|&s| s != 1).collect();
        Ok(self
            .reshape(&shape)?
            .label_grad_fn("SqueezeBackward0", &[self]))
    }

    /// Removes `dim` if it has size 1 (else returns self), as PyTorch.
    pub fn squeeze_dim(&self, dim: isize) -> Result<Tensor> {
        let out = {
            let d = norm_dim(dim, self.ndim(), "squeeze")?;
            if self.ndim() == 0 {
                return Ok(self.clone());
            }
            if self.shape()[d] != 1 {
                return Ok(self.clone());
            }
            let mut shape = self.shape().to_vec();
            shape.remove(d);
            self.reshape(&shape)
        }?;
        Ok(out.label_grad_fn("SqueezeBackward1", &[self]))
    }

    /// Inserts a size-1 dim at `dim` (in `[-ndim-1, ndim]`).
    pub fn unsqueeze(&self, dim: isize) -> Result<Tensor> {
        let out = {
            let d = norm_dim(dim, self.ndim() + 1, "unsqueeze")?;
            let mut shape = self.shape().to_vec();
            shape.insert(d, 1);
            self.reshape(&shape)
        }?;
        Ok(out.label_grad_fn("UnsqueezeBackward0", &[self]))
    }

    /// Broadcasts to `shape` without copying (stride 0 on expanded dims).
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        crate::shape::checked_numel(shape, "expand")?;
        let l = self.layout().broadcast_to(shape, "expand")?;
        let in_shape = self.shape().to_vec();
        Ok(self.view_op(l, "expand", move |g| Ok(vec![Some(g.sum_to(&in_shape)?)])))
    }

    /// Tiles the tensor `reps` times along each dim (a copy), as PyTorch's `repeat`.
    pub fn repeat(&self, reps: &[usize]) -> Result<Tensor> {
        if reps.len() < self.ndim() {
            return Err(Error::Shape(format!(
                "repeat: number of repeat dims ({}) can not be smaller than the tensor's dims (shape {:?})",
                reps.len(),
                self.shape()
            )));
        }
        let lead = reps.len() - self.ndim();
        let mut padded = vec![1usize; lead];
        padded.extend_from_slice(self.shape());
        // (1, s0, 1, s1, ...) expanded to (r0, s0, r1, s1, ...) then merged
        let mut inter = Vec::new();
        let mut big = Vec::new();
        let mut out = Vec::new();
        for (i, &s) in padded.iter().enumerate() {
            inter.extend_from_slice(&[1, s]);
            big.extend_from_slice(&[reps[i], s]);
            out.push(reps[i] * s);
        }
        // always a copy (also when every rep is 1), as PyTorch's repeat
        self.reshape(&inter)?
            .expand(&big)?
            .deep_clone()?
            .reshape(&out)
    }

    /// Elements `start, start+step, ...` below `end` along `dim` (a view).
    pub fn slice(&self, dim: isize, start: usize, end: usize, step: usize) -> Result<Tensor> {
        need_dims(self, "slice")?;
        let d = norm_dim(dim, self.ndim(), "slice")?;
        if step == 0 {
            return Err(Error::Value("slice: step must be positive".into()));
        }
        let size = self.shape()[d];
        let end = end.min(size);
        let start = start.min(end);
        let len = (end - start).div_ceil(step);
        let mut l = self.layout().clone();
        // an empty view keeps its offset: it may not point past the end of an empty storage
        if len > 0 && self.numel() > 0 {
            l.offset += start * l.strides[d];
        }
        l.shape[d] = len;
        l.strides[d] *= step;
        let in_shape = self.shape().to_vec();
        let (dev, dt) = (self.device(), self.dtype());
        Ok(self.view_op(l, "slice", move |g| {
            let z = Tensor::zeros(&in_shape, dt, dev)?;
            z.slice(d as isize, start, end, step)?.copy_(g)?;
            Ok(vec![Some(z)])
        }))
    }

    /// `length` elements from `start` along `dim` (a view).
    pub fn narrow(&self, dim: isize, start: usize, length: usize) -> Result<Tensor> {
        need_dims(self, "narrow")?;
        let d = norm_dim(dim, self.ndim(), "narrow")?;
        if start + length > self.shape()[d] {
            return Err(Error::Index(format!(
                "narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {} (shape {:?})",
                self.shape()[d],
                self.shape()
            )));
        }
        self.slice(dim, start, start + length, 1)
    }

    /// The sub-tensor at `index` along `dim`, removing that dim (a view).
    pub fn select(&self, dim: isize, index: isize) -> Result<Tensor> {
        let out = {
            if self.ndim() == 0 {
                return Err(Error::Index(
                    "select: cannot be applied to a 0-dim tensor".into(),
                ));
            }
            let d = norm_dim(dim, self.ndim(), "select")?;
            let size = self.shape()[d] as isize;
            let i = if index < 0 { index + size } else { index };
            if i < 0 || i >= size {
                return Err(Error::Index(format!(
                    "select: index {index} is out of bounds for dimension {d} with size {size}"
                )));
            }
            self.slice(d as isize, i as usize, i as usize + 1, 1)?
                .squeeze_dim(d as isize)
        }?;
        Ok(out.label_grad_fn("SelectBackward0", &[self]))
    }

    /// Reverses the order along `dims` (a copy).
    pub fn flip(&self, dims: &[isize]) -> Result<Tensor> {
        let mut seen = Vec::with_capacity(dims.len());
        for &d in dims {
            let dd = norm_dim(d, self.ndim(), "flip")?;
            if seen.contains(&dd) {
                return Err(Error::Value(format!("flip: dims {dims:?} has duplicates")));
            }
            seen.push(dd);
        }
        if self.ndim() == 0 {
            // a scalar reads the same backwards (PyTorch accepts dim 0 / -1 here); a copy
            return self.deep_clone();
        }
        if self.numel() == 0 || seen.iter().all(|&d| self.shape()[d] <= 1) {
            // nothing moves: still a copy, as PyTorch's flip always is
            return self.deep_clone();
        }
        let mut out = self.clone();
        for &d in dims {
            let dd = norm_dim(d, self.ndim(), "flip")?;
            let n = self.shape()[dd];
            crate::backend::reserve(n, DType::I64, Device::Cpu, "flip")?;
            let idx: Vec<i64> = (0..n as i64).rev().collect();
            let it = Tensor::from_i64(idx, &[n])?.to_device(self.device())?;
            out = out.index_select(dd as isize, &it)?;
        }
        Ok(out.label_grad_fn("FlipBackward0", &[self]))
    }

    /// Joins tensors along `dim`; all other dims must match.
    pub fn cat(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        if tensors.is_empty() {
            return Err(Error::Value(
                "cat: expected a non-empty list of tensors".into(),
            ));
        }
        if let Some(i) = tensors.iter().position(|t| t.ndim() == 0) {
            return Err(Error::Shape(format!(
                "cat: zero-dimensional tensor (at position {i}) cannot be concatenated"
            )));
        }
        // PyTorch skips 1-d empty tensors (shape [0]) beside tensors of another shape
        let legacy_empty = |t: &Tensor| t.shape() == [0];
        let kept: Vec<Tensor> = if tensors.iter().all(legacy_empty) {
            tensors.to_vec()
        } else {
            tensors
                .iter()
                .filter(|t| !legacy_empty(t))
                .cloned()
                .collect()
        };
        // beside 1-d tensors an empty [0] already fits the general path below
        if kept.len() < tensors.len() && kept[0].ndim() != 1 {
            let first = &kept[0];
            for t in tensors {
                super::check_device("cat", first, t)?;
            }
            // each skipped empty becomes an empty slice of the others' shape (a reshape, so a
            // tensor that requires grad stays in the graph and the result requires grad too)
            let d = norm_dim(dim, first.ndim(), "cat")?;
            let mut empty_shape = first.shape().to_vec();
            empty_shape[d] = 0;
            let joined: Vec<Tensor> = tensors
                .iter()
                .map(|t| {
                    if legacy_empty(t) {
                        t.reshape(&empty_shape)
                    } else {
                        Ok(t.clone())
                    }
                })
                .collect::<Result<_>>()?;
            return Tensor::cat(&joined, dim);
        }
        let first = &tensors[0];
        let d = norm_dim(dim, first.ndim(), "cat")?;
        let dt = tensors.iter().fold(first.dtype(), |a, t| {
            crate::dtype::DType::promote(a, t.dtype())
        });
        let mut shape = first.shape().to_vec();
        let mut total = 0;
        for t in tensors {
            super::check_device("cat", first, t)?;
            if t.ndim() != first.ndim()
                || t.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .any(|(i, (a, b))| i != d && a != b)
            {
                return Err(Error::Shape(format!(
                    "cat: sizes of tensors must match except in dimension {d}: got {:?} and {:?}",
                    first.shape(),
                    t.shape()
                )));
            }
            total += t.shape()[d];
        }
        shape[d] = total;
        let out = Tensor::zeros(&shape, dt, first.device())?;
        let mut at = 0;
        let mut bounds = Vec::with_capacity(tensors.len());
        {
            let _g = crate::autograd::NoGradGuard::new();
            for t in tensors {
                let len = t.shape()[d];
                out.slice(d as isize, at, at + len, 1)?.copy_(t)?;
                bounds.push((at, len));
                at += len;
            }
        }
        let inputs: Vec<&Tensor> = tensors.iter().collect();
        let dtypes: Vec<_> = tensors.iter().map(|t| t.dtype()).collect();
        Ok(out.with_rule("cat", &inputs, &[], move |g| {
            bounds
                .iter()
                .zip(&dtypes)
                .map(|(&(s, l), &dt)| {
                    Ok(Some(
                        g.slice(d as isize, s, s + l, 1)?
                            .contiguous()?
                            .to_dtype(dt)?,
                    ))
                })
                .collect()
        }))
    }

    /// Joins tensors of one shape along a new dim.
    pub fn stack(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        let out = {
            let first = tensors.first().ok_or_else(|| {
                Error::Value("stack: expected a non-empty list of tensors".into())
            })?;
            for t in tensors {
                ensure!(
                    t.shape() == first.shape(),
                    Shape,
                    "stack: expects each tensor to be equal size, but got {:?} and {:?}",
                    first.shape(),
                    t.shape()
                );
            }
            let d = norm_dim(dim, first.ndim() + 1, "stack")?;
            let us: Vec<Tensor> = tensors
                .iter()
                .map(|t| t.unsqueeze(d as isize))
                .collect::<Result<_>>()?;
            Tensor::cat(&us, d as isize)
        }?;
        Ok(out.label_grad_fn("StackBackward0", &tensors.iter().collect::<Vec<_>>()))
    }

    /// Splits into pieces of `sizes` along `dim` (views).
    pub fn split_sizes(&self, sizes: &[usize], dim: isize) -> Result<Vec<Tensor>> {
        need_dims(self, "split")?;
        let d = norm_dim(dim, self.ndim(), "split")?;
        ensure!(
            sizes.iter().sum::<usize>() == self.shape()[d],
            Shape,
            "split: sizes {sizes:?} do not sum to dimension {d} of shape {:?}",
            self.shape()
        );
        let mut at = 0;
        sizes
            .iter()
            .map(|&s| {
                let t = self.slice(d as isize, at, at + s, 1);
                at += s;
                t
            })
            .collect()
    }

    /// Splits into pieces of `size` (the last may be smaller) along `dim`.
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Tensor>> {
        if size == 0 {
            return Err(Error::Value("split: split_size must be positive".into()));
        }
        need_dims(self, "split")?;
        let d = norm_dim(dim, self.ndim(), "split")?;
        let n = self.shape()[d];
        if n == 0 {
            // PyTorch returns the one empty piece
            return Ok(vec![self.clone()]);
        }
        pieces_fit(n.div_ceil(size), "split", self.shape())?;
        let mut sizes = vec![size; n / size];
        if !n.is_multiple_of(size) {
            sizes.push(n % size);
        }
        self.split_sizes(&sizes, dim)
    }

    /// Splits into `chunks` nearly equal pieces along `dim`.
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            return Err(Error::Value(
                "chunk: number of chunks must be positive".into(),
            ));
        }
        need_dims(self, "chunk")?;
        let d = norm_dim(dim, self.ndim(), "chunk")?;
        let n = self.shape()[d];
        if n == 0 {
            // PyTorch returns `chunks` empty pieces
            pieces_fit(chunks, "chunk", self.shape())?;
            return Ok(vec![self.clone(); chunks]);
        }
        self.split(n.div_ceil(chunks), dim)
    }
}

/// Checks that `n` tensors (the pieces of a split, chunk or unbind) can be made: each costs a
/// few hundred bytes, so 2^33 of them are a `MemoryError` naming the op, never an abort or a
/// process the system kills.
pub(crate) fn pieces_fit(n: usize, op: &str, shape: &[usize]) -> Result<()> {
    const BYTES_PER_PIECE: usize = 512;
    crate::backend::reserve(
        n.saturating_mul(BYTES_PER_PIECE),
        DType::U8,
        crate::device::Device::Cpu,
        op,
    )
    .map_err(|_| {
        Error::Memory(format!(
            "{op}: {n} pieces of a tensor of shape {shape:?} cannot be held"
        ))
    })
}

/// Views along a dim (slice, narrow, split, chunk) need one: `norm_dim` lets a 0-d tensor's
/// reductions name dim 0, but a scalar has no dim to cut.
fn need_dims(t: &Tensor, op: &str) -> Result<()> {
    if t.ndim() == 0 {
        return Err(Error::Runtime(format!(
            "{op}: expects at least a 1-dimensional tensor, got a 0-dim tensor"
        )));
    }
    Ok(())
}
