// scan.wgsl — scans along one dim and stable argsort along the last dim.
//
// `linear_scan`: one invocation per line of a contiguous (outer, n, inner) block computes
// y_k = a_k * y_(k-1) + b_k from y_(-1) = init (from the end when REVERSE); cumsum is a = 1,
// cumprod is b = 0, init = 1, and their gradients are scans too.
// `argsort`: one invocation per element of a contiguous (rows, n) block counts the elements that
// sort before it (NaN above every number, ties by position, so the order is stable) and writes
// its own position at that rank: O(n) work per element, no scratch memory.
// Long lines take several passes, so that no invocation loops more than P.block times (the
// linear_scan and argsort loops walk a whole line: slow on a GPU for long lines, and Mesa's
// llvmpipe stops an invocation after 65,535 loop iterations in all):
// `scan_blocks` scans each block of P.block elements of a line from 0, keeping the running
// product of the multipliers (Q) and each block's map y_out = S0 * y_in + S1; `scan_carry` walks
// a line's blocks to turn those maps into each block's incoming value (S0); `scan_fix` adds the
// incoming value times the running product to every element. `argsort_count` counts, per element
// and per block of P.block others, those that sort before it (atomically summed in R);
// `argsort_place` writes each position at its rank.
// Dtype codes: DT_F32 or DT_I64 (bool sorts as DT_I64).

// `P: ScanParams`, generated from src/backend/wgpu/scan.rs: n invocations (linear_scan: lines =
// outer * inner; argsort: elements = rows * len); len, the scanned / sorted dim's size;
// inner, the stride of that dim (linear_scan); init, y_(-1) as bits of the dtype.
@group(0) @binding(0) var<uniform> P: ScanParams;
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read> B: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<u32>;
@group(0) @binding(4) var<storage, read_write> S: array<u32>;
@group(0) @binding(5) var<storage, read_write> Q: array<u32>;
@group(0) @binding(6) var<storage, read_write> R: array<atomic<u32>>;

override DT: u32 = DT_F32;
override REVERSE: bool = false;
override DESCENDING: bool = false;

// a * y + b on words of the dtype
fn affine(a: u32, y: u32, b: u32) -> u32 {
    if (DT == DT_F32) {
        return bitcast<u32>(bitcast<f32>(a) * bitcast<f32>(y) + bitcast<f32>(b));
    }
    return bitcast<u32>(bitcast<i32>(a) * bitcast<i32>(y) + bitcast<i32>(b));
}

// The words of 0 and 1 in the dtype.
fn zero_word() -> u32 {
    return 0u;
}
fn one_word() -> u32 {
    return select(1u, bitcast<u32>(1.0), DT == DT_F32);
}

// The address of step k (before REVERSE) of line `line`.
fn line_at(line: u32, k: u32) -> u32 {
    let n = P.len;
    let inner = P.inner;
    let kk = select(k, n - 1u - k, REVERSE);
    return (line / inner) * n * inner + line % inner + kk * inner;
}

@compute @workgroup_size(WG)
fn scan_blocks(g: Grid) {
    let t = flat_id(g);
    if (t >= P.n * P.blocks) {
        return;
    }
    let line = t / P.blocks;
    let k0 = (t % P.blocks) * P.block;
    let k1 = min(P.len, k0 + P.block);
    var y = zero_word();
    var prod = one_word();
    for (var k = k0; k < k1; k++) {
        let j = line_at(line, k);
        let a = A[j];
        y = affine(a, y, B[j]);
        prod = affine(prod, a, zero_word());
        O[j] = y;
        Q[j] = prod;
    }
    S[2u * t] = prod;
    S[2u * t + 1u] = y;
}

@compute @workgroup_size(WG)
fn scan_carry(g: Grid) {
    let line = flat_id(g);
    if (line >= P.n) {
        return;
    }
    var y = P.init;
    for (var b = 0u; b < P.blocks; b++) {
        let s = 2u * (line * P.blocks + b);
        let prod = S[s];
        S[s] = y;
        y = affine(prod, y, S[s + 1u]);
    }
}

@compute @workgroup_size(WG)
fn scan_fix(g: Grid) {
    let e = flat_id(g);
    if (e >= P.n * P.len) {
        return;
    }
    let line = e / P.len;
    let k = e % P.len;
    let j = line_at(line, k);
    let y_in = S[2u * (line * P.blocks + k / P.block)];
    O[j] = affine(Q[j], y_in, O[j]);
}

@compute @workgroup_size(WG)
fn linear_scan(g: Grid) {
    let t = flat_id(g);
    if (t >= P.n) {
        return;
    }
    let n = P.len;
    let inner = P.inner;
    let base = (t / inner) * n * inner + t % inner;
    var y = P.init;
    for (var k = 0u; k < n; k++) {
        let kk = select(k, n - 1u - k, REVERSE);
        let j = base + kk * inner;
        y = affine(A[j], y, B[j]);
        O[j] = y;
    }
}

// -1, 0 or 1 as u sorts before, with or after v in ascending order (NaN above every number).
fn cmp_vals(u: u32, v: u32) -> i32 {
    if (DT == DT_F32) {
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

@compute @workgroup_size(WG)
fn argsort(g: Grid) {
    let t = flat_id(g);
    if (t >= P.n) {
        return;
    }
    let n = P.len;
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

@compute @workgroup_size(WG)
fn argsort_count(g: Grid) {
    let t = flat_id(g);
    if (t >= P.n * P.blocks) {
        return;
    }
    let e = t / P.blocks;
    let n = P.len;
    let i = e % n;
    let base = e - i;
    let x = A[e];
    let j0 = (t % P.blocks) * P.block;
    let j1 = min(n, j0 + P.block);
    var rank = 0u;
    for (var j = j0; j < j1; j++) {
        if (j != i && before(A[base + j], j, x, i)) {
            rank++;
        }
    }
    atomicAdd(&R[e], rank);
}

@compute @workgroup_size(WG)
fn argsort_place(g: Grid) {
    let e = flat_id(g);
    if (e >= P.n) {
        return;
    }
    let i = e % P.len;
    O[e - i + atomicLoad(&R[e])] = i;
}
