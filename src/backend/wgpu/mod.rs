//! GPU backend on wgpu: WGSL compute shaders (`shaders/*.wgsl`) behind the backend contract
//! (`backend::contract::Backend`, implemented in `device`).
//!
//! * `context` — one lazily created context per adapter (device, queue, error capture) and the
//!   batched recording of commands: ops are recorded into one encoder that is submitted only when
//!   data must come back to the host or the batch holds 64 dispatches.
//! * `pool` — caching pool of storage buffers by size class (`empty_cache` releases it).
//! * `pipelines` — shader sources (generated constants + `shaders/prelude.wgsl` + the file),
//!   entry-point descriptions and the pipeline cache keyed by shader, entry point and
//!   specialization constants.
//! * `codes` — op and dtype codes, defined once and generated into WGSL constants.
//! * `params` — typed parameter blocks (`#[repr(C)]` Pod structs mirrored by WGSL structs).
//! * `launch` — host helpers shared by the families: checks, layout merging, grids.
//! * one module per kernel family, mirroring `shaders/`: `elementwise`, `reduce`, `softmax`,
//!   `matmul`, `conv`, `index`, `random`, `optim`, `scan`, `recurrent`, `attention`, `class_loss`;
//!   and `transfer`
//!   (uploads and downloads).
//! * `contract` — the descriptions `tests/shader_contract.rs` checks against the WGSL.
//!
//! # Dtypes on the GPU
//!
//! Every element is one 32-bit word. `float32` is stored as f32. **`int64` tensors on the GPU
//! hold 32-bit values** (stored as i32): uploading an int64 outside `[-2^31, 2^31)` fails with
//! `Error::Value`, and integer arithmetic on the GPU wraps at 32 bits. `bool` is a u32 holding 0
//! or 1. `float64` is not supported on the GPU (`Error::DType`). Downloads convert back to the
//! host types (`CpuStorage::I64`, `CpuStorage::Bool`).
//!
//! # Out-of-range indices
//!
//! `index_select`, `index_add`, `gather` and `scatter_add` raise `Error::Index` for an index
//! outside its dimension, as on the CPU, and the shaders additionally clamp every index, so no
//! kernel ever reads or writes outside its buffers. The check is done before dispatch: each int64
//! GPU storage carries the value range it is known to have when that is known on the host (data
//! uploaded from the host, fills, argmax/argmin results, copies, `where` of known operands), and
//! an index tensor whose range lies inside the dimension needs no GPU work. Otherwise a min and a
//! max reduction over the index view run on the GPU and their two values are read back (one
//! submit and wait) before the op is recorded.

mod attention;
mod channel;
mod class_loss;
mod codes;
mod context;
pub mod contract;
mod conv;
mod device;
mod elementwise;
mod index;
mod launch;
pub(crate) mod matmul;
mod optim;
mod params;
mod pipelines;
mod pool;
mod random;
mod recurrent;
mod reduce;
mod scan;
mod softmax;
mod tiles;
mod transfer;

use std::sync::Arc;

use crate::dtype::DType;
use crate::error::Result;
use context::{context, lock, GpuContext, COUNTERS};

pub use attention::{attention_backward, attention_forward};
pub use channel::{channel_affine, channel_dot, channel_moments};
pub use class_loss::{class_loss_backward, class_loss_forward};
pub use conv::{col2im, im2col, max_pool2d};
pub use device::Gpu;
pub use elementwise::{assign, binary, cast, copy, full, unary, where_};
pub use index::{gather, index_add, index_select, scatter_add};
pub use matmul::matmul;
pub use optim::optim_step;
pub use random::rand;
pub use recurrent::{rnn_cell_backward, rnn_cell_forward};
pub use reduce::reduce;
pub use scan::{argsort, linear_scan};
pub use softmax::softmax;
pub use tiles::set_forced as set_matmul_tile;
pub use transfer::{download, upload};

