//! `rustdl.nn.functional` entry points: each one Rust call, arguments as PyTorch names them.

use pyo3::prelude::*;

use crate::backend::UnaryOp;
use crate::error::Result as CoreResult;
use crate::ops::loss::Reduction;
use crate::ops::nn::Window2d;
use crate::ops::recurrent::{RnnMode, RnnParams};
use crate::tensor::Tensor;

use super::gil::{run, work};
use super::pytensor::PyTensor;

type T<'a> = PyRef<'a, PyTensor>;

/// One core call over `inputs` under the GIL policy (`gil::nogil`), as a Python tensor.
fn call(
    py: Python<'_>,
    inputs: &[&Tensor],
    f: impl FnOnce() -> CoreResult<Tensor> + Send,
) -> PyResult<PyTensor> {
    Ok(run(py, work(inputs), f)?.into())
}

fn opt(t: &Option<T<'_>>) -> Option<Tensor> {
    t.as_ref().map(|t| t.tensor())
}

/// An int or a pair of ints, as PyTorch's `_pair`.
fn pair(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(usize, usize)> {
    if let Ok(v) = obj.extract::<usize>() {
        return Ok((v, v));
    }
    match crate::python::convert::extract_items::<usize>(obj) {
        Ok(v) if v.len() == 2 => Ok((v[0], v[1])),
        // a one-element list stands for both dims, as PyTorch's int-list arguments
        Ok(v) if v.len() == 1 => Ok((v[0], v[0])),
        _ => Err(crate::python::argument_error(format!(
            "{what} must be an int or a pair of non-negative ints"
        ))),
    }
}

#[pyfunction]
#[pyo3(signature = (mode, input, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=false, lengths=None, double_backward=None))]
#[allow(clippy::too_many_arguments)]
fn rnn_layer(
    py: Python<'_>,
    mode: &str,
    input: T<'_>,
    h0: Option<T<'_>>,
    c0: Option<T<'_>>,
    weight_ih: T<'_>,
    weight_hh: T<'_>,
    bias_ih: Option<T<'_>>,
    bias_hh: Option<T<'_>>,
    reverse: bool,
    lengths: Option<Vec<i64>>,
    double_backward: Option<Py<PyAny>>,
) -> PyResult<(PyTensor, PyTensor, Option<PyTensor>)> {
    let mode = RnnMode::parse(mode)?;
    let lengths: Option<Vec<usize>> = match lengths {
        Some(v) => Some(
            v.iter()
                .map(|&l| {
                    usize::try_from(l).map_err(|_| {
                        crate::python::argument_error(format!(
                            "rnn_layer: lengths must be positive, got {l}"
                        ))
                    })
                })
                .collect::<PyResult<_>>()?,
        ),
        None => None,
    };
    let (x, h, c) = (input.tensor(), opt(&h0), opt(&c0));
    let (wi, wh, bi, bh) = (
        weight_ih.tensor(),
        weight_hh.tensor(),
        opt(&bias_ih),
        opt(&bias_hh),
    );
    let steps = x.shape().first().copied().unwrap_or(1);
    let w = work(&[&x, &wi, &wh]).max(work(&[&wh]).saturating_mul(steps));
    let r = run(py, w, move || {
        x.rnn_layer(&RnnParams {
            mode,
            h0: h.as_ref(),
            c0: c.as_ref(),
            w_ih: &wi,
            w_hh: &wh,
            b_ih: bi.as_ref(),
            b_hh: bh.as_ref(),
            reverse,
            lengths: lengths.as_deref(),
        })
    })?;
    if let Some(f) = double_backward {
        super::autograd_py::set_double_backward(&r.packed, "rnn_layer", f);
    }
    Ok((r.output.into(), r.h_n.into(), r.c_n.map(PyTensor::from)))
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias=None))]
fn linear(py: Python<'_>, input: T<'_>, weight: T<'_>, bias: Option<T<'_>>) -> PyResult<PyTensor> {
    let (x, w, b) = (input.tensor(), weight.tensor(), opt(&bias));
    let flops = x
        .numel()
        .saturating_mul(w.shape().first().copied().unwrap_or(1));
    Ok(run(py, work(&[&x, &w]).max(flops), move || {
        // as PyTorch: a 1-D weight is a dot product over the last dim, and a bias that is not
        // one value per output feature is added with broadcasting
        let odd_bias = b
            .as_ref()
            .is_some_and(|b| w.ndim() != 2 || b.shape() != [w.shape()[0]]);
        if w.ndim() == 1 || (w.ndim() == 2 && odd_bias) {
            let y = x.matmul(&if w.ndim() == 2 { w.t()? } else { w.clone() })?;
            return match &b {
                // the bias is expanded to the output's shape (it never widens the output)
                Some(b) => {
                    let b = b.expand(y.shape()).map_err(|_| {
                        crate::error::Error::Shape(format!(
                            "linear: bias of shape {:?} does not broadcast to the output of shape {:?} \
                             (input {:?}, weight {:?})",
                            b.shape(),
                            y.shape(),
                            x.shape(),
                            w.shape()
                        ))
                    })?;
                    y.add(&b)
                }
                None => Ok(y),
            };
        }
        x.linear(&w, b.as_ref())
    })?
    .into())
}

