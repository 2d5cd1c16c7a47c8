//! Random family (`shaders/random.wgsl`): uniform and normal fills from the counter-based
//! generator the CPU backend uses.

use std::sync::Arc;

use super::context::{context, Patch};
use super::launch::{f64_unsupported, grid_threads};
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::RandKind;
use crate::dtype::DType;
use crate::error::{Error, Result};

param_block! {
    /// Parameters of `rand`: `n` numbers of the stream (seed, offset), both as (lo, hi)
    /// words; uniform: `a` = low, `b` = high - low; normal: `a` = mean, `b` = std.
    pub struct RandParams {
        pub n: u32,
        pub seed_lo: u32,
        pub seed_hi: u32,
        pub off_lo: u32,
        pub off_hi: u32,
        pub a: f32,
        pub b: f32,
        pub pad0: u32,
    }
}

/// `rand`: one number per invocation.
pub static RAND: Entry = Entry::threads::<RandParams>(
    Shader::Random,
    "rand",
    &["NORMAL"],
    &[(1, Access::ReadWrite)],
);

/// Every random entry point.
pub(crate) static ENTRIES: [&Entry; 1] = [&RAND];

/// `n` numbers from the counter-based generator at (`seed`, `offset`), as the CPU's `rand`.
pub fn rand(
    dev: usize,
    kind: RandKind,
    n: usize,
    seed: u64,
    offset: u64,
    dtype: DType,
) -> Result<GpuStorage> {
    match dtype {
        DType::F32 => {}
        DType::F64 => return Err(f64_unsupported("rand")),
        d => {
            return Err(Error::DType(format!(
                "rand: expected a floating dtype, got {d}"
            )))
        }
    }
    let ctx = context(dev)?;
    let out = GpuStorage::alloc(&ctx, DType::F32, n, false, "rand")?;
    if n == 0 {
        return Ok(out);
    }
    let (normal, a, b) = match kind {
        RandKind::Uniform(lo, hi) => (false, lo, hi - lo),
        RandKind::Normal(mean, std) => (true, mean, std),
    };
    let p = RandParams {
        n: u32_of("rand", n)?,
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
        off_lo: offset as u32,
        off_hi: (offset >> 32) as u32,
        a: a as f32,
        b: b as f32,
        pad0: 0,
    };
    let k = Kernel::new(&RAND).flag("NORMAL", normal);
    // a captured step's replay draws fresh numbers: the next counters of the library's stream,
    // reserved at the replay as the live op reserves them (`Tensor::rand_kind`: 2 per value)
    let patch: Option<Patch> = ctx.capturing().then(|| {
        let patch: Patch = Arc::new(move |_k: u64, _lr: Option<f64>| {
            let (seed, offset) = crate::random::advance(n as u64 * 2);
            let mut q = p;
            (q.seed_lo, q.seed_hi) = (seed as u32, (seed >> 32) as u32);
            (q.off_lo, q.off_hi) = (offset as u32, (offset >> 32) as u32);
            Ok(bytemuck::bytes_of(&q).to_vec())
        });
        patch
    });
    let grid = grid_threads(&ctx, n, "rand")?;
    ctx.dispatch_patched(&k, &p, &[&out.buf], grid, patch)?;
    Ok(out)
}
