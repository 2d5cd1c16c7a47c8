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
// computed once on the host and arrive as floats f0..f7 of the parameter block.
// Boolean options are words b0..b2 of the parameter block (uniform branches), not pipeline
// constants, so each optimizer compiles once.

// Mirrors `OptimParams` (src/backend/wgpu/optim.rs): n elements, maximize, boolean options
// b0..b2 and float scalars f0..f7, whose meaning each entry point documents.
struct OptimParams {
    n: u32,
    maximize: u32,
    b0: u32,
    b1: u32,
    b2: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    f0: f32,
    f1: f32,
    f2: f32,
    f3: f32,
    f4: f32,
    f5: f32,
    f6: f32,
    f7: f32,
}

@group(0) @binding(0) var<uniform> P: OptimParams;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> S0: array<f32>;
@group(0) @binding(4) var<storage, read_write> S1: array<f32>;
@group(0) @binding(5) var<storage, read_write> S2: array<f32>;

fn grad(i: u32) -> f32 {
    return select(G[i], -G[i], P.maximize != 0u);
}

// f0 lr, f1 weight_decay, f2 momentum, f3 1 - dampening; b0 has momentum, b1 nesterov, b2 first
@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    if (P.b0 != 0u) {
        let mom = P.f2;
        var buf: f32;
        if (P.b2 != 0u) {
            buf = d;
        } else {
            buf = mom * S0[i] + P.f3 * d;
        }
        S0[i] = buf;
        if (P.b1 != 0u) {
            d = d + mom * buf;
        } else {
            d = buf;
        }
    }
    W[i] = W[i] - P.f0 * d;
}

// f0 step_size, f1 weight_decay, f2 beta1, f3 beta2, f4 sqrt(bias_correction2), f5 eps;
// f6 1 - lr * weight_decay; b0 decoupled, b1 amsgrad
@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        if (P.b0 != 0u) {
            W[i] = W[i] * P.f6;
        } else {
            d = d + wd * W[i];
        }
    }
    let b1 = P.f2;
    let b2 = P.f3;
    let m = b1 * S0[i] + (1.0 - b1) * d;
    let v = b2 * S1[i] + (1.0 - b2) * d * d;
    S0[i] = m;
    S1[i] = v;
    var vv = v;
    if (P.b1 != 0u) {
        let prev = S2[i];
        vv = fmax(prev, v);
        S2[i] = vv;
    }
    let denom = sqrt(vv) / P.f4 + P.f5;
    W[i] = W[i] - P.f0 * m / denom;
}

// f0 lr, f1 weight_decay, f2 alpha, f3 eps, f4 momentum; b0 has momentum, b1 centered
@compute @workgroup_size(WG)
fn rmsprop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let a = P.f2;
    let sq = a * S0[i] + (1.0 - a) * d * d;
    S0[i] = sq;
    var avg: f32;
    if (P.b1 != 0u) {
        // the centered average sits after the momentum buffer when there is one
        var prev: f32;
        if (P.b0 != 0u) {
            prev = S2[i];
        } else {
            prev = S1[i];
        }
        let ga = a * prev + (1.0 - a) * d;
        if (P.b0 != 0u) {
            S2[i] = ga;
        } else {
            S1[i] = ga;
        }
        avg = sqrt(sq - ga * ga) + P.f3;
    } else {
        avg = sqrt(sq) + P.f3;
    }
    if (P.b0 != 0u) {
        let b = P.f4 * S1[i] + d / avg;
        S1[i] = b;
        W[i] = W[i] - P.f0 * b;
    } else {
        W[i] = W[i] - P.f0 * d / avg;
    }
}

// f0 clr = lr / (1 + (t - 1) * lr_decay), f1 weight_decay, f2 eps
@compute @workgroup_size(WG)
fn adagrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let s = S0[i] + d * d;
    S0[i] = s;
    W[i] = W[i] - P.f0 * d / (sqrt(s) + P.f2);
}

// f0 lr / (1 - beta1^t), f1 weight_decay, f2 beta1, f3 beta2, f4 eps
@compute @workgroup_size(WG)
fn adamax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let b1 = P.f2;
    let m = b1 * S0[i] + (1.0 - b1) * d;
    // torch.maximum: a NaN on either side propagates
    let a = P.f3 * S1[i];
    let b = abs(d) + P.f4;
    let u = select(b, a, a > b || is_nan(a));
    S0[i] = m;
    S1[i] = u;
    W[i] = W[i] - P.f0 * m / u;
}

// f0 lr (1 - mu_t) / (1 - prod mu_1..t), f1 weight_decay, f2 beta1, f3 beta2,
// f4 1 / sqrt(1 - beta2^t), f5 eps, f6 1 - lr * weight_decay,
// f7 lr mu_(t+1) / (1 - prod mu_1..t+1); b0 decoupled
@compute @workgroup_size(WG)
fn nadam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        if (P.b0 != 0u) {
            W[i] = W[i] * P.f6;
        } else {
            d = d + wd * W[i];
        }
    }
    let b1 = P.f2;
    let b2 = P.f3;
    let m = b1 * S0[i] + (1.0 - b1) * d;
    let v = b2 * S1[i] + (1.0 - b2) * d * d;
    S0[i] = m;
    S1[i] = v;
    let denom = sqrt(v) * P.f4 + P.f5;
    let w1 = W[i] - P.f0 * d / denom;
    W[i] = w1 - P.f7 * m / denom;
}

// f0 step size (lr r_t sqrt(1 - beta2^t) / (1 - beta1^t) when rectified, else lr / (1 - beta1^t)),
// f1 weight_decay, f2 beta1, f3 beta2, f4 eps, f6 1 - lr * weight_decay;
// b0 decoupled, b1 rectified (rho_t > 5)
@compute @workgroup_size(WG)
fn radam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        if (P.b0 != 0u) {
            W[i] = W[i] * P.f6;
        } else {
            d = d + wd * W[i];
        }
    }
    let b1 = P.f2;
    let b2 = P.f3;
    let m = b1 * S0[i] + (1.0 - b1) * d;
    let v = b2 * S1[i] + (1.0 - b2) * d * d;
    S0[i] = m;
    S1[i] = v;
    if (P.b1 != 0u) {
        W[i] = W[i] - P.f0 * m / (sqrt(v) + P.f4);
    } else {
        W[i] = W[i] - P.f0 * m;
    }
}

// f0 lr, f1 weight_decay, f2 rho, f3 eps
@compute @workgroup_size(WG)
fn adadelta(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= P.n) {
        return;
    }
    var d = grad(i);
    let wd = P.f1;
    if (wd != 0.0) {
        d = d + wd * W[i];
    }
    let r = P.f2;
    let eps = P.f3;
    let sq = r * S0[i] + (1.0 - r) * d * d;
    let delta = sqrt(S1[i] + eps) / sqrt(sq + eps) * d;
    S0[i] = sq;
    S1[i] = r * S1[i] + (1.0 - r) * delta * delta;
    W[i] = W[i] - P.f0 * delta;
}
