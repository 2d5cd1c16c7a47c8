// recurrent.wgsl — one step of a fused recurrent layer direction (RNN tanh / relu, LSTM, GRU
// with PyTorch's equations and gate order): the whole gate math of a step, forward or backward,
// in one dispatch of one invocation per (batch row b, hidden unit j). The recurrent products
// h W_hhᵀ and dG_h W_hh are matmul dispatches of their own.
//
// Buffer layouts are documented on RnnStep (src/backend/recurrent.rs); the arithmetic mirrors
// cell_forward / cell_backward of src/backend/cpu/recurrent.rs operation for operation.
// GH = G·H columns per gate row; the tape row holds the activated gates (GRU: r, z, n), then
// LSTM's tanh(c) or GRU's W_hn h + b_hn. A row whose length is reached keeps its state, gets a
// zero output and a zero gate gradient, and passes its state gradient through unchanged.

// `P: RnnParams`, generated from src/backend/wgpu/recurrent.rs.
@group(0) @binding(0) var<uniform> P: RnnParams;
// forward
@group(0) @binding(1) var<storage, read> XP: array<f32>;
@group(0) @binding(2) var<storage, read> HH: array<f32>;
@group(0) @binding(3) var<storage, read> CONSTS: array<f32>;
@group(0) @binding(4) var<storage, read_write> STATE: array<f32>;
@group(0) @binding(5) var<storage, read_write> TAPE: array<f32>;
@group(0) @binding(6) var<storage, read_write> OUT: array<f32>;
// backward
@group(0) @binding(7) var<storage, read> GOUT: array<f32>;
@group(0) @binding(8) var<storage, read> TAPE_R: array<f32>;
@group(0) @binding(9) var<storage, read> STATE_R: array<f32>;
@group(0) @binding(10) var<storage, read> DHM: array<f32>;
@group(0) @binding(11) var<storage, read_write> CARRY: array<f32>;
@group(0) @binding(12) var<storage, read_write> DG: array<f32>;

// The cell: an RNN_* code (one pipeline each).
override MODE: u32 = RNN_TANH;

fn gates() -> u32 {
    switch MODE {
        case RNN_LSTM: { return 4u; }
        case RNN_GRU: { return 3u; }
        default: { return 1u; }
    }
}

fn tape_width() -> u32 {
    if (MODE == RNN_LSTM || MODE == RNN_GRU) {
        return (gates() + 1u) * P.h;
    }
    return P.h;
}

fn rnn_sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

// tanh that neither overflows nor drops a NaN (as the elementwise kernel's)
fn rnn_tanh(x: f32) -> f32 {
    if (is_nan(x)) {
        return x;
    }
    return select(tanh(x), sign(x), abs(x) > 10.0);
}

// Whether a row of length `len` still runs at this step.
fn running(len: f32) -> bool {
    return P.has_lens == 0u || f32(P.t) < len;
}

// b_hh of gate q, unit j (0 when absent).
fn bias_hh(q: u32, j: u32) -> f32 {
    if (P.has_bhh != 0u) {
        return CONSTS[q * P.h + j];
    }
    return 0.0;
}

@compute @workgroup_size(WG)
fn rnn_cell_forward(g: Grid) {
    let e = flat_id(g);
    let n = P.n;
    let h = P.h;
    if (e >= n * h) {
        return;
    }
    let b = e / h;
    let j = e % h;
    let nh = n * h;
    let gh = gates() * h;
    let xr = (P.t * n + b) * gh;
    let hr = b * gh;
    let tr = (P.t * n + b) * tape_width();
    let hp = STATE[P.slot_in * nh + e];
    var len = 0.0;
    if (P.has_lens != 0u) {
        len = CONSTS[P.lens_at + b];
    }
    let live = running(len);
    var hv: f32;
    switch MODE {
        case RNN_LSTM: {
            let ig = rnn_sigmoid(XP[xr + j] + HH[hr + j] + bias_hh(0u, j));
            let fg = rnn_sigmoid(XP[xr + h + j] + HH[hr + h + j] + bias_hh(1u, j));
            let gg = rnn_tanh(XP[xr + 2u * h + j] + HH[hr + 2u * h + j] + bias_hh(2u, j));
            let og = rnn_sigmoid(XP[xr + 3u * h + j] + HH[hr + 3u * h + j] + bias_hh(3u, j));
            let ci = P.c_base + P.slot_in * nh + e;
            let cp = STATE[ci];
            let c = fg * cp + ig * gg;
            let tc = rnn_tanh(c);
            TAPE[tr + j] = ig;
            TAPE[tr + h + j] = fg;
            TAPE[tr + 2u * h + j] = gg;
            TAPE[tr + 3u * h + j] = og;
            TAPE[tr + 4u * h + j] = tc;
            hv = og * tc;
            STATE[P.c_base + P.slot_out * nh + e] = select(cp, c, live);
        }
        case RNN_GRU: {
            let r = rnn_sigmoid(XP[xr + j] + HH[hr + j] + bias_hh(0u, j));
            let z = rnn_sigmoid(XP[xr + h + j] + HH[hr + h + j] + bias_hh(1u, j));
            let hn = HH[hr + 2u * h + j] + bias_hh(2u, j);
            let nn = rnn_tanh(XP[xr + 2u * h + j] + r * hn);
            TAPE[tr + j] = r;
            TAPE[tr + h + j] = z;
            TAPE[tr + 2u * h + j] = nn;
            TAPE[tr + 3u * h + j] = hn;
            hv = (1.0 - z) * nn + z * hp;
        }
        default: {
            let a = XP[xr + j] + HH[hr + j] + bias_hh(0u, j);
            var v: f32;
            if (MODE == RNN_TANH) {
                v = rnn_tanh(a);
            } else {
                // NaN propagates, as the CPU's max
                v = select(0.0, a, a > 0.0 || is_nan(a));
            }
            TAPE[tr + j] = v;
            hv = v;
        }
    }
    STATE[P.slot_out * nh + e] = select(hp, hv, live);
    OUT[P.t * nh + e] = select(0.0, hv, live);
}

