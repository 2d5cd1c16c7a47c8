//! GPU queries for Python (placeholder until the wgpu backend lands: reports no adapter).

use pyo3::prelude::*;

#[pyfunction]
fn gpu_is_available() -> bool {
    crate::backend::wgpu::is_available()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gpu_is_available, m)?)?;
    Ok(())
}
