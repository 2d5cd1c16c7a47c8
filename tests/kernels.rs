//! CPU kernels against plain reference loops: matmul, im2col/col2im, reductions, softmax,
//! index ops, broadcasting and the fused optimizer updates.

use rustdl::backend::{self, cpu, Conv2dGeom, OptimStep, ReduceOp};
use rustdl::shape::Layout;
use rustdl::storage::{CpuStorage, Storage};
use rustdl::{DType, Device, Tensor};

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

fn t64(v: Vec<f64>, shape: &[usize]) -> Tensor {
    Tensor::from_f64(v, shape).unwrap()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                c[i * n + j] += a[i * k + p] * b[p * n + j];
            }
        }
    }
    c
}

#[test]
fn matmul_matches_naive_for_many_sizes_and_layouts() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (3, 5, 2),
        (67, 129, 33),
        (128, 64, 96),
        (17, 200, 3),
    ] {
        let a = lcg(m * k, 1);
        let b = lcg(k * n, 2);
        let want = naive_matmul(&a, &b, m, k, n);
        let got = t64(a.clone(), &[m, k])
            .matmul(&t64(b.clone(), &[k, n]))
            .unwrap();
        close(&got.to_f64_vec().unwrap(), &want, 1e-12);
        // through transposed views (no copy): (bᵀ aᵀ)ᵀ
        let at = t64(a.clone(), &[m, k])
            .t()
            .unwrap()
            .contiguous()
            .unwrap()
            .t()
            .unwrap();
        let got2 = at.matmul(&t64(b.clone(), &[k, n])).unwrap();
        close(&got2.to_f64_vec().unwrap(), &want, 1e-12);
        // f32 path
        let a32 = Tensor::from_f32(a.iter().map(|&x| x as f32).collect(), &[m, k]).unwrap();
        let b32 = Tensor::from_f32(b.iter().map(|&x| x as f32).collect(), &[k, n]).unwrap();
        close(
            &a32.matmul(&b32).unwrap().to_f64_vec().unwrap(),
            &want,
            1e-4,
        );
    }
}

#[test]
fn batched_matmul_broadcasts_batches() {
    let (b, m, k, n) = (3, 17, 65, 9);
    let a = lcg(b * m * k, 3);
    let w = lcg(k * n, 4);
    let got = t64(a.clone(), &[b, m, k])
        .matmul(&t64(w.clone(), &[k, n]))
        .unwrap();
    let mut want = Vec::new();
    for i in 0..b {
        want.extend(naive_matmul(&a[i * m * k..(i + 1) * m * k], &w, m, k, n));
    }
    close(&got.to_f64_vec().unwrap(), &want, 1e-12);
}

#[test]
fn im2col_then_col2im_is_adjoint() {
    let g = Conv2dGeom {
        n: 2,
        c: 3,
        h: 6,
        w: 5,
        kh: 3,
        kw: 2,
        sh: 2,
        sw: 1,
        ph: 1,
        pw: 1,
        dh: 1,
        dw: 2,
        oh: 3,
        ow: 4,
    };
    let x = lcg(2 * 3 * 6 * 5, 5);
    let y = lcg(2 * g.col_rows() * g.col_cols(), 6);
    let xs = CpuStorage::F64(x.clone());
    let cols = cpu::conv::im2col(&xs, &Layout::contiguous(&[2, 3, 6, 5]), &g, 0.0).unwrap();
    let back = cpu::conv::col2im(
        &CpuStorage::F64(y.clone()),
        &Layout::contiguous(&[2 * g.col_cols(), g.col_rows()]),
        &g,
    )
    .unwrap();
    let (CpuStorage::F64(c), CpuStorage::F64(bk)) = (cols, back) else {
        panic!("dtype")
    };
    let lhs: f64 = c.iter().zip(&y).map(|(a, b)| a * b).sum();
    let rhs: f64 = x.iter().zip(&bk).map(|(a, b)| a * b).sum();
    assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
}