@compute @workgroup_size(WG)
fn rnn_cell_backward(g: Grid) {
    let e = flat_id(g);
    let n = P.n;
    let h = P.h;
    if (e >= n * h) {
        return;
    }
    let b = e / h;
    let j = e % h;
    let nh = n * h;
    let gh = gates() * h;
    let tr = (P.t * n + b) * tape_width();
    let gr = (P.t * n + b) * gh;
    var dh = CARRY[e];
    if (P.has_dhm != 0u) {
        dh = dh + DHM[e];
    }
    var len = 0.0;
    if (P.has_lens != 0u) {
        len = CARRY[P.lens_at + b];
    }
    if (!running(len)) {
        // a finished row: its state passes through this step unchanged
        CARRY[e] = dh;
        for (var q = 0u; q < gates(); q++) {
            DG[gr + q * h + j] = 0.0;
            DG[P.dgh_at + gr + q * h + j] = 0.0;
        }
        return;
    }
    dh = dh + GOUT[P.t * nh + e];
    switch MODE {
        case RNN_LSTM: {
            let iv = TAPE_R[tr + j];
            let fv = TAPE_R[tr + h + j];
            let gv = TAPE_R[tr + 2u * h + j];
            let ov = TAPE_R[tr + 3u * h + j];
            let tc = TAPE_R[tr + 4u * h + j];
            let cp = STATE_R[P.c_base + P.slot_in * nh + e];
            let dct = CARRY[nh + e] + dh * ov * (1.0 - tc * tc);
            DG[gr + j] = dct * gv * iv * (1.0 - iv);
            DG[gr + h + j] = dct * cp * fv * (1.0 - fv);
            DG[gr + 2u * h + j] = dct * iv * (1.0 - gv * gv);
            DG[gr + 3u * h + j] = dh * tc * ov * (1.0 - ov);
            CARRY[nh + e] = dct * fv;
            CARRY[e] = 0.0;
        }
        case RNN_GRU: {
            let rv = TAPE_R[tr + j];
            let z = TAPE_R[tr + h + j];
            let nn = TAPE_R[tr + 2u * h + j];
            let hn = TAPE_R[tr + 3u * h + j];
            let hp = STATE_R[P.slot_in * nh + e];
            let dan = dh * (1.0 - z) * (1.0 - nn * nn);
            let dar = dan * hn * rv * (1.0 - rv);
            let daz = dh * (hp - nn) * z * (1.0 - z);
            DG[gr + j] = dar;
            DG[gr + h + j] = daz;
            DG[gr + 2u * h + j] = dan;
            let go = P.dgh_at + gr;
            DG[go + j] = dar;
            DG[go + h + j] = daz;
            DG[go + 2u * h + j] = dan * rv;
            CARRY[e] = dh * z;
        }
        case RNN_TANH: {
            let v = TAPE_R[tr + j];
            DG[gr + j] = dh * (1.0 - v * v);
            CARRY[e] = 0.0;
        }
        default: {
            DG[gr + j] = select(0.0, dh, TAPE_R[tr + j] > 0.0);
            CARRY[e] = 0.0;
        }
    }
}
