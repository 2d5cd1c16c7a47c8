//! Fused optimizer updates on the CPU: one pass over a parameter and its state per step.

use crate::backend::OptimStep;

/// Parameters at least this large are updated by several threads (the update is memory-bound).
const OPT_PAR_MIN: usize = 1 << 16;
const OPT_CHUNK: usize = 1 << 15;
use crate::dtype::Float;
use crate::ensure;
use crate::error::{Error, Result};
use crate::storage::CpuStorage;

#[derive(Clone, Copy)]
struct SgdConsts<T> {
    lr: T,
    wd: T,
    mom: T,
    damp: T,
    sign: T,
}

/// SGD with momentum over one chunk: `b ← μ·b + (1 − τ)·d` (`b ← d` on the first step), then
/// `p ← p − lr·(d + μ·b)` (Nesterov) or `p ← p − lr·b`.
fn sgd_momentum<T: Float, const FIRST: bool, const NESTEROV: bool>(
    p: &mut [T],
    g: &[T],
    b: &mut [T],
    k: &SgdConsts<T>,
) {
    let SgdConsts {
        lr,
        wd,
        mom,
        damp,
        sign,
    } = *k;
    // no decay term without weight decay: 0 · ±inf would make an infinite weight NaN
    let has_wd = wd != T::ZERO;
    super::simd::wide(|| {
        for ((pi, &gi), bi) in p.iter_mut().zip(g).zip(b.iter_mut()) {
            let d = if has_wd {
                sign * gi + wd * *pi
            } else {
                sign * gi
            };
            let bn = if FIRST { d } else { mom * *bi + damp * d };
            *bi = bn;
            let upd = if NESTEROV { d + mom * bn } else { bn };
            *pi = *pi - lr * upd;
        }
    })
}

/// PyTorch's `lerp(a, b, w)` with `wm1 = w − 1`: `a + w·(b − a)` when `small` (|w| < 0.5), else
/// `b + (w − 1)·(b − a)`, each with one rounding as PyTorch's vectorised kernel (how
/// `exp_avg.lerp_(grad, 1 − β₁)` moves the Adam family's first moment).
#[inline(always)]
fn lerp<T: Float>(a: T, b: T, w: T, wm1: T, small: bool) -> T {
    if small {
        w.mul_add_(b - a, a)
    } else {
        wm1.mul_add_(b - a, b)
    }
}

/// The weight `w` (rounded once from f64) of [`lerp`], `w − 1` in `T`, and whether it is small.
fn lerp_weight<T: Float>(w: f64) -> (T, T, bool) {
    let wt = T::from_f64(w);
    (wt, wt - T::ONE, w.abs() < 0.5)
}

