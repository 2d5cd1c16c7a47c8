//! Fused optimizer steps shared by the backends: the hyper-parameters of one update
//! ([`OptimStep`]) and the per-step scalars computed from them once for both the CPU and the
//! GPU ([`OptimCoefficients`]).

/// Hyper-parameters of the fused optimizer updates (one kernel per parameter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimStep {
    /// SGD: `momentum`, `dampening`, `nesterov`, `weight_decay`, whether the buffer is new.
    Sgd {
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        weight_decay: f64,
        first: bool,
        maximize: bool,
    },
    /// Adam / AdamW (decoupled decay when `decoupled`), with step count `t` (1-based).
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        amsgrad: bool,
        t: u64,
        maximize: bool,
    },
    /// RMSprop with optional momentum and centering.
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        weight_decay: f64,
        momentum: f64,
        centered: bool,
        maximize: bool,
    },
    /// Adagrad with learning-rate decay, step count `t` (1-based).
    Adagrad {
        lr: f64,
        lr_decay: f64,
        weight_decay: f64,
        eps: f64,
        t: u64,
        maximize: bool,
    },
    /// Adamax (infinity-norm Adam), step count `t` (1-based).
    Adamax {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        t: u64,
        maximize: bool,
    },
    /// NAdam with the momentum schedule computed on the host: `mu` = μ_t, `mu_next` = μ_{t+1},
    /// `mu_product` = μ_1·…·μ_t (the caller's state, already including μ_t).
    NAdam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        mu: f64,
        mu_next: f64,
        mu_product: f64,
        t: u64,
        maximize: bool,
    },
    /// RAdam (rectified Adam), step count `t` (1-based).
    RAdam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        t: u64,
        maximize: bool,
    },
    /// Adadelta.
    Adadelta {
        lr: f64,
        rho: f64,
        eps: f64,
        weight_decay: f64,
        maximize: bool,
    },
}

impl OptimStep {
    /// The same update `k` steps later, as a captured step replays it: step counts advanced,
    /// SGD's momentum buffer no longer new. `None` for NAdam, whose momentum schedule is
    /// host state of the optimizer.
    pub fn advanced(&self, k: u64) -> Option<OptimStep> {
        let mut s = *self;
        match &mut s {
            OptimStep::Sgd { first, .. } => *first = *first && k == 0,
            OptimStep::Adam { t, .. }
            | OptimStep::Adagrad { t, .. }
            | OptimStep::Adamax { t, .. }
            | OptimStep::RAdam { t, .. } => *t += k,
            OptimStep::NAdam { .. } => return (k == 0).then_some(s),
            OptimStep::RmsProp { .. } | OptimStep::Adadelta { .. } => {}
        }
        Some(s)
    }

    /// The same update at learning rate `lr`.
    pub fn with_lr(&self, lr: f64) -> OptimStep {
        let mut s = *self;
        match &mut s {
            OptimStep::Sgd { lr: l, .. }
            | OptimStep::Adam { lr: l, .. }
            | OptimStep::RmsProp { lr: l, .. }
            | OptimStep::Adagrad { lr: l, .. }
            | OptimStep::Adamax { lr: l, .. }
            | OptimStep::NAdam { lr: l, .. }
            | OptimStep::RAdam { lr: l, .. }
            | OptimStep::Adadelta { lr: l, .. } => *l = lr,
        }
        s
    }

    /// How many state buffers (shaped like the parameter) the update reads and writes.
    pub fn state_count(&self) -> usize {
        match *self {
            OptimStep::Sgd { momentum, .. } => usize::from(momentum != 0.0),
            OptimStep::Adam { amsgrad, .. } => 2 + usize::from(amsgrad),
            OptimStep::RmsProp {
                momentum, centered, ..
            } => 1 + usize::from(momentum > 0.0) + usize::from(centered),
            OptimStep::Adagrad { .. } => 1,
            OptimStep::Adamax { .. }
            | OptimStep::NAdam { .. }
            | OptimStep::RAdam { .. }
            | OptimStep::Adadelta { .. } => 2,
        }
    }

