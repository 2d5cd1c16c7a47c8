//! GPU queries for Python: availability, adapter facts, backend counters, synchronisation and
//! the buffer-pool cache, over `backend::wgpu`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::backend::wgpu;

use super::gil;

/// True when a GPU adapter was found and its device could be created (the first call creates it).
#[pyfunction]
fn gpu_is_available(py: Python<'_>) -> bool {
    gil::nogil(py, gil::ALWAYS, wgpu::is_available)
}

/// Number of GPU adapters (`gpu:0` .. `gpu:N-1`).
#[pyfunction]
fn gpu_device_count(py: Python<'_>) -> usize {
    gil::nogil(py, gil::ALWAYS, wgpu::device_count)
}

/// Facts about the adapter of `gpu:index`: name, backend, device_type, driver, driver_info, ...
#[pyfunction]
#[pyo3(signature = (index = 0))]
fn gpu_adapter_info(py: Python<'_>, index: usize) -> PyResult<Bound<'_, PyDict>> {
    let info = gil::nogil(py, gil::ALWAYS, || wgpu::adapter_info_of(index))?;
    let d = PyDict::new(py);
    for (k, v) in info {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// Backend counters: submits, dispatches, pipelines_compiled, pool_hits, bytes_allocated, ...
#[pyfunction]
fn gpu_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in wgpu::stats() {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// Starts recording every GPU dispatch (kernel name and workgroup grid).
#[pyfunction]
fn gpu_trace_start() {
    wgpu::trace_start()
}

/// Stops the dispatch trace: a list of `(kernel, (x, y, z))` in dispatch order.
#[pyfunction]
fn gpu_trace_stop() -> Vec<(String, (u32, u32, u32))> {
    wgpu::trace_stop()
        .into_iter()
        .map(|(n, g)| (n, (g[0], g[1], g[2])))
        .collect()
}

/// A captured GPU step (see `rustdl.gpu.Graph`): its commands, replayed with one call.
#[pyclass(frozen, name = "_GpuGraph", module = "rustdl._rustdl")]
struct GpuGraph {
    g: wgpu::Graph,
}

#[pymethods]
impl GpuGraph {
    /// Records the captured commands again, the optimizer steps `advance` steps past the
    /// captured one (by default, as many as this graph was replayed) at learning rate `lr`
    /// (by default the captured one).
    #[pyo3(signature = (advance = None, lr = None))]
    fn replay(&self, advance: Option<u64>, lr: Option<f64>) -> PyResult<()> {
        self.g.replay(advance, lr)?;
        Ok(())
    }

    /// Dispatches per replay.
    #[getter]
    fn dispatches(&self) -> usize {
        self.g.dispatches()
    }

    /// The captured commands' kernels in order (copies and fills as `copy` and `fill`).
    fn kernels(&self) -> Vec<&'static str> {
        self.g.kernels()
    }
}

/// A GPU timing event (`rustdl.gpu.Event`): a timestamp the device writes when it reaches
/// the point of the command stream where the event was recorded.
#[pyclass(name = "_GpuEvent", module = "rustdl._rustdl")]
struct GpuEvent {
    e: wgpu::Event,
}

#[pymethods]
impl GpuEvent {
    #[new]
    #[pyo3(signature = (index = 0))]
    fn new(index: usize) -> PyResult<Self> {
        Ok(GpuEvent {
            e: wgpu::event(index)?,
        })
    }

    /// Records the event after the work recorded so far.
    fn record(&mut self) -> PyResult<()> {
        self.e.record()?;
        Ok(())
    }

    /// Milliseconds of GPU time from this event to `end` (waits until both are reached).
    fn elapsed_time(&self, py: Python<'_>, end: PyRef<'_, GpuEvent>) -> PyResult<f64> {
        let end = &end.e;
        Ok(gil::nogil(py, gil::ALWAYS, || self.e.elapsed_ms(end))?)
    }
}

/// Starts capturing the commands of `gpu:index` into a graph.
#[pyfunction]
#[pyo3(signature = (index = 0))]
fn gpu_capture_begin(index: usize) -> PyResult<()> {
    wgpu::capture_begin(index)?;
    Ok(())
}

/// Ends the capture of `gpu:index` and returns its graph.
#[pyfunction]
#[pyo3(signature = (index = 0))]
fn gpu_capture_end(index: usize) -> PyResult<GpuGraph> {
    Ok(GpuGraph {
        g: wgpu::capture_end(index)?,
    })
}

/// Drops an open capture of `gpu:index` without a graph.
#[pyfunction]
#[pyo3(signature = (index = 0))]
fn gpu_capture_abort(index: usize) -> PyResult<()> {
    wgpu::capture_abort(index)?;
    Ok(())
}

/// Submits all recorded GPU work and waits for it to finish (the GIL is released meanwhile).
#[pyfunction]
fn gpu_synchronize(py: Python<'_>) -> PyResult<()> {
    gil::nogil(py, gil::ALWAYS, wgpu::synchronize)?;
    Ok(())
}

/// Releases the cached, unused GPU buffers of the pool.
#[pyfunction]
fn gpu_empty_cache(py: Python<'_>) {
    gil::nogil(py, gil::ALWAYS, wgpu::empty_cache)
}

/// Forces every GPU matmul onto the 64 or 128 tile kernel, or back to the per-shape choice
/// (`None`); returns the previous setting.
#[pyfunction]
#[pyo3(signature = (tile=None))]
fn gpu_set_matmul_tile(tile: Option<u32>) -> PyResult<Option<u32>> {
    Ok(wgpu::set_matmul_tile(tile)?)
}

/// Adds the `gpu_*` functions to the `_rustdl` module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gpu_is_available, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_device_count, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_adapter_info, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_stats, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_trace_start, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_capture_begin, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_capture_end, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_capture_abort, m)?)?;
    m.add_class::<GpuGraph>()?;
    m.add_class::<GpuEvent>()?;
    m.add_function(wrap_pyfunction!(gpu_trace_stop, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_set_matmul_tile, m)?)?;
    Ok(())
}
