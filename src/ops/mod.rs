//! Differentiable ops, one file per family: each forward next to its backward rule.

pub mod elementwise;
pub mod index;
pub mod indexing;
pub mod inplace;
pub mod loss;
pub mod matmul;
pub mod misc;
pub mod nn;
pub mod promote;
pub mod recurrent;
pub mod reduce;
pub mod scan;
pub mod shape;
pub mod sizes;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Fails unless both tensors are on one device.
pub(crate) fn check_device(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    crate::error::same_device(op, a.device(), b.device())
}

/// Fails for operands of different dtypes (PyTorch does not promote these in matrix products
/// and convolutions).
pub(crate) fn check_same_float(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    // any mismatch, an integer operand beside a float one included (PyTorch's "expected m1
    // and m2 to have the same dtype"; `x.long() @ w` promoting silently hid a bug)
    if a.dtype() != b.dtype() {
        return Err(Error::DType(format!(
            "{op}: expected both operands to have the same dtype, got {} (shape {:?}) and {} (shape {:?})",
            a.dtype(),
            a.shape(),
            b.dtype(),
            b.shape()
        )));
    }
    Ok(())
}

/// Fails unless the tensor has a floating dtype.
pub(crate) fn check_float(op: &str, a: &Tensor) -> Result<()> {
    if !a.dtype().is_float() {
        return Err(Error::DType(format!(
            "{op}: expected a floating-point tensor, got {} of shape {:?}",
            a.dtype(),
            a.shape()
        )));
    }
    Ok(())
}