#[test]
fn im2col_reads_the_right_pixels() {
    // 1x1x3x3 image 0..9, 2x2 kernel, stride 1, no padding -> 4 patches
    let g = Conv2dGeom {
        n: 1,
        c: 1,
        h: 3,
        w: 3,
        kh: 2,
        kw: 2,
        sh: 1,
        sw: 1,
        ph: 0,
        pw: 0,
        dh: 1,
        dw: 1,
        oh: 2,
        ow: 2,
    };
    let x = CpuStorage::F64((0..9).map(|v| v as f64).collect());
    let CpuStorage::F64(c) =
        cpu::conv::im2col(&x, &Layout::contiguous(&[1, 1, 3, 3]), &g, 0.0).unwrap()
    else {
        panic!()
    };
    // rows: output positions; columns: taps (ki,kj) = (0,0),(0,1),(1,0),(1,1)
    assert_eq!(
        c,
        vec![0., 1., 3., 4., 1., 2., 4., 5., 3., 4., 6., 7., 4., 5., 7., 8.]
    );
}

/// im2col and col2im against plain loops over many geometries: every kernel width (the
/// unrolled ones and a run-time one), strides, dilations, paddings, a non-zero pad value, and
/// sizes on both sides of the parallel threshold.
#[test]
fn im2col_and_col2im_match_plain_loops() {
    let cases = [
        // n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, extra output rows/cols (ceil-mode pooling)
        (2, 3, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 0),
        (1, 1, 9, 9, 1, 1, 1, 1, 0, 0, 1, 1, 0),
        (2, 2, 8, 9, 2, 2, 2, 2, 0, 1, 1, 1, 0),
        (1, 2, 10, 11, 4, 4, 1, 2, 2, 1, 1, 1, 0),
        (3, 1, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1, 0),
        (2, 3, 12, 13, 7, 7, 2, 1, 3, 3, 1, 1, 0),
        (2, 2, 14, 15, 3, 9, 1, 1, 1, 4, 1, 1, 0),
        (1, 3, 11, 12, 3, 3, 1, 1, 2, 2, 2, 2, 0),
        (16, 6, 14, 14, 5, 5, 1, 1, 0, 0, 1, 1, 0),
        (4, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0),
        (2, 3, 9, 8, 2, 2, 2, 2, 0, 0, 1, 1, 1),
        (1, 2, 10, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1),
    ];
    for (ci, &(n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, extra)) in cases.iter().enumerate() {
        let oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1 + extra;
        let ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1 + extra;
        let g = Conv2dGeom {
            n,
            c,
            h,
            w,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            dh,
            dw,
            oh,
            ow,
        };
        let (k, l) = (g.col_rows(), g.col_cols());
        let x = lcg(n * c * h * w, 40 + ci as u64);
        let pad = -1.5;
        let CpuStorage::F64(cols) = cpu::conv::im2col(
            &CpuStorage::F64(x.clone()),
            &Layout::contiguous(&[n, c, h, w]),
            &g,
            pad,
        )
        .unwrap() else {
            panic!("dtype")
        };
        let y = lcg(n * l * k, 80 + ci as u64);
        let CpuStorage::F64(back) = cpu::conv::col2im(
            &CpuStorage::F64(y.clone()),
            &Layout::contiguous(&[n * l, k]),
            &g,
        )
        .unwrap() else {
            panic!("dtype")
        };
        let mut want_back = vec![0.0; n * c * h * w];
        for b in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..c {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let row = (b * l + oy * ow + ox) * k;
                                let col = (ch * kh + ki) * kw + kj;
                                let iy = (oy * sh + ki * dh) as isize - ph as isize;
                                let ix = (ox * sw + kj * dw) as isize - pw as isize;
                                let inside =
                                    iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize;
                                let at = ((b * c + ch) * h + iy.max(0) as usize) * w
                                    + ix.max(0) as usize;
                                let want = if inside { x[at] } else { pad };
                                assert_eq!(cols[row + col], want, "im2col case {ci}");
                                if inside {
                                    want_back[at] += y[row + col];
                                }
                            }
                        }
                    }
                }
            }
        }
        close(&back, &want_back, 1e-12);
    }
}

