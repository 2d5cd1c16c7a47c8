//! Index ops: index_select, gather, scatter_add, masked_fill, masked_select.

use crate::backend;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::norm_dim;
use crate::tensor::Tensor;

use super::check_device;

fn check_index(op: &str, idx: &Tensor) -> Result<()> {
    if idx.dtype() != DType::I64 {
        return Err(Error::DType(format!(
            "{op}: expected an int64 index tensor, got {} of shape {:?}",
            idx.dtype(),
            idx.shape()
        )));
    }
    Ok(())
}

impl Tensor {
    /// Entries `idx` (1-D int64) along `dim`.
    pub fn index_select(&self, dim: isize, idx: &Tensor) -> Result<Tensor> {
        check_index("index_select", idx)?;
        check_device("index_select", self, idx)?;
        let idx = if idx.ndim() == 0 {
            idx.reshape(&[1])?
        } else {
            idx.clone()
        };
        if idx.ndim() != 1 {
            return Err(Error::Shape(format!(
                "index_select: index must be 1-D, got shape {:?}",
                idx.shape()
            )));
        }
        let x = if self.ndim() == 0 {
            self.reshape(&[1])?
        } else {
            self.clone()
        };
        let d = norm_dim(dim, x.ndim(), "index_select")?;
        let s = backend::index_select(&x.storage(), x.layout(), d, &idx.storage(), idx.layout())?;
        let mut shape = x.shape().to_vec();
        shape[d] = idx.numel();
        let in_shape = x.shape().to_vec();
        let i = idx.detach();
        Ok(Tensor::from_op(
            s,
            &shape,
            "index_select",
            &[&x],
            move |g| {
                let gs = backend::index_add(
                    &in_shape,
                    d,
                    &i.storage(),
                    i.layout(),
                    &g.storage(),
                    g.layout(),
                )?;
                Ok(vec![Some(Tensor::from_contiguous(gs, &in_shape))])
            },
        ))
    }

    /// `out[p] = self[p with dim replaced by idx[p]]` (idx has self's rank).
    pub fn gather(&self, dim: isize, idx: &Tensor) -> Result<Tensor> {
        check_index("gather", idx)?;
        check_device("gather", self, idx)?;
        let d = norm_dim(dim, self.ndim(), "gather")?;
        let s = backend::gather(
            &self.storage(),
            self.layout(),
            d,
            &idx.storage(),
            idx.layout(),
        )?;
        let in_shape = self.shape().to_vec();
        let i = idx.detach();
        Ok(Tensor::from_op(
            s,
            idx.shape(),
            "gather",
            &[self],
            move |g| {
                let gs = backend::scatter_add(
                    &in_shape,
                    d,
                    &i.storage(),
                    i.layout(),
                    &g.storage(),
                    g.layout(),
                )?;
                Ok(vec![Some(Tensor::from_contiguous(gs, &in_shape))])
            },
        ))
    }

    /// A copy of self with `src[p]` added at `p with dim replaced by idx[p]` (out of place).
    pub fn scatter_add(&self, dim: isize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
        check_index("scatter_add", idx)?;
        check_device("scatter_add", self, idx)?;
        check_device("scatter_add", self, src)?;
        let d = norm_dim(dim, self.ndim(), "scatter_add")?;
        if idx.shape() != src.shape() {
            return Err(Error::Shape(format!(
                "scatter_add: index shape {:?} and source shape {:?} must match",
                idx.shape(),
                src.shape()
            )));
        }
        let src = src.to_dtype(self.dtype())?;
        let s = backend::scatter_add(
            self.shape(),
            d,
            &idx.storage(),
            idx.layout(),
            &src.storage(),
            src.layout(),
        )?;
        let added = Tensor::from_contiguous(s, self.shape());
        let i = idx.detach();
        let added = added.with_rule("scatter_add", &[&src], move |g| {
            Ok(vec![Some(g.gather(d as isize, &i)?)])
        });
        self.add(&added)
    }

    /// `value` where `mask` is true (broadcast), self elsewhere.
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            return Err(Error::DType(format!(
                "masked_fill: mask must be bool, got {}",
                mask.dtype()
            )));
        }
        let v = self.scalar_like(value)?;
        let out = Tensor::where_cond(mask, &v, self)?;
        if out.shape() != self.shape() {
            return Err(Error::Shape(format!(
                "masked_fill: mask of shape {:?} does not broadcast to the tensor's shape {:?}",
                mask.shape(),
                self.shape()
            )));
        }
        Ok(out)
    }

    /// The elements where `mask` (broadcast to self's shape) is true, as a 1-D tensor.
    pub fn masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            return Err(Error::DType(format!(
                "masked_select: mask must be bool, got {}",
                mask.dtype()
            )));
        }
        let shape = crate::shape::broadcast_shapes(self.shape(), mask.shape(), "masked_select")?;
        let m = mask.expand(&shape)?.to_f64_vec()?;
        let idx: Vec<i64> = m
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != 0.0)
            .map(|(i, _)| i as i64)
            .collect();
        let n = idx.len();
        let it = Tensor::from_i64(idx, &[n])?.to_device(self.device())?;
        self.expand(&shape)?
            .reshape(&[shape.iter().product()])?
            .index_select(0, &it)
    }

    /// Indices of nonzero elements, shape `(count, ndim)`.
    pub fn nonzero(&self) -> Result<Tensor> {
        let v = self.to_f64_vec()?;
        let strides = crate::shape::contiguous_strides(self.shape());
        let mut out = Vec::new();
        let mut count = 0;
        for (i, &x) in v.iter().enumerate() {
            if x != 0.0 {
                count += 1;
                for (d, &s) in strides.iter().enumerate() {
                    out.push(((i / s) % self.shape()[d].max(1)) as i64);
                }
            }
        }
        Tensor::from_i64(out, &[count, self.ndim()])?.to_device(self.device())
    }
}
