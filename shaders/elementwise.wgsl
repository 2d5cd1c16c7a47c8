// elementwise.wgsl — unary and binary maps, where, cast, strided copy (gather), strided
// assign (scatter) and fill.
//
// Every tensor is bound as array<u32> and reinterpreted by the dtype code (DT_F32, DT_I64,
// DT_BOOL; see the prelude). The op (UN_* / BIN_*) and dtypes are pipeline-overridable
// constants, so each (op, dtype) pair compiles to a branch-free kernel. Layouts (shape, strides,
// offsets, up to 8 dims after merging) travel in the uniform block; broadcast dims have stride 0.

// `P: EwParams`, generated from src/backend/wgpu/elementwise.rs: n elements; the merged shape of
// ndim dims; strides[k] and off[k] of operand k = A, B, C (C: the output view of
// assign_view); s0, s1 scalar operands (bits of the dtype).
@group(0) @binding(0) var<uniform> P: EwParams;
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read> B: array<u32>;
@group(0) @binding(3) var<storage, read> C: array<u32>;
@group(0) @binding(4) var<storage, read_write> O: array<u32>;

override OP: u32 = 0u;
override DT: u32 = DT_F32;
override DT_OUT: u32 = DT_F32;
override CONTIG: bool = false;

// Storage offsets of output element `i` in the layouts of A, B and C.
fn offsets(i: u32) -> vec3<u32> {
    let o = P.off.xyz;
    if (CONTIG) {
        return o + vec3<u32>(i);
    }
    let c = unravel(P.shape, P.ndim, i);
    return o + vec3<u32>(dot_dims(c, P.strides[0]), dot_dims(c, P.strides[1]), dot_dims(c, P.strides[2]));
}

// erfc(z) for z >= 0, with fractional error below 1.2e-7 (a Chebyshev-fitted exponential).
fn erfc_pos(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    return t * exp(poly);
}

// erf: its Maclaurin series below 0.5 (where 1 - erfc would lose the relative accuracy of small
// values), 1 - erfc above.
fn erf_(x: f32) -> f32 {
    let z = abs(x);
    if (z < 0.5) {
        let s = z * z;
        let series = 1.0 - s * (1.0 / 3.0 - s * (1.0 / 10.0 - s * (1.0 / 42.0 - s * (1.0 / 216.0
            - s * (1.0 / 1320.0 - s * (1.0 / 9360.0))))));
        return 1.1283791670955126 * x * series;
    }
    return select(erfc_pos(z) - 1.0, 1.0 - erfc_pos(z), x >= 0.0);
}

// Inverse erf as on the CPU: Winitzki's closed-form start, then Halley steps on erf(x) = |y|
// (on erfc(x) = 1 - |y| near 1, so the tails keep their relative accuracy).
fn erfinv_(y: f32) -> f32 {
    let a = abs(y);
    if (is_nan(y) || a > 1.0) {
        return nan();
    }
    if (a == 1.0) {
        return select(neg_inf(), inf(), y > 0.0);
    }
    if (a == 0.0) {
        return y;
    }
    let k = 0.147;
    let ln = log((1.0 - a) * (1.0 + a));
    let b = 2.0 / (3.14159265 * k) + 0.5 * ln;
    var x = sqrt(sqrt(b * b - ln / k) - b);
    for (var i = 0; i < 2; i++) {
        let f = select((1.0 - a) - erfc_pos(x), erf_(x) - a, a < 0.5);
        let d = 1.1283791670955126 * exp(-x * x);
        if (d == 0.0) {
            break;
        }
        let r = f / d;
        x = x - r / (1.0 + x * r);
    }
    return select(-x, x, y > 0.0);
}

// tanh that stays finite for large |x| (some drivers compute it as a ratio of exponentials)
// and passes NaN through (GL drivers may not).
// Computed as e / (e + 2) with e = expm1(2x), accurate near 0 (a driver's tanh may lose
// digits there: lavapipe's is ~1e-4 relative off at 1e-4).
fn tanh_(x: f32) -> f32 {
    if (is_nan(x)) {
        return x;
    }
    if (abs(x) > 10.0) {
        return sign(x);
    }
    if (x == 0.0) {
        return x; // keeps -0
    }
    let e = expm1_(2.0 * x);
    return e / (e + 2.0);
}