    /// The per-step scalars of the update, computed once here for every backend (bias
    /// corrections, learning-rate schedules, NAdam's momentum schedule, RAdam's rectification).
    pub fn coefficients(&self) -> OptimCoefficients {
        let mut c = OptimCoefficients {
            step_size: 0.0,
            step_size2: 0.0,
            l2: 0.0,
            decay: 1.0,
            beta1: 0.0,
            beta2: 0.0,
            eps: 0.0,
            inv_bias2: 1.0,
            bias2_sqrt: 1.0,
            rate1: 1.0,
            rate2: 1.0,
            rectified: false,
        };
        // decoupled weight decay scales the parameter first; otherwise it is an L2 term
        let decay = |c: &mut OptimCoefficients, lr: f64, wd: f64, decoupled: bool| {
            if decoupled {
                c.decay = 1.0 - lr * wd;
            } else {
                c.l2 = wd;
            }
        };
        match *self {
            OptimStep::Sgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                ..
            } => {
                c.step_size = lr;
                c.l2 = weight_decay;
                c.beta1 = momentum;
                c.beta2 = 1.0 - dampening;
            }
            OptimStep::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                t,
                ..
            } => {
                let bc1 = 1.0 - beta1.powi(t as i32);
                let bc2_sqrt = (1.0 - beta2.powi(t as i32)).sqrt();
                c.step_size = lr / bc1;
                c.inv_bias2 = 1.0 / bc2_sqrt;
                c.bias2_sqrt = bc2_sqrt;
                (c.beta1, c.beta2, c.eps) = (beta1, beta2, eps);
                decay(&mut c, lr, weight_decay, decoupled);
            }
            OptimStep::RmsProp {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                ..
            } => {
                c.step_size = lr;
                c.l2 = weight_decay;
                (c.beta1, c.beta2, c.eps) = (alpha, momentum, eps);
            }
            OptimStep::Adagrad {
                lr,
                lr_decay,
                weight_decay,
                eps,
                t,
                ..
            } => {
                c.step_size = lr / (1.0 + (t as f64 - 1.0) * lr_decay);
                c.l2 = weight_decay;
                c.eps = eps;
            }
            OptimStep::Adamax {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                t,
                ..
            } => {
                c.step_size = lr / (1.0 - beta1.powf(t as f64));
                c.l2 = weight_decay;
                (c.beta1, c.beta2, c.eps) = (beta1, beta2, eps);
            }
            OptimStep::NAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                mu,
                mu_next,
                mu_product,
                t,
                ..
            } => {
                let bc2 = 1.0 - beta2.powf(t as f64);
                c.step_size = lr * (1.0 - mu) / (1.0 - mu_product);
                c.step_size2 = lr * mu_next / (1.0 - mu_product * mu_next);
                c.inv_bias2 = 1.0 / bc2.sqrt();
                (c.beta1, c.beta2, c.eps) = (beta1, beta2, eps);
                decay(&mut c, lr, weight_decay, decoupled);
            }
            OptimStep::RAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                t,
                ..
            } => {
                let tf = t as f64;
                let bc1 = 1.0 - beta1.powf(tf);
                let b2t = beta2.powf(tf);
                let bc2 = 1.0 - b2t;
                let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
                let rho_t = rho_inf - 2.0 * tf * b2t / bc2;
                c.rectified = rho_t > 5.0;
                c.step_size = if c.rectified {
                    let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                        .sqrt();
                    lr * rect * bc2.sqrt() / bc1
                } else {
                    lr / bc1
                };
                (c.beta1, c.beta2, c.eps) = (beta1, beta2, eps);
                decay(&mut c, lr, weight_decay, decoupled);
            }
            OptimStep::Adadelta {
                lr,
                rho,
                eps,
                weight_decay,
                ..
            } => {
                c.step_size = lr;
                c.l2 = weight_decay;
                (c.beta1, c.eps) = (rho, eps);
            }
        }
        // the averages' weights, taken in double precision before the kernels round them
        // (1 − 0.9999 rounded to f32 after the subtraction is 1.6e-4 off)
        (c.rate1, c.rate2) = (1.0 - c.beta1, 1.0 - c.beta2);
        c
    }

    /// Whether the gradient is negated (the update ascends).
    pub fn maximize(&self) -> bool {
        match *self {
            OptimStep::Sgd { maximize, .. }
            | OptimStep::Adam { maximize, .. }
            | OptimStep::RmsProp { maximize, .. }
            | OptimStep::Adagrad { maximize, .. }
            | OptimStep::Adamax { maximize, .. }
            | OptimStep::NAdam { maximize, .. }
            | OptimStep::RAdam { maximize, .. }
            | OptimStep::Adadelta { maximize, .. } => maximize,
        }
    }
}

/// The per-step scalars of an [`OptimStep`], shared by the CPU and GPU updates.
///
/// Every update reads `d = ±g + l2·p'` from the parameter `p' = decay·p`, then:
/// SGD `b = beta1·b + beta2·d` (beta2 = 1 − dampening), `p ← p' − step_size·(d + beta1·b | b)`;
/// Adam `m ← lerp(m, d, rate1)`, `v ← β₂·v + rate2·d²`, `p ← p' − step_size·m/(√v/bias2_sqrt + eps)`;
/// RMSprop (beta1 = alpha, beta2 = momentum);
/// Adagrad and Adamax (`step_size` with the decay / bias correction folded in); NAdam
/// `p ← p' − step_size·d/den − step_size2·m/den`, `den = √v·inv_bias2 + eps`; RAdam
/// `p ← p' − step_size·m/(√v + eps)` when `rectified`, else `p ← p' − step_size·m`;
/// Adadelta (beta1 = rho).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimCoefficients {
    /// learning rate with bias correction, decay schedule or rectification folded in
    pub step_size: f64,
    /// NAdam's step for the momentum term, `lr·μ_{t+1}/(1 − Πμ_{1..t+1})` (0 otherwise)
    pub step_size2: f64,
    /// L2 penalty added to the gradient (0 with decoupled weight decay)
    pub l2: f64,
    /// factor applied to the parameter before the update (`1 − lr·wd` when decoupled, else 1)
    pub decay: f64,
    /// first rate: β₁ (Adam family), momentum (SGD), alpha (RMSprop), rho (Adadelta)
    pub beta1: f64,
    /// second rate: β₂ (Adam family), 1 − dampening (SGD), momentum (RMSprop)
    pub beta2: f64,
    pub eps: f64,
    /// `1/√(1 − β₂ᵗ)` (NAdam), 1 otherwise
    pub inv_bias2: f64,
    /// `√(1 − β₂ᵗ)` (Adam, which divides by it as PyTorch does), 1 otherwise
    pub bias2_sqrt: f64,
    /// `1 − beta1` and `1 − beta2`, computed in f64 (the weights of the running averages)
    pub rate1: f64,
    pub rate2: f64,
    /// RAdam: whether the variance is rectified (ρ_t > 5) and the update adaptive
    pub rectified: bool,
}
