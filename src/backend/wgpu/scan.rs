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
    /// Parameters of the scan kernels: `n` lines (linear_scan and the blocked scan) or elements
    /// (argsort), `len` of the scanned / sorted dim, `inner` (its stride, linear_scan) and
    /// `init`, the bits of y₋₁ in the dtype; for the blocked passes, `block` steps per
    /// invocation and the `blocks` of a line.
    pub struct ScanParams {
        pub n: u32,
        pub len: u32,
        pub inner: u32,
        pub init: u32,
        pub block: u32,
        pub blocks: u32,
        pub pad0: u32,
        pub pad1: u32,
    }
}

/// Lines longer than this are scanned / sorted in blocks by several invocations: no invocation
/// then loops more than [`block_of`] times (Mesa's llvmpipe stops an invocation after 65,535
/// loop iterations, and one invocation walking a long line is slow on any GPU).
const ONE_PASS_MAX: usize = 4096;

/// Steps per invocation of the blocked passes for lines of `len`: 1024, or more when a line
/// would have over 32,768 blocks (the carry pass walks them in one invocation).
fn block_of(len: usize) -> usize {
    1024usize.max(len.div_ceil(32768))
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

/// `scan_blocks`: one invocation per block of a line.
pub static SCAN_BLOCKS: Entry = Entry::threads::<ScanParams>(
    Shader::Scan,
    "scan_blocks",
    &["DT", "REVERSE"],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::ReadWrite),
        (4, Access::ReadWrite),
        (5, Access::ReadWrite),
    ],
);
/// `scan_carry`: one invocation per line, walking its blocks.
pub static SCAN_CARRY: Entry = Entry::threads::<ScanParams>(
    Shader::Scan,
    "scan_carry",
    &["DT"],
    &[(4, Access::ReadWrite)],
);
/// `scan_fix`: one invocation per element.
pub static SCAN_FIX: Entry = Entry::threads::<ScanParams>(
    Shader::Scan,
    "scan_fix",
    &["DT", "REVERSE"],
    &[
        (3, Access::ReadWrite),
        (4, Access::ReadWrite),
        (5, Access::ReadWrite),
    ],
);
/// `argsort_count`: one invocation per element and block of the others.
pub static ARGSORT_COUNT: Entry = Entry::threads::<ScanParams>(
    Shader::Scan,
    "argsort_count",
    &["DT", "DESCENDING"],
    &[(1, Access::Read), (6, Access::ReadWrite)],
);
/// `argsort_place`: one invocation per element.
pub static ARGSORT_PLACE: Entry = Entry::threads::<ScanParams>(
    Shader::Scan,
    "argsort_place",
    &[],
    &[(3, Access::ReadWrite), (6, Access::ReadWrite)],
);

/// Every scan entry point.
pub(crate) static ENTRIES: [&Entry; 7] = [
    &LINEAR_SCAN,
    &ARGSORT,
    &SCAN_BLOCKS,
    &SCAN_CARRY,
    &SCAN_FIX,
    &ARGSORT_COUNT,
    &ARGSORT_PLACE,
];

fn scan_dtype(op: &str, dt: DType) -> Result<u32> {
    match dt.storage() {
        DType::F64 => Err(f64_unsupported(op)),
        DType::Bool => Err(Error::DType(format!(
            "{op}: not supported for bool tensors"
        ))),
        _ => dt_code(dt, op),
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
    let mut p = ScanParams {
        n: u32_of("scan", lines)?,
        len: u32_of("scan", n)?,
        inner: u32_of("scan", inner)?,
        init: value_bits("scan", init, a.dtype)?,
        block: 0,
        blocks: 0,
        pad0: 0,
        pad1: 0,
    };
    let kernel = |e: &'static Entry| Kernel::new(e).with("DT", code).flag("REVERSE", reverse);
    if n <= ONE_PASS_MAX {
        let bufs = [&ac.buf, &bc.buf, &out.buf];
        dispatch_threads(ctx, &kernel(&LINEAR_SCAN), &p, &bufs, lines, "scan")?;
        return Ok(out);
    }
    let block = block_of(n);
    let blocks = n.div_ceil(block);
    p.block = u32_of("scan", block)?;
    p.blocks = u32_of("scan", blocks)?;
    let maps = GpuStorage::alloc(ctx, a.dtype, 2 * lines * blocks, false, "scan")?;
    let prods = GpuStorage::alloc(ctx, a.dtype, n_all, false, "scan")?;
    let bufs = [&ac.buf, &bc.buf, &out.buf, &maps.buf, &prods.buf];
    dispatch_threads(
        ctx,
        &kernel(&SCAN_BLOCKS),
        &p,
        &bufs,
        lines * blocks,
        "scan",
    )?;
    let carry = Kernel::new(&SCAN_CARRY).with("DT", code);
    dispatch_threads(ctx, &carry, &p, &[&maps.buf], lines, "scan")?;
    let bufs = [&out.buf, &maps.buf, &prods.buf];
    dispatch_threads(ctx, &kernel(&SCAN_FIX), &p, &bufs, n_all, "scan")?;
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
    let mut p = ScanParams {
        n: u32_of("sort", total)?,
        len: u32_of("sort", n)?,
        inner: 0,
        init: 0,
        block: 0,
        blocks: 0,
        pad0: 0,
        pad1: 0,
    };
    if n <= ONE_PASS_MAX {
        let k = Kernel::new(&ARGSORT)
            .with("DT", code)
            .flag("DESCENDING", descending);
        dispatch_threads(ctx, &k, &p, &[&xc.buf, &out.buf], total, "sort")?;
        return Ok(out);
    }
    // each element's rank summed over blocks of the others, then each position placed
    let block = block_of(n);
    let blocks = n.div_ceil(block);
    p.block = u32_of("sort", block)?;
    p.blocks = u32_of("sort", blocks)?;
    u32_of("sort", total * blocks)?;
    let ranks = GpuStorage::alloc(ctx, DType::I64, total, false, "sort")?;
    ctx.clear(&ranks.buf, total as u64 * 4)?;
    let count = Kernel::new(&ARGSORT_COUNT)
        .with("DT", code)
        .flag("DESCENDING", descending);
    dispatch_threads(
        ctx,
        &count,
        &p,
        &[&xc.buf, &ranks.buf],
        total * blocks,
        "sort",
    )?;
    let place = Kernel::new(&ARGSORT_PLACE);
    dispatch_threads(ctx, &place, &p, &[&out.buf, &ranks.buf], total, "sort")?;
    Ok(out)
}
