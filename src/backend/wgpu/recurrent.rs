//! Recurrent family (`shaders/recurrent.wgsl`): one step of a fused recurrent layer's gate math,
//! forward or backward, as one dispatch of one invocation per (batch row, hidden unit).

use super::codes::RnnCode;
use super::launch::{dispatch_threads, f64_unsupported};
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::{RnnCellGradIn, RnnCellIn, RnnMode, RnnStep};
use crate::dtype::DType;
use crate::error::{Error, Result};

param_block! {
    /// Parameters of the recurrent kernels: the fields of an [`RnnStep`] (flags as 0 / 1).
    pub struct RnnParams {
        pub n: u32,
        pub h: u32,
        pub t: u32,
        pub slot_in: u32,
        pub slot_out: u32,
        pub c_base: u32,
        pub lens_at: u32,
        pub dgh_at: u32,
        pub has_bhh: u32,
        pub has_lens: u32,
        pub has_dhm: u32,
        pub pad0: u32,
    }
}

/// `rnn_cell_forward`: the cell `MODE` (an [`RnnCode`]) over `xp`, `hh`, `consts` (read) and
/// `state`, `tape`, `out` (updated).
pub static RNN_CELL_FORWARD: Entry = Entry::threads::<RnnParams>(
    Shader::Recurrent,
    "rnn_cell_forward",
    &["MODE"],
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::ReadWrite),
        (5, Access::ReadWrite),
        (6, Access::ReadWrite),
    ],
);
/// `rnn_cell_backward`: over `gout`, `tape`, `state`, `dhm` (read) and `carry`, `dg` (updated).
pub static RNN_CELL_BACKWARD: Entry = Entry::threads::<RnnParams>(
    Shader::Recurrent,
    "rnn_cell_backward",
    &["MODE"],
    &[
        (7, Access::Read),
        (8, Access::Read),
        (9, Access::Read),
        (10, Access::Read),
        (11, Access::ReadWrite),
        (12, Access::ReadWrite),
    ],
);

/// Every recurrent entry point.
pub(crate) static ENTRIES: [&Entry; 2] = [&RNN_CELL_FORWARD, &RNN_CELL_BACKWARD];

fn code(mode: RnnMode) -> RnnCode {
    match mode {
        RnnMode::RnnTanh => RnnCode::Tanh,
        RnnMode::RnnRelu => RnnCode::Relu,
        RnnMode::Lstm => RnnCode::Lstm,
        RnnMode::Gru => RnnCode::Gru,
    }
}

/// The parameter block of `s`, after checking that every buffer is float32.
fn params(op: &str, s: &RnnStep, bufs: &[&GpuStorage]) -> Result<RnnParams> {
    for b in bufs {
        match b.dtype {
            DType::F32 => {}
            DType::F64 => return Err(f64_unsupported(op)),
            dt => {
                return Err(Error::DType(format!(
                    "{op}: expected float32 operands on the GPU, got {dt}"
                )))
            }
        }
    }
    let w = |v: usize| u32_of(op, v);
    Ok(RnnParams {
        n: w(s.n)?,
        h: w(s.h)?,
        t: w(s.t)?,
        slot_in: w(s.slot_in)?,
        slot_out: w(s.slot_out)?,
        c_base: w(s.c_base)?,
        lens_at: w(s.lens_at)?,
        dgh_at: w(s.dgh_at)?,
        has_bhh: s.has_bhh as u32,
        has_lens: s.has_lens as u32,
        has_dhm: s.has_dhm as u32,
        pad0: 0,
    })
}

/// One forward step (see [`RnnStep`]).
pub fn rnn_cell_forward(
    s: &RnnStep,
    i: RnnCellIn<'_, GpuStorage>,
    state: &mut GpuStorage,
    tape: &mut GpuStorage,
    out: &mut GpuStorage,
) -> Result<()> {
    let op = "rnn_layer";
    let mut all = i.all();
    all.extend([&*state, &*tape, &*out]);
    let p = params(op, s, &all)?;
    let count = s.n * s.h;
    if count == 0 {
        return Ok(());
    }
    let ctx = state.ctx.clone();
    let consts = i.consts.map_or(&ctx.dummies[0], |c| &c.buf);
    let k = Kernel::new(&RNN_CELL_FORWARD).with("MODE", code(s.mode).code());
    let bufs = [
        &i.xp.buf, &i.hh.buf, consts, &state.buf, &tape.buf, &out.buf,
    ];
    dispatch_threads(&ctx, &k, &p, &bufs, count, op)
}

/// One backward step (see [`RnnStep`]).
pub fn rnn_cell_backward(
    s: &RnnStep,
    i: RnnCellGradIn<'_, GpuStorage>,
    carry: &mut GpuStorage,
    dg: &mut GpuStorage,
) -> Result<()> {
    let op = "rnn_layer backward";
    let mut all = i.all();
    all.extend([&*carry, &*dg]);
    let p = params(op, s, &all)?;
    let count = s.n * s.h;
    if count == 0 {
        return Ok(());
    }
    let ctx = carry.ctx.clone();
    let dhm = i.dhm.map_or(&ctx.dummies[0], |d| &d.buf);
    let k = Kernel::new(&RNN_CELL_BACKWARD).with("MODE", code(s.mode).code());
    let bufs = [
        &i.gout.buf,
        &i.tape.buf,
        &i.state.buf,
        dhm,
        &carry.buf,
        &dg.buf,
    ];
    dispatch_threads(&ctx, &k, &p, &bufs, count, op)
}
