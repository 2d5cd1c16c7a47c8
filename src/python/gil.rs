//! GIL release: the one policy every entry point that computes goes through.
//!
//! `nogil(py, work, f)` runs `f` with the GIL released (`py.detach`) when `work` says the call
//! can run long: a CPU call over at least `DETACH_MIN` elements, or any call that touches a GPU
//! tensor (reading a result back waits on the device). Below that, a kernel takes about as long
//! as releasing and re-taking the GIL, and re-taking it while another Python thread runs can cost
//! a whole switch interval, so small calls keep the GIL. Nothing inside `f` may touch Python
//! objects: it only sees core values (`Tensor`, numbers, shapes), which the `Send` bound enforces.

use pyo3::prelude::*;

use crate::error::Result as CoreResult;
use crate::tensor::Tensor;

/// Work (elements) from which a CPU call releases the GIL.
pub const DETACH_MIN: usize = 1 << 16;

/// The work of a call over `ts`: their element count, or `usize::MAX` when one of them lives on
/// a GPU (the call may wait on the device).
pub fn work(ts: &[&Tensor]) -> usize {
    if ts.iter().any(|t| t.device().is_gpu()) {
        return usize::MAX;
    }
    ts.iter().map(|t| t.numel()).fold(0, usize::saturating_add)
}

/// Runs `f`, with the GIL released when `work` reaches `DETACH_MIN`.
pub fn nogil<T: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> T + Send) -> T {
    if work >= DETACH_MIN {
        py.detach(f)
    } else {
        f()
    }
}

/// `nogil` for a core call, its error mapped to the Python exception.
pub fn run<T: Send>(
    py: Python<'_>,
    work: usize,
    f: impl FnOnce() -> CoreResult<T> + Send,
) -> PyResult<T> {
    // the last line of defence: a panic left in a core op is a RuntimeError, not a
    // PanicException (which is no Exception and escapes `except Exception`)
    Ok(nogil(py, work, || crate::backend::guard("a rustdl op", f))?)
}

/// `f(x)` under the policy, the work counted from `x` and `others`.
pub fn on<T: Send>(
    py: Python<'_>,
    x: &Tensor,
    others: &[&Tensor],
    f: impl FnOnce(&Tensor) -> CoreResult<T> + Send,
) -> PyResult<T> {
    let w = work(others).saturating_add(work(&[x]));
    run(py, w, || f(x))
}

/// The work of a call that always releases the GIL: backward, optimizer steps, checkpoint I/O,
/// GPU queries and readbacks.
pub const ALWAYS: usize = usize::MAX;
