//! The tensor: shared storage + layout + autograd metadata, with constructors and accessors.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::autograd::{self, Edge, Node, Version};
use crate::backend::{self, RandKind};
use crate::device::Device;
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::{CpuStorage, Storage};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The shared part of a tensor.
pub struct TensorImpl {
    pub(crate) id: u64,
    /// the storage this tensor reads: behind its own lock, so `t.data = other` can make the
    /// tensor share `other`'s storage in place, as PyTorch swaps a TensorImpl's storage
    pub(crate) storage: RwLock<Arc<RwLock<Storage>>>,
    /// bumped by every in-place write; shared with views and `detach()`
    pub(crate) version: Arc<Version>,
    pub(crate) layout: Layout,
    /// cached from the storage (changed only by `set_data`), so ops need no lock to read them
    dtype: AtomicU8,
    device: AtomicUsize,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) retains_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<Tensor>>,
    /// the op that produced this value; replaced when an in-place op rebases the history
    grad_fn: RwLock<Option<Arc<Node>>>,
    /// for a view: the tensor whose storage it views (never itself a view)
    pub(crate) view_base: Option<Tensor>,
    /// counts history rebasings of this tensor (a base's views compare it with `base_gen`)
    pub(crate) history_gen: AtomicU64,
    /// for a view: the base's `history_gen` when this view's `grad_fn` was last set
    pub(crate) base_gen: AtomicU64,
    /// for a view: made while grad mode was off (in-place changes with grad on are refused)
    pub(crate) view_in_no_grad: bool,
    /// for a view: made from a view that was itself a leaf requiring grad (its `view_base`,
    /// the storage's owner, is not that leaf), or from such a view; in-place changes with grad
    /// on are refused, as for a view of any leaf that requires grad
    pub(crate) view_of_view_leaf: bool,
    /// made by `view(dtype)` as a copy (narrow integers are stored widened, so bytes cannot be
    /// shared): in-place writes, which would not reach the source, are refused
    pub(crate) dtype_view_copy: AtomicBool,
    /// gradient hooks of a leaf (a non-leaf's live on its `grad_fn`)
    pub(crate) hooks: crate::autograd::Hooks,
    /// a leaf's post-accumulate-grad hooks, called with the leaf once backward updated `.grad`
    pub(crate) post_hooks: crate::autograd::Hooks,
    /// for a tensor a derivative rule saved: the history of the tensor it was saved from, which
    /// it takes on while a rule runs with `create_graph` (higher-order gradients)
    pub(crate) origin: Option<Origin>,
    /// a leaf whose Python object now stands for another tensor (an in-place shape change,
    /// `t_()`/`squeeze_()`/`resize_()` on a leaf): a gradient reaching it goes on to that tensor,
    /// as PyTorch's leaf keeps its identity (see `autograd::accumulate`)
    pub(crate) successor: Mutex<Option<Tensor>>,
    /// the ids of the leaves this one superseded (`autograd::grad` finds their gradients)
    pub(crate) predecessors: Mutex<Vec<u64>>,
}

/// Where a saved tensor came from (see [`Tensor::saved`]).
#[derive(Clone)]
pub(crate) enum Origin {
    /// an input of the op: its history when the op ran
    Input(Edge),
    /// the op's own output: the node whose rule is running
    Output,
    /// one of several outputs of the running node, whose rule takes their gradients
    /// flattened and concatenated: `len` elements from `start` of `total` (Python Functions)
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    OutputPart {
        start: usize,
        len: usize,
        total: usize,
    },
}

/// An n-dimensional array with autograd. Cloning is cheap (a reference count).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={}, device={})",
            self.shape(),
            self.dtype().name(),
            self.device()
        )
    }
}

impl Tensor {
    fn build(
        storage: Arc<RwLock<Storage>>,
        version: Arc<Version>,
        layout: Layout,
        dtype: DType,
        device: Device,
        view_base: Option<Tensor>,
    ) -> Tensor {
        let base_gen = view_base
            .as_ref()
            .map_or(0, |b| b.0.history_gen.load(Ordering::Acquire));
        Tensor(Arc::new(TensorImpl {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            storage: RwLock::new(storage),
            version,
            layout,
            dtype: AtomicU8::new(dtype.code()),
            device: AtomicUsize::new(device_code(device)),
            requires_grad: AtomicBool::new(false),
            retains_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            grad_fn: RwLock::new(None),
            view_base,
            history_gen: AtomicU64::new(0),
            base_gen: AtomicU64::new(base_gen),
            view_in_no_grad: false,
            view_of_view_leaf: false,
            dtype_view_copy: AtomicBool::new(false),
            hooks: crate::autograd::Hooks::default(),
            post_hooks: crate::autograd::Hooks::default(),
            origin: None,
            successor: Mutex::new(None),
            predecessors: Mutex::new(Vec::new()),
        }))
    }

    /// A tensor over `storage` with `layout`, no autograd history.
    pub fn from_storage(storage: Storage, layout: Layout) -> Tensor {
        let (dtype, device) = (storage.dtype(), storage.device());
        Tensor::build(
            Arc::new(RwLock::new(storage)),
            Version::new(),
            layout,
            dtype,
            device,
            None,
        )
    }

    /// A contiguous tensor of `shape` over a fresh storage.
    pub fn from_contiguous(storage: Storage, shape: &[usize]) -> Tensor {
        Tensor::from_storage(storage, Layout::contiguous(shape))
    }

    /// The result of an op: fresh contiguous storage, with a graph node when grad is needed.
    /// `saved` lists the tensors the rule reads (checked against in-place changes in backward).
    pub(crate) fn from_op(
        storage: Storage,
        shape: &[usize],
        name: &'static str,
        inputs: &[&Tensor],
        saved: &[&Tensor],
        backward: impl Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
    ) -> Tensor {
        let t = Tensor::from_contiguous(storage, shape);
        t.with_rule(name, inputs, saved, backward)
    }

