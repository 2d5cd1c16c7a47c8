//! The backend contract: every primitive a device must provide, as one trait.
//!
//! The op layer (`crate::ops`) says *what* it needs — a unary map, a reduction, a convolution's
//! forward, weight gradient or input gradient — and each backend decides *how*: the CPU picks a
//! direct or an im2col convolution and its thread split, the GPU its tiles and when to fall
//! back to exact host arithmetic. A new backend implements the required methods (storage,
//! elementwise, reductions, products, indexing, random fills, transfers) and starts with the
//! provided convolution, which composes `im2col`, `matmul` and `col2im`; it overrides what it
//! can do faster. `crate::backend` routes each `Storage` to the backend that owns it.
//!
//! Every method takes storages of this backend with their layouts (broadcast already where a
//! method says so) and returns a fresh contiguous storage; shapes are checked by the op layer.

use super::recurrent::{RnnCellGradIn, RnnCellIn, RnnStep};
use super::{
    AttnDims, BinaryOp, ChannelCoeffs, ClassLossSpec, Conv2dGeom, OptimStep, RandKind, ReduceOp,
    UnaryOp,
};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// What a device provides. `Storage` is the backend's own buffer type.
pub trait Backend {
    /// The backend's memory for one tensor.
    type Storage;

    // ---- storage and transfers ----

    /// The device this backend runs on.
    fn device(&self) -> Device;
    /// The dtype of one of this backend's storages.
    fn dtype(&self, x: &Self::Storage) -> DType;

    /// Contiguous copy of a strided view.
    fn copy(&self, x: &Self::Storage, l: &Layout) -> Result<Self::Storage>;
    /// Contiguous copy converted to `dtype`.
    fn cast(&self, x: &Self::Storage, l: &Layout, dtype: DType) -> Result<Self::Storage>;
    /// `n` elements equal to `value`.
    fn full(&self, n: usize, value: f64, dtype: DType) -> Result<Self::Storage>;
    /// The elements of a view, row-major, in host memory.
    fn to_host(&self, x: &Self::Storage, l: &Layout) -> Result<CpuStorage>;
    /// Host elements moved onto this backend.
    fn upload(&self, h: &CpuStorage) -> Result<Self::Storage>;
    /// Writes `src` (broadcast to `ld.shape`) into the view `ld` of `dst`, in place.
    fn assign(
        &self,
        dst: &mut Self::Storage,
        ld: &Layout,
        src: &Self::Storage,
        ls: &Layout,
    ) -> Result<()>;

    // ---- elementwise ----

    /// Unary elementwise op into a contiguous result of the same dtype.
    fn unary(&self, op: UnaryOp, x: &Self::Storage, l: &Layout) -> Result<Self::Storage>;
    /// Binary elementwise op; both layouts broadcast to the output shape, one dtype.
    fn binary(
        &self,
        op: BinaryOp,
        a: &Self::Storage,
        la: &Layout,
        b: &Self::Storage,
        lb: &Layout,
    ) -> Result<Self::Storage>;
    /// `cond ? a : b`; all layouts broadcast to the output shape; `cond` is bool.
    fn where_(
        &self,
        c: Operand<'_, Self>,
        a: Operand<'_, Self>,
        b: Operand<'_, Self>,
    ) -> Result<Self::Storage>;

    // ---- reductions and scans ----

    /// Reduction over `dims` (sorted, unique); those dims are removed from the result.
    fn reduce(
        &self,
        op: ReduceOp,
        x: &Self::Storage,
        l: &Layout,
        dims: &[usize],
    ) -> Result<Self::Storage>;
    /// Softmax (or log-softmax) over the last dim of a view.
    fn softmax(&self, x: &Self::Storage, l: &Layout, log: bool) -> Result<Self::Storage>;
    /// `y_k = a_k * y_(k-1) + b_k` along `dim` from `init` (from the end when `reverse`).
    fn linear_scan(
        &self,
        a: Operand<'_, Self>,
        b: Operand<'_, Self>,
        scan: Scan,
    ) -> Result<Self::Storage>;
    /// Stable argsort (int64) along the last dim; NaN sorts above every number.
    fn argsort(&self, x: &Self::Storage, l: &Layout, descending: bool) -> Result<Self::Storage>;

    // ---- products ----

