//! The counter-based random generator of the CPU backend: element `i` of a fill depends only on
//! the seed and its counter, so fills are reproducible, split over threads above `PAR_MIN`
//! elements, and match the WGSL kernel bit for bit.

use super::{pool, PAR_CHUNK, PAR_MIN};
use crate::backend::RandKind;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::CpuStorage;

/// The 32-bit mixing function of the counter-based generator (shared with the WGSL kernel).
#[inline(always)]
pub fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The per-seed key of the counter-based generator (computed once per fill).
#[inline(always)]
pub fn stream_key(seed: u64) -> u32 {
    hash32((seed as u32) ^ hash32((seed >> 32) as u32 ^ 0x9e37_79b9))
}

/// Uniform in [0, 1) for counter `offset + i` of the stream with key `k`: 24 random bits.
#[inline(always)]
pub fn uniform01(k: u32, offset: u64, i: u64) -> f64 {
    (bits32(k, offset, i) >> 8) as f64 * (1.0 / 16_777_216.0)
}

/// The 32 random bits of counter `offset + i` (what [`uniform01`] keeps 24 of).
#[inline(always)]
fn bits32(k: u32, offset: u64, i: u64) -> u32 {
    let c = offset.wrapping_add(i);
    hash32(hash32(c as u32 ^ k) ^ ((c >> 32) as u32).wrapping_add(k.rotate_left(7)))
}

/// 64 random bits for counter `offset + i`: its 32 bits (the high half, so a float64 uniform
/// starts with the float32 one's bits) and 32 more from a second key. Element `i` depends on
/// counter `offset + i` alone, so an offset continues the same stream.
#[inline(always)]
pub fn bits64(k: u32, offset: u64, i: u64) -> u64 {
    (u64::from(bits32(k, offset, i)) << 32) | u64::from(bits32(k ^ 0x5bd1_e995, offset, i))
}

/// Random fill from the counter-based generator; normals by Box–Muller on counters 2i, 2i+1;
/// float64 uniforms take 53 bits of [`bits64`] (float32 ones 24 bits, as the WGSL kernel; the
/// float64 value begins with the same bits).
pub fn rand(kind: RandKind, n: usize, seed: u64, offset: u64, dtype: DType) -> Result<CpuStorage> {
    let k = stream_key(seed);
    let wide = dtype == DType::F64;
    let gen = |i: usize| -> f64 {
        match kind {
            RandKind::Uniform(lo, hi) if wide => {
                let u =
                    (bits64(k, offset, i as u64) >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0);
                lo + (hi - lo) * u
            }
            RandKind::Uniform(lo, hi) => lo + (hi - lo) * uniform01(k, offset, i as u64),
            RandKind::Normal(mean, std) => {
                let u1 = 1.0 - uniform01(k, offset, 2 * i as u64);
                let u2 = uniform01(k, offset, 2 * i as u64 + 1);
                mean + std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            }
        }
    };
    Ok(match dtype {
        DType::F32 => {
            let f = |i| gen(i) as f32;
            CpuStorage::F32(if n >= PAR_MIN {
                pool::map_collect(n, PAR_CHUNK, f)
            } else {
                (0..n).map(f).collect()
            })
        }
        DType::F64 => CpuStorage::F64(if n >= PAR_MIN {
            pool::map_collect(n, PAR_CHUNK, gen)
        } else {
            (0..n).map(gen).collect()
        }),
        d => {
            return Err(Error::DType(format!(
                "rand: expected a floating dtype, got {d}"
            )))
        }
    })
}