fn step_t<T: Float>(step: &OptimStep, p: &mut [T], g: &[T], st: &mut [&mut [T]]) -> Result<()> {
    let n = p.len();
    let need = step.state_count();
    if st.len() < need {
        return Err(Error::Value(format!(
            "optimizer step: the update needs {need} state buffers, got {}",
            st.len()
        )));
    }
    for s in st.iter() {
        ensure!(
            s.len() == n,
            Shape,
            "optimizer step: state of {} elements for a parameter of {n}",
            s.len()
        );
    }
    let f = T::from_f64;
    // bias corrections, schedules and decay factors: computed once for both backends
    let c = step.coefficients();
    match *step {
        OptimStep::Sgd {
            momentum,
            nesterov,
            first,
            maximize,
            ..
        } => {
            // constants hoisted and state slices taken out, so the loop vectorises
            let (lr, wd, mom, damp) = (f(c.step_size), f(c.l2), f(c.beta1), f(c.beta2));
            let sign = if maximize { -T::ONE } else { T::ONE };
            if momentum != 0.0 {
                let buf = &mut *st[0];
                let k = SgdConsts {
                    lr,
                    wd,
                    mom,
                    damp,
                    sign,
                };
                // one loop per (first, nesterov): a loop with those tests inside does not vectorise
                let run = |((pc, gc), bc): ((&mut [T], &[T]), &mut [T])| match (first, nesterov) {
                    (false, false) => sgd_momentum::<T, false, false>(pc, gc, bc, &k),
                    (false, true) => sgd_momentum::<T, false, true>(pc, gc, bc, &k),
                    (true, false) => sgd_momentum::<T, true, false>(pc, gc, bc, &k),
                    (true, true) => sgd_momentum::<T, true, true>(pc, gc, bc, &k),
                };
                if n >= OPT_PAR_MIN {
                    let pb = super::pool::SendPtr(buf.as_mut_ptr());
                    super::pool::chunks_mut(p, OPT_CHUNK, |ci, pc| {
                        let (i0, len) = (ci * OPT_CHUNK, pc.len());
                        // SAFETY: chunk `ci` of the buffer belongs to this task alone
                        let bc = unsafe { std::slice::from_raw_parts_mut(pb.get().add(i0), len) };
                        run(((pc, &g[i0..i0 + len]), bc))
                    });
                } else {
                    run(((p, g), buf));
                }
            } else {
                let has_wd = c.l2 != 0.0;
                super::simd::wide(|| {
                    for (pi, &gi) in p.iter_mut().zip(g) {
                        let d = if has_wd {
                            sign * gi + wd * *pi
                        } else {
                            sign * gi
                        };
                        *pi = *pi - lr * d;
                    }
                });
            }
        }
        OptimStep::Adam {
            amsgrad, maximize, ..
        } => {
            let step_size = f(c.step_size);
            let (b2, r2, eps, bc2) = (f(c.beta2), f(c.rate2), f(c.eps), f(c.bias2_sqrt));
            let (r1, r1c, small) = lerp_weight::<T>(c.rate1);
            let sign = if maximize { -T::ONE } else { T::ONE };
            let (l2, decay) = (f(c.l2), f(c.decay));
            let has_l2 = c.l2 != 0.0;
            let (ms, rest) = st.split_at_mut(1);
            let (vs, rest) = rest.split_at_mut(1);
            let (m, v) = (&mut *ms[0], &mut *vs[0]);
            if amsgrad {
                let vmax = &mut *rest[0];
                super::simd::wide(|| {
                    for i in 0..n {
                        let pi = p[i] * decay;
                        let d = if has_l2 {
                            sign * g[i] + l2 * pi
                        } else {
                            sign * g[i]
                        };
                        m[i] = lerp(m[i], d, r1, r1c, small);
                        v[i] = b2 * v[i] + r2 * d * d;
                        vmax[i] = vmax[i].max_(v[i]);
                        p[i] = pi - step_size * m[i] / (vmax[i].sqrt() / bc2 + eps);
                    }
                });
            } else {
                zip_states(p, g, m, v, move |pi, gi, mi, vi| {
                    let pv = *pi * decay;
                    let d = if has_l2 {
                        sign * gi + l2 * pv
                    } else {
                        sign * gi
                    };
                    let mn = lerp(*mi, d, r1, r1c, small);
                    let vn = b2 * *vi + r2 * d * d;
                    *mi = mn;
                    *vi = vn;
                    *pi = pv - step_size * mn / (vn.sqrt() / bc2 + eps);
                });
            }
        }
        OptimStep::RmsProp {
            momentum,
            centered,
            maximize,
            ..
        } => {
            let (lr, weight_decay, eps) = (c.step_size, c.l2, c.eps);
            let a = f(c.beta1);
            let (r, rc, small) = lerp_weight::<T>(c.rate1);
            let mom_slot = 1;
            let cen_slot = if momentum > 0.0 { 2 } else { 1 };
            super::simd::wide(|| {
                for i in 0..n {
                    let mut d = if maximize { -g[i] } else { g[i] };
                    if weight_decay != 0.0 {
                        d += f(weight_decay) * p[i];
                    }
                    let sq = a * st[0][i] + r * d * d;
                    st[0][i] = sq;
                    let avg = if centered {
                        let ga = lerp(st[cen_slot][i], d, r, rc, small);
                        st[cen_slot][i] = ga;
                        (sq - ga * ga).sqrt() + f(eps)
                    } else {
                        sq.sqrt() + f(eps)
                    };
                    if momentum > 0.0 {
                        let b = f(c.beta2) * st[mom_slot][i] + d / avg;
                        st[mom_slot][i] = b;
                        p[i] = p[i] - f(lr) * b;
                    } else {
                        p[i] = p[i] - f(lr) * d / avg;
                    }
                }
            });
        }
        OptimStep::Adagrad { maximize, .. } => {
            let (clr, weight_decay, eps) = (f(c.step_size), c.l2, c.eps);
            for i in 0..n {
                let mut d = if maximize { -g[i] } else { g[i] };
                if weight_decay != 0.0 {
                    d += f(weight_decay) * p[i];
                }
                let s = st[0][i] + d * d;
                st[0][i] = s;
                p[i] = p[i] - clr * d / (s.sqrt() + f(eps));
            }
        }
        OptimStep::Adamax { maximize, .. } => {
            let clr = f(c.step_size);
            let (b2, eps, wd) = (f(c.beta2), f(c.eps), f(c.l2));
            let (r1, r1c, small) = lerp_weight::<T>(c.rate1);
            let has_wd = c.l2 != 0.0;
            let sign = if maximize { -T::ONE } else { T::ONE };
            let (m, u) = two_states(st);
            zip_states(p, g, m, u, move |pi, gi, mi, ui| {
                let d = if has_wd {
                    sign * gi + wd * *pi
                } else {
                    sign * gi
                };
                let mn = lerp(*mi, d, r1, r1c, small);
                // torch.maximum: a NaN on either side propagates
                let (a, b) = (b2 * *ui, d.abs() + eps);
                let un = if a > b || a.is_nan_() { a } else { b };
                *mi = mn;
                *ui = un;
                *pi = *pi - clr * mn / un;
            });
        }
        OptimStep::NAdam { maximize, .. } => {
            let (cg, cm, inv_bc2) = (f(c.step_size), f(c.step_size2), f(c.inv_bias2));
            let (b2, r2, eps, wd) = (f(c.beta2), f(c.rate2), f(c.eps), f(c.l2));
            let (r1, r1c, small) = lerp_weight::<T>(c.rate1);
            let l2 = c.l2 != 0.0;
            let decay = f(c.decay);
            let sign = if maximize { -T::ONE } else { T::ONE };
            let (m, v) = two_states(st);
            zip_states(p, g, m, v, move |pi, gi, mi, vi| {
                let pv = *pi * decay;
                let d = if l2 { sign * gi + wd * pv } else { sign * gi };
                let mn = lerp(*mi, d, r1, r1c, small);
                let vn = b2 * *vi + r2 * d * d;
                *mi = mn;
                *vi = vn;
                let denom = vn.sqrt() * inv_bc2 + eps;
                let pn = pv - cg * d / denom;
                *pi = pn - cm * mn / denom;
            });
        }
        OptimStep::RAdam { maximize, .. } => {
            let (step_size, adaptive) = (f(c.step_size), c.rectified);
            let (b2, r2, eps, wd) = (f(c.beta2), f(c.rate2), f(c.eps), f(c.l2));
            let (r1, r1c, small) = lerp_weight::<T>(c.rate1);
            let l2 = c.l2 != 0.0;
            let decay = f(c.decay);
            let sign = if maximize { -T::ONE } else { T::ONE };
            let (m, v) = two_states(st);
            let moments = move |pi: &mut T, gi: T, mi: &mut T, vi: &mut T| {
                let pv = *pi * decay;
                let d = if l2 { sign * gi + wd * pv } else { sign * gi };
                let mn = lerp(*mi, d, r1, r1c, small);
                let vn = b2 * *vi + r2 * d * d;
                *mi = mn;
                *vi = vn;
                (pv, mn, vn)
            };
            // one loop per branch of the rectification (a uniform test, hoisted)
            if adaptive {
                zip_states(p, g, m, v, move |pi, gi, mi, vi| {
                    let (pv, mn, vn) = moments(pi, gi, mi, vi);
                    *pi = pv - step_size * mn / (vn.sqrt() + eps);
                });
            } else {
                zip_states(p, g, m, v, move |pi, gi, mi, vi| {
                    let (pv, mn, _) = moments(pi, gi, mi, vi);
                    *pi = pv - step_size * mn;
                });
            }
        }
        OptimStep::Adadelta { maximize, .. } => {
            let (lr, r, eps, wd) = (f(c.step_size), f(c.beta1), f(c.eps), f(c.l2));
            let rc = f(c.rate1);
            let has_wd = c.l2 != 0.0;
            let sign = if maximize { -T::ONE } else { T::ONE };
            let (sq, acc) = two_states(st);
            zip_states(p, g, sq, acc, move |pi, gi, si, ai| {
                let d = if has_wd {
                    sign * gi + wd * *pi
                } else {
                    sign * gi
                };
                let sn = r * *si + rc * d * d;
                let delta = (*ai + eps).sqrt() / (sn + eps).sqrt() * d;
                *si = sn;
                *ai = r * *ai + rc * delta * delta;
                *pi = *pi - lr * delta;
            });
        }
    }
    Ok(())
}

