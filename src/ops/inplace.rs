//! In-place ops with PyTorch's autograd semantics.
//!
//! An in-place op computes its new value out of place (with the ordinary derivative rule), then
//! writes it into the tensor's memory and *rebases* the history: the tensor's node becomes the
//! new value's node. On a view the base's history is rebased instead, with a node that routes
//! the gradient of the written region to the new value and the rest to the base's old history
//! (PyTorch's CopySlices); the view, and every other view of that base, then reads itself out
//! of the base's new history. Version counters make backward refuse a graph whose saved tensors
//! were overwritten.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::autograd::{self, Node};
use crate::backend;
use crate::backend::BinaryOp;
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::tensor::Tensor;

/// `layout` with its offset made relative to `origin` (the base's first element).
fn relative(layout: &Layout, origin: usize) -> Result<Layout> {
    let offset = layout.offset.checked_sub(origin).ok_or_else(|| {
        Error::Runtime(format!(
            "in-place: view at offset {} lies before its base at offset {origin}",
            layout.offset
        ))
    })?;
    Ok(Layout {
        shape: layout.shape.clone(),
        strides: layout.strides.clone(),
        offset,
    })
}

/// Whether two elements of `layout` may share a memory position: false when, with its
/// dimensions of more than one element ordered by stride, each stride reaches past the extent
/// of the smaller ones (the usual dense, sliced and permuted layouts).
fn may_overlap(layout: &Layout) -> bool {
    let mut dims: Vec<(usize, usize)> = layout
        .shape
        .iter()
        .zip(&layout.strides)
        .filter(|(n, _)| **n > 1)
        .map(|(n, st)| (*st, *n))
        .collect();
    dims.sort_unstable();
    let mut extent = 1usize;
    for (st, n) in dims {
        if st < extent {
            return true;
        }
        extent = st.saturating_mul(n - 1).saturating_add(extent);
    }
    false
}

/// Base geometry for the gradient buffers: the base's layout and a view's, both relative to the
/// base's first element, and the buffer length covering them.
#[derive(Clone)]
struct Geometry {
    base: Layout,
    view: Layout,
    span: usize,
}

impl Geometry {
    fn new(base: &Layout, view: &Layout) -> Result<Geometry> {
        let b = relative(base, base.offset)?;
        let v = relative(view, base.offset)?;
        let span = b.span().max(v.span());
        Ok(Geometry {
            base: b,
            view: v,
            span,
        })
    }

    /// A zero buffer of the base's memory extent.
    fn buffer(&self, like: &Tensor) -> Result<Tensor> {
        Tensor::zeros(&[self.span], like.dtype(), like.device())
    }

    /// The gradient of a view (shape of the view) as a gradient of the base: summed into the
    /// base's memory positions (a view may repeat positions, e.g. an expand), read back in the
    /// base's layout. Where several of the base's own elements share a memory position (the
    /// base is itself an overlapping view, such as a window of `unfold`), the sum there is
    /// split evenly among them, as PyTorch's `as_strided` gradient does, so that the gradient
    /// reaching that memory through the base's own history is the sum once, not once per alias.
    fn view_to_base(&self, g: &Tensor) -> Result<Tensor> {
        let r = self.view_to_base_summed(g)?;
        if !may_overlap(&self.base) {
            return Ok(r);
        }
        let count = {
            let _off = autograd::NoGradGuard::new();
            let pos = Tensor::arange(0.0, self.span as f64, 1.0, DType::I64, g.device())?;
            let idx = pos.with_layout(self.base.clone()).contiguous()?;
            let n = idx.numel();
            let ones = Tensor::ones(&[n], g.dtype(), g.device())?;
            let hits = self.buffer(g)?.index_add(0, &idx.reshape(&[n])?, &ones)?;
            hits.with_layout(self.base.clone()).contiguous()?
        };
        r.div(&count)
    }

    fn view_to_base_summed(&self, g: &Tensor) -> Result<Tensor> {
        let pos = Tensor::arange(0.0, self.span as f64, 1.0, DType::I64, g.device())?;
        let idx = pos.with_layout(self.view.clone()).contiguous()?;
        let n = idx.numel();
        let idx = idx.reshape(&[n])?;
        let gf = g.contiguous()?.reshape(&[n])?;
        if autograd::needs_grad(&[g]) {
            // a backward with create_graph: the same sum made of differentiable ops (its own
            // gradient reads the positions back through an as_strided of the base's extent)
            let summed = self.buffer(g)?.index_add(0, &idx, &gf)?;
            let b = &self.base;
            return summed
                .as_strided(&b.shape, &b.strides, b.offset)?
                .contiguous();
        }
        let summed = backend::index_add(
            &[self.span],
            0,
            &idx.storage(),
            idx.layout(),
            &gf.storage(),
            gf.layout(),
        )?;
        let flat = Tensor::from_contiguous(summed, &[self.span]);
        flat.with_layout(self.base.clone()).contiguous()
    }