    /// Batched matmul: `[B.., m, k] @ [B.., k, n]` with equal batch dims.
    fn matmul(
        &self,
        a: &Self::Storage,
        la: &Layout,
        b: &Self::Storage,
        lb: &Layout,
    ) -> Result<Self::Storage>;

    /// [`Backend::matmul`] plus a dense `(n)` bias added to every row of the product (a linear
    /// layer's forward). Provided: the product, then an elementwise add.
    fn matmul_bias(
        &self,
        a: &Self::Storage,
        la: &Layout,
        b: &Self::Storage,
        lb: &Layout,
        bias: Option<&Self::Storage>,
    ) -> Result<Self::Storage> {
        let y = self.matmul(a, la, b, lb)?;
        let Some(bv) = bias else {
            return Ok(y);
        };
        let n = lb.shape.last().copied().unwrap_or(1);
        let rows: usize = la.shape[..la.ndim().saturating_sub(1)].iter().product();
        let lb2 = Layout {
            shape: vec![rows, n],
            strides: vec![0, 1],
            offset: 0,
        };
        self.binary(BinaryOp::Add, &y, &Layout::contiguous(&[rows, n]), bv, &lb2)
    }

    // ---- indexing ----

    /// Selects `idx` (1-D int64) along `dim` of `x`.
    fn index_select(
        &self,
        x: Operand<'_, Self>,
        dim: usize,
        idx: Operand<'_, Self>,
    ) -> Result<Self::Storage>;
    /// A zero tensor of `shape` with rows of `src` added at `idx` along `dim`.
    fn index_add(
        &self,
        shape: &[usize],
        dim: usize,
        idx: Operand<'_, Self>,
        src: Operand<'_, Self>,
    ) -> Result<Self::Storage>;
    /// `out[i][j] = x[i][idx[i][j]]` along `dim` (idx has x's rank).
    fn gather(
        &self,
        x: Operand<'_, Self>,
        dim: usize,
        idx: Operand<'_, Self>,
    ) -> Result<Self::Storage>;
    /// A zero tensor of `shape` with `src` added at `idx` along `dim` (gather's adjoint).
    fn scatter_add(
        &self,
        shape: &[usize],
        dim: usize,
        idx: Operand<'_, Self>,
        src: Operand<'_, Self>,
    ) -> Result<Self::Storage>;

    // ---- windows: convolution and pooling ----

    /// `(N,C,H,W)` patches as columns `(N·oh·ow, C·kh·kw)`, padded with `pad_value`.
    fn im2col(
        &self,
        x: &Self::Storage,
        l: &Layout,
        g: &Conv2dGeom,
        pad_value: f64,
    ) -> Result<Self::Storage>;
    /// Columns folded back into `(N,C,H,W)`, overlaps summed (im2col's adjoint).
    fn col2im(&self, x: &Self::Storage, l: &Layout, g: &Conv2dGeom) -> Result<Self::Storage>;
    /// Max pooling: values `(N,C,oh,ow)` and the int64 flat index `h*W + w` of each maximum.
    fn max_pool2d(
        &self,
        x: &Self::Storage,
        l: &Layout,
        g: &Conv2dGeom,
    ) -> Result<(Self::Storage, Self::Storage)>;

    /// The largest buffer this backend can hand one kernel, in bytes (the provided convolution
    /// runs in batch chunks whose columns fit). Provided: no limit.
    fn max_buffer_bytes(&self) -> usize {
        usize::MAX
    }

