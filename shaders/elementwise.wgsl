// elementwise.wgsl — unary and binary maps, where, cast, strided copy (gather), strided
// assign (scatter) and fill.
//
// Every tensor is bound as array<u32> and reinterpreted by the dtype code: 0 = f32 (bitcast),
// 1 = int64 stored as i32, 2 = bool stored as 0/1. The op and dtypes are pipeline-overridable
// constants, so each (op, dtype) pair compiles to a branch-free kernel. Layouts (shape, strides,
// offsets, up to 8 dims after merging) travel in the uniform block; broadcast dims have stride 0.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read> B: array<u32>;
@group(0) @binding(3) var<storage, read> C: array<u32>;
@group(0) @binding(4) var<storage, read_write> O: array<u32>;

override OP: u32 = 0u;
override DT: u32 = 0u;
override DT_OUT: u32 = 0u;
override CONTIG: bool = false;

// word positions in the uniform block (mirrored in kernels.rs)
const N: u32 = 0u;
const NDIM: u32 = 1u;
const SHAPE: u32 = 2u;
const SA: u32 = 10u;
const SB: u32 = 18u;
const SC: u32 = 26u;
const OA: u32 = 34u;
const OB: u32 = 35u;
const OC: u32 = 36u;
const S0: u32 = 37u;
const S1: u32 = 38u;

fn p(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}

fn pf(i: u32) -> f32 {
    return bitcast<f32>(p(i));
}

fn pi(i: u32) -> i32 {
    return bitcast<i32>(p(i));
}

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

// Storage offsets of output element `i` in the layouts at SA, SB and SC.
fn offsets(i: u32) -> vec3<u32> {
    var o = vec3<u32>(p(OA), p(OB), p(OC));
    if (CONTIG) {
        return o + vec3<u32>(i);
    }
    var rem = i;
    let nd = p(NDIM);
    for (var k = 0u; k < nd; k++) {
        let d = nd - 1u - k;
        let s = p(SHAPE + d);
        let c = rem % s;
        rem = rem / s;
        o += c * vec3<u32>(p(SA + d), p(SB + d), p(SC + d));
    }
    return o;
}

// NaN test on the bits: WGSL lets compilers assume no NaNs in float comparisons.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

fn inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

fn b2u(b: bool) -> u32 {
    return select(0u, 1u, b);
}

// The CPU backend's erf (fractional error below 1.2e-7).
fn erf_(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let ans = t * exp(poly);
    return select(ans - 1.0, 1.0 - ans, x >= 0.0);
}

// tanh that stays finite for large |x| (some drivers compute it as a ratio of exponentials)
// and passes NaN through (GL drivers may not).
fn tanh_(x: f32) -> f32 {
    if (is_nan(x)) {
        return x;
    }
    return select(tanh(x), sign(x), abs(x) > 10.0);
}

// log(1 + x) accurate for small x.
fn log1p_(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0 || bitcast<u32>(x) == 0x7f800000u) {
        return x; // tiny x, or +inf (inf/inf below would be NaN)
    }
    return log(u) * (x / (u - 1.0));
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