    /// A view of `self` with another layout over the same storage, with a graph node if needed.
    pub(crate) fn view_op(
        &self,
        layout: Layout,
        name: &'static str,
        backward: impl Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
    ) -> Tensor {
        let base = self.0.view_base.clone().unwrap_or_else(|| self.clone());
        let mut t = Tensor::build(
            self.storage_arc(),
            self.0.version.clone(),
            layout,
            self.dtype(),
            self.device(),
            Some(base),
        );
        let of_view_leaf = self.0.view_of_view_leaf
            || (self.0.view_base.is_some() && self.is_leaf() && self.requires_grad());
        if let Some(inner) = Arc::get_mut(&mut t.0) {
            inner.view_in_no_grad = !autograd::is_grad_enabled();
            inner.view_of_view_leaf = of_view_leaf;
        }
        t.with_rule(name, &[self], &[], backward)
    }

    /// Attaches a derivative rule to a freshly computed result (when grad is needed).
    pub(crate) fn with_rule(
        self,
        name: &'static str,
        inputs: &[&Tensor],
        saved: &[&Tensor],
        backward: impl Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
    ) -> Tensor {
        if !autograd::needs_grad(inputs) {
            return self;
        }
        if let Some(node) = Node::record(name, self.shape(), inputs, saved, Box::new(backward)) {
            self.set_history(Some(node));
        }
        self
    }

    /// Sets this tensor's producing node (`None`: a leaf that does not require grad).
    pub(crate) fn set_history(&self, node: Option<Arc<Node>>) {
        self.0
            .requires_grad
            .store(node.is_some(), Ordering::Release);
        *self.0.grad_fn.write().unwrap_or_else(|e| e.into_inner()) = node;
    }

