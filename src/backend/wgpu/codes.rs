//! Op codes, dtype codes and sizes shared with the shaders, defined once.
//!
//! Each table is a Rust enum whose discriminants are the codes; [`wgsl_constants`] writes
//! them as WGSL `const`s (`const UN_LOG1P: u32 = 32u;`) that are prepended to every shader at
//! load, so the shaders name codes and never repeat a number.

pub use super::elementwise::{BinaryCode, UnaryCode};
use super::params::DIM_VEC4S;
use crate::dtype::DType;
use crate::error::Result;

/// Declares a code table: an enum whose discriminants are the codes, with `table()` for the
/// generated WGSL constants. Families declare their own tables (see `elementwise`).
macro_rules! code_table {
    ($(#[$m:meta])* $name:ident, $prefix:literal, [$($v:ident),* $(,)?]) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum $name {
            $($v),*
        }

        impl $name {
            /// (WGSL constant name, code) of every variant.
            pub fn table() -> Vec<(String, u32)> {
                vec![$((wgsl_name($prefix, stringify!($v)), $name::$v as u32)),*]
            }

            /// The code as an override-constant value.
            pub fn code(self) -> u32 {
                self as u32
            }
        }
    };
}
pub(crate) use code_table;

code_table!(
    /// Reductions of `reduce.wgsl` (`RED_*`).
    ReduceCode,
    "RED",
    [Sum, Max, Min, ArgMax, ArgMin]
);

code_table!(
    /// Optimizers of `optim.wgsl` (`OPT_*`), picked by its `OPTIMIZER` override.
    OptimCode,
    "OPT",
    [Sgd, Adam, RmsProp, Adagrad, Adamax, NAdam, RAdam, Adadelta]
);

code_table!(
    /// Cells of `recurrent.wgsl` (`RNN_*`), picked by its `MODE` override.
    RnnCode,
    "RNN",
    [Tanh, Relu, Lstm, Gru]
);

code_table!(
    /// How a 32-bit word holds an element (`DT_*`): f32 bits, int64 held as i32, bool as 0/1.
    DtCode,
    "DT",
    [F32, I64, Bool]
);

/// Invocations per workgroup of the 1-D kernels (`WG` in WGSL).
pub const WG: u32 = 256;

/// `Log1p` → `UN_LOG1P`, `GeluGrad` → `UN_GELU_GRAD`.
pub(crate) fn wgsl_name(prefix: &str, variant: &str) -> String {
    let mut s = String::from(prefix);
    for (i, c) in variant.chars().enumerate() {
        if i == 0 || c.is_ascii_uppercase() {
            s.push('_');
        }
        s.push(c.to_ascii_uppercase());
    }
    s
}

/// The WGSL declarations generated from Rust, prepended to every shader.
pub fn wgsl_constants() -> String {
    let mut s = String::from("// generated from src/backend/wgpu/codes.rs\n");
    s += &format!("const WG: u32 = {WG}u;\n");
    s += &format!("alias Dims = array<vec4<u32>, {DIM_VEC4S}>;\n");
    s += &format!("const DIM_VEC4S: u32 = {DIM_VEC4S}u;\n");
    s += &format!("const ATTN_ROWS: u32 = {}u;\n", super::attention::ROWS);
    s += &format!(
        "const ATTN_MAX_DIM: u32 = {}u;\n",
        super::attention::MAX_DIM
    );
    for table in [
        UnaryCode::table(),
        BinaryCode::table(),
        ReduceCode::table(),
        OptimCode::table(),
        RnnCode::table(),
        DtCode::table(),
    ] {
        for (name, code) in table {
            s += &format!("const {name}: u32 = {code}u;\n");
        }
    }
    s
}

/// The shaders' dtype code of `dt` (float64 has none on the GPU).
pub(crate) fn dt_code(dt: DType, op: &str) -> Result<u32> {
    match dt.storage() {
        DType::F32 => Ok(DtCode::F32.code()),
        DType::Bool => Ok(DtCode::Bool.code()),
        DType::F64 => Err(super::launch::f64_unsupported(op)),
        _ => Ok(DtCode::I64.code()),
    }
}
