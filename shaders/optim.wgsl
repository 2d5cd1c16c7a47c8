// optim.wgsl — fused optimizer updates, one invocation per parameter element.
//
// The entry point `optim_step` runs the optimizer the override OPTIMIZER names. Each
// optimizer's function mirrors backend/cpu/optim.rs operation for operation (same order, same
// f32 constants precomputed on the host), with the state buffers in the same order:
//   sgd: S0 = momentum buffer; adam: S0 = exp_avg, S1 = exp_avg_sq, S2 = max_exp_avg_sq;
//   rmsprop: S0 = square_avg, then momentum_buffer (if momentum > 0), then grad_avg (if
//   centered); adagrad: S0 = sum; adamax: S0 = exp_avg, S1 = exp_inf; nadam and radam:
//   S0 = exp_avg, S1 = exp_avg_sq; adadelta: S0 = square_avg, S1 = acc_delta.
//   Unused state slots are bound to dummy buffers.
// Per-step scalars (bias corrections, NAdam's mu_t schedule, RAdam's rectification) are
// computed once on the host and arrive as the coefficients of the parameter block.
// Boolean options are words b0..b2 of the parameter block (uniform branches), not pipeline
// constants, so each optimizer compiles once.

// `P: OptimParams`, generated from src/backend/wgpu/optim.rs: n elements, maximize, boolean options
// b0..b2 (documented per optimizer) and the step's coefficients, computed once on the host
// for both backends by `OptimStep::coefficients` (src/backend/optim.rs), which documents them.
@group(0) @binding(0) var<uniform> P: OptimParams;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> S0: array<f32>;
@group(0) @binding(4) var<storage, read_write> S1: array<f32>;
@group(0) @binding(5) var<storage, read_write> S2: array<f32>;

// The optimizer: an OPT_* code (one pipeline each).
override OPTIMIZER: u32 = OPT_SGD;

fn grad(i: u32) -> f32 {
    return select(G[i], -G[i], P.maximize != 0u);
}

// The gradient with weight decay: the parameter is first scaled by `decay` (decoupled decay,
// 1 otherwise), then `l2 * W` is added to the gradient (coupled decay, 0 otherwise).
fn decayed_grad(i: u32) -> f32 {
    if (P.decay != 1.0) {
        W[i] = W[i] * P.decay;
    }
    var d = grad(i);
    if (P.l2 != 0.0) {
        d = d + P.l2 * W[i];
    }
    return d;
}

// The Adam family's moments for gradient d: m in S0, v in S1, both updated; returns (m, v).
fn moments(i: u32, d: f32) -> vec2<f32> {
    let m = P.beta1 * S0[i] + (1.0 - P.beta1) * d;
    let v = P.beta2 * S1[i] + (1.0 - P.beta2) * d * d;
    S0[i] = m;
    S1[i] = v;
    return vec2<f32>(m, v);
}

// step_size lr, l2 weight_decay, beta1 momentum, beta2 1 - dampening; b0 has momentum,
// b1 nesterov, b2 first
fn sgd(i: u32, d0: f32) {
    var d = d0;
    if (P.b0 != 0u) {
        let mom = P.beta1;
        var buf: f32;
        if (P.b2 != 0u) {
            buf = d;
        } else {
            buf = mom * S0[i] + P.beta2 * d;
        }
        S0[i] = buf;
        if (P.b1 != 0u) {
            d = d + mom * buf;
        } else {
            d = buf;
        }
    }
    W[i] = W[i] - P.step_size * d;
}

// step_size lr / (1 - beta1^t), inv_bias2 1 / sqrt(1 - beta2^t); b1 amsgrad
fn adam(i: u32, d: f32) {
    let mv = moments(i, d);
    let m = mv.x;
    let v = mv.y;
    var vv = v;
    if (P.b1 != 0u) {
        let prev = S2[i];
        vv = fmax(prev, v);
        S2[i] = vv;
    }
    let denom = sqrt(vv) * P.inv_bias2 + P.eps;
    W[i] = W[i] - P.step_size * m / denom;
}

// step_size lr, l2 weight_decay, beta1 alpha, beta2 momentum; b0 has momentum, b1 centered
fn rmsprop(i: u32, d: f32) {
    let a = P.beta1;
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
        avg = sqrt(sq - ga * ga) + P.eps;
    } else {
        avg = sqrt(sq) + P.eps;
    }
    if (P.b0 != 0u) {
        let b = P.beta2 * S1[i] + d / avg;
        S1[i] = b;
        W[i] = W[i] - P.step_size * b;
    } else {
        W[i] = W[i] - P.step_size * d / avg;
    }
}

// step_size lr / (1 + (t - 1) * lr_decay), l2 weight_decay
fn adagrad(i: u32, d: f32) {
    let s = S0[i] + d * d;
    S0[i] = s;
    W[i] = W[i] - P.step_size * d / (sqrt(s) + P.eps);
}

// step_size lr / (1 - beta1^t), l2 weight_decay
fn adamax(i: u32, d: f32) {
    let b1 = P.beta1;
    let m = b1 * S0[i] + (1.0 - b1) * d;
    // torch.maximum: a NaN on either side propagates
    let a = P.beta2 * S1[i];
    let b = abs(d) + P.eps;
    let u = select(b, a, a > b || is_nan(a));
    S0[i] = m;
    S1[i] = u;
    W[i] = W[i] - P.step_size * m / u;
}

// step_size lr (1 - mu_t) / (1 - prod mu_1..t), step_size2 lr mu_(t+1) / (1 - prod mu_1..t+1),
// inv_bias2 1 / sqrt(1 - beta2^t)
fn nadam(i: u32, d: f32) {
    let mv = moments(i, d);
    let m = mv.x;
    let v = mv.y;
    let denom = sqrt(v) * P.inv_bias2 + P.eps;
    let w1 = W[i] - P.step_size * d / denom;
    W[i] = w1 - P.step_size2 * m / denom;
}

// step_size lr r_t sqrt(1 - beta2^t) / (1 - beta1^t) when rectified, else lr / (1 - beta1^t);
// b1 rectified (rho_t > 5)
fn radam(i: u32, d: f32) {
    let mv = moments(i, d);
    let m = mv.x;
    let v = mv.y;
    if (P.b1 != 0u) {
        W[i] = W[i] - P.step_size * m / (sqrt(v) + P.eps);
    } else {
        W[i] = W[i] - P.step_size * m;
    }
}

// step_size lr, l2 weight_decay, beta1 rho
fn adadelta(i: u32, d: f32) {
    let r = P.beta1;
    let eps = P.eps;
    let sq = r * S0[i] + (1.0 - r) * d * d;
    let delta = sqrt(S1[i] + eps) / sqrt(sq + eps) * d;
    S0[i] = sq;
    S1[i] = r * S1[i] + (1.0 - r) * delta * delta;
    W[i] = W[i] - P.step_size * delta;
}

// One update per parameter element: the decayed gradient, then the optimizer OPTIMIZER picks.
@compute @workgroup_size(WG)
fn optim_step(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let d = decayed_grad(i);
    switch OPTIMIZER {
        case OPT_SGD: { sgd(i, d); }
        case OPT_ADAM: { adam(i, d); }
        case OPT_RMS_PROP: { rmsprop(i, d); }
        case OPT_ADAGRAD: { adagrad(i, d); }
        case OPT_ADAMAX: { adamax(i, d); }
        case OPT_N_ADAM: { nadam(i, d); }
        case OPT_R_ADAM: { radam(i, d); }
        case OPT_ADADELTA: { adadelta(i, d); }
        default: {}
    }
}
