//! Size arguments as Python gives them (signed, with `-1` meaning "keep"), checked and resolved
//! in the core: `expand(*sizes)`, `broadcast_to(size)` and `narrow` with a negative start.

use crate::error::{Error, Result};
use crate::shape::norm_dim;
use crate::tensor::Tensor;

impl Tensor {
    /// The target shape of `op(sizes)` (`expand` or `broadcast_to`): at least as many sizes as
    /// dims, `-1` keeps an existing dim; a `-1` in a new leading dim or a negative size fails.
    fn resolve_expand(&self, sizes: &[isize], op: &str) -> Result<Vec<usize>> {
        let nd = self.ndim();
        if sizes.len() < nd {
            return Err(Error::Value(format!(
                "{op}: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({nd})",
                sizes.len()
            )));
        }
        let lead = sizes.len() - nd;
        sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| match s {
                -1 if i >= lead => Ok(self.shape()[i - lead]),
                -1 if op == "expand" => Err(Error::Value(format!(
                    "expand: -1 is not allowed in a leading, non-existing dimension (sizes {sizes:?})"
                ))),
                s => usize::try_from(s)
                    .map_err(|_| Error::Value(format!("{op}: invalid size {s} in {sizes:?}"))),
            })
            .collect()
    }

    /// `expand(*sizes)` with PyTorch's `-1` (a view).
    pub fn expand_signed(&self, sizes: &[isize]) -> Result<Tensor> {
        self.expand(&self.resolve_expand(sizes, "expand")?)
    }

    /// `broadcast_to(size)` with PyTorch's `-1` (a view).
    pub fn broadcast_to_signed(&self, sizes: &[isize]) -> Result<Tensor> {
        self.expand(&self.resolve_expand(sizes, "broadcast_to")?)
    }

    /// `narrow(dim, start, length)` where a negative `start` counts from the end (a view).
    pub fn narrow_signed(&self, dim: isize, start: isize, length: isize) -> Result<Tensor> {
        let d = norm_dim(dim, self.ndim(), "narrow")?;
        let size = self.shape().get(d).copied().unwrap_or(1) as isize;
        let s = if start < 0 { start + size } else { start };
        if s < 0 || length < 0 {
            return Err(Error::Index(format!(
                "narrow: start {start} and length {length} must lie in dimension {d} of size {size}"
            )));
        }
        self.narrow(dim, s as usize, length as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::dtype::DType;

    #[test]
    fn minus_one_keeps_a_dim_and_negative_starts_count_from_the_end() -> Result<()> {
        let t = Tensor::zeros(&[3, 1], DType::F32, Device::Cpu)?;
        assert_eq!(t.expand_signed(&[2, -1, 4])?.shape(), &[2, 3, 4]);
        assert!(
            matches!(t.expand_signed(&[-1, 3, 4]), Err(Error::Value(m)) if m.contains("leading"))
        );
        assert!(
            matches!(t.broadcast_to_signed(&[4]), Err(Error::Value(m)) if m.contains("number of sizes"))
        );
        assert_eq!(t.narrow_signed(0, -2, 2)?.shape(), &[2, 1]);
        assert!(matches!(t.narrow_signed(0, -4, 1), Err(Error::Index(_))));
        Ok(())
    }
}
