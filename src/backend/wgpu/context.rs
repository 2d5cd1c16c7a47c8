//! Per-adapter GPU context: device and queue, error capture, buffer allocation and the batched
//! recording of commands into one encoder that is submitted only when needed.
//!
//! Adapters are enumerated once per process (`RUSTDL_GPU_BACKEND=vulkan|gl|metal|dx12` picks
//! the backend, `noop` a device that runs no kernel, for timing the host's dispatch path;
//! otherwise the primary backends, then GL as a fallback), ordered discrete GPU first, and a
//! context is created lazily for each adapter index the first time it is used.
//!
//! Batching: every op records its dispatches into the context's open command encoder. The
//! encoder is submitted when data must come back to the host (a readback, `synchronize`) or
//! when it holds [`MAX_BATCH`] dispatches. Each dispatch's small parameter block gets its own
//! 512-byte slot of one uniform buffer; the slots are written with one `write_buffer` just
//! before the submit, which wgpu orders before the batch's commands.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};

use super::params::ParamBlock;
use super::pipelines::{Kernel, Pipeline, PipelineCache};
use super::pool::{size_class, BufferPool, USAGE};
use crate::error::{Error, Result};

/// Dispatches recorded before a batch is submitted without being asked.
pub(crate) const MAX_BATCH: usize = 64;
/// Bytes of one dispatch's slot in the uniform buffer: the largest parameter block allowed
/// (a multiple of every adapter's uniform offset alignment).
const PARAM_BYTES: u64 = 512;
/// Bytes of small uploads one batch stages for in-order copies (see [`GpuContext::write`]).
const STAGED_BYTES: u64 = 16 * 1024;
/// The largest upload that is staged rather than written with its own `write_buffer`.
const STAGED_MAX: usize = 4096;

/// Process-wide counters reported by `stats()`.
pub(crate) struct Counters {
    pub submits: AtomicU64,
    pub dispatches: AtomicU64,
    pub pipelines_compiled: AtomicU64,
    pub pool_hits: AtomicU64,
    pub pool_misses: AtomicU64,
    pub uploads: AtomicU64,
    pub downloads: AtomicU64,
    pub index_checks: AtomicU64,
    pub passes: AtomicU64,
    pub bind_groups_created: AtomicU64,
    pub bind_group_cache_hits: AtomicU64,
    /// CPU time of the calling threads inside `Queue::submit` and `Device::poll`: the driver's
    /// execution of submitted work where it runs on the submitting thread (lavapipe)
    pub submit_cpu_ns: AtomicU64,
    pub replays: AtomicU64,
}

pub(crate) static COUNTERS: Counters = Counters {
    submits: AtomicU64::new(0),
    dispatches: AtomicU64::new(0),
    pipelines_compiled: AtomicU64::new(0),
    pool_hits: AtomicU64::new(0),
    pool_misses: AtomicU64::new(0),
    uploads: AtomicU64::new(0),
    downloads: AtomicU64::new(0),
    index_checks: AtomicU64::new(0),
    passes: AtomicU64::new(0),
    bind_groups_created: AtomicU64::new(0),
    bind_group_cache_hits: AtomicU64::new(0),
    submit_cpu_ns: AtomicU64::new(0),
    replays: AtomicU64::new(0),
};

/// CPU time of the calling thread in nanoseconds (0 where the platform has no such clock).
fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through a valid pointer
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        }
    }
    0
}

/// Runs `f`, adding the calling thread's CPU time spent in it to `submit_cpu_ns`.
fn in_driver<T>(f: impl FnOnce() -> T) -> T {
    let t0 = thread_cpu_ns();
    let out = f();
    COUNTERS
        .submit_cpu_ns
        .fetch_add(thread_cpu_ns().saturating_sub(t0), Ordering::Relaxed);
    out
}

