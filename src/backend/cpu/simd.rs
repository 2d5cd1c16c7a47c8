//! Hot elementwise loops compiled twice: for the baseline target and, picked at run time, for
//! AVX2+FMA, so the same wheel uses wide vectors where the processor has them.
//!
//! The choice is made once per process ([`Isa::detected`]): AVX2+FMA when the processor has
//! them, unless the environment variable `RUSTDL_CPU_SIMD=portable` forces the portable loops
//! everywhere the CPU kernels choose at run time (to rule out a SIMD bug, or to compare).

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use crate::dtype::Float;

// The output slices are uninitialised memory being filled: every slot is written once.

#[inline(always)]
fn map1_body<A: Copy, O>(o: &mut [MaybeUninit<O>], i: &[A], f: &impl Fn(A) -> O) {
    for (slot, &x) in o.iter_mut().zip(i) {
        slot.write(f(x));
    }
}

#[inline(always)]
fn map2_body<A: Copy, B: Copy, O>(
    o: &mut [MaybeUninit<O>],
    x: &[A],
    y: &[B],
    f: &impl Fn(A, B) -> O,
) {
    for ((slot, &p), &q) in o.iter_mut().zip(x).zip(y) {
        slot.write(f(p, q));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn map1_avx2<A: Copy, O>(o: &mut [MaybeUninit<O>], i: &[A], f: &impl Fn(A) -> O) {
    map1_body(o, i, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn map2_avx2<A: Copy, B: Copy, O>(
    o: &mut [MaybeUninit<O>],
    x: &[A],
    y: &[B],
    f: &impl Fn(A, B) -> O,
) {
    map2_body(o, x, y, f)
}

/// The instruction set the hot loops may use. Only [`Isa::detected`] can enable AVX2, so a value
/// that says AVX2 proves the processor has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Isa {
    avx2: bool,
}

impl Isa {
    /// The portable loops only.
    pub(crate) const PORTABLE: Isa = Isa { avx2: false };

    /// What this processor offers, unless `RUSTDL_CPU_SIMD=portable` rules SIMD out (both
    /// looked up once per process).
    pub(crate) fn detected() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            let portable = std::env::var("RUSTDL_CPU_SIMD")
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("portable"));
            if portable {
                Isa::PORTABLE
            } else {
                Isa {
                    avx2: cpu_has_avx2(),
                }
            }
        })
    }

    /// Whether AVX2 and FMA may be used.
    #[inline(always)]
    pub(crate) fn avx2(self) -> bool {
        self.avx2
    }

    /// Runs `f` compiled for AVX2+FMA when this set allows them (the closure is inlined into a
    /// function built with those features), else as is.
    #[inline(always)]
    pub(crate) fn wide<R>(self, f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only by `detected`, after checking for AVX2 and FMA.
            return unsafe { call_avx2(f) };
        }
        f()
    }
}

fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the hot loops use AVX2+FMA in this process (see [`Isa::detected`]).
#[inline]
pub(crate) fn has_avx2() -> bool {
    Isa::detected().avx2()
}

/// `o[i] = f(x[i])`, writing every slot of `o`.
#[inline]
pub fn map1<A: Copy, O>(o: &mut [MaybeUninit<O>], x: &[A], f: &impl Fn(A) -> O) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the processor supports AVX2 and FMA (`has_avx2` checked it).
        return unsafe { map1_avx2(o, x, f) };
    }
    map1_body(o, x, f)
}

/// `o[i] = f(x[i], y[i])`, writing every slot of `o`.
#[inline]
pub fn map2<A: Copy, B: Copy, O>(
    o: &mut [MaybeUninit<O>],
    x: &[A],
    y: &[B],
    f: &impl Fn(A, B) -> O,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the processor supports AVX2 and FMA (`has_avx2` checked it).
        return unsafe { map2_avx2(o, x, y, f) };
    }
    map2_body(o, x, y, f)
}

#[inline(always)]
// `x != x` is the NaN test that keeps this loop vectorised
#[allow(clippy::eq_op)]
fn softmax_body<T: Float>(r: &mut [T], log: bool) {
    // eight lanes for the max and the sum, so the loops vectorise (one accumulator would not)
    let mut m = [T::NEG_INF; 8];
    let mut nan = false;
    let mut ch = r.chunks_exact(8);
    for c in &mut ch {
        for k in 0..8 {
            m[k] = if c[k] > m[k] { c[k] } else { m[k] };
            nan |= c[k] != c[k];
        }
    }
    let mut mx = T::NEG_INF;
    for &x in ch.remainder().iter().chain(m.iter()) {
        mx = if x > mx { x } else { mx };
        nan |= x != x;
    }
    if nan || mx == T::NEG_INF {
        // NaN anywhere, or a row of -inf: fall back to the plain (propagating) formula
        mx = r.iter().fold(T::NEG_INF, |a, &b| a.max_(b));
    }
    let mut s = [T::ZERO; 8];
    if log {
        let mut ch = r.chunks_exact(8);
        for c in &mut ch {
            for k in 0..8 {
                s[k] += (c[k] - mx).exp_fast();
            }
        }
        let mut tot = s.iter().fold(0.0, |a, &b| a + b.to_f64());
        for &x in ch.remainder() {
            tot += (x - mx).exp_fast().to_f64();
        }
        let ls = T::from_f64(tot.ln());
        for x in r.iter_mut() {
            *x = *x - mx - ls;
        }
    } else {
        let mut ch = r.chunks_exact_mut(8);
        for c in &mut ch {
            for k in 0..8 {
                c[k] = (c[k] - mx).exp_fast();
                s[k] += c[k];
            }
        }
        let mut tot = s.iter().fold(0.0, |a, &b| a + b.to_f64());
        for x in ch.into_remainder() {
            *x = (*x - mx).exp_fast();
            tot += x.to_f64();
        }
        let inv = T::from_f64(1.0 / tot);
        for x in r.iter_mut() {
            *x = *x * inv;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn softmax_avx2<T: Float>(r: &mut [T], log: bool) {
    softmax_body(r, log)
}

/// Softmax (or log-softmax) of one row, in place.
pub fn softmax_row<T: Float>(r: &mut [T], log: bool) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the processor supports AVX2 and FMA (`has_avx2` checked it).
        return unsafe { softmax_avx2(r, log) };
    }
    softmax_body(r, log)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn call_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Runs `f` compiled for AVX2+FMA when this process uses them (see [`Isa::wide`]), else as is.
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    Isa::detected().wide(f)
}
