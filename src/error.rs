//! The one error type of the core; the Python layer maps each variant to a Python exception.

/// Every failure a user can cause, with a message naming the op and the shapes involved.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Shapes that do not fit the op (Python `ValueError`).
    #[error("{0}")]
    Shape(String),
    /// A dtype the op does not accept (Python `TypeError`).
    #[error("{0}")]
    DType(String),
    /// Tensors on different devices, or a device that is not there (Python `RuntimeError`).
    #[error("{0}")]
    Device(String),
    /// An index outside its range (Python `IndexError`).
    #[error("{0}")]
    Index(String),
    /// A bad argument value (Python `ValueError`).
    #[error("{0}")]
    Value(String),
    /// A misuse of autograd or other state (Python `RuntimeError`).
    #[error("{0}")]
    Runtime(String),
    /// A failure reading or writing a file (Python `OSError`).
    #[error("{0}")]
    Io(String),
    /// A failure inside the GPU backend (Python `rustdl.gpu.GpuError`, a `RuntimeError`).
    #[error("{0}")]
    Gpu(String),
    /// An allocation that cannot be made (Python `MemoryError`).
    #[error("{0}")]
    Memory(String),
}

impl Error {
    /// The same error with a leading `from:` in its message replaced by `to:`, so an error
    /// raised by an internal op names the op the user called.
    pub fn renamed(self, from: &str, to: &str) -> Error {
        let fix = |m: String| match m.strip_prefix(from).and_then(|r| r.strip_prefix(':')) {
            Some(rest) => format!("{to}:{rest}"),
            None => m,
        };
        match self {
            Error::Shape(m) => Error::Shape(fix(m)),
            Error::DType(m) => Error::DType(fix(m)),
            Error::Device(m) => Error::Device(fix(m)),
            Error::Index(m) => Error::Index(fix(m)),
            Error::Value(m) => Error::Value(fix(m)),
            Error::Runtime(m) => Error::Runtime(fix(m)),
            Error::Io(m) => Error::Io(fix(m)),
            Error::Gpu(m) => Error::Gpu(fix(m)),
            Error::Memory(m) => Error::Memory(fix(m)),
        }
    }
}

/// Fails unless the operands of `op` are on one device (mixing devices is an error, never a
/// silent copy).
pub fn same_device(op: &str, a: crate::device::Device, b: crate::device::Device) -> Result<()> {
    crate::ensure!(
        a == b,
        Device,
        "{op}: expected all tensors on the same device, but found {a} and {b}"
    );
    Ok(())
}

/// Result with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Returns `Err(Error::$kind(format!(…)))` from the enclosing function unless `$cond` holds:
/// the equality checks of shapes, dtypes and devices, each with its own message naming the op
/// and both operands (the message is formatted only on failure).
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $kind:ident, $($t:tt)+) => {
        if !$cond {
            return Err($crate::error::Error::$kind(format!($($t)+)));
        }
    };
}