/// The direct convolution and its weight gradient against plain loops (stride 1 geometries with
/// few taps: output widths that are not whole 8-lane blocks, channel counts that are not whole
/// groups, constant and run-time kernel widths, with and without padding and bias).
#[test]
#[allow(clippy::needless_range_loop)]
fn direct_convolution_matches_plain_loops() {
    let cases = [
        // n, c, h, w, o, kh, kw, ph, pw
        (3, 1, 28, 28, 6, 5, 5, 2, 2),
        (2, 2, 9, 13, 5, 3, 3, 1, 1),
        (2, 3, 7, 6, 9, 3, 3, 0, 0),
        (1, 2, 10, 11, 3, 2, 2, 0, 1),
        (2, 1, 12, 12, 16, 7, 7, 3, 3),
        (1, 4, 5, 17, 2, 1, 4, 0, 2),
    ];
    for (ci, &(n, c, h, w, o, kh, kw, ph, pw)) in cases.iter().enumerate() {
        let (oh, ow) = (h + 2 * ph - kh + 1, w + 2 * pw - kw + 1);
        let g = Conv2dGeom {
            n,
            c,
            h,
            w,
            kh,
            kw,
            sh: 1,
            sw: 1,
            ph,
            pw,
            dh: 1,
            dw: 1,
            oh,
            ow,
        };
        assert!(cpu::conv::direct_conv_fits(&g));
        let x = lcg(n * c * h * w, 90 + ci as u64);
        let wt = lcg(o * c * kh * kw, 95 + ci as u64);
        let b = lcg(o, 99 + ci as u64);
        let gy = lcg(n * o * oh * ow, 101 + ci as u64);
        let px = |b_: usize, ch: usize, y: isize, x_: isize| -> f64 {
            if y < 0 || x_ < 0 || y >= h as isize || x_ >= w as isize {
                0.0
            } else {
                x[((b_ * c + ch) * h + y as usize) * w + x_ as usize]
            }
        };
        let mut want = vec![0.0; n * o * oh * ow];
        let mut want_dw = vec![0.0; o * c * kh * kw];
        for b_ in 0..n {
            for oc in 0..o {
                for y in 0..oh {
                    for x_ in 0..ow {
                        let at = ((b_ * o + oc) * oh + y) * ow + x_;
                        let mut s = b[oc];
                        for ch in 0..c {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let v = px(
                                        b_,
                                        ch,
                                        (y + ki) as isize - ph as isize,
                                        (x_ + kj) as isize - pw as isize,
                                    );
                                    let wi = ((oc * c + ch) * kh + ki) * kw + kj;
                                    s += wt[wi] * v;
                                    want_dw[wi] += gy[at] * v;
                                }
                            }
                        }
                        want[at] = s;
                    }
                }
            }
        }
        let CpuStorage::F64(got) = cpu::conv::conv2d_direct(
            &CpuStorage::F64(x.clone()),
            &Layout::contiguous(&[n, c, h, w]),
            &CpuStorage::F64(wt.clone()),
            Some(&CpuStorage::F64(b.clone())),
            &g,
            o,
        )
        .unwrap() else {
            panic!("dtype")
        };
        close(&got, &want, 1e-12);
        let CpuStorage::F64(dw) = cpu::conv::conv2d_direct_weight_grad(
            &CpuStorage::F64(x.clone()),
            &Layout::contiguous(&[n, c, h, w]),
            &CpuStorage::F64(gy.clone()),
            &Layout::contiguous(&[n, o, oh, ow]),
            &g,
            o,
        )
        .unwrap() else {
            panic!("dtype")
        };
        close(&dw, &want_dw, 1e-10);
        // float32 (the hand-vectorised kernels where the processor has AVX2+FMA)
        let f = |v: &[f64]| CpuStorage::F32(v.iter().map(|&a| a as f32).collect());
        let as64 = |s: CpuStorage| -> Vec<f64> {
            let CpuStorage::F32(v) = s else {
                panic!("dtype")
            };
            v.into_iter().map(f64::from).collect()
        };
        let got32 = as64(
            cpu::conv::conv2d_direct(
                &f(&x),
                &Layout::contiguous(&[n, c, h, w]),
                &f(&wt),
                Some(&f(&b)),
                &g,
                o,
            )
            .unwrap(),
        );
        let dw32 = as64(
            cpu::conv::conv2d_direct_weight_grad(
                &f(&x),
                &Layout::contiguous(&[n, c, h, w]),
                &f(&gy),
                &Layout::contiguous(&[n, o, oh, ow]),
                &g,
                o,
            )
            .unwrap(),
        );
        let scale = |v: &[f64]| v.iter().fold(1.0f64, |m, a| m.max(a.abs()));
        let (sf, sd) = (scale(&want), scale(&want_dw));
        for (a, e) in got32.iter().zip(&want) {
            assert!(
                (a - e).abs() <= 1e-5 * sf,
                "f32 forward {a} vs {e} (case {ci})"
            );
        }
        for (a, e) in dw32.iter().zip(&want_dw) {
            assert!(
                (a - e).abs() <= 1e-5 * sd,
                "f32 weight grad {a} vs {e} (case {ci})"
            );
        }
    }
}