    /// Where a gradient for this tensor goes: its node, itself as a leaf that requires grad, or
    /// nowhere. A tensor a rule saved is a leaf without grad, except while rules run with
    /// `create_graph`: it then stands for the tensor it was saved from.
    pub(crate) fn edge(&self) -> Option<Edge> {
        self.sync_view();
        if let Some(n) = self
            .0
            .grad_fn
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Some(Edge::Node(n.clone()));
        }
        if self.0.requires_grad.load(Ordering::Acquire) {
            return Some(Edge::Leaf(self.clone()));
        }
        self.origin_edge()
    }

    /// The history a saved tensor stands for while rules run with `create_graph`.
    fn origin_edge(&self) -> Option<Edge> {
        let origin = self.0.origin.as_ref()?;
        if !autograd::is_creating_graph() {
            return None;
        }
        match origin {
            Origin::Input(e) => Some(e.clone()),
            Origin::Output => autograd::running_node().map(Edge::Node),
            &Origin::OutputPart { start, len, total } => autograd::running_node()
                .map(|hub| Edge::Node(autograd::output_part(hub, start, len, total, self.shape()))),
        }
    }

    /// This tensor as a derivative rule saves it: no history of its own (like `detach()`), but
    /// when the rule runs with `create_graph` it carries the history of `self` at this moment,
    /// so the gradient the rule computes is itself differentiable.
    pub(crate) fn saved(&self) -> Tensor {
        match self.edge() {
            Some(e) => self.detached_with(Some(Origin::Input(e))),
            None => self.detach(),
        }
    }

    /// An op's result as its own rule saves it (see [`Tensor::saved`]): with `create_graph` it
    /// stands for the output of the node whose rule reads it.
    pub(crate) fn saved_output(&self) -> Tensor {
        self.detached_with(Some(Origin::Output))
    }

    /// Output `k` of a node whose rule takes the gradients of its outputs flattened and
    /// concatenated, as that rule saves it: `len` elements from `start` of `total`.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn saved_output_part(&self, start: usize, len: usize, total: usize) -> Tensor {
        self.detached_with(Some(Origin::OutputPart { start, len, total }))
    }

    fn detached_with(&self, origin: Option<Origin>) -> Tensor {
        let mut t = self.detach();
        if let Some(inner) = Arc::get_mut(&mut t.0) {
            inner.origin = origin;
        }
        t
    }

    /// For a view whose base was modified in place with history since this view's node was
    /// made: a fresh node that reads the view out of the base's new history.
    fn sync_view(&self) {
        let Some(base) = &self.0.view_base else {
            return;
        };
        let gen = base.0.history_gen.load(Ordering::Acquire);
        if gen == self.0.base_gen.load(Ordering::Acquire) {
            return;
        }
        self.0.base_gen.store(gen, Ordering::Release);
        if let Some(node) = crate::ops::inplace::view_node(base, self.layout()) {
            // `retain_grad()` follows the view to its new node
            if self.0.retains_grad.load(Ordering::Relaxed) {
                node.retain(self);
            }
            self.set_history(Some(node));
        }
    }

    // ---- accessors ----

    pub fn id(&self) -> u64 {
        self.0.id
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.0.layout.strides
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn dtype(&self) -> DType {
        // the field only ever holds codes written from a DType; the storage's own dtype is
        // the fallback should that ever break, never a guess
        DType::from_code(self.0.dtype.load(Ordering::Relaxed))
            .unwrap_or_else(|| self.storage().dtype())
    }
    pub fn device(&self) -> Device {
        match self.0.device.load(Ordering::Relaxed) {
            0 => Device::Cpu,
            i => Device::Gpu(i - 1),
        }
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    /// Read access to the storage.
    pub fn storage(&self) -> StorageRead {
        StorageRead::new(self.storage_arc())
    }
    pub(crate) fn storage_mut(&self) -> StorageWrite {
        StorageWrite::new(self.storage_arc())
    }
    /// The storage object itself (its identity tells storages apart; holding it keeps it alive).
    pub(crate) fn storage_arc(&self) -> Arc<RwLock<Storage>> {
        self.0
            .storage
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// How many tensors and pins hold this tensor's storage (strong, weak), not counting a
    /// handle taken to look.
    pub(crate) fn storage_counts(&self) -> (usize, usize) {
        let cell = self.0.storage.read().unwrap_or_else(|e| e.into_inner());
        (Arc::strong_count(&cell), Arc::weak_count(&cell))
    }
    /// True when two tensors share one storage.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage_arc(), &other.storage_arc())
    }
    /// Makes this tensor use `src`'s storage from now on (shared: writes through either show in
    /// both), as PyTorch's `t.data = src`: the tensor object, its autograd identity, hooks and
    /// version counter stay; views and aliases taken before keep the old storage. Only where
    /// both have one layout (the caller falls back to another tensor object otherwise).
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // `t.data = other` in the bindings
    pub(crate) fn share_storage_of(&self, src: &Tensor) -> Result<()> {
        if src.layout() != self.layout() {
            return Err(Error::Runtime(format!(
                "set_data: cannot share a storage laid out as {:?} in a tensor laid out as {:?}",
                src.layout(),
                self.layout()
            )));
        }
        let new = src.storage_arc();
        let mut cell = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        *cell = new;
        self.0.dtype.store(src.dtype().code(), Ordering::Relaxed);
        self.0
            .device
            .store(device_code(src.device()), Ordering::Relaxed);
        Ok(())
    }
    pub fn requires_grad(&self) -> bool {
        self.sync_view();
        self.0.requires_grad.load(Ordering::Acquire)
            || (self.0.origin.is_some() && self.origin_edge().is_some())
    }
    /// The storage's version counter (bumped by every in-place write).
    pub fn version(&self) -> &Arc<Version> {
        &self.0.version
    }
    /// True for a view (of `base`) whose in-place changes rebase the base's history.
    pub fn view_base(&self) -> Option<&Tensor> {
        self.0.view_base.as_ref()
    }
    /// Sets `requires_grad` on a leaf; a non-leaf may only be switched on (as in PyTorch).
    pub fn set_requires_grad(&self, flag: bool) -> Result<()> {
        if flag && !self.dtype().is_float() {
            return Err(Error::Runtime(format!(
                "only floating-point tensors can require gradients, got {}",
                self.dtype()
            )));
        }
        if !self.is_leaf() && !flag {
            return Err(Error::Runtime(
                "you can only change requires_grad flags of leaf variables; use detach() for a non-leaf".into(),
            ));
        }
        self.0.requires_grad.store(flag, Ordering::Relaxed);
        Ok(())
    }
    pub fn is_leaf(&self) -> bool {
        self.grad_fn().is_none()
    }
    /// Names this tensor's autograd node as PyTorch would (`"NllLossBackward0"`), for an op
    /// composed of smaller ones whose last node would otherwise show; nothing happens when the
    /// node is one of `inputs`' own (the op made no node of its own).
    pub fn label_grad_fn(self, label: &'static str, inputs: &[&Tensor]) -> Tensor {
        if let Some(n) = self.grad_fn() {
            let theirs = inputs
                .iter()
                .any(|t| t.grad_fn().is_some_and(|m| Arc::ptr_eq(&m, &n)));
            if !theirs {
                n.set_label(label);
            }
        }
        self
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.sync_view();
        self.0
            .grad_fn
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.0
            .grad
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub fn set_grad(&self, g: Option<Tensor>) -> Result<()> {
        if let Some(g) = &g {
            self.check_grad_fits(g, "assigned grad", "the tensor")?;
        }
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = g;
        Ok(())
    }
    /// Fails unless `g` can be this tensor's gradient: the same shape on the same device.
    /// `g_name` and `self_name` name the two in the message.
    pub(crate) fn check_grad_fits(&self, g: &Tensor, g_name: &str, self_name: &str) -> Result<()> {
        ensure!(
            g.shape() == self.shape(),
            Shape,
            "{g_name} has shape {:?} but {self_name} has shape {:?}",
            g.shape(),
            self.shape()
        );
        ensure!(
            g.device() == self.device(),
            Device,
            "{g_name} is on {} but {self_name} is on {}",
            g.device(),
            self.device()
        );
        Ok(())
    }
    /// Keeps the gradient of a non-leaf in `.grad` after backward (a no-op on leaves).
    /// Registers a hook on the gradient reaching this tensor (it may return a replacement);
    /// returns the id [`Tensor::remove_hook`] takes. A leaf keeps it; a non-leaf's goes on the
    /// node that produced it.
    pub fn register_hook(&self, hook: crate::autograd::GradHook) -> Result<u64> {
        ensure!(
            self.requires_grad(),
            Runtime,
            "register_hook: cannot register a hook on a tensor that doesn't require gradient"
        );
        Ok(match self.grad_fn() {
            Some(n) => n.hooks.add(hook),
            None => self.0.hooks.add(hook),
        })
    }

    /// Registers a hook called with this leaf after `backward` accumulated its gradient into
    /// `.grad` (the hook's result is ignored); returns the id [`Tensor::remove_hook`] takes.
    pub fn register_post_accumulate_grad_hook(
        &self,
        hook: crate::autograd::GradHook,
    ) -> Result<u64> {
        ensure!(
            self.requires_grad(),
            Runtime,
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require gradient"
        );
        ensure!(
            self.grad_fn().is_none(),
            Runtime,
            "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on non-leaf tensors"
        );
        Ok(self.0.post_hooks.add(hook))
    }

    /// Removes a hook [`Tensor::register_hook`] or
    /// [`Tensor::register_post_accumulate_grad_hook`] added.
    pub fn remove_hook(&self, id: u64) {
        if let Some(n) = self.grad_fn() {
            n.hooks.remove(id);
        }
        self.0.hooks.remove(id);
        self.0.post_hooks.remove(id);
    }

    /// Takes over `old`'s leaf gradient hooks (same ids, so their handles still remove them)
    /// and its `retain_grad()`, when a Python object comes to stand for this tensor instead.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // used by the Python bindings
    pub(crate) fn adopt_hooks(&self, old: &Tensor) {
        if old.is_leaf() && self.is_leaf() && self.requires_grad() {
            self.0.hooks.take_from(&old.0.hooks);
            self.0.post_hooks.take_from(&old.0.post_hooks);
        }
        if old.0.retains_grad.load(Ordering::Relaxed) && self.requires_grad() && !self.is_leaf() {
            self.retain_grad();
        }
    }

    /// Whether `retain_grad` was called on this non-leaf (always false for a leaf, as PyTorch).
    pub fn retains_grad(&self) -> bool {
        self.0.retains_grad.load(Ordering::Relaxed) && !self.is_leaf()
    }

    pub fn retain_grad(&self) {
        if self.0.retains_grad.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(n) = self.grad_fn() {
            n.retain(self);
        }
    }

    /// A tensor sharing storage (and its version counter) with no autograd history.
    /// The whole storage under this tensor as a 1-D tensor sharing it (and its version counter),
    /// with no history: what `resize_` and `as_strided` read, as PyTorch reads the storage.
    pub fn storage_view(&self) -> Tensor {
        let len = self.storage().len();
        Tensor::build(
            self.storage_arc(),
            self.0.version.clone(),
            Layout::contiguous(&[len]),
            self.dtype(),
            self.device(),
            None,
        )
    }

    pub fn detach(&self) -> Tensor {
        Tensor::build(
            self.storage_arc(),
            self.0.version.clone(),
            self.0.layout.clone(),
            self.dtype(),
            self.device(),
            None,
        )
    }

    /// A tensor over this one's storage (and version counter) with another layout: no history
    /// and no view tracking (for buffers inside kernels and backward rules).
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor::build(
            self.storage_arc(),
            self.0.version.clone(),
            layout,
            self.dtype(),
            self.device(),
            None,
        )
    }

    /// A tensor sharing storage with no history and a version counter of its own, as PyTorch's
    /// `.data`: in-place changes through it are not seen by autograd's checks.
    pub fn data_alias(&self) -> Tensor {
        Tensor::build(
            self.storage_arc(),
            Version::new(),
            self.0.layout.clone(),
            self.dtype(),
            self.device(),
            None,
        )
    }

    /// Runs backpropagation from this tensor (see [`autograd::backward`]).
    pub fn backward(&self, gradient: Option<Tensor>, retain_graph: bool) -> Result<()> {
        autograd::backward(self, gradient, retain_graph)
    }

    // ---- constructors ----

    /// A tensor from host data of `shape`.
    pub fn from_cpu(data: CpuStorage, shape: &[usize]) -> Result<Tensor> {
        let n = crate::shape::checked_numel(shape, "tensor")?;
        ensure!(
            data.len() == n,
            Shape,
            "tensor: {} values do not fill shape {shape:?} ({n} elements)",
            data.len()
        );
        Ok(Tensor::from_contiguous(Storage::Cpu(data), shape))
    }

    pub fn from_f32(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        Tensor::from_cpu(CpuStorage::F32(data), shape)
    }
    pub fn from_f64(data: Vec<f64>, shape: &[usize]) -> Result<Tensor> {
        Tensor::from_cpu(CpuStorage::F64(data), shape)
    }
    pub fn from_i64(data: Vec<i64>, shape: &[usize]) -> Result<Tensor> {
        Tensor::from_cpu(CpuStorage::I64(data), shape)
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType, device: Device) -> Result<Tensor> {
        crate::dtype::check_fits("full", value, dtype)?;
        let n = crate::shape::checked_numel(shape, "full")?;
        let value = if dtype.is_narrow() {
            dtype.wrap_int(value as i64) as f64
        } else {
            value
        };
        Tensor::from_contiguous(backend::full(n, value, dtype.storage(), device)?, shape)
            .into_dtype(dtype)
    }

    /// A fresh copy of elements of a tensor of dtype `d` (a clone, a gather, a concatenation),
    /// tagged `d`: for a narrow integer the values are already in range, so only the tag
    /// changes. Returned unchanged where `d` is not narrow or the storage is not int64.
    pub(crate) fn tagged(self, d: DType) -> Tensor {
        if d.is_narrow() && self.storage().dtype() == DType::I64 && Arc::strong_count(&self.0) == 1
        {
            self.0.dtype.store(d.code(), Ordering::Relaxed);
        }
        self
    }

    /// A fresh integer result (int64 storage) as the integer dtype `d`: its values wrapped into
    /// d's range (two's complement, as PyTorch's narrow integers wrap) and the tensor tagged
    /// `d`. Anything else is returned unchanged: a float or bool `self`, or `d` not narrow.
    pub(crate) fn into_dtype(self, d: DType) -> Result<Tensor> {
        if !d.is_narrow() || self.storage().dtype() != DType::I64 {
            return Ok(self);
        }
        // the values change in place below: only on a tensor nothing else holds
        let own = |t: &Tensor| {
            Arc::strong_count(&t.0) == 1
                && t.storage_counts() == (1, 0)
                && t.0.view_base.is_none()
                && t.owns_whole_storage()
        };
        let t = if own(&self) {
            self
        } else {
            let _g = autograd::NoGradGuard::new();
            Tensor::from_storage(
                backend::copy(&self.storage(), self.layout())?,
                Layout::contiguous(self.shape()),
            )
        };
        let on_gpu = t.device().is_gpu();
        let t = if !on_gpu {
            if let Storage::Cpu(CpuStorage::I64(v)) = &mut *t.storage_mut() {
                for x in v.iter_mut() {
                    *x = d.wrap_int(*x);
                }
            }
            t
        } else if d == DType::I32 {
            t // the GPU holds integers as 32-bit already
        } else {
            // ((x mod 2^bits + h) mod 2^bits) - h, h = 2^(bits-1) for a signed type (floored modulos)
            let (bits, signed) = d.int_range().unwrap_or((64, true));
            let m = (1i64 << bits) as f64;
            let h = if signed { m / 2.0 } else { 0.0 };
            let _g = autograd::NoGradGuard::new();
            // reduced into [0, m) first, so adding h cannot pass the GPU's 32 bits
            let r = t.binary(&t.scalar_like(m)?, backend::BinaryOp::Remainder)?;
            if signed {
                let x = r.add_scalar(h)?;
                x.binary(&x.scalar_like(m)?, backend::BinaryOp::Remainder)?
                    .add_scalar(-h)?
            } else {
                r
            }
        };
        t.0.dtype.store(d.code(), Ordering::Relaxed);
        Ok(t)
    }
    pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::full(shape, 0.0, dtype, device)
    }
    pub fn ones(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::full(shape, 1.0, dtype, device)
    }
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.shape(), self.dtype(), self.device())
    }
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::ones(self.shape(), self.dtype(), self.device())
    }

    /// `start, start+step, ...` below `end` (int64 when all are integers, else float32).
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType, device: Device) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::Value(format!(
                "arange: invalid range start={start}, end={end}, step={step}"
            )));
        }
        if (end - start) * step < 0.0 {
            return Err(Error::Value(format!(
                "arange: upper bound and lower bound are inconsistent with the step sign (start={start}, end={end}, step={step})"
            )));
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        if n > (1usize << 36) {
            return Err(Error::Value(format!("arange: {n} elements is too many")));
        }
        backend::reserve(n, DType::F64, Device::Cpu, "arange")?;
        let vals: Vec<f64> = match dtype {
            DType::F32 | DType::F64 => arange_as_pytorch(start, step, n, dtype == DType::F32),
            _ => (0..n).map(|i| start + i as f64 * step).collect(),
        };
        Tensor::from_cpu(CpuStorage::F64(vals), &[n])?
            .to_dtype(dtype)?
            .to_device(device)
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive.
    pub fn linspace(
        start: f64,
        end: f64,
        steps: usize,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        backend::reserve(steps, DType::F64, Device::Cpu, "linspace")?;
        // PyTorch's values: a step in the output's precision, the first half counted up from
        // `start` and the second half down from `end`, each a fused multiply-add rounded once
        // (so the points are symmetric about the middle and end exactly at `end`).
        let half = steps / 2;
        let vals: Vec<f64> = if steps == 1 {
            vec![start]
        } else if dtype == DType::F32 {
            let (s, e) = (start as f32, end as f32);
            let step = (e - s) / (steps - 1) as f32;
            (0..steps)
                .map(|i| {
                    let v = if i < half {
                        step.mul_add(i as f32, s)
                    } else {
                        (-step).mul_add((steps - 1 - i) as f32, e)
                    };
                    f64::from(v)
                })
                .collect()
        } else {
            let step = (end - start) / (steps - 1) as f64;
            (0..steps)
                .map(|i| {
                    if i < half {
                        step.mul_add(i as f64, start)
                    } else {
                        (-step).mul_add((steps - 1 - i) as f64, end)
                    }
                })
                .collect()
        };
        Tensor::from_cpu(CpuStorage::F64(vals), &[steps])?
            .to_dtype(dtype)?
            .to_device(device)
    }

    /// The `n×m` identity.
    pub fn eye(n: usize, m: usize, dtype: DType, device: Device) -> Result<Tensor> {
        let nm = crate::shape::checked_numel(&[n, m], "eye")?;
        backend::reserve(nm, DType::F64, Device::Cpu, "eye")?;
        let mut v = vec![0.0; nm];
        for i in 0..n.min(m) {
            v[i * m + i] = 1.0;
        }
        Tensor::from_cpu(CpuStorage::F64(v), &[n, m])?
            .to_dtype(dtype)?
            .to_device(device)
    }

    /// Random values from the library's seeded generators (see [`crate::random`]): on the CPU
    /// the values PyTorch's CPU generator draws for the same seed, on the GPU the counter stream.
    pub fn rand_kind(
        shape: &[usize],
        kind: RandKind,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        Tensor::rand_kind_laid(shape, kind, dtype, device, true)
    }

    /// [`Tensor::rand_kind`] for values that fill a tensor laid out contiguously or not (a
    /// normal fill of a strided tensor draws one value at a time, as PyTorch's).
    pub fn rand_kind_laid(
        shape: &[usize],
        kind: RandKind,
        dtype: DType,
        device: Device,
        contiguous: bool,
    ) -> Result<Tensor> {
        if !dtype.is_float() {
            return Err(Error::DType(format!(
                "rand: expected a floating dtype, got {dtype}"
            )));
        }
        let n = crate::shape::checked_numel(shape, "rand")?;
        if device == Device::Cpu {
            backend::reserve(n, dtype, device, "rand")?;
            use crate::random as r;
            let data = match (kind, dtype) {
                (RandKind::Uniform(a, b), DType::F64) => CpuStorage::F64(r::uniform_f64(n, a, b)),
                (RandKind::Uniform(a, b), _) => CpuStorage::F32(r::uniform_f32(n, a, b)),
                (RandKind::Normal(m, s), DType::F64) if n >= 16 && contiguous => {
                    CpuStorage::F64(r::normal_fill_f64(n, m, s))
                }
                (RandKind::Normal(m, s), DType::F64) => CpuStorage::F64(r::normal_serial(n, m, s)),
                (RandKind::Normal(m, s), _) if n >= 16 && contiguous => {
                    CpuStorage::F32(r::normal_fill_f32(n, m, s))
                }
                (RandKind::Normal(m, s), _) => CpuStorage::F32(
                    r::normal_serial(n, m, s)
                        .into_iter()
                        .map(|v| v as f32)
                        .collect(),
                ),
            };
            return Tensor::from_cpu(data, shape);
        }
        let (seed, offset) = crate::random::advance(n as u64 * 2);
        Ok(Tensor::from_contiguous(
            backend::rand(kind, n, seed, offset, dtype, device)?,
            shape,
        ))
    }
    pub fn rand(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::rand_kind(shape, RandKind::Uniform(0.0, 1.0), dtype, device)
    }
    pub fn randn(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::rand_kind(shape, RandKind::Normal(0.0, 1.0), dtype, device)
    }
    /// Integers uniform in `[low, high)` (int64).
    pub fn randint(low: i64, high: i64, shape: &[usize], device: Device) -> Result<Tensor> {
        if high <= low {
            return Err(Error::Value(format!(
                "randint: expected low < high, got low={low}, high={high}"
            )));
        }
        let n = crate::shape::checked_numel(shape, "randint")?;
        backend::reserve(n, DType::I64, Device::Cpu, "randint")?;
        // the span as PyTorch's unsigned `to - from`
        let span = (high as i128 - low as i128) as u64;
        if device == Device::Cpu {
            return Tensor::from_i64(crate::random::random_from_to(n, span, low), shape);
        }
        let (seed, offset) = crate::random::advance(n as u64 * 2);
        let k = crate::backend::cpu::random::stream_key(seed);
        // 64 random bits per value scaled onto the span (in u128), so every value of a span up
        // to 2^64 can come out
        let span = span as u128;
        let v: Vec<i64> = (0..n as u64)
            .map(|i| {
                let r = crate::backend::cpu::random::bits64(k, offset, i) as u128;
                (low as i128 + ((r * span) >> 64) as i128) as i64
            })
            .collect();
        Tensor::from_i64(v, shape)?.to_device(device)
    }

    /// Values for an in-place random fill of `self`, drawn by `draw(shape)` in the order of
    /// `self`'s memory (outer to inner by stride) and returned in `self`'s logical order, as a
    /// PyTorch CPU fill walks a permuted view (a transposed weight fills as its storage does).
    pub fn fill_in_memory_order(
        &self,
        draw: impl FnOnce(&[usize]) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let (shape, strides) = (self.shape(), self.strides());
        let mut order: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
        order.sort_by(|&a, &b| strides[b].cmp(&strides[a]));
        if order.windows(2).all(|w| w[0] < w[1]) {
            return draw(shape);
        }
        // the size-1 dimensions stay where they are (they change no order)
        let mut full = Vec::with_capacity(shape.len());
        let mut it = order.iter();
        for (d, &n) in shape.iter().enumerate() {
            full.push(if n == 1 { d } else { *it.next().unwrap() });
        }
        let drawn = draw(&full.iter().map(|&d| shape[d]).collect::<Vec<_>>())?;
        let mut inverse = vec![0isize; full.len()];
        for (i, &d) in full.iter().enumerate() {
            inverse[d] = i as isize;
        }
        drawn.permute(&inverse)
    }

    /// Bernoulli(`p`) draws as 0/1 of `dtype`: on the CPU one float64 uniform per value (as
    /// PyTorch's `bernoulli_(p)`), on the GPU the counter stream's float32 uniforms.
    pub fn bernoulli_scalar(
        shape: &[usize],
        p: f64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        let n = crate::shape::checked_numel(shape, "bernoulli_")?;
        if device == Device::Cpu {
            backend::reserve(n, DType::F64, device, "bernoulli_")?;
            let v = crate::random::bernoulli(n, p);
            return Tensor::from_f64(
                v.into_iter().map(|b| f64::from(u8::from(b))).collect(),
                shape,
            )?
            .to_dtype(dtype);
        }
        Tensor::rand(shape, DType::F32, device)?
            .binary(
                &Tensor::full(&[], p, DType::F32, device)?,
                backend::BinaryOp::Lt,
            )?
            .to_dtype(dtype)
    }

    // ---- conversion ----

    /// The elements in row-major order as host storage (one copy; a GPU readback when on the GPU).
    pub fn to_cpu_storage(&self) -> Result<CpuStorage> {
        backend::to_host(&self.storage(), self.layout())
    }

    /// Elements as f64 in row-major order.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        let c = self.to_cpu_storage()?;
        backend::reserve(c.len(), DType::F64, Device::Cpu, "to_f64_vec")?;
        Ok((0..c.len()).map(|i| c.get_f64(i)).collect())
    }

    /// Elements as f32 in row-major order.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        match self.to_cpu_storage()? {
            CpuStorage::F32(v) => Ok(v),
            c => Ok((0..c.len()).map(|i| c.get_f64(i) as f32).collect()),
        }
    }

    /// Elements as i64 in row-major order.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>> {
        match self.to_cpu_storage()? {
            CpuStorage::I64(v) => Ok(v),
            c => Ok((0..c.len()).map(|i| c.get_f64(i) as i64).collect()),
        }
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f64> {
        ensure!(
            self.numel() == 1,
            Value,
            "item: only one-element tensors can be converted to a Python scalar, got shape {:?}",
            self.shape()
        );
        Ok(self.to_f64_vec()?[0])
    }

    /// The single value of a one-element integer tensor, exactly (int64 values above 2^53 do
    /// not survive [`Tensor::item`]'s f64).
    pub fn item_i64(&self) -> Result<i64> {
        ensure!(
            self.numel() == 1,
            Value,
            "item: only one-element tensors can be converted to a Python scalar, got shape {:?}",
            self.shape()
        );
        Ok(self.to_i64_vec()?[0])
    }

    /// A copy on `device` (self when already there); differentiable.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let s = backend::to_device(&self.storage(), self.layout(), device)?;
        let from = self.device();
        Ok(
            Tensor::from_op(s, self.shape(), "ToDevice", &[self], &[], move |g| {
                Ok(vec![Some(g.to_device(from)?)])
            })
            .tagged(self.dtype()),
        )
    }

    /// A copy in `dtype` (self when already so); differentiable between float dtypes.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        if self.device().is_gpu() && dtype == DType::F64 {
            return Err(Error::DType(
                "to: float64 is not supported on the GPU; use float32".into(),
            ));
        }
        let s = backend::cast(&self.storage(), self.layout(), dtype)?;
        let from = self.dtype();
        let t = Tensor::from_contiguous(s, self.shape()).into_dtype(dtype)?;
        if dtype.is_float() && from.is_float() {
            return Ok(t.with_rule("ToCopy", &[self], &[], move |g| {
                Ok(vec![Some(g.to_dtype(from)?)])
            }));
        }
        Ok(t)
    }

    /// A contiguous tensor: self when already contiguous, else a copy (differentiable).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() && self.layout().offset == 0 && self.storage().len() == self.numel()
        {
            return Ok(self.clone());
        }
        self.deep_clone()
    }

    /// A copy with its own storage (differentiable), like PyTorch's `clone`.
    pub fn deep_clone(&self) -> Result<Tensor> {
        let s = backend::copy(&self.storage(), self.layout())?;
        Ok(
            Tensor::from_op(s, self.shape(), "Clone", &[self], &[], |g| {
                Ok(vec![Some(g.clone())])
            })
            .tagged(self.dtype()),
        )
    }

    /// The data write of an in-place op whose result `src` nothing else references: where both
    /// own their whole storage with one shape, dtype and device, the two storages exchange
    /// contents (every view and handle of this tensor's storage sees the new values, as after a
    /// copy) and the old buffer leaves with `src`, so no copy runs (no kernel on the GPU).
    /// Returns false, having done nothing, where the data must be copied: `src` shared, a view,
    /// memory lent out (a numpy view), shared with other processes (either side), or used by a
    /// captured graph.
    pub(crate) fn move_from(&self, src: &Tensor, op: &'static str) -> bool {
        if Arc::strong_count(&src.0) != 1
            || src.storage_counts() != (1, 0)
            || self.shares_storage(src)
            || src.dtype() != self.dtype()
            || src.device() != self.device()
            || src.shape() != self.shape()
            || self.numel() == 0
            || !self.owns_whole_storage()
            || !src.owns_whole_storage()
        {
            return false;
        }
        let mut mine = self.storage_mut();
        let mut theirs = src.storage_mut();
        if crate::host::is_pinned(&self.storage_arc())
            || !backend::replaceable(&mine)
            || !backend::replaceable(&theirs)
        {
            return false;
        }
        std::mem::swap(&mut *mine, &mut *theirs);
        drop(theirs);
        drop(mine);
        self.0.version.bump(op);
        true
    }

    /// Writes `src` (broadcast) into this tensor's storage: the raw data write under every
    /// in-place op, with no autograd bookkeeping beyond the version bump.
    pub(crate) fn write_from(&self, src: &Tensor, op: &'static str) -> Result<()> {
        ensure!(
            src.device() == self.device(),
            Device,
            "{op}: source on {} and destination on {}",
            src.device(),
            self.device()
        );
        let ls = src.layout().broadcast_to(self.shape(), op)?;
        if self.shares_storage(src) {
            let tmp = {
                let _g = autograd::NoGradGuard::new();
                src.deep_clone()?.detach()
            };
            let lt = tmp.layout().broadcast_to(self.shape(), op)?;
            let s = tmp.storage();
            backend::assign(&mut self.storage_mut(), self.layout(), &s, &lt)?;
        } else {
            let s = src.storage();
            backend::assign(&mut self.storage_mut(), self.layout(), &s, &ls)?;
        }
        self.0.version.bump(op);
        Ok(())
    }

    /// Writes `src` (broadcast, cast to this dtype) into this tensor in place, recording the
    /// copy in autograd like PyTorch's `copy_`.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        self.copy_named(src, "copy_")
    }

    /// `copy_` reported as `op` in errors and version checks.
    pub(crate) fn copy_named(&self, src: &Tensor, op: &'static str) -> Result<()> {
        src.layout().broadcast_to(self.shape(), op)?;
        let src = src.clone();
        self.inplace_replacing(op, move |t| {
            let v = if src.dtype() != t.dtype() {
                src.to_dtype(t.dtype())?
            } else {
                src.clone()
            };
            if v.shape() == t.shape() {
                Ok(v)
            } else {
                v.expand(t.shape())
            }
        })
    }

    /// Fills this tensor with `value` in place.
    pub fn fill_(&self, value: f64) -> Result<()> {
        let src = Tensor::full(&[], value, self.dtype(), self.device())?;
        self.copy_named(&src, "fill_")
    }

    /// Marks a leaf whose Python object was given a new shape in place: `next` stands for it
    /// from now on, and gradients a graph built before sends to this leaf go on to `next`.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // used by the Python bindings
    pub(crate) fn mark_superseded(&self, next: &Tensor) {
        *self.0.successor.lock().unwrap_or_else(|e| e.into_inner()) = Some(next.clone());
        let mut earlier = self
            .0
            .predecessors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        earlier.push(self.id());
        next.0
            .predecessors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(earlier);
    }

    /// The tensor now standing for this superseded leaf (kept alive while a graph holds this
    /// one; a chain of in-place shape changes is followed one step at a time).
    pub(crate) fn successor(&self) -> Option<Tensor> {
        self.0
            .successor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The ids of the leaves this tensor stands for after in-place shape changes.
    pub(crate) fn predecessors(&self) -> Vec<u64> {
        self.0
            .predecessors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether this tensor is its storage, whole and in order (no view into a larger buffer).
    pub fn owns_whole_storage(&self) -> bool {
        self.layout().offset == 0 && self.is_contiguous() && self.storage().len() == self.numel()
    }

    /// True when another tensor (a view, a `.data`/`detach()` alias) uses this tensor's storage.
    pub fn storage_is_shared(&self) -> bool {
        self.storage_counts().0 > 1
    }

    /// Replaces this tensor's data with a copy of `src` (same shape; any device or dtype),
    /// keeping the tensor object, as PyTorch's `t.data = src`. Used to move parameters in place.
    pub fn set_data(&self, src: &Tensor) -> Result<()> {
        ensure!(
            src.shape() == self.shape(),
            Shape,
            "set_data: new data of shape {:?} for a tensor of shape {:?}",
            src.shape(),
            self.shape()
        );
        if !self.owns_whole_storage() {
            return Err(Error::Runtime(format!(
                "set_data: only a tensor owning its whole storage can take new data (shape {:?}, strides {:?})",
                self.shape(),
                self.strides()
            )));
        }
        if self.requires_grad() && !src.dtype().is_float() {
            return Err(Error::Runtime(format!(
                "set_data: data set to a tensor that requires grad must be floating point, got {}",
                src.dtype()
            )));
        }
        let fresh = backend::copy(&src.storage(), src.layout())?;
        {
            let mut storage = self.storage_mut();
            // memory lent out (a collective's numpy view of it) must stay where it is
            if crate::host::is_pinned(&self.storage_arc()) {
                return Err(Error::Runtime(format!(
                    "set_data: the storage of this tensor (shape {:?}) is lent to a collective in progress; \
                     assign .data after it completes",
                    self.shape()
                )));
            }
            *storage = fresh;
        }
        self.0.dtype.store(src.dtype().code(), Ordering::Relaxed);
        self.0
            .device
            .store(device_code(src.device()), Ordering::Relaxed);
        self.0.version.bump("set_data");
        Ok(())
    }

    /// Marks a tensor made by `view(dtype)` as the copy it is: in-place writes are refused.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn mark_dtype_view_copy(&self) {
        self.0.dtype_view_copy.store(true, Ordering::Relaxed);
    }

    /// True for a view whose base is a leaf that requires grad (PyTorch refuses in-place
    /// changes, data or shape, to such a view while grad mode is on).
    pub(crate) fn is_view_of_grad_leaf(&self) -> bool {
        // (a view made while its base required grad keeps its node when the base stops
        // requiring it, `requires_grad_(False)`/`detach_()`: still refused, as PyTorch's)
        let recorded = || {
            self.0
                .grad_fn
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
        };
        self.0.view_of_view_leaf
            || self
                .0
                .view_base
                .as_ref()
                .is_some_and(|b| b.is_leaf() && (b.requires_grad() || recorded()))
    }

    /// Fails for in-place changes autograd cannot record: on a leaf that requires grad (or a
    /// view of one) while grad mode is on, and on a layout where several elements share memory.
    pub(crate) fn check_inplace(&self, op: &str) -> Result<()> {
        let copied = |t: &Tensor| t.0.dtype_view_copy.load(Ordering::Relaxed);
        if copied(self) || self.0.view_base.as_ref().is_some_and(copied) {
            return Err(Error::Runtime(format!(
                "{op}: this tensor was made by view(dtype), which rustdl computes as a copy (its integer \
                 types are stored widened, so the bytes cannot be shared): an in-place write to it would \
                 not reach the original tensor. Write to the original, or take .clone() to make the copy explicit"
            )));
        }
        if autograd::is_grad_enabled() {
            if self.is_leaf() && self.0.requires_grad.load(Ordering::Acquire) {
                // a view that was made to require grad itself is such a leaf too (its base
                // does not require grad), worded as PyTorch's
                let what = if self.0.view_base.is_some() {
                    "a view of a leaf tensor"
                } else {
                    "a leaf tensor"
                };
                return Err(Error::Runtime(format!(
                    "{op}: {what} that requires grad is being used in an in-place operation; wrap it in rustdl.no_grad()"
                )));
            }
            if self.is_view_of_grad_leaf() {
                return Err(Error::Runtime(format!(
                    "{op}: a view of a leaf tensor that requires grad is being used in an in-place operation; wrap it in rustdl.no_grad()"
                )));
            }
        }
        let l = self.layout();
        // writing one constant (fill_/zero_/masked_fill_) is well defined however the elements
        // share memory: PyTorch allows it on an expanded tensor
        let constant = matches!(op, "fill_" | "zero_" | "masked_fill_" | "index_fill_");
        // an empty tensor has no element to write twice
        if !constant
            && l.shape.iter().all(|&n| n > 0)
            && l.shape
                .iter()
                .zip(&l.strides)
                .any(|(&n, &st)| n > 1 && st == 0)
        {
            return Err(Error::Runtime(format!(
                "{op}: unsupported operation: more than one element of the written-to tensor (shape {:?}, strides {:?}) refers to a single memory location; clone() it first",
                l.shape, l.strides
            )));
        }
        Ok(())
    }
}

