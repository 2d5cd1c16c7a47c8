// random.wgsl — uniform and normal fills from the counter-based generator.
//
// The same hash as the CPU backend's `hash32` / `uniform01` (backend/cpu/mod.rs): element i of
// the stream (seed, offset) is a pure function of the 64-bit counter offset + i, so a seed gives
// the same numbers on the CPU and the GPU up to f32 rounding. Normals use Box–Muller on
// counters 2i and 2i+1, as on the CPU. 64-bit counters are (lo, hi) pairs of u32.

// `P: RandParams`, generated from src/backend/wgpu/random.rs: n numbers of the stream (seed, offset)
// as (lo, hi) words; uniform: a = low, b = high - low; normal: a = mean, b = std.
@group(0) @binding(0) var<uniform> P: RandParams;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;

override NORMAL: bool = false;

fn hash32(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn rotl(x: u32, r: u32) -> u32 {
    return (x << r) | (x >> (32u - r));
}

// uniform in [0, 1) for the 64-bit counter (lo, hi) added to the stream offset
fn uniform01(lo: u32, hi: u32) -> f32 {
    let k = hash32(P.seed_lo ^ hash32(P.seed_hi ^ 0x9e3779b9u));
    let c_lo = P.off_lo + lo;
    let carry = select(0u, 1u, c_lo < lo);
    let c_hi = P.off_hi + hi + carry;
    let h = hash32(hash32(c_lo ^ k) ^ (c_hi + rotl(k, 7u)));
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn rand(g: Grid) {
    let i = flat_id(g);
    if (i >= P.n) {
        return;
    }
    let a = P.a;
    let b = P.b;
    if (NORMAL) {
        // counters 2i and 2i + 1 as 64-bit values
        let lo = i << 1u;
        let hi = i >> 31u;
        let u1 = 1.0 - uniform01(lo, hi);
        let u2 = uniform01(lo | 1u, hi);
        O[i] = a + b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    } else {
        O[i] = a + b * uniform01(i, 0u);
    }
}
