//! Host transfers: uploads of host data to a GPU and downloads back (int64 narrowed to and
//! widened from the GPU's 32-bit words, bools as 0/1 words).

use super::context::context;
use super::launch::f64_unsupported;
use super::GpuStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::CpuStorage;

/// Copies host data to adapter `dev`. int64 values must fit in 32 bits (see the module doc).
pub fn upload(dev: usize, h: &CpuStorage) -> Result<GpuStorage> {
    let ctx = context(dev)?;
    let mut range = None;
    // f32 data goes up as it is; int64 and bool are narrowed to one 32-bit word each
    let (dtype, bytes): (DType, std::borrow::Cow<[u8]>) = match h {
        CpuStorage::F32(v) => (DType::F32, bytemuck::cast_slice(v).into()),
        CpuStorage::F64(_) => return Err(f64_unsupported("to")),
        CpuStorage::I64(v) => {
            let mut out = Vec::with_capacity(v.len() * 4);
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for (i, &x) in v.iter().enumerate() {
                let Ok(y) = i32::try_from(x) else {
                    return Err(Error::Value(format!(
                        "to(gpu): int64 value {x} at position {i} does not fit: int64 tensors on the GPU hold 32-bit values \
                         (range [{}, {}])",
                        i32::MIN,
                        i32::MAX
                    )));
                };
                lo = lo.min(x);
                hi = hi.max(x);
                out.extend_from_slice(&y.to_le_bytes());
            }
            if !v.is_empty() {
                range = Some((lo, hi));
            }
            (DType::I64, out.into())
        }
        CpuStorage::Bool(v) => (
            DType::Bool,
            v.iter()
                .flat_map(|&b| (b as u32).to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        ),
    };
    let mut out = GpuStorage::alloc(&ctx, dtype, h.len(), true, "to(gpu)")?;
    out.range = range;
    ctx.write(&out.buf, &bytes)?;
    Ok(out)
}

/// Copies a GPU storage back to the host (int64 widened from 32 bits, bools from 0/1 words).
pub fn download(g: &GpuStorage) -> Result<CpuStorage> {
    let bytes = if g.len == 0 {
        Vec::new()
    } else {
        g.ctx
            .read_back(&[(&g.buf, 0, g.len as u64 * 4)])?
            .pop()
            .unwrap_or_default()
    };
    let words = bytes.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]);
    Ok(match g.dtype.storage() {
        DType::F32 => CpuStorage::F32(words.map(f32::from_le_bytes).collect()),
        DType::I64 | DType::U8 | DType::I8 | DType::I16 | DType::I32 => {
            CpuStorage::I64(words.map(|w| i32::from_le_bytes(w) as i64).collect())
        }
        DType::Bool => CpuStorage::Bool(words.map(|w| u32::from_le_bytes(w) != 0).collect()),
        DType::F64 => return Err(f64_unsupported("cpu")),
    })
}