/// An optional int-or-pair argument of `op`, `(default, default)` when absent.
fn pair_or(
    obj: Option<&Bound<'_, PyAny>>,
    op: &str,
    what: &str,
    default: usize,
) -> PyResult<(usize, usize)> {
    obj.map(|o| pair(o, &format!("{op}: {what}")))
        .unwrap_or(Ok((default, default)))
}

/// A count argument that must be at least 1 (`groups`), as a usize.
fn positive(v: i64, op: &str, what: &str) -> PyResult<usize> {
    usize::try_from(v).ok().filter(|&n| n > 0).ok_or_else(|| {
        crate::python::argument_error(format!("{op}: {what} must be positive, got {v}"))
    })
}

/// The work of a convolution: multiply-adds per output channel, at least the elements.
fn conv_work(x: &Tensor, w: &Tensor) -> usize {
    let per_out =
        x.numel().saturating_mul(w.numel()) / w.shape().first().copied().unwrap_or(1).max(1);
    work(&[x, w]).max(per_out)
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, dilation=None, groups=1))]
#[allow(clippy::too_many_arguments)]
fn conv2d(
    py: Python<'_>,
    input: T<'_>,
    weight: T<'_>,
    bias: Option<T<'_>>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    groups: i64,
) -> PyResult<PyTensor> {
    let groups = positive(groups, "conv2d", "groups")?;
    let one = |o, n, d| pair_or(o, "conv2d", n, d);
    let win = Window2d {
        kernel: (0, 0),
        stride: one(stride, "stride", 1)?,
        padding: one(padding, "padding", 0)?,
        dilation: one(dilation, "dilation", 1)?,
    };
    let (x, w, b) = (input.tensor(), weight.tensor(), opt(&bias));
    Ok(run(py, conv_work(&x, &w), move || {
        x.conv2d(&w, b.as_ref(), win, groups)
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, output_padding=None, groups=1, dilation=None))]
#[allow(clippy::too_many_arguments)]
fn conv_transpose2d(
    py: Python<'_>,
    input: T<'_>,
    weight: T<'_>,
    bias: Option<T<'_>>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    output_padding: Option<&Bound<'_, PyAny>>,
    groups: i64,
    dilation: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let groups = positive(groups, "conv_transpose2d", "groups")?;
    let one = |o, n, d| pair_or(o, "conv_transpose2d", n, d);
    let (s, p, op, d) = (
        one(stride, "stride", 1)?,
        one(padding, "padding", 0)?,
        one(output_padding, "output_padding", 0)?,
        one(dilation, "dilation", 1)?,
    );
    let (x, w, b) = (input.tensor(), weight.tensor(), opt(&bias));
    Ok(run(py, conv_work(&x, &w), move || {
        x.conv_transpose2d(&w, b.as_ref(), s, p, op, groups, d)
    })?
    .into())
}

fn window(
    op: &str,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: &Bound<'_, PyAny>,
    dilation: Option<&Bound<'_, PyAny>>,
) -> PyResult<Window2d> {
    let k = pair(kernel_size, &format!("{op}: kernel_size"))?;
    let s = match stride {
        Some(s) if !s.is_none() => pair(s, &format!("{op}: stride"))?,
        _ => k,
    };
    let d = match dilation {
        Some(d) => pair(d, &format!("{op}: dilation"))?,
        None => (1, 1),
    };
    Ok(Window2d {
        kernel: k,
        stride: s,
        padding: pair(padding, &format!("{op}: padding"))?,
        dilation: d,
    })
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=None, dilation=None, ceil_mode=false, return_indices=false))]
#[allow(clippy::too_many_arguments)]
fn max_pool2d<'py>(
    py: Python<'py>,
    input: T<'_>,
    kernel_size: &Bound<'py, PyAny>,
    stride: Option<&Bound<'py, PyAny>>,
    padding: Option<&Bound<'py, PyAny>>,
    dilation: Option<&Bound<'py, PyAny>>,
    ceil_mode: bool,
    return_indices: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let zero = 0usize.into_pyobject(py)?.into_any();
    let win = window(
        "max_pool2d",
        kernel_size,
        stride,
        padding.unwrap_or(&zero),
        dilation,
    )?;
    let x = input.tensor();
    if return_indices {
        let (v, i) = run(py, work(&[&x]), move || x.max_pool2d(win, ceil_mode))?;
        return Ok((PyTensor::from(v), PyTensor::from(i))
            .into_pyobject(py)?
            .into_any());
    }
    let v = run(py, work(&[&x]), move || x.max_pool2d_values(win, ceil_mode))?;
    Ok(Bound::new(py, PyTensor::from(v))?.into_any())
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=None, ceil_mode=false, count_include_pad=true))]
fn avg_pool2d(
    py: Python<'_>,
    input: T<'_>,
    kernel_size: &Bound<'_, PyAny>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    ceil_mode: bool,
    count_include_pad: bool,
) -> PyResult<PyTensor> {
    let zero = 0usize.into_pyobject(py)?.into_any();
    let win = window(
        "avg_pool2d",
        kernel_size,
        stride,
        padding.unwrap_or(&zero),
        None,
    )?;
    let x = input.tensor();
    Ok(run(py, work(&[&x]), move || {
        x.avg_pool2d(win, ceil_mode, count_include_pad)
    })?
    .into())
}

