//! Full training steps (forward, backward, optimizer update) of an MLP and LeNet-5, batch 64;
//! of an LSTM, a GRU and a 2-layer bidirectional LSTM (input 32, hidden 128, seq 32, batch 32,
//! Adam); and a skip-gram step with negative sampling (vocab 10k, dim 128, batch 1024, 5
//! negatives, SGD); a VGG block and a ResNet BasicBlock (batch 64, 64 channels, 32x32, SGD with
//! momentum); a DCGAN step on 28x28 images (batch 64: the discriminator on real and generated
//! images, then the generator; Adam with β1 = 0.5) — on the CPU and, when an adapter exists,
//! the GPU. The same shapes as `benchmarks/compare.py`, which times PyTorch beside them.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rustdl::backend::OptimStep;
use rustdl::ops::loss::Reduction;
use rustdl::ops::nn::Window2d;
use rustdl::ops::recurrent::{RnnMode, RnnParams};
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
    let conv = |pad| window((0, 0), 1, pad);
    let pool = window((2, 2), 2, 0);
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

/// Layers of a recurrent net: per layer and direction `[w_ih, w_hh, b_ih, b_hh]`.
fn rnn_net(mode: RnnMode, layers: usize, dirs: usize, dev: Device) -> Net {
    let (i, h, g) = (32, 128, mode.gates());
    let mut shapes: Vec<Vec<usize>> = Vec::new();
    for layer in 0..layers {
        let inp = if layer == 0 { i } else { h * dirs };
        for _ in 0..dirs {
            shapes.extend([vec![g * h, inp], vec![g * h, h], vec![g * h], vec![g * h]]);
        }
    }
    let refs: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
    Net::new(&refs, dev, 2)
}

/// Every layer and direction of `net` over `x (L, N, 32)`, the mean squared error of the last
/// step's output against `y`, backward and Adam.
fn rnn_step(net: &mut Net, mode: RnnMode, dirs: usize, x: &Tensor, y: &Tensor) -> Result<()> {
    let mut h = x.clone();
    for layer in net.params.chunks(4 * dirs) {
        let outs = layer
            .chunks(4)
            .enumerate()
            .map(|(d, w)| {
                let p = RnnParams {
                    mode,
                    h0: None,
                    c0: None,
                    w_ih: &w[0],
                    w_hh: &w[1],
                    b_ih: Some(&w[2]),
                    b_hh: Some(&w[3]),
                    reverse: d == 1,
                    lengths: None,
                };
                Ok(h.rnn_layer(&p)?.output)
            })
            .collect::<Result<Vec<_>>>()?;
        h = Tensor::cat(&outs, 2)?;
    }
    let last = h.select(0, -1)?.narrow(1, 0, 128)?;
    last.mse_loss(y, Reduction::Mean)?.backward(None, false)?;
    net.update(adam)
}

/// One skip-gram step: scores of each center against its context and negatives, the
/// log-sigmoid loss, backward and SGD on both embedding tables.
fn skipgram_step(net: &mut Net, centers: &Tensor, contexts: &Tensor, signs: &Tensor) -> Result<()> {
    let (emb_in, emb_out) = (&net.params[0], &net.params[1]);
    let c = emb_in.embedding(centers, None)?.unsqueeze(1)?;
    let o = emb_out.embedding(contexts, None)?;
    let score = o.mul(&c)?.sum(&[-1], false)?.mul(signs)?;
    // -log sigmoid(s) = softplus(-s)
    score
        .neg()?
        .softplus(1.0, 20.0)?
        .mean(&[], false)?
        .backward(None, false)?;
    net.update(|_| OptimStep::Sgd {
        lr: 0.05,
        momentum: 0.0,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
        first: false,
        maximize: false,
    })
}

/// A VGG block: two 3x3 convs of 64 channels with ReLU, then a 2x2 max-pool; `[w1, b1, w2, b2]`.
fn vgg_block_step(net: &mut Net, x: &Tensor) -> Result<()> {
    let p = &net.params;
    let (same, pool) = (window((0, 0), 1, 1), window((2, 2), 2, 0));
    let h = x.conv2d(&p[0], Some(&p[1]), same, 1)?.relu()?;
    let h = h.conv2d(&p[2], Some(&p[3]), same, 1)?.relu()?;
    let h = h.max_pool2d_values(pool, false)?;
    h.mean(&[], false)?.backward(None, false)?;
    net.update(sgd_momentum)
}