    /// [`split`](Self::split) made of differentiable ops, for a backward with create_graph:
    /// the base's gradient placed at its memory positions, the view's region read through an
    /// `as_strided`, and the rest masked where the view wrote.
    fn split_differentiable(&self, g: &Tensor) -> Result<(Tensor, Tensor)> {
        let (dt, dev) = (g.dtype(), g.device());
        let pos = Tensor::arange(0.0, self.span as f64, 1.0, DType::I64, dev)?;
        let base_idx = pos.with_layout(self.base.clone()).contiguous()?;
        let n = base_idx.numel();
        let base_idx = base_idx.reshape(&[n])?;
        // the base's positions are distinct: the sum places each gradient at its position
        let flat = self
            .buffer(g)?
            .index_add(0, &base_idx, &g.contiguous()?.reshape(&[n])?)?;
        let (v, b) = (&self.view, &self.base);
        let region = flat
            .as_strided(&v.shape, &v.strides, v.offset)?
            .contiguous()?;
        // 1 outside the view's positions, 0 on them (a constant)
        let mask = {
            let _off = autograd::NoGradGuard::new();
            let view_idx = pos.with_layout(self.view.clone()).contiguous()?;
            let m = view_idx.numel();
            let hit = Tensor::zeros(&[self.span], dt, dev)?.index_add(
                0,
                &view_idx.reshape(&[m])?,
                &Tensor::ones(&[m], dt, dev)?,
            )?;
            Tensor::ones(&[self.span], dt, dev)?.sub(&hit.clamp(None, Some(1.0))?)?
        };
        let rest = flat
            .mul(&mask)?
            .as_strided(&b.shape, &b.strides, b.offset)?
            .contiguous()?;
        Ok((rest, region))
    }

    /// Splits the base's gradient into (the base outside the view, the view's region).
    fn split(&self, g: &Tensor) -> Result<(Tensor, Tensor)> {
        if autograd::needs_grad(&[g]) {
            return self.split_differentiable(g);
        }
        let buf = self.buffer(g)?;
        let bl = buf.with_layout(self.base.clone());
        bl.write_from(g, "backward")?;
        let region = buf.with_layout(self.view.clone()).contiguous_copy()?;
        buf.with_layout(self.view.clone())
            .write_from(&Tensor::zeros(&[], g.dtype(), g.device())?, "backward")?;
        let rest = bl.contiguous_copy()?;
        Ok((rest, region))
    }
}

/// A node reading a view of layout `view` out of `base`'s current history (`None` when the
/// base needs no gradient).
pub(crate) fn view_node(base: &Tensor, view: &Layout) -> Option<Arc<Node>> {
    let geo = Geometry::new(base.layout(), view).ok()?;
    let _g = EnableGrad::new();
    Node::record(
        "as_strided",
        &view.shape,
        &[base],
        &[],
        Box::new(move |g| Ok(vec![Some(geo.view_to_base(g)?)])),
    )
}

impl Tensor {
    /// A view of this tensor's storage with any `shape`, `strides` and (absolute, in elements)
    /// `offset`, as PyTorch's `as_strided`: writes through it reach this tensor. It may read
    /// only from this tensor's first element onwards and within the storage; its gradient is
    /// summed back into this tensor's elements (a position read twice gets both gradients, a
    /// position that is not one of this tensor's elements none).
    pub fn as_strided(&self, shape: &[usize], strides: &[usize], offset: usize) -> Result<Tensor> {
        let view = self.strided_layout(shape, strides, offset)?;
        let geo = Geometry::new(self.layout(), &view)?;
        Ok(self.view_op(view, "as_strided", move |g| {
            Ok(vec![Some(geo.view_to_base(g)?)])
        }))
    }