#[pyfunction]
fn adaptive_avg_pool2d(
    py: Python<'_>,
    input: T<'_>,
    output_size: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    let nd = input.tensor().ndim();
    let hw = if nd >= 2 {
        (
            input.tensor().shape()[nd - 2],
            input.tensor().shape()[nd - 1],
        )
    } else {
        (1, 1)
    };
    let os = if let Ok(v) = crate::python::convert::extract_items::<Option<usize>>(output_size) {
        if v.len() != 2 {
            return Err(crate::python::argument_error(
                "adaptive_avg_pool2d: output_size must be an int or a pair",
            ));
        }
        (v[0].unwrap_or(hw.0), v[1].unwrap_or(hw.1))
    } else {
        pair(output_size, "adaptive_avg_pool2d: output_size")?
    };
    let x = input.tensor();
    Ok(run(py, work(&[&x]), move || x.adaptive_avg_pool2d(os))?.into())
}

#[pyfunction]
#[pyo3(signature = (input, size, mode="nearest", align_corners=false))]
fn interpolate_size(
    py: Python<'_>,
    input: T<'_>,
    size: (usize, usize),
    mode: &str,
    align_corners: bool,
) -> PyResult<PyTensor> {
    let x = input.tensor();
    let mode = mode.to_string();
    Ok(run(py, work(&[&x]), move || {
        x.interpolate(size, &mode, align_corners)
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (input, running_mean=None, running_var=None, weight=None, bias=None, training=false, momentum=0.1, eps=1e-5))]
#[allow(clippy::too_many_arguments)]
fn batch_norm(
    py: Python<'_>,
    input: T<'_>,
    running_mean: Option<T<'_>>,
    running_var: Option<T<'_>>,
    weight: Option<T<'_>>,
    bias: Option<T<'_>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> PyResult<PyTensor> {
    let (x, rm, rv, w, b) = (
        input.tensor(),
        opt(&running_mean),
        opt(&running_var),
        opt(&weight),
        opt(&bias),
    );
    Ok(run(py, work(&[&x]), move || {
        x.batch_norm(
            rm.as_ref(),
            rv.as_ref(),
            w.as_ref(),
            b.as_ref(),
            training,
            momentum,
            eps,
        )
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (input, normalized_shape, weight=None, bias=None, eps=1e-5))]
fn layer_norm(
    py: Python<'_>,
    input: T<'_>,
    normalized_shape: &Bound<'_, PyAny>,
    weight: Option<T<'_>>,
    bias: Option<T<'_>>,
    eps: f64,
) -> PyResult<PyTensor> {
    let ns: Vec<usize> = match normalized_shape.extract::<usize>() {
        Ok(n) => vec![n],
        Err(_) => normalized_shape.extract()?,
    };
    let (x, w, b) = (input.tensor(), opt(&weight), opt(&bias));
    Ok(run(py, work(&[&x]), move || {
        x.layer_norm(&ns, w.as_ref(), b.as_ref(), eps)
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (input, num_groups, weight=None, bias=None, eps=1e-5))]
fn group_norm(
    py: Python<'_>,
    input: T<'_>,
    num_groups: i64,
    weight: Option<T<'_>>,
    bias: Option<T<'_>>,
    eps: f64,
) -> PyResult<PyTensor> {
    let num_groups = positive(num_groups, "group_norm", "num_groups")?;
    let (x, w, b) = (input.tensor(), opt(&weight), opt(&bias));
    Ok(run(py, work(&[&x]), move || {
        x.group_norm(num_groups, w.as_ref(), b.as_ref(), eps)
    })?
    .into())
}

#[pyfunction]
#[pyo3(signature = (input, p=0.5, training=true, channel_shape=None))]
fn dropout(
    py: Python<'_>,
    input: T<'_>,
    p: f64,
    training: bool,
    channel_shape: Option<Vec<usize>>,
) -> PyResult<PyTensor> {
    let x = input.tensor();
    call(py, &[&x], || {
        x.dropout(p, training, channel_shape.as_deref())
    })
}

#[pyfunction]
#[pyo3(signature = (input, weight, padding_idx=None))]
fn embedding(
    py: Python<'_>,
    input: T<'_>,
    weight: T<'_>,
    padding_idx: Option<i64>,
) -> PyResult<PyTensor> {
    let (i, w) = (input.tensor(), weight.tensor());
    call(py, &[&i, &w], || w.embedding(&i, padding_idx))
}

#[pyfunction]
#[pyo3(signature = (input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0))]
fn cross_entropy(
    py: Python<'_>,
    input: T<'_>,
    target: T<'_>,
    weight: Option<T<'_>>,
    ignore_index: i64,
    reduction: &str,
    label_smoothing: f64,
) -> PyResult<PyTensor> {
    let r = Reduction::parse(reduction)?;
    let (x, t, w) = (input.tensor(), target.tensor(), opt(&weight));
    call(py, &[&x, &t], || {
        x.cross_entropy(&t, w.as_ref(), ignore_index, r, label_smoothing)
    })
}

#[pyfunction]
#[pyo3(signature = (input, target, weight=None, ignore_index=-100, reduction="mean"))]
fn nll_loss(
    py: Python<'_>,
    input: T<'_>,
    target: T<'_>,
    weight: Option<T<'_>>,
    ignore_index: i64,
    reduction: &str,
) -> PyResult<PyTensor> {
    let r = Reduction::parse(reduction)?;
    let (x, t, w) = (input.tensor(), target.tensor(), opt(&weight));
    call(py, &[&x, &t], || {
        x.nll_loss(&t, w.as_ref(), ignore_index, r)
    })
}

/// A loss `f(input, target, reduction, extra)` with one extra keyword after `reduction`
/// (or none), each one core call under the GIL policy.
macro_rules! pointwise_loss {
    ($name:ident, |$x:ident, $t:ident, $r:ident| $body:expr) => {
        #[pyfunction]
        #[pyo3(signature = (input, target, reduction="mean"))]
        fn $name(
            py: Python<'_>,
            input: T<'_>,
            target: T<'_>,
            reduction: &str,
        ) -> PyResult<PyTensor> {
            let $r = Reduction::parse(reduction)?;
            let ($x, $t) = (input.tensor(), target.tensor());
            call(py, &[&$x, &$t], || $body)
        }
    };
    ($name:ident, $extra:ident: $ty:ty = $default:expr, |$x:ident, $t:ident, $r:ident| $body:expr) => {
        #[pyfunction]
        #[pyo3(signature = (input, target, reduction="mean", $extra=$default))]
        fn $name(
            py: Python<'_>,
            input: T<'_>,
            target: T<'_>,
            reduction: &str,
            $extra: $ty,
        ) -> PyResult<PyTensor> {
            let $r = Reduction::parse(reduction)?;
            let ($x, $t) = (input.tensor(), target.tensor());
            call(py, &[&$x, &$t], || $body)
        }
    };
}
pointwise_loss!(mse_loss, |x, t, r| x.mse_loss(&t, r));
pointwise_loss!(l1_loss, |x, t, r| x.l1_loss(&t, r));
pointwise_loss!(smooth_l1_loss, beta: f64 = 1.0, |x, t, r| x.smooth_l1_loss(&t, r, beta));
pointwise_loss!(huber_loss, delta: f64 = 1.0, |x, t, r| x.huber_loss(&t, r, delta));
pointwise_loss!(kl_div, log_target: bool = false, |x, t, r| x.kl_div(&t, r, log_target));

#[pyfunction]
#[pyo3(signature = (input, target, weight=None, reduction="mean"))]
fn binary_cross_entropy(
    py: Python<'_>,
    input: T<'_>,
    target: T<'_>,
    weight: Option<T<'_>>,
    reduction: &str,
) -> PyResult<PyTensor> {
    let r = Reduction::parse(reduction)?;
    let (x, t, w) = (input.tensor(), target.tensor(), opt(&weight));
    call(py, &[&x, &t], || x.binary_cross_entropy(&t, w.as_ref(), r))
}

#[pyfunction]
#[pyo3(signature = (input, target, weight=None, reduction="mean", pos_weight=None))]
fn binary_cross_entropy_with_logits(
    py: Python<'_>,
    input: T<'_>,
    target: T<'_>,
    weight: Option<T<'_>>,
    reduction: &str,
    pos_weight: Option<T<'_>>,
) -> PyResult<PyTensor> {
    let r = Reduction::parse(reduction)?;
    let (x, t) = (input.tensor(), target.tensor());
    let (w, pw) = (opt(&weight), opt(&pos_weight));
    call(py, &[&x, &t], || {
        x.binary_cross_entropy_with_logits(&t, w.as_ref(), pw.as_ref(), r)
    })
}

/// An activation `input -> op(input)` as one unary kernel under the GIL policy.
fn activation(py: Python<'_>, input: T<'_>, op: UnaryOp) -> PyResult<PyTensor> {
    let x = input.tensor();
    call(py, &[&x], || x.unary(op))
}

#[pyfunction]
#[pyo3(signature = (input, negative_slope=0.01))]
fn leaky_relu(py: Python<'_>, input: T<'_>, negative_slope: f64) -> PyResult<PyTensor> {
    activation(py, input, UnaryOp::LeakyRelu(negative_slope))
}

#[pyfunction]
#[pyo3(signature = (input, alpha=1.0))]
fn elu(py: Python<'_>, input: T<'_>, alpha: f64) -> PyResult<PyTensor> {
    activation(py, input, UnaryOp::Elu(alpha))
}

#[pyfunction]
fn gelu(py: Python<'_>, input: T<'_>) -> PyResult<PyTensor> {
    activation(py, input, UnaryOp::Gelu)
}

#[pyfunction]
fn silu(py: Python<'_>, input: T<'_>) -> PyResult<PyTensor> {
    activation(py, input, UnaryOp::Silu)
}

#[pyfunction]
#[pyo3(signature = (input, beta=1.0, threshold=20.0))]
fn softplus(py: Python<'_>, input: T<'_>, beta: f64, threshold: f64) -> PyResult<PyTensor> {
    let x = input.tensor();
    call(py, &[&x], || x.softplus(beta, threshold))
}

/// Scaled dot-product attention as one fused op (CPU or GPU): `(B, L, E)` query, `(B, S, E)`
/// key, `(B, S, Ev)` value, an optional additive mask `(L, S)` or `(B, L, S)` of the query's
/// dtype (`F.scaled_dot_product_attention` prepares these and picks this op when it fits).
#[pyfunction]
#[pyo3(signature = (query, key, value, mask=None, is_causal=false, scale=1.0, double_backward=None))]
#[allow(clippy::too_many_arguments)]
fn _sdpa_fused(
    py: Python<'_>,
    query: T<'_>,
    key: T<'_>,
    value: T<'_>,
    mask: Option<T<'_>>,
    is_causal: bool,
    scale: f64,
    double_backward: Option<Py<PyAny>>,
) -> PyResult<PyTensor> {
    let (q, k, v, m) = (query.tensor(), key.tensor(), value.tensor(), opt(&mask));
    // work: the score tiles' multiply-adds
    let w = q
        .numel()
        .saturating_mul(k.shape().get(1).copied().unwrap_or(1));
    let out = run(py, w, move || {
        q.scaled_dot_product_attention_fused(&k, &v, m.as_ref(), is_causal, scale)
    })?;
    if let Some(f) = double_backward {
        super::autograd_py::set_double_backward(&out, "scaled_dot_product_attention", f);
    }
    Ok(out.into())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sdpa_fused, m)?)?;
    m.add_function(wrap_pyfunction!(linear, m)?)?;
    m.add_function(wrap_pyfunction!(rnn_layer, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv_transpose2d, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(interpolate_size, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm, m)?)?;
    m.add_function(wrap_pyfunction!(layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(group_norm, m)?)?;
    m.add_function(wrap_pyfunction!(dropout, m)?)?;
    m.add_function(wrap_pyfunction!(embedding, m)?)?;
    m.add_function(wrap_pyfunction!(cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(nll_loss, m)?)?;
    m.add_function(wrap_pyfunction!(mse_loss, m)?)?;
    m.add_function(wrap_pyfunction!(l1_loss, m)?)?;
    m.add_function(wrap_pyfunction!(smooth_l1_loss, m)?)?;
    m.add_function(wrap_pyfunction!(huber_loss, m)?)?;
    m.add_function(wrap_pyfunction!(binary_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(binary_cross_entropy_with_logits, m)?)?;
    m.add_function(wrap_pyfunction!(kl_div, m)?)?;
    m.add_function(wrap_pyfunction!(leaky_relu, m)?)?;
    m.add_function(wrap_pyfunction!(elu, m)?)?;
    m.add_function(wrap_pyfunction!(gelu, m)?)?;
    m.add_function(wrap_pyfunction!(silu, m)?)?;
    m.add_function(wrap_pyfunction!(softplus, m)?)?;
    Ok(())
}