/// A ResNet BasicBlock: conv-BN-ReLU-conv-BN, identity shortcut, ReLU; `[w1, g1, b1, w2, g2, b2]`.
fn basic_block_step(net: &mut Net, x: &Tensor) -> Result<()> {
    let p = &net.params;
    let same = window((0, 0), 1, 1);
    let bn = |h: &Tensor, g: &Tensor, b: &Tensor| {
        h.batch_norm(None, None, Some(g), Some(b), true, 0.1, 1e-5)
    };
    let h = bn(&x.conv2d(&p[0], None, same, 1)?, &p[1], &p[2])?.relu()?;
    let h = bn(&h.conv2d(&p[3], None, same, 1)?, &p[4], &p[5])?;
    h.add(x)?.relu()?.mean(&[], false)?.backward(None, false)?;
    net.update(sgd_momentum)
}

/// The DCGAN generator: z (64) -> linear 128·7·7 -> BN, ReLU -> ConvTranspose 128->64 (4, stride
/// 2, pad 1) -> BN, ReLU -> ConvTranspose 64->1 -> tanh: `[w, b, g1, b1, t1, tb1, g2, b2, t2, tb2]`.
fn dcgan_generate(p: &[Tensor], z: &Tensor) -> Result<Tensor> {
    let bn = |h: &Tensor, g: &Tensor, b: &Tensor| {
        h.batch_norm(None, None, Some(g), Some(b), true, 0.1, 1e-5)
    };
    let n = z.shape()[0];
    let h = z.linear(&p[0], Some(&p[1]))?.reshape(&[n, 128, 7, 7])?;
    let h = bn(&h, &p[2], &p[3])?.relu()?;
    let up = |h: &Tensor, w: &Tensor, b: &Tensor| {
        h.conv_transpose2d(w, Some(b), (2, 2), (1, 1), (0, 0), 1, (1, 1))
    };
    let h = bn(&up(&h, &p[4], &p[5])?, &p[6], &p[7])?.relu()?;
    up(&h, &p[8], &p[9])?.tanh()
}

/// The DCGAN discriminator: Conv 1->64 (4, stride 2, pad 1), LeakyReLU 0.2 -> Conv 64->128 ->
/// BN, LeakyReLU -> linear 128·7·7 -> 1 logit: `[c1, cb1, c2, cb2, g, b, w, wb]`.
fn dcgan_discriminate(p: &[Tensor], x: &Tensor) -> Result<Tensor> {
    use rustdl::backend::UnaryOp;
    let down = window((0, 0), 2, 1);
    let h = x
        .conv2d(&p[0], Some(&p[1]), down, 1)?
        .unary(UnaryOp::LeakyRelu(0.2))?;
    let h = h.conv2d(&p[2], Some(&p[3]), down, 1)?;
    let h = h
        .batch_norm(None, None, Some(&p[4]), Some(&p[5]), true, 0.1, 1e-5)?
        .unary(UnaryOp::LeakyRelu(0.2))?;
    h.flatten(1, -1)?.linear(&p[6], Some(&p[7]))
}

fn gan_adam(t: u64) -> OptimStep {
    match adam(t) {
        OptimStep::Adam {
            beta2,
            eps,
            weight_decay,
            decoupled,
            amsgrad,
            maximize,
            ..
        } => OptimStep::Adam {
            lr: 2e-4,
            beta1: 0.5,
            beta2,
            eps,
            weight_decay,
            decoupled,
            amsgrad,
            t,
            maximize,
        },
        other => other,
    }
}

/// One DCGAN step: the discriminator on real images (label 1) and detached fakes (label 0),
/// its update; then the generator through the discriminator (label 1), its update.
fn dcgan_step(gen: &mut Net, disc: &mut Net, real: &Tensor, z: &Tensor) -> Result<()> {
    let n = real.shape()[0];
    let (ones, zeros) = (
        Tensor::ones(&[n, 1], real.dtype(), real.device())?,
        Tensor::zeros(&[n, 1], real.dtype(), real.device())?,
    );
    let bce = |logits: &Tensor, t: &Tensor| {
        logits.binary_cross_entropy_with_logits(t, None, None, Reduction::Mean)
    };
    let fake = dcgan_generate(&gen.params, z)?;
    let d_loss = bce(&dcgan_discriminate(&disc.params, real)?, &ones)?.add(&bce(
        &dcgan_discriminate(&disc.params, &fake.detach())?,
        &zeros,
    )?)?;
    d_loss.backward(None, false)?;
    disc.update(gan_adam)?;
    bce(&dcgan_discriminate(&disc.params, &fake)?, &ones)?.backward(None, false)?;
    // the generator's loss also reached the discriminator's weights: not part of its update
    for p in &disc.params {
        p.set_grad(None)?;
    }
    gen.update(gan_adam)
}

