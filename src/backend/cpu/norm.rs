//! Per-channel statistics and affine maps over `(N, C, S)` tensors on the CPU: batch
//! normalisation in two passes forward (moments, then `x·a + b`) and two backward (the sums
//! `Σ dy`, `Σ dy·(x − mean)`, then `dy·a + x·q + r`), where the composed version takes a pass
//! per op.
//!
//! Sums run over each `(n, c)` run of `S` elements in the element type with several
//! accumulators, and are carried across runs in f64. Channel blocks are split over the threads
//! for the sums, element ranges for the affine map.

use super::pool;
use super::view_slice;
use crate::backend::ChannelCoeffs;
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// Sum of `f(v)` over a run, in the element type with 8 accumulators (vectorises), as f64.
#[inline(always)]
fn run_sum<T: Float>(v: &[T], f: impl Fn(T) -> T) -> f64 {
    let mut acc = [T::ZERO; 8];
    let mut chunks = v.chunks_exact(8);
    for ch in &mut chunks {
        for j in 0..8 {
            acc[j] += f(ch[j]);
        }
    }
    let mut s = T::ZERO;
    for &x in chunks.remainder() {
        s += f(x);
    }
    let a = (acc[0] + acc[4]) + (acc[1] + acc[5]) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    (a + s).to_f64()
}

/// Channels per task of the per-channel sums: enough runs per task to pay for the task.
fn channels_per_task(n: usize, c: usize, s: usize) -> usize {
    let per_channel = (n * s).max(1);
    (super::PAR_MIN / per_channel).clamp(1, c.max(1))
}

/// `out[c] = Σ_n f(c, start of run (n, c))`, as f64, split over channel blocks.
fn per_channel_sum([n, c, s]: [usize; 3], f: impl Fn(usize, usize) -> f64 + Sync) -> Vec<f64> {
    let mut out = vec![0.0f64; c];
    let run = |c0: usize, o: &mut [f64]| {
        super::simd::wide(|| {
            for img in 0..n {
                for (j, acc) in o.iter_mut().enumerate() {
                    *acc += f(c0 + j, (img * c + c0 + j) * s);
                }
            }
        })
    };
    if n * c * s >= super::PAR_MIN {
        let per = channels_per_task(n, c, s);
        pool::chunks_mut(&mut out, per, |t, o| run(t * per, o));
    } else {
        run(0, &mut out);
    }
    out
}

fn moments_t<T: Float>(x: &[T], dims: [usize; 3]) -> (Vec<T>, Vec<T>) {
    let count = (dims[0] * dims[2]).max(1) as f64;
    let s = dims[2];
    let mean: Vec<f64> = per_channel_sum(dims, |_, i| run_sum(&x[i..i + s], |v| v))
        .into_iter()
        .map(|v| v / count)
        .collect();
    let mt: Vec<T> = mean.iter().map(|&m| T::from_f64(m)).collect();
    let var = per_channel_sum(dims, |c, i| {
        let m = mt[c];
        run_sum(&x[i..i + s], |v| (v - m) * (v - m))
    });
    (
        mt,
        var.into_iter().map(|v| T::from_f64(v / count)).collect(),
    )
}

fn dot_t<T: Float>(y: &[T], x: &[T], m: &[T], [n, c, s]: [usize; 3]) -> (Vec<T>, Vec<T>) {
    let sy = per_channel_sum([n, c, s], |_, i| run_sum(&y[i..i + s], |v| v));
    let sxy = per_channel_sum([n, c, s], |ch, i| {
        let (r, xr) = (&y[i..i + s], &x[i..i + s]);
        let mc = m[ch];
        let mut acc = [T::ZERO; 8];
        let (mut yc, mut xc) = (r.chunks_exact(8), xr.chunks_exact(8));
        for (a, b) in (&mut yc).zip(&mut xc) {
            for j in 0..8 {
                acc[j] += a[j] * (b[j] - mc);
            }
        }
        let mut t = T::ZERO;
        for (&a, &b) in yc.remainder().iter().zip(xc.remainder()) {
            t += a * (b - mc);
        }
        let a = (acc[0] + acc[4]) + (acc[1] + acc[5]) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        (a + t).to_f64()
    });
    let cast = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect::<Vec<T>>();
    (cast(sy), cast(sxy))
}

/// `x·a + b`: one fused multiply-add when `fused` (the process uses FMA), else a product and a
/// sum (a software fused multiply-add would be slow).
#[inline(always)]
fn fma<T: Float>(fused: bool, x: T, a: T, b: T) -> T {
    if fused {
        x.mul_add_(a, b)
    } else {
        x * a + b
    }
}