fn device_code(d: Device) -> usize {
    match d {
        Device::Cpu => 0,
        Device::Gpu(i) => i + 1,
    }
}

/// `n` values of `start + k·step` rounded as PyTorch's CPU kernel rounds them, so that values
/// such as `arange(-8, 8, 0.1)[80]` (4.4e-16 there, not 0) and every last bit agree: runs of
/// `2·W` elements (W = 8 float32 or 4 float64 lanes) in blocks of W, each block from its first
/// value `fma(step, k, start)` in float64 (rounded to the output type) plus `i·step` for its
/// lanes; the tail past the last run element by element as `fma(step, k, start)`.
fn arange_as_pytorch(start: f64, step: f64, n: usize, f32_out: bool) -> Vec<f64> {
    let w = if f32_out { 8 } else { 4 };
    let runs = n / (2 * w) * (2 * w);
    let mut out = Vec::with_capacity(n);
    let mut k = 0;
    while k < runs {
        let base = step.mul_add(k as f64, start);
        for i in 0..w {
            let v = if f32_out {
                (base as f32) as f64 + i as f64 * step
            } else {
                (i as f64).mul_add(step, base)
            };
            out.push(if f32_out { v as f32 as f64 } else { v });
        }
        k += w;
    }
    for k in runs..n {
        out.push(step.mul_add(k as f64, start));
    }
    out
}