/// The dispatch trace: while `TRACING` is set, each dispatch appends its kernel name and grid.
static TRACING: AtomicBool = AtomicBool::new(false);
static TRACE: Mutex<Vec<(&'static str, [u32; 3])>> = Mutex::new(Vec::new());

/// Starts (clearing) or stops the dispatch trace; stopping returns what was recorded.
pub(crate) fn set_trace(on: bool) -> Vec<(&'static str, [u32; 3])> {
    let mut t = lock(&TRACE);
    TRACING.store(on, Ordering::Relaxed);
    std::mem::take(&mut *t)
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Locks a mutex, ignoring poisoning (the protected state stays consistent between calls).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The open batch of recorded commands.
struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    /// whether any command was recorded into `encoder` (it is opened ahead of the first one)
    recorded: bool,
    /// whether `pass` holds a dispatch (it is begun ahead of the first one)
    pass_used: bool,
    /// the compute pass consecutive dispatches share (ended by a copy, a clear or the submit)
    pass: Option<wgpu::ComputePass<'static>>,
    dispatches: usize,
    params: Vec<u8>,
    params_buf: wgpu::Buffer,
    /// small uploads of this batch, written to `staged_buf` with the parameter slots just
    /// before the submit and copied from there by copies recorded in command order
    staged: Vec<u8>,
    staged_buf: wgpu::Buffer,
}

impl Batch {
    /// The open command encoder (created when the batch is empty) for a command about to be
    /// recorded outside a compute pass (the pass is ended).
    fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        self.recorded = true;
        self.encoder.get_or_insert_with(|| new_encoder(device))
    }

    /// The open compute pass for a dispatch about to be recorded, begun when the last command
    /// recorded was not a dispatch.
    fn pass(&mut self, device: &wgpu::Device) -> &mut wgpu::ComputePass<'static> {
        self.recorded = true;
        if self.pass.is_none() {
            self.begin_pass(device);
        }
        if !self.pass_used {
            self.pass_used = true;
            bump(&COUNTERS.passes);
        }
        self.pass.as_mut().expect("begun above")
    }

    fn begin_pass(&mut self, device: &wgpu::Device) {
        let pass = self
            .encoder
            .get_or_insert_with(|| new_encoder(device))
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            })
            .forget_lifetime();
        self.pass = Some(pass);
        self.pass_used = false;
    }
}

fn new_encoder(device: &wgpu::Device) -> wgpu::CommandEncoder {
    device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("rustdl batch"),
    })
}

/// Bind groups most recently made, keyed by entry point and bound buffers (the uniform
/// block is bound at a dynamic offset, so it is not part of the key). The pool hands the same
/// buffers out again step after step, so a training loop finds most of its bind groups here.
#[derive(Default)]
struct BindGroups {
    map: rustc_hash::FxHashMap<BindKey, wgpu::BindGroup>,
}

/// A bind group's key: the entry point and its buffers, the first [`MAX_KEY_BUFFERS`] inline
/// (no allocation for most kernels) and any more in a vector.
type BindKey = (
    usize,
    [Option<wgpu::Buffer>; MAX_KEY_BUFFERS],
    Vec<wgpu::Buffer>,
);
const MAX_KEY_BUFFERS: usize = 8;

/// Recomputes a recorded dispatch's parameter block when it is replayed: from how many steps
/// the optimizers are past the captured one and the learning rate they have now (when the
/// replay gives one).
pub(crate) type Patch = Arc<dyn Fn(u64, Option<f64>) -> Result<Vec<u8>> + Send + Sync>;

/// One command of a captured step, replayed as recorded.
enum Recorded {
    Dispatch {
        pipeline: wgpu::ComputePipeline,
        bind: wgpu::BindGroup,
        params: Vec<u8>,
        groups: [u32; 3],
        patch: Option<Patch>,
        name: &'static str,
    },
    Copy {
        src: wgpu::Buffer,
        src_off: u64,
        dst: wgpu::Buffer,
        dst_off: u64,
        bytes: u64,
    },
    Clear {
        buf: wgpu::Buffer,
        bytes: u64,
    },
}

/// The commands recorded while a capture is open, with every buffer they touch.
#[derive(Default)]
struct Recording {
    cmds: Vec<Recorded>,
    buffers: Vec<wgpu::Buffer>,
}

/// A captured step: its commands and the buffers it owns (kept out of the pool while it lives).
pub struct Graph {
    ctx: Arc<GpuContext>,
    cmds: Vec<Recorded>,
    buffers: Vec<wgpu::Buffer>,
    replays: Mutex<u64>,
}

impl Graph {
    /// Dispatches per replay.
    pub fn dispatches(&self) -> usize {
        self.cmds
            .iter()
            .filter(|c| matches!(c, Recorded::Dispatch { .. }))
            .count()
    }

