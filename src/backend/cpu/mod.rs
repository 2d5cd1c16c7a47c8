//! The CPU backend: a module map, the thread thresholds, and the storage helpers every op family
//! shares.
//!
//! One file per op family: [`elementwise`] (unary, binary, where), [`reduce`], [`softmax`],
//! [`random`] (the counter-based generator), [`transfer`] (copy, cast, assign), [`index`],
//! [`scan`], [`conv`] (im2col and pooling), [`direct_conv`], [`matmul`], [`optim`];
//! [`strided`] holds the view iteration they share, and `device` implements the backend
//! contract over them (the CPU's algorithm choices, e.g. the direct convolution for few taps,
//! live there). Work is split over the threads of [`pool`] (its own fork-join pool; see there
//! for `RUSTDL_NUM_THREADS`) only above [`PAR_MIN`] elements, so small tensors pay no
//! threading cost. The first use of the pool also tunes the process allocator, once
//! ([`alloc`]).
//!
//! Hot loops are compiled twice, for the baseline target and for AVX2+FMA, and the processor
//! picks at run time (see `simd`). Setting `RUSTDL_CPU_SIMD=portable` (read once, by the first
//! kernel that asks) forces the portable loops everywhere that choice is made: a way to rule out
//! a SIMD bug. Matrix products go through the `gemm` crate, which makes its own choice.

pub mod alloc;
pub mod attention;
pub mod conv;
mod device;
pub mod direct_conv;
pub mod elementwise;
pub mod image_conv;
pub mod index;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod random;
pub mod recurrent;
pub mod reduce;
pub mod scan;
pub(crate) mod simd;
pub mod softmax;
pub mod strided;
pub mod transfer;
pub mod winograd;

pub use alloc::tune_allocator;
pub use conv::{col2im, im2col, max_pool2d};
pub use device::Cpu;
pub use elementwise::{binary, erf, unary, where_};
pub use index::{gather, index_add, index_select, scatter_add};
pub use matmul::matmul;
pub use random::{hash32, rand, stream_key, uniform01};
pub use reduce::reduce;
pub use scan::{argsort, linear_scan};
pub use softmax::softmax;
pub use strided::{dense, gather_view, map1, map2, view_slice};
pub use transfer::{assign, cast, copy};

use crate::storage::CpuStorage;

/// Element count above which kernels use several threads.
pub const PAR_MIN: usize = 1 << 15;

/// Elements per parallel task of the dense elementwise loops.
const PAR_CHUNK: usize = 1 << 14;

/// Applies `$body` with `$v` bound to the typed vector of a storage.
#[macro_export]
macro_rules! with_cpu {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::storage::CpuStorage::F32($v) => $body,
            $crate::storage::CpuStorage::F64($v) => $body,
            $crate::storage::CpuStorage::I64($v) => $body,
            $crate::storage::CpuStorage::Bool($v) => $body,
        }
    };
}

/// Wraps a typed vector back into a storage.
pub trait IntoStorage: Sized {
    fn into_storage(v: Vec<Self>) -> CpuStorage;
}
macro_rules! into_storage {
    ($($t:ty => $variant:ident),*) => {
        $(impl IntoStorage for $t {
            fn into_storage(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
        })*
    };
}
into_storage!(f32 => F32, f64 => F64, i64 => I64, bool => Bool);
