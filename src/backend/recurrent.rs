//! What a fused recurrent layer is, shared by the op layer and the backends' kernels.

use crate::error::{Error, Result};

/// The cell of a recurrent layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RnnMode {
    RnnTanh,
    RnnRelu,
    Lstm,
    Gru,
}

impl RnnMode {
    /// `"RNN_TANH"`, `"RNN_RELU"`, `"LSTM"`, `"GRU"` (any case).
    pub fn parse(s: &str) -> Result<RnnMode> {
        match s.to_ascii_uppercase().as_str() {
            "RNN_TANH" | "TANH" => Ok(RnnMode::RnnTanh),
            "RNN_RELU" | "RELU" => Ok(RnnMode::RnnRelu),
            "LSTM" => Ok(RnnMode::Lstm),
            "GRU" => Ok(RnnMode::Gru),
            _ => Err(Error::Value(format!(
                "rnn_layer: unknown mode {s:?} (expected RNN_TANH, RNN_RELU, LSTM or GRU)"
            ))),
        }
    }

    /// Gates per hidden unit: the row blocks of `W_ih` / `W_hh`.
    pub fn gates(self) -> usize {
        match self {
            RnnMode::RnnTanh | RnnMode::RnnRelu => 1,
            RnnMode::Lstm => 4,
            RnnMode::Gru => 3,
        }
    }
}

/// Sizes of one layer direction: steps, batch, input features, hidden units, gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RnnDims {
    pub l: usize,
    pub n: usize,
    pub i: usize,
    pub h: usize,
    pub g: usize,
}
