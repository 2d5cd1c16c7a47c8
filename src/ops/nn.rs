//! Neural-network ops: convolution (im2col + matmul), pooling, normalisation, dropout, embedding,
//! resizing. Most are compositions of differentiable primitives, so their backward is exact.

use crate::backend::{self, ChannelCoeffs, Conv2dGeom, UnaryOp};
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

use super::check_float;

/// Output size of a convolution / pooling window along one axis.
fn out_size(
    op: &str,
    input: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
    ceil: bool,
) -> Result<usize> {
    if s == 0 || k == 0 || d == 0 {
        return Err(Error::Value(format!(
            "{op}: kernel size, stride and dilation must be positive, got kernel {k}, stride {s}, dilation {d}"
        )));
    }
    let too_big = || {
        Error::Value(format!(
            "{op}: kernel {k}, dilation {d} or padding {p} is too large"
        ))
    };
    let span = d
        .checked_mul(k - 1)
        .and_then(|v| v.checked_add(1))
        .ok_or_else(too_big)?;
    let padded = p
        .checked_mul(2)
        .and_then(|v| v.checked_add(input))
        .ok_or_else(too_big)?;
    if padded < span {
        // ceil_mode keeps one window that starts inside a too-short input, as PyTorch:
        // o = floor((padded - span + s - 1) / s) + 1 = 1 when span - padded < s
        if ceil && span - padded < s && input + p > 0 {
            return Ok(1);
        }
        return Err(Error::Shape(format!(
            "{op}: input size {input} (padded by {p} on each side) is smaller than the kernel span {span}"
        )));
    }
    let num = padded - span;
    let mut o = if ceil {
        num.div_ceil(s) + 1
    } else {
        num / s + 1
    };
    if ceil && (o - 1) * s >= input + p {
        o -= 1;
    }
    Ok(o)
}

/// Parameters of a 2-D window op.
#[derive(Debug, Clone, Copy)]
pub struct Window2d {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
}

/// Refuses geometry values beyond int64 (PyTorch's `Overflow when unpacking long long`): sums
/// and products of them would wrap.
fn check_int64(op: &str, values: &[(&str, (usize, usize))]) -> Result<()> {
    for (name, (a, b)) in values {
        if *a > i64::MAX as usize || *b > i64::MAX as usize {
            return Err(Error::Value(format!(
                "{op}: {name} ({a}, {b}) does not fit in int64 (Overflow when unpacking long long)"
            )));
        }
    }
    Ok(())
}

impl Window2d {
    /// The geometry of a pooling window over a float input; padding may be at most half the
    /// kernel.
    fn pool_geom(&self, op: &str, x: &Tensor, ceil: bool) -> Result<Conv2dGeom> {
        check_float(op, x)?;
        if self.padding.0 * 2 > self.kernel.0 || self.padding.1 * 2 > self.kernel.1 {
            return Err(Error::Value(format!(
                "{op}: padding {:?} should be at most half of kernel size {:?}",
                self.padding, self.kernel
            )));
        }
        self.geom(op, x, ceil)
    }

    fn geom(&self, op: &str, x: &Tensor, ceil: bool) -> Result<Conv2dGeom> {
        ensure!(
            x.ndim() == 4,
            Shape,
            "{op}: expected a 4-D input (N, C, H, W), got shape {:?}",
            x.shape()
        );
        let s = x.shape();
        Ok(Conv2dGeom {
            n: s[0],
            c: s[1],
            h: s[2],
            w: s[3],
            kh: self.kernel.0,
            kw: self.kernel.1,
            sh: self.stride.0,
            sw: self.stride.1,
            ph: self.padding.0,
            pw: self.padding.1,
            dh: self.dilation.0,
            dw: self.dilation.1,
            oh: out_size(
                op,
                s[2],
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
                ceil,
            )?,
            ow: out_size(
                op,
                s[3],
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
                ceil,
            )?,
        })
    }
}

impl Tensor {
    /// Patches of a `(N,C,H,W)` tensor as columns `(N·oh·ow, C·kh·kw)`; differentiable.
    pub fn im2col(&self, g: Conv2dGeom, pad_value: f64) -> Result<Tensor> {
        check_float("im2col", self)?;
        let s = backend::im2col(&self.storage(), self.layout(), &g, pad_value)?;
        let shape = [g.n * g.col_cols(), g.col_rows()];
        Ok(Tensor::from_op(
            s,
            &shape,
            "im2col",
            &[self],
            &[],
            move |gr| Ok(vec![Some(gr.col2im(g)?)]),
        ))
    }

    /// Columns `(N·oh·ow, C·kh·kw)` folded into `(N,C,H,W)` with overlaps summed; differentiable.
    pub fn col2im(&self, g: Conv2dGeom) -> Result<Tensor> {
        let s = backend::col2im(&self.storage(), self.layout(), &g)?;
        let shape = [g.n, g.c, g.h, g.w];
        Ok(Tensor::from_op(
            s,
            &shape,
            "col2im",
            &[self],
            &[],
            move |gr| Ok(vec![Some(gr.im2col(g, 0.0)?)]),
        ))
    }

