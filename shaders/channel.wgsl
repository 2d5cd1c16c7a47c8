// channel.wgsl — per-channel statistics and affine maps over a dense (N, C, S) view, the
// pieces of batch normalisation: each is one dispatch.
//
// Element (n, c, s) of the view sits at P.off + (n * C + c) * S + s of X (and of Y, laid out
// as X). Per-channel operands (A, B, D) and outputs (O, O2 of `channel_moments` and
// `channel_dot`) hold C values.
//   channel_moments: O[c] = mean of channel c, O2[c] = its biased variance (two passes over
//                    the channel inside one workgroup: mean first, then squared deviations)
//   channel_dot:     O[c] = sum of Y over channel c, O2[c] = sum of Y * (X - A[c])
//   channel_affine:  O[i] = X * A[c] + B[c] (+ Y * D[c] when HAS_Y), O dense from 0
// Parameters: `ChanParams`, generated from src/backend/wgpu/params.rs.

@group(0) @binding(0) var<uniform> P: ChanParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> A: array<f32>;
@group(0) @binding(4) var<storage, read> B: array<f32>;
@group(0) @binding(5) var<storage, read> D: array<f32>;
@group(0) @binding(6) var<storage, read_write> O: array<f32>;
@group(0) @binding(7) var<storage, read_write> O2: array<f32>;

override HAS_Y: bool = false;

var<workgroup> sh: array<f32, WG>;

// storage index of the e-th element (e < N * S) of channel c
fn chan_at(c: u32, e: u32) -> u32 {
    let n = e / P.s;
    return P.off + (n * P.c + c) * P.s + (e - n * P.s);
}

// the sum of every invocation's `v`, returned to all of them
fn wg_sum(lid: u32, v: f32) -> f32 {
    sh[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] += sh[lid + s];
        }
        workgroupBarrier();
    }
    let total = sh[0];
    workgroupBarrier();
    return total;
}

// one workgroup per channel
@compute @workgroup_size(WG)
fn channel_moments(g: Grid) {
    let c = group_id(g);
    if (c >= P.c) {
        return;
    }
    let count = P.n * P.s;
    let denom = f32(max(count, 1u));
    var acc = 0.0;
    for (var e = g.lid; e < count; e += WG) {
        acc += X[chan_at(c, e)];
    }
    let mean = wg_sum(g.lid, acc) / denom;
    var acc2 = 0.0;
    for (var e = g.lid; e < count; e += WG) {
        let d = X[chan_at(c, e)] - mean;
        acc2 += d * d;
    }
    let variance = wg_sum(g.lid, acc2) / denom;
    if (g.lid == 0u) {
        O[c] = mean;
        O2[c] = variance;
    }
}

// one workgroup per channel
@compute @workgroup_size(WG)
fn channel_dot(g: Grid) {
    let c = group_id(g);
    if (c >= P.c) {
        return;
    }
    let count = P.n * P.s;
    let m = A[c];
    var sy = 0.0;
    var syx = 0.0;
    for (var e = g.lid; e < count; e += WG) {
        let i = chan_at(c, e);
        let y = Y[i];
        sy += y;
        syx += y * (X[i] - m);
    }
    let total_y = wg_sum(g.lid, sy);
    let total_yx = wg_sum(g.lid, syx);
    if (g.lid == 0u) {
        O[c] = total_y;
        O2[c] = total_yx;
    }
}

// one invocation per element
@compute @workgroup_size(WG)
fn channel_affine(g: Grid) {
    let i = flat_id(g);
    if (i >= P.total) {
        return;
    }
    let c = (i / P.s) % P.c;
    var v = X[P.off + i] * A[c] + B[c];
    if (HAS_Y) {
        v += Y[P.off + i] * D[c];
    }
    O[i] = v;
}

// Batch normalisation's per-channel arithmetic, one invocation per channel, the inputs in X, Y,
// A, B, D (in the order of `ChannelCoeffs` on the host) and the K outputs packed in O (output
// k of channel c at k * C + c); istd = 1 / sqrt(var + eps).
//   MODE 0: mean, var[, weight][, bias] -> a = weight * istd, shift = bias - mean * a
//   MODE 1: running_mean, running_var, mean, var -> the updated running statistics
//   MODE 2: a, var, mean, sum dy, sum dy (x - mean) -> q, r, the weight gradient
override MODE: u32 = 0u;
override HAS_W: bool = false;
override HAS_B: bool = false;

@compute @workgroup_size(WG)
fn channel_coeffs(g: Grid) {
    let c = flat_id(g);
    if (c >= P.c) {
        return;
    }
    let cc = P.c;
    if (MODE == 0u) {
        var a = inverseSqrt(Y[c] + P.eps);
        if (HAS_W) {
            a *= A[c];
        }
        var shift = -X[c] * a;
        if (HAS_B) {
            if (HAS_W) {
                shift += B[c];
            } else {
                shift += A[c];
            }
        }
        O[c] = a;
        O[cc + c] = shift;
    } else if (MODE == 1u) {
        let m = P.momentum;
        O[c] = (1.0 - m) * X[c] + m * A[c];
        O[cc + c] = (1.0 - m) * Y[c] + m * P.unbias * B[c];
    } else {
        let istd = inverseSqrt(Y[c] + P.eps);
        let a = X[c];
        let q = -a * istd * istd * D[c] / P.count;
        O[c] = q;
        O[cc + c] = -(q * A[c] + a * B[c] / P.count);
        O[2u * cc + c] = D[c] * istd;
    }
}