#[test]
fn reductions_match_reference() {
    let v = lcg(2 * 3 * 4, 7);
    let l = Layout::contiguous(&[2, 3, 4]);
    let s = Storage::Cpu(CpuStorage::F64(v.clone()));
    let sum = backend::reduce(ReduceOp::Sum, &s, &l, &[0, 2]).unwrap();
    let mut want = [0.0; 3];
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..4 {
                want[j] += v[i * 12 + j * 4 + k];
            }
        }
    }
    let Storage::Cpu(CpuStorage::F64(got)) = sum else {
        panic!()
    };
    close(&got, &want, 1e-12);
    let am = backend::reduce(ReduceOp::ArgMax, &s, &l, &[1]).unwrap();
    let Storage::Cpu(CpuStorage::I64(idx)) = am else {
        panic!()
    };
    for i in 0..2 {
        for k in 0..4 {
            let col: Vec<f64> = (0..3).map(|j| v[i * 12 + j * 4 + k]).collect();
            let best = (0..3).fold(0, |b, j| if col[j] > col[b] { j } else { b });
            assert_eq!(idx[i * 4 + k] as usize, best);
        }
    }
}

#[test]
fn softmax_rows_sum_to_one_and_are_stable() {
    let t = t64(vec![1000.0, 1001.0, 1002.0, -5.0, 0.0, 5.0], &[2, 3]);
    let s = t.softmax_dim(-1, false).unwrap().to_f64_vec().unwrap();
    for row in s.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(row.iter().all(|x| x.is_finite()));
    }
    let e: Vec<f64> = [0.0f64, 1.0, 2.0].iter().map(|x| x.exp()).collect();
    let z: f64 = e.iter().sum();
    close(&s[..3], &e.iter().map(|x| x / z).collect::<Vec<_>>(), 1e-12);
}

#[test]
fn broadcast_binary_matches_reference() {
    let a = t64(lcg(3, 8), &[3, 1]);
    let b = t64(lcg(4, 9), &[4]);
    let got = a.add(&b).unwrap().to_f64_vec().unwrap();
    let (av, bv) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
    let want: Vec<f64> = (0..12).map(|i| av[i / 4] + bv[i % 4]).collect();
    close(&got, &want, 1e-15);
}

#[test]
fn large_strided_ops_use_threads_and_stay_correct() {
    let n = 300;
    let a = t64(lcg(n * n, 10), &[n, n]);
    let at = a.t().unwrap();
    let got = at.add(&a).unwrap().to_f64_vec().unwrap();
    let v = a.to_f64_vec().unwrap();
    for i in 0..n {
        for j in 0..n {
            assert_eq!(got[i * n + j], v[j * n + i] + v[i * n + j]);
        }
    }
}

#[test]
fn index_ops_match_reference_and_check_bounds() {
    let x = t64((0..12).map(|v| v as f64).collect(), &[3, 4]);
    let idx = Tensor::from_i64(vec![2, 0], &[2]).unwrap();
    assert_eq!(
        x.index_select(0, &idx).unwrap().to_f64_vec().unwrap(),
        vec![8., 9., 10., 11., 0., 1., 2., 3.]
    );
    let g = Tensor::from_i64(vec![3, 0, 1, 1, 2, 2], &[3, 2]).unwrap();
    assert_eq!(
        x.gather(1, &g).unwrap().to_f64_vec().unwrap(),
        vec![3., 0., 5., 5., 10., 10.]
    );
    let bad = Tensor::from_i64(vec![4], &[1]).unwrap();
    assert!(matches!(
        x.index_select(1, &bad),
        Err(rustdl::Error::Index(_))
    ));
    let neg = Tensor::from_i64(vec![-1], &[1]).unwrap();
    assert!(matches!(
        x.index_select(0, &neg),
        Err(rustdl::Error::Index(_))
    ));
}