    /// 2-D convolution, as `torch.nn.functional.conv2d`.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        win: Window2d,
        groups: usize,
    ) -> Result<Tensor> {
        let out = {
            check_float("conv2d", self)?;
            check_int64(
                "conv2d",
                &[
                    ("stride", win.stride),
                    ("padding", win.padding),
                    ("dilation", win.dilation),
                ],
            )?;
            super::check_device("conv2d", self, weight)?;
            if let Some(b) = bias {
                super::check_device("conv2d", self, b)?;
            }
            super::check_same_float("conv2d", self, weight)?;
            let ws = weight.shape();
            if weight.ndim() != 4 || self.ndim() != 4 || groups == 0 {
                return Err(Error::Shape(format!(
                "conv2d: expected input (N, C, H, W) and weight (O, C/groups, kh, kw), got {:?} and {:?}",
                self.shape(),
                ws
            )));
            }
            let (c, o) = (self.shape()[1], ws[0]);
            if o == 0 {
                // (PyTorch builds a layer of zero output channels and refuses it here)
                return Err(Error::Runtime(format!(
                    "conv2d: given groups={groups}, expected weight to be at least 1 at dimension 0, but got weight of size {ws:?} instead"
                )));
            }
            if o % groups != 0 {
                return Err(Error::Shape(format!(
                    "conv2d: weight of shape {ws:?} has {o} output channels, not divisible by groups={groups}"
                )));
            }
            if ws[1] * groups != c {
                // PyTorch's wording: the channel count the weight and groups expect of the input
                return Err(Error::Shape(format!(
                    "conv2d: given groups={groups}, weight of size {ws:?}, expected input {:?} to have {} channels, but got {c} channels instead",
                    self.shape(),
                    ws[1] * groups
                )));
            }
            let win = Window2d {
                kernel: (ws[2], ws[3]),
                ..win
            };
            let g = win.geom("conv2d", self, false)?;
            if let Some(b) = bias {
                ensure!(
                    b.shape() == [o],
                    Shape,
                    "conv2d: bias of shape {:?} for {o} output channels",
                    b.shape()
                );
            }
            let k = ws[1] * ws[2] * ws[3];
            let rows = g.n * g.col_cols();
            let same = |t: &Tensor| t.dtype() == self.dtype() && t.device() == self.device();
            if groups == 1 && same(weight) && bias.is_none_or(same) {
                return self.conv2d_dense(weight, bias, g, o, k);
            }
            let cols = self.im2col(g, 0.0)?;
            // one tall gemm: (N·L, K) @ (K, O) -> (N·L, O), viewed as (N, O, oh, ow)
            let out = if groups == 1 {
                cols.matmul(&weight.reshape(&[o, k])?.t()?)?
            } else {
                let og = o / groups;
                let cg = cols.reshape(&[rows, groups, k])?.permute(&[1, 0, 2])?;
                let y = cg.matmul(&weight.reshape(&[groups, og, k])?.transpose(1, 2)?)?;
                y.permute(&[1, 0, 2])?.reshape(&[rows, o])?
            };
            let out = out.reshape(&[g.n, g.oh, g.ow, o])?.permute(&[0, 3, 1, 2])?;
            match bias {
                Some(b) => out.add(&b.reshape(&[1, o, 1, 1])?),
                None => out.contiguous(),
            }
        }?;
        Ok(out.label_grad_fn("ConvolutionBackward0", &[self, weight]))
    }

    /// The ungrouped convolution as one graph node. The backend chooses the algorithm (see
    /// `Backend::conv2d`); backward asks it for the input gradient and the weight gradient (from
    /// the input and the forward's workspace), only for the inputs that need them, and sums the
    /// output gradient over channels for the bias.
    fn conv2d_dense(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        g: Conv2dGeom,
        o: usize,
        k: usize,
    ) -> Result<Tensor> {
        let w2 = weight.detach().reshape(&[o, k])?.contiguous()?;
        let bias_dense = match bias {
            Some(b) => Some(b.detach().contiguous()?),
            None => None,
        };
        let need = [
            self.requires_grad(),
            weight.requires_grad(),
            bias.is_some_and(|b| b.requires_grad()),
        ];
        let (s, workspace) = backend::conv2d(
            &self.storage(),
            self.layout(),
            &w2.storage(),
            bias_dense.as_ref().map(|b| b.storage()).as_deref(),
            &g,
            o,
        )?;
        // what the weight gradient reads: the input and the backend's workspace
        let x = need[1].then(|| self.saved());
        // the weight as the input gradient reads it with create_graph (composed, differentiable)
        let wsaved = need[0].then(|| weight.saved());
        let workspace = match (need[1], workspace) {
            (true, Some(ws)) => {
                let n = ws.len();
                Some(Tensor::from_contiguous(ws, &[n]))
            }
            _ => None,
        };
        let wshape = weight.shape().to_vec();
        let mut conv_saved = Vec::new();
        if need[0] {
            conv_saved.push(weight);
        }
        if need[1] {
            conv_saved.push(self);
        }
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let out_shape = [g.n, o, g.oh, g.ow];
        Ok(Tensor::from_op(
            s,
            &out_shape,
            "conv2d",
            &inputs,
            &conv_saved,
            move |gr| {
                if crate::autograd::is_creating_graph() {
                    // higher-order gradients: the same products composed of differentiable ops
                    // (columns and matmuls) over the saved tensors, which carry their history
                    let rows = g.n * g.oh * g.ow;
                    let g2 = gr.permute(&[0, 2, 3, 1])?.reshape(&[rows, o])?;
                    let gx = match &wsaved {
                        Some(w) => Some(g2.matmul(&w.reshape(&[o, k])?)?.col2im(g)?),
                        None => None,
                    };
                    let gw = match &x {
                        Some(x) => Some(g2.t()?.matmul(&x.im2col(g, 0.0)?)?.reshape(&wshape)?),
                        None => None,
                    };
                    let gb = if need[2] {
                        Some(gr.sum(&[0, 2, 3], false)?)
                    } else {
                        None
                    };
                    return Ok(vec![gx, gw, gb]);
                }
                let gx = if need[0] {
                    Some(Tensor::from_contiguous(
                        backend::conv2d_input_grad(
                            &gr.storage(),
                            gr.layout(),
                            &w2.storage(),
                            &g,
                            o,
                        )?,
                        &[g.n, g.c, g.h, g.w],
                    ))
                } else {
                    None
                };
                let gw = match &x {
                    Some(x) => Some(Tensor::from_contiguous(
                        backend::conv2d_weight_grad(
                            &x.storage(),
                            x.layout(),
                            workspace.as_ref().map(|w| w.storage()).as_deref(),
                            &gr.storage(),
                            gr.layout(),
                            &g,
                            o,
                        )?,
                        &wshape,
                    )),
                    None => None,
                };
                let gb = if need[2] {
                    Some(gr.sum(&[0, 2, 3], false)?)
                } else {
                    None
                };
                Ok(vec![gx, gw, gb])
            },
        ))
    }

    /// Transposed 2-D convolution, as `torch.nn.functional.conv_transpose2d`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: (usize, usize),
        padding: (usize, usize),
        output_padding: (usize, usize),
        groups: usize,
        dilation: (usize, usize),
    ) -> Result<Tensor> {
        let out = self.conv_transpose2d_any(
            weight,
            bias,
            (stride, padding, output_padding),
            groups,
            dilation,
        )?;
        // PyTorch's one convolution node, transposed or not
        Ok(out.label_grad_fn("ConvolutionBackward0", &[self, weight]))
    }

    fn conv_transpose2d_any(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        (stride, padding, output_padding): ((usize, usize), (usize, usize), (usize, usize)),
        groups: usize,
        dilation: (usize, usize),
    ) -> Result<Tensor> {
        check_float("conv_transpose2d", self)?;
        check_int64(
            "conv_transpose2d",
            &[
                ("stride", stride),
                ("padding", padding),
                ("output_padding", output_padding),
                ("dilation", dilation),
            ],
        )?;
        if stride.0 == 0 || stride.1 == 0 || dilation.0 == 0 || dilation.1 == 0 {
            return Err(Error::Value(format!(
                "conv_transpose2d: stride {stride:?} and dilation {dilation:?} must be positive"
            )));
        }
        let ws = weight.shape().to_vec();
        if weight.ndim() == 4 && weight.numel() == 0 {
            return Err(Error::Runtime(format!(
                "conv_transpose2d: non-empty 2D or 4D weight tensor expected, but got: {ws:?}"
            )));
        }
        if weight.ndim() != 4
            || self.ndim() != 4
            || groups == 0
            || self.shape()[1] != ws[0]
            || !ws[0].is_multiple_of(groups)
        {
            return Err(Error::Shape(format!(
                "conv_transpose2d: expected input (N, Cin, H, W) and weight (Cin, Cout/groups, kh, kw), got {:?} and {:?}",
                self.shape(),
                ws
            )));
        }
        if output_padding.0 >= stride.0.max(dilation.0)
            || output_padding.1 >= stride.1.max(dilation.1)
        {
            return Err(Error::Value(
                "conv_transpose2d: output_padding must be smaller than stride or dilation".into(),
            ));
        }
        let (n, cin, h, w) = (self.shape()[0], ws[0], self.shape()[2], self.shape()[3]);
        if h == 0 || w == 0 {
            return Err(Error::Shape(format!(
                "conv_transpose2d: only a zero batch or zero channels may be empty, got input of shape {:?}",
                self.shape()
            )));
        }
        let cout = ws[1] * groups;
        // checked: a huge stride or dilation must not wrap the output size around
        let full = |n: usize, s: usize, d: usize, k: usize, op: usize| {
            (n - 1)
                .checked_mul(s)?
                .checked_add(d.checked_mul(k - 1)?)?
                .checked_add(op + 1)
        };
        let (Some(full_h), Some(full_w)) = (
            full(h, stride.0, dilation.0, ws[2], output_padding.0),
            full(w, stride.1, dilation.1, ws[3], output_padding.1),
        ) else {
            return Err(Error::Value(format!(
                "conv_transpose2d: stride {stride:?} and dilation {dilation:?} give an output size \
                 beyond the address space for input {:?} and weight {ws:?}",
                self.shape()
            )));
        };
        if full_h < 2 * padding.0 || full_w < 2 * padding.1 {
            return Err(Error::Shape(format!(
                "conv_transpose2d: padding {padding:?} leaves an output of negative size for input {:?} and weight {ws:?}",
                self.shape()
            )));
        }
        if full_h == 2 * padding.0 || full_w == 2 * padding.1 {
            // an empty output, still attached to both operands (their gradients are zeros)
            let empty = [n, cout, full_h - 2 * padding.0, full_w - 2 * padding.1];
            let tie = self.sum_all()?.add(&weight.sum_all()?)?.mul_scalar(0.0)?;
            return tie.reshape(&[1, 1, 1, 1])?.expand(&empty)?.contiguous();
        }
        let g = Conv2dGeom {
            n,
            c: cout,
            h: full_h - 2 * padding.0,
            w: full_w - 2 * padding.1,
            kh: ws[2],
            kw: ws[3],
            sh: stride.0,
            sw: stride.1,
            ph: padding.0,
            pw: padding.1,
            dh: dilation.0,
            dw: dilation.1,
            oh: h,
            ow: w,
        };
        let kk = ws[1] * ws[2] * ws[3];
        if let Some(b) = bias {
            ensure!(
                b.shape() == [cout],
                Shape,
                "conv_transpose2d: bias of shape {:?} for {cout} output channels",
                b.shape()
            );
        }
        let same = |t: &Tensor| t.dtype() == self.dtype() && t.device() == self.device();
        if groups == 1 && same(weight) && bias.is_none_or(same) {
            let out = self.conv_transpose2d_dense(weight, g, cin, kk)?;
            return match bias {
                Some(b) => out.add(&b.reshape(&[1, cout, 1, 1])?),
                None => Ok(out),
            };
        }
        // input as (N·H·W, Cin), then one gemm per group: (N·H·W, Cin) @ (Cin, Cout·kh·kw)
        let xt = self.permute(&[0, 2, 3, 1])?.reshape(&[n * h * w, cin])?;
        let cols = if groups == 1 {
            xt.matmul(&weight.reshape(&[cin, kk])?)?
        } else {
            let xg = xt
                .reshape(&[n * h * w, groups, cin / groups])?
                .permute(&[1, 0, 2])?;
            let y = xg.matmul(&weight.reshape(&[groups, cin / groups, kk])?)?;
            y.permute(&[1, 0, 2])?.reshape(&[n * h * w, groups * kk])?
        };
        let out = cols.col2im(g)?;
        match bias {
            Some(b) => out.add(&b.reshape(&[1, cout, 1, 1])?),
            None => Ok(out),
        }
    }

    /// The ungrouped transposed convolution as one graph node: the input gradient of the
    /// convolution `g` (from `Cout` channels to `Cin`) with weight `(Cin, Cout·kh·kw)`; its
    /// backward is that convolution (input gradient) and the convolution's weight gradient
    /// with the roles of input and output swapped — the backend picks each algorithm.
    fn conv_transpose2d_dense(
        &self,
        weight: &Tensor,
        g: Conv2dGeom,
        cin: usize,
        kk: usize,
    ) -> Result<Tensor> {
        let w2 = weight.detach().reshape(&[cin, kk])?.contiguous()?;
        let out =
            backend::conv2d_input_grad(&self.storage(), self.layout(), &w2.storage(), &g, cin)?;
        let need = [self.requires_grad(), weight.requires_grad()];
        let x = need[1].then(|| self.saved());
        let wsaved = need[0].then(|| weight.saved());
        let wshape = weight.shape().to_vec();
        let mut saved = Vec::new();
        if need[0] {
            saved.push(weight);
        }
        if need[1] {
            saved.push(self);
        }
        Ok(Tensor::from_op(
            out,
            &[g.n, g.c, g.h, g.w],
            "conv_transpose2d",
            &[self, weight],
            &saved,
            move |gr| {
                if crate::autograd::is_creating_graph() {
                    // higher-order gradients: columns of the output gradient, then products
                    // with the saved tensors (which carry their history)
                    let rows = g.n * g.oh * g.ow;
                    let cols = gr.im2col(g, 0.0)?;
                    let gx = match &wsaved {
                        Some(w) => Some(
                            cols.matmul(&w.reshape(&[cin, kk])?.t()?)?
                                .reshape(&[g.n, g.oh, g.ow, cin])?
                                .permute(&[0, 3, 1, 2])?
                                .contiguous()?,
                        ),
                        None => None,
                    };
                    let gw = match &x {
                        Some(x) => Some(
                            x.permute(&[0, 2, 3, 1])?
                                .reshape(&[rows, cin])?
                                .t()?
                                .matmul(&cols)?
                                .reshape(&wshape)?,
                        ),
                        None => None,
                    };
                    return Ok(vec![gx, gw]);
                }
                let gx = if need[0] {
                    let (y, _) =
                        backend::conv2d(&gr.storage(), gr.layout(), &w2.storage(), None, &g, cin)?;
                    Some(Tensor::from_contiguous(y, &[g.n, cin, g.oh, g.ow]))
                } else {
                    None
                };
                let gw = match &x {
                    Some(x) => Some(Tensor::from_contiguous(
                        backend::conv2d_weight_grad(
                            &gr.storage(),
                            gr.layout(),
                            None,
                            &x.storage(),
                            x.layout(),
                            &g,
                            cin,
                        )?,
                        &wshape,
                    )),
                    None => None,
                };
                Ok(vec![gx, gw])
            },
        ))
    }

    /// Max pooling; returns values and the flat `h*W+w` index of each max in its plane.
    /// The result of an op on a tensor with no element: zeros of `shape` (no element either),
    /// whose gradient to `self` is zeros.
    fn empty_result(&self, shape: &[usize], name: &'static str) -> Result<Tensor> {
        let (in_shape, dtype, device) = (self.shape().to_vec(), self.dtype(), self.device());
        Ok(
            Tensor::zeros(shape, dtype, device)?.with_rule(name, &[self], &[], move |_| {
                Ok(vec![Some(Tensor::zeros(&in_shape, dtype, device)?)])
            }),
        )
    }

    pub fn max_pool2d(&self, win: Window2d, ceil_mode: bool) -> Result<(Tensor, Tensor)> {
        let (out, extra) = {
            let g = win.pool_geom("max_pool2d", self, ceil_mode)?;
            if self.numel() == 0 {
                // no element: nothing to pool, whatever the spatial size (no buffer of it)
                let shape = [g.n, g.c, g.oh, g.ow];
                let idx = Tensor::zeros(&shape, DType::I64, self.device())?;
                return Ok((self.empty_result(&shape, "max_pool2d")?, idx));
            }
            let (vs, is) = backend::max_pool2d(&self.storage(), self.layout(), &g)?;
            let out_shape = [g.n, g.c, g.oh, g.ow];
            let indices = Tensor::from_contiguous(is, &out_shape);
            let (planes, l) = (g.n * g.c, g.oh * g.ow);
            let idx = indices.reshape(&[planes, l])?;
            let in_shape = self.shape().to_vec();
            let values = Tensor::from_op(
                vs,
                &out_shape,
                "max_pool2d",
                &[self],
                &[&indices],
                move |gr| {
                    let flat = gr.reshape(&[planes, l])?;
                    if crate::autograd::is_creating_graph() {
                        let z = Tensor::zeros(&[planes, g.h * g.w], gr.dtype(), gr.device())?;
                        return Ok(vec![Some(
                            z.scatter_add(1, &idx, &flat)?.reshape(&in_shape)?,
                        )]);
                    }
                    let s = backend::scatter_add(
                        &[planes, g.h * g.w],
                        1,
                        &idx.storage(),
                        idx.layout(),
                        &flat.storage(),
                        flat.layout(),
                    )?;
                    Ok(vec![Some(Tensor::from_contiguous(s, &in_shape))])
                },
            );
            Ok((values, indices))
        }?;
        Ok((
            out.label_grad_fn("MaxPool2DWithIndicesBackward0", &[self]),
            extra,
        ))
    }

    /// Max pooling values only.
    pub fn max_pool2d_values(&self, win: Window2d, ceil_mode: bool) -> Result<Tensor> {
        Ok(self.max_pool2d(win, ceil_mode)?.0)
    }

    /// Average pooling, as `torch.nn.functional.avg_pool2d`.
    pub fn avg_pool2d(
        &self,
        win: Window2d,
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let out = {
            let g = win.pool_geom("avg_pool2d", self, ceil_mode)?;
            if self.numel() == 0 {
                return self.empty_result(&[g.n, g.c, g.oh, g.ow], "avg_pool2d");
            }
            let (n, c) = (g.n, g.c);
            let x = self.reshape(&[n * c, 1, g.h, g.w])?;
            let g1 = Conv2dGeom {
                n: n * c,
                c: 1,
                ..g
            };
            let sums = x.im2col(g1, 0.0)?.sum(&[1], false)?;
            let out = if count_include_pad && !ceil_mode {
                sums.mul_scalar(1.0 / (g.kh * g.kw) as f64)?
            } else {
                let ones = Tensor::ones(&[1, 1, g.h, g.w], self.dtype(), self.device())?;
                let gc = Conv2dGeom { n: 1, c: 1, ..g };
                let counts = if count_include_pad {
                    // windows clipped by ceil_mode count only the padded image they overlap
                    let padded = Tensor::ones(
                        &[1, 1, g.h + 2 * g.ph, g.w + 2 * g.pw],
                        self.dtype(),
                        self.device(),
                    )?;
                    padded
                        .im2col(
                            Conv2dGeom {
                                h: g.h + 2 * g.ph,
                                w: g.w + 2 * g.pw,
                                ph: 0,
                                pw: 0,
                                ..gc
                            },
                            0.0,
                        )?
                        .sum(&[1], false)?
                } else {
                    ones.im2col(gc, 0.0)?.sum(&[1], false)?
                };
                sums.reshape(&[n * c, g.oh * g.ow])?.div(&counts)?
            };
            out.reshape(&[n, c, g.oh, g.ow])
        }?;
        Ok(out.label_grad_fn("AvgPool2DBackward0", &[self]))
    }

    /// Adaptive average pooling to `(oh, ow)`: averaging matrices on both sides, `A_h · x · A_wᵀ`.
    pub fn adaptive_avg_pool2d(&self, out: (usize, usize)) -> Result<Tensor> {
        check_float("adaptive_avg_pool2d", self)?;
        if self.ndim() < 2 || out.0 == 0 || out.1 == 0 {
            return Err(Error::Shape(format!(
                "adaptive_avg_pool2d: expected (N, C, H, W) input and positive output size, got {:?} and {out:?}",
                self.shape()
            )));
        }
        let nd = self.ndim() as isize;
        let mut out_shape = self.shape().to_vec();
        let k = out_shape.len();
        out_shape[k - 2..].copy_from_slice(&[out.0, out.1]);
        crate::backend::reserve(
            crate::shape::checked_numel(&out_shape, "adaptive_avg_pool2d")?,
            self.dtype(),
            self.device(),
            "adaptive_avg_pool2d",
        )?;
        if out == (1, 1) {
            return self.mean(&[nd - 2, nd - 1], true);
        }
        if out_shape.contains(&0) {
            // nothing to compute (no images or channels): the empty result, without a window
            // loop whose length follows the requested size alone
            return self
                .sum(&[nd - 2, nd - 1], true)?
                .expand(&out_shape)?
                .contiguous();
        }
        // windows are rectangles of equal weights: a mean over rows, then over columns (a
        // weighted sum through a pooling matrix would turn one ∞ into NaN everywhere via 0·∞)
        self.adaptive_mean_dim(nd - 2, out.0)?
            .adaptive_mean_dim(nd - 1, out.1)
    }

    /// Means over PyTorch's adaptive windows `[⌊i·n/out⌋, ⌈(i+1)·n/out⌉)` along `dim`.
    fn adaptive_mean_dim(&self, dim: isize, out: usize) -> Result<Tensor> {
        let d = crate::shape::norm_dim(dim, self.ndim(), "adaptive_avg_pool2d")?;
        let n = self.shape()[d];
        if n == out {
            return Ok(self.clone());
        }
        if n > 0 && n.is_multiple_of(out) {
            // equal windows: one reshape and one mean
            let mut shape = self.shape().to_vec();
            shape[d] = n / out;
            shape.insert(d, out);
            return self.reshape(&shape)?.mean(&[d as isize + 1], false);
        }
        let parts = (0..out)
            .map(|i| {
                let s = (i * n) / out;
                let e = ((i + 1) * n).div_ceil(out);
                self.narrow(d as isize, s, e - s)?.mean(&[d as isize], true)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, d as isize)
    }

    /// Resizes the last two dims to `size` by `nearest` or `bilinear` (align_corners) interpolation.
    pub fn interpolate(
        &self,
        size: (usize, usize),
        mode: &str,
        align_corners: bool,
    ) -> Result<Tensor> {
        check_float("interpolate", self)?;
        ensure!(
            self.ndim() == 4,
            Shape,
            "interpolate: expected a 4-D input (N, C, H, W), got {:?}",
            self.shape()
        );
        let (h, w) = (self.shape()[2], self.shape()[3]);
        let mut out = self.shape().to_vec();
        out[2..].copy_from_slice(&[size.0, size.1]);
        crate::backend::reserve(
            crate::shape::checked_numel(&out, "interpolate")?,
            self.dtype(),
            self.device(),
            "interpolate",
        )?;
        ensure!(
            h > 0 && w > 0,
            Shape,
            "interpolate: expected non-empty spatial dims, got input of shape {:?}",
            self.shape()
        );
        if self.numel() == 0 {
            // no images: the (empty) result without the index tables or interpolation matrices,
            // whose sizes follow `size` alone and can be far past memory for any `size`
            ensure!(
                matches!(mode, "nearest" | "bilinear"),
                Value,
                "interpolate: unsupported mode '{mode}' (use 'nearest' or 'bilinear')"
            );
            return self.sum(&[2, 3], true)?.expand(&out)?.contiguous();
        }
        // the host tables below are `size.0 + size.1` entries (nearest) or `(size, h|w)` matrices
        let table = match mode {
            "bilinear" => backend::checked_count(&[size.0, h], "interpolate")?
                .checked_add(backend::checked_count(&[size.1, w], "interpolate")?),
            _ => size.0.checked_add(size.1),
        };
        crate::backend::reserve(
            table.unwrap_or(usize::MAX),
            DType::F64,
            crate::device::Device::Cpu,
            "interpolate",
        )?;
        match mode {
            "nearest" => {
                let ih: Vec<i64> = (0..size.0)
                    .map(|i| ((i as u128 * h as u128) / size.0 as u128).min(h as u128 - 1) as i64)
                    .collect();
                let iw: Vec<i64> = (0..size.1)
                    .map(|i| ((i as u128 * w as u128) / size.1 as u128).min(w as u128 - 1) as i64)
                    .collect();
                let ih = Tensor::from_i64(ih, &[size.0])?.to_device(self.device())?;
                let iw = Tensor::from_i64(iw, &[size.1])?.to_device(self.device())?;
                self.index_select(2, &ih)?.index_select(3, &iw)
            }
            "bilinear" => {
                let mh = interp_matrix(h, size.0, align_corners, self)?;
                let mw = interp_matrix(w, size.1, align_corners, self)?;
                mh.matmul(self)?.matmul(&mw.t()?)
            }
            m => Err(Error::Value(format!(
                "interpolate: unsupported mode '{m}' (use 'nearest' or 'bilinear')"
            ))),
        }
    }

    /// Batch normalisation over dim 1; updates running statistics in training mode.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        momentum: f64,
        eps: f64,
    ) -> Result<Tensor> {
        let out = {
            check_float("batch_norm", self)?;
            if self.ndim() < 2 {
                return Err(Error::Shape(format!(
                    "batch_norm: expected at least 2-D input (N, C, ...), got {:?}",
                    self.shape()
                )));
            }
            let c = self.shape()[1];
            for (name, t) in [
                ("running_mean", running_mean),
                ("running_var", running_var),
                ("weight", weight),
                ("bias", bias),
            ] {
                if let Some(t) = t {
                    ensure!(
                    t.shape() == [c],
                    Shape,
                    "batch_norm: {name} of shape {:?} does not match {c} channels of input {:?}",
                    t.shape(),
                    self.shape()
                );
                }
            }
            let running = match (running_mean, running_var) {
                (Some(rm), Some(rv)) if !training => Some((rm, rv)),
                _ => None,
            };
            for t in [running_mean, running_var, weight, bias]
                .into_iter()
                .flatten()
            {
                super::check_device("batch_norm", self, t)?;
            }
            let n = self.shape()[0];
            let spatial: usize = self.shape()[2..].iter().product();
            let l3 = crate::shape::Layout::contiguous(&[n, c, spatial]);
            let x = self.contiguous()?.detach();
            // what a backward with create_graph reads (the composed, differentiable gradient)
            let (xs, wsaved) = (self.saved(), weight.map(Tensor::saved));
            let dt = self.dtype();
            let per_channel = move |v: crate::storage::Storage| Tensor::from_contiguous(v, &[c]);
            let (mean, var) = if let Some((rm, rv)) = running {
                (dense_channels(rm, dt)?, dense_channels(rv, dt)?)
            } else {
                let count = n * spatial;
                // an empty batch gives an empty output and leaves the running statistics alone
                // (as PyTorch); one value per channel has no variance
                if count == 1 && training {
                    return Err(Error::Value(format!(
                    "batch_norm: expected more than 1 value per channel when training, got input of shape {:?}",
                    self.shape()
                )));
                }
                let (m, v) = backend::channel_moments(&x.storage(), &l3)?;
                let (mean, var) = (per_channel(m), per_channel(v));
                if training && count > 0 {
                    let _g = crate::autograd::NoGradGuard::new();
                    let unbias = count as f64 / (count as f64 - 1.0).max(1.0);
                    let mut stats = vec![mean.clone(), var.clone()];
                    let bufs: Vec<&Tensor> =
                        [running_mean, running_var].into_iter().flatten().collect();
                    if bufs.len() == 2 {
                        // both running statistics updated in one pass over the channels
                        let rs = [dense_channels(bufs[0], dt)?, dense_channels(bufs[1], dt)?];
                        let spec = ChannelCoeffs::Running { momentum, unbias };
                        let [rm, rv] = channel_coeffs(&spec, &[&rs[0], &rs[1], &mean, &var])?;
                        stats = vec![rm, rv];
                    } else {
                        stats[1] = stats[1].mul_scalar(unbias)?;
                    }
                    for (buf, stat) in [running_mean, running_var].into_iter().zip(stats) {
                        if let Some(r) = buf {
                            let stat = if stat.dtype() == r.dtype() {
                                stat
                            } else {
                                stat.to_dtype(r.dtype())?
                            };
                            if bufs.len() == 2 {
                                // a fresh result: moved into the buffer where it can be (no copy)
                                if !r.move_from(&stat, "batch_norm") {
                                    r.copy_(&stat)?;
                                }
                            } else {
                                r.copy_(
                                    &r.mul_scalar(1.0 - momentum)?
                                        .add(&stat.mul_scalar(momentum)?)?,
                                )?;
                            }
                        }
                    }
                }
                (mean, var)
            };
            // y = x·a + shift per channel, a = weight / √(var + eps), shift = bias − mean·a
            let (wd, bd) = (
                weight.map(|w| dense_channels(w, dt)).transpose()?,
                bias.map(|b| dense_channels(b, dt)).transpose()?,
            );
            let mut ins = vec![&mean, &var];
            ins.extend(wd.as_ref());
            ins.extend(bd.as_ref());
            let spec = ChannelCoeffs::Affine {
                eps,
                weight: wd.is_some(),
                bias: bd.is_some(),
            };
            let [a, shift] = channel_coeffs(&spec, &ins)?;
            let y =
                backend::channel_affine(&x.storage(), &l3, &a.storage(), &shift.storage(), None)?;
            let need = [
                self.requires_grad(),
                weight.is_some_and(|w| w.requires_grad()),
                bias.is_some_and(|b| b.requires_grad()),
            ];
            let (wdt, bdt) = (weight.map(|w| w.dtype()), bias.map(|b| b.dtype()));
            let batch_stats = running.is_none();
            let count = (n * spatial).max(1) as f64;
            let mean = mean.contiguous()?;
            let mut inputs = vec![self];
            inputs.extend(weight);
            inputs.extend(bias);
            let has_weight = weight.is_some();
            Ok(Tensor::from_op(
                y,
                self.shape(),
                "batch_norm",
                &inputs,
                &[self],
                move |gr| {
                    if crate::autograd::is_creating_graph() {
                        let invstd = var.add_scalar(eps)?.unary(crate::backend::UnaryOp::Rsqrt)?;
                        let stats = (batch_stats, &mean, &invstd, eps);
                        let mut out =
                            batch_norm_grad_composed(gr, &xs, wsaved.as_ref(), stats, need)?;
                        out[1] = out[1]
                            .take()
                            .zip(wdt)
                            .map(|(t, d)| t.to_dtype(d))
                            .transpose()?;
                        out[2] = out[2]
                            .take()
                            .zip(bdt)
                            .map(|(t, d)| t.to_dtype(d))
                            .transpose()?;
                        let mut res = vec![out[0].take()];
                        if has_weight {
                            res.push(out[1].take());
                        }
                        if bdt.is_some() {
                            res.push(out[2].take());
                        }
                        return Ok(res);
                    }
                    let dy = gr.contiguous()?;
                    let (sdy, sdyx) =
                        backend::channel_dot(&dy.storage(), &x.storage(), &l3, &mean.storage())?;
                    let (sdy, sdyx) = (per_channel(sdy), per_channel(sdyx));
                    // dx = a·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) = dy·a + x·q + r; dw = Σ(dy·x̂)
                    let spec = ChannelCoeffs::Grad { eps, count };
                    let [q, r, gw] = channel_coeffs(&spec, &[&a, &var, &mean, &sdy, &sdyx])?;
                    let gx = if !need[0] {
                        None
                    } else if batch_stats {
                        let gx = backend::channel_affine(
                            &x.storage(),
                            &l3,
                            &q.storage(),
                            &r.storage(),
                            Some((&dy.storage(), &a.storage())),
                        )?;
                        Some(Tensor::from_contiguous(gx, dy.shape()))
                    } else {
                        let zero = a.zeros_like()?;
                        let gx = backend::channel_affine(
                            &dy.storage(),
                            &l3,
                            &a.storage(),
                            &zero.storage(),
                            None,
                        )?;
                        Some(Tensor::from_contiguous(gx, dy.shape()))
                    };
                    let gw = match wdt {
                        Some(d) if need[1] => Some(gw.to_dtype(d)?),
                        _ => None,
                    };
                    let gb = match bdt {
                        Some(d) if need[2] => Some(sdy.to_dtype(d)?),
                        _ => None,
                    };
                    let mut out = vec![gx];
                    if has_weight {
                        out.push(gw);
                    }
                    if bdt.is_some() {
                        out.push(gb);
                    }
                    Ok(out)
                },
            ))
        }?;
        Ok(out.label_grad_fn("NativeBatchNormBackward0", &[self]))
    }

    /// Layer normalisation over the trailing `normalized` dims.
    pub fn layer_norm(
        &self,
        normalized: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        let out = {
            check_float("layer_norm", self)?;
            let k = normalized.len();
            if k == 0 || k > self.ndim() || self.shape()[self.ndim() - k..] != *normalized {
                return Err(Error::Shape(format!(
                "layer_norm: normalized_shape {normalized:?} does not match the trailing dims of input {:?}",
                self.shape()
            )));
            }
            let dims: Vec<isize> = (self.ndim() - k..self.ndim()).map(|d| d as isize).collect();
            let mean = self.mean(&dims, true)?;
            let xc = self.sub(&mean)?;
            let var = xc
                .unary(crate::backend::UnaryOp::Square)?
                .mean(&dims, true)?;
            let y = xc.mul(&var.add_scalar(eps)?.unary(crate::backend::UnaryOp::Rsqrt)?)?;
            norm_affine(y, weight, bias, None)
        }?;
        Ok(out.label_grad_fn("NativeLayerNormBackward0", &[self]))
    }

    /// Group normalisation: channels split into `groups`, each normalised over its channels and space.
    pub fn group_norm(
        &self,
        groups: usize,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        check_float("group_norm", self)?;
        if self.ndim() < 2 || groups == 0 || !self.shape()[1].is_multiple_of(groups) {
            return Err(Error::Shape(format!(
                "group_norm: {groups} groups do not divide the channels of input {:?}",
                self.shape()
            )));
        }
        let n = self.shape()[0];
        let c = self.shape()[1];
        let x = self.reshape(&[n, groups, self.numel() / (n * groups).max(1)])?;
        let y = x
            .layer_norm(&[x.shape()[2]], None, None, eps)?
            .reshape(self.shape())?;
        let mut bshape = vec![1usize; self.ndim()];
        bshape[1] = c;
        norm_affine(y, weight, bias, Some(&bshape[..]))
    }

    /// Zeroes elements with probability `p` and scales the rest by `1/(1-p)` (training only).
    /// With `channel_shape`, one draw per entry of that shape (e.g. `(N, C, 1, 1)` for Dropout2d).
    pub fn dropout(
        &self,
        p: f64,
        training: bool,
        channel_shape: Option<&[usize]>,
    ) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Value(format!(
                "dropout: probability has to be between 0 and 1, but got {p}"
            )));
        }
        if !training || p == 0.0 {
            return Ok(self.clone());
        }
        if p == 1.0 {
            return self.mul_scalar(0.0);
        }
        if !self.dtype().is_float() {
            // the kept values are scaled by 1 / (1 - p): no integer result holds them
            return Err(Error::DType(format!(
                "dropout: result type Float can't be cast to the desired output type {} (a {} input)",
                self.dtype(),
                self.dtype()
            )));
        }
        let shape = channel_shape.unwrap_or(self.shape());
        // the kept mask divided by 1 - p, then the product (PyTorch's order of operations); on
        // the CPU the mask is PyTorch's `bernoulli_(1 - p)` draw for draw
        // (a mask of the input's shape is laid out as the input, as `empty_like` keeps a
        // permuted layout: its draws follow the input's memory order)
        let keep = match channel_shape {
            None => self.fill_in_memory_order(|s| {
                Tensor::bernoulli_scalar(s, 1.0 - p, self.dtype(), self.device())
            })?,
            Some(_) => Tensor::bernoulli_scalar(shape, 1.0 - p, self.dtype(), self.device())?,
        };
        self.mul(&keep.binary(&keep.scalar_like(1.0 - p)?, crate::backend::BinaryOp::Div)?)
    }

    /// Rows of `self` (a `(V, D)` weight) at int64 `idx`, shape `idx.shape + (D,)`.
    pub fn embedding(&self, idx: &Tensor, padding_idx: Option<i64>) -> Result<Tensor> {
        let out = {
            ensure!(
                self.ndim() == 2,
                Shape,
                "embedding: weight must be 2-D (V, D), got {:?}",
                self.shape()
            );
            ensure!(
                idx.dtype().is_int(),
                DType,
                "embedding: expected integer (int64 or int32) indices, got {} of shape {:?}",
                idx.dtype(),
                idx.shape()
            );
            let (v, d) = (self.shape()[0], self.shape()[1]);
            let w = match padding_idx {
                Some(pi) if self.requires_grad() => {
                    let pi = if pi < 0 { pi + v as i64 } else { pi };
                    let rows = Tensor::arange(0.0, v as f64, 1.0, DType::I64, self.device())?;
                    let is_pad = rows.eq_scalar(pi as f64)?.reshape(&[v, 1])?;
                    Tensor::where_cond(&is_pad, &self.detach(), self)?
                }
                _ => self.clone(),
            };
            let flat = idx.reshape(&[idx.numel()])?;
            let rows = w
                .index_select(0, &flat)
                .map_err(|e| e.renamed("index_select", "embedding"))?;
            let mut shape = idx.shape().to_vec();
            shape.push(d);
            rows.reshape(&shape)
        }?;
        Ok(out.label_grad_fn("EmbeddingBackward0", &[self]))
    }
}

