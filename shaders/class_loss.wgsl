// class_loss.wgsl — cross-entropy / negative log-likelihood over dense (rows, classes) scores,
// forward and backward, fused: the whole loss is two dispatches and its gradient one.
//
// Row i has scores X[i * classes + j] (logits when LOGITS, else log-probabilities), target
// T[i] (a class in [0, classes) or `ignore`; the host checks the range), optional per-class
// weights W (WEIGHTED). With w_t the target's weight and v = (T[i] != ignore):
//   per_i = v * ( -(1 - s) * w_t * logp[i, t] - (s / classes) * sum_j w_j * logp[i, j] )
//   the weight of the row: v * w_t
// `class_loss_rows_*` writes per_i to O (the result itself when REDUCTION = 0), the row's
// weight to ROWW, and to AUX: logsumexp_i at i (0 for log-probabilities) and sum_j w_j at
// rows + 1. `class_loss_total` sums them (REDUCTION 1 = sum, 2 = mean; mean is NaN when every
// row is ignored) into O[0] and writes the mean's denominator to AUX[rows].
// `class_loss_grad` writes dL/dX to O from G (G[i] when REDUCTION = 0, else G[0]).
// Parameters: `LossParams`, generated from src/backend/wgpu/params.rs.

@group(0) @binding(0) var<uniform> P: LossParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<i32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
@group(0) @binding(5) var<storage, read_write> ROWW: array<f32>;
@group(0) @binding(6) var<storage, read_write> AUX: array<f32>;
@group(0) @binding(7) var<storage, read> G: array<f32>;

override LOGITS: bool = true;
override WEIGHTED: bool = false;
override REDUCTION: u32 = 2u;

fn class_weight(j: u32) -> f32 {
    if (WEIGHTED) {
        return W[j];
    }
    return 1.0;
}

// the row's target, clamped into range, and whether the row counts
fn target_of(i: u32) -> vec2<u32> {
    let t = T[i];
    let valid = t != bitcast<i32>(P.ignore);
    let c = u32(clamp(t, 0, i32(P.classes) - 1));
    return vec2<u32>(c, b2u(valid));
}

// per_i and the row weight from the row's maximum m, sum_j exp(x_ij - m) `e`, sum_j w_j (x_ij -
// shift) `wx` (shift: m where the scores are logits with a finite maximum, else 0) and
// sum_j w_j `ws`. The log-probabilities are taken as (x - m) - log e, as PyTorch's log_softmax
// (x - (m + log e) loses the digits of x - m when the logits are large)
fn finish_row(i: u32, m: f32, e: f32, wx: f32, ws: f32) {
    let lse = row_lse(m, e);
    let tail = select(lse, log(e), LOGITS && m != neg_inf());
    let tv = target_of(i);
    var per = 0.0;
    var rw = 0.0;
    if (tv.y == 1u) {
        let wt = class_weight(tv.x);
        let picked = (X[i * P.classes + tv.x] - row_shift(m)) - tail;
        per = -(1.0 - P.smoothing) * wt * picked;
        if (P.smoothing > 0.0) {
            per -= P.smoothing / f32(P.classes) * (wx - tail * ws);
        }
        rw = wt;
    }
    O[i] = per;
    ROWW[i] = rw;
    AUX[i] = lse;
    if (i == 0u) {
        AUX[P.rows + 1u] = ws;
    }
}

// the maximum of the row's scores j = start, start + step, ... (-inf for log-probabilities,
// which need no shift)
fn row_max(base: u32, start: u32, step: u32) -> f32 {
    var m = neg_inf();
    if (LOGITS) {
        for (var j = start; j < P.classes; j += step) {
            m = fmax(m, X[base + j]);
        }
    }
    return m;
}

// what the scores are measured from: the maximum m of logits when it is finite, else 0
fn row_shift(m: f32) -> f32 {
    return select(0.0, m, LOGITS && m != neg_inf());
}