/// A 2-D window: `kernel` (zeros: the weight's), square stride and padding, no dilation.
fn window(kernel: (usize, usize), stride: usize, pad: usize) -> Window2d {
    Window2d {
        kernel,
        stride: (stride, stride),
        padding: (pad, pad),
        dilation: (1, 1),
    }
}

fn sgd_momentum(_: u64) -> OptimStep {
    OptimStep::Sgd {
        lr: 0.01,
        momentum: 0.9,
        dampening: 0.0,
        nesterov: false,
        weight_decay: 0.0,
        first: false,
        maximize: false,
    }
}

fn cnn_blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("cnn_block_step");
    g.sample_size(10);
    for dev in devices() {
        let x = randn(&[64, 64, 32, 32], dev);
        let mut vgg = Net::new(&[&[64, 64, 3, 3], &[64], &[64, 64, 3, 3], &[64]], dev, 1);
        g.bench_function(format!("vgg_block_64x64x32x32_sgd/{dev}"), |b| {
            b.iter(|| {
                vgg_block_step(&mut vgg, &x).expect("vgg block step");
                sync(dev);
            })
        });
        let mut basic = Net::new(
            &[&[64, 64, 3, 3], &[64], &[64], &[64, 64, 3, 3], &[64], &[64]],
            dev,
            1,
        );
        g.bench_function(format!("resnet_basicblock_64x64x32x32_sgd/{dev}"), |b| {
            b.iter(|| {
                basic_block_step(&mut basic, &x).expect("basic block step");
                sync(dev);
            })
        });
        let (real, z) = (randn(&[64, 1, 28, 28], dev), randn(&[64, 64], dev));
        let mut gen = Net::new(
            &[
                &[128 * 7 * 7, 64],
                &[128 * 7 * 7],
                &[128],
                &[128],
                &[128, 64, 4, 4],
                &[64],
                &[64],
                &[64],
                &[64, 1, 4, 4],
                &[1],
            ],
            dev,
            2,
        );
        let mut disc = Net::new(
            &[
                &[64, 1, 4, 4],
                &[64],
                &[128, 64, 4, 4],
                &[128],
                &[128],
                &[128],
                &[1, 128 * 7 * 7],
                &[1],
            ],
            dev,
            2,
        );
        g.bench_function(format!("dcgan_28x28_b64_adam/{dev}"), |b| {
            b.iter(|| {
                dcgan_step(&mut gen, &mut disc, &real, &z).expect("dcgan step");
                sync(dev);
            })
        });
    }
    g.finish();
}

fn sequence(c: &mut Criterion) {
    let mut g = c.benchmark_group("sequence_step");
    g.sample_size(20);
    for dev in devices() {
        let x = randn(&[32, 32, 32], dev);
        let y = randn(&[32, 128], dev);
        for (name, mode, layers, dirs) in [
            ("lstm_32_128_seq32_adam", RnnMode::Lstm, 1, 1),
            ("gru_32_128_seq32_adam", RnnMode::Gru, 1, 1),
            ("lstm2_bidir_32_128_seq32_adam", RnnMode::Lstm, 2, 2),
        ] {
            let mut net = rnn_net(mode, layers, dirs, dev);
            g.bench_function(format!("{name}/{dev}"), |b| {
                b.iter(|| {
                    rnn_step(&mut net, mode, dirs, &x, &y).expect("rnn step");
                    sync(dev);
                })
            });
        }
        let (vocab, dim, batch, neg) = (10_000, 128, 1024, 5);
        let mut net = Net::new(&[&[vocab, dim], &[vocab, dim]], dev, 0);
        let ids = |shape: &[usize]| {
            Tensor::randint(0, vocab as i64, shape, Device::Cpu)
                .and_then(|t| t.to_device(dev))
                .expect("ids")
        };
        let (centers, contexts) = (ids(&[batch]), ids(&[batch, 1 + neg]));
        let signs: Vec<f32> = (0..batch * (1 + neg))
            .map(|k| if k % (1 + neg) == 0 { 1.0 } else { -1.0 })
            .collect();
        let signs = Tensor::from_f32(signs, &[batch, 1 + neg])
            .and_then(|t| t.to_device(dev))
            .expect("signs");
        g.bench_function(format!("skipgram_10k_128_b1024_neg5_sgd/{dev}"), |b| {
            b.iter(|| {
                skipgram_step(&mut net, &centers, &contexts, &signs).expect("skip-gram step");
                sync(dev);
            })
        });
    }
    g.finish();
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

criterion_group!(benches, train, sequence, cnn_blocks);
criterion_main!(benches);