// C's fmod: x - y * trunc(x / y), with the sign of x.
fn fmod_(x: f32, y: f32) -> f32 {
    if (y == 0.0 || is_nan(x) || is_nan(y)) {
        return nan();
    }
    if ((bitcast<u32>(y) & 0x7fffffffu) == 0x7f800000u) {
        return x;
    }
    return x - y * trunc(x / y);
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
    var r: f32 = x;
    switch OP {
        case 0u: { r = -x; }
        case 1u: { r = abs(x); }
        case 2u: { r = exp(x); }
        case 3u: { r = log(x); }
        case 4u: { r = sqrt(x); }
        case 5u: { r = 1.0 / sqrt(x); }
        case 6u: { r = sin(x); }
        case 7u: { r = cos(x); }
        case 8u: { r = tanh_(x); }
        case 9u: { r = sigmoid_(x); }
        case 10u: { r = select(0.0, x, !(x <= 0.0)); } // NaN propagates, as PyTorch
        case 11u: { r = 0.5 * x * (1.0 + erf_(x * 0.70710678118654752)); }
        case 12u: {
            let cdf = 0.5 * (1.0 + erf_(x * 0.70710678118654752));
            let pdf = exp(-0.5 * x * x) * 0.3989422804014327;
            r = cdf + x * pdf;
        }
        case 13u: { r = select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }
        case 14u: { r = 1.0 / x; }
        case 15u: { r = x * x; }
        case 16u: { r = floor(x); }
        case 17u: { r = select(0.0, 1.0, x > 0.0); }
        case 18u: { r = x + pf(S0); }
        case 19u: { r = x * pf(S0); }
        case 20u: { r = pf(S0) - x; }
        case 21u: { r = pf(S0) / x; }
        case 22u: {
            let e = pf(S0);
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
        case 23u: { r = powf_(pf(S0), x); }
        case 24u: {
            // max_ then min_ of the CPU backend: NaN passes through
            let lo = pf(S0);
            let hi = pf(S1);
            let a = select(lo, x, is_nan(x) || x >= lo);
            r = select(hi, a, is_nan(a) || a <= hi);
        }
        case 25u: { r = select(0.0, 1.0, x >= pf(S0) && x <= pf(S1)); }
        case 26u: { r = select(x * pf(S0), x, x > 0.0); }
        case 27u: { r = select(pf(S0), 1.0, x > 0.0); }
        case 28u: { r = select(pf(S0) * (exp(x) - 1.0), x, x > 0.0); }
        case 29u: { r = select(pf(S0) * exp(x), 1.0, x > 0.0); }
        case 30u: { r = x / (1.0 + exp(-x)); }
        case 31u: {
            let s = sigmoid_(x);
            r = s * (1.0 + x * (1.0 - s));
        }
        case 32u: { r = log1p_(x); }
        case 33u: { r = select(0.0, 1.0, x == 0.0); }
        case 34u: { r = round(x); }
        case 35u: { r = ceil(x); }
        case 36u: { r = trunc(x); }
        case 37u: { r = erf_(x); }
        case 38u: { r = expm1_(x); }
        case 39u: { r = select(0.0, 1.0, is_nan(x)); }
        case 40u: { r = select(0.0, 1.0, (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u); }
        case 41u: { r = select(0.0, 1.0, (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u); }
        default: {}
    }
    return r;
}

fn unary_i(x: i32) -> i32 {
    var r: i32 = x;
    switch OP {
        case 0u: { r = -x; }
        case 1u: { r = abs(x); }
        case 10u: { r = max(x, 0); }
        case 13u: { r = sign(x); }
        case 15u: { r = x * x; }
        case 18u: { r = x + pi(S0); }
        case 19u: { r = x * pi(S0); }
        case 20u: { r = pi(S0) - x; }
        case 24u: { r = min(max(x, pi(S0)), pi(S1)); }
        default: {}
    }
    return r;
}

@compute @workgroup_size(256)
fn unary_map(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    let x = A[offsets(i).x];
    var r: u32;
    if (DT == 0u) {
        r = bitcast<u32>(unary_f(bitcast<f32>(x)));
    } else if (DT == 1u) {
        r = bitcast<u32>(unary_i(bitcast<i32>(x)));
    } else {
        r = b2u(x == 0u);
    }
    O[i] = r;
}

fn binary_f(x: f32, y: f32) -> u32 {
    var r: u32 = 0u;
    switch OP {
        case 0u: { r = bitcast<u32>(x + y); }
        case 1u: { r = bitcast<u32>(x - y); }
        case 2u: { r = bitcast<u32>(x * y); }
        case 3u: { r = bitcast<u32>(x / y); }
        case 4u: { r = bitcast<u32>(powf_(x, y)); }
        case 5u: { r = bitcast<u32>(select(y, x, is_nan(x) || x >= y)); }
        case 6u: { r = bitcast<u32>(select(y, x, is_nan(x) || x <= y)); }
        case 7u: { r = b2u(x == y && !is_nan(x)); }
        case 8u: { r = b2u(!(x == y) || is_nan(x)); }
        case 9u: { r = b2u(x < y); }
        case 10u: { r = b2u(x <= y); }
        case 11u: { r = b2u(x > y); }
        case 12u: { r = b2u(x >= y); }
        case 13u: { r = b2u((bitcast<u32>(x) & 0x7fffffffu) != 0u && (bitcast<u32>(y) & 0x7fffffffu) != 0u); }
        case 14u: { r = b2u((bitcast<u32>(x) & 0x7fffffffu) != 0u || (bitcast<u32>(y) & 0x7fffffffu) != 0u); }
        case 15u: { r = bitcast<u32>(select(x, 0.0, y <= 0.0)); }
        case 16u: { r = bitcast<u32>(floor_div_(x, y)); }
        case 17u: {
            let m = fmod_(x, y);
            r = bitcast<u32>(select(m, m + y, m != 0.0 && ((y < 0.0) != (m < 0.0))));
        }
        case 18u: { r = bitcast<u32>(fmod_(x, y)); }
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

// wrapping integer power; negative exponents count as 0, as the CPU backend does
fn pow_i(x: i32, y: i32) -> i32 {
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
        case 0u: { r = bitcast<u32>(x + y); }
        case 1u: { r = bitcast<u32>(x - y); }
        case 2u: { r = bitcast<u32>(x * y); }
        case 3u: { r = bitcast<u32>(div_euclid(x, y)); }
        case 4u: { r = bitcast<u32>(pow_i(x, y)); }
        case 5u: { r = bitcast<u32>(max(x, y)); }
        case 6u: { r = bitcast<u32>(min(x, y)); }
        case 7u: { r = b2u(x == y); }
        case 8u: { r = b2u(x != y); }
        case 9u: { r = b2u(x < y); }
        case 10u: { r = b2u(x <= y); }
        case 11u: { r = b2u(x > y); }
        case 12u: { r = b2u(x >= y); }
        case 13u: { r = b2u(x != 0 && y != 0); }
        case 14u: { r = b2u(x != 0 || y != 0); }
        case 15u: { r = bitcast<u32>(select(x, 0, y <= 0)); }
        case 16u: {
            if (y != 0) {
                let q = x / y;
                r = bitcast<u32>(select(q, q - 1, x % y != 0 && ((x < 0) != (y < 0))));
            }
        }
        case 17u: {
            if (y != 0) {
                let m = x % y;
                r = bitcast<u32>(select(m, m + y, m != 0 && ((m < 0) != (y < 0))));
            }
        }
        case 18u: {
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
        case 2u, 6u, 13u: { r = x & y; }
        case 0u, 5u, 14u: { r = x | y; }
        case 7u: { r = b2u(x == y); }
        case 8u: { r = b2u(x != y); }
        case 9u: { r = b2u(x < y); }
        case 10u: { r = b2u(x <= y); }
        case 11u: { r = b2u(x > y); }
        case 12u: { r = b2u(x >= y); }
        default: {}
    }
    return r;
}

@compute @workgroup_size(256)
fn binary_map(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    let o = offsets(i);
    let x = A[o.x];
    let y = B[o.y];
    var r: u32;
    if (DT == 0u) {
        r = binary_f(bitcast<f32>(x), bitcast<f32>(y));
    } else if (DT == 1u) {
        r = binary_i(bitcast<i32>(x), bitcast<i32>(y));
    } else {
        r = binary_b(x, y);
    }
    O[i] = r;
}

// cond (A) ? B : C, any dtype (values are moved as bits)
@compute @workgroup_size(256)
fn where_select(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
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
    if (DT_OUT == 0u) {
        if (DT == 1u) {
            return bitcast<u32>(f32(bitcast<i32>(x)));
        }
        return bitcast<u32>(f32(x));
    }
    if (DT_OUT == 1u) {
        if (DT == 0u) {
            let f = bitcast<f32>(x);
            if (is_nan(f)) {
                return 0u;
            }
            return bitcast<u32>(i32(clamp(f, -2147483648.0, 2147483520.0)));
        }
        return x;
    }
    if (DT == 0u) {
        return b2u((x & 0x7fffffffu) != 0u);
    }
    return b2u(x != 0u);
}

@compute @workgroup_size(256)
fn cast_to(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    O[i] = cast_val(A[offsets(i).x]);
}

// contiguous copy of a strided view (the values are moved as bits)
@compute @workgroup_size(256)
fn copy_view(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    O[i] = A[offsets(i).x];
}

// writes the view A (layout SA/OA) into the view of O described by SC/OC, casting DT to DT_OUT
@compute @workgroup_size(256)
fn assign_view(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    let o = offsets(i);
    O[o.z] = cast_val(A[o.x]);
}

@compute @workgroup_size(256)
fn fill_value(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wid, nwg, lid);
    if (i >= p(N)) {
        return;
    }
    O[i] = p(S0);
}