/// A tensor's elements in a GPU buffer (one 32-bit word per element; see the module doc).
pub struct GpuStorage {
    pub(crate) buf: wgpu::Buffer,
    /// bytes allocated for `buf` (its pool size class)
    class: u64,
    pub(crate) ctx: Arc<GpuContext>,
    pub(crate) dtype: DType,
    pub(crate) len: usize,
    /// For int64: a range every stored value is known to lie in (lets index ops skip a check).
    pub(crate) range: Option<(i64, i64)>,
}

impl GpuStorage {
    /// Room for `len` elements of `dtype` from the context's pool (`clean`: a buffer no pending
    /// command uses, required for host writes).
    pub(crate) fn alloc(
        ctx: &Arc<GpuContext>,
        dtype: DType,
        len: usize,
        clean: bool,
        what: &str,
    ) -> Result<GpuStorage> {
        let (buf, class) = ctx.alloc(len as u64 * 4, clean, what)?;
        Ok(GpuStorage {
            buf,
            class,
            ctx: ctx.clone(),
            dtype,
            len,
            range: None,
        })
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn device_index(&self) -> usize {
        self.ctx.index
    }
}

/// Whether `g`'s buffer may be handed to another storage by an in-place write that moves a
/// fresh result in (see `Tensor::move_from`): not while a step is being captured, and not a
/// buffer a captured graph reads or writes by identity.
pub(crate) fn replaceable(g: &GpuStorage) -> bool {
    !g.ctx.capturing() && !lock(&g.ctx.pool).is_pinned(&g.buf)
}

impl Drop for GpuStorage {
    fn drop(&mut self) {
        // the handle is reference counted: commands still pending keep the buffer alive, and the
        // pool only hands it to later commands (ordered after them) until the batch is submitted
        lock(&self.ctx.pool).release(self.buf.clone(), self.class);
    }
}

impl std::fmt::Debug for GpuStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuStorage")
            .field("dtype", &self.dtype)
            .field("len", &self.len)
            .field("device", &self.ctx.index)
            .finish()
    }
}

/// True when a GPU adapter is present and its device can be created.
pub fn is_available() -> bool {
    context(0).is_ok()
}

/// Number of GPU adapters found (`gpu:0` .. `gpu:N-1`).
pub fn device_count() -> usize {
    context::adapter_count()
}

/// Facts about the adapter of `gpu:0`: name, backend, device_type, driver, driver_info, ...
pub fn adapter_info() -> Result<Vec<(String, String)>> {
    adapter_info_of(0)
}

/// Facts about the adapter of `gpu:index`.
pub fn adapter_info_of(index: usize) -> Result<Vec<(String, String)>> {
    let ctx = context(index)?;
    let i = &ctx.info;
    let l = &ctx.limits;
    Ok(vec![
        ("name".into(), i.name.clone()),
        ("backend".into(), i.backend.to_string()),
        ("device_type".into(), format!("{:?}", i.device_type)),
        ("driver".into(), i.driver.clone()),
        ("driver_info".into(), i.driver_info.clone()),
        ("vendor".into(), format!("0x{:04x}", i.vendor)),
        ("device".into(), format!("0x{:04x}", i.device)),
        ("index".into(), index.to_string()),
        // int64 tensors live as 32-bit integers on the GPU (see the module doc)
        ("int64_storage_bits".into(), "32".into()),
        ("max_buffer_size".into(), l.max_buffer_size.to_string()),
        (
            "max_storage_buffer_binding_size".into(),
            l.max_storage_buffer_binding_size.to_string(),
        ),
        (
            "max_storage_buffers_per_shader_stage".into(),
            l.max_storage_buffers_per_shader_stage.to_string(),
        ),
    ])
}

