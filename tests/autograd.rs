//! Every op's backward against central finite differences in float64.

use rustdl::autograd::gradcheck;
use rustdl::backend::UnaryOp;
use rustdl::ops::loss::Reduction;
use rustdl::ops::nn::Window2d;
use rustdl::{Result, Tensor};

fn data(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_add(0x9e3779b97f4a7c15);
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect();
    let t = Tensor::from_f64(v, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

fn x(shape: &[usize], seed: u64) -> Tensor {
    data(shape, seed, -1.0, 1.0)
}

fn check(name: &str, f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor]) {
    if let Err(e) = gradcheck(&f, inputs, 1e-6, 1e-6, 1e-4) {
        panic!("{name}: {e}");
    }
}

fn idx(v: Vec<i64>, shape: &[usize]) -> Tensor {
    Tensor::from_i64(v, shape).unwrap()
}

#[test]
fn unary_ops() {
    // kinks: where the op is not differentiable; the inputs straddle each one, kept 0.05 away
    let ops: Vec<(UnaryOp, f64, f64, &[f64])> = vec![
        (UnaryOp::Neg, -1.0, 1.0, &[]),
        (UnaryOp::Abs, -1.0, 1.0, &[0.0]),
        (UnaryOp::Exp, -1.0, 1.0, &[]),
        (UnaryOp::Log, 0.5, 2.0, &[]),
        (UnaryOp::Sqrt, 0.5, 2.0, &[]),
        (UnaryOp::Rsqrt, 0.5, 2.0, &[]),
        (UnaryOp::Sin, -2.0, 2.0, &[]),
        (UnaryOp::Cos, -2.0, 2.0, &[]),
        (UnaryOp::Tanh, -2.0, 2.0, &[]),
        (UnaryOp::Sigmoid, -3.0, 3.0, &[]),
        (UnaryOp::Relu, -1.0, 1.0, &[0.0]),
        (UnaryOp::Gelu, -2.0, 2.0, &[]),
        (UnaryOp::Recip, 0.5, 2.0, &[]),
        (UnaryOp::Square, -1.0, 1.0, &[]),
        (UnaryOp::AddScalar(2.0), -1.0, 1.0, &[]),
        (UnaryOp::MulScalar(-3.0), -1.0, 1.0, &[]),
        (UnaryOp::RSubScalar(1.0), -1.0, 1.0, &[]),
        (UnaryOp::RDivScalar(2.0), 0.5, 2.0, &[]),
        (UnaryOp::PowScalar(2.5), 0.5, 2.0, &[]),
        (UnaryOp::RPowScalar(3.0), -1.0, 1.0, &[]),
        (UnaryOp::Clamp(-0.5, 0.5), -1.0, 1.0, &[-0.5, 0.5]),
        (UnaryOp::LeakyRelu(0.2), -1.0, 1.0, &[0.0]),
        (UnaryOp::Elu(1.5), -1.0, 1.0, &[0.0]),
        (UnaryOp::Silu, -2.0, 2.0, &[]),
        (UnaryOp::Log1p, 0.0, 1.0, &[]),
    ];
    for (i, (op, lo, hi, kinks)) in ops.into_iter().enumerate() {
        let input = straddling(&[4, 5], i as u64, lo, hi, kinks);
        check(&format!("{op:?}"), move |t| t[0].unary(op), &[input]);
    }
}

/// Values in [lo, hi) with every kink straddled (both sides present) and none closer than 0.05
/// to a kink, so that finite differences never step across one.
fn straddling(shape: &[usize], seed: u64, lo: f64, hi: f64, kinks: &[f64]) -> Tensor {
    const MARGIN: f64 = 0.05;
    let mut v = data(shape, seed, lo, hi).to_f64_vec().unwrap();
    for &k in kinks {
        for x in v.iter_mut().filter(|x| (**x - k).abs() < MARGIN) {
            *x = if *x >= k { k + MARGIN } else { k - MARGIN };
        }
        assert!(
            v.iter().any(|&x| x < k) && v.iter().any(|&x| x > k),
            "inputs miss a side of kink {k}"
        );
    }
    let t = Tensor::from_f64(v, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

#[test]
fn binary_ops_with_broadcasting() {
    let shapes = [
        (vec![3, 4], vec![3, 4]),
        (vec![2, 3, 4], vec![4]),
        (vec![3, 1], vec![1, 5]),
    ];
    for (sa, sb) in shapes {
        let (a, b) = (data(&sa, 1, 0.5, 2.0), data(&sb, 2, 0.5, 2.0));
        check("add", |t| t[0].add(&t[1]), &[a.clone(), b.clone()]);
        check("sub", |t| t[0].sub(&t[1]), &[a.clone(), b.clone()]);
        check("mul", |t| t[0].mul(&t[1]), &[a.clone(), b.clone()]);
        check("div", |t| t[0].div(&t[1]), &[a.clone(), b.clone()]);
        check("pow", |t| t[0].pow(&t[1]), &[a.clone(), b.clone()]);
        check("maximum", |t| t[0].maximum(&t[1]), &[a.clone(), b.clone()]);
        check("minimum", |t| t[0].minimum(&t[1]), &[a.clone(), b.clone()]);
        check(
            "where",
            |t| {
                Tensor::where_cond(
                    &t[0].binary(&t[1], rustdl::backend::BinaryOp::Gt)?,
                    &t[0],
                    &t[1],
                )
            },
            &[a.clone(), b.clone()],
        );
    }
}

#[test]
fn reductions() {
    let a = x(&[3, 4, 5], 3);
    check(
        "sum",
        |t| t[0].sum(&[0, 2], false),
        std::slice::from_ref(&a),
    );
    check(
        "sum_keep",
        |t| t[0].sum(&[1], true),
        std::slice::from_ref(&a),
    );
    check(
        "mean",
        |t| t[0].mean(&[-1], false),
        std::slice::from_ref(&a),
    );
    check(
        "var",
        |t| t[0].var(&[1], 1.0, false),
        std::slice::from_ref(&a),
    );
    check(
        "std",
        |t| t[0].std(&[], 0.0, false),
        std::slice::from_ref(&a),
    );
    check(
        "max_dim",
        |t| Ok(t[0].max_min_dim(1, false, true)?.0),
        std::slice::from_ref(&a),
    );
    check(
        "min_all",
        |t| t[0].max_min_all(false),
        std::slice::from_ref(&a),
    );
    check(
        "softmax",
        |t| t[0].softmax_dim(1, false),
        std::slice::from_ref(&a),
    );
    check(
        "log_softmax",
        |t| t[0].softmax_dim(-1, true),
        std::slice::from_ref(&a),
    );
    check(
        "logsumexp",
        |t| t[0].logsumexp(0, false),
        std::slice::from_ref(&a),
    );
}

#[test]
fn matmul_and_linear() {
    check(
        "mm",
        |t| t[0].matmul(&t[1]),
        &[x(&[3, 4], 1), x(&[4, 2], 2)],
    );
    check("mv", |t| t[0].matmul(&t[1]), &[x(&[3, 4], 3), x(&[4], 4)]);
    check("vm", |t| t[0].matmul(&t[1]), &[x(&[4], 5), x(&[4, 2], 6)]);
    check(
        "bmm_broadcast",
        |t| t[0].matmul(&t[1]),
        &[x(&[2, 1, 3, 4], 7), x(&[3, 4, 2], 8)],
    );
    check(
        "linear",
        |t| t[0].linear(&t[1], Some(&t[2])),
        &[x(&[5, 3], 9), x(&[4, 3], 10), x(&[4], 11)],
    );
}

#[test]
fn shape_ops() {
    let a = x(&[2, 3, 4], 12);
    check(
        "reshape",
        |t| t[0].reshape(&[6, 4]),
        std::slice::from_ref(&a),
    );
    check(
        "permute",
        |t| t[0].permute(&[2, 0, 1]),
        std::slice::from_ref(&a),
    );
    check(
        "transpose_contig",
        |t| t[0].transpose(0, 2)?.contiguous(),
        std::slice::from_ref(&a),
    );
    check(
        "expand",
        |t| t[0].slice(1, 0, 1, 1)?.expand(&[2, 3, 4]),
        std::slice::from_ref(&a),
    );
    check(
        "slice_step",
        |t| t[0].slice(2, 1, 4, 2),
        std::slice::from_ref(&a),
    );
    check("select", |t| t[0].select(1, -1), std::slice::from_ref(&a));
    check(
        "repeat",
        |t| t[0].repeat(&[1, 2, 1, 2]),
        std::slice::from_ref(&a),
    );
    check("flip", |t| t[0].flip(&[0, 2]), std::slice::from_ref(&a));
    check(
        "cat",
        |t| Tensor::cat(&[t[0].clone(), t[1].clone()], 1),
        &[a.clone(), x(&[2, 2, 4], 13)],
    );
    check(
        "stack",
        |t| Tensor::stack(&[t[0].clone(), t[0].mul_scalar(2.0)?], 0),
        std::slice::from_ref(&a),
    );
    check(
        "split",
        |t| Ok(t[0].split(3, 2)?[1].clone()),
        std::slice::from_ref(&a),
    );
}

#[test]
fn index_ops() {
    let a = x(&[4, 5], 14);
    check(
        "index_select",
        |t| t[0].index_select(1, &idx(vec![4, 0, 4], &[3])),
        std::slice::from_ref(&a),
    );
    check(
        "gather",
        |t| t[0].gather(0, &idx(vec![3, 0, 1, 1, 2, 0, 0, 3, 2, 1], &[2, 5])),
        std::slice::from_ref(&a),
    );
    check(
        "scatter_add",
        |t| t[0].scatter_add(1, &idx(vec![0, 0, 4, 1, 2, 3, 3, 3], &[4, 2]), &t[1]),
        &[a.clone(), x(&[4, 2], 15)],
    );
    check(
        "masked_fill",
        |t| {
            t[0].masked_fill(
                &t[0].binary(&t[0].scalar_like(0.0)?, rustdl::backend::BinaryOp::Gt)?,
                0.5,
            )
        },
        std::slice::from_ref(&a),
    );
    // the padding row (2) is not used here: its gradient is zero by definition, unlike finite differences
    check(
        "embedding",
        |t| t[0].embedding(&idx(vec![1, 3, 1], &[3]), Some(2)),
        &[x(&[5, 2], 16)],
    );
}

fn win(k: usize, s: usize, p: usize, d: usize) -> Window2d {
    Window2d {
        kernel: (k, k),
        stride: (s, s),
        padding: (p, p),
        dilation: (d, d),
    }
}

#[test]
fn convolution_and_pooling() {
    for (s, p, d, g) in [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (1, 1, 1, 2)] {
        check(
            "conv2d",
            move |t| t[0].conv2d(&t[1], Some(&t[2]), win(0, s, p, d), g),
            &[x(&[2, 4, 5, 5], 20), x(&[2, 4 / g, 3, 2], 21), x(&[2], 22)],
        );
    }
    check(
        "conv_transpose2d",
        |t| t[0].conv_transpose2d(&t[1], Some(&t[2]), (2, 2), (1, 1), (1, 1), 1, (1, 1)),
        &[x(&[1, 2, 3, 3], 23), x(&[2, 3, 3, 3], 24), x(&[3], 25)],
    );
    check(
        "conv_transpose2d_groups",
        |t| t[0].conv_transpose2d(&t[1], None, (1, 1), (0, 0), (0, 0), 2, (1, 1)),
        &[x(&[1, 4, 3, 3], 26), x(&[4, 1, 2, 2], 27)],
    );
    check(
        "max_pool2d",
        |t| t[0].max_pool2d_values(win(2, 2, 0, 1), false),
        &[x(&[1, 2, 4, 4], 28)],
    );
    check(
        "max_pool2d_pad",
        |t| t[0].max_pool2d_values(win(3, 2, 1, 1), true),
        &[x(&[1, 1, 5, 5], 29)],
    );
    check(
        "avg_pool2d",
        |t| t[0].avg_pool2d(win(3, 2, 1, 1), false, false),
        &[x(&[1, 2, 5, 5], 30)],
    );
    check(
        "adaptive_avg_pool2d",
        |t| t[0].adaptive_avg_pool2d((2, 3)),
        &[x(&[1, 2, 5, 7], 31)],
    );
    check(
        "bilinear",
        |t| t[0].interpolate((5, 4), "bilinear", false),
        &[x(&[1, 1, 3, 3], 32)],
    );
    check(
        "nearest",
        |t| t[0].interpolate((6, 6), "nearest", false),
        &[x(&[1, 1, 3, 3], 33)],
    );
}

#[test]
fn normalisation_and_dropout() {
    check(
        "batch_norm",
        |t| t[0].batch_norm(None, None, Some(&t[1]), Some(&t[2]), true, 0.1, 1e-5),
        &[x(&[4, 3, 2], 40), x(&[3], 41), x(&[3], 42)],
    );
    check(
        "layer_norm",
        |t| t[0].layer_norm(&[4], Some(&t[1]), Some(&t[2]), 1e-5),
        &[x(&[3, 4], 43), x(&[4], 44), x(&[4], 45)],
    );
    check(
        "group_norm",
        |t| t[0].group_norm(2, Some(&t[1]), None, 1e-5),
        &[x(&[2, 4, 3], 46), x(&[4], 47)],
    );
    // dropout with a fixed mask is linear: reseed so every evaluation draws the same mask
    check(
        "dropout",
        |t| {
            rustdl::random::manual_seed(7);
            t[0].dropout(0.3, true, None)
        },
        &[x(&[20], 48)],
    );
}

#[test]
fn losses() {
    let logits = x(&[5, 4], 50);
    let target = idx(vec![0, 3, 1, -100, 2], &[5]);
    let w = Tensor::from_f64(vec![1.0, 2.0, 0.5, 1.5], &[4]).unwrap();
    check(
        "cross_entropy",
        |t| t[0].cross_entropy(&target, Some(&w), -100, Reduction::Mean, 0.1),
        std::slice::from_ref(&logits),
    );
    check(
        "nll_loss",
        |t| {
            t[0].softmax_dim(1, true)?
                .nll_loss(&target, None, -100, Reduction::Sum)
        },
        std::slice::from_ref(&logits),
    );
    let y = x(&[5, 4], 51).detach();
    check(
        "mse",
        |t| t[0].mse_loss(&y, Reduction::Mean),
        std::slice::from_ref(&logits),
    );
    check(
        "l1",
        |t| t[0].l1_loss(&y, Reduction::Sum),
        std::slice::from_ref(&logits),
    );
    check(
        "smooth_l1",
        |t| t[0].smooth_l1_loss(&y, Reduction::Mean, 0.5),
        std::slice::from_ref(&logits),
    );
    check(
        "huber",
        |t| t[0].huber_loss(&y, Reduction::Mean, 0.5),
        std::slice::from_ref(&logits),
    );
    let p = data(&[5, 4], 52, 0.1, 0.9);
    let b = data(&[5, 4], 53, 0.0, 1.0).detach();
    check(
        "bce",
        |t| t[0].binary_cross_entropy(&b, None, Reduction::Mean),
        std::slice::from_ref(&p),
    );
    check(
        "bce_logits",
        |t| t[0].binary_cross_entropy_with_logits(&b, None, Some(&w), Reduction::Mean),
        std::slice::from_ref(&logits),
    );
    let q = data(&[5, 4], 54, 0.1, 1.0).detach();
    check(
        "kl_div",
        |t| {
            t[0].softmax_dim(1, true)?
                .kl_div(&q, Reduction::BatchMean, false)
        },
        std::slice::from_ref(&logits),
    );
}

#[test]
fn fused_recurrent_layers() {
    use rustdl::ops::recurrent::{RnnMode, RnnParams};
    let (l, n, i, h) = (3, 2, 3, 2);
    for mode in [
        RnnMode::RnnTanh,
        RnnMode::RnnRelu,
        RnnMode::Lstm,
        RnnMode::Gru,
    ] {
        let g = mode.gates();
        let lstm = mode == RnnMode::Lstm;
        for (reverse, composed) in [(false, false), (true, false), (false, true), (true, true)] {
            for lengths in [None, Some(vec![1usize, 3])] {
                let mut inputs = vec![
                    data(&[l, n, i], 1, 0.1, 1.0),
                    x(&[n, h], 2),
                    x(&[g * h, i], 3),
                    x(&[g * h, h], 4),
                    x(&[g * h], 5),
                    x(&[g * h], 6),
                ];
                if lstm {
                    inputs.push(x(&[n, h], 7));
                }
                let lens = lengths.clone();
                let f = move |t: &[Tensor]| {
                    let q = RnnParams {
                        mode,
                        h0: Some(&t[1]),
                        c0: t.get(6),
                        w_ih: &t[2],
                        w_hh: &t[3],
                        b_ih: Some(&t[4]),
                        b_hh: Some(&t[5]),
                        reverse,
                        lengths: lens.as_deref(),
                    };
                    let r = if composed {
                        t[0].rnn_layer_composed(&q)?
                    } else {
                        t[0].rnn_layer(&q)?
                    };
                    let mut parts = vec![r.output.reshape(&[l * n * h])?, r.h_n.reshape(&[n * h])?];
                    if let Some(c) = r.c_n {
                        parts.push(c.reshape(&[n * h])?);
                    }
                    Tensor::cat(&parts, 0)
                };
                check(
                    &format!("rnn_layer {mode:?} reverse={reverse} lengths={lengths:?}"),
                    f,
                    &inputs,
                );
            }
        }
    }
    // bad input is an error, not a panic
    let xs = x(&[3, 2, 3], 1);
    let w = x(&[8, 3], 2);
    let wh = x(&[8, 2], 3);
    let p = RnnParams {
        mode: RnnMode::Lstm,
        h0: None,
        c0: None,
        w_ih: &w,
        w_hh: &wh,
        b_ih: None,
        b_hh: None,
        reverse: false,
        lengths: Some(&[0, 1]),
    };
    assert!(xs.rnn_layer(&p).is_err());
    assert!(xs
        .rnn_layer(&RnnParams {
            lengths: None,
            w_ih: &wh,
            ..p
        })
        .is_err());
}
