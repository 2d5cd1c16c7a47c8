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

/// One step of the device walk of a layer direction ([`crate::backend::Backend::rnn_cell_forward`]
/// and `rnn_cell_backward`): the gate math of every batch row at time `t`, in one kernel.
///
/// The buffers, all contiguous, in elements (`GH = G·H`, `A = 1` for LSTM / GRU, else 0):
/// * `xp` `(L, N, GH)`: the input projection `x W_ihᵀ + b_ih` of every step;
/// * `hh` `(N, GH)`: `h W_hhᵀ` of this step;
/// * `consts`: `[b_hh (GH) when has_bhh | lengths (N) when has_lens]` (lengths as floats);
/// * `state`: `(L+1)` slots of `h` `(N, H)`, then (LSTM) `(L+1)` slots of `c` from `c_base`;
///   the step reads slot `slot_in` and writes slot `slot_out` (a finished row keeps its state);
/// * `tape` `(L, N, (G+A)·H)`: per row the activated gates (GRU: r, z, n), then LSTM's
///   `tanh(c)` or GRU's `W_hn h + b_hn`;
/// * `out`: the layer's packed result; the step writes output rows `t` (zero when finished).
///
/// Backward reads `gout` (the packed result's gradient), the tape, the states and `dhm`
/// (`dG_h W_hh` of the step handled before, absent on the first), and updates
/// `carry = [dh (N, H) | dc (N, H), LSTM | lengths (N) when has_lens]`: on entry `dh` is the
/// gradient reaching the state beside `dhm`, on exit the part of the next one that bypasses
/// the product. It writes the gate gradients `dG_x` of step `t` into `dg` `(L, N, GH)` and,
/// for GRU, `dG_h` at `dgh_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RnnStep {
    pub mode: RnnMode,
    pub n: usize,
    pub h: usize,
    pub t: usize,
    pub slot_in: usize,
    pub slot_out: usize,
    /// start of the `c` slots in `state`
    pub c_base: usize,
    pub has_bhh: bool,
    pub has_lens: bool,
    /// where the lengths start in `consts` (forward) or `carry` (backward)
    pub lens_at: usize,
    /// backward: `dhm` is present
    pub has_dhm: bool,
    /// backward: where `dG_h` starts in `dg` (0 unless GRU)
    pub dgh_at: usize,
}

impl RnnStep {
    /// Columns per row of the tape: the gates and LSTM's / GRU's extra block.
    pub fn tape_width(&self) -> usize {
        match self.mode {
            RnnMode::Lstm | RnnMode::Gru => (self.mode.gates() + 1) * self.h,
            _ => self.h,
        }
    }
}

/// The read-only operands of one forward step (see [`RnnStep`]).
#[derive(Clone, Copy)]
pub struct RnnCellIn<'a, S> {
    pub xp: &'a S,
    pub hh: &'a S,
    pub consts: Option<&'a S>,
}

/// The read-only operands of one backward step (see [`RnnStep`]).
#[derive(Clone, Copy)]
pub struct RnnCellGradIn<'a, S> {
    pub gout: &'a S,
    pub tape: &'a S,
    pub state: &'a S,
    pub dhm: Option<&'a S>,
}

impl<'a, S> RnnCellIn<'a, S> {
    /// The same operands seen through `f` (the router's view of a backend's storage).
    pub fn map<U>(self, f: impl Fn(&'a S) -> &'a U) -> RnnCellIn<'a, U> {
        RnnCellIn {
            xp: f(self.xp),
            hh: f(self.hh),
            consts: self.consts.map(&f),
        }
    }
    /// Every present operand.
    pub fn all(&self) -> Vec<&'a S> {
        [Some(self.xp), Some(self.hh), self.consts]
            .into_iter()
            .flatten()
            .collect()
    }
}

impl<'a, S> RnnCellGradIn<'a, S> {
    /// The same operands seen through `f` (the router's view of a backend's storage).
    pub fn map<U>(self, f: impl Fn(&'a S) -> &'a U) -> RnnCellGradIn<'a, U> {
        RnnCellGradIn {
            gout: f(self.gout),
            tape: f(self.tape),
            state: f(self.state),
            dhm: self.dhm.map(&f),
        }
    }
    /// Every present operand.
    pub fn all(&self) -> Vec<&'a S> {
        [Some(self.gout), Some(self.tape), Some(self.state), self.dhm]
            .into_iter()
            .flatten()
            .collect()
    }
}