/// `(out, n)` matrix of linear interpolation weights (PyTorch's bilinear source-index rule).
fn interp_matrix(n: usize, out: usize, align_corners: bool, like: &Tensor) -> Result<Tensor> {
    let mut m = vec![0.0; out * n];
    for i in 0..out {
        let src = if align_corners {
            if out > 1 {
                i as f64 * (n as f64 - 1.0) / (out as f64 - 1.0)
            } else {
                0.0
            }
        } else {
            ((i as f64 + 0.5) * n as f64 / out as f64 - 0.5).max(0.0)
        };
        let i0 = (src.floor() as usize).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        let t = src - i0 as f64;
        m[i * n + i0] += 1.0 - t;
        m[i * n + i1] += t;
    }
    Tensor::from_f64(m, &[out, n])?
        .to_dtype(like.dtype())?
        .to_device(like.device())
}

/// `y * weight + bias`, each given one viewed as `shape` (as it is with `None`): the affine step
/// of the normalisations.
fn norm_affine(
    y: Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    shape: Option<&[usize]>,
) -> Result<Tensor> {
    let view = |t: &Tensor| match shape {
        Some(s) => t.reshape(s),
        None => Ok(t.clone()),
    };
    let y = match weight {
        Some(w) => y.mul(&view(w)?)?,
        None => y,
    };
    match bias {
        Some(b) => y.add(&view(b)?),
        None => Ok(y),
    }
}