/// The first two state buffers (the caller checked that there are at least two).
fn two_states<'a, T>(st: &'a mut [&mut [T]]) -> (&'a mut [T], &'a mut [T]) {
    match st {
        [a, b, ..] => (&mut **a, &mut **b),
        [a] => (&mut **a, &mut []),
        [] => (&mut [], &mut []),
    }
}

/// Runs the element update `f(p, g, s0, s1)` over a parameter and two state buffers of its
/// length: one loop (inlined into an AVX2 build where available, so it vectorises), split over
/// threads for large parameters.
fn zip_states<T: Float>(
    p: &mut [T],
    g: &[T],
    a: &mut [T],
    b: &mut [T],
    f: impl Fn(&mut T, T, &mut T, &mut T) + Sync + Copy,
) {
    let n = p.len().min(g.len()).min(a.len()).min(b.len());
    let (p, g, a, b) = (&mut p[..n], &g[..n], &mut a[..n], &mut b[..n]);
    let run = move |pc: &mut [T], gc: &[T], ac: &mut [T], bc: &mut [T]| {
        super::simd::wide(|| {
            for (((pi, &gi), ai), bi) in pc.iter_mut().zip(gc).zip(ac.iter_mut()).zip(bc.iter_mut())
            {
                f(pi, gi, ai, bi);
            }
        })
    };
    if n >= OPT_PAR_MIN {
        let (pa, pb) = (
            super::pool::SendPtr(a.as_mut_ptr()),
            super::pool::SendPtr(b.as_mut_ptr()),
        );
        super::pool::chunks_mut(p, OPT_CHUNK, |ci, pc| {
            let (i0, len) = (ci * OPT_CHUNK, pc.len());
            // SAFETY: chunk `ci` of each state buffer (as long as `p`) belongs to this task alone
            let (ac, bc) = unsafe {
                (
                    std::slice::from_raw_parts_mut(pa.get().add(i0), len),
                    std::slice::from_raw_parts_mut(pb.get().add(i0), len),
                )
            };
            run(pc, &g[i0..i0 + len], ac, bc)
        });
    } else {
        run(p, g, a, b);
    }
}

