// optim.wgsl — fused optimizer updates, one invocation per parameter element.
//
// Each entry point mirrors backend/cpu/optim.rs operation for operation (same order, same
// f32 constants precomputed on the host), with the state buffers in the same order:
//   sgd: S0 = momentum buffer; adam: S0 = exp_avg, S1 = exp_avg_sq, S2 = max_exp_avg_sq;
//   rmsprop: S0 = square_avg, then momentum_buffer (if momentum > 0), then grad_avg (if
//   centered); adagrad: S0 = sum; adamax: S0 = exp_avg, S1 = exp_inf; nadam and radam:
//   S0 = exp_avg, S1 = exp_avg_sq; adadelta: S0 = square_avg, S1 = acc_delta.
//   Unused state slots are bound to a dummy buffer.
// Per-step scalars (bias corrections, NAdam's mu_t schedule, RAdam's rectification) are
// computed once on the host and arrive as floats of the uniform block.
// Boolean options are words of the uniform block (uniform branches), not pipeline constants,
// so each optimizer compiles once.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> S0: array<f32>;
@group(0) @binding(4) var<storage, read_write> S1: array<f32>;
@group(0) @binding(5) var<storage, read_write> S2: array<f32>;

const N: u32 = 0u;
const MAXIMIZE: u32 = 1u;
const F0: u32 = 2u;
const F1: u32 = 3u;
const F2: u32 = 4u;
const F3: u32 = 5u;
const F4: u32 = 6u;
const F5: u32 = 7u;
const B0: u32 = 8u;
const B1: u32 = 9u;
const B2: u32 = 10u;
const F6: u32 = 11u;
const F7: u32 = 12u;

fn p(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}

fn pf(i: u32) -> f32 {
    return bitcast<f32>(p(i));
}

fn flag(i: u32) -> bool {
    return p(i) != 0u;
}

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

fn grad(i: u32) -> f32 {
    return select(G[i], -G[i], flag(MAXIMIZE));
}

// F0 lr, F1 weight_decay, F2 momentum, F3 1 - dampening; B0 has momentum, B1 nesterov, B2 first
@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    if (flag(B0)) {
        let mom = pf(F2);
        var buf: f32;
        if (flag(B2)) {
            buf = d;
        } else {
            buf = mom * S0[i] + pf(F3) * d;
        }
        S0[i] = buf;
        if (flag(B1)) {
            d = d + mom * buf;
        } else {
            d = buf;
        }
    }
    W[i] = W[i] - pf(F0) * d;
}

// F0 step_size, F1 weight_decay, F2 beta1, F3 beta2, F4 sqrt(bias_correction2), F5 eps;
// F6 (word 11) 1 - lr * weight_decay; B0 decoupled, B1 amsgrad
@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        if (flag(B0)) {
            W[i] = W[i] * pf(F6);
        } else {
            d = d + wd * W[i];
        }
    }
    let b1 = pf(F2);
    let b2 = pf(F3);
    let m = b1 * S0[i] + (1.0 - b1) * d;
    let v = b2 * S1[i] + (1.0 - b2) * d * d;
    S0[i] = m;
    S1[i] = v;
    var vv = v;
    if (flag(B1)) {
        let prev = S2[i];
        // max_ of the CPU backend: keeps prev when it is NaN or not smaller
        let is_nan = (bitcast<u32>(prev) & 0x7fffffffu) > 0x7f800000u;
        vv = select(v, prev, is_nan || prev >= v);
        S2[i] = vv;
    }
    let denom = sqrt(vv) / pf(F4) + pf(F5);
    W[i] = W[i] - pf(F0) * m / denom;
}