// (sum exp(x - m), sum w (x - shift), sum w) over the row's scores j = start, start + step, ...
fn row_sums(base: u32, start: u32, step: u32, m: f32) -> vec3<f32> {
    var acc = vec3<f32>(0.0);
    let shift = row_shift(m);
    for (var j = start; j < P.classes; j += step) {
        let x = X[base + j];
        if (LOGITS) {
            acc.x += exp(x - m);
        }
        let w = class_weight(j);
        acc.y += w * (x - shift);
        acc.z += w;
    }
    return acc;
}

// the row's logsumexp from its maximum and sum of shifted exponentials (0 for log-probabilities);
// a row of -inf has no finite maximum: its logsumexp is -inf, as the definition
fn row_lse(m: f32, e: f32) -> f32 {
    if (!LOGITS) {
        return 0.0;
    }
    return select(m + log(e), m, m == neg_inf());
}

var<workgroup> sh: array<f32, WG>;
var<workgroup> sh2: array<f32, WG>;
var<workgroup> sh3: array<f32, WG>;

// one workgroup per row (many classes)
@compute @workgroup_size(WG)
fn class_loss_rows_wg(g: Grid) {
    let lid = g.lid;
    let i = group_id(g);
    if (i >= P.rows) {
        return;
    }
    let base = i * P.classes;
    sh[lid] = row_max(base, lid, WG);
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] = fmax(sh[lid], sh[lid + s]);
        }
        workgroupBarrier();
    }
    let m = sh[0];
    workgroupBarrier();
    let acc = row_sums(base, lid, WG, m);
    sh[lid] = acc.x;
    sh2[lid] = acc.y;
    sh3[lid] = acc.z;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] += sh[lid + s];
            sh2[lid] += sh2[lid + s];
            sh3[lid] += sh3[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        finish_row(i, m, sh[0], sh2[0], sh3[0]);
    }
}

// one invocation per row (few classes)
@compute @workgroup_size(WG)
fn class_loss_rows_thread(g: Grid) {
    let i = flat_id(g);
    if (i >= P.rows) {
        return;
    }
    let base = i * P.classes;
    let m = row_max(base, 0u, 1u);
    let acc = row_sums(base, 0u, 1u, m);
    finish_row(i, m, acc.x, acc.y, acc.z);
}

// one workgroup: the sum (or weighted mean) of the rows
@compute @workgroup_size(WG)
fn class_loss_total(g: Grid) {
    let lid = g.lid;
    var a = 0.0;
    var b = 0.0;
    for (var i = lid; i < P.rows; i += WG) {
        a += O[i];
        b += ROWW[i];
    }
    sh[lid] = a;
    sh2[lid] = b;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] += sh[lid + s];
            sh2[lid] += sh2[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        if (REDUCTION == 2u) {
            AUX[P.rows] = sh2[0];
            O[0] = select(sh[0] / sh2[0], nan(), sh2[0] == 0.0);
        } else {
            AUX[P.rows] = 1.0;
            O[0] = sh[0];
        }
    }
}

// one invocation per score: dL/dX
@compute @workgroup_size(WG)
fn class_loss_grad(g: Grid) {
    let e = flat_id(g);
    if (e >= P.rows * P.classes) {
        return;
    }
    let i = e / P.classes;
    let j = e % P.classes;
    let tv = target_of(i);
    var gi = 0.0;
    if (REDUCTION == 0u) {
        gi = G[i];
    } else if (REDUCTION == 1u) {
        gi = G[0u];
    } else {
        let d = AUX[P.rows];
        gi = select(G[0u] / d, 0.0, d == 0.0);
    }
    if (tv.y == 0u) {
        O[e] = 0.0;
        return;
    }
    let wt = class_weight(tv.x);
    let s = P.smoothing;
    let uniform_part = s / f32(P.classes);
    var a = -(uniform_part * class_weight(j));
    if (j == tv.x) {
        a -= (1.0 - s) * wt;
    }
    if (LOGITS) {
        let total = -((1.0 - s) * wt + uniform_part * AUX[P.rows + 1u]);
        let p = exp(X[e] - AUX[i]);
        a -= p * total;
    }
    O[e] = gi * a;
}