impl Tensor {
    /// Scaled dot-product attention as one fused op (tiled online softmax, its own backward):
    /// `q (B, L, E)`, `k (B, S, E)`, `v (B, S, Ev)`, an optional additive mask of the query's
    /// dtype shaped `(L, S)` or `(B, L, S)`, top-left causal masking. Memory grows with `L + S`
    /// (plus the mask when given), never `L·S`. On a backend without the kernel it is an error
    /// (so on the GPU for heads wider than its kernel holds): `F.scaled_dot_product_attention`
    /// composes attention there instead.
    pub fn scaled_dot_product_attention_fused(
        &self,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        causal: bool,
        scale: f64,
    ) -> Result<Tensor> {
        use crate::backend::{attention_backward, attention_forward, AttnDims};
        const OP: &str = "scaled_dot_product_attention";
        let (qs, ks, vs) = (self.shape(), k.shape(), v.shape());
        ensure!(
            qs.len() == 3 && ks.len() == 3 && vs.len() == 3,
            Shape,
            "{OP}: the fused kernel takes (B, L, E) query, key and value, got {qs:?}, {ks:?}, {vs:?}"
        );
        ensure!(
            ks[0] == qs[0] && vs[0] == qs[0] && ks[2] == qs[2] && vs[1] == ks[1],
            Shape,
            "{OP}: query {qs:?}, key {ks:?} and value {vs:?} do not fit together"
        );
        let d = AttnDims {
            batch: qs[0],
            l: qs[1],
            s: ks[1],
            e: qs[2],
            ev: vs[2],
        };
        if let Some(m) = mask {
            let ok = m.shape() == [d.l, d.s] || m.shape() == [d.batch, d.l, d.s];
            ensure!(
                ok,
                Shape,
                "{OP}: the mask must be ({}, {}) or ({}, {}, {}), got {:?}",
                d.l,
                d.s,
                d.batch,
                d.l,
                d.s,
                m.shape()
            );
        }
        let (q, k, v) = (self.contiguous()?, k.contiguous()?, v.contiguous()?);
        let mask = mask.map(|m| m.detach().contiguous()).transpose()?;
        let (out, lse) = {
            let (gq, gk, gv) = (q.storage(), k.storage(), v.storage());
            let gm = mask.as_ref().map(|m| m.storage());
            attention_forward(
                (&gq, &gk, &gv),
                (q.layout(), k.layout(), v.layout()),
                mask.as_ref()
                    .zip(gm.as_ref())
                    .map(|(m, g)| (&**g, m.layout())),
                d,
                causal,
                scale,
            )?
        };
        // the backward reads its own copy of the output (an in-place change of the result
        // must not change the gradient)
        let result = Tensor::from_contiguous(out, &[d.batch, d.l, d.ev]);
        let out_saved = result.deep_clone()?;
        let lse = Tensor::from_contiguous(lse, &[d.batch, d.l]);
        let (q2, k2, v2, m2) = (q.detach(), k.detach(), v.detach(), mask.clone());
        let mut saved: Vec<&Tensor> = vec![&q, &k, &v];
        if let Some(m) = &mask {
            saved.push(m);
        }
        Ok(result.with_rule(OP, &[&q, &k, &v], &saved, move |g| {
            let g = g.contiguous()?;
            let (gq, gk, gv) = (q2.storage(), k2.storage(), v2.storage());
            let (go, gl, gg) = (out_saved.storage(), lse.storage(), g.storage());
            let gm = m2.as_ref().map(|m| m.storage());
            let (dq, dk, dv) = attention_backward(
                (&gq, &gk, &gv),
                (q2.layout(), k2.layout(), v2.layout()),
                (&go, &gl, &gg, g.layout()),
                m2.as_ref()
                    .zip(gm.as_ref())
                    .map(|(m, s)| (&**s, m.layout())),
                d,
                causal,
                scale,
            )?;
            Ok(vec![
                Some(Tensor::from_contiguous(dq, &[d.batch, d.l, d.e])),
                Some(Tensor::from_contiguous(dk, &[d.batch, d.s, d.e])),
                Some(Tensor::from_contiguous(dv, &[d.batch, d.s, d.ev])),
            ])
        }))
    }
}

