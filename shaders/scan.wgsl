// scan.wgsl — scans along one dim and stable argsort along the last dim.
//
// `linear_scan`: one invocation per line of a contiguous (outer, n, inner) block computes
// y_k = a_k * y_(k-1) + b_k from y_(-1) = init (from the end when REVERSE); cumsum is a = 1,
// cumprod is b = 0, init = 1, and their gradients are scans too.
// `argsort`: one invocation per element of a contiguous (rows, n) block counts the elements that
// sort before it (NaN above every number, ties by position, so the order is stable) and writes
// its own position at that rank: O(n) work per element, no scratch memory.
// Dtype codes: 0 = f32, 1 = int64 held as i32.

struct Params { v: array<vec4<u32>, 32> }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read> B: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<u32>;

override DT: u32 = 0u;
override REVERSE: bool = false;
override DESCENDING: bool = false;

// linear_scan words: 0 lines (outer * inner), 1 n, 2 inner, 3 init (bits of the dtype)
// argsort words: 0 elements (rows * n), 1 n

fn p(i: u32) -> u32 {
    return P.v[i >> 2u][i & 3u];
}

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(256)
fn linear_scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let t = flat_id(wid, nwg, lid);
    if (t >= p(0u)) {
        return;
    }
    let n = p(1u);
    let inner = p(2u);
    let base = (t / inner) * n * inner + t % inner;
    if (DT == 0u) {
        var y = bitcast<f32>(p(3u));
        for (var k = 0u; k < n; k++) {
            let kk = select(k, n - 1u - k, REVERSE);
            let j = base + kk * inner;
            y = bitcast<f32>(A[j]) * y + bitcast<f32>(B[j]);
            O[j] = bitcast<u32>(y);
        }
    } else {
        var y = bitcast<i32>(p(3u));
        for (var k = 0u; k < n; k++) {
            let kk = select(k, n - 1u - k, REVERSE);
            let j = base + kk * inner;
            y = bitcast<i32>(A[j]) * y + bitcast<i32>(B[j]);
            O[j] = bitcast<u32>(y);
        }
    }
}

// -1, 0 or 1 as u sorts before, with or after v in ascending order (NaN above every number).
fn cmp_vals(u: u32, v: u32) -> i32 {
    if (DT == 0u) {
        let x = bitcast<f32>(u);
        let y = bitcast<f32>(v);
        let nx = is_nan(x);
        let ny = is_nan(y);
        if (nx || ny) {
            return select(select(-1, 1, nx), 0, nx && ny);
        }
        return select(select(0, 1, x > y), -1, x < y);
    }
    let x = bitcast<i32>(u);
    let y = bitcast<i32>(v);
    return select(select(0, 1, x > y), -1, x < y);
}

// Whether u (at position iu) sorts before v (at position iv); ties keep their order.
fn before(u: u32, iu: u32, v: u32, iv: u32) -> bool {
    let c = select(cmp_vals(u, v), -cmp_vals(u, v), DESCENDING);
    return c < 0 || (c == 0 && iu < iv);
}

@compute @workgroup_size(256)
fn argsort(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let t = flat_id(wid, nwg, lid);
    if (t >= p(0u)) {
        return;
    }
    let n = p(1u);
    let row = t / n;
    let i = t % n;
    let base = row * n;
    let x = A[t];
    var rank = 0u;
    for (var j = 0u; j < n; j++) {
        if (j != i && before(A[base + j], j, x, i)) {
            rank++;
        }
    }
    O[base + rank] = i;
}