fn affine_t<T: Float>(
    x: &[T],
    a: &[T],
    b: &[T],
    y: Option<(&[T], &[T])>,
    [_, c, s]: [usize; 3],
) -> Vec<T> {
    let mut out = vec![T::ZERO; x.len()];
    let s1 = s.max(1);
    // whole (n, c) runs per task, about PAR_CHUNK elements each
    let runs_per_task = (super::PAR_CHUNK / s1).max(1);
    // read once, outside the element loops (the loops specialise on it)
    let fused = super::simd::has_avx2();
    let work = |t: usize, o: &mut [T]| {
        super::simd::wide(|| {
            for (j, orun) in o.chunks_mut(s1).enumerate() {
                let r = t * runs_per_task + j;
                let ch = r % c;
                let (av, bv) = (a[ch], b[ch]);
                let xr = &x[r * s1..r * s1 + orun.len()];
                // fused multiply-adds under AVX2+FMA, as PyTorch's kernels (one rounding
                // where x·a and b nearly cancel, e.g. inputs far from zero mean)
                match y {
                    None => orun
                        .iter_mut()
                        .zip(xr)
                        .for_each(|(o, &v)| *o = fma(fused, v, av, bv)),
                    Some((yv, d)) => {
                        let dv = d[ch];
                        let yr = &yv[r * s1..r * s1 + orun.len()];
                        orun.iter_mut()
                            .zip(xr.iter().zip(yr))
                            .for_each(|(o, (&v, &w))| {
                                *o = fma(fused, w, dv, fma(fused, v, av, bv))
                            });
                    }
                }
            }
        })
    };
    if out.len() >= super::PAR_MIN {
        pool::chunks_mut(&mut out, runs_per_task * s1, work);
    } else {
        work(0, &mut out);
    }
    out
}

/// The `[n, c, s]` of a `(N, C, S)` layout.
fn dims3(l: &Layout, op: &str) -> Result<[usize; 3]> {
    match l.shape[..] {
        [n, c, s] => Ok([n, c, s]),
        _ => Err(Error::Shape(format!(
            "{op}: expected an (N, C, S) view, got {:?}",
            l.shape
        ))),
    }
}

fn channels(v: &CpuStorage, c: usize, op: &str) -> Result<()> {
    if v.len() != c {
        return Err(Error::Shape(format!(
            "{op}: a per-channel operand of {} elements for {c} channels",
            v.len()
        )));
    }
    Ok(())
}

fn dtype_error(op: &str) -> Error {
    Error::DType(format!("{op}: expected floating tensors of one dtype"))
}

/// Per-channel mean and biased variance of the `(N, C, S)` view `l` of `x`.
pub fn channel_moments(x: &CpuStorage, l: &Layout) -> Result<(CpuStorage, CpuStorage)> {
    let d = dims3(l, "batch_norm")?;
    Ok(match x {
        CpuStorage::F32(v) => {
            let (m, s) = moments_t(&view_slice(v, l), d);
            (CpuStorage::F32(m), CpuStorage::F32(s))
        }
        CpuStorage::F64(v) => {
            let (m, s) = moments_t(&view_slice(v, l), d);
            (CpuStorage::F64(m), CpuStorage::F64(s))
        }
        _ => return Err(dtype_error("batch_norm")),
    })
}

/// `x·a[c] + b[c]` (plus `y·d[c]`) over the `(N, C, S)` view `l` of `x` and `y`.
pub fn channel_affine(
    x: &CpuStorage,
    l: &Layout,
    a: &CpuStorage,
    b: &CpuStorage,
    y: Option<(&CpuStorage, &CpuStorage)>,
) -> Result<CpuStorage> {
    let dims = dims3(l, "batch_norm")?;
    for v in [a, b].into_iter().chain(y.map(|(_, d)| d)) {
        channels(v, dims[1], "batch_norm")?;
    }
    use CpuStorage::{F32, F64};
    Ok(match (x, a, b, y) {
        (F32(x), F32(a), F32(b), None) => F32(affine_t(&view_slice(x, l), a, b, None, dims)),
        (F64(x), F64(a), F64(b), None) => F64(affine_t(&view_slice(x, l), a, b, None, dims)),
        (F32(x), F32(a), F32(b), Some((F32(y), F32(d)))) => {
            let y = view_slice(y, l);
            F32(affine_t(&view_slice(x, l), a, b, Some((&y, d)), dims))
        }
        (F64(x), F64(a), F64(b), Some((F64(y), F64(d)))) => {
            let y = view_slice(y, l);
            F64(affine_t(&view_slice(x, l), a, b, Some((&y, d)), dims))
        }
        _ => return Err(dtype_error("batch_norm")),
    })
}