/// Batch normalisation's gradients (input, weight, bias: those `need`s) composed of
/// differentiable ops, for a backward with create_graph. `stats`: (batch statistics?, the
/// per-channel mean and 1/√(var + eps) the forward used, eps).
fn batch_norm_grad_composed(
    gr: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    stats: (bool, &Tensor, &Tensor, f64),
    need: [bool; 3],
) -> Result<Vec<Option<Tensor>>> {
    let (batch_stats, mean, invstd, eps) = stats;
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let spatial = x.numel() / (n * c).max(1);
    let x3 = x.reshape(&[n, c, spatial])?;
    let dy = gr.reshape(&[n, c, spatial])?;
    let dims = [0isize, 2];
    let (mu, istd) = if batch_stats {
        let mu = x3.mean(&dims, true)?;
        let var = x3.sub(&mu)?.unary(UnaryOp::Square)?.mean(&dims, true)?;
        (mu, var.add_scalar(eps)?.unary(UnaryOp::Rsqrt)?)
    } else {
        (mean.reshape(&[1, c, 1])?, invstd.reshape(&[1, c, 1])?)
    };
    let xhat = x3.sub(&mu)?.mul(&istd)?;
    let scale = match weight {
        Some(w) => istd.mul(&w.to_dtype(x.dtype())?.reshape(&[1, c, 1])?)?,
        None => istd.clone(),
    };
    let gx = if !need[0] {
        None
    } else if batch_stats {
        let centred = dy
            .sub(&dy.mean(&dims, true)?)?
            .sub(&xhat.mul(&dy.mul(&xhat)?.mean(&dims, true)?)?)?;
        Some(centred.mul(&scale)?.reshape(x.shape())?)
    } else {
        Some(dy.mul(&scale)?.reshape(x.shape())?)
    };
    let gw = if need[1] {
        Some(dy.mul(&xhat)?.sum(&dims, false)?)
    } else {
        None
    };
    let gb = if need[2] {
        Some(dy.sum(&dims, false)?)
    } else {
        None
    };
    Ok(vec![gx, gw, gb])
}

