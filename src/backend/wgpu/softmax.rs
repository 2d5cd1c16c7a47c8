//! Softmax family (`shaders/softmax.wgsl`): softmax and log-softmax over the last dim.

use super::launch::{check_span, grid, grid_threads};
use super::params::RowParams;
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

const fn entry(name: &'static str) -> Entry {
    Entry::threads::<RowParams>(
        Shader::Softmax,
        name,
        &["LOG", "CONTIG"],
        &[(1, Access::Read), (2, Access::ReadWrite)],
    )
}

/// `softmax_wg`: one workgroup per row (long rows).
pub static SOFTMAX_WG: Entry = entry("softmax_wg");
/// `softmax_thread`: one invocation per row (short rows).
pub static SOFTMAX_THREAD: Entry = entry("softmax_thread");

/// Every softmax entry point.
pub(crate) static ENTRIES: [&Entry; 2] = [&SOFTMAX_WG, &SOFTMAX_THREAD];

/// Softmax or log-softmax over the last dim of a view.
pub fn softmax(x: &GpuStorage, l: &Layout, log: bool) -> Result<GpuStorage> {
    if x.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "softmax: expected a floating tensor, got {}",
            x.dtype
        )));
    }
    check_span("softmax", x, l)?;
    let n = l.numel();
    let len = *l.shape.last().unwrap_or(&1);
    let ctx = &x.ctx;
    let out = GpuStorage::alloc(ctx, DType::F32, n, false, "softmax")?;
    if n == 0 {
        return Ok(out);
    }
    let rows = n / len;
    let (p, contig) = RowParams::new("softmax", rows, len, l)?;
    let (entry, groups) = if len <= 64 {
        (&SOFTMAX_THREAD, grid_threads(ctx, rows, "softmax")?)
    } else {
        (&SOFTMAX_WG, grid(ctx, rows, "softmax")?)
    };
    let k = Kernel::new(entry).flag("LOG", log).flag("CONTIG", contig);
    ctx.dispatch(&k, &p, &[&x.buf, &out.buf], groups)?;
    Ok(out)
}