// log(1 + x) accurate for small x: near 0 the series 2·atanh(s), s = x / (2 + x) (does not
// rely on the driver's log being exact near 1), log(1 + x) elsewhere.
fn log1p_(x: f32) -> f32 {
    if (abs(x) < 0.25) {
        let s = x / (2.0 + x);
        let z = s * s;
        var t = 1.0 / 15.0;
        t = 1.0 / 13.0 + z * t;
        t = 1.0 / 11.0 + z * t;
        t = 1.0 / 9.0 + z * t;
        t = 1.0 / 7.0 + z * t;
        t = 1.0 / 5.0 + z * t;
        t = 1.0 / 3.0 + z * t;
        t = 1.0 + z * t;
        return 2.0 * s * t;
    }
    if (bitcast<u32>(x) == 0x7f800000u) {
        return x; // +inf
    }
    return log(1.0 + x);
}

// x^y with the real-valued results powf gives for negative bases and integral exponents.
fn powf_(x: f32, y: f32) -> f32 {
    if (y == 0.0 || x == 1.0) {
        return 1.0; // even for a NaN exponent, as C's pow
    }
    if (is_nan(x) || is_nan(y)) {
        return nan();
    }
    if (x == 0.0) {
        // ±0 keeps its sign for odd integral exponents: (-0)^-1 = -inf, (-0)^3 = -0
        let odd = floor(y) == y && fract(y * 0.5) != 0.0;
        let neg = (bitcast<u32>(x) >> 31u) == 1u && odd;
        let mag = select(0.0, inf(), y < 0.0);
        return select(mag, -mag, neg);
    }
    if (bitcast<u32>(abs(x)) == 0x7f800000u) {
        // ±∞: ∞ or 0 by the exponent's sign, negative only for -∞ and odd integers
        let odd = floor(y) == y && fract(y * 0.5) != 0.0;
        let mag = select(inf(), 0.0, y < 0.0);
        return select(mag, -mag, x < 0.0 && odd);
    }
    let r = exp2(y * log2(abs(x)));
    if (x > 0.0) {
        return r;
    }
    if (floor(y) != y) {
        return nan();
    }
    return select(r, -r, fract(y * 0.5) != 0.0);
}

// exp(x) - 1 accurate near 0: a Taylor polynomial for |x| < 0.5 (does not rely on the
// driver's exp and log being exact near 1), exp(x) - 1 elsewhere.
fn expm1_(x: f32) -> f32 {
    if (abs(x) < 0.5) {
        var t = 1.0 / 362880.0;
        t = 1.0 / 40320.0 + x * t;
        t = 1.0 / 5040.0 + x * t;
        t = 1.0 / 720.0 + x * t;
        t = 1.0 / 120.0 + x * t;
        t = 1.0 / 24.0 + x * t;
        t = 1.0 / 6.0 + x * t;
        t = 0.5 + x * t;
        t = 1.0 + x * t;
        return x * t;
    }
    return exp(x) - 1.0;
}