    /// The recorded commands' kernels, in order (copies and fills as `copy` and `fill`).
    pub fn kernels(&self) -> Vec<&'static str> {
        self.cmds
            .iter()
            .map(|c| match c {
                Recorded::Dispatch { name, .. } => *name,
                Recorded::Copy { .. } => "copy",
                Recorded::Clear { .. } => "fill",
            })
            .collect()
    }

    /// Records every command of the step again into the open batch (no pipeline lookups, no
    /// bind groups made); parameter blocks with a patch (optimizer steps) are recomputed for
    /// `advance` steps past the captured one (by default, the number of replays so far), at
    /// learning rate `lr` when given.
    pub fn replay(&self, advance: Option<u64>, lr: Option<f64>) -> Result<()> {
        let k = {
            let mut r = lock(&self.replays);
            *r += 1;
            advance.unwrap_or(*r)
        };
        let ctx = &self.ctx;
        if ctx.capturing() {
            return Err(Error::Gpu(
                "graph replay: a capture is open on this device; end it first".into(),
            ));
        }
        let mut guard = lock(&ctx.batch);
        for c in &self.cmds {
            match c {
                Recorded::Dispatch {
                    pipeline,
                    bind,
                    params,
                    groups,
                    patch,
                    name,
                } => {
                    if TRACING.load(Ordering::Relaxed) {
                        lock(&TRACE).push((name, *groups));
                    }
                    if guard.dispatches >= MAX_BATCH {
                        ctx.submit_locked(&mut guard);
                    }
                    let fresh;
                    let bytes = match patch {
                        Some(p) => {
                            fresh = p(k, lr)?;
                            &fresh
                        }
                        None => params,
                    };
                    let b = &mut *guard;
                    let slot = b.dispatches as u64 * PARAM_BYTES;
                    b.params.resize(slot as usize, 0);
                    b.params.extend_from_slice(bytes);
                    b.params.resize((slot + PARAM_BYTES) as usize, 0);
                    let pass = b.pass(&ctx.device);
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, bind, &[slot as u32]);
                    pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                    b.dispatches += 1;
                    bump(&COUNTERS.dispatches);
                }
                Recorded::Copy {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    bytes,
                } => {
                    let enc = guard.encoder(&ctx.device);
                    enc.copy_buffer_to_buffer(src, *src_off, dst, *dst_off, *bytes);
                }
                Recorded::Clear { buf, bytes } => {
                    let enc = guard.encoder(&ctx.device);
                    enc.clear_buffer(buf, 0, Some(*bytes));
                }
            }
        }
        drop(guard);
        bump(&COUNTERS.replays);
        ctx.check("graph replay")
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        lock(&self.ctx.pool).unpin(&self.buffers);
        // cached bind groups would keep the graph's freed buffers alive
        self.ctx.forget_bind_groups();
    }
}

/// Bind groups kept at most; the cache is emptied when it would grow beyond (a cached group
/// keeps its buffers alive).
const MAX_BIND_GROUPS: usize = 4096;

/// One adapter's device, queue, pools and open batch.
pub(crate) struct GpuContext {
    pub index: usize,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub pool: Mutex<BufferPool>,
    pipelines: Mutex<PipelineCache>,
    batch: Mutex<Batch>,
    bind_groups: Mutex<BindGroups>,
    /// the step being captured, if one is
    capture: Mutex<Option<Recording>>,
    /// whether `capture` holds a recording (read without the lock on every command)
    capturing: AtomicBool,
    errors: Arc<Mutex<Vec<String>>>,
    /// Tiny buffers bound to shader slots an op does not use (one per slot, so no buffer is
    /// bound twice as writable storage).
    pub dummies: Vec<wgpu::Buffer>,
    /// whether the device writes timestamps between commands (see [`Event`])
    pub timestamps: bool,
    /// the matmul tile measured fastest per shape class (see `tiles`)
    pub tiles: Mutex<super::tiles::TileTable>,
}

/// Enumerated adapters, or why there are none.
struct Adapters {
    list: Vec<wgpu::Adapter>,
    why_empty: String,
}

static ADAPTERS: OnceLock<Adapters> = OnceLock::new();
static CONTEXTS: Mutex<Vec<Option<Arc<GpuContext>>>> = Mutex::new(Vec::new());

fn backends_from_env() -> std::result::Result<Option<wgpu::Backends>, String> {
    let Ok(v) = std::env::var("RUSTDL_GPU_BACKEND") else {
        return Ok(None);
    };
    let b = match v.trim().to_ascii_lowercase().as_str() {
        "" => return Ok(None),
        "vulkan" | "vk" => wgpu::Backends::VULKAN,
        "gl" | "gles" | "opengl" => wgpu::Backends::GL,
        "metal" | "mtl" => wgpu::Backends::METAL,
        "dx12" | "d3d12" => wgpu::Backends::DX12,
        "noop" => wgpu::Backends::NOOP,
        other => {
            return Err(format!(
                "RUSTDL_GPU_BACKEND='{other}' is not one of vulkan, gl, metal, dx12 (or noop)"
            ))
        }
    };
    Ok(Some(b))
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut desc = wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    };
    if backends == wgpu::Backends::NOOP {
        // records and submits every command but runs no kernel (copies and fills do run):
        // the host's own dispatch path, timed with no driver and no shader work beside it.
        // It reports limits of the size lavapipe's are, without optional features, so the
        // kernels chosen are those CI's lavapipe runs.
        desc.backend_options.noop = wgpu::NoopBackendOptions {
            enable: true,
            limits: Some(wgpu::Limits {
                max_storage_buffers_per_shader_stage: 32,
                max_storage_buffer_binding_size: 1 << 27,
                max_buffer_size: (1 << 31) - 1,
                max_compute_workgroup_storage_size: 32768,
                max_compute_invocations_per_workgroup: 1024,
                max_compute_workgroup_size_x: 1024,
                max_compute_workgroup_size_y: 1024,
                ..wgpu::Limits::default()
            }),
            features: Some(wgpu::Features::empty()),
            device_type: Some(wgpu::DeviceType::Other),
            ..Default::default()
        };
    }
    let instance = wgpu::Instance::new(desc);
    let mut list: Vec<wgpu::Adapter> = pollster::block_on(instance.enumerate_adapters(backends))
        .into_iter()
        .filter(|a| {
            a.get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        })
        .collect();
    // device 0 should be the fastest: discrete, integrated, virtual, then CPU rasterizers
    let rank = |a: &wgpu::Adapter| {
        let i = a.get_info();
        let t = match i.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let b = if i.backend == wgpu::Backend::Gl { 1 } else { 0 };
        (t, b)
    };
    list.sort_by_key(rank);
    list
}