/// Counters of the GPU backend, summed over devices:
/// `submits`, `dispatches`, `pipelines_compiled`, `pool_hits`, `pool_misses`, `uploads`,
/// `downloads`, `index_checks` (index validations that needed a readback), `passes` (compute
/// passes begun: one per run of dispatches), `bind_groups_created`, `bind_group_cache_hits`, `submit_cpu_ns` (CPU time
/// the calling threads spent inside the driver's submit and poll), `replays` (captured graphs
/// replayed), and
/// `bytes_allocated` (bytes held by live buffers plus the pool) = `bytes_live` + `bytes_pooled`.
pub fn stats() -> Vec<(String, u64)> {
    use std::sync::atomic::Ordering::Relaxed;
    let (mut live, mut pooled) = (0, 0);
    for c in context::live_contexts() {
        let p = lock(&c.pool);
        live += p.live_bytes;
        pooled += p.pooled_bytes;
    }
    let c = &COUNTERS;
    vec![
        ("submits".into(), c.submits.load(Relaxed)),
        ("dispatches".into(), c.dispatches.load(Relaxed)),
        (
            "pipelines_compiled".into(),
            c.pipelines_compiled.load(Relaxed),
        ),
        ("pool_hits".into(), c.pool_hits.load(Relaxed)),
        ("pool_misses".into(), c.pool_misses.load(Relaxed)),
        ("uploads".into(), c.uploads.load(Relaxed)),
        ("downloads".into(), c.downloads.load(Relaxed)),
        ("index_checks".into(), c.index_checks.load(Relaxed)),
        ("passes".into(), c.passes.load(Relaxed)),
        (
            "bind_groups_created".into(),
            c.bind_groups_created.load(Relaxed),
        ),
        (
            "bind_group_cache_hits".into(),
            c.bind_group_cache_hits.load(Relaxed),
        ),
        ("submit_cpu_ns".into(), c.submit_cpu_ns.load(Relaxed)),
        ("replays".into(), c.replays.load(Relaxed)),
        ("bytes_allocated".into(), live + pooled),
        ("bytes_live".into(), live),
        ("bytes_pooled".into(), pooled),
    ]
}

pub use context::{Event, Graph};

/// A timing event on `gpu:index` (see [`Event`]).
pub fn event(index: usize) -> Result<Event> {
    Event::new(context(index)?)
}

/// Starts capturing every command recorded on `gpu:index` into a graph (see [`capture_end`]).
pub fn capture_begin(index: usize) -> Result<()> {
    context(index)?.begin_capture()
}

/// Ends the capture on `gpu:index`: the graph of the commands recorded since
/// [`capture_begin`], which `Graph::replay` records again with one call.
pub fn capture_end(index: usize) -> Result<Graph> {
    context(index)?.end_capture()
}

/// Drops an open capture on `gpu:index` (after the captured code failed).
pub fn capture_abort(index: usize) -> Result<()> {
    context(index)?.abort_capture();
    Ok(())
}

/// Starts recording every dispatch (kernel entry point and workgroup grid), dropping an
/// earlier trace.
pub fn trace_start() {
    context::set_trace(true);
}

/// Stops the dispatch trace and returns it in dispatch order.
pub fn trace_stop() -> Vec<(String, [u32; 3])> {
    context::set_trace(false)
        .into_iter()
        .map(|(n, g)| (n.to_string(), g))
        .collect()
}

/// One counter of [`stats`] by name (0 when unknown).
pub fn stat(name: &str) -> u64 {
    stats()
        .into_iter()
        .find(|(k, _)| k == name)
        .map_or(0, |(_, v)| v)
}

/// Submits all recorded work and waits until every device is idle.
pub fn synchronize() -> Result<()> {
    for c in context::live_contexts() {
        c.synchronize()?;
    }
    Ok(())
}

/// Releases every cached (unused) buffer of the pools; live tensors are untouched.
pub fn empty_cache() {
    for c in context::live_contexts() {
        lock(&c.pool).clear();
        c.forget_bind_groups();
    }
}