/// Per-channel `Σ y` and `Σ y·(x − m[c])` over the `(N, C, S)` view `l` of `y` and `x`.
pub fn channel_dot(
    y: &CpuStorage,
    x: &CpuStorage,
    l: &Layout,
    m: &CpuStorage,
) -> Result<(CpuStorage, CpuStorage)> {
    let dims = dims3(l, "batch_norm backward")?;
    channels(m, dims[1], "batch_norm backward")?;
    use CpuStorage::{F32, F64};
    Ok(match (y, x, m) {
        (F32(y), F32(x), F32(m)) => {
            let (a, b) = dot_t(&view_slice(y, l), &view_slice(x, l), m, dims);
            (F32(a), F32(b))
        }
        (F64(y), F64(x), F64(m)) => {
            let (a, b) = dot_t(&view_slice(y, l), &view_slice(x, l), m, dims);
            (F64(a), F64(b))
        }
        _ => return Err(dtype_error("batch_norm backward")),
    })
}

/// Batch normalisation's per-channel arithmetic (see [`ChannelCoeffs`]).
pub fn channel_coeffs(spec: &ChannelCoeffs, ins: &[&CpuStorage]) -> Result<Vec<CpuStorage>> {
    let op = "batch_norm";
    if ins.len() != spec.arity().0 {
        return Err(Error::Value(format!(
            "{op}: {} per-channel operands for {spec:?}",
            ins.len()
        )));
    }
    let c = ins[0].len();
    for v in ins {
        channels(v, c, op)?;
    }
    let f32s: Option<Vec<&[f32]>> = ins
        .iter()
        .map(|s| match s {
            CpuStorage::F32(v) => Some(&v[..]),
            _ => None,
        })
        .collect();
    let f64s: Option<Vec<&[f64]>> = ins
        .iter()
        .map(|s| match s {
            CpuStorage::F64(v) => Some(&v[..]),
            _ => None,
        })
        .collect();
    match (f32s, f64s) {
        (Some(v), _) => Ok(coeffs_t(spec, &v, c)
            .into_iter()
            .map(CpuStorage::F32)
            .collect()),
        (_, Some(v)) => Ok(coeffs_t(spec, &v, c)
            .into_iter()
            .map(CpuStorage::F64)
            .collect()),
        _ => Err(dtype_error(op)),
    }
}

fn coeffs_t<T: Float>(spec: &ChannelCoeffs, v: &[&[T]], c: usize) -> Vec<Vec<T>> {
    let f = |x: T| x.to_f64();
    let t = T::from_f64;
    let istd = |var: T, eps: f64| 1.0 / (f(var) + eps).sqrt();
    match *spec {
        ChannelCoeffs::Affine { eps, weight, bias } => {
            let (mean, var) = (v[0], v[1]);
            let w = weight.then(|| v[2]);
            let b = bias.then(|| v[2 + usize::from(weight)]);
            let a: Vec<f64> = (0..c)
                .map(|i| istd(var[i], eps) * w.map_or(1.0, |w| f(w[i])))
                .collect();
            let shift = (0..c)
                .map(|i| t(b.map_or(0.0, |b| f(b[i])) - f(mean[i]) * a[i]))
                .collect();
            vec![a.into_iter().map(t).collect(), shift]
        }
        ChannelCoeffs::Running { momentum, unbias } => {
            let upd = |r: &[T], s: &[T], k: f64| {
                (0..c)
                    .map(|i| t((1.0 - momentum) * f(r[i]) + momentum * k * f(s[i])))
                    .collect()
            };
            vec![upd(v[0], v[2], 1.0), upd(v[1], v[3], unbias)]
        }
        ChannelCoeffs::Grad { eps, count } => {
            let (a, var, mean, sdy, sdyx) = (v[0], v[1], v[2], v[3], v[4]);
            let (mut q, mut r, mut gw) = (
                Vec::with_capacity(c),
                Vec::with_capacity(c),
                Vec::with_capacity(c),
            );
            for i in 0..c {
                let is = istd(var[i], eps);
                let qi = -f(a[i]) * is * is * f(sdyx[i]) / count;
                q.push(t(qi));
                r.push(t(-(qi * f(mean[i]) + f(a[i]) * f(sdy[i]) / count)));
                gw.push(t(f(sdyx[i]) * is));
            }
            vec![q, r, gw]
        }
    }
}