// C's fmod, exact, with the sign of x. `x - y * trunc(x / y)` is not: where x / y rounds up
// to a whole number (1 / 0.1 is 10) it gives 0 or a tiny negative for 0.0999.... Long division
// instead: subtract the largest |y| * 2^k not above the rest, until the rest is below |y|; each
// subtraction is exact (d <= r < 2d), and the exponent falls on every pass (< 280 passes).
fn fmod_(x: f32, y: f32) -> f32 {
    let inf_x = (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
    if (y == 0.0 || is_nan(x) || is_nan(y) || inf_x) {
        return nan();
    }
    if ((bitcast<u32>(y) & 0x7fffffffu) == 0x7f800000u) {
        return x;
    }
    let ay = abs(y);
    var r = abs(x);
    for (var i = 0; i < 300 && r >= ay; i++) {
        var d = ldexp(ay, frexp(r).exp - frexp(ay).exp);
        if (d > r) {
            d = d * 0.5;
        }
        r = r - d;
    }
    return bitcast<f32>(bitcast<u32>(r) | (bitcast<u32>(x) & 0x80000000u));
}

// Python's float floor division (as the CPU backend): floor of (x - fmod(x, y)) / y.
fn floor_div_(x: f32, y: f32) -> f32 {
    if (y == 0.0) {
        return x / y;
    }
    let m = fmod_(x, y);
    var d = (x - m) / y;
    if (m != 0.0 && ((y < 0.0) != (m < 0.0))) {
        d = d - 1.0;
    }
    if (d == 0.0) {
        // a zero quotient takes the sign of x / y (-0.5 // -0.7 is +0), as the CPU's
        return bitcast<f32>(bitcast<u32>(x / y) & 0x80000000u);
    }
    var f = floor(d);
    if (d - f > 0.5) {
        f = f + 1.0;
    }
    return f;
}

fn sigmoid_(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

fn unary_f(x: f32) -> f32 {
    let c0 = bitcast<f32>(P.s0);
    let c1 = bitcast<f32>(P.s1);
    var r: f32 = x;
    switch OP {
        case UN_NEG: { r = -x; }
        case UN_ABS: { r = abs(x); }
        case UN_EXP: { r = exp(x); }
        case UN_LOG: { r = log(x); }
        case UN_SQRT: { r = sqrt(x); }
        case UN_RSQRT: { r = 1.0 / sqrt(x); }
        case UN_SIN: { r = sin(x); }
        case UN_COS: { r = cos(x); }
        case UN_TANH: { r = tanh_(x); }
        case UN_SIGMOID: { r = sigmoid_(x); }
        // NaN propagates, as PyTorch (tested on the bits: compilers may assume no NaNs)
        case UN_RELU: { r = select(0.0, x, x > 0.0 || is_nan(x)); }
        case UN_GELU: { r = 0.5 * x * (1.0 + erf_(x * 0.70710678118654752)); }
        case UN_GELU_GRAD: {
            let cdf = 0.5 * (1.0 + erf_(x * 0.70710678118654752));
            let pdf = exp(-0.5 * x * x) * 0.3989422804014327;
            r = cdf + x * pdf;
        }
        case UN_SIGN: { r = select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }
        case UN_RECIP: { r = 1.0 / x; }
        case UN_SQUARE: { r = x * x; }
        case UN_FLOOR: { r = floor(x); }
        case UN_STEP: { r = select(0.0, 1.0, x > 0.0); }
        case UN_ADD_SCALAR: { r = x + c0; }
        case UN_MUL_SCALAR: { r = x * c0; }
        case UN_R_SUB_SCALAR: { r = c0 - x; }
        case UN_R_DIV_SCALAR: { r = c0 / x; }
        case UN_POW_SCALAR: {
            let e = c0;
            if (e == 2.0) {
                r = x * x;
            } else if (e == 1.0) {
                r = x;
            } else if (e == 0.5) {
                r = sqrt(x);
            } else {
                r = powf_(x, e);
            }
        }
        case UN_R_POW_SCALAR: { r = powf_(c0, x); }
        case UN_CLAMP: {
            // max_ then min_ of the CPU backend: NaN passes through
            r = fmin(fmax(x, c0), c1);
        }
        case UN_CLAMP_MASK: { r = select(0.0, 1.0, x > c0 && x < c1); }
        case UN_LEAKY_RELU: { r = select(x * c0, x, x > 0.0); }
        case UN_LEAKY_RELU_GRAD: { r = select(c0, 1.0, x > 0.0); }
        case UN_ELU: { r = select(c0 * (exp(x) - 1.0), x, x > 0.0); }
        case UN_ELU_GRAD: { r = select(1.0, c0 * exp(x), x <= 0.0); }
        case UN_SILU: { r = x / (1.0 + exp(-x)); }
        case UN_SILU_GRAD: {
            let s = sigmoid_(x);
            r = s * (1.0 + x * (1.0 - s));
        }
        case UN_LOG1P: { r = log1p_(x); }
        case UN_NOT: { r = select(0.0, 1.0, x == 0.0); }
        case UN_ROUND: { r = round(x); }
        case UN_CEIL: { r = ceil(x); }
        case UN_TRUNC: { r = trunc(x); }
        case UN_ERF: { r = erf_(x); }
        case UN_ERFINV: { r = erfinv_(x); }
        case UN_EXPM1: { r = expm1_(x); }
        case UN_IS_NAN: { r = select(0.0, 1.0, is_nan(x)); }
        case UN_IS_INF: { r = select(0.0, 1.0, (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u); }
        case UN_IS_FINITE: { r = select(0.0, 1.0, (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u); }
        default: {}
    }
    return r;
}

fn unary_i(x: i32) -> i32 {
    let c0 = bitcast<i32>(P.s0);
    let c1 = bitcast<i32>(P.s1);
    var r: i32 = x;
    switch OP {
        case UN_NEG: { r = -x; }
        case UN_ABS: { r = abs(x); }
        case UN_RELU: { r = max(x, 0); }
        case UN_SIGN: { r = sign(x); }
        case UN_SQUARE: { r = x * x; }
        case UN_ADD_SCALAR: { r = x + c0; }
        case UN_MUL_SCALAR: { r = x * c0; }
        case UN_R_SUB_SCALAR: { r = c0 - x; }
        case UN_CLAMP: { r = min(max(x, c0), c1); }
        default: {}
    }
    return r;
}

@compute @workgroup_size(WG)
fn unary_map(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let x = A[offsets(i).x];
    var r: u32;
    if (DT == DT_F32) {
        r = bitcast<u32>(unary_f(bitcast<f32>(x)));
    } else if (DT == DT_I64) {
        r = bitcast<u32>(unary_i(bitcast<i32>(x)));
    } else {
        r = b2u(x == 0u);
    }
    O[i] = r;
}

// The comparison OP (BIN_EQ .. BIN_GE) of two values ordered `lt`, `eq` or `gt` (none of
// them when a float is NaN: then only BIN_NE holds).
fn compare(lt: bool, eq: bool, gt: bool) -> u32 {
    var r = false;
    switch OP {
        case BIN_EQ: { r = eq; }
        case BIN_NE: { r = !eq; }
        case BIN_LT: { r = lt; }
        case BIN_LE: { r = lt || eq; }
        case BIN_GT: { r = gt; }
        case BIN_GE: { r = gt || eq; }
        default: {}
    }
    return b2u(r);
}

fn binary_f(x: f32, y: f32) -> u32 {
    var r: u32 = 0u;
    switch OP {
        case BIN_ADD: { r = bitcast<u32>(x + y); }
        case BIN_SUB: { r = bitcast<u32>(x - y); }
        case BIN_MUL: { r = bitcast<u32>(x * y); }
        case BIN_DIV: { r = bitcast<u32>(x / y); }
        case BIN_POW: { r = bitcast<u32>(powf_(x, y)); }
        case BIN_MAXIMUM: { r = bitcast<u32>(fmax(x, y)); }
        case BIN_MINIMUM: { r = bitcast<u32>(fmin(x, y)); }
        case BIN_EQ, BIN_NE, BIN_LT, BIN_LE, BIN_GT, BIN_GE: {
            r = compare((x < y), x == y && !is_nan(x), (x > y));
        }
        case BIN_AND: { r = b2u((bitcast<u32>(x) & 0x7fffffffu) != 0u && (bitcast<u32>(y) & 0x7fffffffu) != 0u); }
        case BIN_OR: { r = b2u((bitcast<u32>(x) & 0x7fffffffu) != 0u || (bitcast<u32>(y) & 0x7fffffffu) != 0u); }
        case BIN_RELU_GRAD: { r = bitcast<u32>(select(x, 0.0, y <= 0.0)); }
        case BIN_TANH_GRAD: { r = bitcast<u32>(x * fma(-y, y, 1.0)); }
        case BIN_SIGMOID_GRAD: { r = bitcast<u32>(x * y * (1.0 - y)); }
        case BIN_FLOOR_DIV: { r = bitcast<u32>(floor_div_(x, y)); }
        case BIN_REMAINDER: {
            let m = fmod_(x, y);
            r = bitcast<u32>(select(m, m + y, m != 0.0 && ((y < 0.0) != (m < 0.0))));
        }
        case BIN_FMOD: { r = bitcast<u32>(fmod_(x, y)); }
        default: {}
    }
    return r;
}

// floor division with remainder of the divisor's sign... as Rust's div_euclid; 0 for y == 0
fn div_euclid(x: i32, y: i32) -> i32 {
    if (y == 0) {
        return 0;
    }
    var q = x / y;
    let r = x % y;
    if (r < 0) {
        q = select(q + 1, q - 1, y > 0);
    }
    return q;
}

// wrapping integer power; a negative exponent truncates as the CPU backend and PyTorch do
// (1 and -1 keep a unit value, every other base gives 0)
fn pow_i(x: i32, y: i32) -> i32 {
    if (y < 0) {
        if (x == 1) {
            return 1;
        }
        if (x == -1) {
            return select(-1, 1, (y & 1) == 0);
        }
        return 0;
    }
    var base = x;
    var e = u32(max(y, 0));
    var acc = 1;
    loop {
        if (e == 0u) {
            break;
        }
        if ((e & 1u) == 1u) {
            acc = acc * base;
        }
        base = base * base;
        e = e >> 1u;
    }
    return acc;
}

fn binary_i(x: i32, y: i32) -> u32 {
    var r: u32 = 0u;
    switch OP {
        case BIN_ADD: { r = bitcast<u32>(x + y); }
        case BIN_SUB: { r = bitcast<u32>(x - y); }
        case BIN_MUL: { r = bitcast<u32>(x * y); }
        case BIN_DIV: { r = bitcast<u32>(div_euclid(x, y)); }
        case BIN_POW: { r = bitcast<u32>(pow_i(x, y)); }
        case BIN_MAXIMUM: { r = bitcast<u32>(max(x, y)); }
        case BIN_MINIMUM: { r = bitcast<u32>(min(x, y)); }
        case BIN_EQ, BIN_NE, BIN_LT, BIN_LE, BIN_GT, BIN_GE: { r = compare((x < y), x == y, (x > y)); }
        case BIN_AND: { r = b2u(x != 0 && y != 0); }
        case BIN_OR: { r = b2u(x != 0 || y != 0); }
        case BIN_RELU_GRAD: { r = bitcast<u32>(select(x, 0, y <= 0)); }
        case BIN_FLOOR_DIV: {
            if (y != 0) {
                let q = x / y;
                r = bitcast<u32>(select(q, q - 1, x % y != 0 && ((x < 0) != (y < 0))));
            }
        }
        case BIN_REMAINDER: {
            if (y != 0) {
                let m = x % y;
                r = bitcast<u32>(select(m, m + y, m != 0 && ((m < 0) != (y < 0))));
            }
        }
        case BIN_FMOD: {
            if (y != 0) {
                r = bitcast<u32>(x % y);
            }
        }
        default: {}
    }
    return r;
}

fn binary_b(x: u32, y: u32) -> u32 {
    var r: u32 = 0u;
    switch OP {
        case BIN_MUL, BIN_MINIMUM, BIN_AND: { r = x & y; }
        case BIN_ADD, BIN_MAXIMUM, BIN_OR: { r = x | y; }
        case BIN_EQ, BIN_NE, BIN_LT, BIN_LE, BIN_GT, BIN_GE: { r = compare((x < y), x == y, (x > y)); }
        default: {}
    }
    return r;
}

@compute @workgroup_size(WG)
fn binary_map(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let o = offsets(i);
    let x = A[o.x];
    let y = B[o.y];
    var r: u32;
    if (DT == DT_F32) {
        r = binary_f(bitcast<f32>(x), bitcast<f32>(y));
    } else if (DT == DT_I64) {
        r = binary_i(bitcast<i32>(x), bitcast<i32>(y));
    } else {
        r = binary_b(x, y);
    }
    O[i] = r;
}

// cond (A) ? B : C, any dtype (values are moved as bits)
@compute @workgroup_size(WG)
fn where_select(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let o = offsets(i);
    O[i] = select(C[o.z], B[o.y], A[o.x] != 0u);
}

// One value from dtype DT to DT_OUT, as the CPU backend's casts (float to int saturates,
// NaN becomes 0; anything nonzero, NaN included, becomes true).
fn cast_val(x: u32) -> u32 {
    if (DT == DT_OUT) {
        return x;
    }
    if (DT_OUT == DT_F32) {
        if (DT == DT_I64) {
            return bitcast<u32>(f32(bitcast<i32>(x)));
        }
        return bitcast<u32>(f32(x));
    }
    if (DT_OUT == DT_I64) {
        if (DT == DT_F32) {
            let f = bitcast<f32>(x);
            if (is_nan(f)) {
                return 0u;
            }
            // saturating at both ends of int32, as CUDA's conversion (2^31 - 1 is no float32)
            if (f >= 2147483648.0) {
                return 0x7fffffffu;
            }
            return bitcast<u32>(i32(max(f, -2147483648.0)));
        }
        return x;
    }
    if (DT == DT_F32) {
        return b2u((x & 0x7fffffffu) != 0u);
    }
    return b2u(x != 0u);
}

@compute @workgroup_size(WG)
fn cast_to(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    O[i] = cast_val(A[offsets(i).x]);
}

// contiguous copy of a strided view (the values are moved as bits)
@compute @workgroup_size(WG)
fn copy_view(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    O[i] = A[offsets(i).x];
}

// writes the view A into the view of O described by layout C, casting DT to DT_OUT
@compute @workgroup_size(WG)
fn assign_view(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let o = offsets(i);
    O[o.z] = cast_val(A[o.x]);
}

@compute @workgroup_size(WG)
fn fill_value(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    O[i] = P.s0;
}
