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

/// One 8×8 tile: `dst[j·dst_rs + i] = src[i·src_rs + j] + add[j]` for `i, j < 8`.
///
/// # Safety
/// The processor must support AVX2, and the 8 rows of 8 elements each side must lie inside
/// the allocations the pointers come from.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose8_f32(
    src: *const f32,
    src_rs: usize,
    dst: *mut f32,
    dst_rs: usize,
    add: &[f32; 8],
) {
    use std::arch::x86_64::*;
    let r = |i: usize| _mm256_loadu_ps(src.add(i * src_rs));
    let (r0, r1, r2, r3, r4, r5, r6, r7) = (r(0), r(1), r(2), r(3), r(4), r(5), r(6), r(7));
    // interleave pairs of rows, then pairs of pairs, then the 128-bit halves
    let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
    let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
    let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
    let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    let cols = [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ];
    for (j, c) in cols.into_iter().enumerate() {
        _mm256_storeu_ps(
            dst.add(j * dst_rs),
            _mm256_add_ps(c, _mm256_set1_ps(add[j])),
        );
    }
}

/// The full 8×8 tiles of `dst[j·dst_rs + i] = src[i·src_rs + j] + add[j]` (`i < rows`,
/// `j < cols`) for `f32` with AVX2; returns false, having done nothing, where that does not
/// apply (another type, or no AVX2) — the caller then does the whole transpose.
pub(crate) fn transpose_tiles<T: Float>(
    (src, src_rs): (&[T], usize),
    (dst, dst_rs): (&mut [T], usize),
    rows: usize,
    cols: usize,
    add: Option<&[T]>,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        let (fr, fc) = (rows / 8 * 8, cols / 8 * 8);
        if fr == 0 || fc == 0 {
            return true;
        }
        // the last element either side any tile touches
        let src_end = (fr - 1) * src_rs + fc;
        let dst_end = (fc - 1) * dst_rs + fr;
        assert!(
            src_end <= src.len() && dst_end <= dst.len() && add.is_none_or(|a| a.len() >= fc),
            "transpose_tiles: a {rows}x{cols} transpose reaches past its slices"
        );
        let (sp, dp) = (src.as_ptr() as *const f32, dst.as_mut_ptr() as *mut f32);
        for j0 in (0..fc).step_by(8) {
            let mut a = [0f32; 8];
            if let Some(add) = add {
                // SAFETY: T is f32 (checked above)
                let add = unsafe { std::slice::from_raw_parts(add.as_ptr() as *const f32, fc) };
                a.copy_from_slice(&add[j0..j0 + 8]);
            }
            for i0 in (0..fr).step_by(8) {
                // SAFETY: AVX2 is present; the tile's rows lie inside the extents checked above
                unsafe {
                    transpose8_f32(
                        sp.add(i0 * src_rs + j0),
                        src_rs,
                        dp.add(j0 * dst_rs + i0),
                        dst_rs,
                        &a,
                    )
                };
            }
        }
        return true;
    }
    let _ = (src, src_rs, dst, dst_rs, rows, cols, add);
    false
}