// F0 lr, F1 weight_decay, F2 alpha, F3 eps, F4 momentum; B0 has momentum, B1 centered
@compute @workgroup_size(256)
fn rmsprop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let a = pf(F2);
    let sq = a * S0[i] + (1.0 - a) * d * d;
    S0[i] = sq;
    var avg: f32;
    if (flag(B1)) {
        // the centered average sits after the momentum buffer when there is one
        var prev: f32;
        if (flag(B0)) {
            prev = S2[i];
        } else {
            prev = S1[i];
        }
        let ga = a * prev + (1.0 - a) * d;
        if (flag(B0)) {
            S2[i] = ga;
        } else {
            S1[i] = ga;
        }
        avg = sqrt(sq - ga * ga) + pf(F3);
    } else {
        avg = sqrt(sq) + pf(F3);
    }
    if (flag(B0)) {
        let b = pf(F4) * S1[i] + d / avg;
        S1[i] = b;
        W[i] = W[i] - pf(F0) * b;
    } else {
        W[i] = W[i] - pf(F0) * d / avg;
    }
}

// F0 clr = lr / (1 + (t - 1) * lr_decay), F1 weight_decay, F2 eps
@compute @workgroup_size(256)
fn adagrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let s = S0[i] + d * d;
    S0[i] = s;
    W[i] = W[i] - pf(F0) * d / (sqrt(s) + pf(F2));
}

fn isnan32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// F0 lr / (1 - beta1^t), F1 weight_decay, F2 beta1, F3 beta2, F4 eps
@compute @workgroup_size(256)
fn adamax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let b1 = pf(F2);
    let m = b1 * S0[i] + (1.0 - b1) * d;
    // torch.maximum: a NaN on either side propagates
    let a = pf(F3) * S1[i];
    let b = abs(d) + pf(F4);
    let u = select(b, a, a > b || isnan32(a));
    S0[i] = m;
    S1[i] = u;
    W[i] = W[i] - pf(F0) * m / u;
}

// F0 lr (1 - mu_t) / (1 - prod mu_1..t), F1 weight_decay, F2 beta1, F3 beta2,
// F4 1 / sqrt(1 - beta2^t), F5 eps, F6 1 - lr * weight_decay,
// F7 lr mu_(t+1) / (1 - prod mu_1..t+1); B0 decoupled
@compute @workgroup_size(256)
fn nadam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        if (flag(B0)) {
            W[i] = W[i] * pf(F6);
        } else {
            d = d + wd * W[i];
        }
    }
    let b1 = pf(F2);
    let b2 = pf(F3);
    let m = b1 * S0[i] + (1.0 - b1) * d;
    let v = b2 * S1[i] + (1.0 - b2) * d * d;
    S0[i] = m;
    S1[i] = v;
    let denom = sqrt(v) * pf(F4) + pf(F5);
    let w1 = W[i] - pf(F0) * d / denom;
    W[i] = w1 - pf(F7) * m / denom;
}

// F0 step size (lr r_t sqrt(1 - beta2^t) / (1 - beta1^t) when rectified, else lr / (1 - beta1^t)),
// F1 weight_decay, F2 beta1, F3 beta2, F4 eps, F6 1 - lr * weight_decay;
// B0 decoupled, B1 rectified (rho_t > 5)
@compute @workgroup_size(256)
fn radam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        if (flag(B0)) {
            W[i] = W[i] * pf(F6);
        } else {
            d = d + wd * W[i];
        }
    }
    let b1 = pf(F2);
    let b2 = pf(F3);
    let m = b1 * S0[i] + (1.0 - b1) * d;
    let v = b2 * S1[i] + (1.0 - b2) * d * d;
    S0[i] = m;
    S1[i] = v;
    if (flag(B1)) {
        W[i] = W[i] - pf(F0) * m / (sqrt(v) + pf(F4));
    } else {
        W[i] = W[i] - pf(F0) * m;
    }
}

// F0 lr, F1 weight_decay, F2 rho, F3 eps
@compute @workgroup_size(256)
fn adadelta(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    var d = grad(i);
    let wd = pf(F1);
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let r = pf(F2);
    let eps = pf(F3);
    let sq = r * S0[i] + (1.0 - r) * d * d;
    let delta = sqrt(S1[i] + eps) / sqrt(sq + eps) * d;
    S0[i] = sq;
    S1[i] = r * S1[i] + (1.0 - r) * delta * delta;
    W[i] = W[i] - pf(F0) * delta;
}