    /// [`as_strided`](Self::as_strided) for a view whose elements are this tensor's own elements
    /// at the row-major positions `index` (int64, one per element of the view): its gradient
    /// goes to those elements, so elements of an overlapping tensor (an expand) that share
    /// memory each get their own, as PyTorch's `diagonal` and `unfold` gradients.
    pub fn as_strided_indexed(
        &self,
        shape: &[usize],
        strides: &[usize],
        offset: usize,
        index: &Tensor,
    ) -> Result<Tensor> {
        let view = self.strided_layout(shape, strides, offset)?;
        let n = view.numel();
        ensure!(
            index.dtype() == DType::I64 && index.numel() == n,
            Shape,
            "as_strided: the index of a view of {n} elements must be {n} int64 positions, got \
             {} of {}",
            index.numel(),
            index.dtype().name()
        );
        // (index_add checks the positions' range when the gradient is summed)
        let index = index.to_device(self.device())?.reshape(&[n])?;
        let (numel, in_shape) = (self.numel(), self.shape().to_vec());
        Ok(self.view_op(view, "as_strided", move |g| {
            let gf = g.contiguous()?.reshape(&[n])?;
            let flat = Tensor::zeros(&[numel], g.dtype(), g.device())?.index_add(0, &index, &gf)?;
            Ok(vec![Some(flat.reshape(&in_shape)?)])
        }))
    }

    /// The layout `as_strided` gives, checked against this tensor's storage.
    fn strided_layout(&self, shape: &[usize], strides: &[usize], offset: usize) -> Result<Layout> {
        ensure!(
            shape.len() == strides.len(),
            Shape,
            "as_strided: size {shape:?} and stride {strides:?} must have the same length"
        );
        crate::shape::checked_numel(shape, "as_strided")?;
        let view = Layout {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            offset,
        };
        let len = self.storage().len();
        ensure!(
            view.span() <= len,
            Index,
            "as_strided: size {shape:?} and stride {strides:?} at storage offset {offset} reach past \
             the end of a storage of {len} elements"
        );
        Ok(view)
    }
}

/// Turns grad mode on for a scope (view nodes are made lazily, possibly under `no_grad`).
struct EnableGrad(bool);
impl EnableGrad {
    fn new() -> EnableGrad {
        EnableGrad(autograd::set_grad_enabled(true))
    }
}
impl Drop for EnableGrad {
    fn drop(&mut self) {
        autograd::set_grad_enabled(self.0);
    }
}

impl Tensor {
    /// A contiguous copy with its own storage (no history).
    fn contiguous_copy(&self) -> Result<Tensor> {
        let s = backend::copy(&self.storage(), self.layout())?;
        Ok(Tensor::from_contiguous(s, self.shape()))
    }

    /// Runs an in-place op: `f` computes the new value of `self` out of place; it is written
    /// into `self`'s memory and the history is rebased as PyTorch does. `op` names the op in
    /// errors and in the version-check message.
    pub fn inplace(&self, op: &'static str, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<()> {
        self.inplace_impl(op, f, false)
    }