/// A read lock on a tensor's storage that holds the storage alive itself, so it stays valid
/// should the tensor be given another storage meanwhile (`t.data = other`).
pub struct StorageRead {
    // declared first: dropped before the handle that keeps the lock alive
    guard: RwLockReadGuard<'static, Storage>,
    _owner: Arc<RwLock<Storage>>,
}

impl StorageRead {
    fn new(owner: Arc<RwLock<Storage>>) -> StorageRead {
        let guard = owner.read().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the lock lives in the Arc's heap allocation, which `_owner` keeps alive (and in
        // place) for as long as this struct exists; the guard is dropped before `_owner`
        let guard = unsafe {
            std::mem::transmute::<RwLockReadGuard<'_, Storage>, RwLockReadGuard<'static, Storage>>(
                guard,
            )
        };
        StorageRead {
            guard,
            _owner: owner,
        }
    }
}

impl Deref for StorageRead {
    type Target = Storage;
    fn deref(&self) -> &Storage {
        &self.guard
    }
}

/// A write lock on a tensor's storage that holds the storage alive itself (see [`StorageRead`]).
pub struct StorageWrite {
    guard: RwLockWriteGuard<'static, Storage>,
    _owner: Arc<RwLock<Storage>>,
}

impl StorageWrite {
    fn new(owner: Arc<RwLock<Storage>>) -> StorageWrite {
        let guard = owner.write().unwrap_or_else(|e| e.into_inner());
        // SAFETY: as in `StorageRead::new`
        let guard = unsafe {
            std::mem::transmute::<RwLockWriteGuard<'_, Storage>, RwLockWriteGuard<'static, Storage>>(
                guard,
            )
        };
        StorageWrite {
            guard,
            _owner: owner,
        }
    }
}

impl Deref for StorageWrite {
    type Target = Storage;
    fn deref(&self) -> &Storage {
        &self.guard
    }
}

impl DerefMut for StorageWrite {
    fn deref_mut(&mut self) -> &mut Storage {
        &mut self.guard
    }
}
