//! Which matmul kernel runs a product: the 64x64 tile (`matmul`, any adapter, split-K) or the
//! 128x128 tile (`matmul_wide`), chosen per shape class and per adapter.
//!
//! Small products take the 64 tile (more workgroups to spread). A product of at least
//! [`TUNE_MIN`] multiply-adds is timed once with both kernels on its adapter, the first time its
//! shape class is seen (outside a capture), and the faster one is kept for the class: in memory
//! and in a file of the cache directory keyed by adapter, backend and driver, so later processes
//! reuse the measurement. `RUSTDL_GPU_AUTOTUNE=0` turns the timing off (the size rule alone
//! then decides); `rustdl.gpu.set_matmul_tile` forces one kernel (for tests and benchmarks).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::context::{lock, Event, GpuContext};
use crate::error::{Error, Result};

/// Rows and columns of C per workgroup of the two kernels.
pub(crate) const SQUARE: u32 = 64;
pub(crate) const WIDE: u32 = 128;

/// Multiply-adds from which a product's kernel is measured rather than taken from the size rule.
const TUNE_MIN: usize = 1 << 27;
/// Wide workgroups from which the size rule takes the wide tile.
const WIDE_MIN_GROUPS: usize = 256;
/// Workgroup memory the wide tile needs (two buffers of two 128x8 f32 tiles).
const WIDE_SHARED_BYTES: u32 = 16 * 1024;
/// Timed runs of each kernel when a shape class is measured (after one untimed run each).
const TUNE_RUNS: usize = 2;

/// 0: chosen per shape; else the tile every product takes (where it can).
static FORCED: AtomicU32 = AtomicU32::new(0);

/// Forces every product onto the `tile` kernel (64 or 128), or back to the per-shape choice
/// (`None`). Returns the previous setting.
pub fn set_forced(tile: Option<u32>) -> Result<Option<u32>> {
    let v = match tile {
        None => 0,
        Some(t @ (SQUARE | WIDE)) => t,
        Some(t) => {
            return Err(Error::Value(format!(
                "set_matmul_tile: the matmul kernels have tiles of 64 and 128, not {t}"
            )))
        }
    };
    let old = FORCED.swap(v, Ordering::Relaxed);
    Ok((old != 0).then_some(old))
}

/// A product's shape class: each size rounded up to a power of two, and how the operands are
/// laid out (the kernels' load paths differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ShapeClass {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    /// A_VEC, B_VEC, A_T, B_T, C_T, A im2col, B im2col, A dgrad, A grouped as bits
    layout: u32,
}

impl ShapeClass {
    pub fn new(m: usize, n: usize, k: usize, batch: usize, flags: [bool; 9]) -> ShapeClass {
        let log = |v: usize| v.max(1).next_power_of_two().trailing_zeros();
        ShapeClass {
            m: log(m),
            n: log(n),
            k: log(k),
            batch: log(batch),
            layout: flags
                .iter()
                .enumerate()
                .map(|(i, &f)| u32::from(f) << i)
                .sum(),
        }
    }

    fn text(&self) -> String {
        format!(
            "m{}n{}k{}b{}l{}",
            self.m, self.n, self.k, self.batch, self.layout
        )
    }

    fn parse(s: &str) -> Option<ShapeClass> {
        let mut v = [0u32; 5];
        let mut rest = s;
        for (slot, tag) in v.iter_mut().zip(['m', 'n', 'k', 'b', 'l']) {
            rest = rest.strip_prefix(tag)?;
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            *slot = rest[..end].parse().ok()?;
            rest = &rest[end..];
        }
        rest.is_empty().then_some(ShapeClass {
            m: v[0],
            n: v[1],
            k: v[2],
            batch: v[3],
            layout: v[4],
        })
    }
}

/// The tiles measured on one device, by shape class.
#[derive(Default)]
pub(crate) struct TileTable {
    /// whether the cache file's lines for this adapter were read
    loaded: bool,
    chosen: HashMap<ShapeClass, u32>,
}

/// The cache file of measured tiles: `$RUSTDL_CACHE_DIR`, else `$XDG_CACHE_HOME/rustdl`, else
/// `~/.cache/rustdl`; `None` where none is known.
fn cache_file() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = env("RUSTDL_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("rustdl")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("rustdl")))?;
    Some(dir.join("gpu_matmul_tiles.tsv"))
}

/// Whether products are timed to choose their tile (`RUSTDL_GPU_AUTOTUNE=0` says no).
fn tuning_enabled() -> bool {
    !matches!(
        std::env::var("RUSTDL_GPU_AUTOTUNE").as_deref(),
        Ok("0") | Ok("false") | Ok("off") | Ok("no")
    )
}

/// The adapter, backend and driver a measurement belongs to, as one line-safe string.
fn adapter_key(ctx: &GpuContext) -> String {
    let i = &ctx.info;
    format!(
        "{} / {:?} / {} / {} / {:04x}:{:04x}",
        i.name, i.backend, i.driver, i.driver_info, i.vendor, i.device
    )
    .replace(['\t', '\n', '\r'], " ")
}

