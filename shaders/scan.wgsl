// scan.wgsl — scans along one dim and stable argsort along the last dim.
//
// `linear_scan`: one invocation per line of a contiguous (outer, n, inner) block computes
// y_k = a_k * y_(k-1) + b_k from y_(-1) = init (from the end when REVERSE); cumsum is a = 1,
// cumprod is b = 0, init = 1, and their gradients are scans too.
// `argsort`: one invocation per element of a contiguous (rows, n) block counts the elements that
// sort before it (NaN above every number, ties by position, so the order is stable) and writes
// its own position at that rank: O(n) work per element, no scratch memory.
// Dtype codes: DT_F32 or DT_I64 (bool sorts as DT_I64).

// `P: ScanParams`, generated from src/backend/wgpu/scan.rs: n invocations (linear_scan: lines =
// outer * inner; argsort: elements = rows * len); len, the scanned / sorted dim's size;
// inner, the stride of that dim (linear_scan); init, y_(-1) as bits of the dtype.
@group(0) @binding(0) var<uniform> P: ScanParams;
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read> B: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<u32>;

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
