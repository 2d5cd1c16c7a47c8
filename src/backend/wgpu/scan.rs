//! Scan family (`shaders/scan.wgsl`): linear recurrences along a dim (cumsum, cumprod and
//! their gradients) and stable argsort along the last dim.

use super::codes::dt_code;
use super::elementwise::copy;
use super::launch::{check_span, dispatch_threads, f64_unsupported, value_bits};
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

param_block! {
    /// Parameters of the scan kernels: `n` invocations (linear_scan: lines; argsort:
    /// elements), `len` of the scanned / sorted dim, `inner` (its stride, linear_scan) and
    /// `init`, the bits of y₋₁ in the dtype.
    pub struct ScanParams {
        pub n: u32,
        pub len: u32,
        pub inner: u32,
        pub init: u32,
    }
}

/// `linear_scan`: one invocation per line.
pub static LINEAR_SCAN: Entry = Entry::threads::<ScanParams>(
    Shader::Scan,
    "linear_scan",
    &["DT", "REVERSE"],
    &[(1, Access::Read), (2, Access::Read), (3, Access::ReadWrite)],
);
/// `argsort`: one invocation per element, writing its own position at its rank.
pub static ARGSORT: Entry = Entry::threads::<ScanParams>(
    Shader::Scan,
    "argsort",
    &["DT", "DESCENDING"],
    &[(1, Access::Read), (3, Access::ReadWrite)],
);

/// Every scan entry point.
pub(crate) static ENTRIES: [&Entry; 2] = [&LINEAR_SCAN, &ARGSORT];

fn scan_dtype(op: &str, dt: DType) -> Result<u32> {
    match dt {
        DType::F32 | DType::I64 => dt_code(dt, op),
        DType::F64 => Err(f64_unsupported(op)),
        DType::Bool => Err(Error::DType(format!(
            "{op}: not supported for bool tensors"
        ))),
    }
}

/// `y_k = a_k * y_(k-1) + b_k` along `dim` from `init` (from the end when `reverse`), one
/// invocation per line; `a` and `b` are views of one shape and dtype.
pub fn linear_scan(
    a: &GpuStorage,
    la: &Layout,
    b: &GpuStorage,
    lb: &Layout,
    dim: usize,
    reverse: bool,
    init: f64,
) -> Result<GpuStorage> {
    if a.dtype != b.dtype || la.shape != lb.shape || dim >= la.shape.len().max(1) {
        return Err(Error::Shape(format!(
            "scan: operands of shapes {:?} and {:?} along dim {dim}",
            la.shape, lb.shape
        )));
    }
    let code = scan_dtype("scan", a.dtype)?;
    check_span("scan", a, la)?;
    check_span("scan", b, lb)?;
    let n_all = la.numel();
    let ctx = &a.ctx;
    let out = GpuStorage::alloc(ctx, a.dtype, n_all, false, "scan")?;
    if n_all == 0 {
        return Ok(out);
    }
    let ac = copy(a, la)?;
    let bc = copy(b, lb)?;
    let shape: &[usize] = if la.shape.is_empty() { &[1] } else { &la.shape };
    let n = shape[dim];
    let inner: usize = shape[dim + 1..].iter().product();
    let lines = n_all / n;
    let p = ScanParams {
        n: u32_of("scan", lines)?,
        len: u32_of("scan", n)?,
        inner: u32_of("scan", inner)?,
        init: value_bits("scan", init, a.dtype)?,
    };
    let k = Kernel::new(&LINEAR_SCAN)
        .with("DT", code)
        .flag("REVERSE", reverse);
    dispatch_threads(ctx, &k, &p, &[&ac.buf, &bc.buf, &out.buf], lines, "scan")?;
    Ok(out)
}

/// Stable argsort (int64) along the last dim of a view; NaN sorts above every number.
pub fn argsort(x: &GpuStorage, l: &Layout, descending: bool) -> Result<GpuStorage> {
    // bools sort as the integers 0 and 1
    let code = match x.dtype {
        DType::Bool => dt_code(DType::I64, "sort")?,
        dt => scan_dtype("sort", dt)?,
    };
    check_span("sort", x, l)?;
    let total = l.numel();
    let n = *l.shape.last().unwrap_or(&1);
    let ctx = &x.ctx;
    let mut out = GpuStorage::alloc(ctx, DType::I64, total, false, "sort")?;
    out.range = Some((0, n.saturating_sub(1) as i64));
    if total == 0 {
        return Ok(out);
    }
    let xc = copy(x, l)?;
    let p = ScanParams {
        n: u32_of("sort", total)?,
        len: u32_of("sort", n)?,
        inner: 0,
        init: 0,
    };
    let k = Kernel::new(&ARGSORT)
        .with("DT", code)
        .flag("DESCENDING", descending);
    dispatch_threads(ctx, &k, &p, &[&xc.buf, &out.buf], total, "sort")?;
    Ok(out)
}