/// Applies one update to a contiguous parameter `p` with gradient `g` and its state buffers.
pub fn step(
    step: &OptimStep,
    p: &mut CpuStorage,
    g: &CpuStorage,
    st: &mut [&mut CpuStorage],
) -> Result<()> {
    ensure!(
        p.len() == g.len(),
        Shape,
        "optimizer step: gradient of {} elements for a parameter of {}",
        g.len(),
        p.len()
    );
    match (p, g) {
        (CpuStorage::F32(p), CpuStorage::F32(g)) => {
            let mut s = Vec::with_capacity(st.len());
            for b in st.iter_mut() {
                match &mut **b {
                    CpuStorage::F32(v) => s.push(v.as_mut_slice()),
                    other => return Err(state_dtype(other)),
                }
            }
            step_t(step, p, g, &mut s)
        }
        (CpuStorage::F64(p), CpuStorage::F64(g)) => {
            let mut s = Vec::with_capacity(st.len());
            for b in st.iter_mut() {
                match &mut **b {
                    CpuStorage::F64(v) => s.push(v.as_mut_slice()),
                    other => return Err(state_dtype(other)),
                }
            }
            step_t(step, p, g, &mut s)
        }
        (p, g) => Err(Error::DType(format!(
            "optimizer step: parameter {} and gradient {} must be one floating dtype",
            p.dtype(),
            g.dtype()
        ))),
    }
}

fn state_dtype(s: &CpuStorage) -> Error {
    Error::DType(format!(
        "optimizer step: state buffer has dtype {}, unlike its parameter",
        s.dtype()
    ))
}
