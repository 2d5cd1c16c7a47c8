//! Full training steps (forward, backward, optimizer update) of an MLP and LeNet-5, batch 64,
//! on the CPU and, when an adapter exists, the GPU.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rustdl::backend::OptimStep;
use rustdl::ops::loss::Reduction;
use rustdl::ops::nn::Window2d;
use rustdl::{Device, Result, Tensor};

#[path = "common.rs"]
mod common;
use common::{adam, devices, randn, sync};

struct Net {
    params: Vec<Tensor>,
    state: Vec<Vec<Tensor>>,
    t: u64,
}

impl Net {
    fn new(shapes: &[&[usize]], dev: Device, state_slots: usize) -> Net {
        let params: Vec<Tensor> = shapes
            .iter()
            .map(|s| {
                let p = randn(s, dev).mul_scalar(0.05).expect("scale").detach();
                p.set_requires_grad(true).expect("grad");
                p
            })
            .collect();
        let state = params
            .iter()
            .map(|p| {
                (0..state_slots)
                    .map(|_| p.zeros_like().expect("zeros"))
                    .collect()
            })
            .collect();
        Net {
            params,
            state,
            t: 0,
        }
    }

    fn update(&mut self, step: impl Fn(u64) -> OptimStep) -> Result<()> {
        self.t += 1;
        let s = step(self.t);
        for (p, st) in self.params.iter().zip(&self.state) {
            let Some(g) = p.grad() else { continue };
            rustdl::optim::step(p, &g, st, &s)?;
            p.set_grad(None)?;
        }
        Ok(())
    }

    /// The last linear layer (the last two parameters), cross-entropy against `y`, backward and
    /// the update.
    fn classify_and_update(
        &mut self,
        h: &Tensor,
        y: &Tensor,
        step: impl Fn(u64) -> OptimStep,
    ) -> Result<()> {
        let n = self.params.len();
        let loss = h
            .linear(&self.params[n - 2], Some(&self.params[n - 1]))?
            .cross_entropy(y, None, -100, Reduction::Mean, 0.0)?;
        loss.backward(None, false)?;
        self.update(step)
    }
}

fn mlp_step(net: &mut Net, x: &Tensor, y: &Tensor) -> Result<()> {
    let p = &net.params;
    let h = x.linear(&p[0], Some(&p[1]))?.relu()?;
    let h = h.linear(&p[2], Some(&p[3]))?.relu()?;
    net.classify_and_update(&h, y, |_| OptimStep::Sgd {
        lr: 0.01,
        momentum: 0.9,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
        first: false,
        maximize: false,
    })
}

fn lenet_step(net: &mut Net, x: &Tensor, y: &Tensor) -> Result<()> {
    let p = &net.params;
    let conv = |pad| Window2d {
        kernel: (0, 0),
        stride: (1, 1),
        padding: (pad, pad),
        dilation: (1, 1),
    };
    let pool = Window2d {
        kernel: (2, 2),
        stride: (2, 2),
        padding: (0, 0),
        dilation: (1, 1),
    };
    let h = x
        .conv2d(&p[0], Some(&p[1]), conv(2), 1)?
        .relu()?
        .max_pool2d_values(pool, false)?;
    let h = h
        .conv2d(&p[2], Some(&p[3]), conv(0), 1)?
        .relu()?
        .max_pool2d_values(pool, false)?;
    let h = h.flatten(1, -1)?;
    let h = h.linear(&p[4], Some(&p[5]))?.relu()?;
    let h = h.linear(&p[6], Some(&p[7]))?.relu()?;
    net.classify_and_update(&h, y, adam)
}

fn train(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_step");
    g.sample_size(20);
    g.throughput(Throughput::Elements(64));
    for dev in devices() {
        let y = Tensor::randint(0, 10, &[64], Device::Cpu)
            .and_then(|t| t.to_device(dev))
            .expect("labels");
        let mut mlp = Net::new(
            &[&[256, 784], &[256], &[128, 256], &[128], &[10, 128], &[10]],
            dev,
            1,
        );
        let x = randn(&[64, 784], dev);
        g.bench_function(format!("mlp_784_256_128_10_sgd/{dev}"), |b| {
            b.iter(|| {
                mlp_step(&mut mlp, &x, &y).expect("mlp step");
                sync(dev);
            })
        });
        let mut lenet = Net::new(
            &[
                &[6, 1, 5, 5],
                &[6],
                &[16, 6, 5, 5],
                &[16],
                &[120, 400],
                &[120],
                &[84, 120],
                &[84],
                &[10, 84],
                &[10],
            ],
            dev,
            2,
        );
        let xi = randn(&[64, 1, 28, 28], dev);
        g.bench_function(format!("lenet5_adam/{dev}"), |b| {
            b.iter(|| {
                lenet_step(&mut lenet, &xi, &y).expect("lenet step");
                sync(dev);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, train);
criterion_main!(benches);
