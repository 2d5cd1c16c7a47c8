//! The backend contract's provided convolution against the CPU backend's own choice (the direct
//! kernel for few taps), and both against the adjoint identities that define the gradients:
//! `<g, conv(x, w)> = <dX, x> = <dW, w>` for a bias-free convolution.

use rustdl::backend::contract::provided;
use rustdl::backend::{Backend, Conv2dGeom, Cpu};
use rustdl::shape::Layout;
use rustdl::storage::CpuStorage;

fn lcg(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn f64s(s: &CpuStorage) -> Vec<f64> {
    match s {
        CpuStorage::F64(v) => v.clone(),
        other => panic!("expected float64, got {:?}", other.dtype()),
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-10 * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

/// `(n, c, h, w, o, k, stride, pad, dilation)`: the first two fit the CPU's direct kernel,
/// the rest take im2col + gemm.
/// `(n, c, h, w, o, k, stride, pad, dilation)`.
type Case = [usize; 9];

const CASES: [Case; 5] = [
    [2, 1, 9, 11, 4, 3, 1, 1, 1],
    [1, 3, 7, 6, 5, 2, 1, 0, 1],
    [2, 2, 9, 9, 3, 3, 2, 1, 1],
    [1, 8, 6, 7, 2, 3, 1, 1, 1],
    [2, 2, 10, 9, 3, 3, 1, 2, 2],
];

#[test]
fn provided_convolution_agrees_with_the_cpu_choice_and_the_adjoint_identities() {
    for (ci, &[n, c, h, w, o, k, s, p, d]) in CASES.iter().enumerate() {
        let span = d * (k - 1) + 1;
        let (oh, ow) = ((h + 2 * p - span) / s + 1, (w + 2 * p - span) / s + 1);
        let g = Conv2dGeom {
            n,
            c,
            h,
            w,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            ph: p,
            pw: p,
            dh: d,
            dw: d,
            oh,
            ow,
        };
        let seed = 10 * ci as u64;
        let x = CpuStorage::F64(lcg(n * c * h * w, seed + 1));
        let wt = CpuStorage::F64(lcg(o * c * k * k, seed + 2));
        let gy = CpuStorage::F64(lcg(n * o * oh * ow, seed + 3));
        let lx = Layout::contiguous(&[n, c, h, w]);
        let lg = Layout::contiguous(&[n, o, oh, ow]);

        let (mine, ws) = Cpu.conv2d((&x, &lx), &wt, None, &g, o).unwrap();
        let (plain, cols) = provided::conv2d(&Cpu, (&x, &lx), &wt, None, &g, o).unwrap();
        assert_close(&f64s(&mine), &f64s(&plain), "forward");
        assert!(cols.is_some(), "the provided forward keeps its columns");

        let dw = Cpu
            .conv2d_weight_grad((&x, &lx), ws.as_ref(), (&gy, &lg), &g, o)
            .unwrap();
        let dw_cols =
            provided::conv2d_weight_grad(&Cpu, (&x, &lx), cols.as_ref(), (&gy, &lg), &g, o)
                .unwrap();
        let dw_rebuilt =
            provided::conv2d_weight_grad(&Cpu, (&x, &lx), None, (&gy, &lg), &g, o).unwrap();
        assert_close(&f64s(&dw), &f64s(&dw_cols), "weight grad (columns kept)");
        assert_close(
            &f64s(&dw),
            &f64s(&dw_rebuilt),
            "weight grad (columns rebuilt)",
        );
        let dx = Cpu.conv2d_input_grad((&gy, &lg), &wt, &g, o).unwrap();

        // the convolution is bilinear: <g, y> = <dX, x> = <dW, w>
        let gy_y = dot(&f64s(&gy), &f64s(&mine));
        let scale = 1.0 + gy_y.abs();
        assert!(
            (dot(&f64s(&dx), &f64s(&x)) - gy_y).abs() < 1e-10 * scale,
            "case {ci}: <dX, x>"
        );
        assert!(
            (dot(&f64s(&dw), &f64s(&wt)) - gy_y).abs() < 1e-10 * scale,
            "case {ci}: <dW, w>"
        );
    }
}

#[test]
fn provided_convolution_adds_the_bias_per_output_channel() {
    let g = Conv2dGeom {
        n: 2,
        c: 9,
        h: 5,
        w: 4,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        ph: 1,
        pw: 1,
        dh: 1,
        dw: 1,
        oh: 5,
        ow: 4,
    };
    let o = 3;
    let x = CpuStorage::F64(lcg(2 * 9 * 5 * 4, 7));
    let wt = CpuStorage::F64(lcg(o * 9 * 9, 8));
    let b = CpuStorage::F64(vec![1.5, -2.0, 0.25]);
    let lx = Layout::contiguous(&[2, 9, 5, 4]);
    let (with, _) = provided::conv2d(&Cpu, (&x, &lx), &wt, Some(&b), &g, o).unwrap();
    let (without, _) = provided::conv2d(&Cpu, (&x, &lx), &wt, None, &g, o).unwrap();
    let (with, without) = (f64s(&with), f64s(&without));
    for (i, (a, z)) in with.iter().zip(&without).enumerate() {
        let channel = (i / 20) % o;
        let bias = [1.5, -2.0, 0.25][channel];
        assert!((a - z - bias).abs() < 1e-12, "element {i}");
    }
}