#[test]
fn fused_adam_matches_closed_form() {
    let p0 = [0.5f64, -1.0, 2.0];
    let g = [0.1f64, -0.2, 0.3];
    let mut p = Storage::Cpu(CpuStorage::F64(p0.to_vec()));
    let mut m = Storage::Cpu(CpuStorage::F64(vec![0.0; 3]));
    let mut v = Storage::Cpu(CpuStorage::F64(vec![0.0; 3]));
    let gs = Storage::Cpu(CpuStorage::F64(g.to_vec()));
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let mut want = p0;
    let (mut mw, mut vw) = ([0.0; 3], [0.0; 3]);
    for t in 1..=3u64 {
        let step = OptimStep::Adam {
            lr,
            beta1: b1,
            beta2: b2,
            eps,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            t,
            maximize: false,
        };
        backend::optim_step(
            &step,
            &mut p,
            &gs,
            &Layout::contiguous(&[3]),
            &mut [&mut m, &mut v],
        )
        .unwrap();
        for i in 0..3 {
            mw[i] = b1 * mw[i] + (1.0 - b1) * g[i];
            vw[i] = b2 * vw[i] + (1.0 - b2) * g[i] * g[i];
            let mh = mw[i] / (1.0 - b1.powi(t as i32));
            let vh = vw[i] / (1.0 - b2.powi(t as i32));
            want[i] -= lr * mh / (vh.sqrt() + eps);
        }
    }
    let Storage::Cpu(CpuStorage::F64(got)) = p else {
        panic!()
    };
    close(&got, &want, 1e-12);
}

#[test]
fn counter_rng_is_deterministic_and_uniform() {
    let a = cpu::rand(
        backend::RandKind::Uniform(0.0, 1.0),
        10_000,
        42,
        0,
        DType::F64,
    )
    .unwrap();
    let b = cpu::rand(
        backend::RandKind::Uniform(0.0, 1.0),
        10_000,
        42,
        0,
        DType::F64,
    )
    .unwrap();
    let (CpuStorage::F64(a), CpuStorage::F64(b)) = (a, b) else {
        panic!()
    };
    assert_eq!(a, b);
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    assert!((mean - 0.5).abs() < 0.01);
    // an offset continues the same stream
    let c = cpu::rand(backend::RandKind::Uniform(0.0, 1.0), 10, 42, 5, DType::F64).unwrap();
    let CpuStorage::F64(c) = c else { panic!() };
    assert_eq!(&c[..], &a[5..15]);
}

#[test]
fn safetensors_round_trip_and_hostile_files() {
    let t = Tensor::from_f32(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let i = Tensor::from_i64(vec![7, -8], &[2]).unwrap();
    let bytes =
        rustdl::io::to_bytes(&[("w".into(), t), ("i".into(), i)], Default::default()).unwrap();
    let (back, _) = rustdl::io::from_bytes(&bytes).unwrap();
    let w = back.iter().find(|(n, _)| n == "w").unwrap();
    assert_eq!(w.1.to_f64_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    // truncated, garbage, and a header length far past the end
    assert!(rustdl::io::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    assert!(rustdl::io::from_bytes(b"garbage").is_err());
    let mut huge = (u64::MAX / 2).to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    assert!(rustdl::io::from_bytes(&huge).is_err());
    let evil = br#"{"x":{"dtype":"F32","shape":[1000000000,1000000000],"data_offsets":[0,16]}}"#;
    let mut f = (evil.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(evil);
    f.extend_from_slice(&[0u8; 16]);
    assert!(rustdl::io::from_bytes(&f).is_err());
}

#[test]
fn device_strings_parse() {
    assert_eq!(Device::parse("cpu").unwrap(), Device::Cpu);
    assert_eq!(Device::parse("gpu").unwrap(), Device::Gpu(0));
    assert_eq!(Device::parse("gpu:1").unwrap(), Device::Gpu(1));
    assert!(Device::parse("tpu").is_err());
}