    /// [`inplace`](Self::inplace) for an op whose new value replaces the old one outright
    /// (`copy_`, `fill_`, assignment through `t[...] = v`): the old history keeps an edge that
    /// receives a zero gradient, as PyTorch's copy node has.
    pub(crate) fn inplace_replacing(
        &self,
        op: &'static str,
        f: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<()> {
        self.inplace_impl(op, f, true)
    }

    fn inplace_impl(
        &self,
        op: &'static str,
        f: impl Fn(&Tensor) -> Result<Tensor>,
        replaces: bool,
    ) -> Result<()> {
        self.check_inplace(op)?;
        let grad_mode = autograd::is_grad_enabled();
        let mut r = f(self)?;
        ensure!(
            r.shape() == self.shape(),
            Shape,
            "{op}: output with shape {:?} doesn't match the broadcast shape {:?}",
            self.shape(),
            r.shape()
        );
        if r.dtype() != self.dtype() {
            if self.dtype() == DType::Bool {
                // PyTorch casts a result into a bool tensor only from bool
                return Err(Error::DType(format!(
                    "{op}: result type {} can't be cast to the desired output type {} (shape {:?})",
                    r.dtype(),
                    self.dtype(),
                    self.shape()
                )));
            }
            if r.dtype().is_float() && !self.dtype().is_float() {
                return Err(Error::DType(format!(
                    "{op}: result type {} can't be cast to the desired output type {} (shape {:?})",
                    r.dtype(),
                    self.dtype(),
                    self.shape()
                )));
            }
            r = r.to_dtype(self.dtype())?;
        }
        // a rule that reads the old value of `self` needs a copy of it that survives the write
        if grad_mode
            && r.grad_fn()
                .is_some_and(|n| n.saves(self.version()) || saves_through_cast(&n, self))
        {
            r = f(&self.deep_clone()?)?;
            if r.dtype() != self.dtype() {
                r = r.to_dtype(self.dtype())?;
            }
        }
        if grad_mode
            && self.0.view_in_no_grad
            && (r.requires_grad() || self.view_base().is_some_and(|b| b.requires_grad()))
        {
            return Err(Error::Runtime(format!(
                "{op}: a view was created in no_grad mode and is being modified in place with grad mode enabled; \
                 autograd cannot track that: create the view with grad enabled, or clone() it"
            )));
        }
        if grad_mode
            && (r.requires_grad() || self.view_base().is_some_and(|b| b.requires_grad()))
            && self.view_base().is_some()
            && overlaps_itself(self.layout())
        {
            // the view's gradient would be summed over each element's repeats (PyTorch writes
            // it back once, in an order it leaves undefined): refused before anything is written
            return Err(Error::Runtime(format!(
                "{op}: in-place change of a view whose elements overlap in memory (unfold with a \
                 step below its size, as_strided; shape {:?}, strides {:?}) is not supported while \
                 autograd records it; clone() the view first",
                self.shape(),
                self.layout().strides
            )));
        }
        let had_history = grad_mode && self.requires_grad();
        let old_view_fn = if self.view_base().is_some() {
            self.grad_fn()
        } else {
            None
        };
        if overlaps_itself(self.layout()) {
            self.write_changed(&r, op)?;
        } else if !self.move_from(&r, op) {
            self.write_from(&r, op)?;
        }
        if !grad_mode {
            // a view changed outside autograd reads a fresh history of its base afterwards (as
            // PyTorch regenerates the view's node): hooks registered on it before don't fire
            if let Some(old) = &old_view_fn {
                crate::autograd::Hooks::default().take_from(&old.hooks);
            }
            return Ok(());
        }
        match self.view_base().cloned() {
            None => {
                if r.requires_grad() && had_history && replaces {
                    // the copied value replaces the old one: its history gets a zero gradient
                    // (not none), as PyTorch's copy node has an edge to it
                    let node = Node::record(
                        op,
                        self.shape(),
                        &[self, &r],
                        &[],
                        Box::new(|g| Ok(vec![Some(g.zeros_like()?), Some(g.clone())])),
                    );
                    twice_differentiable(&node);
                    self.rebase(node);
                } else if r.requires_grad() && r.grad_fn().is_some() {
                    self.rebase(r.grad_fn());
                } else if r.requires_grad() {
                    // the new value is a leaf itself (`buf.copy_(w)`): an identity node leads
                    // to it, so `self` becomes a non-leaf whose gradient flows into the leaf
                    let node = Node::record(
                        op,
                        self.shape(),
                        &[&r],
                        &[],
                        Box::new(|g| Ok(vec![Some(g.clone())])),
                    );
                    twice_differentiable(&node);
                    self.rebase(node);
                } else if self.requires_grad() {
                    // overwritten by a constant: the old history gets a zero gradient
                    let node = Node::record(
                        op,
                        self.shape(),
                        &[self],
                        &[],
                        Box::new(|g| Ok(vec![Some(g.zeros_like()?)])),
                    );
                    twice_differentiable(&node);
                    self.rebase(node);
                }
            }
            Some(base) => {
                if !r.requires_grad() && !base.requires_grad() {
                    return Ok(());
                }
                // the gradient of the view's old value now flows from the new value to the
                // base without being the view's gradient: hooks registered on the view before
                // no longer fire (PyTorch's CopySlices skips the view's old node)
                if let Some(old) = &old_view_fn {
                    crate::autograd::Hooks::default().take_from(&old.hooks);
                }

                let geo = Geometry::new(base.layout(), self.layout())?;
                let need = [base.requires_grad(), r.requires_grad()];
                let node = Node::record(
                    "copy_slices",
                    base.shape(),
                    &[&base, &r],
                    &[],
                    Box::new(move |g| {
                        let (rest, region) = geo.split(g)?;
                        Ok(vec![need[0].then_some(rest), need[1].then_some(region)])
                    }),
                );
                base.rebase(node);
                // this view reads itself out of the new history at once (others lazily)
                let _ = self.requires_grad();
            }
        }
        Ok(())
    }

    /// Writes `r` into this tensor whose elements share memory positions (an expand), only
    /// where the value changes, as PyTorch's element-by-element kernels write: an alias that
    /// keeps its old value does not undo another alias's write (`masked_fill_`, `t[mask] = v`).
    fn write_changed(&self, r: &Tensor, op: &'static str) -> Result<()> {
        let _off = autograd::NoGradGuard::new();
        let n = self.numel();
        let old = self.contiguous()?.reshape(&[n])?;
        let new = r.detach().contiguous()?.reshape(&[n])?;
        let differs = new.binary(&old, BinaryOp::Ne)?.to_f64_vec()?;
        let nan_pairs = if self.dtype().is_float() {
            let (a, b) = (new.to_f64_vec()?, old.to_f64_vec()?);
            a.iter()
                .zip(&b)
                .map(|(x, y)| x.is_nan() && y.is_nan())
                .collect()
        } else {
            vec![false; n]
        };
        // each changed element's memory position, in row-major order (the last write wins)
        let l = self.layout();
        let (mut pos, mut picked) = (Vec::new(), Vec::new());
        let mut at = vec![0usize; l.shape.len()];
        for k in 0..n {
            if differs[k] != 0.0 && !nan_pairs[k] {
                let p = l.offset + at.iter().zip(&l.strides).map(|(i, s)| i * s).sum::<usize>();
                pos.push(p as i64);
                picked.push(k as i64);
            }
            for d in (0..at.len()).rev() {
                at[d] += 1;
                if at[d] < l.shape[d] {
                    break;
                }
                at[d] = 0;
            }
        }
        if pos.is_empty() {
            self.0.version.bump(op);
            return Ok(());
        }
        let picked = Tensor::from_i64(picked.clone(), &[picked.len()])?.to_device(self.device())?;
        let vals = new.index_select(0, &picked)?;
        let storage = self.storage_view();
        let updated = storage.index_put_flat(&pos, &vals, false)?;
        storage.write_from(&updated, op)
    }

    /// Gives this (non-view) tensor a new producing node after an in-place change.
    pub(crate) fn rebase(&self, node: Option<Arc<Node>>) {
        let Some(node) = node else {
            return;
        };
        if self.0.retains_grad.load(Ordering::Relaxed) {
            node.retain(self);
        }
        self.set_history(Some(node));
        self.0.history_gen.fetch_add(1, Ordering::AcqRel);
    }
}

/// True when two elements of `l` share a memory position. The usual layouts (dense, transposed,
/// sliced with steps) are told apart from the strides alone; only layouts that interleave
/// (as_strided) are checked position by position.
fn overlaps_itself(l: &Layout) -> bool {
    let mut dims: Vec<(usize, usize)> = l
        .shape
        .iter()
        .zip(&l.strides)
        .filter(|(n, _)| **n > 1)
        .map(|(n, s)| (*s, *n))
        .collect();
    dims.sort_unstable();
    let mut reach = 0usize;
    let mut nested = true;
    for &(stride, n) in &dims {
        if stride == 0 {
            return true;
        }
        if stride <= reach {
            nested = false;
            break;
        }
        reach = reach.saturating_add(stride.saturating_mul(n - 1));
    }
    if nested {
        return false;
    }
    let mut seen = std::collections::HashSet::with_capacity(l.numel());
    let mut pos = vec![0usize; l.shape.len()];
    loop {
        let off: usize = pos.iter().zip(&l.strides).map(|(i, s)| i * s).sum();
        if !seen.insert(off) {
            return true;
        }
        let mut d = l.shape.len();
        loop {
            if d == 0 {
                return false;
            }
            d -= 1;
            pos[d] += 1;
            if pos[d] < l.shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
}

/// Marks a copy node whose rule (identity or zeros) can be differentiated again.
fn twice_differentiable(node: &Option<Arc<Node>>) {
    if let Some(n) = node {
        n.set_twice_differentiable(true);
    }
}

/// True when `n` is a dtype cast whose input's rule reads `t` (an in-place op that promoted).
fn saves_through_cast(n: &Node, t: &Tensor) -> bool {
    n.name == "ToCopy"
        && n.next().iter().flatten().any(|e| match e {
            Ok(inner) => inner.saves(t.version()),
            Err(_) => false,
        })
}