/// Reads this adapter's lines of the cache file into `t` (once; a missing or damaged file
/// is no error: its classes are measured again).
fn load(ctx: &GpuContext, t: &mut TileTable) {
    if t.loaded {
        return;
    }
    t.loaded = true;
    let Some(text) = cache_file().and_then(|p| std::fs::read_to_string(p).ok()) else {
        return;
    };
    let me = adapter_key(ctx);
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 3 || f[0] != me {
            continue;
        }
        if let (Some(class), Ok(tile @ (SQUARE | WIDE))) = (ShapeClass::parse(f[1]), f[2].parse()) {
            t.chosen.insert(class, tile);
        }
    }
}

/// Appends one measurement to the cache file (best effort: an unwritable directory keeps the
/// choice in memory only).
fn save(ctx: &GpuContext, class: ShapeClass, tile: u32, ms: [f64; 2]) {
    let Some(path) = cache_file() else {
        return;
    };
    if let Some(dir) = path.parent() {
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
    }
    let fresh = !path.exists();
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    let mut line = String::new();
    if fresh {
        line.push_str(
            "# rustdl: matmul tile per adapter and shape class, measured on first use \
             (adapter\tclass\ttile\tms with 64\tms with 128); delete to measure again\n",
        );
    }
    line.push_str(&format!(
        "{}\t{}\t{tile}\t{:.4}\t{:.4}\n",
        adapter_key(ctx),
        class.text(),
        ms[0],
        ms[1]
    ));
    let _ = f.write_all(line.as_bytes());
}

/// Whether the adapter can run the wide tile at all.
pub(crate) fn wide_fits(ctx: &GpuContext) -> bool {
    ctx.limits.max_compute_workgroup_storage_size >= WIDE_SHARED_BYTES
}

/// The tile of a product of `m x k` by `k x n`, `batch` times, in shape class `class`, that
/// can take either kernel. `run(tile)` records the product with that tile (used to time both
/// when the class is measured now).
pub(crate) fn choose(
    ctx: &Arc<GpuContext>,
    (m, n, k, batch): (usize, usize, usize, usize),
    class: ShapeClass,
    mut run: impl FnMut(u32) -> Result<()>,
) -> Result<u32> {
    if !wide_fits(ctx) {
        return Ok(SQUARE);
    }
    let forced = FORCED.load(Ordering::Relaxed);
    if forced != 0 {
        return Ok(forced);
    }
    let wide_groups = m.div_ceil(WIDE as usize) * n.div_ceil(WIDE as usize) * batch;
    let by_size = if wide_groups >= WIDE_MIN_GROUPS {
        WIDE
    } else {
        SQUARE
    };
    if m.saturating_mul(n).saturating_mul(k).saturating_mul(batch) < TUNE_MIN {
        return Ok(by_size);
    }
    {
        let mut t = lock(&ctx.tiles);
        load(ctx, &mut t);
        if let Some(&tile) = t.chosen.get(&class) {
            return Ok(tile);
        }
    }
    if ctx.capturing() || !tuning_enabled() {
        return Ok(by_size);
    }
    let ms = measure(ctx, &mut run)?;
    let tile = if ms[1] < ms[0] { WIDE } else { SQUARE };
    lock(&ctx.tiles).chosen.insert(class, tile);
    save(ctx, class, tile, ms);
    Ok(tile)
}

/// Best-of-[`TUNE_RUNS`] milliseconds of the product with each tile (after an untimed run of
/// each, which compiles its pipeline): device time where the adapter writes timestamps, else
/// the host's time to submit and wait.
fn measure(ctx: &Arc<GpuContext>, run: &mut impl FnMut(u32) -> Result<()>) -> Result<[f64; 2]> {
    ctx.synchronize()?;
    let tiles = [SQUARE, WIDE];
    for &t in &tiles {
        run(t)?;
    }
    ctx.synchronize()?;
    let mut best = [f64::INFINITY; 2];
    for _ in 0..TUNE_RUNS {
        for (slot, &t) in best.iter_mut().zip(&tiles) {
            let ms = if ctx.timestamps {
                let mut start = Event::new(ctx.clone())?;
                let mut end = Event::new(ctx.clone())?;
                start.record()?;
                run(t)?;
                end.record()?;
                start.elapsed_ms(&end)?
            } else {
                let t0 = Instant::now();
                run(t)?;
                ctx.synchronize()?;
                t0.elapsed().as_secs_f64() * 1e3
            };
            *slot = slot.min(ms);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_classes_round_trip_through_their_text() {
        for (m, n, k, b, f) in [
            (1, 1, 1, 1, [false; 9]),
            (
                67,
                129,
                50_176,
                3,
                [true, false, true, false, true, false, true, false, true],
            ),
            (4096, 4096, 4096, 1, [true; 9]),
        ] {
            let c = ShapeClass::new(m, n, k, b, f);
            assert_eq!(ShapeClass::parse(&c.text()), Some(c), "{}", c.text());
        }
        assert_eq!(ShapeClass::parse("m1n2k3b4"), None);
        assert_eq!(ShapeClass::parse("m1n2k3b4l5x"), None);
        assert_eq!(ShapeClass::parse("garbage"), None);
        // sizes in one power-of-two bucket share a class; the next size up does not
        let a = ShapeClass::new(1000, 1000, 1000, 1, [false; 9]);
        assert_eq!(a, ShapeClass::new(1024, 513, 777, 1, [false; 9]));
        assert_ne!(a, ShapeClass::new(1025, 1000, 1000, 1, [false; 9]));
    }

    #[test]
    fn only_the_two_tiles_can_be_forced() {
        assert!(set_forced(Some(96)).is_err());
        assert!(set_forced(Some(0)).is_err());
    }
}
