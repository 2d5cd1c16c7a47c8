//! Kernel throughput: matmul, conv2d forward/backward, elementwise, reductions, softmax and
//! cross-entropy, and an optimizer step — on the CPU and, when an adapter exists, the GPU.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rustdl::ops::loss::Reduction;
use rustdl::ops::nn::Window2d;
use rustdl::{Device, Tensor};

#[path = "common.rs"]
mod common;
use common::{adam, devices, randn, sync};

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul");
    for dev in devices() {
        let sizes: &[usize] = if dev.is_gpu() {
            &[64, 256, 1024]
        } else {
            &[64, 128, 256, 512, 1024, 2048]
        };
        for &n in sizes {
            let (a, b) = (randn(&[n, n], dev), randn(&[n, n], dev));
            g.throughput(Throughput::Elements((2 * n * n * n) as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("square/{dev}"), n),
                &n,
                |bch, _| {
                    bch.iter(|| {
                        let r = a.matmul(&b).expect("matmul");
                        sync(dev);
                        r
                    })
                },
            );
        }
        // tall-skinny (a batch through a linear layer) and batched
        let (x, w) = (randn(&[4096, 784], dev), randn(&[784, 256], dev));
        g.throughput(Throughput::Elements((2 * 4096 * 784 * 256) as u64));
        g.bench_function(format!("tall_skinny_4096x784x256/{dev}"), |bch| {
            bch.iter(|| x.matmul(&w).expect("matmul"))
        });
        let (p, q) = (randn(&[32, 64, 64], dev), randn(&[32, 64, 64], dev));
        g.throughput(Throughput::Elements((2 * 32 * 64 * 64 * 64) as u64));
        g.bench_function(format!("batched_32x64x64x64/{dev}"), |bch| {
            bch.iter(|| p.matmul(&q).expect("bmm"))
        });
    }
    g.finish();
}

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d");
    g.sample_size(20);
    // (name, input, weight, padding)
    let shapes: [(&str, [usize; 4], [usize; 4], usize); 3] = [
        ("lenet_c1", [64, 1, 28, 28], [6, 1, 5, 5], 2),
        ("lenet_c2", [64, 6, 14, 14], [16, 6, 5, 5], 0),
        ("vgg_block", [16, 64, 32, 32], [64, 64, 3, 3], 1),
    ];
    for dev in devices() {
        for (name, xs, ws, pad) in shapes {
            let x = randn(&xs, dev);
            let w = randn(&ws, dev);
            let win = Window2d {
                kernel: (0, 0),
                stride: (1, 1),
                padding: (pad, pad),
                dilation: (1, 1),
            };
            let oh = xs[2] + 2 * pad - ws[2] + 1;
            let flops = 2 * xs[0] * ws[0] * ws[1] * ws[2] * ws[3] * oh * oh;
            g.throughput(Throughput::Elements(flops as u64));
            g.bench_function(format!("{name}_fwd/{dev}"), |b| {
                b.iter(|| {
                    let r = x.conv2d(&w, None, win, 1).expect("conv");
                    sync(dev);
                    r
                })
            });
            let wg = w.detach();
            wg.set_requires_grad(true).expect("grad");
            g.throughput(Throughput::Elements(3 * flops as u64));
            g.bench_function(format!("{name}_fwd_bwd/{dev}"), |b| {
                b.iter(|| {
                    x.conv2d(&wg, None, win, 1)
                        .and_then(|y| y.sum_all())
                        .and_then(|l| l.backward(None, false))
                        .expect("conv bwd");
                    wg.set_grad(None).expect("grad");
                    sync(dev);
                })
            });
        }
    }
    g.finish();
}

fn elementwise_and_reductions(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    for dev in devices() {
        for &n in &[1usize, 4096, 1 << 20] {
            let (a, b) = (randn(&[n], dev), randn(&[n], dev));
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new(format!("add/{dev}"), n), &n, |bch, _| {
                bch.iter(|| a.add(&b).expect("add"))
            });
            g.bench_with_input(BenchmarkId::new(format!("relu/{dev}"), n), &n, |bch, _| {
                bch.iter(|| a.relu().expect("relu"))
            });
        }
        let m = randn(&[1024, 1024], dev);
        g.throughput(Throughput::Elements(1 << 20));
        g.bench_function(format!("broadcast_add_row/{dev}"), |bch| {
            let row = randn(&[1024], dev);
            bch.iter(|| m.add(&row).expect("add"))
        });
        g.bench_function(format!("sum_all/{dev}"), |bch| {
            bch.iter(|| m.sum_all().expect("sum"))
        });
        g.bench_function(format!("sum_dim1/{dev}"), |bch| {
            bch.iter(|| m.sum(&[1], false).expect("sum"))
        });
        g.bench_function(format!("max_dim0/{dev}"), |bch| {
            bch.iter(|| m.max_min_dim(0, false, true).expect("max"))
        });
        let logits = randn(&[512, 1000], dev);
        let tgt = Tensor::randint(0, 1000, &[512], Device::Cpu)
            .and_then(|t| t.to_device(dev))
            .expect("randint");
        g.throughput(Throughput::Elements(512 * 1000));
        g.bench_function(format!("softmax_512x1000/{dev}"), |bch| {
            bch.iter(|| logits.softmax_dim(-1, false).expect("softmax"))
        });
        g.bench_function(format!("cross_entropy_512x1000/{dev}"), |bch| {
            bch.iter(|| {
                logits
                    .cross_entropy(&tgt, None, -100, Reduction::Mean, 0.0)
                    .expect("ce")
            })
        });
        let pool_in = randn(&[64, 16, 28, 28], dev);
        let win = Window2d {
            kernel: (2, 2),
            stride: (2, 2),
            padding: (0, 0),
            dilation: (1, 1),
        };
        g.throughput(Throughput::Elements(64 * 16 * 28 * 28));
        g.bench_function(format!("max_pool2d_64x16x28x28/{dev}"), |bch| {
            bch.iter(|| pool_in.max_pool2d_values(win, false).expect("pool"))
        });
    }
    g.finish();
}

fn optimizer(c: &mut Criterion) {
    let mut g = c.benchmark_group("optim");
    let n = 1 << 20;
    for dev in devices() {
        let p = randn(&[n], dev);
        let grad = randn(&[n], dev);
        let (m, v) = (randn(&[n], dev), randn(&[n], dev));
        let step = adam(1);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("adam_1M/{dev}"), |b| {
            b.iter(|| {
                rustdl::optim::step(&p, &grad, &[m.clone(), v.clone()], &step).expect("adam");
                sync(dev);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, matmul, conv, elementwise_and_reductions, optimizer);
criterion_main!(benches);