/// Batch normalisation's per-channel arithmetic `spec` (see [`ChannelCoeffs`]) over dense `(C)`
/// tensors of one dtype: its `N` outputs, `(C)` tensors.
fn channel_coeffs<const N: usize>(spec: &ChannelCoeffs, ins: &[&Tensor]) -> Result<[Tensor; N]> {
    let c = ins.first().map_or(0, |t| t.numel());
    let out = {
        let guards: Vec<_> = ins.iter().map(|t| t.storage()).collect();
        let refs: Vec<&crate::storage::Storage> = guards.iter().map(|g| &**g).collect();
        backend::channel_coeffs(spec, &refs)?
    };
    let n = out.len();
    let out: Vec<Tensor> = out
        .into_iter()
        .map(|s| Tensor::from_contiguous(s, &[c]))
        .collect();
    out.try_into().map_err(|_| {
        Error::Runtime(format!(
            "batch_norm: {spec:?} gave {n} per-channel outputs, expected {N}"
        ))
    })
}

/// `t` detached as a dense `(C)` tensor of dtype `dt` that owns its whole storage (what the
/// per-channel kernels read).
fn dense_channels(t: &Tensor, dt: crate::dtype::DType) -> Result<Tensor> {
    let t = t.detach().to_dtype(dt)?;
    if t.owns_whole_storage() {
        Ok(t)
    } else {
        Ok(t.deep_clone()?.detach())
    }
}