    /// Ungrouped 2-D convolution: input view `x`, dense weight `(O, C·kh·kw)`, dense bias `(O)`.
    /// Returns `(N, O, oh, ow)` and a workspace the weight gradient may read (the columns).
    /// Provided: [`provided::conv2d`].
    fn conv2d(
        &self,
        x: Operand<'_, Self>,
        w: &Self::Storage,
        bias: Option<&Self::Storage>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<(Self::Storage, Option<Self::Storage>)> {
        provided::conv2d(self, x, w, bias, g, o)
    }

    /// The weight gradient `(O, C·kh·kw)` of [`Backend::conv2d`] from the input view, the
    /// forward's workspace and the output gradient view `(N, O, oh, ow)`.
    /// Provided: [`provided::conv2d_weight_grad`].
    fn conv2d_weight_grad(
        &self,
        x: Operand<'_, Self>,
        workspace: Option<&Self::Storage>,
        gout: Operand<'_, Self>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<Self::Storage> {
        provided::conv2d_weight_grad(self, x, workspace, gout, g, o)
    }

    /// The input gradient `(N, C, H, W)` of [`Backend::conv2d`] from the output gradient view
    /// and the dense weight. Provided: [`provided::conv2d_input_grad`].
    fn conv2d_input_grad(
        &self,
        gout: Operand<'_, Self>,
        w: &Self::Storage,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<Self::Storage> {
        provided::conv2d_input_grad(self, gout, w, g, o)
    }

    // ---- per-channel statistics (batch normalisation) ----
    //
    // `x` (and `y`) are dense `(N, C, S)` views; the per-channel operands `a`, `b`, `d`, `m` are
    // dense `(C)` storages of the same dtype.

    /// Per-channel mean and biased variance of `x`, two `(C)` storages.
    /// Provided: [`provided_channel::channel_moments`].
    fn channel_moments(
        &self,
        x: &Self::Storage,
        l: &Layout,
    ) -> Result<(Self::Storage, Self::Storage)> {
        provided_channel::channel_moments(self, x, l)
    }

    /// `x·a[c] + b[c]`, plus `y·d[c]` when `y = Some((y, d))` (`y` laid out as `x`).
    /// Provided: [`provided_channel::channel_affine`].
    fn channel_affine(
        &self,
        x: &Self::Storage,
        l: &Layout,
        a: &Self::Storage,
        b: &Self::Storage,
        y: Option<(&Self::Storage, &Self::Storage)>,
    ) -> Result<Self::Storage> {
        provided_channel::channel_affine(self, x, l, a, b, y)
    }

    /// Batch normalisation's per-channel arithmetic in one pass over the channels: the `(C)`
    /// outputs of `spec` from its `(C)` inputs (see [`ChannelCoeffs`]).
    fn channel_coeffs(
        &self,
        spec: &ChannelCoeffs,
        ins: &[&Self::Storage],
    ) -> Result<Vec<Self::Storage>>;

    /// Per-channel `Σ y` and `Σ y·(x − m[c])` (`y` laid out as `x`), two `(C)` storages.
    /// Provided: [`provided_channel::channel_dot`].
    fn channel_dot(
        &self,
        y: &Self::Storage,
        x: &Self::Storage,
        l: &Layout,
        m: &Self::Storage,
    ) -> Result<(Self::Storage, Self::Storage)> {
        provided_channel::channel_dot(self, y, x, l, m)
    }

    // ---- attention ----

    /// Fused scaled-dot-product attention over dense `q (B, L, E)`, `k (B, S, E)`,
    /// `v (B, S, Ev)` and an optional dense additive mask `(L, S)` or `(B, L, S)`; top-left
    /// causal masking; a query that sees no key gives zeros. Returns the output `(B, L, Ev)` and
    /// each query's log-sum-exp `(B, L)` (−inf for a row that sees no key). Provided: an error —
    /// the caller composes attention from matmul and softmax on a backend without it.
    fn attention_forward(
        &self,
        qkv: (&Self::Storage, &Self::Storage, &Self::Storage),
        ls: (&Layout, &Layout, &Layout),
        mask: Option<(&Self::Storage, &Layout)>,
        d: AttnDims,
        causal: bool,
        scale: f64,
    ) -> Result<(Self::Storage, Self::Storage)> {
        let _ = (qkv, ls, mask, d, causal, scale);
        Err(crate::error::Error::Device(format!(
            "scaled_dot_product_attention: no fused kernel on {}",
            self.device()
        )))
    }

    /// The backward of [`Backend::attention_forward`]: `(dq, dk, dv)`. Provided: an error.
    #[allow(clippy::too_many_arguments)]
    fn attention_backward(
        &self,
        qkv: (&Self::Storage, &Self::Storage, &Self::Storage),
        ls: (&Layout, &Layout, &Layout),
        saved: (&Self::Storage, &Self::Storage, &Self::Storage, &Layout),
        mask: Option<(&Self::Storage, &Layout)>,
        d: AttnDims,
        causal: bool,
        scale: f64,
    ) -> Result<(Self::Storage, Self::Storage, Self::Storage)> {
        let _ = (qkv, ls, saved, mask, d, causal, scale);
        Err(crate::error::Error::Device(format!(
            "scaled_dot_product_attention backward: no fused kernel on {}",
            self.device()
        )))
    }

    // ---- losses ----

    /// Fused classification loss over dense `(rows, classes)` scores `x`, dense targets `t`
    /// (int64) and optional dense class weights `w` (see [`ClassLossSpec`]). Returns the loss
    /// (`rows` values for no reduction, else one) and a workspace for the backward. Provided: an
    /// error — the caller composes the loss from log-softmax, gather and sums instead.
    fn class_loss_forward(
        &self,
        x: &Self::Storage,
        t: &Self::Storage,
        w: Option<&Self::Storage>,
        d: &ClassLossSpec,
    ) -> Result<(Self::Storage, Self::Storage)> {
        let _ = (x, t, w, d);
        Err(crate::error::Error::Device(format!(
            "cross_entropy: no fused kernel on {}",
            self.device()
        )))
    }

    /// The backward of [`Backend::class_loss_forward`]: the gradient of the scores from the
    /// forward's workspace and the dense output gradient `g`. Provided: an error.
    fn class_loss_backward(
        &self,
        x: &Self::Storage,
        t: &Self::Storage,
        w: Option<&Self::Storage>,
        aux: &Self::Storage,
        g: &Self::Storage,
        d: &ClassLossSpec,
    ) -> Result<Self::Storage> {
        let _ = (x, t, w, aux, g, d);
        Err(crate::error::Error::Device(format!(
            "cross_entropy backward: no fused kernel on {}",
            self.device()
        )))
    }

    // ---- random numbers and optimizers ----

    /// `n` numbers from the counter-based generator at (`seed`, `offset`).
    fn rand(
        &self,
        kind: RandKind,
        n: usize,
        seed: u64,
        offset: u64,
        dtype: DType,
    ) -> Result<Self::Storage>;
    /// One fused optimizer update of a dense parameter, in place, with its state buffers.
    fn optim_step(
        &self,
        step: &OptimStep,
        param: &mut Self::Storage,
        grad: Operand<'_, Self>,
        state: &mut [&mut Self::Storage],
    ) -> Result<()>;

    /// Fused updates of several dense parameters with one hyper-parameter set: per parameter
    /// its storage, gradient view and state buffers. Provided: one [`Backend::optim_step`] each.
    fn optim_step_many(
        &self,
        step: &OptimStep,
        params: &mut [&mut Self::Storage],
        grads: &[Operand<'_, Self>],
        states: &mut [Vec<&mut Self::Storage>],
    ) -> Result<()> {
        for ((p, g), st) in params.iter_mut().zip(grads).zip(states.iter_mut()) {
            self.optim_step(step, p, *g, st)?;
        }
        Ok(())
    }

    // ---- recurrent layers ----

    /// One step of a recurrent layer direction's gate math over every batch row, in place on
    /// the layer's state, tape and packed output (layouts in [`RnnStep`]).
    fn rnn_cell_forward(
        &self,
        s: &RnnStep,
        i: RnnCellIn<'_, Self::Storage>,
        state: &mut Self::Storage,
        tape: &mut Self::Storage,
        out: &mut Self::Storage,
    ) -> Result<()>;
    /// The backward of [`Backend::rnn_cell_forward`] for one step: updates `carry` and writes
    /// the step's gate gradients into `dg` (layouts in [`RnnStep`]).
    fn rnn_cell_backward(
        &self,
        s: &RnnStep,
        i: RnnCellGradIn<'_, Self::Storage>,
        carry: &mut Self::Storage,
        dg: &mut Self::Storage,
    ) -> Result<()>;
}

/// A storage of backend `B` with the layout it is read through.
pub type Operand<'a, B> = (&'a <B as Backend>::Storage, &'a Layout);

/// Where and how a [`Backend::linear_scan`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scan {
    pub dim: usize,
    pub reverse: bool,
    pub init: f64,
}

/// Writes, inside an `impl Backend for …` block, the methods that only forward to the
/// same-named free function of the backend's module (`super::name`), each [`Operand`] passed
/// on as its storage and layout; the methods with backend logic of their own stay written out.
/// Usage: `forward_kernels!(where_, softmax, matmul);`.
macro_rules! forward_kernels {
    (@one copy) => {
        fn copy(&self, x: &Self::Storage, l: &$crate::shape::Layout) -> $crate::error::Result<Self::Storage> {
            super::copy(x, l)
        }
    };
    (@one cast) => {
        fn cast(
            &self,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
            dtype: $crate::dtype::DType,
        ) -> $crate::error::Result<Self::Storage> {
            super::cast(x, l, dtype)
        }
    };
    (@one assign) => {
        fn assign(
            &self,
            dst: &mut Self::Storage,
            ld: &$crate::shape::Layout,
            src: &Self::Storage,
            ls: &$crate::shape::Layout,
        ) -> $crate::error::Result<()> {
            super::assign(dst, ld, src, ls)
        }
    };
    (@one unary) => {
        fn unary(
            &self,
            op: $crate::backend::UnaryOp,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
        ) -> $crate::error::Result<Self::Storage> {
            super::unary(op, x, l)
        }
    };
    (@one binary) => {
        fn binary(
            &self,
            op: $crate::backend::BinaryOp,
            a: &Self::Storage,
            la: &$crate::shape::Layout,
            b: &Self::Storage,
            lb: &$crate::shape::Layout,
        ) -> $crate::error::Result<Self::Storage> {
            super::binary(op, a, la, b, lb)
        }
    };
    (@one where_) => {
        fn where_(
            &self,
            c: $crate::backend::contract::Operand<'_, Self>,
            a: $crate::backend::contract::Operand<'_, Self>,
            b: $crate::backend::contract::Operand<'_, Self>,
        ) -> $crate::error::Result<Self::Storage> {
            super::where_(c.0, c.1, a.0, a.1, b.0, b.1)
        }
    };
    (@one reduce) => {
        fn reduce(
            &self,
            op: $crate::backend::ReduceOp,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
            dims: &[usize],
        ) -> $crate::error::Result<Self::Storage> {
            super::reduce(op, x, l, dims)
        }
    };
    (@one softmax) => {
        fn softmax(
            &self,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
            log: bool,
        ) -> $crate::error::Result<Self::Storage> {
            super::softmax(x, l, log)
        }
    };
    (@one linear_scan) => {
        fn linear_scan(
            &self,
            a: $crate::backend::contract::Operand<'_, Self>,
            b: $crate::backend::contract::Operand<'_, Self>,
            s: $crate::backend::contract::Scan,
        ) -> $crate::error::Result<Self::Storage> {
            super::linear_scan(a.0, a.1, b.0, b.1, s.dim, s.reverse, s.init)
        }
    };
    (@one argsort) => {
        fn argsort(
            &self,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
            descending: bool,
        ) -> $crate::error::Result<Self::Storage> {
            super::argsort(x, l, descending)
        }
    };
    (@one matmul) => {
        fn matmul(
            &self,
            a: &Self::Storage,
            la: &$crate::shape::Layout,
            b: &Self::Storage,
            lb: &$crate::shape::Layout,
        ) -> $crate::error::Result<Self::Storage> {
            super::matmul(a, la, b, lb)
        }
    };
    (@one index_select) => {
        fn index_select(
            &self,
            x: $crate::backend::contract::Operand<'_, Self>,
            dim: usize,
            idx: $crate::backend::contract::Operand<'_, Self>,
        ) -> $crate::error::Result<Self::Storage> {
            super::index_select(x.0, x.1, dim, idx.0, idx.1)
        }
    };
    (@one gather) => {
        fn gather(
            &self,
            x: $crate::backend::contract::Operand<'_, Self>,
            dim: usize,
            idx: $crate::backend::contract::Operand<'_, Self>,
        ) -> $crate::error::Result<Self::Storage> {
            super::gather(x.0, x.1, dim, idx.0, idx.1)
        }
    };
    (@one index_add) => {
        fn index_add(
            &self,
            shape: &[usize],
            dim: usize,
            idx: $crate::backend::contract::Operand<'_, Self>,
            src: $crate::backend::contract::Operand<'_, Self>,
        ) -> $crate::error::Result<Self::Storage> {
            super::index_add(shape, dim, idx.0, idx.1, src.0, src.1)
        }
    };
    (@one scatter_add) => {
        fn scatter_add(
            &self,
            shape: &[usize],
            dim: usize,
            idx: $crate::backend::contract::Operand<'_, Self>,
            src: $crate::backend::contract::Operand<'_, Self>,
        ) -> $crate::error::Result<Self::Storage> {
            super::scatter_add(shape, dim, idx.0, idx.1, src.0, src.1)
        }
    };
    (@one im2col) => {
        fn im2col(
            &self,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
            g: &$crate::backend::Conv2dGeom,
            pad_value: f64,
        ) -> $crate::error::Result<Self::Storage> {
            super::im2col(x, l, g, pad_value)
        }
    };
    (@one col2im) => {
        fn col2im(
            &self,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
            g: &$crate::backend::Conv2dGeom,
        ) -> $crate::error::Result<Self::Storage> {
            super::col2im(x, l, g)
        }
    };
    (@one max_pool2d) => {
        fn max_pool2d(
            &self,
            x: &Self::Storage,
            l: &$crate::shape::Layout,
            g: &$crate::backend::Conv2dGeom,
        ) -> $crate::error::Result<(Self::Storage, Self::Storage)> {
            super::max_pool2d(x, l, g)
        }
    };
    ($($name:ident),* $(,)?) => {
        $( $crate::backend::contract::forward_kernels!(@one $name); )*
    };
}
pub(crate) use forward_kernels;

/// The contract's provided algorithms, composed of required primitives; a backend that
/// overrides a method for some shapes calls these for the rest.
pub mod provided {
    use super::{conv_grad_rows, Backend, Operand};
    use crate::backend::{BinaryOp, Conv2dGeom};
    use crate::dtype::DType;
    use crate::error::Result;
    use crate::shape::Layout;

    /// Columns one chunk of images may take at most: a quarter of the backend's largest buffer
    /// (so a chunk's product and output fit beside them), and 256 MiB.
    const CHUNK_BYTES: usize = 256 << 20;

    /// Images per chunk: as many as keep one chunk's columns within [`CHUNK_BYTES`] and the
    /// backend's buffer limit (at least one; the whole batch when it fits).
    pub(crate) fn images_per_chunk<B: Backend + ?Sized>(
        b: &B,
        dtype: DType,
        g: &Conv2dGeom,
    ) -> usize {
        let per_image = g
            .col_cols()
            .saturating_mul(g.col_rows())
            .saturating_mul(dtype.size())
            .max(1);
        let cap = (b.max_buffer_bytes() / 4).min(CHUNK_BYTES);
        (cap / per_image).clamp(1, g.n.max(1))
    }

    /// Images `a..a + m` of the batch view `l` (batch on dim 0).
    fn batch_slice(l: &Layout, a: usize, m: usize) -> Layout {
        let mut s = l.clone();
        s.offset += a * l.strides[0];
        s.shape[0] = m;
        s
    }

    /// Runs `one(first image, images, their geometry)` on the batch in chunks of `per`
    /// images, each result (a dense `(m, inner…)` block) written into a dense `(N, inner…)`
    /// result at its place.
    fn by_chunks<B: Backend + ?Sized>(
        b: &B,
        dtype: DType,
        g: &Conv2dGeom,
        per: usize,
        inner: &[usize],
        one: impl Fn(usize, usize, &Conv2dGeom) -> Result<B::Storage>,
    ) -> Result<B::Storage> {
        let block: usize = inner.iter().product();
        let mut out = b.full(g.n * block, 0.0, dtype)?;
        for a in (0..g.n).step_by(per) {
            let m = per.min(g.n - a);
            let gc = Conv2dGeom { n: m, ..*g };
            let y = one(a, m, &gc)?;
            let shape: Vec<usize> = std::iter::once(m).chain(inner.iter().copied()).collect();
            let mut ld = Layout::contiguous(&shape);
            ld.offset = a * block;
            b.assign(&mut out, &ld, &y, &Layout::contiguous(&shape))?;
        }
        Ok(out)
    }

    /// im2col, one gemm `cols (N·L, K) @ wᵀ (K, O)`, then the bias added while the product is
    /// laid out as `(N, O, L)` (one pass). The columns are the workspace. A batch whose columns
    /// would pass [`CHUNK_BYTES`] (or the backend's buffer limit) runs in chunks of images, and
    /// keeps no workspace.
    pub fn conv2d<B: Backend + ?Sized>(
        b: &B,
        x: Operand<'_, B>,
        w: &B::Storage,
        bias: Option<&B::Storage>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<(B::Storage, Option<B::Storage>)> {
        let dtype = b.dtype(x.0);
        let per = images_per_chunk(b, dtype, g);
        if per < g.n {
            let l = g.col_cols();
            let out = by_chunks(b, dtype, g, per, &[o, l], |a, m, gc| {
                Ok(conv2d_whole(b, (x.0, &batch_slice(x.1, a, m)), w, bias, gc, o)?.0)
            })?;
            return Ok((out, None));
        }
        conv2d_whole(b, x, w, bias, g, o)
    }

    fn conv2d_whole<B: Backend + ?Sized>(
        b: &B,
        x: Operand<'_, B>,
        w: &B::Storage,
        bias: Option<&B::Storage>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<(B::Storage, Option<B::Storage>)> {
        let (n, l, k) = (g.n, g.col_cols(), g.col_rows());
        let count = n
            .checked_mul(l)
            .and_then(|v| v.checked_mul(k))
            .unwrap_or(usize::MAX);
        crate::backend::reserve(count, b.dtype(x.0), b.device(), "conv2d (im2col columns)")?;
        let cols = b.im2col(x.0, x.1, g, 0.0)?;
        let lc = Layout::contiguous(&[n * l, k]);
        let lw = Layout::contiguous(&[o, k]).permute(&[1, 0]);
        let y = b.matmul(&cols, &lc, w, &lw)?;
        let ly = Layout::contiguous(&[n, l, o]).permute(&[0, 2, 1]);
        let out = match bias {
            Some(bias) => {
                let lb = Layout {
                    shape: vec![n, o, l],
                    strides: vec![0, 1, 0],
                    offset: 0,
                };
                b.binary(BinaryOp::Add, &y, &ly, bias, &lb)?
            }
            None => b.copy(&y, &ly)?,
        };
        Ok((out, Some(cols)))
    }

    /// `gᵀ @ cols` with the gradient as dense `(N·oh·ow, O)` rows; the columns are rebuilt
    /// from the input when the forward kept none (chunk by chunk, the partial products summed,
    /// when they would pass [`CHUNK_BYTES`]).
    pub fn conv2d_weight_grad<B: Backend + ?Sized>(
        b: &B,
        x: Operand<'_, B>,
        workspace: Option<&B::Storage>,
        gout: Operand<'_, B>,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<B::Storage> {
        let per = images_per_chunk(b, b.dtype(x.0), g);
        if workspace.is_none() && per < g.n {
            let lk = Layout::contiguous(&[o, g.col_rows()]);
            let mut acc: Option<B::Storage> = None;
            for a in (0..g.n).step_by(per) {
                let m = per.min(g.n - a);
                let gc = Conv2dGeom { n: m, ..*g };
                let part = conv2d_weight_grad(
                    b,
                    (x.0, &batch_slice(x.1, a, m)),
                    None,
                    (gout.0, &batch_slice(gout.1, a, m)),
                    &gc,
                    o,
                )?;
                acc = Some(match acc {
                    None => part,
                    Some(s) => b.binary(BinaryOp::Add, &s, &lk, &part, &lk)?,
                });
            }
            return acc.map_or_else(|| b.full(o * g.col_rows(), 0.0, b.dtype(x.0)), Ok);
        }
        let rebuilt;
        let cols = match workspace {
            Some(c) => c,
            None => {
                rebuilt = b.im2col(x.0, x.1, g, 0.0)?;
                &rebuilt
            }
        };
        let rows = g.n * g.col_cols();
        let gy = b.copy(gout.0, &conv_grad_rows(gout.1, g, o))?;
        let gyt = Layout::contiguous(&[rows, o]).permute(&[1, 0]);
        b.matmul(&gy, &gyt, cols, &Layout::contiguous(&[rows, g.col_rows()]))
    }

    /// `(g @ W)` folded back onto the input by col2im (chunk by chunk when the columns would
    /// pass [`CHUNK_BYTES`]).
    pub fn conv2d_input_grad<B: Backend + ?Sized>(
        b: &B,
        gout: Operand<'_, B>,
        w: &B::Storage,
        g: &Conv2dGeom,
        o: usize,
    ) -> Result<B::Storage> {
        let dtype = b.dtype(gout.0);
        let per = images_per_chunk(b, dtype, g);
        if per < g.n {
            return by_chunks(b, dtype, g, per, &[g.c, g.h, g.w], |a, m, gc| {
                conv2d_input_grad(b, (gout.0, &batch_slice(gout.1, a, m)), w, gc, o)
            });
        }
        let (rows, k) = (g.n * g.col_cols(), g.col_rows());
        let gy = b.copy(gout.0, &conv_grad_rows(gout.1, g, o))?;
        let lw = Layout::contiguous(&[o, k]);
        let cols = b.matmul(&gy, &Layout::contiguous(&[rows, o]), w, &lw)?;
        b.col2im(&cols, &Layout::contiguous(&[rows, k]), g)
    }
}

/// The per-channel primitives composed of elementwise ops and reductions.
pub mod provided_channel {
    use super::Backend;
    use crate::backend::{BinaryOp, ReduceOp, UnaryOp};
    use crate::error::Result;
    use crate::shape::Layout;

    /// A `(C)` storage broadcast over the `(N, C, S)` view `l`.
    fn per_channel(l: &Layout) -> Layout {
        Layout {
            shape: l.shape.clone(),
            strides: vec![0, 1, 0],
            offset: 0,
        }
    }

    /// Per-channel sums of `x` (N, C, S) times `scale`.
    fn channel_sum<B: Backend + ?Sized>(
        b: &B,
        x: &B::Storage,
        l: &Layout,
        scale: f64,
    ) -> Result<B::Storage> {
        let s = b.reduce(ReduceOp::Sum, x, l, &[0, 2])?;
        let c = Layout::contiguous(&[l.shape[1]]);
        if scale == 1.0 {
            return Ok(s);
        }
        let k = b.full(1, scale, b.dtype(x))?;
        let lk = Layout {
            shape: vec![l.shape[1]],
            strides: vec![0],
            offset: 0,
        };
        b.binary(BinaryOp::Mul, &s, &c, &k, &lk)
    }

    pub fn channel_moments<B: Backend + ?Sized>(
        b: &B,
        x: &B::Storage,
        l: &Layout,
    ) -> Result<(B::Storage, B::Storage)> {
        let count = (l.shape[0] * l.shape[2]).max(1) as f64;
        let mean = channel_sum(b, x, l, 1.0 / count)?;
        let dense = Layout::contiguous(&l.shape);
        let xc = b.binary(BinaryOp::Sub, x, l, &mean, &per_channel(l))?;
        let sq = b.unary(UnaryOp::Square, &xc, &dense)?;
        let var = channel_sum(b, &sq, &dense, 1.0 / count)?;
        Ok((mean, var))
    }

    pub fn channel_affine<B: Backend + ?Sized>(
        b: &B,
        x: &B::Storage,
        l: &Layout,
        a: &B::Storage,
        s: &B::Storage,
        y: Option<(&B::Storage, &B::Storage)>,
    ) -> Result<B::Storage> {
        let (pc, dense) = (per_channel(l), Layout::contiguous(&l.shape));
        let mut out = b.binary(BinaryOp::Mul, x, l, a, &pc)?;
        out = b.binary(BinaryOp::Add, &out, &dense, s, &pc)?;
        if let Some((y, d)) = y {
            let yd = b.binary(BinaryOp::Mul, y, l, d, &pc)?;
            out = b.binary(BinaryOp::Add, &out, &dense, &yd, &dense)?;
        }
        Ok(out)
    }

    pub fn channel_dot<B: Backend + ?Sized>(
        b: &B,
        y: &B::Storage,
        x: &B::Storage,
        l: &Layout,
        m: &B::Storage,
    ) -> Result<(B::Storage, B::Storage)> {
        let dense = Layout::contiguous(&l.shape);
        let sy = channel_sum(b, y, l, 1.0)?;
        let xc = b.binary(BinaryOp::Sub, x, l, m, &per_channel(l))?;
        let yxc = b.binary(BinaryOp::Mul, y, l, &xc, &dense)?;
        Ok((sy, channel_sum(b, &yxc, &dense, 1.0)?))
    }
}

/// The `(N·oh·ow, O)` row view of a `(N, O, oh, ow)` output-gradient view.
fn conv_grad_rows(l: &Layout, g: &Conv2dGeom, o: usize) -> Layout {
    let (sn, so, sh, sw) = (l.strides[0], l.strides[1], l.strides[2], l.strides[3]);
    Layout {
        shape: vec![g.n, g.oh, g.ow, o],
        strides: vec![sn, sh, sw, so],
        offset: l.offset,
    }
}