fn adapters() -> &'static Adapters {
    ADAPTERS.get_or_init(|| match backends_from_env() {
        Err(why) => Adapters {
            list: Vec::new(),
            why_empty: why,
        },
        Ok(Some(b)) => {
            let list = enumerate(b);
            Adapters {
                list,
                why_empty: format!("no GPU adapter with compute shaders found for backend {b:?}"),
            }
        }
        Ok(None) => {
            let mut list = enumerate(wgpu::Backends::PRIMARY);
            if list.is_empty() {
                list = enumerate(wgpu::Backends::GL);
            }
            Adapters {
                list,
                why_empty:
                    "no GPU adapter with compute shaders found (on Linux without a GPU, install \
                            Mesa's lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)"
                        .into(),
            }
        }
    })
}

/// Number of usable adapters.
pub(crate) fn adapter_count() -> usize {
    adapters().list.len()
}

/// The context of adapter `index`, created on first use.
pub(crate) fn context(index: usize) -> Result<Arc<GpuContext>> {
    let mut all = lock(&CONTEXTS);
    if let Some(Some(c)) = all.get(index) {
        return Ok(c.clone());
    }
    let ad = adapters();
    if ad.list.is_empty() {
        return Err(Error::Gpu(ad.why_empty.clone()));
    }
    let adapter = ad.list.get(index).ok_or_else(|| {
        Error::Device(format!(
            "gpu:{index} does not exist: {} GPU adapter(s) found",
            ad.list.len()
        ))
    })?;
    let ctx = Arc::new(GpuContext::new(index, adapter)?);
    if all.len() <= index {
        all.resize(index + 1, None);
    }
    all[index] = Some(ctx.clone());
    Ok(ctx)
}

/// Every context created so far.
pub(crate) fn live_contexts() -> Vec<Arc<GpuContext>> {
    lock(&CONTEXTS).iter().flatten().cloned().collect()
}

impl GpuContext {
    fn new(index: usize, adapter: &wgpu::Adapter) -> Result<GpuContext> {
        let info = adapter.get_info();
        let al = adapter.limits();
        let base = if adapter.get_downlevel_capabilities().is_webgpu_compliant() {
            wgpu::Limits::default()
        } else {
            wgpu::Limits::downlevel_defaults()
        };
        // what the kernels need, raised to what the adapter offers where bigger is better
        let limits = wgpu::Limits {
            max_storage_buffers_per_shader_stage: al.max_storage_buffers_per_shader_stage,
            max_storage_buffer_binding_size: al.max_storage_buffer_binding_size,
            max_buffer_size: al.max_buffer_size,
            max_uniform_buffer_binding_size: al.max_uniform_buffer_binding_size,
            max_compute_workgroup_storage_size: al.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: al.max_compute_invocations_per_workgroup,
            max_compute_workgroup_size_x: al.max_compute_workgroup_size_x,
            max_compute_workgroup_size_y: al.max_compute_workgroup_size_y,
            max_compute_workgroup_size_z: al.max_compute_workgroup_size_z,
            max_compute_workgroups_per_dimension: al.max_compute_workgroups_per_dimension,
            ..base
        };
        if limits.max_storage_buffers_per_shader_stage < 6
            || limits.max_compute_invocations_per_workgroup < 256
            || limits.max_compute_workgroup_size_x < 256
            || limits.max_compute_workgroup_storage_size < 8192
        {
            return Err(Error::Gpu(format!(
                "GPU adapter '{}' is too limited for rustdl's kernels (needs 6 storage buffers per stage, \
                 256 invocations and 8 KiB of workgroup memory)",
                info.name
            )));
        }
        // GPU timing (rustdl.gpu.Event) where the adapter can write timestamps between commands
        let timestamp_features =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
        let timestamps = adapter.features().contains(timestamp_features);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("rustdl"),
            required_features: timestamp_features & adapter.features(),
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| {
            Error::Gpu(format!(
                "requesting a device from '{}' failed: {e}",
                info.name
            ))
        })?;

        // wgpu's default handler panics; record errors instead and report them from the op
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            lock(&sink).push(e.to_string())
        }));
        let sink = errors.clone();
        device.set_device_lost_callback(move |reason, msg| {
            lock(&sink).push(format!("GPU device lost ({reason:?}): {msg}"));
        });

        let params_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rustdl params"),
            size: PARAM_BYTES * MAX_BATCH as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let staged_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rustdl staged uploads"),
            size: STAGED_BYTES,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let dummies = (0..20)
            .map(|_| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("rustdl unused slot"),
                    size: 256,
                    usage: USAGE,
                    mapped_at_creation: false,
                })
            })
            .collect();
        Ok(GpuContext {
            index,
            device,
            queue,
            info,
            limits,
            pool: Mutex::new(BufferPool::default()),
            pipelines: Mutex::new(PipelineCache::default()),
            batch: Mutex::new(Batch {
                encoder: None,
                recorded: false,
                pass_used: false,
                pass: None,
                dispatches: 0,
                params: Vec::new(),
                params_buf,
                staged: Vec::new(),
                staged_buf,
            }),
            bind_groups: Mutex::new(BindGroups::default()),
            capture: Mutex::new(None),
            capturing: AtomicBool::new(false),
            errors,
            dummies,
            timestamps,
            tiles: Mutex::new(Default::default()),
        })
    }

    /// Fails with the first error wgpu reported since the last check.
    pub fn check(&self, what: &str) -> Result<()> {
        let mut e = lock(&self.errors);
        if e.is_empty() {
            return Ok(());
        }
        let msg = e.join("; ");
        e.clear();
        Err(Error::Gpu(format!("{what}: {msg}")))
    }

    /// A storage buffer of at least `bytes` from the pool (`clean`: one no pending command uses).
    pub fn alloc(&self, bytes: u64, clean: bool, what: &str) -> Result<(wgpu::Buffer, u64)> {
        let class = size_class(bytes.max(4));
        let limit = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if class > limit {
            return Err(Error::Memory(format!(
                "{what}: a GPU buffer of {bytes} bytes exceeds the adapter's limit of {limit} bytes"
            )));
        }
        if let Some(b) = lock(&self.pool).take(class, clean) {
            bump(&COUNTERS.pool_hits);
            return Ok((b, class));
        }
        bump(&COUNTERS.pool_misses);
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: class,
            usage: USAGE,
            mapped_at_creation: false,
        });
        lock(&self.pool).created(class);
        self.check(what)?;
        Ok((buf, class))
    }

    fn pipeline(&self, k: &Kernel) -> Result<Pipeline> {
        let (p, compiled) = lock(&self.pipelines).get(&self.device, k);
        if compiled {
            bump(&COUNTERS.pipelines_compiled);
            self.check(&format!("compiling kernel {}", k.entry.name))?;
        }
        Ok(p)
    }

    /// Records one dispatch of `k` with parameter block `params` (binding 0) and the storage
    /// `buffers` at the entry's bindings, in the order of its description.
    pub fn dispatch<P: ParamBlock>(
        &self,
        k: &Kernel,
        params: &P,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Result<()> {
        self.dispatch_patched(k, params, buffers, groups, None)
    }

    /// [`GpuContext::dispatch`] whose parameter block a captured step recomputes with `patch`
    /// on each replay (an optimizer's step count).
    pub fn dispatch_patched<P: ParamBlock>(
        &self,
        k: &Kernel,
        params: &P,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
        patch: Option<Patch>,
    ) -> Result<()> {
        k.check::<P>(buffers.len())?;
        let params = bytemuck::bytes_of(params);
        if params.len() as u64 > PARAM_BYTES {
            return Err(Error::Gpu(format!(
                "{}: parameter block of {} bytes is too long",
                k.entry.name,
                params.len()
            )));
        }
        let max = self.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(Error::Gpu(format!(
                "{}: grid {groups:?} exceeds the adapter's {max} workgroups per dimension",
                k.entry.name
            )));
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let pipe = self.pipeline(k)?;
        let mut guard = lock(&self.batch);
        if guard.dispatches >= MAX_BATCH {
            self.submit_locked(&mut guard);
        }
        let b = &mut *guard;
        let slot = b.dispatches as u64 * PARAM_BYTES;
        b.params.resize(slot as usize, 0);
        b.params.extend_from_slice(params);
        b.params.resize((slot + PARAM_BYTES) as usize, 0);
        let bind = self.bind_group(k, &pipe, &b.params_buf, buffers);
        let pass = b.pass(&self.device);
        pass.set_pipeline(&pipe.pipeline);
        pass.set_bind_group(0, &bind, &[slot as u32]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        b.dispatches += 1;
        drop(guard);
        if let Some(rec) = self.recording().as_deref_mut().and_then(Option::as_mut) {
            rec.buffers.extend(buffers.iter().map(|&b| b.clone()));
            rec.cmds.push(Recorded::Dispatch {
                pipeline: pipe.pipeline.clone(),
                bind,
                params: params.to_vec(),
                groups,
                patch,
                name: k.entry.name,
            });
        }
        bump(&COUNTERS.dispatches);
        if TRACING.load(Ordering::Relaxed) {
            lock(&TRACE).push((k.entry.name, groups));
        }
        self.check(k.entry.name)
    }

    /// The bind group of `k`'s entry point over `buffers` (the parameter block at a dynamic
    /// offset of `params`), from the cache or made now.
    fn bind_group(
        &self,
        k: &Kernel,
        pipe: &Pipeline,
        params: &wgpu::Buffer,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let key: BindKey = (
            k.entry as *const _ as usize,
            std::array::from_fn(|i| buffers.get(i).map(|&b| b.clone())),
            buffers
                .iter()
                .skip(MAX_KEY_BUFFERS)
                .map(|&b| b.clone())
                .collect(),
        );
        let mut cache = lock(&self.bind_groups);
        if let Some(g) = cache.map.get(&key) {
            bump(&COUNTERS.bind_group_cache_hits);
            return g.clone();
        }
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: params,
                offset: 0,
                size: NonZeroU64::new(PARAM_BYTES),
            }),
        }];
        entries.extend(
            k.entry
                .bindings
                .iter()
                .zip(buffers)
                .map(|(&(binding, _), buf)| wgpu::BindGroupEntry {
                    binding,
                    resource: buf.as_entire_binding(),
                }),
        );
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipe.layout,
            entries: &entries,
        });
        bump(&COUNTERS.bind_groups_created);
        if cache.map.len() >= MAX_BIND_GROUPS {
            cache.map.clear();
        }
        cache.map.insert(key, bind.clone());
        bind
    }

    /// Starts recording every command of this device into a graph (see [`Graph`]).
    pub fn begin_capture(&self) -> Result<()> {
        let mut c = lock(&self.capture);
        if c.is_some() {
            return Err(Error::Gpu(format!(
                "graph capture: gpu:{} is already capturing",
                self.index
            )));
        }
        *c = Some(Recording::default());
        self.capturing.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Ends the capture: the graph of the commands recorded since [`GpuContext::begin_capture`].
    /// Every buffer they touch leaves the pool until the graph is dropped, so no later tensor
    /// is handed memory a replay writes.
    pub fn end_capture(self: &Arc<Self>) -> Result<Graph> {
        self.capturing.store(false, Ordering::SeqCst);
        let rec = lock(&self.capture).take().ok_or_else(|| {
            Error::Gpu(format!(
                "graph capture: gpu:{} is not capturing",
                self.index
            ))
        })?;
        let mut buffers = rec.buffers;
        buffers.sort();
        buffers.dedup();
        lock(&self.pool).pin(&buffers);
        Ok(Graph {
            ctx: self.clone(),
            cmds: rec.cmds,
            buffers,
            replays: Mutex::new(0),
        })
    }

    /// Drops an open capture without making a graph (after an error in the captured code).
    pub fn abort_capture(&self) {
        self.capturing.store(false, Ordering::SeqCst);
        lock(&self.capture).take();
    }

    /// The open recording, locked (`None` without taking the lock when none is open).
    fn recording(&self) -> Option<MutexGuard<'_, Option<Recording>>> {
        self.capturing().then(|| lock(&self.capture))
    }

    /// True while a capture is open.
    pub fn capturing(&self) -> bool {
        self.capturing.load(Ordering::Relaxed)
    }

    /// Forgets every cached bind group (they keep their buffers alive).
    pub fn forget_bind_groups(&self) {
        lock(&self.bind_groups).map.clear();
    }

    /// Records a buffer-to-buffer copy into the open batch.
    pub fn copy(
        &self,
        src: &wgpu::Buffer,
        src_off: u64,
        dst: &wgpu::Buffer,
        dst_off: u64,
        bytes: u64,
    ) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let mut guard = lock(&self.batch);
        let enc = guard.encoder(&self.device);
        enc.copy_buffer_to_buffer(src, src_off, dst, dst_off, bytes);
        drop(guard);
        if let Some(rec) = self.recording().as_deref_mut().and_then(Option::as_mut) {
            rec.buffers.extend([src.clone(), dst.clone()]);
            rec.cmds.push(Recorded::Copy {
                src: src.clone(),
                src_off,
                dst: dst.clone(),
                dst_off,
                bytes,
            });
        }
        self.check("copy")
    }

    /// Records zero-filling the first `bytes` of `buf` into the open batch.
    pub fn clear(&self, buf: &wgpu::Buffer, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let mut guard = lock(&self.batch);
        let enc = guard.encoder(&self.device);
        let bytes = bytes.div_ceil(4) * 4;
        enc.clear_buffer(buf, 0, Some(bytes));
        drop(guard);
        if let Some(rec) = self.recording().as_deref_mut().and_then(Option::as_mut) {
            rec.buffers.push(buf.clone());
            rec.cmds.push(Recorded::Clear {
                buf: buf.clone(),
                bytes,
            });
        }
        self.check("fill")
    }

    fn submit_locked(&self, b: &mut Batch) {
        if !b.recorded {
            return; // nothing recorded: the open encoder and pass wait for the next command
        }
        b.pass = None;
        b.recorded = false;
        let Some(enc) = b.encoder.take() else {
            return;
        };
        if b.dispatches > 0 {
            self.queue.write_buffer(&b.params_buf, 0, &b.params);
        }
        if !b.staged.is_empty() {
            self.queue.write_buffer(&b.staged_buf, 0, &b.staged);
            b.staged.clear();
        }
        let cmd = enc.finish();
        in_driver(|| self.queue.submit([cmd]));
        b.dispatches = 0;
        b.params.clear();
        lock(&self.pool).batch_submitted();
        bump(&COUNTERS.submits);
        // lets wgpu retire finished submissions without waiting
        let _ = in_driver(|| self.device.poll(wgpu::PollType::Poll));
        // the next batch's encoder and compute pass are opened now, while the device works on
        // this one (a synchronize waits right after), rather than by the next op
        b.begin_pass(&self.device);
    }

    /// Submits the open batch (no wait).
    pub fn flush(&self) -> Result<()> {
        let mut guard = lock(&self.batch);
        self.submit_locked(&mut guard);
        drop(guard);
        self.check("submit")
    }

    /// Submits the open batch and waits until the device is idle.
    pub fn synchronize(&self) -> Result<()> {
        self.flush()?;
        in_driver(|| self.device.poll(wgpu::PollType::wait_indefinitely()))
            .map_err(|e| Error::Gpu(format!("synchronize: {e}")))?;
        self.check("synchronize")
    }

    /// Copies `bytes` at `offset` of each buffer back to the host with one submit and one wait.
    pub fn read_back(&self, parts: &[(&wgpu::Buffer, u64, u64)]) -> Result<Vec<Vec<u8>>> {
        if self.capturing() {
            return Err(Error::Gpu(
                "reading GPU data back to the host (.item(), .cpu(), .numpy(), printing, or an \
                 index check) is not allowed while a step is being captured: the value would be \
                 frozen into every replay; read results after the capture ends"
                    .into(),
            ));
        }
        let total: u64 = parts.iter().map(|p| p.2.div_ceil(4) * 4).sum();
        if total == 0 {
            return Ok(parts.iter().map(|_| Vec::new()).collect());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rustdl readback"),
            size: total,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut guard = lock(&self.batch);
            let enc = guard.encoder(&self.device);
            let mut at = 0;
            for &(buf, off, bytes) in parts {
                let b = bytes.div_ceil(4) * 4;
                if b > 0 {
                    enc.copy_buffer_to_buffer(buf, off, &staging, at, b);
                }
                at += b;
            }
            self.submit_locked(&mut guard);
        }
        self.check("readback")?;
        let (tx, rx) = mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        in_driver(|| self.device.poll(wgpu::PollType::wait_indefinitely()))
            .map_err(|e| Error::Gpu(format!("readback: waiting for the GPU failed: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Gpu("readback: the map callback never ran".into()))?
            .map_err(|e| Error::Gpu(format!("readback: mapping failed: {e}")))?;
        let out = {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("readback: {e}")))?;
            let mut out = Vec::with_capacity(parts.len());
            let mut at = 0usize;
            for &(_, _, bytes) in parts {
                out.push(view[at..at + bytes as usize].to_vec());
                at += (bytes.div_ceil(4) * 4) as usize;
            }
            out
        };
        staging.unmap();
        bump(&COUNTERS.downloads);
        self.check("readback")?;
        Ok(out)
    }

    /// Writes host bytes at the start of `buf`: a small upload in command order (staged with the
    /// batch), a large one with `write_buffer` ahead of the batch, so `buf` must then be one no
    /// pending command uses (see the pool's clean list).
    pub fn write(&self, buf: &wgpu::Buffer, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return self.check("upload");
        }
        if self.capturing() {
            // inside a capture the upload becomes a copy from a buffer the graph keeps, so
            // each replay writes the same values in the same place of the command order
            let padded = data.len().div_ceil(4) * 4;
            let src = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("rustdl captured upload"),
                size: padded as u64,
                usage: wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            });
            {
                let mut view = src
                    .slice(..)
                    .get_mapped_range_mut()
                    .map_err(|e| Error::Gpu(format!("upload: {e}")))?;
                let mut bytes = data.to_vec();
                bytes.resize(padded, 0);
                view.copy_from_slice(&bytes);
            }
            src.unmap();
            self.copy(&src, 0, buf, 0, padded as u64)?;
            bump(&COUNTERS.uploads);
            return self.check("upload");
        }
        if data.len() <= STAGED_MAX {
            // a small upload (a scalar, a gradient seed, index bounds) joins the batch's
            // staged bytes, copied in command order: no staging buffer of its own per call
            let padded = data.len().div_ceil(4) * 4;
            let mut guard = lock(&self.batch);
            if (guard.staged.len() + padded) as u64 > STAGED_BYTES {
                self.submit_locked(&mut guard);
            }
            let b = &mut *guard;
            let off = b.staged.len() as u64;
            b.staged.extend_from_slice(data);
            b.staged.resize(off as usize + padded, 0);
            let staged = b.staged_buf.clone();
            b.encoder(&self.device)
                .copy_buffer_to_buffer(&staged, off, buf, 0, padded as u64);
        } else {
            self.queue.write_buffer(buf, 0, data);
        }
        bump(&COUNTERS.uploads);
        self.check("upload")
    }
}

/// A point in a device's command stream whose GPU time is written when the device reaches it
/// (`rustdl.gpu.Event`, as `torch.cuda.Event(enable_timing=True)`): the time between two events
/// is the device's time for the work recorded between them, whatever the host did meanwhile.
pub struct Event {
    ctx: Arc<GpuContext>,
    set: wgpu::QuerySet,
    /// where the timestamp is resolved to (8 bytes used)
    buf: wgpu::Buffer,
    recorded: bool,
}

impl Event {
    /// An event of `ctx`'s device; fails where the adapter cannot write timestamps.
    pub(crate) fn new(ctx: Arc<GpuContext>) -> Result<Event> {
        if !ctx.timestamps {
            return Err(Error::Gpu(format!(
                "Event: GPU adapter '{}' cannot write timestamps between commands (needs \
                 TIMESTAMP_QUERY and TIMESTAMP_QUERY_INSIDE_ENCODERS); time on the host \
                 around rustdl.gpu.synchronize() instead",
                ctx.info.name
            )));
        }
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("rustdl event"),
            ty: wgpu::QueryType::Timestamp,
            count: 1,
        });
        let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rustdl event time"),
            size: wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        ctx.check("Event")?;
        Ok(Event {
            ctx,
            set,
            buf,
            recorded: false,
        })
    }

    /// Records the event after all work recorded so far (again: moves it to this point).
    pub fn record(&mut self) -> Result<()> {
        if self.ctx.capturing() {
            return Err(Error::Gpu(
                "Event.record: timing events cannot be recorded while a step is being captured \
                 (a replay would not write them); time the replays from outside"
                    .into(),
            ));
        }
        let mut guard = lock(&self.ctx.batch);
        let enc = guard.encoder(&self.ctx.device);
        enc.write_timestamp(&self.set, 0);
        enc.resolve_query_set(&self.set, 0..1, &self.buf, 0);
        drop(guard);
        self.recorded = true;
        self.ctx.check("Event.record")
    }

    /// Milliseconds of device time from this event to `end` (waits for both to be reached).
    pub fn elapsed_ms(&self, end: &Event) -> Result<f64> {
        if !self.recorded || !end.recorded {
            return Err(Error::Value(
                "Event.elapsed_time: both events must be recorded first".into(),
            ));
        }
        if !Arc::ptr_eq(&self.ctx, &end.ctx) {
            return Err(Error::Value(
                "Event.elapsed_time: the events belong to different devices".into(),
            ));
        }
        let parts = self.ctx.read_back(&[(&self.buf, 0, 8), (&end.buf, 0, 8)])?;
        let at = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes read back"));
        let ticks = at(&parts[1]) as f64 - at(&parts[0]) as f64;
        Ok(ticks * f64::from(self.ctx.queue.get_timestamp_period()) / 1e6)
    }
}
